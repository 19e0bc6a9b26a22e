// One cursor has one tailer. A second `tail` started on the cursor of one that runs must be
// refused before it reads anything, with an error naming the running one's pid; once that one
// stops (SIGTERM) or is killed (SIGKILL, its lock left behind), a new tailer takes the cursor.
// The built CLI as separate processes, against the real local ingest and its SQLite sink.
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IngestServer } from '../../lib/ingest/adapters/server.js';
import { openEventStore } from '../../lib/sinks/sqlite.js';
import { lockPath } from '../../lib/tail/lock.js';
import { asFile, tempDir, uniqueEvents } from '../helpers/tail.js';
import { buildTailCliBundle, startLocalIngest } from '../helpers/tail-ingest.js';

const SECRET = 'second-tailer-secret-8c2e4a6f';
let tmp: { dir: string; cleanup: () => void };
let cli: { cli: string; cleanup: () => void };
let ingest: IngestServer;
let logPath: string;
let cursorPath: string;
let env: Record<string, string>;

beforeAll(async () => {
  tmp = tempDir('aisoc-tail-second-');
  cli = await buildTailCliBundle();
  ingest = await startLocalIngest(join(tmp.dir, 'data'), SECRET);
  logPath = join(tmp.dir, 'audit.log');
  cursorPath = join(tmp.dir, 'audit.cursor');
  env = {
    PATH: process.env.PATH ?? '',
    AISOC_INGEST_URL: `${ingest.url}/v1/ingest/k8s-audit/second`,
    K8S_AUDIT_SHARED_SECRET: SECRET,
    CLUSTER_NAME: 'second-cluster',
  };
});

afterAll(async () => {
  await ingest?.close();
  cli?.cleanup();
  tmp?.cleanup();
});

interface Run {
  child: ChildProcess;
  stderr: () => string;
  exit: Promise<number | null>;
  /** Resolves at the first `"message":"poll"` line (false if the process exits before one). */
  firstPoll: Promise<boolean>;
}

function tail(args: string[]): Run {
  const child = spawn(process.execPath, [cli.cli, 'tail', '--path', logPath, '--cursor', cursorPath, ...args], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  let polled: (v: boolean) => void = () => undefined;
  const firstPoll = new Promise<boolean>((resolve) => {
    polled = resolve;
  });
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
    if (err.includes('"message":"poll"')) polled(true);
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exit.then(() => polled(false));
  return { child, stderr: () => err, exit, firstPoll };
}

function logLines(text: string): Record<string, unknown>[] {
  return text
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('a second tailer on the same cursor', () => {
  it('is refused at once with the running one’s pid, reads nothing, and takes the cursor once that one stopped or was killed', {
    timeout: 60_000,
  }, async () => {
    const events = uniqueEvents(6, 'second');
    writeFileSync(logPath, asFile(events.slice(0, 3)));
    const first = tail(['--interval', '3600']);
    expect(await first.firstPoll).toBe(true);
    appendFileSync(logPath, asFile(events.slice(3)));

    const second = tail(['--once']);
    expect(await second.exit).toBe(1);

    const lines = logLines(second.stderr());
    const refusal = lines.find((l) => l.level === 'ERROR' && String(l.message).includes('refused'));
    expect(refusal?.error).toContain(`another tailer (pid ${first.child.pid}) is reading the cursor ${cursorPath}`);
    expect(lines.some((l) => l.message === 'poll')).toBe(false);
    const store = openEventStore(join(tmp.dir, 'data'));
    try {
      // The running tailer delivered the three events it read; the refused one sent nothing.
      expect(store.countEvents({ tenant: 'second' })).toBe(3);
    } finally {
      store.close();
    }

    // Stopped with SIGTERM: it gives the cursor up, and the next tailer delivers the rest.
    first.child.kill('SIGTERM');
    expect(await first.exit).toBe(0);
    expect(existsSync(lockPath(cursorPath))).toBe(false);

    // Killed with SIGKILL: its lock stays, naming a process that is gone; the next tailer takes it over.
    const killed = tail(['--interval', '3600']);
    expect(await killed.firstPoll).toBe(true);
    expect(existsSync(lockPath(cursorPath))).toBe(true);
    killed.child.kill('SIGKILL');
    await killed.exit;
    const after = tail(['--once']);
    expect(await after.exit).toBe(0);
    expect(after.stderr()).not.toContain('refused');
    const store2 = openEventStore(join(tmp.dir, 'data'));
    try {
      expect(store2.countEvents({ tenant: 'second' })).toBe(6);
    } finally {
      store2.close();
    }
  });
});
