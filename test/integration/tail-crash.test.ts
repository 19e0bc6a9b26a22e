// The crash test of file_tail mode: the built CLI tails a real audit log while a writer appends
// real audit events (and now and then rotates the file the way the apiserver does), and is
// killed with SIGKILL at random points, many times over. Afterwards every event of the file must
// be in the SQLite sink of the real local ingest, none missing and none stored twice.
//
// CI runs AISOC_TAIL_CRASH_RUNS=100 (the default; about 40 s on a loaded 2-core machine); for a
// longer run:
//   AISOC_TAIL_CRASH_RUNS=300 npx vitest run test/integration/tail-crash.test.ts
// A failure prints its seed; AISOC_TAIL_CRASH_SEED=<seed> repeats the same schedule.
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IngestServer } from '../../lib/ingest/adapters/server.js';
import { openEventStore } from '../../lib/sinks/sqlite.js';
import { prng } from '../helpers/prng.js';
import { tempDir, uniqueEvents } from '../helpers/tail.js';
import { buildTailCliBundle, startLocalIngest } from '../helpers/tail-ingest.js';

const RUNS = Number(process.env.AISOC_TAIL_CRASH_RUNS ?? 100);
const SEED = Number(process.env.AISOC_TAIL_CRASH_SEED ?? Date.now() % 2 ** 31);
const SECRET = 'crash-test-secret-5e7a9c1b';
const TENANT = 'crash';

let tmp: { dir: string; cleanup: () => void };
let cli: { cli: string; cleanup: () => void };
let ingest: IngestServer;

beforeAll(async () => {
  tmp = tempDir('aisoc-tail-crash-');
  cli = await buildTailCliBundle();
  ingest = await startLocalIngest(join(tmp.dir, 'data'), SECRET);
});

afterAll(async () => {
  await ingest?.close();
  cli?.cleanup();
  tmp?.cleanup();
});

function backupName(k: number): string {
  // lumberjack's backup name: audit-<2006-01-02T15-04-05.000>.log; k seconds after a fixed start.
  const t = new Date(Date.UTC(2026, 0, 1) + k * 1000).toISOString().replace(/:/g, '-').replace('Z', '');
  return `audit-${t}.log`;
}

describe('tail under SIGKILL', () => {
  it(`loses no event across ${RUNS} kills at random points (seed ${SEED})`, { timeout: 60_000 + RUNS * 3_000 }, async () => {
    const random = prng(SEED);
    const logPath = join(tmp.dir, 'audit.log');
    const cursorPath = join(tmp.dir, 'audit.cursor');
    writeFileSync(logPath, '');
    const env = {
      PATH: process.env.PATH ?? '',
      AISOC_INGEST_URL: `${ingest.url}/v1/ingest/k8s-audit/${TENANT}`,
      K8S_AUDIT_SHARED_SECRET: SECRET,
      CLUSTER_NAME: 'crash-cluster',
      // A small cap: many polls, many cursor writes, so kills land in every phase of a poll.
      AISOC_TAIL_MAX_BYTES: '65536',
    };
    const stderrTail: string[] = [];
    const spawnTail = (args: string[]): ChildProcess => {
      const child = spawn(process.execPath, [cli.cli, 'tail', '--path', logPath, '--cursor', cursorPath, ...args], {
        env,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      child.stderr?.on('data', (c: Buffer) => {
        stderrTail.push(c.toString());
        if (stderrTail.length > 50) stderrTail.shift();
      });
      return child;
    };
    const exited = (child: ChildProcess): Promise<number | null> =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
        else child.once('exit', (code) => resolve(code));
      });

    // A first poll of the still empty file, so a cursor names it before anything is written: a
    // tailer that never ran does not go back through backups that were rotated before it started.
    expect(await exited(spawnTail(['--once']))).toBe(0);

    // The writer: batches of real events, sometimes a line written in two halves, sometimes a
    // rename rotation at a line boundary (the apiserver's lumberjack renames, then creates anew).
    let written = 0;
    let rotations = 0;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        const batch = uniqueEvents(1 + Math.floor(random() * 5), 'crash', written);
        written += batch.length;
        const text = batch.map((l) => `${l}\n`).join('');
        if (random() < 0.3) {
          const cut = Math.floor(random() * text.length);
          appendFileSync(logPath, text.slice(0, cut));
          await sleep(1 + Math.floor(random() * 15));
          appendFileSync(logPath, text.slice(cut));
        } else {
          appendFileSync(logPath, text);
        }
        if (random() < 0.04) {
          renameSync(logPath, join(tmp.dir, backupName(rotations++)));
          writeFileSync(logPath, '');
        }
        await sleep(20 + Math.floor(random() * 100));
      }
    })();

    for (let run = 0; run < RUNS; run++) {
      const child = spawnTail(['--interval', '0.02']);
      await sleep(40 + Math.floor(random() * 600));
      child.kill('SIGKILL');
      await exited(child);
    }
    writing = false;
    await writer;

    // Drain: one more tailer runs until a poll finds nothing left to read, then gets SIGTERM and
    // must exit 0 after saving its cursor.
    const drainer = spawnTail(['--interval', '0.02']);
    let pending = '';
    const caughtUp = new Promise<boolean>((resolve) => {
      drainer.stderr?.on('data', (c: Buffer) => {
        pending += c.toString();
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) {
          if (!line.includes('"message":"poll"')) continue;
          const poll = JSON.parse(line) as { more: boolean; bytes_read: number; error?: string };
          if (poll.error === undefined && !poll.more && poll.bytes_read === 0) resolve(true);
        }
      });
      drainer.once('exit', () => resolve(false));
    });
    const drained = await caughtUp;
    drainer.kill('SIGTERM');
    const drainerExit = await exited(drainer);

    const store = openEventStore(join(tmp.dir, 'data'));
    try {
      const records = store.queryEvents({ tenant: TENANT, limit: 1_000_000 });
      const ids = new Set(records.map((r) => r.audit_id));
      const missing: string[] = [];
      for (let i = 0; i < written; i++) if (!ids.has(`crash-${i}`)) missing.push(`crash-${i}`);
      const context = `seed ${SEED}, ${written} events, ${rotations} rotations; last stderr:\n${stderrTail.slice(-8).join('')}`;
      if (missing.length > 0) console.error(context);
      expect(drained, context).toBe(true);
      expect(drainerExit, context).toBe(0);
      expect(missing, context).toEqual([]);
      expect(records.length, context).toBe(written);
      expect(written).toBeGreaterThan(RUNS);
    } finally {
      store.close();
    }
  });
});
