import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IngestServer, startIngestServer } from '../../lib/ingest/adapters/server.js';
import { loadIngestConfig } from '../../lib/ingest/config.js';
import { openEventStore } from '../../lib/sinks/sqlite.js';
import { ROOT } from '../helpers/infra-scratch.js';
import { SECRET, tempDataDir } from '../helpers/ingest.js';
import { ocsfErrors } from '../helpers/ocsf.js';

const EVENT_FILE = join(ROOT, 'infra/azure/events/eventhub-kube-audit.json');
const messages = JSON.parse(readFileSync(EVENT_FILE, 'utf8')) as string[];
const auditIds = messages
  .flatMap((m) => (JSON.parse(m) as { records: { category: string; properties: { log: string } }[] }).records)
  .filter((r) => r.category.startsWith('kube-audit'))
  .map((r) => (JSON.parse(r.properties.log) as { auditID: string }).auditID);

// The committed Event Hubs event through the function's own entry point, as the Functions host
// calls it (v3 model: context, then the batch), against a real local ingest with the SQLite sink.
describe('the AKS forwarder (infra/azure) on its event file', () => {
  const data = tempDataDir('aisoc-aks-forwarder-');
  let ingest: IngestServer;
  let handler: (context: { invocationId: string; log: (...a: unknown[]) => void }, messages: unknown) => Promise<void>;
  const logged: Record<string, unknown>[] = [];
  const context = { invocationId: 'test-invocation', log: (line: unknown) => logged.push(JSON.parse(String(line))) };

  beforeAll(async () => {
    ingest = await startIngestServer({
      config: loadIngestConfig({ K8S_AUDIT_SHARED_SECRET: SECRET, EVENTS_SINK: 'sqlite', AISOC_DATA_DIR: data.dir }, { runtime: 'local' }),
    });
    // App settings, as the Functions host puts them in the environment before it loads the module.
    process.env.AISOC_INGEST_URL = `${ingest.url}/v1/ingest/k8s-audit/acme`;
    process.env.K8S_AUDIT_SHARED_SECRET = SECRET;
    handler = (await import('../../infra/azure/aks-forwarder/index.js')).default;
  });

  afterAll(async () => {
    delete process.env.AISOC_INGEST_URL;
    delete process.env.K8S_AUDIT_SHARED_SECRET;
    await ingest?.close();
    data.remove();
  });

  it('stores every kube-audit record of the batch for the cluster in its resourceId, and skips the klog record', async () => {
    await handler(context, messages);

    const store = openEventStore(data.dir);
    try {
      const records = store.queryEvents({ tenant: 'acme', limit: 100 });
      expect(records.map((r) => r.audit_id).sort()).toEqual([...auditIds].sort());
      for (const r of records) {
        expect(r.cluster_name).toBe('demo-aks');
        expect(r.ocsf.cloud).toMatchObject({ provider: 'Azure', account: { uid: '00000000-1111-2222-3333-444444444444' } });
        expect(ocsfErrors(r.ocsf)).toEqual([]);
      }
    } finally {
      store.close();
    }
    expect(logged.at(-1)).toMatchObject({ msg: 'forwarded', messages: 2, accepted: auditIds.length, skipped: 1, bodies: 1, failure: null });
    expect(JSON.stringify(logged)).not.toContain(SECRET);
  });

  it('delivers a redelivered batch again without storing anything twice', async () => {
    await handler(context, messages);
    expect(logged.at(-1)).toMatchObject({ msg: 'forwarded', accepted: 0, duplicates: auditIds.length });
  });
});
