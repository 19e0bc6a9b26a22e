import { AKS_AUDIT_CATEGORIES } from '../audit/aks.js';
import { AKS_AUDIT_TABLES, isLogAnalyticsRow } from '../audit/aks-table.js';
import {
  DEFAULT_BACKOFF_BASE_MS,
  DEFAULT_BACKOFF_CAP_MS,
  DEFAULT_INGEST_MAX_BATCH_SIZE,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_SHIP_MAX_BODY_BYTES,
} from '../config/defaults.js';
import type { ShipTls } from '../config/tls.js';
import { isJsonObject } from '../json.js';
import { firstHalf, tooLargeStep } from '../ship/pack.js';
import { type PostOutcome, postEventList } from '../ship/post.js';

/**
 * The AKS forwarder's work, free of Azure Functions: the Event Hubs messages of one invocation
 * (each an Azure diagnostic-settings body, `{"records":[...]}`) in, the audit records re-packed
 * into records bodies of at most 3 MiB and 5,000 records and POSTed to the ingest's EKS-style route with the shared
 * secret out. The ingest reads the cluster and subscription from each record's `resourceId`.
 */

/** Attempts per body inside one invocation; after that the invocation fails and the Functions retry policy runs it again. */
export const DEFAULT_AKS_MAX_ATTEMPTS = 4;
const MAX_RETRY_AFTER_MS = 30_000;

/** Where and how the forwarder POSTs. */
export interface AksForwardOptions {
  /** The full ingest route, https://<host>/v1/ingest/k8s-audit/<tenant_id>. */
  url: string;
  /** The shared secret, sent as X-AiSOC-K8s-Token; never logged. */
  token: string;
  /** A private CA, a client certificate, plain http allowed (lib/ship's defaults when absent). */
  tls?: ShipTls | null;
  maxBodyBytes?: number;
  /** Records per body at most: the ingest's K8S_AUDIT_MAX_BATCH_SIZE (default 5,000). */
  maxRecords?: number;
  maxAttempts?: number;
  requestTimeoutMs?: number;
  fetch?: typeof fetch;
  log?: (entry: Record<string, unknown>) => void;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** What one invocation did. */
export interface AksForwardReport {
  messages: number;
  /** Audit records sent and taken by the ingest (its `accepted` + `duplicates`). */
  records: number;
  accepted: number;
  duplicates: number;
  /** Records the ingest listed as rejected (a broken event: sending again cannot help). */
  rejected: number;
  /** Records of other categories, not sent. */
  skipped: number;
  /** Records the ingest refused as too large even alone (413), passed over and logged. */
  oversize: number;
  /** Messages that were no diagnostic-settings body, not sent. */
  unreadable: number;
  bodies: number;
  /** Why the invocation must be retried, when it must (the ingest could not take a body). */
  failure: string | null;
}

/** An Event Hubs message as the Functions host gives it: a string, bytes, or JSON it already parsed. */
function messageRecords(message: unknown): unknown[] | null {
  let doc = message;
  if (typeof doc === 'string' || Buffer.isBuffer(doc) || doc instanceof Uint8Array) {
    try {
      doc = JSON.parse(Buffer.isBuffer(doc) || doc instanceof Uint8Array ? Buffer.from(doc).toString('utf8') : doc);
    } catch {
      return null;
    }
  }
  if (!isJsonObject(doc) || !Array.isArray(doc.records)) return null;
  return (doc as { records: unknown[] }).records;
}

function isAuditRecord(record: unknown): boolean {
  const category = typeof record === 'object' && record !== null ? (record as { category?: unknown }).category : undefined;
  if (typeof category === 'string') return AKS_AUDIT_CATEGORIES.has(category);
  // A Log Analytics data export to the same hub sends AKSAudit / AKSAuditAdmin rows (docs/aks.md):
  // kept whole for the ingest, which reads them and counts the rows of other tables as skipped.
  if (!isLogAnalyticsRow(record)) return false;
  const table = (record as { Type?: unknown }).Type;
  return typeof table !== 'string' || AKS_AUDIT_TABLES.has(table);
}

const BODY_PREFIX = '{"records":[';
const BODY_SUFFIX = ']}';

/** A records body of these records. */
function recordsBody(records: readonly string[]): string {
  return `${BODY_PREFIX}${records.join(',')}${BODY_SUFFIX}`;
}

/**
 * The records grouped into bodies of at most `maxBytes` and `maxRecords` each (the ingest's body
 * cap and its batch size cap, K8S_AUDIT_MAX_BATCH_SIZE: a body over either is refused 413 whole).
 * A record over `maxBytes` alone goes in a body of its own: the ingest says what it thinks.
 */
export function packRecords(records: readonly string[], maxBytes: number, maxRecords = DEFAULT_INGEST_MAX_BATCH_SIZE): string[][] {
  const groups: string[][] = [];
  let current: string[] = [];
  let bytes = BODY_PREFIX.length + BODY_SUFFIX.length;
  for (const record of records) {
    const size = Buffer.byteLength(record, 'utf8') + 1;
    if (current.length > 0 && (bytes + size > maxBytes || current.length >= maxRecords)) {
      groups.push(current);
      current = [];
      bytes = BODY_PREFIX.length + BODY_SUFFIX.length;
    }
    current.push(record);
    bytes += size;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

function retryable(outcome: PostOutcome): boolean {
  if (outcome.kind === 'network') return true;
  if (outcome.kind === 'unsendable') return false;
  return outcome.status === 408 || outcome.status === 429 || outcome.status >= 500;
}

function describe(outcome: PostOutcome, token: string): string {
  const text =
    outcome.kind === 'answer'
      ? `HTTP ${outcome.status}: ${outcome.text.slice(0, 300)}`
      : outcome.kind === 'network'
        ? `${outcome.code}: ${outcome.message}`
        : outcome.message;
  return token === '' ? text : text.split(token).join('<redacted>');
}

function counts(text: string): { accepted: number; duplicates: number; rejected: number } {
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
    return { accepted: n(body.accepted), duplicates: n(body.duplicates), rejected: n(body.rejected) };
  } catch {
    return { accepted: 0, duplicates: 0, rejected: 0 };
  }
}

/**
 * Forwards one invocation's messages. Resolves with a report; `failure` is set when a body could
 * not be delivered (the caller throws, so the Functions retry policy runs the batch again: the
 * ingest drops what it already has). Never throws.
 */
export async function forwardAksMessages(messages: readonly unknown[], opts: AksForwardOptions): Promise<AksForwardReport> {
  const log = opts.log ?? (() => {});
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = opts.random ?? Math.random;
  const maxAttempts = Math.max(1, opts.maxAttempts ?? DEFAULT_AKS_MAX_ATTEMPTS);
  const report: AksForwardReport = {
    messages: messages.length,
    records: 0,
    accepted: 0,
    duplicates: 0,
    rejected: 0,
    skipped: 0,
    oversize: 0,
    unreadable: 0,
    bodies: 0,
    failure: null,
  };
  const audit: string[] = [];
  for (const message of messages) {
    const records = messageRecords(message);
    if (records === null) {
      report.unreadable++;
      continue;
    }
    for (const record of records) {
      // Only the audit categories go out: a diagnostic setting often routes kube-apiserver,
      // autoscaler and other klog text to the same hub (Falco k8saudit-aks, issue #1145).
      if (isAuditRecord(record)) audit.push(JSON.stringify(record));
      else report.skipped++;
    }
  }
  if (report.unreadable > 0)
    log({ level: 'warn', msg: 'messages that are not diagnostic-settings bodies were not sent', count: report.unreadable });

  /**
   * Sends one group of records; false when the invocation must stop there and be retried. A 413
   * (the ingest's caps may be lower than ours) splits the group in halves until it fits, as the
   * EKS forwarder does; a record refused alone is passed over, logged: sending it again can never
   * help, and failing the invocation would retry it forever (Functions' retry policy has no limit)
   * while the hub's retention runs out for every record behind it.
   */
  const deliver = async (records: string[]): Promise<boolean> => {
    const body = recordsBody(records);
    report.bodies++;
    let outcome: PostOutcome | null = null;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      outcome = await postEventList(body, {
        url: opts.url,
        token: opts.token,
        tls: opts.tls ?? null,
        gzip: false,
        timeoutMs: opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
        ...(opts.fetch ? { fetch: opts.fetch } : {}),
      });
      if (!retryable(outcome) || attempt === maxAttempts) break;
      const backoff = random() * Math.min(DEFAULT_BACKOFF_CAP_MS, DEFAULT_BACKOFF_BASE_MS * 2 ** (attempt - 1));
      const asked = outcome.kind === 'answer' ? outcome.retryAfterMs : null;
      await sleep(asked === null ? backoff : Math.min(asked, MAX_RETRY_AFTER_MS));
    }
    if (outcome?.kind === 'answer' && outcome.status >= 200 && outcome.status < 300) {
      const c = counts(outcome.text);
      report.accepted += c.accepted;
      report.duplicates += c.duplicates;
      report.rejected += c.rejected;
      report.records += c.accepted + c.duplicates;
      if (c.rejected > 0)
        log({ level: 'warn', msg: 'the ingest rejected records', count: c.rejected, answer: outcome.text.slice(0, 2000) });
      return true;
    }
    if (outcome?.kind === 'answer' && outcome.status === 413) {
      const bytes = Buffer.byteLength(body, 'utf8');
      const step = tooLargeStep(records.length, bytes);
      if (step === 'halve') {
        const half = firstHalf(records.length);
        log({ level: 'warn', msg: 'the ingest answered 413, splitting the body', records: records.length });
        return (await deliver(records.slice(0, half))) && deliver(records.slice(half));
      }
      // A front limit keeps the batch, as any other failure below.
      if (step === 'oversize') {
        report.oversize++;
        log({
          level: 'error',
          msg: 'a record too large for the ingest was passed over',
          bytes,
          answer: describe(outcome, opts.token),
        });
        return true;
      }
    }
    // Anything else keeps the batch: a wrong secret or URL is fixed by the operator, and the
    // retried invocation then delivers; nothing is dropped here.
    report.failure = describe(outcome as PostOutcome, opts.token);
    return false;
  };
  for (const records of packRecords(audit, opts.maxBodyBytes ?? DEFAULT_SHIP_MAX_BODY_BYTES, opts.maxRecords)) {
    if (!(await deliver(records))) break;
  }
  return report;
}
