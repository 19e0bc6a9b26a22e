// Nothing rejected silently: every item the ingest rejects is kept with its reason (redacted,
// bounded), named in the request's log line, listed by `aisoc-k8s-audit rejected`, and can be
// replayed; an apiserver stand-in's every event is accounted for.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../lib/audit/index.js';
import { main } from '../../lib/cli/main.js';
import type { IngestServer } from '../../lib/ingest/adapters/server.js';
import { EVENT_STORE_FILE, type EventStore, openEventStore } from '../../lib/sinks/sqlite.js';
import { FIXTURES, falcoEvent } from '../helpers/fixtures.js';
import { type Front, startFront } from '../helpers/front.js';
import { answer, eventList, reserialised, SECRET, uniqueFalcoEvents } from '../helpers/ingest.js';
import { prng } from '../helpers/prng.js';
import { tempDir } from '../helpers/tail.js';
import { captureIo, startLocalIngest } from '../helpers/tail-ingest.js';

const PASSWORD = 'c3VwZXJzZWNyZXQtcmVqZWN0ZWQtMTIzNDU=';
let tmp: { dir: string; cleanup: () => void };
let dataDir: string;
let ingest: IngestServer;
let store: EventStore;
const logs: Record<string, unknown>[] = [];

beforeAll(async () => {
  tmp = tempDir('aisoc-rejects-');
  dataDir = join(tmp.dir, 'data');
  ingest = await startLocalIngest(dataDir, SECRET, (e) => logs.push(e));
  store = openEventStore(dataDir);
});

afterAll(async () => {
  store?.close();
  await ingest?.close();
  tmp?.cleanup();
});

function post(body: string, tenant: string, url = ingest.url, cluster = 'c1'): Promise<Response> {
  return fetch(`${url}/v1/ingest/k8s-audit/${tenant}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET, 'X-AiSOC-Cluster-Name': cluster },
    body,
  });
}

// Items a real apiserver never sends but a broken pipeline does: no auditID, a wrong type, not an
// object, and a Secret create whose verb is a number (rejected) with its data in the body.
function badItems(tag: string): unknown[] {
  const secret = uniqueFalcoEvents().find((e) => e.objectRef?.resource === 'secrets') as AuditEvent;
  return [
    { kind: 'Event', verb: 'get' },
    { ...secret, auditID: `${tag}-bad-verb`, verb: 7, requestObject: { kind: 'Secret', data: { password: PASSWORD } } },
    'not an event',
    { ...secret, auditID: `${tag}-bad-user`, user: 'root' },
  ];
}

/**
 * Two real Falco events and four invalid items (one a Secret create, with its data, whose verb is a
 * number): the batch `test/fixtures/stores/rejected-twice-c5dd3e7.sqlite.gz` was written from.
 */
function resentBatch(): unknown[] {
  const pod = falcoEvent('create_nginx_pod_privileged.json');
  const secret = falcoEvent('create_secret.json');
  return [
    pod,
    { ...secret, verb: 7, requestObject: { kind: 'Secret', data: { password: 'c3VwZXJzZWNyZXQ=' } } },
    'an event as a string',
    falcoEvent('attach_cluster_admin_role.json'),
    { ...pod, user: [] },
    { verb: 'get' },
  ];
}

/** `rejected --json` of a data dir, parsed. */
async function listed(dir: string, tenant: string): Promise<Record<string, unknown>[]> {
  const cap = captureIo({ AISOC_DATA_DIR: dir });
  expect(await main(['rejected', '--json', '--tenant', tenant], cap.io)).toBe(0);
  return cap
    .out()
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('rejected items', () => {
  it('of a resent batch are kept once each, counted, whether resent as sent, re-serialised or at other positions', async () => {
    const items = resentBatch();
    const first = await answer(await post(eventList(items), 't-resend'));
    const second = await answer(await post(eventList(items), 't-resend'));
    // The webhook's batches are cut differently on a retry: the same items, re-serialised, in another order.
    const third = await answer(
      await post(`{"kind":"EventList","items":[${[...items].reverse().map(reserialised).join(',')}]}`, 't-resend'),
    );
    const cap = captureIo({ AISOC_DATA_DIR: dataDir });
    const code = await main(['rejected', '--tenant', 't-resend'], cap.io);
    const kept = await listed(dataDir, 't-resend');

    expect([first.rejected, second.rejected, third.rejected]).toEqual([4, 4, 4]);
    expect([second.accepted, second.duplicates]).toEqual([0, 2]);
    expect(code).toBe(0);
    expect(cap.err()).toBe('4 rejected items\n');
    expect(
      cap
        .out()
        .trim()
        .split('\n')
        .slice(1)
        .every((line) => /^\S+ 3 /.test(line)),
    ).toBe(true);
    expect(kept.map((r) => r.reason).sort()).toEqual(first.errors.map((e) => e.reason).sort());
    expect(kept.map((r) => r.times)).toEqual([3, 3, 3, 3]);
    expect(kept.every((r) => String(r.first_rejected_at) < String(r.rejected_at))).toBe(true);
    // The last rejection's position: the third batch held them in reverse order.
    expect(kept.map((r) => r.index).sort()).toEqual(third.errors.map((e) => e.index).sort());
    expect(JSON.stringify(kept)).not.toContain('c3VwZXJzZWNyZXQ=');
  });

  it('of a store written before they were keyed are merged into one each when it is opened, and a resend counts in them', async () => {
    const dir = join(tmp.dir, 'old-store');
    mkdirSync(dir);
    writeFileSync(join(dir, EVENT_STORE_FILE), gunzipSync(readFileSync(join(FIXTURES, 'stores', 'rejected-twice-c5dd3e7.sqlite.gz'))));
    const raw = new Database(join(dir, EVENT_STORE_FILE), { readonly: true });
    const before = raw.prepare('SELECT reason, rejected_at, item FROM rejected ORDER BY id').all() as Record<string, string>[];
    raw.close();

    const migrated = await listed(dir, 'acme');
    const old = await startLocalIngest(dir, SECRET);
    try {
      const res = await answer(await post(eventList(resentBatch()), 'acme', old.url, 'prod'));
      const after = await listed(dir, 'acme');

      expect(before).toHaveLength(8);
      expect(migrated).toHaveLength(4);
      expect(migrated.map((r) => r.times)).toEqual([2, 2, 2, 2]);
      for (const r of migrated) {
        const rows = before.filter((b) => b.reason === r.reason);
        expect([r.item, r.first_rejected_at, r.rejected_at]).toEqual([rows[0]?.item, rows[0]?.rejected_at, rows[1]?.rejected_at]);
      }
      expect([res.accepted, res.duplicates, res.rejected]).toEqual([0, 2, 4]);
      expect(after.map((r) => [r.dedup_key, r.times]).sort()).toEqual(migrated.map((r) => [r.dedup_key, 3]).sort());
    } finally {
      await old.close();
    }
  });

  it('written by an older binary into a keyed store are listed with their time as the first, and keyed at the next open', async () => {
    // What the version before keys wrote, on a store this version has opened (its server still running).
    store.db
      .prepare(
        'INSERT INTO rejected (tenant_id, cluster_name, rejected_at, item_index, audit_id, reason, item, item_truncated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run('t-older', 'c1', '2026-01-02T03:04:05.000Z', 0, null, 'item has no auditID', '{"verb":"get"}', 0);
    const seen = store.queryRejects({ tenant: 't-older' });
    const res = await answer(await post(eventList([{ verb: 'get' }]), 't-older'));
    const kept = await listed(dataDir, 't-older');

    expect(seen.map((r) => [r.first_rejected_at, r.times])).toEqual([['2026-01-02T03:04:05.000Z', 1]]);
    expect(res.rejected).toBe(1);
    // Two rows until `rejected` opened the store and keyed the older one: then one, counted twice.
    expect(kept.map((r) => [r.first_rejected_at, r.times])).toEqual([['2026-01-02T03:04:05.000Z', 2]]);
  });

  it('are kept with their reason and redacted text, named in the log line, and listed by `rejected`', async () => {
    const good = uniqueFalcoEvents()
      .slice(0, 3)
      .map((e) => ({ ...e, auditID: `keep-${e.auditID}` }));
    const res = await answer(await post(eventList([good[0], ...badItems('keep'), ...good.slice(1)]), 't-keep'));

    expect([res.accepted, res.rejected]).toEqual([3, 4]);
    const line = logs.find((l) => l.msg === 'ingest request' && l.tenant === 't-keep');
    expect(line?.rejected_items).toEqual(res.errors.map((e) => ({ index: e.index, auditID: e.auditID, reason: e.reason })));

    const cap = captureIo({ AISOC_DATA_DIR: dataDir });
    const code = await main(['rejected', '--json', '--tenant', 't-keep'], cap.io);
    const kept = cap
      .out()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));

    expect(code).toBe(0);
    expect(kept.map((r) => [r.index, r.reason]).sort()).toEqual(res.errors.map((e) => [e.index, e.reason]).sort());
    expect(kept.every((r) => r.tenant_id === 't-keep' && r.cluster_name === 'c1' && r.item !== null)).toBe(true);
    expect(kept.find((r) => r.audit_id === 'keep-bad-verb').item).toContain('"password":"[REDACTED]"');
    expect(cap.out()).not.toContain(PASSWORD);
    expect(JSON.stringify(logs)).not.toContain(PASSWORD);
  });

  it('bounds the log line (the first 5 named, all counted) and keeps every one of them', async () => {
    const items = Array.from({ length: 25 }, (_, i) => ({ kind: 'Event', verb: 'get', note: `x${i}` }));

    await post(eventList(items), 't-many');

    const line = logs.find((l) => l.msg === 'ingest request' && l.tenant === 't-many');
    expect([(line?.rejected_items as unknown[] | undefined)?.length, line?.rejected]).toEqual([5, 25]);
    expect(store.queryRejects({ tenant: 't-many', limit: 100 })).toHaveLength(25);
  });

  it('are kept whole from an AKS records body too: the record, with its log text, redacted', async () => {
    const event = uniqueFalcoEvents()[0] as AuditEvent;
    const resourceId =
      '/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS1';
    const cutLog = JSON.stringify({ ...event, auditID: 'aks-cut', requestObject: { kind: 'Secret', data: { password: PASSWORD } } }).slice(
      0,
      -40,
    );
    const records = [
      { category: 'kube-audit', resourceId, properties: { log: cutLog } },
      { category: 'kube-audit', resourceId, properties: { log: JSON.stringify({ ...event, auditID: 'aks-bad', verb: 7 }) } },
      { category: 'kube-audit', resourceId, properties: {} },
    ];
    const res = await post(JSON.stringify({ records }), 't-aks');
    expect(((await res.json()) as { rejected: number }).rejected).toBe(3);

    const kept = store.queryRejects({ tenant: 't-aks' });
    expect(kept).toHaveLength(3);
    expect(kept.every((r) => r.item?.includes(resourceId))).toBe(true);
    expect(kept.some((r) => r.item?.includes('aks-bad'))).toBe(true);
    expect(JSON.stringify(kept)).not.toContain(PASSWORD);
  });

  it('are replayed with `rejected --replay`: kept again with the reason if still bad, exit 1 and kept while the ingest is down', async () => {
    await post(eventList(badItems('replay')), 't-replay');
    const before = store.queryRejects({ tenant: 't-replay' }).map((r) => r.id);
    let down = true;
    const front: Front = await startFront(ingest.url, () => (down ? 503 : 'pass'));
    try {
      const env = { AISOC_DATA_DIR: dataDir, AISOC_INGEST_URL: `${front.url}/v1/ingest/k8s-audit/any`, K8S_AUDIT_SHARED_SECRET: SECRET };
      const failed = await main(['rejected', '--replay', '--tenant', 't-replay'], captureIo(env).io);
      const keptWhileDown = store.queryRejects({ tenant: 't-replay' }).map((r) => r.id);
      down = false;
      const cap = captureIo(env);
      const replayed = await main(['rejected', '--replay', '--tenant', 't-replay'], cap.io);
      const after = store.queryRejects({ tenant: 't-replay' });

      expect(failed).toBe(1);
      expect(keptWhileDown).toEqual(before);
      expect(replayed).toBe(0);
      // Still invalid: rejected again for the same reasons, so the same entries, counted again; none lost, none doubled.
      expect(after.map((r) => [r.id, r.times]).sort()).toEqual(before.map((id) => [id, 2]).sort());
      expect(cap.err()).toContain('replayed 4 item(s) (0 accepted, 0 duplicates, 4 rejected again)');
    } finally {
      await front.close();
    }
  });
});

describe('an apiserver stand-in', () => {
  it('accounts for every event it generated: stored + duplicates + rejected-and-kept', async () => {
    const random = prng(12);
    const base = uniqueFalcoEvents();
    const generated: unknown[] = [];
    for (let i = 0; i < 300; i++) {
      const r = random();
      const event = { ...(base[i % base.length] as AuditEvent), auditID: `acct-${i}` };
      if (r < 0.1) generated.push({ ...event, auditID: undefined });
      else if (r < 0.2 && generated.length > 0) generated.push(generated[Math.floor(random() * generated.length)]);
      else generated.push(event);
    }
    let duplicates = 0;
    for (let i = 0; i < generated.length; i += 100) {
      const res = await answer(await post(eventList(generated.slice(i, i + 100)), 't-acct'));
      duplicates += res.duplicates;
    }

    const stored = store.countEvents({ tenant: 't-acct' });
    // A resent invalid item is one entry: its count says how many times it came.
    const kept = store.queryRejects({ tenant: 't-acct', limit: 10_000 }).reduce((n, r) => n + r.times, 0);
    expect(kept).toBeGreaterThan(0);
    expect(duplicates).toBeGreaterThan(0);
    expect(stored + duplicates + kept).toBe(generated.length);
  });
});

describe('aisoc-k8s-audit rejected', () => {
  it('lists each kept reject as a row of fixed-width columns under its header, the reason last and whole', async () => {
    const event = { ...falcoEvent('exec_pod.json'), kind: 1 } as unknown as AuditEvent;
    const sent = await answer(await post(eventList([event]), 't-table', ingest.url, 'prod-eu'));
    expect(sent.rejected).toBe(1);
    const cap = captureIo({ AISOC_DATA_DIR: dataDir });
    expect(await main(['rejected', '--tenant', 't-table'], cap.io)).toBe(0);
    const [header, row, end] = cap.out().split('\n');
    expect(header).toBe('REJECTED AT              TIMES TENANT       CLUSTER        INDEX AUDIT ID                             REASON');
    const auditID = String(event.auditID);
    expect(row).toBe(`${row?.slice(0, 24)} 1     t-table      prod-eu        0     ${auditID.padEnd(36)} ${sent.errors[0]?.reason}`);
    expect(row).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /);
    expect(end).toBe('');
  });
});
