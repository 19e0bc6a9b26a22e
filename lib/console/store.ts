import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { NormalisedRecord, Severity } from '../audit/index.js';
import { EVENT_STORE_FILE, readRecord, type StoredRecord } from '../sinks/sqlite.js';
import { type AlertSummary, type EventSummary, SUMMARY_FIELDS, type Timeline, type TimelineBucket } from './api-types.js';
import { attackTechniques, type DescribeRule, ruleIdsOf } from './rules.js';

export type { AlertSummary, EventSummary, Timeline, TimelineBucket } from './api-types.js';

// The console's reads of the embedded store. Every query is bounded: by a LIMIT (lists), by a
// time range on the (tenant_id, event_time) index (the timeline, the last hour's counts) or by
// an index alone (each cluster's last event); no query reads the store whole, and each one is
// scoped to one tenant in its WHERE clause, never filtered afterwards.

/** The severities, highest first: the order the console shows them in. */
export const SEVERITIES: readonly Severity[] = ['high', 'medium', 'low', 'info'];

/** Page size bounds of the lists. */
export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 200;

/** The widest timeline the console draws: 7 days (hour buckets beyond 6 hours). */
export const MAX_TIMELINE_MS = 7 * 24 * 3_600_000;
const MINUTE_BUCKETS_UP_TO_MS = 6 * 3_600_000;

/** Filters of the event search; every one optional, combined with AND. */
export interface EventFilter {
  user?: string;
  verb?: string;
  resource?: string;
  namespace?: string;
  cluster?: string;
  /** Events without a cluster name (`cluster_name` NULL). */
  noCluster?: boolean;
  severity?: readonly Severity[];
  /** ISO 8601 bounds on `event_time`, inclusive. */
  since?: string;
  until?: string;
}

/** Where a page starts: after the row with this time and id (newest first). */
export interface PageCursor {
  time: string;
  id: number;
}

/** A page of a list and the cursor of the next one (null on the last page). */
export interface Page<T> {
  items: T[];
  next: PageCursor | null;
}

const SUMMARY_COLUMNS = SUMMARY_FIELDS.join(', ');

/** How many of a tenant's events one search request examines at most (newest first, from its cursor). */
export const SEARCH_SCAN_BUDGET = 10_000;

interface Where {
  sql: string;
  params: unknown[];
}

/** The part of a search the (tenant_id, event_time) index answers: the tenant, the time range, the cursor. */
function windowWhere(tenant: string, f: EventFilter, cursor: PageCursor | null): Where {
  const parts = ['tenant_id = ?'];
  const params: unknown[] = [tenant];
  if (f.since !== undefined) {
    parts.push('event_time >= ?');
    params.push(f.since);
  }
  if (f.until !== undefined) {
    parts.push('event_time <= ?');
    params.push(f.until);
  }
  if (cursor !== null) {
    // Keyset paging: the index ends in the rowid, so the next page starts where the last one
    // stopped instead of skipping OFFSET rows.
    parts.push('(event_time, id) < (?, ?)');
    params.push(cursor.time, cursor.id);
  }
  return { sql: parts.join(' AND '), params };
}

/** The filters checked on the rows of the window. */
function rowWhere(f: EventFilter): Where {
  const parts: string[] = [];
  const params: unknown[] = [];
  const eq = (column: string, value: string | undefined) => {
    if (value === undefined) return;
    parts.push(`${column} = ?`);
    params.push(value);
  };
  eq('k8s_user', f.user);
  eq('k8s_verb', f.verb);
  eq('k8s_resource', f.resource);
  eq('k8s_namespace', f.namespace);
  if (f.noCluster) parts.push('cluster_name IS NULL');
  else eq('cluster_name', f.cluster);
  if (f.severity !== undefined && f.severity.length > 0) {
    parts.push(`severity IN (${f.severity.map(() => '?').join(', ')})`);
    params.push(...f.severity);
  }
  return { sql: parts.join(' AND '), params };
}

function pageOf<T extends { id: number; event_time: string }>(rows: T[], limit: number): Page<T> {
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  const last = items.at(-1);
  return { items, next: more && last !== undefined ? { time: last.event_time, id: last.id } : null };
}

/**
 * A read-only connection to the SQLite store for the console: it cannot write (the file is opened
 * `readonly`), and every method takes the tenant the session belongs to.
 */
export class ConsoleStore {
  readonly db: Database.Database;

  constructor(
    dataDir: string,
    /** The ingest's rule pack, for the techniques of the rules on an alert. */
    private readonly describeRule?: DescribeRule,
  ) {
    // The ingest's sink created the file (and its tables) before the console opens it.
    this.db = new Database(join(dataDir, EVENT_STORE_FILE), { readonly: true, fileMustExist: true });
  }

  /**
   * A page of a tenant's events matching the filter, newest first. One request examines at most
   * `SEARCH_SCAN_BUDGET` events (a window of the (tenant, time) index from the cursor): a filter
   * that matches little returns what that window held, with `next` where it stopped and
   * `scannedTo` the oldest time it covered, so the cost of a request never grows with the store.
   */
  searchEvents(
    tenant: string,
    filter: EventFilter,
    limit = DEFAULT_PAGE,
    cursor: PageCursor | null = null,
    budget = SEARCH_SCAN_BUDGET,
  ): Page<EventSummary> & { scannedTo: string | null } {
    const win = windowWhere(tenant, filter, cursor);
    const rows = rowWhere(filter);
    const order = 'ORDER BY event_time DESC, id DESC';
    if (rows.sql === '') {
      // Nothing to check on the rows: the page is the next `limit` entries of the index.
      const found = this.db
        .prepare(`SELECT ${SUMMARY_COLUMNS} FROM events WHERE ${win.sql} ${order} LIMIT ?`)
        .all(...win.params, limit + 1) as EventSummary[];
      return { ...pageOf(found, limit), scannedTo: null };
    }
    // The budget-th entry of the window, from the index alone: the oldest event this request may
    // look at. The rows are then read newest first down to it, stopping at a full page.
    const edge = this.db
      .prepare(`SELECT id, event_time FROM events WHERE ${win.sql} ${order} LIMIT 1 OFFSET ?`)
      .get(...win.params, budget - 1) as { id: number; event_time: string } | undefined;
    const bound = edge === undefined ? '' : 'AND (event_time, id) >= (?, ?)';
    const boundParams = edge === undefined ? [] : [edge.event_time, edge.id];
    const found = this.db
      .prepare(`SELECT ${SUMMARY_COLUMNS} FROM events WHERE ${win.sql} ${bound} AND ${rows.sql} ${order} LIMIT ?`)
      .all(...win.params, ...boundParams, ...rows.params, limit + 1) as EventSummary[];
    const page = pageOf(found, limit);
    if (page.next !== null || edge === undefined) return { ...page, scannedTo: null };
    // Fewer matches than a page, and the budget ran out: is anything older left to search?
    const older = this.db
      .prepare(`SELECT 1 FROM events WHERE ${win.sql} AND (event_time, id) < (?, ?) LIMIT 1`)
      .get(...win.params, edge.event_time, edge.id);
    if (older === undefined) return { ...page, scannedTo: null };
    return { items: page.items, next: { time: edge.event_time, id: edge.id }, scannedTo: edge.event_time };
  }

  /** One event of a tenant: the flat record (OCSF included) and the raw audit event; undefined when not the tenant's. */
  event(tenant: string, id: number): NormalisedRecord | undefined {
    const row = this.db
      .prepare('SELECT record, raw_event, source, tenant_id, cluster_name, event_time FROM events WHERE id = ? AND tenant_id = ?')
      .get(id, tenant) as StoredRecord | undefined;
    return row === undefined ? undefined : readRecord(row);
  }

  /** A page of a tenant's alerts, newest first, each with the rules that raised it. */
  alerts(tenant: string, limit = DEFAULT_PAGE, cursor: PageCursor | null = null): Page<AlertSummary> {
    const params: unknown[] = [tenant];
    let keyset = '';
    if (cursor !== null) {
      keyset = 'AND (a.event_time, a.id) < (?, ?)';
      params.push(cursor.time, cursor.id);
    }
    // The page's records are read whole (at most MAX_PAGE of them) for their rule ids and the
    // fields an alerts-only row does not hold as columns.
    const rows = this.db
      .prepare(
        // severity_reason: the one thing a raw event does not say, whether its auditID was reused
        // (readRecord); the alert row's own, which the ingest wrote flagged.
        'SELECT a.id, a.event_id, a.event_time, a.severity_reason, ' +
          'CASE WHEN a.event_id IS NULL THEN a.record ELSE e.record END AS record, ' +
          'CASE WHEN a.event_id IS NULL THEN a.raw_event ELSE e.raw_event END AS raw_event, ' +
          'CASE WHEN a.event_id IS NULL THEN a.source ELSE e.source END AS source, a.tenant_id, a.cluster_name ' +
          `FROM alerts a LEFT JOIN events e ON e.id = a.event_id WHERE a.tenant_id = ? ${keyset} ` +
          'ORDER BY a.event_time DESC, a.id DESC LIMIT ?',
      )
      .all(...params, limit + 1) as (StoredRecord & { id: number; event_id: number | null })[];
    const page = pageOf(rows, limit);
    return { next: page.next, items: page.items.map((row) => alertSummary(row, readRecord(row), this.describeRule)) };
  }

  /** Counts of a tenant's events per bucket and severity over [since, until). */
  timeline(tenant: string, since: number, until: number, cluster?: string): Timeline {
    const bucketMs = until - since <= MINUTE_BUCKETS_UP_TO_MS ? 60_000 : 3_600_000;
    // event_time is ISO 8601 UTC ("2026-12-04T15:09:27.123Z"): its first 16 characters name the
    // minute, its first 13 the hour, so the grouping needs no date arithmetic in SQL.
    const prefix = bucketMs === 60_000 ? 16 : 13;
    const params: unknown[] = [tenant, new Date(since).toISOString(), new Date(until).toISOString()];
    let clusterSql = '';
    if (cluster !== undefined) {
      clusterSql = 'AND cluster_name = ?';
      params.push(cluster);
    }
    const rows = this.db
      .prepare(
        `SELECT substr(event_time, 1, ${prefix}) AS bucket, severity, count(*) AS n FROM events ` +
          `WHERE tenant_id = ? AND event_time >= ? AND event_time < ? ${clusterSql} GROUP BY bucket, severity ORDER BY bucket`,
      )
      .all(...params) as { bucket: string; severity: Severity; n: number }[];
    const buckets = new Map<string, TimelineBucket>();
    for (const row of rows) {
      const start = `${row.bucket}${prefix === 16 ? ':00.000Z' : ':00:00.000Z'}`;
      let b = buckets.get(start);
      if (b === undefined) {
        b = { start, high: 0, medium: 0, low: 0, info: 0 };
        buckets.set(start, b);
      }
      if (SEVERITIES.includes(row.severity)) b[row.severity] += row.n;
    }
    return { since: new Date(since).toISOString(), until: new Date(until).toISOString(), bucketMs, buckets: [...buckets.values()] };
  }

  /** Closes the connection; safe to call twice. */
  close(): void {
    if (this.db.open) this.db.close();
  }
}

function alertSummary(row: { id: number; event_id: number | null }, r: NormalisedRecord, describe?: DescribeRule): AlertSummary {
  const rules = ruleIdsOf(r);
  const flat = Object.fromEntries(SUMMARY_FIELDS.map((f) => [f, r[f as keyof NormalisedRecord] ?? null]));
  return {
    ...(flat as unknown as EventSummary),
    id: row.id,
    event_id: row.event_id,
    rule_ids: rules,
    attack_techniques: attackTechniques(r, describe),
  };
}
