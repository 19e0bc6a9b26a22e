// A single audit line longer than the tailer's per-poll read (AISOC_TAIL_MAX_BYTES, 8 MiB): a
// RequestResponse-level `list` of pods whose responseObject carries every pod, as kube-apiserver's
// log backend writes it when it does not truncate (`--audit-log-truncate-enabled=false`, its
// default). The call must reach the pipeline: the event its first 8 MiB hold goes out flagged
// truncated, the rest of the line is passed over, and the next line is read as usual.
// The built CLI as separate processes (`tail --once`, `events --json`), against the real local
// ingest and its SQLite sink.
import { execFile } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IngestServer } from '../../lib/ingest/adapters/server.js';
import { buildCliBundle, PROJECT_CACHE } from '../helpers/cli-bundle.js';
import { asFile, falcoEventLines, podListLine, tempDir, uniqueEvents } from '../helpers/tail.js';
import { startLocalIngest } from '../helpers/tail-ingest.js';

const execFileAsync = promisify(execFile);
const SECRET = 'over-cap-line-secret-5d1f0b7e';
const CAP = 8 * 1024 * 1024;
let tmp: { dir: string; cleanup: () => void };
let cli: { cli: string; cleanup: () => void };
let ingest: IngestServer;
let dataDir: string;

beforeAll(async () => {
  tmp = tempDir('aisoc-tail-over-cap-');
  // Under the project's cache so `events` finds better-sqlite3.
  cli = await buildCliBundle(PROJECT_CACHE, 'aisoc-tail-over-cap-cli-');
  dataDir = join(tmp.dir, 'data');
  ingest = await startLocalIngest(dataDir, SECRET);
});

afterAll(async () => {
  await ingest?.close();
  cli?.cleanup();
  tmp?.cleanup();
});

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(args: string[], env: Record<string, string> = {}): Promise<Ran> {
  try {
    const r = await execFileAsync(process.execPath, [cli.cli, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('tail: a line longer than the per-poll cap', () => {
  it('delivers the event its first bytes hold, flagged truncated, and reads on after the line', { timeout: 120_000 }, async () => {
    const logPath = join(tmp.dir, 'audit.log');
    const cursorPath = join(tmp.dir, 'audit.cursor');
    const { line, event, podName } = podListLine(CAP + 1024 * 1024);
    const [after] = uniqueEvents(1, 'after-the-long-line');
    writeFileSync(logPath, `${line}\n`);
    const env = {
      AISOC_INGEST_URL: `${ingest.url}/v1/ingest/k8s-audit/overcap`,
      K8S_AUDIT_SHARED_SECRET: SECRET,
      CLUSTER_NAME: 'overcap-cluster',
    };
    const tailArgs = ['tail', '--path', logPath, '--cursor', cursorPath, '--once'];

    const first = await run(tailArgs, env);
    appendFileSync(logPath, asFile([after as string]));
    const second = await run(tailArgs, env);
    const shown = await run(['events', '--json', '--tenant', 'overcap', '--data-dir', dataDir]);

    expect(first.code).toBe(0);
    expect(second.code).toBe(0);
    const firstLogs = jsonLines(first.stderr);
    expect(firstLogs.find((l) => l.message === 'poll')).toMatchObject({
      delivered: 1,
      salvaged_lines: 1,
      oversize_lines: 0,
      undelivered: 0,
    });
    expect(firstLogs.find((l) => String(l.message).includes('delivered the event its first bytes hold'))).toMatchObject({
      level: 'WARN',
      file: logPath,
      offset: 0,
      auditID: event.auditID,
      bytes_at_least: CAP,
      cut_in: 'responseObject',
    });
    expect(first.stderr + second.stderr).not.toContain(podName);
    expect(shown.code).toBe(0);
    const records = jsonLines(shown.stdout);
    expect(records.map((r) => r.audit_id).sort()).toEqual([event.auditID, 'after-the-long-line-0'].sort());
    const stored = records.find((r) => r.audit_id === event.auditID) as Record<string, unknown>;
    expect(stored).toMatchObject({
      k8s_user: (event.user as { username: string }).username,
      k8s_verb: 'list',
      k8s_resource: 'pods',
      k8s_namespace: 'default',
      request_uri: event.requestURI,
    });
    const raw = stored.raw_event as Record<string, unknown>;
    expect(raw).toMatchObject({ user: event.user, verb: 'list', objectRef: event.objectRef });
    expect(raw.annotations).toEqual({ 'audit.k8s.io/truncated': 'true' });
    expect(raw).not.toHaveProperty('responseObject');
    expect(shown.stdout).not.toContain(podName);
    // The bytes on disk: the cursor is past the long line and the one after it.
    expect(JSON.parse(readFileSync(cursorPath, 'utf8'))).toMatchObject({
      offset: Buffer.byteLength(`${line}\n${after}\n`),
      skipping: false,
    });
  });

  it('sends the same event for the same line every time, so a resend of it is stored once', { timeout: 120_000 }, async () => {
    const logPath = join(tmp.dir, 'resent.log');
    const { line, event } = podListLine(CAP + 1024);
    writeFileSync(logPath, `${line}\n`);
    const env = {
      AISOC_INGEST_URL: `${ingest.url}/v1/ingest/k8s-audit/overcap-resent`,
      K8S_AUDIT_SHARED_SECRET: SECRET,
      CLUSTER_NAME: 'overcap-cluster',
    };

    // The second tailer starts from a cursor of its own: a restart before the first one's cursor
    // moved (a crash after delivery), reading the same line again a second later.
    const first = await run(['tail', '--path', logPath, '--cursor', join(tmp.dir, 'resent.cursor.1'), '--once'], env);
    await new Promise((r) => setTimeout(r, 1100));
    const second = await run(['tail', '--path', logPath, '--cursor', join(tmp.dir, 'resent.cursor.2'), '--once'], env);
    const shown = await run(['events', '--json', '--tenant', 'overcap-resent', '--data-dir', dataDir]);

    expect([first.code, second.code]).toEqual([0, 0]);
    const records = jsonLines(shown.stdout);
    expect(records.map((r) => [r.audit_id, r.severity_reason === 'reused-audit-id'])).toEqual([[event.auditID, false]]);
  });

  it('--once reads on past the long line: the lines after it in the file at the start are delivered in the same run', {
    timeout: 120_000,
  }, async () => {
    // A smaller cap than 8 MiB (the same code path, a tenth of the bytes): the long line spans
    // three polls' reads, and every real Falco event after it (more than one read too) follows.
    const cap = 64 * 1024;
    const logPath = join(tmp.dir, 'once.log');
    const cursorPath = join(tmp.dir, 'once.cursor');
    const { line, event, podName } = podListLine(cap * 2 + 1000);
    const after = uniqueEvents(falcoEventLines().length, 'after-once');
    writeFileSync(logPath, `${line}\n${asFile(after)}`);
    const env = {
      AISOC_INGEST_URL: `${ingest.url}/v1/ingest/k8s-audit/overcap-once`,
      K8S_AUDIT_SHARED_SECRET: SECRET,
      CLUSTER_NAME: 'overcap-cluster',
      AISOC_TAIL_MAX_BYTES: String(cap),
    };

    const once = await run(['tail', '--path', logPath, '--cursor', cursorPath, '--once'], env);
    const shown = await run(['events', '--json', '--limit', '1000', '--tenant', 'overcap-once', '--data-dir', dataDir]);

    expect(once.code).toBe(0);
    const polls = jsonLines(once.stderr).filter((l) => l.message === 'poll');
    expect(polls[0]).toMatchObject({ delivered: 1, salvaged_lines: 1, more: true });
    expect(polls.at(-1)).toMatchObject({ more: false, undelivered: 0 });
    expect(polls.reduce((n, p) => n + (p.delivered as number), 0)).toBe(1 + after.length);
    expect(once.stderr).not.toContain(podName);
    const ids = jsonLines(shown.stdout).map((r) => r.audit_id as string);
    expect(ids.sort()).toEqual([event.auditID as string, ...after.map((l) => (JSON.parse(l) as { auditID: string }).auditID)].sort());
    expect(JSON.parse(readFileSync(cursorPath, 'utf8'))).toMatchObject({
      offset: Buffer.byteLength(`${line}\n${asFile(after)}`),
      skipping: false,
    });
  });
});
