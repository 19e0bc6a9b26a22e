import { afterEach, describe, expect, it } from 'vitest';
import { type AuditEvent, normaliseAuditEvent } from '../../../lib/audit/index.js';
import { type EventStoreOptions, openEventStore, SqliteSink } from '../../../lib/sinks/sqlite.js';
import { SlotWindow, slotEntry } from '../../../lib/sinks/sqlite-slots.js';
import type { OutgoingRecord } from '../../../lib/sinks/types.js';
import { RecordWriter } from '../../../lib/sinks/writer.js';
import { MemorySink, reusedAuditIdPair, tempDataDir } from '../../helpers/ingest.js';

function outgoing(event: AuditEvent, tenant = 'acme'): OutgoingRecord {
  const record = normaliseAuditEvent(event, { tenantId: tenant, clusterName: 'c1', receivedAt: 0 });
  const json = JSON.stringify(record);
  return { record, json, bytes: json.length };
}

const fields = (auditID: string) => ({ tenant_id: 't', cluster_name: null, audit_id: auditID, k8s_stage: 'ResponseComplete' });
const KEY_A = 'a'.repeat(64);
const KEY_B = 'b'.repeat(64);
const KEY_C = 'c'.repeat(64);
const entry = (auditID: string, key: string) => slotEntry(fields(auditID), key);

let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

/**
 * A store in a fresh data dir (removed after the test), a list and a binding to cluster-admin in
 * one auditID, time and stage, and a second binding there that differs in its object's name.
 */
function reuseCase(opts: EventStoreOptions = {}) {
  const tmp = tempDataDir('aisoc-slots-');
  cleanup = tmp.remove;
  const [list, binding] = reusedAuditIdPair();
  const second: AuditEvent = { ...binding, objectRef: { ...binding.objectRef, name: 'pwn-again' } };
  return { store: openEventStore(tmp.dir, opts), list, binding, second };
}

describe('a reused auditID across batches in the SQLite store', () => {
  it('is found after the store is closed and opened again (the window is read from the table)', async () => {
    const tmp = tempDataDir('aisoc-slots-');
    cleanup = tmp.remove;
    const [list, binding] = reusedAuditIdPair();
    const first = openEventStore(tmp.dir);
    await new SqliteSink(first, 'events+alerts').write([outgoing(list)]);
    first.close();

    const second = openEventStore(tmp.dir);
    const sink = new SqliteSink(second, 'events+alerts');
    const result = await sink.write([outgoing(binding)]);
    const otherTenant = await sink.write([outgoing(binding, 'other')]);
    const stored = second.queryEvents({ tenant: 'acme' }).map((r) => [r.k8s_verb, r.severity_reason]);
    second.close();

    expect([...(result.reused ?? [])]).toEqual([0]);
    expect(otherTenant.reused).toBeUndefined();
    expect(stored.sort()).toEqual([
      ['create', 'reused-audit-id'],
      ['list', 'steady-state'],
    ]);
  });

  it('keeps the alert of a high event that reuses the auditID, time and stage of a high event stored earlier', async () => {
    // Two different bindings to cluster-admin under one auditID, stage and receive time: a
    // client choosing its Audit-ID could otherwise hide the second behind the first's alert.
    const { store, binding, second } = reuseCase();
    const sink = new SqliteSink(store, 'events+alerts');
    await sink.write([outgoing(binding)]);
    const result = await sink.write([outgoing(second)]);
    const alerts = store.queryAlerts({ tenant: 'acme' }).map((a) => [a.k8s_object_name, a.severity, a.severity_reason]);
    store.close();

    expect([...(result.reused ?? [])]).toEqual([0]);
    expect(alerts.sort()).toEqual([
      ['pwn', 'high', expect.any(String)],
      ['pwn-again', 'high', 'reused-audit-id'],
    ]);
  });
});

describe('a reused auditID across batches with group commit (the commit thread)', () => {
  it('is flagged as without it: the event stored flagged, with an alert of its own', async () => {
    const { store, list, binding, second } = reuseCase({ groupCommit: true });
    const sink = new SqliteSink(store, 'events+alerts');
    await sink.write([outgoing(binding)]);
    // Sent together, as concurrent requests are: the second batch is checked against the first
    // before either has committed.
    const [again, other] = await Promise.all([sink.write([outgoing(second)]), sink.write([outgoing({ ...list, auditID: 'fresh' })])]);
    const resend = await sink.write([outgoing(second)]);
    const stored = store.queryEvents({ tenant: 'acme' }).map((r) => [r.k8s_object_name ?? r.audit_id, r.severity_reason]);
    const alerts = store.queryAlerts({ tenant: 'acme' }).map((a) => [a.k8s_object_name, a.severity_reason]);
    await sink.close();

    expect([...(again.reused ?? [])]).toEqual([0]);
    expect(other.reused).toBeUndefined();
    expect([[...resend.duplicates], resend.reused]).toEqual([[0], undefined]);
    expect(stored.sort()).toEqual([
      ['fresh', 'steady-state'],
      ['pwn', 'rbac-binding-change'],
      ['pwn-again', 'reused-audit-id'],
    ]);
    expect(alerts.sort()).toEqual([
      ['pwn', 'rbac-binding-change'],
      ['pwn-again', 'reused-audit-id'],
    ]);
  });

  it('frees the slots of a batch whose commit failed: the next event in them is not taken for a reuse', async () => {
    const { store, list, binding, second } = reuseCase({ groupCommit: true });
    const sink = new SqliteSink(store, 'events+alerts');
    // Another request's binding to the same object ('pwn'), so the store has pages to fill.
    await sink.write([outgoing({ ...binding, auditID: 'warm-up' })]);
    // A full disk, as far as SQLite can tell: the batch with the first binding needs new pages and
    // its commit fails.
    store.setMaxPageCount(store.db.pragma('page_count', { simple: true }) as number);
    const fillers = Array.from({ length: 200 }, (_, i) => outgoing({ ...list, auditID: `filler-${i}` }));
    await expect(sink.write([outgoing(binding), ...fillers])).rejects.toThrow(/full/);
    store.setMaxPageCount(1073741823);
    const result = await sink.write([outgoing(second)]);
    const stored = store.queryEvents({ tenant: 'acme' }).map((r) => [r.k8s_object_name, r.severity_reason]);
    await sink.close();

    expect(result.reused).toBeUndefined();
    expect(stored.sort()).toEqual([
      ['pwn', 'rbac-binding-change'],
      ['pwn-again', 'rbac-binding-change'],
    ]);
  });
});

describe('a reused auditID across batches with a separate alerts sink', () => {
  it('alerts on the later event as the store keeps it: flagged, under its own alert key', async () => {
    const { store, binding, second } = reuseCase();
    const alerts = new MemorySink('alerts', Number.POSITIVE_INFINITY, false);
    const writer = new RecordWriter(new SqliteSink(store, 'events'), alerts);
    await writer.write([outgoing(binding)]);
    const outcome = await writer.write([outgoing(second)]);
    const stored = store.queryEvents({ tenant: 'acme' }).map((r) => [r.k8s_object_name, r.severity_reason]);
    store.close();

    expect([...(outcome.reused ?? [])]).toEqual([0]);
    expect(alerts.records.map((r) => [r.k8s_object_name, r.severity, r.severity_reason, r.ocsf.severity])).toEqual([
      ['pwn', 'high', 'rbac-binding-change', 'High'],
      ['pwn-again', 'high', 'reused-audit-id', 'High'],
    ]);
    expect(stored.sort()).toEqual([
      ['pwn', 'rbac-binding-change'],
      ['pwn-again', 'reused-audit-id'],
    ]);
  });
});

describe('SlotWindow', () => {
  it('tells another event in a held slot from the same event, and forgets the oldest slots past its capacity', () => {
    const w = new SlotWindow(2);
    w.add(entry('one', KEY_A));
    w.add(entry('two', KEY_A));
    expect(w.holdsOther(entry('one', KEY_B))).toBe(true);
    w.commit();
    w.add(entry('three', KEY_A));
    w.commit();

    expect(w.holdsOther(entry('one', KEY_B))).toBe(false);
    expect(w.holdsOther(entry('two', KEY_B))).toBe(true);
    expect(w.holdsOther(entry('two', KEY_A))).toBe(false);
  });

  it('holds a slot for the first key written in a transaction, and finds another key after a second one joined it', () => {
    const w = new SlotWindow();
    w.add(entry('one', KEY_A));
    expect(w.holdsOther(entry('one', KEY_A))).toBe(false);
    w.add(entry('one', KEY_B));
    // Two keys in the slot: any key, even the first, now meets another.
    expect(w.holdsOther(entry('one', KEY_A))).toBe(true);
    expect(w.holdsOther(entry('one', KEY_C))).toBe(true);
    w.commit();

    expect(w.holdsOther(entry('one', KEY_A))).toBe(false);
    expect(w.holdsOther(entry('one', KEY_B))).toBe(true);
  });

  it('drops what a failed transaction added', () => {
    const w = new SlotWindow();
    w.add(entry('one', KEY_A));
    w.rollback();
    w.commit();

    expect(w.holdsOther(entry('one', KEY_B))).toBe(false);
  });
});
