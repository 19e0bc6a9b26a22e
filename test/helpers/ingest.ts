import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEvent, NormalisedRecord } from '../../lib/audit/index.js';
import { auditIdSlot, normaliseAuditEvent } from '../../lib/audit/index.js';
import { type IngestConfig, loadIngestConfig } from '../../lib/ingest/config.js';
import { openEventStore } from '../../lib/sinks/sqlite.js';
import {
  fitRecord,
  NOTHING_TO_REPORT,
  type OutgoingRecord,
  type RecordSink,
  SinkUnavailableError,
  type SinkWriteResult,
} from '../../lib/sinks/types.js';
import { allFalcoEvents } from './fixtures.js';

/** The shared secret the ingest tests configure. */
export const SECRET = 'test-shared-secret-0123456789abcdef';
export const PREVIOUS_SECRET = 'previous-shared-secret-fedcba9876543210';

/** A config from an environment, with the test secret unless the test says otherwise. */
export function ingestConfig(env: Record<string, string | undefined> = {}): IngestConfig {
  return loadIngestConfig({ K8S_AUDIT_SHARED_SECRET: SECRET, ...env }, { runtime: 'local' });
}

/** An audit.k8s.io/v1 EventList body. */
export function eventList(items: unknown[]): string {
  return JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items });
}

/** The connector documentation's smoke-test body. */
export const EMPTY_EVENT_LIST = '{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]}';

/**
 * The real Falco fixture events with one event per auditID and stage: the traces hold two pairs
 * of different events that share one (hand-edited copies), which the ingest stores and flags.
 */
export function uniqueFalcoEvents(): AuditEvent[] {
  const seen = new Set<string>();
  return allFalcoEvents().filter((e) => {
    const key = auditIdSlot('t', null, e.auditID, typeof e.stage === 'string' ? e.stage : null);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** A temporary data dir, removed by the returned function. */
export function tempDataDir(prefix = 'aisoc-ingest-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** How many events of `tenant` the SQLite store in `dataDir` holds (opened and closed for the count, as a user's `events` command would). */
export function storedEventCount(dataDir: string, tenant: string): number {
  const store = openEventStore(dataDir);
  try {
    return store.countEvents({ tenant });
  } finally {
    store.close();
  }
}

/** How many times each auditID starting `prefix-` is in the events table of `db` (a store opened on the server's data dir). */
export function storedCounts(
  db: { prepare(sql: string): { all(...params: unknown[]): unknown[] } },
  prefix: string,
): { audit_id: string; n: number }[] {
  return db.prepare('SELECT audit_id, count(*) AS n FROM events WHERE audit_id LIKE ? GROUP BY audit_id').all(`${prefix}-%`) as {
    audit_id: string;
    n: number;
  }[];
}

/** A sink that keeps what it was given, and can be told to fail or to refuse records. */
export class MemorySink implements RecordSink {
  readonly records: NormalisedRecord[] = [];
  readonly calls: number[] = [];
  failWith: Error | null = null;
  refuse: ((r: OutgoingRecord) => string | null) | null = null;
  seen = new Set<string>();

  constructor(
    readonly name = 'memory',
    readonly maxRecordBytes = Number.POSITIVE_INFINITY,
    /** Report records already seen as duplicates (as SQLite does). */
    readonly dedup = true,
  ) {}

  async write(records: readonly OutgoingRecord[]): Promise<SinkWriteResult> {
    this.calls.push(records.length);
    if (this.failWith !== null) throw new SinkUnavailableError(this.name, this.failWith.message, { cause: this.failWith });
    if (records.length === 0) return NOTHING_TO_REPORT;
    const duplicates = new Set<number>();
    const refused = new Map<number, string>();
    records.forEach((r, i) => {
      const reason = this.refuse?.(r) ?? null;
      if (reason !== null) {
        refused.set(i, reason);
        return;
      }
      if (this.dedup && this.seen.has(r.record.dedup_key)) {
        duplicates.add(i);
        return;
      }
      this.seen.add(r.record.dedup_key);
      // As a real sink does: the compact form when the full one is over the limit.
      this.records.push(JSON.parse((fitRecord(r, this.maxRecordBytes) ?? r).json) as NormalisedRecord);
    });
    return { duplicates, refused };
  }

  async close(): Promise<void> {}
}

/** `n` normalised records of real fixture events (distinct auditIDs), ready for a sink. */
export function outgoingRecords(n: number, tenant = 'acme'): OutgoingRecord[] {
  const base = uniqueFalcoEvents();
  return Array.from({ length: n }, (_, i) => {
    const event = { ...(base[i % base.length] as AuditEvent), auditID: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` };
    const record = normaliseAuditEvent(event, { tenantId: tenant, clusterName: 'prod', receivedAt: Date.parse('2024-05-01T12:00:00Z') });
    const json = JSON.stringify(record);
    return { record, json, bytes: Buffer.byteLength(json) };
  });
}

/** A record whose JSON is padded to about `bytes` bytes (with a compact form of `compactBytes`, if given). */
export function paddedRecord(bytes: number, compactBytes?: number): OutgoingRecord {
  const [base] = outgoingRecords(1);
  const r = base as OutgoingRecord;
  const json = JSON.stringify({ ...r.record, padding: 'p'.repeat(Math.max(0, bytes - r.bytes - 14)) });
  const out: OutgoingRecord = { record: r.record, json, bytes: Buffer.byteLength(json) };
  if (compactBytes !== undefined) {
    const cjson = JSON.stringify({ ...r.record, padding: 'c'.repeat(Math.max(0, compactBytes - r.bytes - 14)) });
    out.compact = { record: r.record, json: cjson, bytes: Buffer.byteLength(cjson) };
  }
  return out;
}

export { runCli } from './cli.js';

/** The JSON body of an ingest answer (200 counts, or an error). */
export interface IngestAnswer {
  accepted: number;
  rejected: number;
  duplicates: number;
  reusedAuditIds?: number;
  errors: { index: number; auditID: string | null; reason: string }[];
  errorsOmitted?: number;
  error?: string;
  status?: string;
}

/** Reads an ingest response body as JSON. */
export async function answer(res: Response): Promise<IngestAnswer> {
  return (await res.json()) as IngestAnswer;
}

/**
 * Two different events a client made share one auditID and stage (kube-apiserver takes auditID
 * from the client's Audit-ID header): a `list pods` as the Kubernetes audit documentation shows
 * it, then the real Falco trace's `create clusterrolebindings`, renamed `pwn`.
 */
export function reusedAuditIdPair(auditID = 'a1b2c3d4-0000-4000-8000-000000000001'): [AuditEvent, AuditEvent] {
  const list: AuditEvent = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID,
    stage: 'ResponseComplete',
    requestURI: '/api/v1/namespaces/default/pods?limit=500',
    verb: 'list',
    user: { username: 'mallory', groups: ['system:authenticated'] },
    sourceIPs: ['10.0.0.7'],
    userAgent: 'kubectl/v1.29.0 (linux/amd64) kubernetes/3f7a50f',
    objectRef: { resource: 'pods', namespace: 'default', apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: '2024-05-01T11:59:58.000000Z',
    stageTimestamp: '2024-05-01T11:59:58.010000Z',
    annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
  };
  const falco = allFalcoEvents().find((e) => e.verb === 'create' && e.objectRef?.resource === 'clusterrolebindings') as AuditEvent;
  const binding: AuditEvent = { ...falco, auditID, stage: 'ResponseComplete', objectRef: { ...falco.objectRef, name: 'pwn' } };
  return [list, binding];
}

/** The same event as other JSON text: keys in reverse order at every level, and spaces. */
export function reserialised(value: unknown): string {
  const reorder = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(reorder);
    if (typeof v !== 'object' || v === null) return v;
    return Object.fromEntries(
      Object.keys(v)
        .reverse()
        .map((k) => [k, reorder((v as Record<string, unknown>)[k])]),
    );
  };
  return JSON.stringify(reorder(value), null, 1).replace(/\n/g, ' ');
}

/** The head of a POST to acme's ingest route declaring `length` body bytes, the body left to the caller. */
export function ingestRequestHead(length: number): string {
  return `POST /v1/ingest/k8s-audit/acme HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-AiSOC-K8s-Token: ${SECRET}\r\nContent-Length: ${length}\r\n\r\n`;
}

/** A request whose head (declaring `length` body bytes) is sent now and whose body is sent when told. */
export interface HeldRequest {
  socket: Socket;
  /** Everything the server has written back so far. */
  received: () => string;
  /** Resolves once the server has written anything back. */
  answered: Promise<void>;
  sendBody: (body: Buffer | string) => void;
}

/**
 * Sends a request head to the server on `port` and holds the body back, so the request holds an
 * admission slot until `sendBody`: how a test puts the server past its bound however fast the
 * machine is.
 */
export function holdRequest(port: number, length: number): Promise<HeldRequest> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let onAnswer: () => void = () => {};
    const answered = new Promise<void>((r) => {
      onAnswer = r;
    });
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      onAnswer();
    });
    socket.on('error', () => {});
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.write(ingestRequestHead(length));
      resolve({ socket, received: () => text, answered, sendBody: (b) => socket.write(b) });
    });
  });
}
