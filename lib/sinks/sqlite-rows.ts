import type Database from 'better-sqlite3';
import type { RuleLookup } from '../audit/finding.js';
import {
  alertKey,
  flagReusedAuditId,
  type NormalisedRecord,
  parseAuditTimestamp,
  type Severity,
  withReusedAuditId,
} from '../audit/index.js';
import { type SlotWindow, slotEntry } from './sqlite-slots.js';
import type { OutgoingRecord } from './types.js';

/** What a SQLite write stores of one record: its indexed fields, and its JSON or its raw event's. */
export interface StoreRow {
  tenant_id: string | null;
  cluster_name: string | null;
  audit_id: string;
  k8s_stage: string | null;
  event_time: string;
  severity: string;
  severity_reason: string;
  k8s_user: string | null;
  k8s_verb: string | null;
  k8s_resource: string | null;
  k8s_subresource: string | null;
  k8s_namespace: string | null;
  k8s_object_name: string | null;
  k8s_response_code: number | null;
  src_ip: string | null;
  dedup_key: string;
  /**
   * The key of the record's alert (`alertKey`): one alert per request, whatever its stages. Null
   * for a record that is not high: only high records are written to the alerts table.
   */
  alert_key: string | null;
  key_time: number;
  /** The record's JSON, or null when `raw` and `source` are stored instead (the record is derived from them when read). */
  record: string | null;
  raw: string | null;
  source: string | null;
  /**
   * The alerts table's `rules`: the rules that fired on a high record as the writing pack
   * describes them (JSON), so the alert's Detection Finding names them when read back, whatever
   * pack the reader runs. Null for other records, or when no rule fired.
   */
  rules: string | null;
}

/** Which tables a write fills: events (and alerts for the high ones), events only, or alerts only. */
export type SqliteSinkMode = 'events+alerts' | 'events' | 'alerts';

/**
 * The event's own time (epoch ms, as the normaliser reads it), or 0 for an event without one: the
 * leading column of the dedup index. Resends carry the same time, so dedup still works; and live
 * events arrive in time order, so inserts land at the end of the index instead of on a random
 * page of it (random auditIDs alone put every insert of a batch on its own page: ~3 MB of WAL per
 * 400-event commit at 100,000 rows, and growing with the table).
 */
export function keyTime(record: NormalisedRecord): number {
  const e = record.raw_event;
  return parseAuditTimestamp(e.requestReceivedTimestamp) ?? parseAuditTimestamp(e.stageTimestamp) ?? parseAuditTimestamp(e.timestamp) ?? 0;
}

/** The rules of a high record as `describe` (the running pack) knows them, as JSON; null when none fired. */
function rulesOf(r: NormalisedRecord, describe: RuleLookup | undefined): string | null {
  if (r.severity !== 'high' || r.rule_ids.length === 0 || describe === undefined) return null;
  const known = r.rule_ids.map((id) => describe(id)).filter((d) => d !== undefined);
  if (known.length === 0) return null;
  return JSON.stringify(
    known.map(({ id, title, description, severity, mitre, source }) => ({ id, title, description, severity, mitre, source })),
  );
}

/** The row of an outgoing record: what the tables store of it (its raw event's JSON when it has one). */
export function toStoreRow(o: OutgoingRecord, describe?: RuleLookup): StoreRow {
  const r = o.record;
  const origin = o.origin;
  return {
    tenant_id: r.tenant_id,
    cluster_name: r.cluster_name,
    audit_id: r.audit_id,
    k8s_stage: r.k8s_stage,
    event_time: r.event_time,
    severity: r.severity,
    severity_reason: r.severity_reason,
    k8s_user: r.k8s_user,
    k8s_verb: r.k8s_verb,
    k8s_resource: r.k8s_resource,
    k8s_subresource: r.k8s_subresource,
    k8s_namespace: r.k8s_namespace,
    k8s_object_name: r.k8s_object_name,
    k8s_response_code: r.k8s_response_code,
    src_ip: r.src_ip,
    dedup_key: r.dedup_key,
    alert_key: r.severity === 'high' ? alertKey(r) : null,
    key_time: keyTime(r),
    record: origin === undefined ? o.json : null,
    raw: origin === undefined ? null : origin.rawEventJson,
    source: origin?.source ? JSON.stringify(origin.source) : null,
    rules: rulesOf(r, describe),
  };
}

/** The row of the later of two different events in one auditID and stage, flagged as the normaliser flags it. */
export function flagReusedRow(r: StoreRow): StoreRow {
  const { severity, reason } = withReusedAuditId({
    severity: r.severity as Severity,
    reason: r.severity_reason as NormalisedRecord['severity_reason'],
  });
  const record = r.record === null ? null : JSON.stringify(flagReusedAuditId(JSON.parse(r.record) as NormalisedRecord));
  // A flagged record's alert is its own (alertKey), not its request's: with the key of the event
  // that holds the auditID, its alert would be taken for that event's and dropped.
  const flagged = { ...r, severity, severity_reason: reason, record };
  return { ...flagged, alert_key: severity === 'high' ? alertKey(flagged) : null };
}

/**
 * Writes rows inside the caller's transaction; returns nothing, pushes the positions of
 * duplicates, and of events stored flagged `reused-audit-id` (when `slots` is given: the
 * recent events whose auditID and stage another event would reuse).
 */
export type RowWriter = (
  rows: readonly StoreRow[],
  mode: SqliteSinkMode,
  storedAt: string,
  offset: number,
  duplicates: number[],
  reused?: number[],
  slots?: SlotWindow,
) => void;

/**
 * The insert logic of the events and alerts tables, for a connection inside a transaction.
 *
 * Dedup: the unique indexes hold the event's own time (`keyTime`) and the first 64 bits of
 * `dedup_key` (the SHA-256 of tenant, cluster, auditID, stage and content); a hit is checked against the
 * full key, and a true collision is stored with `key_hash` NULL instead of being dropped. An alert written together
 * with its event points to the events row instead of holding a second copy of the record.
 */
export function createRowWriter(db: Database.Database): RowWriter {
  const insertEvent = db.prepare(
    `INSERT OR IGNORE INTO events (tenant_id, cluster_name, audit_id, k8s_stage, event_time, stored_at, severity, severity_reason,
      k8s_user, k8s_verb, k8s_resource, k8s_subresource, k8s_namespace, k8s_object_name, k8s_response_code, src_ip, dedup_key, key_time,
      key_hash, record, raw_event, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertAlert = db.prepare(
    `INSERT OR IGNORE INTO alerts (tenant_id, cluster_name, audit_id, k8s_stage, event_time, stored_at, severity, severity_reason,
      dedup_key, key_time, key_hash, event_id, record, raw_event, source, rules) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const eventByHash = db.prepare('SELECT id, dedup_key FROM events WHERE key_time = ? AND key_hash = ?');
  const eventUnhashed = db.prepare('SELECT id FROM events WHERE key_hash IS NULL AND dedup_key = ?').pluck();
  const alertByHash = db.prepare('SELECT dedup_key FROM alerts WHERE key_time = ? AND key_hash = ?').pluck();
  const alertUnhashed = db.prepare('SELECT id FROM alerts WHERE key_hash IS NULL AND dedup_key = ?').pluck();

  const eventValues = (r: StoreRow, storedAt: string, hash: bigint | null) => [
    r.tenant_id,
    r.cluster_name,
    r.audit_id,
    r.k8s_stage,
    r.event_time,
    storedAt,
    r.severity,
    r.severity_reason,
    r.k8s_user,
    r.k8s_verb,
    r.k8s_resource,
    r.k8s_subresource,
    r.k8s_namespace,
    r.k8s_object_name,
    r.k8s_response_code,
    r.src_ip,
    r.dedup_key,
    r.key_time,
    hash,
    r.record,
    r.raw,
    r.source,
  ];
  const alertValues = (r: StoreRow, key: string, storedAt: string, hash: bigint | null, eventId: number | bigint | null) => [
    r.tenant_id,
    r.cluster_name,
    r.audit_id,
    r.k8s_stage,
    r.event_time,
    storedAt,
    r.severity,
    r.severity_reason,
    key,
    r.key_time,
    hash,
    eventId,
    eventId === null ? r.record : null,
    eventId === null ? r.raw : null,
    eventId === null ? r.source : null,
    r.rules,
  ];

  /** Stores the event unless its key is there; whether it was inserted, and the row id either way. */
  const storeEvent = (r: StoreRow, storedAt: string, hash: bigint): [boolean, number | bigint] => {
    const info = insertEvent.run(...eventValues(r, storedAt, hash));
    if (info.changes > 0) return [true, info.lastInsertRowid];
    const holder = eventByHash.get(r.key_time, hash) as { id: number; dedup_key: string };
    if (holder.dedup_key === r.dedup_key) return [false, holder.id];
    const unhashed = eventUnhashed.get(r.dedup_key) as number | undefined;
    if (unhashed !== undefined) return [false, unhashed];
    return [true, insertEvent.run(...eventValues(r, storedAt, null)).lastInsertRowid];
  };

  /** Stores the alert unless its key is there; whether it was inserted. */
  const storeAlert = (r: StoreRow, key: string, storedAt: string, eventId: number | bigint | null): boolean => {
    const hash = BigInt.asIntN(64, BigInt(`0x${key.slice(0, 16)}`));
    if (insertAlert.run(...alertValues(r, key, storedAt, hash, eventId)).changes > 0) return true;
    if (alertByHash.get(r.key_time, hash) === key) return false;
    if (alertUnhashed.get(key) !== undefined) return false;
    insertAlert.run(...alertValues(r, key, storedAt, null, eventId));
    return true;
  };

  return (rows, mode, storedAt, offset, duplicates, reused, slots) => {
    for (let i = 0; i < rows.length; i++) {
      let r = rows[i] as StoreRow;
      const hash = BigInt.asIntN(64, BigInt(`0x${r.dedup_key.slice(0, 16)}`));
      let eventId: number | bigint | null = null;
      if (mode !== 'alerts') {
        // An event whose slot another event already holds is stored flagged (a resend of the
        // flagged event finds its own key and stays a duplicate).
        // The slot is hashed once per row: it is looked up here and noted below.
        const entry = slots === undefined ? null : slotEntry(r, r.dedup_key);
        const flag = slots !== undefined && entry !== null && r.severity_reason !== 'reused-audit-id' && slots.holdsOther(entry);
        if (flag) r = flagReusedRow(r);
        const [inserted, id] = storeEvent(r, storedAt, hash);
        if (!inserted) duplicates.push(offset + i);
        else if (flag) reused?.push(offset + i);
        if (inserted && slots !== undefined && entry !== null) slots.add(entry);
        // Linked also for a resent event: its alert may be missing (stored in 'events' mode before).
        eventId = id;
      }
      if (mode === 'alerts' || (mode === 'events+alerts' && r.severity === 'high')) {
        // Only high records are sent to the alerts table, each with its key (toStoreRow).
        if (r.alert_key === null) throw new Error(`a ${r.severity} record was written to the alerts table`);
        const inserted = storeAlert(r, r.alert_key, storedAt, eventId);
        if (mode === 'alerts' && !inserted) duplicates.push(offset + i);
      }
    }
  };
}
