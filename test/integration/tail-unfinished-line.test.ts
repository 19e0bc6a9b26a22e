// A rotated audit log whose last line has no newline: its writer (the apiserver) was killed
// mid-line, then the file was rotated (Debian's logrotate, `create`). The tailer finishes the
// rotated file before the new one; those last bytes must not be silently lost: the event they hold
// goes out salvaged and flagged truncated, or, with no auditID in them, they are counted and
// logged with file, offset and size (never their content). The built CLI (`tail --once`,
// `events --json`) against the real local ingest and its SQLite sink, on real Falco events.
import { execFileSync } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IngestServer } from '../../lib/ingest/adapters/server.js';
import { buildCliBundle, PROJECT_CACHE, runBuiltCli } from '../helpers/cli-bundle.js';
import { hasCommand } from '../helpers/host.js';
import { asFile, falcoEventLines, tempDir, uniqueEvents } from '../helpers/tail.js';
import { startLocalIngest } from '../helpers/tail-ingest.js';

const SECRET = 'unfinished-line-secret-7c2e91a4';
const hasLogrotate = hasCommand('logrotate');
let tmp: { dir: string; cleanup: () => void };
let cli: { cli: string; cleanup: () => void };
let ingest: IngestServer;
let dataDir: string;

beforeAll(async () => {
  tmp = tempDir('aisoc-tail-unfinished-');
  // Under the project's cache so `events` finds better-sqlite3.
  cli = await buildCliBundle(PROJECT_CACHE, 'aisoc-tail-unfinished-cli-');
  dataDir = join(tmp.dir, 'data');
  ingest = await startLocalIngest(dataDir, SECRET);
});

afterAll(async () => {
  await ingest?.close();
  cli?.cleanup();
  tmp?.cleanup();
});

function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Writes, tails, appends `cut` (no newline) and more lines, rotates with logrotate `create`, then tails again with --once. */
async function rotateAfterCut(name: string, cut: string) {
  const logPath = join(tmp.dir, `${name}.log`);
  const env = {
    AISOC_INGEST_URL: `${ingest.url}/v1/ingest/k8s-audit/${name}`,
    K8S_AUDIT_SHARED_SECRET: SECRET,
    CLUSTER_NAME: 'unfinished-cluster',
  };
  const args = ['tail', '--path', logPath, '--cursor', join(tmp.dir, `${name}.cursor`), '--once'];
  const before = uniqueEvents(3, `${name}-before`);
  const after = uniqueEvents(2, `${name}-after`, 3);
  writeFileSync(logPath, asFile(before.slice(0, 1)));
  const first = await runBuiltCli(cli.cli, args, { env });
  appendFileSync(logPath, `${asFile(before.slice(1))}${cut}`);
  // logrotate's own files away from the log (as /etc/logrotate.d and /var/lib/logrotate are).
  const conf = join(tmp.dir, `logrotate-${name}.conf`);
  writeFileSync(conf, `${logPath} {\n  rotate 5\n  missingok\n  create\n}\n`, { mode: 0o644 });
  execFileSync('logrotate', ['-f', '-s', join(tmp.dir, `logrotate-${name}.state`), conf], { stdio: 'pipe' });
  appendFileSync(logPath, asFile(after));
  const second = await runBuiltCli(cli.cli, args, { env });
  const shown = await runBuiltCli(cli.cli, ['events', '--json', '--limit', '100', '--tenant', name, '--data-dir', dataDir]);
  expect([first.code, shown.code]).toEqual([0, 0]);
  return {
    logPath,
    offset: Buffer.byteLength(asFile(before)),
    second,
    logs: jsonLines(second.stderr),
    records: jsonLines(shown.stdout),
    ids: [...before, ...after].map((l) => (JSON.parse(l) as { auditID: string }).auditID),
  };
}

describe.skipIf(!hasLogrotate)('tail: a rotated file ending in a line its writer did not finish', () => {
  it('delivers the event those bytes hold, flagged truncated, after the lines before it and before the new file', {
    timeout: 120_000,
  }, async () => {
    // A line in the apiserver's member order (who, what and which object before the timestamps),
    // cut inside requestReceivedTimestamp: what arrived before it survives, the rest does not.
    const inOrder = (l: string) =>
      ['"user"', '"verb"', '"objectRef"'].every((k) => l.indexOf(k) !== -1 && l.indexOf(k) < l.indexOf('"requestReceivedTimestamp"'));
    const whole = uniqueEvents(falcoEventLines().length, 'cut').find(inOrder) as string;
    const event = JSON.parse(whole) as Record<string, unknown>;
    const at = whole.indexOf('"requestReceivedTimestamp"') + 30;
    const cut = whole.slice(0, at);
    const secretish = whole.slice(at);
    const r = await rotateAfterCut('salvaged', cut);

    expect(r.second.code).toBe(0);
    expect(r.logs.find((l) => l.message === 'poll')).toMatchObject({
      files: [`${r.logPath}.1`, r.logPath],
      delivered: 5,
      salvaged_lines: 1,
      invalid: 0,
      undelivered: 0,
    });
    expect(r.logs.find((l) => String(l.message).includes('did not finish'))).toMatchObject({
      level: 'WARN',
      file: `${r.logPath}.1`,
      offset: r.offset,
      bytes: Buffer.byteLength(cut),
      auditID: event.auditID,
    });
    expect(r.records.map((x) => x.audit_id).sort()).toEqual([...r.ids, event.auditID].sort());
    const stored = r.records.find((x) => x.audit_id === event.auditID) as { raw_event: Record<string, unknown> };
    expect(stored.raw_event).toMatchObject({ verb: event.verb, objectRef: event.objectRef, user: event.user });
    expect((stored.raw_event.annotations as Record<string, string>)['audit.k8s.io/truncated']).toBe('true');
    expect(r.second.stderr).not.toContain(secretish.slice(0, 40));
    expect(r.second.stderr).not.toContain((event.user as { username: string }).username);
  });

  it('counts and logs bytes that hold no auditID (file, offset, size), and still reads the new file', { timeout: 120_000 }, async () => {
    const [whole] = uniqueEvents(1, 'cut', 6) as [string];
    const cut = whole.slice(0, whole.indexOf('"auditID"') - 1);
    const r = await rotateAfterCut('passed', cut);

    expect(r.second.code).toBe(0);
    expect(r.logs.find((l) => l.message === 'poll')).toMatchObject({ delivered: 4, invalid: 1, undelivered: 0 });
    expect(r.logs.find((l) => String(l.message).includes('did not finish'))).toMatchObject({
      level: 'WARN',
      file: `${r.logPath}.1`,
      offset: r.offset,
      bytes: Buffer.byteLength(cut),
    });
    expect(r.records.map((x) => x.audit_id).sort()).toEqual([...r.ids].sort());
  });
});

// The same killed writer without a rotation: its next life opens the file to append (the
// apiserver's log backend does), so its first event follows the cut bytes on one line, which is
// no JSON. Neither event may be lost: the appended one is delivered whole, the cut one salvaged.
describe('tail: an event appended to the bytes of a line its writer did not finish', () => {
  it('delivers the appended event whole and salvages the cut one, flagged truncated', { timeout: 120_000 }, async () => {
    const name = 'glued';
    const logPath = join(tmp.dir, `${name}.log`);
    const env = { AISOC_INGEST_URL: `${ingest.url}/v1/ingest/k8s-audit/${name}`, K8S_AUDIT_SHARED_SECRET: SECRET, CLUSTER_NAME: 'glued' };
    const [before, cutWhole, appended, after] = uniqueEvents(4, name) as [string, string, string, string];
    const cut = cutWhole.slice(0, cutWhole.indexOf('"auditID"') + 300);
    writeFileSync(logPath, `${before}\n${cut}${appended}\n${after}\n`);
    const run = await runBuiltCli(cli.cli, ['tail', '--path', logPath, '--cursor', join(tmp.dir, `${name}.cursor`), '--once'], { env });
    const shown = await runBuiltCli(cli.cli, ['events', '--json', '--limit', '100', '--tenant', name, '--data-dir', dataDir]);

    expect([run.code, shown.code], run.stderr).toEqual([0, 0]);
    const records = jsonLines(shown.stdout);
    const id = (l: string) => (JSON.parse(l) as { auditID: string }).auditID;
    expect(records.map((x) => x.audit_id).sort()).toEqual([before, cutWhole, appended, after].map(id).sort());
    const salvaged = records.find((x) => x.audit_id === id(cutWhole)) as { raw_event: Record<string, unknown> };
    expect((salvaged.raw_event.annotations as Record<string, string>)['audit.k8s.io/truncated']).toBe('true');
    const whole = records.find((x) => x.audit_id === id(appended)) as { raw_event: Record<string, unknown> };
    expect(whole.raw_event.annotations ?? {}).not.toHaveProperty('audit.k8s.io/truncated');
    expect(jsonLines(run.stderr).find((l) => l.message === 'poll')).toMatchObject({ invalid: 0, undelivered: 0 });
  });
});
