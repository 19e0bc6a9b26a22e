// Loads functions/forwarder.ts as Lambda would (module init with an environment), and reads back
// what it wrote to stdout: its JSON log lines and its EMF metric documents.
import type { Context } from 'aws-lambda';
import { vi } from 'vitest';

export type ForwarderHandler = (event: unknown, ctx: Context) => Promise<unknown>;

/** A Lambda context with a fixed remaining time. */
export function lambdaContext(remainingMs = 60_000): Context {
  return {
    awsRequestId: 'req-1',
    functionName: 'aisoc-k8s-audit-forwarder',
    getRemainingTimeInMillis: () => remainingMs,
  } as unknown as Context;
}

/** Imports a fresh copy of the handler module with `env` stubbed (call `vi.unstubAllEnvs()` after). */
export async function loadForwarder(env: Record<string, string>): Promise<ForwarderHandler> {
  vi.resetModules();
  vi.stubEnv('AWS_LAMBDA_FUNCTION_NAME', '');
  for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
  const mod = (await import('../../../functions/forwarder.js')) as { handler: ForwarderHandler };
  return mod.handler;
}

/** Captures process.stdout until `restore()`; `vi.restoreAllMocks()` also ends it. */
export function captureStdout(): { text: () => string; emf: () => Record<string, unknown>[]; logs: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  });
  const lines = (): string[] =>
    chunks
      .join('')
      .split('\n')
      .filter((l) => l.startsWith('{'));
  return {
    text: () => chunks.join(''),
    // The forwarder's own metrics document (the cold-start one is separate).
    emf: () =>
      lines()
        .filter((l) => l.includes('"_aws"') && l.includes('EventsReceived'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    logs: () =>
      lines()
        .filter((l) => !l.includes('"_aws"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
