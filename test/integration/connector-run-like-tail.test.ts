import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IngestServer } from '../../lib/ingest/adapters/server.js';
import { openEventStore } from '../../lib/sinks/sqlite.js';
import { uniqueFalcoEvents } from '../helpers/ingest.js';
import { tempDir } from '../helpers/tail.js';
import { buildTailCliBundle, startLocalIngest } from '../helpers/tail-ingest.js';
import { until } from '../helpers/until.js';

// `connector run` (file_tail) and `tail` are two doors to one tailer: an operator who swaps one for
// the other in the Deployment keeps the same environment and expects the same /metrics and the
// same retries. Each case runs both built CLIs as processes and looks at what an operator sees.

const SECRET = 'connector-like-tail-secret-9a8b7c6d';
/** A legacy inbox token, a credential of its own (docs/ingest.md). */
const INBOX_TOKEN = 'aisoc-inbox-token-Qx7Vn2Kp9Ls4';
// The real Falco k8saudit traces, one JSON Event per line, as --audit-log-path holds them.
const EVENTS = uniqueFalcoEvents();
const asLines = (events: readonly unknown[]) => events.map((e) => `${JSON.stringify(e)}\n`).join('');

interface Run {
  child: ChildProcess;
  stderr: () => string;
  stdout: () => string;
  exited: Promise<number | null>;
  /** Resolves with the first stderr log line whose message is `message`. */
  logLine: (message: string) => Promise<Record<string, unknown>>;
}

/**
 * An ingest stand-in answering every POST 503 (with `Retry-After` when given), counting requests
 * per path: what an ingest behind a load balancer with no healthy target answers.
 */
async function unavailableIngest(
  retryAfter: string | null,
): Promise<{ url: string; attempts: (path: string) => number; requests: () => number; close: () => Promise<void> }> {
  const counts = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      counts.set(req.url ?? '', (counts.get(req.url ?? '') ?? 0) + 1);
      res.writeHead(503, { 'Content-Type': 'application/json', ...(retryAfter === null ? {} : { 'Retry-After': retryAfter }) });
      res.end('{"error":"temporarily unavailable"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    attempts: (path) => counts.get(path) ?? 0,
    requests: () => [...counts.values()].reduce((a, b) => a + b, 0),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
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
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.push(child);
    let stderr = '';
    let stdout = '';
    child.stdout?.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
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
      stdout: () => stdout,
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
  // `--metrics-port 0` picked a free port while AISOC_TAIL_METRICS_PORT=0 stopped the start ("must
  // be an integer between 1 and 65535"): a Deployment could not ask for what the flag gives.
  it('takes AISOC_TAIL_METRICS_PORT=0 as --metrics-port 0, under tail and connector run: a free port, logged and scraped', async () => {
    for (const [command, tenant] of [
      [['tail', '--interval', '3600'], 'zero-tail'],
      [['connector', 'run', '--interval', '3600'], 'zero-connector'],
    ] as const) {
      const log = join(tmp.dir, `${tenant}-audit.log`);
      writeFileSync(log, asLines(EVENTS.slice(0, 2)));
      const file = config(tenant, {
        mode: 'file_tail',
        cluster_name: 'selfhosted-zero',
        audit_log_path: log,
        ingest_url: `${ingest.url}/v1/ingest/k8s-audit/${tenant}`,
      });
      const run = start([...command, '--config', file], { AISOC_TAIL_METRICS_PORT: '0' });
      try {
        const listening = await run.logLine('metrics listening');
        const url = String(listening.url);
        expect(url, command.join(' ')).toMatch(/^http:\/\/127\.0\.0\.1:[1-9]\d*\/metrics$/);
        await run.logLine('poll');
        const res = await fetch(url);
        expect(res.status).toBe(200);
        expect(await res.text()).toContain('aisoc_tail_lines_shipped_total 2\n');
      } finally {
        run.child.kill('SIGTERM');
        expect(await run.exited).toBe(0);
      }
    }
  }, 60_000);

  it('refuses the shared secret as the cluster name at start, as tail does, printing it nowhere and sending nothing', async () => {
    const log = join(tmp.dir, 'cluster-secret-audit.log');
    writeFileSync(log, asLines(EVENTS.slice(0, 3)));
    const url = `${ingest.url}/v1/ingest/k8s-audit/cluster-secret`;
    const inFile = config('cluster-secret-file', { mode: 'file_tail', cluster_name: SECRET, audit_log_path: log, ingest_url: url });
    const fromEnv = config('cluster-secret-env', { mode: 'file_tail', audit_log_path: log, ingest_url: url });
    const runs: { cmd: string[]; env: Record<string, string>; code: number; names: string }[] = [
      { cmd: ['connector', 'run', '--config', inFile, '--once'], env: {}, code: 2, names: 'cluster_name' },
      { cmd: ['connector', 'run', '--config', fromEnv, '--once'], env: { CLUSTER_NAME: SECRET }, code: 2, names: 'CLUSTER_NAME' },
      { cmd: ['tail', '--config', inFile, '--once'], env: {}, code: 2, names: 'cluster_name' },
      { cmd: ['test-connection', '--config', inFile], env: {}, code: 1, names: 'cluster_name' },
    ];
    for (const r of runs) {
      const run = start(r.cmd, r.env);
      const code = await run.exited;
      expect({ cmd: r.cmd.slice(0, 2), code }).toEqual({ cmd: r.cmd.slice(0, 2), code: r.code });
      expect(run.stderr() + run.stdout()).toContain(`${r.names} is the shared secret`);
      expect(run.stderr() + run.stdout()).not.toContain(SECRET);
    }
    // Nothing reached the ingest for that tenant, and no cursor was written.
    const store = openEventStore(join(tmp.dir, 'data'));
    try {
      expect(store.countEvents({ tenant: 'cluster-secret' })).toBe(0);
    } finally {
      store.close();
    }
    expect(existsSync(`${log}.aisoc-cursor`)).toBe(false);
  }, 60_000);

  it.each([
    ['the inbox route', (base: string) => `${base}/v1/inbox/${INBOX_TOKEN}`],
    ['a token after the tenant route', (base: string) => `${base}/v1/ingest/k8s-audit/acme/${INBOX_TOKEN}`],
  ])(
    'refuses an ingest_url on %s at start, as tail does, without sending or printing the token',
    async (_name, urlOf) => {
      const server = await unavailableIngest(null);
      try {
        const log = join(tmp.dir, 'route-audit.log');
        writeFileSync(log, asLines(EVENTS.slice(0, 3)));
        const file = config('route', {
          mode: 'file_tail',
          cluster_name: 'selfhosted-route',
          audit_log_path: log,
          ingest_url: urlOf(server.url),
        });
        for (const [cmd, code] of [
          [['connector', 'run', '--config', file, '--once'], 2],
          [['tail', '--config', file, '--once'], 2],
          [['test-connection', '--config', file], 1],
        ] as const) {
          const run = start([...cmd], {});
          expect({ cmd: cmd[0], code: await run.exited }).toEqual({ cmd: cmd[0], code });
          expect(run.stderr() + run.stdout()).toContain(
            'ingest_url must be the full tenant route, ending in /v1/ingest/k8s-audit/<tenant_id>',
          );
          expect(run.stderr() + run.stdout()).not.toContain(INBOX_TOKEN);
        }
        expect(server.requests()).toBe(0);
      } finally {
        await server.close();
      }
    },
    60_000,
  );

  /** A file_tail config for `name` whose log holds a few real events, shipped to `ingestUrl`'s tenant route. */
  function failingConfig(name: string, ingestUrl: string, interval: number): { file: string; route: string } {
    const log = join(tmp.dir, `${name}-audit.log`);
    writeFileSync(log, asLines(EVENTS.slice(0, 3)));
    const route = `/v1/ingest/k8s-audit/${name}`;
    const file = config(name, {
      mode: 'file_tail',
      cluster_name: 'selfhosted-retry',
      audit_log_path: log,
      poll_interval_seconds: interval,
      ingest_url: `${ingestUrl}${route}`,
    });
    return { file, route };
  }

  it('--once against an ingest answering 503: tail and connector run retry within the same budget (the interval, at least 30 s)', async () => {
    // lib/ship waits what Retry-After asks, up to 30 s: with a 30 s budget no second attempt fits,
    // with a 40 s one exactly one more does. Either command must send the same number of requests.
    const ingest503 = await unavailableIngest('30');
    try {
      const cases = [
        { name: 'budget-tail-1', cmd: ['tail'], interval: 1, expected: 1 },
        { name: 'budget-connector-1', cmd: ['connector', 'run'], interval: 1, expected: 1 },
        { name: 'budget-tail-40', cmd: ['tail', '--interval', '40'], interval: 300, expected: 2 },
        { name: 'budget-connector-40', cmd: ['connector', 'run', '--interval', '40'], interval: 300, expected: 2 },
      ].map((c) => {
        const { file, route } = failingConfig(c.name, ingest503.url, c.interval);
        return { ...c, route, run: start([...c.cmd, '--config', file, '--once'], {}) };
      });
      for (const c of cases) {
        expect(await c.run.exited, c.run.stderr()).toBe(1);
        expect({ name: c.name, attempts: ingest503.attempts(c.route) }).toEqual({ name: c.name, attempts: c.expected });
        expect(c.run.stderr()).toContain('not delivered before the deadline (last: HTTP 503');
        expect(c.run.stderr()).not.toContain(SECRET);
      }
    } finally {
      await ingest503.close();
    }
  }, 90_000);

  it('SIGTERM during retries: connector run, like tail, starts no new retry and exits 0 with the cursor unmoved', async () => {
    // A wait of 5 s before the next attempt (Retry-After): without one, the backoff's first wait is
    // a random fraction of 200 ms, which the signal can arrive after on a loaded machine.
    const ingest503 = await unavailableIngest('5');
    try {
      for (const [name, cmd] of [
        ['sigterm-tail', ['tail']],
        ['sigterm-connector', ['connector', 'run']],
      ] as const) {
        const { file, route } = failingConfig(name, ingest503.url, 300);
        const run = start([...cmd, '--config', file], {});
        await run.logLine('retrying batch');
        run.child.kill('SIGTERM');
        expect(await run.exited, run.stderr()).toBe(0);
        // lib/ship makes 8 attempts when nothing stops it; the signal came after the first.
        expect({ name, attempts: ingest503.attempts(route) }).toEqual({ name, attempts: 1 });
        expect(run.stderr()).toContain('not sent: the sender was stopped (SIGTERM or SIGINT)');
        // Nothing was delivered: no cursor, or one still at the start of the log.
        const cursor = join(tmp.dir, `${name}-audit.log.aisoc-cursor`);
        const offset = existsSync(cursor) ? (JSON.parse(readFileSync(cursor, 'utf8')) as { offset: number }).offset : 0;
        expect(offset).toBe(0);
      }
    } finally {
      await ingest503.close();
    }
  }, 90_000);
  it('a second SIGTERM while a request is still in flight exits at once with 130 under either command', async () => {
    // The first signal ends a Retry-After wait at once (tail-sigterm-retry-after.test.ts) but lets
    // a request in flight finish, up to its 10 s timeout: here an ingest that reads the body and
    // never answers. The second signal ends that.
    let requests = 0;
    const silent: Server = createServer((req) => {
      req.resume();
      req.on('end', () => {
        requests++;
      });
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    try {
      for (const [name, cmd] of [
        ['second-signal-tail', ['tail']],
        ['second-signal-connector', ['connector', 'run']],
      ] as const) {
        const before = requests;
        const { file } = failingConfig(name, url, 300);
        const run = start([...cmd, '--config', file], {});
        await until(() => requests > before, 10_000);
        run.child.kill('SIGTERM');
        await run.logLine('stopping after the current poll');
        run.child.kill('SIGTERM');
        expect({ name, code: await run.exited, signal: run.child.signalCode }).toEqual({ name, code: 130, signal: null });
        expect(run.stderr()).toContain('second signal; exiting now');
        expect({ name, requests: requests - before }).toEqual({ name, requests: 1 });
      }
    } finally {
      await new Promise<void>((resolve) => {
        silent.close(() => resolve());
        silent.closeAllConnections();
      });
    }
  }, 90_000);
});
