import { chmodSync, closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { type RuleInfo, type RuleLookup, toDetectionFinding } from '../audit/finding.js';
import {
  type AuditEvent,
  type AuditSource,
  type JsonValue,
  type NormaliseContext,
  type NormalisedRecord,
  normaliseAuditEvent,
  type Severity,
} from '../audit/index.js';
import { type Checkpointer, startCheckpointer } from './checkpointer.js';
import { type RejectRecord, type RejectSink, storedRejectKey } from './rejects.js';
import { CommitError, GroupCommitter } from './sqlite-committer.js';
import { createRowWriter, flagReusedRow, keyTime, type SqliteSinkMode, type StoreRow, toStoreRow } from './sqlite-rows.js';
import { SlotWindow, slotEntry } from './sqlite-slots.js';
import { NOTHING_TO_REPORT, type OutgoingRecord, type RecordSink, SinkUnavailableError, type SinkWriteResult } from './types.js';

/** The file under the data dir that holds events, alerts and inbox tokens. */
export const EVENT_STORE_FILE = 'aisoc-k8s-audit.sqlite';

// How long a writer waits for another connection's lock (the CLI writing inbox tokens while the
// server runs) before the write fails and the request answers 503. With the queue deadline's 5 s
// before a commit begins (K8S_AUDIT_QUEUE_DEADLINE_MS), 3 s keeps the worst answer under 9 s, inside
// our shipper's 10 s request timeout; 5 s answered at 10.0 s, after the shipper had given up.
export const SQLITE_BUSY_TIMEOUT_MS = 3000;

/** What the WAL file is cut back to when the log starts over (a few dozen 400-event batches). */
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

// The tables. A row holds the record's JSON (`record`), or only its raw event's JSON (`raw_event`)
// and the source (JSON, or NULL) when the record is the normaliser's output for them with the
// row's tenant, cluster and event_time: the rest (flat fields, OCSF) is derived again when the
// row is read, since the normaliser is deterministic. That is 40 % of the bytes each commit
// writes and fsyncs.
const TABLES = `
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY,
  tenant_id TEXT,
  cluster_name TEXT,
  audit_id TEXT NOT NULL,
  k8s_stage TEXT,
  event_time TEXT NOT NULL,
  stored_at TEXT NOT NULL,
  severity TEXT NOT NULL,
  severity_reason TEXT NOT NULL,
  k8s_user TEXT,
  k8s_verb TEXT,
  k8s_resource TEXT,
  k8s_subresource TEXT,
  k8s_namespace TEXT,
  k8s_object_name TEXT,
  k8s_response_code INTEGER,
  src_ip TEXT,
  dedup_key TEXT NOT NULL,
  key_time INTEGER NOT NULL,
  key_hash INTEGER,
  record TEXT,
  raw_event TEXT,
  source TEXT,
  CHECK (record IS NOT NULL OR raw_event IS NOT NULL)
);
CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY,
  tenant_id TEXT,
  cluster_name TEXT,
  audit_id TEXT NOT NULL,
  k8s_stage TEXT,
  event_time TEXT NOT NULL,
  stored_at TEXT NOT NULL,
  severity TEXT NOT NULL,
  severity_reason TEXT NOT NULL,
  dedup_key TEXT NOT NULL,
  key_time INTEGER NOT NULL,
  key_hash INTEGER,
  -- The alert's record: the events row it points to when both tables are written together
  -- (high records are a large share of a batch; storing them twice would double that I/O),
  -- else the record itself or its raw event (alerts only, events in another sink).
  event_id INTEGER REFERENCES events (id),
  record TEXT,
  raw_event TEXT,
  source TEXT,
  -- The rules that fired, as the writing pack described them (JSON; lib/sinks/sqlite-rows.ts):
  -- the alert's Detection Finding (OCSF 2004) is built from them and the record when read.
  rules TEXT,
  CHECK (event_id IS NOT NULL OR record IS NOT NULL OR raw_event IS NOT NULL)
);
-- Items the ingest rejected, with the reason and their redacted text cut to a bound
-- (lib/sinks/rejects.ts): nothing is rejected silently. One row a reject's identity (dedup_key,
-- lib/sinks/rejects.ts rejectKey): a resend of it counts in times, rejected_at and item_index
-- are its last rejection's, first_rejected_at its first's. The three columns were added to
-- stores written before (keyRejects); an older binary writing here leaves dedup_key NULL.
CREATE TABLE IF NOT EXISTS rejected (
  id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  cluster_name TEXT,
  rejected_at TEXT NOT NULL,
  item_index INTEGER NOT NULL,
  audit_id TEXT,
  reason TEXT NOT NULL,
  item TEXT,
  item_truncated INTEGER NOT NULL,
  dedup_key TEXT,
  first_rejected_at TEXT,
  times INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS rejected_tenant_time ON rejected (tenant_id, rejected_at);
CREATE INDEX IF NOT EXISTS rejected_time ON rejected (rejected_at);
`;
// The unique key is the event's identity (tenant, cluster, auditID, stage, content: see
// lib/audit/identity.ts); dedup_key is its SHA-256.
// The unique indexes hold the event's own time and the first 64 bits of dedup_key (16 bytes a
// row instead of ~80): led by the time, a batch of live events lands at the end of the index
// instead of on a random page per insert (auditIDs are random UUIDs). A hit is checked against
// the full dedup_key, so a 64-bit collision stores the record with key_hash NULL instead of
// dropping it (the *_unhashed indexes find those).
const INDEXES = `
CREATE UNIQUE INDEX IF NOT EXISTS events_dedup ON events (key_time, key_hash);
CREATE INDEX IF NOT EXISTS events_unhashed ON events (dedup_key) WHERE key_hash IS NULL;
CREATE INDEX IF NOT EXISTS events_severity_time ON events (severity, event_time);
-- A tenant's events by time, with the severity and cluster the console's timeline and status
-- count: those read the index alone, never the rows (it replaced events_tenant_time, its prefix).
DROP INDEX IF EXISTS events_tenant_time;
CREATE INDEX IF NOT EXISTS events_tenant_time_sev ON events (tenant_id, event_time, severity, cluster_name);
-- The console's per-cluster status (last event of each cluster), from the index alone.
CREATE INDEX IF NOT EXISTS events_tenant_cluster_time ON events (tenant_id, cluster_name, event_time);
-- An alert's key is its request's (lib/audit/identity.ts alertKey): one alert per request,
-- from the first stage that made it high; key_time (requestReceivedTimestamp) is the same for every stage.
CREATE UNIQUE INDEX IF NOT EXISTS alerts_dedup ON alerts (key_time, key_hash);
CREATE INDEX IF NOT EXISTS alerts_unhashed ON alerts (dedup_key) WHERE key_hash IS NULL;
CREATE INDEX IF NOT EXISTS alerts_severity_time ON alerts (severity, event_time);
CREATE INDEX IF NOT EXISTS alerts_tenant_time ON alerts (tenant_id, event_time);
`;

/** The table layout this code writes, kept in `PRAGMA user_version`. */
const LAYOUT_VERSION = 2;

const EVENT_COLUMNS =
  'id, tenant_id, cluster_name, audit_id, k8s_stage, event_time, stored_at, severity, severity_reason, k8s_user, k8s_verb, ' +
  'k8s_resource, k8s_subresource, k8s_namespace, k8s_object_name, k8s_response_code, src_ip, dedup_key, key_hash';
const ALERT_COLUMNS =
  'id, tenant_id, cluster_name, audit_id, k8s_stage, event_time, stored_at, severity, severity_reason, dedup_key, key_hash';

/**
 * Creates the tables, or moves a store written by the previous layout (dedup index on key_hash
 * alone, every row a full record) into this one, in one transaction. A store older than that
 * is refused with a message that names it: nothing in it is lost by moving it away, since a
 * sender's resend is deduplicated anyway.
 */
function createOrMigrate(db: Database.Database): void {
  const current = () => (db.pragma('user_version', { simple: true }) as number) >= LAYOUT_VERSION;
  if (!current()) {
    // IMMEDIATE: two processes opening an old store at once must not both move it.
    db.transaction(() => {
      if (current()) return;
      const columns = (table: string) => (db.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name);
      const events = columns('events');
      const alerts = columns('alerts');
      if (events.length > 0 || alerts.length > 0) {
        if (!events.includes('key_hash') || !alerts.includes('event_id')) {
          throw new Error(
            `the event store ${db.name} was written by an older aisoc-k8s-audit with another table layout; move it away and start again`,
          );
        }
        db.function('aisoc_key_time', { deterministic: true }, (json: unknown) => keyTime(JSON.parse(String(json)) as NormalisedRecord));
        const alertColumns = ALERT_COLUMNS.split(', ')
          .map((c) => `a.${c}`)
          .join(', ');
        db.exec('ALTER TABLE events RENAME TO events_v1; ALTER TABLE alerts RENAME TO alerts_v1;');
        db.exec(TABLES);
        db.exec(
          `INSERT INTO events (${EVENT_COLUMNS}, key_time, record) SELECT ${EVENT_COLUMNS}, aisoc_key_time(record), record FROM events_v1;` +
            `INSERT INTO alerts (${ALERT_COLUMNS}, key_time, event_id, record) SELECT ${alertColumns}, ` +
            'aisoc_key_time(coalesce(a.record, e.record)), a.event_id, a.record FROM alerts_v1 a LEFT JOIN events_v1 e ON e.id = a.event_id;' +
            // Alerts first: they reference the events table (this build enforces foreign keys).
            'DROP TABLE alerts_v1; DROP TABLE events_v1;',
        );
      }
      db.exec(TABLES + INDEXES);
      db.pragma(`user_version = ${LAYOUT_VERSION}`);
    }).immediate();
  }
  // A store of this layout written before alerts kept their rules gains the column (NULL there:
  // those findings name the rule ids only, as the reader's pack knows them).
  const hasRules = () => (db.pragma('table_info(alerts)') as { name: string }[]).some((c) => c.name === 'rules');
  if (!hasRules()) {
    db.transaction(() => {
      if (!hasRules()) db.exec('ALTER TABLE alerts ADD COLUMN rules TEXT');
    }).immediate();
  }
  if ((db.pragma('application_id', { simple: true }) as number) !== APPLICATION_ID) {
    db.pragma(`application_id = ${APPLICATION_ID}`);
  }
  db.exec(TABLES + INDEXES);
  keyRejects(db);
}

/** Rows keyed by a pass of `keyRejects`: bounded, so a large table is not read into memory at once. */
const KEY_REJECTS_PAGE = 500;

/**
 * Gives the rejected table its key columns when a store written before lacks them, and keys
 * every row without a key (written before, or since by an older binary), merging the rows of
 * one reject into one: the latest rejection's time and index, the first's time, the rows'
 * summed count. Then the unique index holds, and writeRejects counts a resend instead of
 * adding a row. In one transaction: a store is keyed whole or not at all.
 */
function keyRejects(db: Database.Database): void {
  const hasKey = () => (db.pragma('table_info(rejected)') as { name: string }[]).some((c) => c.name === 'dedup_key');
  if (hasKey() && db.prepare('SELECT 1 FROM rejected WHERE dedup_key IS NULL LIMIT 1').get() === undefined) {
    db.exec('CREATE UNIQUE INDEX IF NOT EXISTS rejected_dedup ON rejected (dedup_key)');
    return;
  }
  db.transaction(() => {
    if (!hasKey()) {
      db.exec(
        'ALTER TABLE rejected ADD COLUMN dedup_key TEXT; ALTER TABLE rejected ADD COLUMN first_rejected_at TEXT;' +
          'ALTER TABLE rejected ADD COLUMN times INTEGER NOT NULL DEFAULT 1;',
      );
    }
    const page = db.prepare(
      'SELECT id, tenant_id, cluster_name, rejected_at, first_rejected_at, item_index, audit_id, reason, item, item_truncated, times ' +
        'FROM rejected WHERE dedup_key IS NULL AND id > ? ORDER BY id LIMIT ?',
    );
    const holder = db.prepare('SELECT id FROM rejected WHERE dedup_key = ?').pluck();
    const key = db.prepare('UPDATE rejected SET dedup_key = ?, first_rejected_at = coalesce(first_rejected_at, rejected_at) WHERE id = ?');
    // Rows are read in id order, the order they were written: the later row's index is the last rejection's.
    const merge = db.prepare(
      'UPDATE rejected SET times = times + ?, ' +
        'item_index = CASE WHEN ? >= rejected_at THEN ? ELSE item_index END, rejected_at = max(rejected_at, ?), ' +
        'first_rejected_at = min(coalesce(first_rejected_at, rejected_at), ?) WHERE id = ?',
    );
    const drop = db.prepare('DELETE FROM rejected WHERE id = ?');
    let after = 0;
    for (;;) {
      const rows = page.all(after, KEY_REJECTS_PAGE) as {
        id: number;
        tenant_id: string;
        cluster_name: string | null;
        rejected_at: string;
        first_rejected_at: string | null;
        item_index: number;
        audit_id: string | null;
        reason: string;
        item: string | null;
        item_truncated: number;
        times: number;
      }[];
      if (rows.length === 0) break;
      for (const r of rows) {
        after = r.id;
        const k = storedRejectKey({ ...r, item_truncated: r.item_truncated === 1 });
        const into = holder.get(k) as number | undefined;
        if (into === undefined) {
          key.run(k, r.id);
        } else {
          merge.run(r.times, r.rejected_at, r.item_index, r.rejected_at, r.first_rejected_at ?? r.rejected_at, into);
          drop.run(r.id);
        }
      }
    }
    db.exec('CREATE UNIQUE INDEX IF NOT EXISTS rejected_dedup ON rejected (dedup_key)');
  }).immediate();
}

/** A kept reject as the store holds it: its row id, how many times it was rejected, and when first. */
export type StoredReject = RejectRecord & { id: number; first_rejected_at: string; times: number };

/** The first 64 bits of a dedup key (SHA-256 hex) as a signed integer: the indexed part of the key. */
export function keyHash(dedupKey: string): bigint {
  return BigInt.asIntN(64, BigInt(`0x${dedupKey.slice(0, 16)}`));
}

/** `PRAGMA application_id` of an aisoc-k8s-audit store ("AISC"): a SQLite file of another program has another or none. */
const APPLICATION_ID = 0x41495343;
/** The tables an aisoc-k8s-audit store may hold (events_v1 and alerts_v1 only while a migration runs). */
const OWN_TABLES = new Set(['events', 'alerts', 'inbox_tokens', 'events_v1', 'alerts_v1']);
/** The first 16 bytes of every SQLite 3 database file. */
const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

/** The store's file is not one this program may write: corrupt, not SQLite, or another program's database. */
export class StoreFileError extends Error {
  override name = 'StoreFileError';
}

/** The first bytes of a file (fewer when it is shorter); null when it does not exist. */
function fileHead(file: string, n: number): Buffer | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw new StoreFileError(
      `${file} is not a file (a directory or a device), so not an aisoc-k8s-audit event store; nothing in it was changed: move it away or set another data dir (AISOC_DATA_DIR, --data-dir)`,
    );
  }
  try {
    const head = Buffer.alloc(n);
    return head.subarray(0, readSync(fd, head, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

/**
 * Refuses, before anything is written to it, a file at the store's path that is not an
 * aisoc-k8s-audit store: not SQLite, or a SQLite database of another program (another
 * application_id, or tables that are not ours). Switching it to WAL or creating our tables in it
 * would change a file that is not ours; the operator moves it away instead.
 */
function checkOwnFile(db: Database.Database, file: string): void {
  const appId = db.pragma('application_id', { simple: true }) as number;
  // Read even for our own file: a damaged first page shows here, before anything is written.
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").pluck().all() as string[];
  if (appId === APPLICATION_ID) return;
  const foreign = tables.filter((t) => !OWN_TABLES.has(t));
  if (appId !== 0 || foreign.length > 0) {
    throw new StoreFileError(
      `${file} is a SQLite database of another program (${appId !== 0 ? `application_id ${appId}` : `tables ${foreign.slice(0, 5).join(', ')}`}), not an aisoc-k8s-audit event store; nothing in it was changed: move it away or set another data dir (AISOC_DATA_DIR, --data-dir)`,
    );
  }
}

/** Opens (and creates) the SQLite file under `dataDir` in WAL mode; shared by the event store and the inbox store. */
export function openDatabase(dataDir: string): Database.Database {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, EVENT_STORE_FILE);
  const head = fileHead(file, SQLITE_HEADER.length);
  if (head !== null && head.length > 0 && !head.equals(SQLITE_HEADER)) {
    throw new StoreFileError(
      `${file} is not a SQLite database (it does not start with the SQLite header), so not an aisoc-k8s-audit event store; nothing in it was changed: move it away or set another data dir (AISOC_DATA_DIR, --data-dir)`,
    );
  }
  if (head !== null && head.length > 0) {
    // Checked over a read-only connection: closing the last read-write one checkpoints a WAL into
    // the file and deletes the -wal and -shm files, which would change another program's database.
    // A read-only connection to a WAL database may create empty -wal and -shm files: on a refusal,
    // those it made go again (never one that was there: another program's, or a writer's).
    const made = [`${file}-wal`, `${file}-shm`].filter((f) => !existsSync(f));
    let check: Database.Database | undefined;
    try {
      check = new Database(file, { readonly: true, fileMustExist: true });
      checkOwnFile(check, file);
      check.close();
    } catch (err) {
      check?.close();
      for (const f of made) rmSync(f, { force: true });
      if (err instanceof StoreFileError) throw err;
      throw new StoreFileError(
        `${file} cannot be read as an aisoc-k8s-audit event store (${(err as Error).message}); it may be corrupt; nothing in it was changed: move it away (keep it for recovery) or set another data dir`,
        { cause: err },
      );
    }
  }
  const created = head === null;
  let db: Database.Database;
  try {
    db = new Database(file);
    db.pragma('page_size = 16384');
    db.pragma('journal_mode = WAL');
  } catch (err) {
    if (!created) throw err;
    // A new store that could not be made (a full or read-only disk): no empty file is left behind.
    for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
    throw new StoreFileError(
      `${file}: cannot create the event store (${(err as Error).message}): free space or set another data dir (AISOC_DATA_DIR, --data-dir)`,
      { cause: err },
    );
  }
  // Audit events name users, IPs and resources: owner-only, like the data dir. SQLite gives the
  // -wal and -shm files it creates later the database file's permissions.
  try {
    chmodSync(file, 0o600);
  } catch {
    // Not the owner (a store opened read-side by another user): leave it as it is.
  }
  // Records are ~2-5 KB of JSON each: with the default 4 KiB pages most of them spill into
  // overflow pages. 16 KiB pages hold them whole; larger pages would make each random insert
  // into the dedup index (auditIDs are random UUIDs) rewrite more bytes of WAL. It applies when
  // the file is created.
  // (page_size and journal_mode = WAL are set above, where a store that cannot be made is cleaned up.)
  // WAL lets readers (the `events` command, tests) run while the server writes. synchronous=FULL
  // fsyncs the WAL at every commit: a 200 means the batch survives a power cut, not only a crash.
  db.pragma('synchronous = FULL');
  db.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  // A burst can grow the WAL (the checkpoint falls behind while batches keep coming); when the
  // log next starts over, SQLite cuts the file back to this size instead of keeping it whole.
  db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
  return db;
}

/** What a read selects of a row: the record's JSON, or its raw event's and what derives the rest. */
export interface StoredRecord {
  record: string | null;
  raw_event: string | null;
  source: string | null;
  tenant_id: string | null;
  cluster_name: string | null;
  event_time: string;
  severity_reason: string;
}

/**
 * The record of a row: its JSON as stored, or the normaliser's output for the stored raw event
 * (the row was written only when that gives the record back: see `OutgoingRecord.origin`).
 * `event_time` is the receive time the normaliser used for an event without a time of its own.
 */
export function readRecord(row: StoredRecord): NormalisedRecord {
  if (row.record !== null) return JSON.parse(row.record) as NormalisedRecord;
  const ctx: NormaliseContext = { tenantId: row.tenant_id, clusterName: row.cluster_name, receivedAt: Date.parse(row.event_time) };
  // The reuse flag is the one thing the event alone does not say: the row keeps it.
  if (row.severity_reason === 'reused-audit-id') ctx.auditIdReused = true;
  if (row.source !== null) ctx.source = JSON.parse(row.source) as AuditSource;
  return normaliseAuditEvent(JSON.parse(row.raw_event as string) as AuditEvent, ctx);
}

/** An alert as read back: its record and its OCSF 1.8.0 Detection Finding (2004). */
export type AlertRecord = NormalisedRecord & { finding: Record<string, JsonValue> };

/** Filters for reading events or alerts back. */
export interface EventQuery {
  tenant?: string;
  cluster?: string;
  auditId?: string;
  /** One severity or several (`['high', 'medium']`). */
  severity?: Severity | readonly Severity[];
  /** ISO 8601 bounds on `event_time` (inclusive). */
  since?: string;
  until?: string;
  /** At most this many, newest first (default 100). */
  limit?: number;
}

interface WhereClause {
  sql: string;
  params: unknown[];
}

function whereOf(q: EventQuery, alias = ''): WhereClause {
  const parts: string[] = [];
  const col = (name: string) => `${alias}${name}`;
  const params: unknown[] = [];
  if (q.tenant !== undefined) {
    parts.push(`${col('tenant_id')} = ?`);
    params.push(q.tenant);
  }
  if (q.cluster !== undefined) {
    parts.push(`${col('cluster_name')} = ?`);
    params.push(q.cluster);
  }
  if (q.auditId !== undefined) {
    parts.push(`${col('audit_id')} = ?`);
    params.push(q.auditId);
  }
  if (q.severity !== undefined) {
    const list = typeof q.severity === 'string' ? [q.severity] : [...q.severity];
    if (list.length > 0) {
      parts.push(`${col('severity')} IN (${list.map(() => '?').join(', ')})`);
      params.push(...list);
    }
  }
  if (q.since !== undefined) {
    parts.push(`${col('event_time')} >= ?`);
    params.push(new Date(q.since).toISOString());
  }
  if (q.until !== undefined) {
    parts.push(`${col('event_time')} <= ?`);
    params.push(new Date(q.until).toISOString());
  }
  return { sql: parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`, params };
}

/**
 * The embedded store: an events table keyed by the event's identity (lib/audit/identity.ts), so a resent
 * batch is counted as duplicates instead of stored twice, and an alerts table of the high
 * records, queryable by severity and time. One transaction per batch: all of it or none.
 */
export class EventStore {
  readonly db: Database.Database;
  readonly #writeBatch: (rows: readonly StoreRow[], mode: SqliteSinkMode, storedAt: string) => { duplicates: number[]; reused: number[] };
  readonly #checkpointer: Checkpointer | null;
  readonly #committer: GroupCommitter | null;
  /** The recent events' auditID slots (a reused auditID across batches); read from the table at the first write. */
  #slots: SlotWindow | null = null;
  readonly #describeRule: RuleLookup | undefined;

  constructor(
    readonly dataDir: string,
    opts: EventStoreOptions = {},
  ) {
    this.#describeRule = opts.describeRule;
    this.db = openDatabase(dataDir);
    createOrMigrate(this.db);
    this.#checkpointer = null;
    if (opts.backgroundCheckpoints) {
      try {
        this.#checkpointer = startCheckpointer(join(dataDir, EVENT_STORE_FILE));
        this.db.pragma('wal_autocheckpoint = 0');
      } catch {
        // No worker threads here: keep SQLite's automatic checkpoints.
      }
    }
    this.#committer = opts.groupCommit
      ? new GroupCommitter({
          file: join(dataDir, EVENT_STORE_FILE),
          busyTimeoutMs: SQLITE_BUSY_TIMEOUT_MS,
          walSizeLimitBytes: WAL_SIZE_LIMIT_BYTES,
          noAutoCheckpoint: this.#checkpointer !== null,
          onCommit: () => this.#checkpointer?.committed(),
        })
      : null;
    const write = createRowWriter(this.db);
    this.#writeBatch = this.db.transaction((rows: readonly StoreRow[], mode: SqliteSinkMode, storedAt: string) => {
      this.#slots ??= this.#recentSlots();
      const duplicates: number[] = [];
      const reused: number[] = [];
      write(rows, mode, storedAt, 0, duplicates, reused, this.#slots);
      return { duplicates, reused };
    });
  }

  #rows(records: readonly OutgoingRecord[]): StoreRow[] {
    return records.map((r) => toStoreRow(r, this.#describeRule));
  }

  /** Writes a batch in one transaction; returns the positions of records already stored. */
  writeBatch(records: readonly OutgoingRecord[], mode: SqliteSinkMode = 'events+alerts'): Set<number> {
    return new Set(this.writeBatchReporting(records, mode).duplicates);
  }

  /** Writes a batch in one transaction; the positions of duplicates and of events stored flagged `reused-audit-id`. */
  writeBatchReporting(records: readonly OutgoingRecord[], mode: SqliteSinkMode = 'events+alerts'): SinkWriteResult {
    let written: { duplicates: number[]; reused: number[] };
    try {
      written = this.#writeBatch(this.#rows(records), mode, new Date().toISOString());
    } catch (err) {
      this.#slots?.rollback();
      throw err;
    }
    this.#slots?.commit();
    const { duplicates, reused } = written;
    this.#checkpointer?.committed();
    return { duplicates: new Set(duplicates), refused: new Map(), ...(reused.length > 0 ? { reused: new Set(reused) } : {}) };
  }

  /** The slots of the newest events already stored, oldest first, so a restart still finds a recent reuse. */
  #recentSlots(): SlotWindow {
    const slots = new SlotWindow();
    const rows = this.db
      .prepare('SELECT tenant_id, cluster_name, audit_id, k8s_stage, dedup_key FROM events ORDER BY id DESC LIMIT ?')
      .all(slots.capacity) as {
      tenant_id: string | null;
      cluster_name: string | null;
      audit_id: string;
      k8s_stage: string | null;
      dedup_key: string;
    }[];
    for (let i = rows.length - 1; i >= 0; i--) {
      const r = rows[i] as (typeof rows)[number];
      slots.add(slotEntry(r, r.dedup_key));
    }
    slots.commit();
    return slots;
  }

  /**
   * Keeps rejected items, in one transaction: one row a reject (its dedup_key), so a resend of
   * one already kept counts in its row (times, last rejected_at and index) instead of adding one.
   */
  writeRejects(rejects: readonly RejectRecord[]): void {
    if (rejects.length === 0) return;
    const upsert = this.db.prepare(
      'INSERT INTO rejected (tenant_id, cluster_name, rejected_at, first_rejected_at, item_index, audit_id, reason, item, item_truncated, dedup_key, times) ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT (dedup_key) DO UPDATE SET times = times + 1, ' +
        // Every right-hand side reads the row as it was before this update.
        'item_index = CASE WHEN excluded.rejected_at >= rejected_at THEN excluded.item_index ELSE item_index END, ' +
        'rejected_at = max(rejected_at, excluded.rejected_at), first_rejected_at = min(first_rejected_at, excluded.rejected_at)',
    );
    this.db.transaction(() => {
      for (const r of rejects) {
        upsert.run(
          r.tenant_id,
          r.cluster_name,
          r.rejected_at,
          r.rejected_at,
          r.index,
          r.audit_id,
          r.reason,
          r.item,
          r.item_truncated ? 1 : 0,
          r.dedup_key,
        );
      }
    })();
  }

  /** Kept rejects, newest (last rejected) first, with their row id and count (for `rejected --replay`). */
  queryRejects(q: { tenant?: string; since?: string; limit?: number } = {}): StoredReject[] {
    const parts: string[] = [];
    const params: unknown[] = [];
    if (q.tenant !== undefined) {
      parts.push('tenant_id = ?');
      params.push(q.tenant);
    }
    if (q.since !== undefined) {
      parts.push('rejected_at >= ?');
      params.push(new Date(q.since).toISOString());
    }
    const where = parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`;
    const limit = Math.max(0, Math.min(q.limit ?? 100, 1_000_000));
    const rows = this.db
      .prepare(
        `SELECT id, tenant_id, cluster_name, rejected_at, item_index, audit_id, reason, item, item_truncated, dedup_key, coalesce(first_rejected_at, rejected_at) AS first_rejected_at, times FROM rejected ${where} ORDER BY rejected_at DESC, id DESC LIMIT ?`,
      )
      .all(...params, limit) as {
      id: number;
      tenant_id: string;
      cluster_name: string | null;
      rejected_at: string;
      item_index: number;
      audit_id: string | null;
      reason: string;
      item: string | null;
      item_truncated: number;
      dedup_key: string;
      first_rejected_at: string;
      times: number;
    }[];
    return rows.map((r) => ({
      id: r.id,
      kind: 'k8s_audit_reject',
      tenant_id: r.tenant_id,
      cluster_name: r.cluster_name,
      rejected_at: r.rejected_at,
      index: r.item_index,
      audit_id: r.audit_id,
      reason: r.reason,
      item: r.item,
      item_truncated: r.item_truncated === 1,
      dedup_key: r.dedup_key,
      first_rejected_at: r.first_rejected_at,
      times: r.times,
    }));
  }

  /**
   * Removes kept rejects replayed with success, each only as it was read: a row rejected again
   * since (by the replay itself, for the same reason, or by a sender's resend) has a higher
   * count and is kept, or replaying an item still bad would drop it from the list.
   */
  deleteRejects(rows: readonly Pick<StoredReject, 'id' | 'times'>[]): void {
    const del = this.db.prepare('DELETE FROM rejected WHERE id = ? AND times = ?');
    this.db.transaction(() => {
      for (const r of rows) del.run(r.id, r.times);
    })();
  }

  /**
   * Writes a batch durably: in the next group transaction when the store was opened with
   * `groupCommit` (shared with the batches of other requests, on the commit thread), else in its
   * own. A batch whose `signal` aborts before its group forms is not written (rejects with the reason).
   */
  async writeBatchDurably(records: readonly OutgoingRecord[], mode: SqliteSinkMode, signal?: AbortSignal): Promise<SinkWriteResult> {
    if (this.#committer === null) {
      signal?.throwIfAborted();
      return this.writeBatchReporting(records, mode);
    }
    // The commit thread has no window of recent auditID slots: this thread flags the rows against
    // it before they are sent, and holds their slots ahead of the commit (batches reach the
    // commit thread in the order they are sent), releasing them if the commit fails.
    const rows = this.#rows(records);
    this.#slots ??= this.#recentSlots();
    const { flags, added } = this.#slots.holdAhead(
      rows.map((r) => (mode === 'alerts' || r.severity_reason === 'reused-audit-id' ? null : slotEntry(r, r.dedup_key))),
    );
    const sent = rows.map((r, i) => (flags[i] === true ? flagReusedRow(r) : r));
    let duplicates: Set<number>;
    try {
      duplicates = new Set(await this.#committer.write(sent, mode, new Date().toISOString(), signal));
    } catch (err) {
      this.#slots.release(added);
      throw err;
    }
    const reused = new Set<number>();
    flags.forEach((flag, i) => {
      if (flag && !duplicates.has(i)) reused.add(i);
    });
    return { duplicates, refused: new Map(), ...(reused.size > 0 ? { reused } : {}) };
  }

  /**
   * Caps the store's file at `pages` pages for every writing connection (`max_page_count`): past
   * it a write fails with SQLITE_FULL, as on a full disk (tests without a small filesystem).
   */
  setMaxPageCount(pages: number): void {
    this.db.pragma(`max_page_count = ${Math.floor(pages)}`);
    this.#committer?.setMaxPageCount(pages);
  }

  /** Group commits so far: transactions and the batches they held (zero without `groupCommit`). */
  get commitStats(): { commits: number; batches: number } {
    return { ...(this.#committer?.stats ?? { commits: 0, batches: 0 }) };
  }

  /** Stored events, newest first. */
  queryEvents(q: EventQuery = {}): NormalisedRecord[] {
    return this.#query('events', q).map((r) => r.record);
  }

  /**
   * Stored alerts (the high records), newest first, each with `finding`: its OCSF 1.8.0 Detection
   * Finding (2004), as the stream alerts sinks send it, naming the rules as the ingest's pack did.
   */
  queryAlerts(q: EventQuery = {}): AlertRecord[] {
    return this.#query('alerts', q).map(({ record, rules }) => {
      const known: RuleInfo[] = rules === null ? [] : (JSON.parse(rules) as RuleInfo[]);
      const finding = toDetectionFinding(record, (id) => known.find((r) => r.id === id) ?? this.#describeRule?.(id));
      return { ...record, finding };
    });
  }

  /** How many events match. */
  countEvents(q: EventQuery = {}): number {
    const where = whereOf(q);
    return (this.db.prepare(`SELECT count(*) AS n FROM events ${where.sql}`).get(...where.params) as { n: number }).n;
  }

  /** How many alerts match. */
  countAlerts(q: EventQuery = {}): number {
    const where = whereOf(q);
    return (this.db.prepare(`SELECT count(*) AS n FROM alerts ${where.sql}`).get(...where.params) as { n: number }).n;
  }

  #query(table: 'events' | 'alerts', q: EventQuery): { record: NormalisedRecord; rules: string | null }[] {
    const where = whereOf(q, 't.');
    const limit = Math.max(0, Math.min(q.limit ?? 100, 1_000_000));
    const sql =
      table === 'events'
        ? `SELECT t.record, t.raw_event, t.source, t.tenant_id, t.cluster_name, t.event_time, t.severity_reason FROM events t ${where.sql} ORDER BY t.event_time DESC, t.id DESC LIMIT ?`
        : 'SELECT CASE WHEN t.event_id IS NULL THEN t.record ELSE e.record END AS record, ' +
          'CASE WHEN t.event_id IS NULL THEN t.raw_event ELSE e.raw_event END AS raw_event, ' +
          'CASE WHEN t.event_id IS NULL THEN t.source ELSE e.source END AS source, t.tenant_id, t.cluster_name, t.event_time, t.severity_reason, t.rules ' +
          `FROM alerts t LEFT JOIN events e ON e.id = t.event_id ${where.sql} ORDER BY t.event_time DESC, t.id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...where.params, limit) as (StoredRecord & { rules?: string | null })[];
    return rows.map((row) => ({ record: readRecord(row), rules: row.rules ?? null }));
  }

  /** Closes the file; safe to call twice. */
  close(): void {
    void this.#committer?.close();
    void this.#checkpointer?.close();
    // The last connection to close checkpoints the WAL into the file and removes it.
    if (this.db.open) this.db.close();
  }

  /** Closes the file and waits for the checkpoint thread to stop. */
  async closeAndWait(): Promise<void> {
    await this.#committer?.close();
    const stopped = this.#checkpointer?.close();
    if (this.db.open) this.db.close();
    await stopped;
  }
}

/** The reason a 503 gives when SQLite found the disk full (SQLITE_FULL). */
const DISK_FULL = 'the disk holding the event store is full';

/** The SQLite result code of a failed write (`SQLITE_FULL`, ...), from this thread or the commit thread. */
function sqliteCode(err: unknown): string | undefined {
  const code = err instanceof CommitError ? err.code : (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** How an EventStore is opened. */
export interface EventStoreOptions {
  /** Checkpoint the WAL from a background thread instead of inside commits (the ingest's writer). */
  backgroundCheckpoints?: boolean;
  /** Share transactions and fsyncs between concurrent batches, committed on a worker thread (the ingest's writer). */
  groupCommit?: boolean;
  /** The running pack's rules by id: each alert row keeps the rules that fired, for its Detection Finding. */
  describeRule?: RuleLookup;
}

/** Opens the embedded store under a data dir (creating it), e.g. to read back what the ingest stored. */
export function openEventStore(dataDir: string, opts: EventStoreOptions = {}): EventStore {
  return new EventStore(dataDir, opts);
}

export type { SqliteSinkMode } from './sqlite-rows.js';

/** The SQLite store as a sink. With `events+alerts`, events and alerts commit in one transaction. */
export class SqliteSink implements RecordSink {
  readonly name = 'sqlite';
  readonly maxRecordBytes = Number.POSITIVE_INFINITY;

  constructor(
    readonly store: EventStore,
    readonly mode: SqliteSinkMode,
  ) {}

  async write(records: readonly OutgoingRecord[], signal?: AbortSignal): Promise<SinkWriteResult> {
    if (records.length === 0) return NOTHING_TO_REPORT;
    try {
      return await this.store.writeBatchDurably(records, this.mode, signal);
    } catch (err) {
      // Not written because the request was given up (its client left, its deadline passed): that reason, as it is.
      if (signal?.aborted && err === signal.reason) throw err;
      const full = sqliteCode(err) === 'SQLITE_FULL';
      throw new SinkUnavailableError(
        this.name,
        full ? `SQLite write failed: ${DISK_FULL}` : `SQLite write failed: ${(err as Error).message}`,
        {
          cause: err,
          ...(full ? { publicReason: DISK_FULL } : {}),
        },
      );
    }
  }

  async close(): Promise<void> {
    await this.store.closeAndWait();
  }
}

/** The SQLite `rejected` table as the rejects sink. */
export class SqliteRejectSink implements RejectSink {
  readonly name = 'sqlite';

  constructor(readonly store: EventStore) {}

  async write(rejects: readonly RejectRecord[]): Promise<void> {
    try {
      this.store.writeRejects(rejects);
    } catch (err) {
      throw new SinkUnavailableError(this.name, `SQLite write of rejects failed: ${(err as Error).message}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    await this.store.closeAndWait();
  }
}
