// Lines shaped like audit lines are shipped without being parsed by the tailer; the ingest's
// answer is the check. These tests put the real shipper (lib/ship via tailShipper) in front of
// an ingest stand-in that answers as the ingest does: 400 for a body that is not JSON, 200 with
// per-item rejections for items that are JSON but not audit events.
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAuditPayload } from '../../../lib/audit/index.js';
import { FileTailer, readCursor, tailShipper } from '../../../lib/tail/index.js';
import { asFile, auditIdOf, tempDir, uniqueEvents } from '../../helpers/tail.js';

interface Posted {
  status: number;
  ids: string[];
}

/** A fetch that answers like the ingest route, and records what each POST carried. */
function ingestStandIn(posted: Posted[], opts: { always400?: boolean } = {}): typeof fetch {
  return (async (_url: unknown, init?: RequestInit) => {
    const body = Buffer.from(init?.body as Uint8Array).toString('utf8');
    const parsed = parseAuditPayload(body);
    const answer = (status: number, value: unknown) => {
      posted.push({ status, ids: parsed.events.map((e) => e.auditID) });
      return new Response(JSON.stringify(value), { status, headers: { 'content-type': 'application/json' } });
    };
    if (opts.always400) return answer(400, { error: 'tenant id must match [A-Za-z0-9][A-Za-z0-9._:-]{0,127}' });
    if (parsed.form !== 'EventList') return answer(400, { error: 'body is not JSON' });
    const errors = parsed.rejected.map((r) => ({ index: r.index, auditID: r.auditID ?? null, reason: r.reason }));
    return answer(200, { accepted: parsed.events.length, rejected: errors.length, duplicates: 0, errors });
  }) as typeof fetch;
}

let dir: string;
let cleanup: () => void;
let logPath: string;
let cursorPath: string;
let logs: Record<string, unknown>[];

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  logPath = join(dir, 'audit.log');
  cursorPath = join(dir, 'audit.log.aisoc-cursor');
  logs = [];
});

afterEach(() => cleanup());

function tailer(fetchImpl: typeof fetch): FileTailer {
  const { ship, isOversize } = tailShipper({
    url: 'https://ingest.test/v1/ingest/k8s-audit/acme',
    token: 't0ken',
    clusterName: 'c',
    fetch: fetchImpl,
    maxAttempts: 1,
    log: (e) => logs.push(e),
  });
  return new FileTailer({ logPath, cursorPath, maxBytes: 1024 * 1024, ship, isOversize, log: (e) => logs.push(e) });
}

async function cursorOffset(): Promise<number> {
  const c = await readCursor(cursorPath);
  if (c.state !== 'ok') throw new Error(`cursor is ${c.state}`);
  return c.cursor.offset;
}

describe('FileTailer shipping audit-shaped lines unparsed', () => {
  it('passes over a cut-off line the ingest cannot read (400), counting and logging it, and delivers the rest once', async () => {
    const events = uniqueEvents(6, 'cut');
    const cut = `${(events[2] as string).slice(0, 200)}}`;
    writeFileSync(logPath, asFile([events[0], events[1], cut, events[3], events[4], events[5]] as string[]));
    const posted: Posted[] = [];

    const r = await tailer(ingestStandIn(posted)).poll();

    expect(r).toMatchObject({ complete: true, delivered: 5, invalid: 1, error: null });
    expect(posted.map((p) => p.status)).toEqual([400, 200]);
    expect(posted[1]?.ids).toEqual([0, 1, 3, 4, 5].map((i) => auditIdOf(events[i] as string)));
    expect(logs.find((l) => l.msg === 'line passed over')).toMatchObject({
      reason: 'line is not JSON',
      offset: Buffer.byteLength(`${events[0]}\n${events[1]}\n`),
    });
    expect(await cursorOffset()).toBe(statSync(logPath).size);
  });

  it('counts an item the ingest rejects on its own (JSON, not an audit event) as invalid, not delivered', async () => {
    const events = uniqueEvents(3, 'rej');
    writeFileSync(logPath, asFile([events[0] as string, '{"auditID":"bad-user","user":"not-an-object"}', events[1] as string]));
    const posted: Posted[] = [];

    const r = await tailer(ingestStandIn(posted)).poll();

    expect(r).toMatchObject({ complete: true, delivered: 2, invalid: 1 });
    expect(posted.map((p) => p.status)).toEqual([200]);
    expect(logs.find((l) => l.msg === 'ingest rejected items')).toMatchObject({ rejected: 1 });
    expect(await cursorOffset()).toBe(statSync(logPath).size);
  });

  it('stops before the batch on a 400 that no line explains, leaving the cursor where it was', async () => {
    writeFileSync(logPath, asFile(uniqueEvents(4, 'cfg')));
    const posted: Posted[] = [];

    const r = await tailer(ingestStandIn(posted, { always400: true })).poll();

    expect(r).toMatchObject({ complete: false, delivered: 0, invalid: 0, undelivered: 4 });
    expect(r.error).toContain('HTTP 400');
    expect(posted.map((p) => p.status)).toEqual([400]);
    expect(await cursorOffset()).toBe(0);
  });
});
