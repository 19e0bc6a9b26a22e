// The AKS audit forwarder: an Azure Functions Event Hubs trigger (Node.js programming model v3,
// so the bundle needs no Azure SDK) that receives the diagnostic-settings bodies an AKS cluster
// sends to the hub and POSTs their kube-audit / kube-audit-admin records to the ingest's
// EKS-style route with the shared secret. Settings are read once, when the host loads the module.
import { forwardAksMessages } from '../../../lib/azure/forward.js';
import { loadAksForwarderConfig } from '../../../lib/config/aks-forwarder.js';

const config = loadAksForwarderConfig(process.env);

/** The part of the Functions v3 context this handler uses. */
export interface FunctionContext {
  invocationId?: string;
  log: { (...args: unknown[]): void; error?: (...args: unknown[]) => void };
}

const line = (entry: Record<string, unknown>): string =>
  JSON.stringify({ time: new Date().toISOString(), service: 'aisoc-k8s-audit-aks-forwarder', ...entry });

/**
 * One invocation: `messages` is the batch (function.json `cardinality: many`). Throwing makes the
 * host run the function.json retry policy on the same batch, so a batch the ingest could not
 * take is never checkpointed past; the ingest drops the records it already has.
 */
export default async function aksForwarder(context: FunctionContext, messages: unknown): Promise<void> {
  const batch = Array.isArray(messages) ? messages : [messages];
  const report = await forwardAksMessages(batch, {
    url: config.ingestUrl,
    token: config.token,
    tls: config.tls,
    maxBodyBytes: config.maxBodyBytes,
    log: (e) => context.log(line({ invocationId: context.invocationId ?? null, ...e })),
  });
  const failed = report.failure !== null;
  context.log(
    line({
      level: failed ? 'error' : 'info',
      msg: failed ? 'forwarding incomplete' : 'forwarded',
      invocationId: context.invocationId ?? null,
      ...report,
    }),
  );
  if (failed) throw new Error(`forwarding incomplete: ${report.failure}`);
}
