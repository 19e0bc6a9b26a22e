import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AuditEvent, normaliseAuditEvent, shippedDetection } from '../../../lib/audit/index.js';
import { clusterStatus, RejectCounter } from '../../../lib/console/status.js';
import { ConsoleStore, type EventSummary } from '../../../lib/console/store.js';
import { type EventStore, openEventStore } from '../../../lib/sinks/sqlite.js';
import type { OutgoingRecord } from '../../../lib/sinks/types.js';
import { falcoEvent } from '../../helpers/fixtures.js';
import { tempDataDir, uniqueFalcoEvents } from '../../helpers/ingest.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');

/** Real Falco events re-timed and re-keyed: `n` of them, one per `stepMs` back from `end`. */
function records(
  n: number,
  opts: { tenant: string; cluster: string | null; end: number; stepMs?: number; tag?: string },
): OutgoingRecord[] {
  const base = uniqueFalcoEvents();
  return Array.from({ length: n }, (_, i) => {
    const time = new Date(opts.end - i * (opts.stepMs ?? 1000)).toISOString();
    const event = {
      ...(base[i % base.length] as AuditEvent),
      auditID: `${opts.tag ?? opts.tenant}-${opts.cluster ?? 'none'}-${i}`,
      requestReceivedTimestamp: time,
      stageTimestamp: time,
    };
    const record = normaliseAuditEvent(event, { tenantId: opts.tenant, clusterName: opts.cluster, receivedAt: NOW });
    const json = JSON.stringify(record);
    return { record, json, bytes: Buffer.byteLength(json) };
  });
}

describe('ConsoleStore', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let writer: EventStore;
  let store: ConsoleStore;
  beforeEach(() => {
    tmp = tempDataDir('aisoc-console-');
    writer = openEventStore(tmp.dir);
    // With the ingest's default pack (the shipped rules), as serve passes it.
    store = new ConsoleStore(tmp.dir, (id) => shippedDetection().rules?.describe?.(id));
  });
  afterEach(() => {
    store.close();
    writer.close();
    tmp.remove();
  });

  it('pages through a tenant search newest first, each row once, without another tenant in it', () => {
    writer.writeBatch(records(130, { tenant: 'acme', cluster: 'prod', end: NOW }));
    writer.writeBatch(records(40, { tenant: 'other', cluster: 'prod', end: NOW }));

    const seen: EventSummary[] = [];
    let cursor = null;
    let pages = 0;
    do {
      const page = store.searchEvents('acme', {}, 50, cursor);
      seen.push(...page.items);
      cursor = page.next;
      pages++;
    } while (cursor !== null);

    expect(pages).toBe(3);
    expect(seen).toHaveLength(130);
    expect(new Set(seen.map((e) => e.id)).size).toBe(130);
    const times = seen.map((e) => e.event_time);
    expect(times).toEqual([...times].sort().reverse());
    expect(seen.every((e) => e.audit_id.startsWith('acme-'))).toBe(true);
  });

  it('filters by user, verb, resource, namespace, cluster, severity and time range together', () => {
    writer.writeBatch(records(60, { tenant: 'acme', cluster: 'prod', end: NOW }));
    writer.writeBatch(records(60, { tenant: 'acme', cluster: 'staging', end: NOW }));
    const all = store.searchEvents('acme', {}, 200).items;
    const pick = all.find((e) => e.cluster_name === 'staging' && e.severity === 'high' && e.k8s_namespace !== null) as EventSummary;

    const filter = {
      user: pick.k8s_user as string,
      verb: pick.k8s_verb as string,
      resource: pick.k8s_resource as string,
      namespace: pick.k8s_namespace as string,
      cluster: 'staging',
      severity: ['high' as const],
      since: new Date(Date.parse(pick.event_time) - 1).toISOString(),
      until: pick.event_time,
    };
    const found = store.searchEvents('acme', filter, 50).items;

    const expected = all.filter(
      (e) =>
        e.k8s_user === filter.user &&
        e.k8s_verb === filter.verb &&
        e.k8s_resource === filter.resource &&
        e.k8s_namespace === filter.namespace &&
        e.cluster_name === 'staging' &&
        e.severity === 'high' &&
        e.event_time >= filter.since &&
        e.event_time <= filter.until,
    );
    expect(found.map((e) => e.id)).toEqual(expected.map((e) => e.id));
    expect(found.map((e) => e.id)).toContain(pick.id);
    expect(store.searchEvents('other', filter, 50).items).toEqual([]);
  });

  it('stops a sparse search at its scan budget, says how far back it looked, and continues from there', () => {
    // 300 events a second apart; the only matches are the 5 oldest (made to be by "rare-user").
    const batch = records(300, { tenant: 'acme', cluster: 'prod', end: NOW });
    for (const r of batch.slice(-5)) {
      r.record = { ...r.record, k8s_user: 'rare-user' };
      r.json = JSON.stringify(r.record);
    }
    writer.writeBatch(batch);

    const first = store.searchEvents('acme', { user: 'rare-user' }, 50, null, 100);
    expect(first.items).toEqual([]);
    expect(first.scannedTo).toBe(batch[99]?.record.event_time);
    const found: EventSummary[] = [];
    let page = first;
    let requests = 1;
    while (page.next !== null) {
      page = store.searchEvents('acme', { user: 'rare-user' }, 50, page.next, 100);
      found.push(...page.items);
      requests++;
    }
    expect(requests).toBe(3);
    expect(page.scannedTo).toBeNull();
    expect(found.map((e) => e.audit_id)).toEqual(batch.slice(-5).map((r) => r.record.audit_id));
    // Without filters a page is always full: the budget never cuts it.
    expect(store.searchEvents('acme', {}, 50, null, 100).items).toHaveLength(50);
  });

  it('opens one event only for its own tenant, with the raw event as stored', () => {
    writer.writeBatch(records(3, { tenant: 'acme', cluster: 'prod', end: NOW }));
    const [first] = store.searchEvents('acme', {}, 1).items;

    const record = store.event('acme', first?.id as number);

    expect(record?.audit_id).toBe(first?.audit_id);
    expect(record?.raw_event.auditID).toBe(first?.audit_id);
    expect(record?.ocsf.class_uid).toBe(6003);
    expect(store.event('other', first?.id as number)).toBeUndefined();
  });

  it('lists alerts with the rules that fired and their ATT&CK techniques, else the severity row and its technique', () => {
    const make = (file: string) => {
      const record = normaliseAuditEvent(falcoEvent(file), { tenantId: 'acme', clusterName: 'prod', receivedAt: NOW });
      const json = JSON.stringify(record);
      return { record, json, bytes: Buffer.byteLength(json) } as OutgoingRecord;
    };
    // Falco's traces: a cluster-admin binding (the shipped rule cluster-admin-binding fires) and an
    // exec into a pod (high by the severity table alone).
    const admin = make('attach_cluster_admin_role.json');
    const exec = make('exec_pod.json');
    expect(admin.record.rule_ids).toEqual(['cluster-admin-binding']);
    expect(exec.record.rule_ids).toEqual([]);
    writer.writeBatch([admin, exec]);

    const alerts = store.alerts('acme').items;

    const byAudit = new Map(alerts.map((a) => [a.audit_id, a]));
    expect(byAudit.get(admin.record.audit_id)).toMatchObject({
      rule_ids: ['cluster-admin-binding'],
      // rules/rbac.yaml: cluster-admin-binding, mitre [T1098.006]
      attack_techniques: ['T1098.006'],
      k8s_resource: 'clusterrolebindings',
    });
    expect(byAudit.get(exec.record.audit_id)).toMatchObject({
      rule_ids: ['pod-interactive-access'],
      attack_techniques: ['T1609'],
      k8s_verb: 'create',
      k8s_subresource: 'exec',
    });
    expect(alerts.every((a) => a.event_id !== null && store.event('acme', a.event_id) !== undefined)).toBe(true);
    expect(store.alerts('other').items).toEqual([]);
  });

  it('counts the timeline per minute and severity, and per hour beyond six hours', () => {
    const batch = records(120, { tenant: 'acme', cluster: 'prod', end: NOW - 1, stepMs: 30_000 });
    writer.writeBatch(batch);

    const t = store.timeline('acme', NOW - 3_600_000, NOW);

    expect(t.bucketMs).toBe(60_000);
    expect(t.buckets).toHaveLength(60);
    const total = t.buckets.reduce((n, b) => n + b.high + b.medium + b.low + b.info, 0);
    expect(total).toBe(batch.filter((r) => Date.parse(r.record.event_time) >= NOW - 3_600_000).length);
    const high = t.buckets.reduce((n, b) => n + b.high, 0);
    expect(high).toBe(batch.filter((r) => r.record.severity === 'high' && Date.parse(r.record.event_time) >= NOW - 3_600_000).length);
    expect(t.buckets[0]?.start).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z$/);

    const day = store.timeline('acme', NOW - 24 * 3_600_000, NOW);
    expect(day.bucketMs).toBe(3_600_000);
    expect(day.buckets.reduce((n, b) => n + b.high + b.medium + b.low + b.info, 0)).toBe(120);
    expect(store.timeline('other', NOW - 3_600_000, NOW).buckets).toEqual([]);
  });

  it('reads the store read-only', () => {
    expect(() => store.db.exec('DELETE FROM events')).toThrow(/readonly/);
  });
});

describe('clusterStatus', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let writer: EventStore;
  beforeEach(() => {
    tmp = tempDataDir('aisoc-console-');
    writer = openEventStore(tmp.dir);
  });
  afterEach(() => {
    writer.close();
    tmp.remove();
  });

  it('gives each cluster its last event, the last hour of events, alerts and rejects, and counts events without a cluster', () => {
    // prod: 30 events in the last 30 minutes; staging: 10 events two hours ago; 5 without a cluster now.
    const prod = records(30, { tenant: 'acme', cluster: 'prod', end: NOW - 1000, stepMs: 60_000 });
    writer.writeBatch(prod);
    writer.writeBatch(records(10, { tenant: 'acme', cluster: 'staging', end: NOW - 2 * 3_600_000 }));
    writer.writeBatch(records(5, { tenant: 'acme', cluster: null, end: NOW - 1000 }));
    writer.writeBatch(records(7, { tenant: 'other', cluster: 'prod', end: NOW - 1000 }));
    const rejects = new RejectCounter();
    rejects.add('acme', 'prod', 3, NOW - 10 * 60_000);
    rejects.add('acme', 'prod', 4, NOW - 2 * 3_600_000); // outside the hour
    rejects.add('acme', 'edge', 2, NOW - 60_000); // a cluster that only ever sent rejects
    rejects.add('other', 'prod', 9, NOW - 60_000);

    const s = clusterStatus(writer.db, 'acme', NOW, rejects);

    const by = new Map(s.clusters.map((c) => [c.cluster_name, c]));
    expect(by.get('prod')).toEqual({
      cluster_name: 'prod',
      last_event: new Date(NOW - 1000).toISOString(),
      events_last_hour: 30,
      alerts_last_hour: prod.filter((r) => r.record.severity === 'high').length,
      rejects_last_hour: 3,
    });
    expect(by.get('staging')).toMatchObject({
      last_event: new Date(NOW - 2 * 3_600_000).toISOString(),
      events_last_hour: 0,
      rejects_last_hour: 0,
    });
    expect(by.get('edge')).toMatchObject({ last_event: null, events_last_hour: 0, rejects_last_hour: 2 });
    expect(by.get(null)).toMatchObject({ events_last_hour: 5 });
    expect(s.events_without_cluster_last_hour).toBe(5);
    expect(s.clusters.map((c) => c.cluster_name)).toEqual(['prod', 'staging', 'edge', null]);
    expect(clusterStatus(writer.db, 'nobody', NOW).clusters).toEqual([]);
  });

  it('answers the status and timeline from indexes alone, and the search window from the (tenant, time) index', () => {
    const plan = (sql: string, ...params: unknown[]) =>
      (writer.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail).join(' | ');

    expect(plan('SELECT cluster_name, max(event_time) AS t FROM events WHERE tenant_id = ? GROUP BY cluster_name', 'a')).toMatch(
      /COVERING INDEX events_tenant_cluster_time/,
    );
    expect(
      plan('SELECT cluster_name, count(*) AS n FROM events WHERE tenant_id = ? AND event_time >= ? GROUP BY cluster_name', 'a', 'x'),
    ).toMatch(/COVERING INDEX events_tenant_time_sev/);
    expect(
      plan(
        'SELECT substr(event_time, 1, 16) AS bucket, severity, count(*) AS n FROM events WHERE tenant_id = ? AND event_time >= ? AND event_time < ? GROUP BY bucket, severity',
        'a',
        'x',
        'y',
      ),
    ).toMatch(/COVERING INDEX events_tenant_time_sev/);
    const window = plan('SELECT id, event_time FROM events WHERE tenant_id = ? ORDER BY event_time DESC, id DESC LIMIT 10', 'a');
    expect(window).toMatch(/COVERING INDEX events_tenant_time_sev/);
    // Read in time order from the index; only events of the same instant are sorted by id.
    expect(window).not.toMatch(/TEMP B-TREE FOR ORDER BY/);
  });
});

describe('RejectCounter', () => {
  it('keeps a bounded number of (tenant, cluster) keys, dropping those idle for an hour first', () => {
    const c = new RejectCounter();
    for (let i = 0; i < 10_000; i++) c.add('acme', `c${i}`, 1, NOW - 2 * 3_600_000);
    c.add('acme', 'late', 1, NOW);
    expect(c.lastHour('acme', NOW)).toEqual(new Map([['late', 1]]));
  });
});
