import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IngestServer } from '../../lib/ingest/adapters/server.js';
import { uniqueFalcoEvents } from '../helpers/ingest.js';
import { tempDir } from '../helpers/tail.js';
import { buildTailCliBundle, startLocalIngest } from '../helpers/tail-ingest.js';

// `connector run` (file_tail) and `tail` are two doors to one tailer: an operator who swaps one for
// the other in the Deployment keeps the same environment and expects the same /metrics and the
// same retries. Each case runs both built CLIs as processes and looks at what an operator sees.

const SECRET = 'connector-like-tail-secret-9a8b7c6d';
// The real Falco k8saudit traces, one JSON Event per line, as --audit-log-path holds them.
const EVENTS = uniqueFalcoEvents();
const asLines = (events: readonly unknown[]) => events.map((e) => `${JSON.stringify(e)}\n`).join('');

interface Run {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
  /** Resolves with the first stderr log line whose message is `message`. */
  logLine: (message: string) => Promise<Record<string, unknown>>;
}

/** A port nothing listens on right now (the kernel's pick, released). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('connector run (file_tail) behaves like tail for the operator', () => {
  let bundle = { cli: '', cleanup: () => {} };
  let tmp: { dir: string; cleanup: () => void };
  let ingest: IngestServer;
  const running: ChildProcess[] = [];

  beforeAll(async () => {
    tmp = tempDir('aisoc-connector-like-tail-');
    [bundle, ingest] = await Promise.all([buildTailCliBundle(), startLocalIngest(join(tmp.dir, 'data'), SECRET)]);
  }, 120_000);

  afterAll(async () => {
    for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await ingest?.close();
    bundle.cleanup();
    tmp?.cleanup();
  });

  function start(args: string[], env: Record<string, string>): Run {
    const child = spawn(process.execPath, [bundle.cli, ...args], {
      env: { PATH: process.env.PATH ?? '', K8S_AUDIT_SHARED_SECRET: SECRET, AISOC_ALLOW_INSECURE_HTTP: 'true', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    running.push(child);
    let stderr = '';
    const lines = () =>
      stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    const waiting: { message: string; resolve: (l: Record<string, unknown>) => void; reject: (e: Error) => void }[] = [];
    const settle = (): void => {
      for (const w of [...waiting]) {
        const line = lines().find((l) => l.message === w.message);
        if (line === undefined) continue;
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(line);
      }
    };
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
      settle();
    });
    let closed: { code: number | null } | null = null;
    // A line that never came fails the wait once the process is gone, with what it did say.
    const rejectWaiting = (): void => {
      for (const w of waiting.splice(0)) w.reject(new Error(`exited ${closed?.code} without a "${w.message}" line:\n${stderr}`));
    };
    const exited = new Promise<number | null>((resolve) =>
      child.once('close', (code) => {
        closed = { code };
        settle();
        rejectWaiting();
        resolve(code);
      }),
    );
    return {
      child,
      stderr: () => stderr,
      exited,
      logLine: (message) =>
        new Promise((resolve, reject) => {
          waiting.push({ message, resolve, reject });
          settle();
          if (closed !== null) rejectWaiting();
        }),
    };
  }

  function config(name: string, fields: Record<string, string | number>): string {
    const path = join(tmp.dir, `${name}.yaml`);
    writeFileSync(
      path,
      `${Object.entries(fields)
        .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
        .join('\n')}\n`,
    );
    return path;
  }

  it('serves the tailer metrics on AISOC_TAIL_METRICS_PORT, as tail does, once the poll delivered the log', async () => {
    const scrape = async (args: string[], tenant: string): Promise<string> => {
      const log = join(tmp.dir, `${tenant}-audit.log`);
      writeFileSync(log, asLines(EVENTS));
      const file = config(tenant, {
        mode: 'file_tail',
        cluster_name: 'selfhosted-metrics',
        audit_log_path: log,
        ingest_url: `${ingest.url}/v1/ingest/k8s-audit/${tenant}`,
      });
      const port = await freePort();
      const run = start([...args, '--config', file], { AISOC_TAIL_METRICS_PORT: String(port) });
      try {
        const listening = await run.logLine('metrics listening');
        expect(listening.url).toBe(`http://127.0.0.1:${port}/metrics`);
        await run.logLine('poll');
        const res = await fetch(`http://127.0.0.1:${port}/metrics`);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toContain('text/plain');
        return await res.text();
      } finally {
        run.child.kill('SIGTERM');
        expect(await run.exited).toBe(0);
      }
    };
    const fromTail = await scrape(['tail', '--interval', '3600'], 'metrics-tail');
    const fromConnector = await scrape(['connector', 'run', '--interval', '3600'], 'metrics-connector');
    for (const text of [fromTail, fromConnector]) {
      expect(text).toContain(`aisoc_tail_lines_read_total ${EVENTS.length}\n`);
      expect(text).toContain(`aisoc_tail_lines_shipped_total ${EVENTS.length}\n`);
      expect(text).toContain('aisoc_tail_polls_total 1\n');
      expect(text).toContain('aisoc_tail_poll_errors_total 0\n');
      expect(text).toContain('aisoc_tail_cursor_lag_bytes 0\n');
      expect(text).toMatch(/\naisoc_tail_last_success_timestamp_seconds \d/);
      expect(text).not.toContain(SECRET);
    }
    // The same series, by name, under either command.
    const names = (text: string) => text.split('\n').filter((l) => l.startsWith('# TYPE aisoc_tail_'));
    expect(names(fromConnector)).toEqual(names(fromTail));
  }, 60_000);

  it('connector run takes --metrics-port as tail does; a webhook instance says it serves none', async () => {
    const log = join(tmp.dir, 'flag-audit.log');
    writeFileSync(log, asLines(EVENTS.slice(0, 3)));
    const file = config('flag', {
      mode: 'file_tail',
      cluster_name: 'selfhosted-flag',
      audit_log_path: log,
      ingest_url: `${ingest.url}/v1/ingest/k8s-audit/metrics-flag`,
    });
    const run = start(['connector', 'run', '--config', file, '--once', '--metrics-port', '0'], {});
    const listening = await run.logLine('metrics listening');
    expect(listening.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(await run.exited).toBe(0);

    const webhook = config('flag-webhook', {
      mode: 'webhook',
      cluster_name: 'eks-prod',
      ingest_url: `${ingest.url}/v1/ingest/k8s-audit/w`,
    });
    const hook = start(['connector', 'run', '--config', webhook, '--once'], { AISOC_TAIL_METRICS_PORT: String(await freePort()) });
    expect(await hook.exited).toBe(0);
    const warned = hook
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.level === 'WARN' && String(l.message).includes('metrics'));
    expect(warned?.message).toContain('webhook mode serves no /metrics');
  }, 60_000);
});
