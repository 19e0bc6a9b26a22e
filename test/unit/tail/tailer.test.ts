import {
  appendFileSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AuditEvent, normaliseAuditEvent, parseAuditPayload, withoutBodies } from '../../../lib/audit/index.js';
import type { EventText } from '../../../lib/ship/index.js';
import { FileTailer, type PollResult, readCursor, type TailerOptions, type TailShipFn } from '../../../lib/tail/index.js';
import { asFile, auditIdOf, eventText, podListLine, RecordingShipper, tempDir, uniqueEvents } from '../../helpers/tail.js';

let dir: string;
let cleanup: () => void;
let logPath: string;
let cursorPath: string;
let shipper: RecordingShipper;
let logs: Record<string, unknown>[];

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  logPath = join(dir, 'audit.log');
  cursorPath = join(dir, 'audit.log.aisoc-cursor');
  shipper = new RecordingShipper();
  logs = [];
});

afterEach(() => cleanup());

function tailer(overrides: Partial<TailerOptions> = {}): FileTailer {
  return new FileTailer({
    logPath,
    cursorPath,
    maxBytes: 8 * 1024 * 1024,
    ship: shipper.ship,
    log: (e) => logs.push(e),
    ...overrides,
  });
}

async function pollUntilIdle(t: FileTailer, limit = 50): Promise<PollResult[]> {
  const results: PollResult[] = [];
  for (let i = 0; i < limit; i++) {
    const r = await t.poll();
    results.push(r);
    if (!r.more || r.error !== null) return results;
  }
  throw new Error(`still more to read after ${limit} polls`);
}

async function cursorOffset(): Promise<number> {
  const c = await readCursor(cursorPath);
  if (c.state !== 'ok') throw new Error(`cursor is ${c.state}`);
  return c.cursor.offset;
}

describe('FileTailer', () => {
  it('ships every complete line and saves the cursor at the end of the file', async () => {
    const events = uniqueEvents(10, 'a');
    writeFileSync(logPath, asFile(events));

    const r = await tailer().poll();

    expect(r.complete).toBe(true);
    expect(r.delivered).toBe(10);
    expect(shipper.shipped).toEqual(events);
    expect(await cursorOffset()).toBe(statSync(logPath).size);
  });

  it('reads only what was appended since the last poll', async () => {
    const first = uniqueEvents(5, 'a');
    const second = uniqueEvents(5, 'b');
    writeFileSync(logPath, asFile(first));
    const t = tailer();
    await t.poll();

    appendFileSync(logPath, asFile(second));
    const r = await t.poll();
    const again = await tailer().poll();

    expect(r.delivered).toBe(5);
    expect(again.delivered).toBe(0);
    expect(shipper.shipped).toEqual([...first, ...second]);
  });

  it('leaves a final line without a newline for the next poll, then ships it once complete', async () => {
    const events = uniqueEvents(4, 'p');
    const last = events[3] as string;
    const half = Math.floor(last.length / 2);
    writeFileSync(logPath, asFile(events.slice(0, 3)) + last.slice(0, half));

    const r1 = await tailer().poll();
    const offsetAfterFirst = await cursorOffset();
    appendFileSync(logPath, `${last.slice(half)}\n`);
    const r2 = await tailer().poll();

    expect(r1.complete).toBe(true);
    expect(r1.heldBackBytes).toBe(Buffer.byteLength(last.slice(0, half)));
    expect(offsetAfterFirst).toBe(Buffer.byteLength(asFile(events.slice(0, 3))));
    expect(r2.delivered).toBe(1);
    expect(shipper.shipped).toEqual(events);
  });

  it('reads a truncated file (copytruncate) again from the top', async () => {
    writeFileSync(logPath, asFile(uniqueEvents(5, 'old')));
    await tailer().poll();

    const fresh = uniqueEvents(2, 'new');
    truncateSync(logPath, 0);
    appendFileSync(logPath, asFile(fresh));
    const r = await tailer().poll();

    expect(r.resets).toContain('truncated');
    expect(shipper.ids().slice(5)).toEqual(['new-0', 'new-1']);
    expect(await cursorOffset()).toBe(statSync(logPath).size);
  });

  it('finishes what was written since the last poll from the copy logrotate copytruncate made, then reads the emptied file', async () => {
    const before = uniqueEvents(5, 'ct');
    const unread = uniqueEvents(3, 'ct-tail', 5);
    writeFileSync(logPath, asFile(before));
    await tailer().poll();
    appendFileSync(logPath, asFile(unread));
    copyFileSync(logPath, join(dir, 'audit.log.1'));
    truncateSync(logPath, 0);
    const fresh = uniqueEvents(2, 'ct-new');
    appendFileSync(logPath, asFile(fresh));

    const r = await tailer().poll();

    expect(r.resets).toContain('truncated');
    expect(r.files).toEqual([join(dir, 'audit.log.1'), logPath]);
    expect(shipper.shipped).toEqual([...before, ...unread, ...fresh]);
    expect(logs.some((l) => l.msg === 'audit log was copied and truncated; finishing the copy first')).toBe(true);
    // The next poll reads the live file on from where this one left it.
    const later = uniqueEvents(1, 'ct-later');
    appendFileSync(logPath, asFile(later));
    await tailer().poll();
    expect(shipper.shipped).toEqual([...before, ...unread, ...fresh, ...later]);
  });

  it('finishes the copy also when the emptied file was refilled past the cursor', async () => {
    const before = uniqueEvents(2, 'cr');
    const unread = uniqueEvents(2, 'cr-tail', 2);
    writeFileSync(logPath, asFile(before));
    await tailer().poll();
    appendFileSync(logPath, asFile(unread));
    copyFileSync(logPath, join(dir, 'audit.log-20261207'));
    truncateSync(logPath, 0);
    const fresh = uniqueEvents(12, 'cr-new');
    appendFileSync(logPath, asFile(fresh));

    await tailer().poll();

    expect(shipper.shipped).toEqual([...before, ...unread, ...fresh]);
  });

  it('finishes the previous file under the name logrotate create gave it (audit.log.1)', async () => {
    const before = uniqueEvents(4, 'lr');
    const unread = uniqueEvents(3, 'lr-tail', 4);
    const after = uniqueEvents(2, 'lr-new');
    writeFileSync(logPath, asFile(before));
    await tailer().poll();
    appendFileSync(logPath, asFile(unread));
    renameSync(logPath, join(dir, 'audit.log.1'));
    writeFileSync(logPath, asFile(after));

    const r = await tailer().poll();

    expect(r.resets).toEqual(['rotated']);
    expect(r.files).toEqual([join(dir, 'audit.log.1'), logPath]);
    expect(shipper.shipped).toEqual([...before, ...unread, ...after]);
    expect(logs.some((l) => String(l.msg).includes('no longer beside it'))).toBe(false);
  });

  it('finishes every file logrotate create rotated between two polls, oldest first (audit.log.2, audit.log.1), then the new one', async () => {
    const a = uniqueEvents(4, 'lr2-a');
    const b = uniqueEvents(3, 'lr2-b');
    const c = uniqueEvents(2, 'lr2-c');
    // Rotated before the tailer's first poll: older than the file the cursor is on, never read.
    writeFileSync(join(dir, 'audit.log.3'), asFile(uniqueEvents(2, 'lr2-old')));
    writeFileSync(join(dir, 'audit.log.4.gz'), 'not a log');
    utimesSync(join(dir, 'audit.log.3'), new Date('2026-01-01T00:00:00Z'), new Date('2026-01-01T00:00:00Z'));
    writeFileSync(logPath, asFile(a.slice(0, 1)));
    await tailer().poll();
    appendFileSync(logPath, asFile(a.slice(1)));
    // logrotate `create`, rotate 5, twice: the numbered files move up one, the log becomes .1, a new log is created.
    renameSync(logPath, join(dir, 'audit.log.1'));
    writeFileSync(logPath, asFile(b));
    renameSync(join(dir, 'audit.log.1'), join(dir, 'audit.log.2'));
    renameSync(logPath, join(dir, 'audit.log.1'));
    writeFileSync(logPath, asFile(c));

    const r = await tailer().poll();

    expect(r.resets).toEqual(['rotated']);
    expect(r.files).toEqual([join(dir, 'audit.log.2'), join(dir, 'audit.log.1'), logPath]);
    expect(shipper.shipped).toEqual([...a, ...b, ...c]);
    expect(r.complete).toBe(true);
    // The next poll goes on in the live file only.
    const later = uniqueEvents(1, 'lr2-later');
    appendFileSync(logPath, asFile(later));
    await tailer().poll();
    expect(shipper.shipped).toEqual([...a, ...b, ...c, ...later]);
  });

  it('finishes every copy logrotate copytruncate made between two polls, oldest first, then the emptied file', async () => {
    const a = uniqueEvents(3, 'ct2-a');
    const b = uniqueEvents(3, 'ct2-b');
    const c = uniqueEvents(2, 'ct2-c');
    writeFileSync(logPath, asFile(a.slice(0, 1)));
    await tailer().poll();
    appendFileSync(logPath, asFile(a.slice(1)));
    copyFileSync(logPath, join(dir, 'audit.log.1'));
    truncateSync(logPath, 0);
    appendFileSync(logPath, asFile(b));
    renameSync(join(dir, 'audit.log.1'), join(dir, 'audit.log.2'));
    copyFileSync(logPath, join(dir, 'audit.log.1'));
    truncateSync(logPath, 0);
    appendFileSync(logPath, asFile(c));

    const r = await tailer().poll();

    expect(r.files).toEqual([join(dir, 'audit.log.2'), join(dir, 'audit.log.1'), logPath]);
    expect(shipper.shipped).toEqual([...a, ...b, ...c]);
  });

  it('finishes a file rotated twice across polls when one poll cannot read it all, then the next ones in order', async () => {
    const a = uniqueEvents(20, 'lr3-a');
    const b = uniqueEvents(20, 'lr3-b');
    const c = uniqueEvents(2, 'lr3-c');
    writeFileSync(logPath, asFile(a.slice(0, 1)));
    const t = tailer({ maxBytes: 8192 });
    await t.poll();
    appendFileSync(logPath, asFile(a.slice(1)));
    renameSync(logPath, join(dir, 'audit.log-20261206'));
    writeFileSync(logPath, asFile(b));
    renameSync(logPath, join(dir, 'audit.log-20261207'));
    writeFileSync(logPath, asFile(c));

    await pollUntilIdle(t);

    expect(shipper.shipped).toEqual([...a, ...b, ...c]);
  });

  it('finishes the previous target of a log path that is a symlink re-pointed to a new file', async () => {
    const real = join(dir, 'real');
    mkdirSync(real);
    const before = uniqueEvents(3, 'sl');
    const unread = uniqueEvents(2, 'sl-tail', 3);
    const after = uniqueEvents(2, 'sl-new');
    writeFileSync(join(real, 'audit-1.log'), asFile(before));
    symlinkSync(join(real, 'audit-1.log'), logPath);
    await tailer().poll();
    appendFileSync(join(real, 'audit-1.log'), asFile(unread));
    writeFileSync(join(real, 'audit-2.log'), asFile(after));
    rmSync(logPath);
    symlinkSync(join(real, 'audit-2.log'), logPath);

    const r = await tailer().poll();

    expect(r.resets).toEqual(['rotated']);
    expect(shipper.shipped).toEqual([...before, ...unread, ...after]);
  });

  it('delivers the events of a line holding an EventList or an array, as the NDJSON reader does, and passes over its bad items', async () => {
    const listed = uniqueEvents(4, 'list');
    const parsed = listed.map((l) => JSON.parse(l) as Record<string, unknown>);
    const lines = [
      JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items: [parsed[0], { kind: 0 }, parsed[1]] }),
      // With its keys sorted (jq -S), as the splitter knows it from its first bytes too.
      JSON.stringify({ apiVersion: 'audit.k8s.io/v1', items: [parsed[2]], kind: 'EventList', metadata: {} }),
      JSON.stringify([parsed[3]]),
    ];
    writeFileSync(logPath, `${lines.join('\n')}\n`);

    const r = await tailer().poll();
    const ndjson = parseAuditPayload(lines.join('\n'));

    expect(shipper.ids()).toEqual(['list-0', 'list-1', 'list-2', 'list-3']);
    expect(ndjson.events.map((e) => e.auditID)).toEqual(shipper.ids());
    expect(r).toMatchObject({ delivered: 4, invalid: 1, complete: true });
  });

  it('reads past a byte order mark at the start and the NUL bytes a crash left before a line', async () => {
    const first = uniqueEvents(3, 'bom');
    const after = uniqueEvents(3, 'nul', 3);
    // A crash on ext4 leaves NULs where lost appends were; the apiserver, restarted, appends after them.
    writeFileSync(
      logPath,
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(asFile(first)), Buffer.alloc(4096), Buffer.from(asFile(after))]),
    );

    const r = await tailer().poll();
    // And when every line is parsed here (PULL_ALERTS), from a cursor of its own.
    const checked = await tailer({ cursorPath: join(dir, 'checked-cursor'), alerts: { tenantId: 't1', clusterName: 'prod' } }).poll();

    expect(r.invalid).toBe(0);
    expect(checked.invalid).toBe(0);
    expect(checked.delivered).toBe(6);
    expect(shipper.shipped).toEqual([...first, ...after, ...first, ...after]);
  });

  it('notices a file truncated and refilled past the cursor between two polls', async () => {
    writeFileSync(logPath, asFile(uniqueEvents(2, 'old')));
    await tailer().poll();

    const fresh = uniqueEvents(12, 'new');
    truncateSync(logPath, 0);
    appendFileSync(logPath, asFile(fresh));
    const r = await tailer().poll();

    expect(r.resets).toContain('truncated');
    expect(shipper.ids().slice(2)).toEqual(fresh.map(auditIdOf));
  });

  it('finishes the rotated file under its backup name before starting the new one', async () => {
    const before = uniqueEvents(5, 'r1');
    const unread = uniqueEvents(3, 'r1-tail', 5);
    const after = uniqueEvents(4, 'r2');
    writeFileSync(logPath, asFile(before));
    await tailer().poll();
    appendFileSync(logPath, asFile(unread));
    renameSync(logPath, join(dir, 'audit-2026-11-26T01-02-03.456.log'));
    writeFileSync(logPath, asFile(after));

    const r = await tailer().poll();
    const cursor = await readCursor(cursorPath);

    expect(r.resets).toContain('rotated');
    expect(r.files).toEqual([join(dir, 'audit-2026-11-26T01-02-03.456.log'), logPath]);
    expect(shipper.shipped).toEqual([...before, ...unread, ...after]);
    expect(cursor.state === 'ok' && cursor.cursor.ino).toBe(String(statSync(logPath).ino));
  });

  it('follows several rotations between two polls, oldest backup first', async () => {
    const a = uniqueEvents(3, 'a');
    const b = uniqueEvents(3, 'b');
    const c = uniqueEvents(3, 'c');
    writeFileSync(logPath, asFile(a.slice(0, 1)));
    await tailer().poll();
    appendFileSync(logPath, asFile(a.slice(1)));
    renameSync(logPath, join(dir, 'audit-2026-01-01T00-00-00.000.log'));
    writeFileSync(logPath, asFile(b));
    renameSync(logPath, join(dir, 'audit-2026-01-01T00-10-00.000.log'));
    writeFileSync(logPath, asFile(c));

    await tailer().poll();

    expect(shipper.shipped).toEqual([...a, ...b, ...c]);
  });

  it('keeps reading a rotated file across polls when it is larger than one poll', async () => {
    const before = uniqueEvents(30, 'big');
    const after = uniqueEvents(3, 'next');
    writeFileSync(logPath, asFile(before.slice(0, 1)));
    const t = tailer({ maxBytes: 8192 });
    await t.poll();
    appendFileSync(logPath, asFile(before.slice(1)));
    renameSync(logPath, join(dir, 'audit-2026-11-26T01-02-03.456.log'));
    writeFileSync(logPath, asFile(after));

    const results = await pollUntilIdle(t);

    expect(results.length).toBeGreaterThan(2);
    expect(results.every((r) => r.bytesRead <= 8192)).toBe(true);
    expect(shipper.shipped).toEqual([...before, ...after]);
  });

  it('keeps its place when only the device number changed (a reboot or remount)', async () => {
    const first = uniqueEvents(3, 'dev');
    writeFileSync(logPath, asFile(first));
    await tailer().poll();
    const saved = JSON.parse(readFileSync(cursorPath, 'utf8'));
    writeFileSync(cursorPath, JSON.stringify({ ...saved, dev: '999999' }));
    appendFileSync(logPath, asFile(uniqueEvents(1, 'dev', 3)));

    const r = await tailer().poll();

    expect(r.resets).toEqual([]);
    expect(shipper.ids()).toEqual(['dev-0', 'dev-1', 'dev-2', 'dev-3']);
    expect(logs.some((l) => String(l.msg).includes('device number changed'))).toBe(true);
  });

  it('starts the new file at 0 and says so when the rotated file is gone', async () => {
    writeFileSync(logPath, asFile(uniqueEvents(2, 'gone')));
    await tailer().poll();
    // The new file exists before the old one is deleted, so it cannot reuse the old inode.
    writeFileSync(join(dir, 'next'), asFile(uniqueEvents(2, 'new')));
    rmSync(logPath);
    renameSync(join(dir, 'next'), logPath);

    const r = await tailer().poll();

    expect(r.resets).toEqual(['rotated', 'rotated-old-missing']);
    expect(shipper.ids()).toEqual(['gone-0', 'gone-1', 'new-0', 'new-1']);
    expect(logs.some((l) => l.level === 'warn' && String(l.msg).includes('previous file is no longer beside it'))).toBe(true);
  });

  it('reads a recreated file from 0 even when it reuses the old inode', async () => {
    writeFileSync(logPath, asFile(uniqueEvents(2, 'gone')));
    await tailer().poll();
    rmSync(logPath);
    writeFileSync(logPath, asFile(uniqueEvents(3, 'new')));

    const r = await tailer().poll();

    expect(r.resets.length).toBeGreaterThan(0);
    expect(shipper.ids()).toEqual(['gone-0', 'gone-1', 'new-0', 'new-1', 'new-2']);
  });

  it('passes over a line longer than the per-poll cap with no auditID in its first bytes, with a count and a log line', async () => {
    const [one, two] = uniqueEvents(2, 'ok');
    const huge = `{"kind":"Event","requestURI":"${'x'.repeat(20_000)}","auditID":"huge"}`;
    writeFileSync(logPath, asFile([one as string, huge, two as string]));

    const results = await pollUntilIdle(tailer({ maxBytes: 4096 }));

    expect(results.reduce((n, r) => n + r.oversizeLines, 0)).toBe(1);
    expect(shipper.ids()).toEqual(['ok-0', 'ok-1']);
    expect(await cursorOffset()).toBe(statSync(logPath).size);
    expect(logs.some((l) => String(l.msg).includes('longer than the per-poll cap'))).toBe(true);
  });

  it('delivers the event in the first bytes of a line longer than the per-poll cap, flagged truncated, and passes over the rest', async () => {
    const [one, two] = uniqueEvents(2, 'ok');
    const { line, event, podName } = podListLine(200_000);
    writeFileSync(logPath, asFile([one as string, line, two as string]));

    const results = await pollUntilIdle(tailer({ maxBytes: 64 * 1024 }));

    expect(shipper.ids()).toEqual(['ok-0', event.auditID, 'ok-1']);
    const salvaged = JSON.parse(shipper.shipped[1] as string) as Record<string, unknown>;
    expect(salvaged).toMatchObject({ user: event.user, verb: 'list', objectRef: event.objectRef, requestURI: event.requestURI });
    expect(salvaged.annotations).toEqual({ 'audit.k8s.io/truncated': 'true' });
    expect(shipper.shipped[1]).not.toContain(podName);
    expect(results.reduce((n, r) => n + r.salvagedLines, 0)).toBe(1);
    expect(results.reduce((n, r) => n + r.oversizeLines, 0)).toBe(0);
    expect(results.reduce((n, r) => n + r.delivered, 0)).toBe(3);
    expect(await cursorOffset()).toBe(statSync(logPath).size);
    const logged = logs.find((l) => String(l.msg).includes('delivered the event its first bytes hold'));
    expect(logged).toMatchObject({
      level: 'warn',
      offset: Buffer.byteLength(`${one}\n`),
      auditID: event.auditID,
      cut_in: 'responseObject',
    });
    expect(JSON.stringify(logs)).not.toContain(podName);
  });

  it('keeps the cursor before a line longer than the cap while its salvaged event is not accepted', async () => {
    const [one] = uniqueEvents(1, 'ok');
    const { line, event } = podListLine(200_000);
    writeFileSync(logPath, asFile([one as string, line]));
    shipper.failAlone();

    const failed = await pollUntilIdle(tailer({ maxBytes: 64 * 1024 }));
    const stoppedAt = await cursorOffset();
    shipper.recover();
    await pollUntilIdle(tailer({ maxBytes: 64 * 1024 }));

    expect(failed.at(-1)).toMatchObject({ undelivered: 1, complete: false });
    expect(failed.at(-1)?.error).toContain('HTTP 503');
    expect(stoppedAt).toBe(Buffer.byteLength(`${one}\n`));
    expect(shipper.ids()).toEqual(['ok-0', event.auditID]);
    expect(await cursorOffset()).toBe(statSync(logPath).size);
  });

  it('passes over an over-cap line that is still being written once its end arrives', async () => {
    const [one, two] = uniqueEvents(2, 'w');
    writeFileSync(logPath, `${one}\n${'y'.repeat(10_000)}`);
    const t = tailer({ maxBytes: 4096 });
    await pollUntilIdle(t);

    appendFileSync(logPath, `${'y'.repeat(5000)}\n${two}\n`);
    await pollUntilIdle(t);

    expect(shipper.ids()).toEqual(['w-0', 'w-1']);
    expect(await cursorOffset()).toBe(statSync(logPath).size);
  });

  it('counts, logs and passes over lines that are not JSON or not audit events', async () => {
    const [good] = uniqueEvents(1, 'good');
    writeFileSync(logPath, ['not json at all', '{"kind":0}', '{"metadata":{}}', '', good].join('\n').concat('\n'));

    const r = await tailer().poll();

    expect(r.invalid).toBe(3);
    expect(r.complete).toBe(true);
    expect(shipper.ids()).toEqual(['good-0']);
    expect(logs.filter((l) => l.msg === 'line passed over').map((l) => l.reason)).toEqual([
      'line is neither JSON nor a kube-apiserver legacy audit line (<time> AUDIT: id="..." ...)',
      'not a valid audit event: kind must be "Event", got number',
      'not a valid audit event: item has no auditID',
    ]);
    expect(await cursorOffset()).toBe(statSync(logPath).size);
  });

  it('reports a corrupt cursor, restarts from 0 and writes a good cursor', async () => {
    const events = uniqueEvents(3, 'c');
    writeFileSync(logPath, asFile(events));
    writeFileSync(cursorPath, '{"version":1,"offset":');

    const r = await tailer().poll();

    expect(r.resets).toContain('corrupt-cursor');
    expect(r.complete).toBe(true);
    expect(shipper.shipped).toEqual(events);
    expect(
      logs.some((l) => l.level === 'error' && String(l.msg).includes('cursor file is unusable') && String(l.problem).includes('not JSON')),
    ).toBe(true);
    expect(await cursorOffset()).toBe(statSync(logPath).size);
  });

  it('keeps the cursor before the first event the ingest did not accept, then recovers', async () => {
    const events = uniqueEvents(5, 'f');
    writeFileSync(logPath, asFile(events));
    shipper.refuseFrom(2);

    const failed = await tailer().poll();
    const offsetAfterFailure = await cursorOffset();
    shipper.recover();
    const recovered = await tailer().poll();

    expect(failed.complete).toBe(false);
    expect(failed.undelivered).toBe(3);
    expect(failed.error).toContain('did not accept 3 event(s)');
    expect(offsetAfterFailure).toBe(Buffer.byteLength(asFile(events.slice(0, 2))));
    expect(recovered.complete).toBe(true);
    expect(shipper.shipped).toEqual(events);
  });

  it('does not move the cursor at all when nothing was accepted', async () => {
    writeFileSync(logPath, asFile(uniqueEvents(3, 'n')));
    shipper.refuseFrom(0);

    const r = await tailer().poll();

    expect(r.delivered).toBe(0);
    expect(await cursorOffset()).toBe(0);
  });

  it('passes over an event the ingest refuses as too large on its own (413)', async () => {
    const events = uniqueEvents(3, 'l');
    writeFileSync(logPath, asFile(events));
    shipper.refuseAsTooLarge('l-1');

    const r = await tailer().poll();

    expect(r.complete).toBe(true);
    expect(r.oversizeEvents).toBe(1);
    expect(r.delivered).toBe(2);
    expect(await cursorOffset()).toBe(statSync(logPath).size);
  });

  it('sends an event that cannot fit one batch body on its own instead of passing over it', async () => {
    const events = uniqueEvents(3, 'o');
    writeFileSync(logPath, asFile(events));

    const r = await tailer({ isOversize: (line) => eventText(line) === events[0] }).poll();

    expect(r).toMatchObject({ complete: true, delivered: 3, oversizeEvents: 0, truncatedEvents: 0 });
    expect(shipper.ids()).toEqual(['o-1', 'o-2', 'o-0']);
    expect(await cursorOffset()).toBe(statSync(logPath).size);
  });

  it('keeps the cursor before an event over the body cap that could not be delivered, and delivers it next poll', async () => {
    const events = uniqueEvents(3, 'oc');
    writeFileSync(logPath, asFile(events));
    const t = tailer({ isOversize: (line) => eventText(line) === events[1] });
    shipper.failAlone();

    const r = await t.poll();

    expect(r).toMatchObject({ complete: false, undelivered: 1, oversizeEvents: 0 });
    expect(r.error).toContain(`at byte ${Buffer.byteLength(asFile(events.slice(0, 1)))}`);
    expect(await cursorOffset()).toBe(Buffer.byteLength(asFile(events.slice(0, 1))));
    shipper.recover();
    const again = await t.poll();
    expect(again.complete).toBe(true);
    expect(shipper.ids()).toContain('oc-1');
    expect(await cursorOffset()).toBe(statSync(logPath).size);
  });

  it('reads at most maxBytes per poll and continues on the next poll', async () => {
    const events = uniqueEvents(60, 'cap');
    writeFileSync(logPath, asFile(events));

    const results = await pollUntilIdle(tailer({ maxBytes: 8192 }));

    expect(results.length).toBeGreaterThan(3);
    expect(results.every((r) => r.bytesRead <= 8192)).toBe(true);
    expect(shipper.shipped).toEqual(events);
  });

  it('returns the high-severity events it delivered as normalised alerts', async () => {
    const events = uniqueEvents(47, 'sev');
    writeFileSync(logPath, asFile(events));
    const expected = events
      .map((l) => normaliseAuditEvent(JSON.parse(l), { tenantId: 't1', clusterName: 'prod', receivedAt: 0 }))
      .filter((rec) => rec.severity === 'high')
      .map((rec) => rec.audit_id);

    const r = await tailer({ alerts: { tenantId: 't1', clusterName: 'prod' } }).poll();

    expect(expected.length).toBeGreaterThan(0);
    expect(r.alerts.map((a) => a.audit_id)).toEqual(expected);
    expect(r.alerts.every((a) => a.severity === 'high' && a.cluster_name === 'prod' && a.tenant_id === 't1')).toBe(true);
  });

  it('returns the alerts of events sent on their own, whole or without their bodies, as of those sent in batches', async () => {
    const events = uniqueEvents(47, 'alone');
    writeFileSync(logPath, asFile(events));
    const context = { tenantId: 't1', clusterName: 'prod', receivedAt: 0 };
    const high = (e: AuditEvent) => normaliseAuditEvent(e, context).severity === 'high';
    const highIds = new Set(events.filter((l) => high(JSON.parse(l))).map(auditIdOf));
    // The first high event's creation the ingest refuses even alone (413): it goes out without its bodies.
    const refused = events.find((l) => highIds.has(auditIdOf(l)) && high(withoutBodies(JSON.parse(l)))) as string;
    const recording = new RecordingShipper();
    // An ingest whose cap the refused event is over with its bodies and under without them.
    const ship: TailShipFn = async (lines, how) => {
      const text = eventText(lines.events[0] as EventText);
      if (how?.alone === true && auditIdOf(text) === auditIdOf(refused) && 'requestObject' in JSON.parse(text)) {
        return { delivered: 0, failed: [{ index: 0, reason: 'event too large for the ingest', status: 413, retryable: false }] };
      }
      return recording.ship(lines, how);
    };

    const r = await tailer({
      ship,
      // Every high event is over the batch body cap: each goes out alone.
      isOversize: (line) => highIds.has(auditIdOf(eventText(line))),
      alerts: { tenantId: 't1', clusterName: 'prod' },
    }).poll();

    expect(r).toMatchObject({ delivered: 47, truncatedEvents: 1, complete: true });
    expect(highIds.size).toBeGreaterThan(1);
    expect(r.alerts.map((a) => a.audit_id).sort()).toEqual([...highIds].sort());
    const cut = r.alerts.find((a) => a.audit_id === auditIdOf(refused)) as { raw_event: AuditEvent };
    expect(cut.raw_event.annotations?.['audit.k8s.io/truncated']).toBe('true');
  });

  it('reports a missing audit log without touching the cursor', async () => {
    const r = await tailer().poll();

    expect(r.error).toBe(`audit log path ${logPath} not found`);
    expect(r.complete).toBe(false);
    expect((await readCursor(cursorPath)).state).toBe('missing');
  });

  it('reports a cursor that cannot be saved as an error of the poll, not a crash', async () => {
    writeFileSync(logPath, asFile(uniqueEvents(1, 's')));
    const blocked = join(dir, 'no-such-dir', 'cursor');

    const r = await tailer({ cursorPath: blocked }).poll();

    expect(r.complete).toBe(false);
    expect(r.error).toContain('cannot save the cursor');
  });

  it('keeps what the poll did before the cursor could not be saved: the events went out and will be sent again', async () => {
    const events = uniqueEvents(3, 'kept');
    writeFileSync(logPath, asFile(events));
    const blocked = join(dir, 'no-such-dir', 'cursor');

    const r = await tailer({ cursorPath: blocked }).poll();

    expect(r).toMatchObject({ complete: false, files: [logPath], lines: 3, delivered: 3, bytesRead: statSync(logPath).size });
    expect(r.bytesConsumed).toBe(statSync(logPath).size);
    expect(r.cursor?.offset).toBe(statSync(logPath).size);
    expect(r.error).toContain('delivered events will be sent again');
    expect(shipper.shipped).toEqual(events);
  });

  it('writes the cursor as a complete JSON document with no temp file left behind', async () => {
    mkdirSync(join(dir, 'state'));
    const path = join(dir, 'state', 'audit.cursor');
    writeFileSync(logPath, asFile(uniqueEvents(2, 'j')));
    const t = tailer({ cursorPath: path });

    await t.poll();
    await t.close();

    const saved = JSON.parse(readFileSync(path, 'utf8'));
    expect(saved).toMatchObject({ version: 1, path: logPath, offset: statSync(logPath).size, skipping: false });
    expect(saved.ino).toBe(String(statSync(logPath).ino));
    expect(readFileSync(path, 'utf8').endsWith('\n')).toBe(true);
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(join(dir, 'state'))).toEqual(['audit.cursor']);
  });

  it('leaves the cursor it prepared during delivery unused when the ingest stops partway: no temp file, the cursor at the first line not accepted', async () => {
    mkdirSync(join(dir, 'state'));
    const path = join(dir, 'state', 'audit.cursor');
    const events = uniqueEvents(5, 'part');
    writeFileSync(logPath, asFile(events));
    shipper.refuseFrom(2);
    const t = tailer({ cursorPath: path });

    const r = await t.poll();
    await t.close();

    expect(r).toMatchObject({ complete: false, delivered: 2, undelivered: 3 });
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(join(dir, 'state'))).toEqual(['audit.cursor']);
    expect(JSON.parse(readFileSync(path, 'utf8')).offset).toBe(Buffer.byteLength(asFile(events.slice(0, 2))));
  });

  it('reads each poll into the buffer the last one used and ships exactly the new bytes, however much shorter they are', async () => {
    // Long lines first, then a short one: the second read fills only the start of the buffer the
    // first read filled, whose bytes (and commas) are still there after it.
    const long = uniqueEvents(4, 'long').map((l) => l.replace('"Event"', `"Event","pad":"${'x'.repeat(3000)}"`));
    writeFileSync(logPath, asFile(long));
    const t = tailer();
    await t.poll();
    const [short] = uniqueEvents(1, 'short') as [string];
    appendFileSync(logPath, asFile([short]));

    const second = await t.poll();
    const third = await t.poll();

    expect(second).toMatchObject({ complete: true, delivered: 1, bytesRead: Buffer.byteLength(short) + 1 });
    expect(third).toMatchObject({ complete: true, delivered: 0, bytesRead: 0 });
    expect(shipper.shipped).toEqual([...long, short]);
    expect(await cursorOffset()).toBe(statSync(logPath).size);
  });

  it('removes the temp files a killed tailer left beside its cursor when it starts, and only those', async () => {
    mkdirSync(join(dir, 'state'));
    const path = join(dir, 'state', 'audit.cursor');
    // What a tailer killed while delivering leaves: its prepared cursor, never renamed.
    // (A pid past Linux's largest, so no process runs under it.)
    writeFileSync(join(dir, 'state', '.audit.cursor.99999999.0a1b2c3d.tmp'), '{"version":1}');
    writeFileSync(join(dir, 'state', '.other.cursor.4242.0a1b2c3d.tmp'), 'not ours');
    writeFileSync(join(dir, 'state', 'notes.txt'), 'not ours either');
    writeFileSync(logPath, asFile(uniqueEvents(2, 'stale')));
    const t = tailer({ cursorPath: path });

    const r = await t.poll();
    await t.close();

    expect(r.complete).toBe(true);
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(join(dir, 'state')).sort()).toEqual(['.other.cursor.4242.0a1b2c3d.tmp', 'audit.cursor', 'notes.txt']);
    expect(logs).toContainEqual(expect.objectContaining({ msg: 'removed temp files a stopped tailer left beside the cursor', removed: 1 }));
  });

  it('leaves the temp file of a writer that still runs, and says another process is writing the cursor', async () => {
    // A process that surely runs: this test's parent.
    const other = process.ppid;
    const temp = `.audit.log.aisoc-cursor.${other}.0a1b2c3d.tmp`;
    writeFileSync(join(dir, temp), '{"version":1}');
    writeFileSync(logPath, asFile(uniqueEvents(2, 'two')));

    await tailer().poll();

    const { readdirSync } = await import('node:fs');
    expect(readdirSync(dir)).toContain(temp);
    expect(logs).toContainEqual(expect.objectContaining({ level: 'error', pids: [other] }));
    expect(String(logs.find((l) => l.level === 'error')?.msg)).toContain('another process is writing this cursor');
  });

  it("runs a poll asked for while one is running after it, so each line is shipped once and every body is the file's bytes", async () => {
    const events = uniqueEvents(6, 'overlap');
    writeFileSync(logPath, asFile(events));
    // A slow ingest: the first poll is still delivering when the second is asked for.
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slowShip: TailerOptions['ship'] = async (lines) => {
      await held;
      return shipper.ship(lines);
    };
    const t = tailer({ ship: slowShip });

    const first = t.poll();
    const second = t.poll();
    setTimeout(release, 20);
    const [a, b] = await Promise.all([first, second]);

    expect(a).toMatchObject({ complete: true, delivered: 6 });
    expect(b).toMatchObject({ complete: true, delivered: 0, bytesRead: 0 });
    expect(b.startedAt).toBeGreaterThanOrEqual(a.finishedAt);
    expect(shipper.shipped).toEqual(events);
    expect(await cursorOffset()).toBe(statSync(logPath).size);
  });
});
