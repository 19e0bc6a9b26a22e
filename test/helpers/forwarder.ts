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
  const mod = (await import('../../functions/forwarder.js')) as { handler: ForwarderHandler };
  return mod.handler;
}

/**
 * Captures what a Lambda writes until `vi.restoreAllMocks()`: stdout and stderr together, as
 * CloudWatch Logs gets both (Powertools Logger writes warnings and errors to stderr). Write
 * callbacks are called as a stream would (the stdout sink waits on them).
 */
export function captureStdout(): {
  text: () => string;
  lines: () => Record<string, unknown>[];
  emf: (metric?: string) => Record<string, unknown>[];
  logs: () => Record<string, unknown>[];
} {
  const chunks: string[] = [];
  const write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    (rest.find((r) => typeof r === 'function') as (() => void) | undefined)?.();
    return true;
  }) as typeof process.stdout.write;
  vi.spyOn(process.stdout, 'write').mockImplementation(write);
  vi.spyOn(process.stderr, 'write').mockImplementation(write);
  const lines = (): string[] =>
    chunks
      .join('')
      .split('\n')
      .filter((l) => l.startsWith('{'));
  return {
    text: () => chunks.join(''),
    lines: () => lines().map((l) => JSON.parse(l) as Record<string, unknown>),
    // The function's own metrics documents (the cold-start one is separate): those carrying `metric`.
    emf: (metric = 'EventsReceived') =>
      lines()
        .filter((l) => l.includes('"_aws"') && l.includes(`"${metric}"`))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    // Log lines: the Powertools shape, `message` and `level` always there.
    logs: () =>
      lines()
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((o) => typeof o.level === 'string' && typeof o.message === 'string' && 'timestamp' in o && 'service' in o),
  };
}
