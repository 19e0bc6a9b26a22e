// Nothing rejected silently: every item the ingest rejects is kept with its reason (redacted,
// bounded), named in the request's log line, listed by `aisoc-k8s-audit rejected`, and can be
// replayed; an apiserver stand-in's every event is accounted for.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../lib/audit/index.js';
import { main } from '../../lib/cli/main.js';
import type { IngestServer } from '../../lib/ingest/adapters/server.js';
import { type EventStore, openEventStore } from '../../lib/sinks/sqlite.js';
import { type Front, startFront } from '../helpers/front.js';
import { answer, eventList, SECRET, uniqueFalcoEvents } from '../helpers/ingest.js';
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

function post(body: string, tenant: string, url = ingest.url): Promise<Response> {
  return fetch(`${url}/v1/ingest/k8s-audit/${tenant}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET, 'X-AiSOC-Cluster-Name': 'c1' },
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

describe('rejected items', () => {
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
      // Still invalid: rejected again and kept again (new rows, same reasons); none lost, none doubled.
      expect(after).toHaveLength(before.length);
      expect(after.some((r) => before.includes(r.id))).toBe(false);
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
    const kept = store.queryRejects({ tenant: 't-acct', limit: 10_000 }).length;
    expect(kept).toBeGreaterThan(0);
    expect(duplicates).toBeGreaterThan(0);
    expect(stored + duplicates + kept).toBe(generated.length);
  });
});
