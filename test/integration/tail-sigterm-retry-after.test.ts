// A tailer waiting out an ingest's `Retry-After` when SIGTERM arrives, as the real CLI (bundled
// like dist/cli.mjs) against a loopback ingest answering 429 with `Retry-After: 120` (honoured up
// to 30 s: as long as a pod's default grace period, after which the kubelet sends SIGKILL). The
// first SIGTERM must end the wait at once and shut down as `tail --help` says: exit 0 with the
// cursor saved, never past an event the ingest did not accept; the next run delivers every event.
// The audit log is the public Falco k8s audit traces (test/helpers/fixtures.ts).
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCursor } from '../../lib/tail/cursor.js';
import { SECRET, tempDataDir, uniqueFalcoEvents } from '../helpers/ingest.js';
import { buildServeBundle } from '../helpers/serve.js';
import { until } from '../helpers/until.js';

/** A loopback ingest: answers every POST with `answer` and keeps the auditIDs it was sent. */
async function ingest(answer: { status: number; headers?: Record<string, string> }): Promise<{
  url: string;
  requests: () => number;
  auditIds: string[];
  close: () => Promise<void>;
}> {
  let requests = 0;
  const auditIds: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests++;
      const items = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { items: { auditID: string }[] }).items;
      const ok = answer.status === 200;
      if (ok) auditIds.push(...items.map((e) => e.auditID));
      const body = ok
        ? JSON.stringify({ accepted: items.length, rejected: 0, duplicates: 0, errors: [] })
        : JSON.stringify({ error: 'busy; retry after 120 s' });
      res.writeHead(answer.status, { 'Content-Type': 'application/json', ...answer.headers });
      res.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1/ingest/k8s-audit/acme`,
    requests: () => requests,
    auditIds,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((r) => {
    if (child.exitCode !== null) r(child.exitCode);
    else child.once('exit', (code) => r(code));
  });
}

/** The two commands that tail a file with a cursor: `tail`, and `connector run` on a file_tail config. */
const COMMANDS = [
  {
    name: 'tail',
    args: (dir: string) => ['tail', '--path', join(dir, 'audit.log'), '--cursor', join(dir, 'audit.cursor'), '--interval', '300'],
    stopped: /"message":"tail stopped; cursor saved"/,
  },
  {
    name: 'connector run',
    args: (dir: string) => {
      const config = join(dir, 'connector.yaml');
      writeFileSync(
        config,
        `mode: file_tail\ncluster_name: prod\naudit_log_path: ${join(dir, 'audit.log')}\ncursor_path: ${join(dir, 'audit.cursor')}\npoll_interval_seconds: 300\n`,
      );
      return ['connector', 'run', '--config', config];
    },
    stopped: /"message":"connector stopped"/,
  },
] as const;

describe.each(COMMANDS)('$name stopped by SIGTERM while it waits out a Retry-After', (command) => {
  let bundle: Awaited<ReturnType<typeof buildServeBundle>>;
  let tmp: ReturnType<typeof tempDataDir>;

  beforeAll(async () => {
    bundle = await buildServeBundle();
    tmp = tempDataDir('aisoc-tail-sigterm-');
  }, 120_000);

  afterAll(() => {
    tmp?.remove();
    bundle?.cleanup();
  });

  it('ends the wait at once, exits 0 with the cursor before the undelivered events, and the next run delivers them all', async () => {
    const events = uniqueFalcoEvents();
    const logPath = join(tmp.dir, 'audit.log');
    const cursorPath = join(tmp.dir, 'audit.cursor');
    const args = command.args(tmp.dir);
    writeFileSync(logPath, events.map((e) => `${JSON.stringify(e)}\n`).join(''));
    const env = (url: string) => ({
      PATH: process.env.PATH ?? '',
      AISOC_INGEST_URL: url,
      K8S_AUDIT_SHARED_SECRET: SECRET,
      CLUSTER_NAME: 'prod',
    });

    const busy = await ingest({ status: 429, headers: { 'Retry-After': '120' } });
    let stderr = '';
    const child = spawn(process.execPath, [bundle.cli, ...args], {
      env: env(busy.url),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    try {
      // The first batch was refused and the tailer waits (30 s, Retry-After's cap) before resending.
      await until(() => /"message":"retrying batch"/.test(stderr) && busy.requests() >= 1, 15_000);
      expect(stderr).toMatch(/"delayMs":30000/);
      const t0 = Date.now();
      child.kill('SIGTERM');
      const code = await exited(child);
      const tookMs = Date.now() - t0;
      expect(code).toBe(0);
      // Not the 30 s wait: well inside a pod's default grace period (and this test's timeout).
      expect(tookMs).toBeLessThan(10_000);
      expect(stderr).toMatch(command.stopped);
      // No resend after the stop: the one refused request is all the ingest saw.
      expect(busy.requests()).toBe(1);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await busy.close();
    }
    // The cursor on disk is not past the first event, which the ingest never accepted.
    const cursor = await readCursor(cursorPath);
    if (cursor.state === 'ok') expect(cursor.cursor.offset).toBe(0);
    else expect(cursor.state).toBe('missing');

    // The next run (`tail --once` on the same cursor), against an ingest that accepts, delivers
    // every event of the log.
    const ok = await ingest({ status: 200 });
    try {
      const again = spawn(process.execPath, [bundle.cli, 'tail', '--path', logPath, '--cursor', cursorPath, '--once'], {
        env: env(ok.url),
        stdio: ['ignore', 'ignore', 'ignore'],
      });
      expect(await exited(again)).toBe(0);
      expect(new Set(ok.auditIds)).toEqual(new Set(events.map((e) => e.auditID)));
      const after = await readCursor(cursorPath);
      expect(after.state === 'ok' ? after.cursor.offset : -1).toBe(statSync(logPath).size);
      expect(
        readFileSync(logPath, 'utf8')
          .split('\n')
          .filter((l) => l !== ''),
      ).toHaveLength(events.length);
    } finally {
      await ok.close();
    }
  }, 60_000);
});
