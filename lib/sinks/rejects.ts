import { canonicalJson, redactRejectedItem, sha256Hex } from '../audit/index.js';
import type { KeyedOutgoing, KeyedSink } from './types.js';

/** How much of a rejected item's (redacted) JSON is kept: enough to read and fix it, bounded per item. */
export const MAX_REJECT_ITEM_CHARS = 64 * 1024;

/** One item the ingest rejected, as the rejects sink keeps it. */
export interface RejectRecord {
  kind: 'k8s_audit_reject';
  tenant_id: string;
  cluster_name: string | null;
  /** When the ingest rejected it (ISO 8601). */
  rejected_at: string;
  /** Position of the item in its batch. */
  index: number;
  audit_id: string | null;
  reason: string;
  /** The item's JSON with every credential redacted, cut to MAX_REJECT_ITEM_CHARS; null when there was no item to keep. */
  item: string | null;
  item_truncated: boolean;
  /**
   * The reject's identity (`rejectKey`): equal for every resend of the same item rejected for the
   * same reason, whatever its position in the batch or when it came. The SQLite store keeps one
   * row a key; a consumer of a stream or queue of rejects deduplicates on it.
   */
  dedup_key: string;
}

/**
 * The identity of a rejected item, as an event's is (lib/audit/identity.ts): a sender resends a
 * batch whole (the apiserver's webhook retrying, the forwarder retrying, `backfill` or `redrive`
 * replaying), so its rejected items come again, at the same or another position and time. One
 * rejected item is (tenant, cluster, auditID, reason, kept text): the text is the redacted item in
 * canonical JSON (a resend re-serialised with another key order or spacing is the same item),
 * or, when it was cut to the bound, the kept cut text. Hashed after redaction, so the key cannot
 * be used to guess a redacted value. `text` null: there was no item to keep.
 */
export function rejectKey(
  tenant: string,
  cluster: string | null,
  auditID: string | null,
  reason: string,
  text: { canonical: string } | { cut: string } | null,
): string {
  const kept = text === null ? null : 'canonical' in text ? ['whole', text.canonical] : ['cut', text.cut];
  // A JSON array: no choice of separator, and a null auditID or cluster stays apart from "".
  return sha256Hex(JSON.stringify(['k8s_audit_reject', tenant, cluster, auditID, reason, kept]));
}

/**
 * The key of a reject as stored (its redacted text, cut or whole): the key `toRejectRecord` gave
 * it. Read by the store's migration, which keys the rows written before rejects had keys.
 */
export function storedRejectKey(
  r: Pick<RejectRecord, 'tenant_id' | 'cluster_name' | 'audit_id' | 'reason' | 'item' | 'item_truncated'>,
): string {
  let text: Parameters<typeof rejectKey>[4] = null;
  if (r.item !== null) {
    text = { cut: r.item };
    if (!r.item_truncated) {
      try {
        text = { canonical: canonicalJson(JSON.parse(r.item)) };
      } catch {
        // Not JSON (no version wrote such a row): the text itself is what is kept.
      }
    }
  }
  return rejectKey(r.tenant_id, r.cluster_name, r.audit_id, r.reason, text);
}

/** What the ingest knows of a rejected item. */
export interface RejectInput {
  index: number;
  auditID: string | null;
  reason: string;
  item?: unknown;
}

/** The record kept for a rejected item: its reason, and its redacted text cut to a bound. */
export function toRejectRecord(input: RejectInput, tenant: string, cluster: string | null, at: number): RejectRecord {
  let item: string | null = null;
  let truncated = false;
  let text: Parameters<typeof rejectKey>[4] = null;
  if (input.item !== undefined) {
    const redacted = redactRejectedItem(input.item);
    item = JSON.stringify(redacted);
    if (item.length > MAX_REJECT_ITEM_CHARS) {
      item = item.slice(0, MAX_REJECT_ITEM_CHARS);
      truncated = true;
      text = { cut: item };
    } else {
      text = { canonical: canonicalJson(redacted) };
    }
  }
  return {
    kind: 'k8s_audit_reject',
    tenant_id: tenant,
    cluster_name: cluster,
    rejected_at: new Date(at).toISOString(),
    index: input.index,
    audit_id: input.auditID,
    reason: input.reason,
    item,
    item_truncated: truncated,
    dedup_key: rejectKey(tenant, cluster, input.auditID, input.reason, text),
  };
}

/** Where rejected items are kept: the SQLite `rejected` table locally, a stream or queue in AWS. */
export interface RejectSink {
  readonly name: string;
  /** Keeps every reject or throws (the request then answers 503, so nothing is acknowledged unkept). */
  write(rejects: readonly RejectRecord[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * A rejects sink over one of the record sinks (stdout, Kinesis, Firehose, SQS, EventBridge): the
 * same batching, retries and limits. Those sinks read a record's JSON, and its `dedup_key`,
 * `tenant_id` and `cluster_name` (partition key, message attributes); a reject's is its identity
 * (`rejectKey`), so a resent batch's rejects carry the keys they had the first time: a FIFO queue
 * drops them as duplicates within its deduplication interval, a consumer on any stream by the key.
 */
export class StreamRejectSink implements RejectSink {
  constructor(readonly sink: KeyedSink) {}

  get name(): string {
    return this.sink.name;
  }

  async write(rejects: readonly RejectRecord[]): Promise<void> {
    if (rejects.length === 0) return;
    const out = rejects.map((r): KeyedOutgoing => {
      const json = JSON.stringify(r);
      return {
        record: { tenant_id: r.tenant_id, cluster_name: r.cluster_name, dedup_key: r.dedup_key },
        json,
        bytes: Buffer.byteLength(json, 'utf8'),
      };
    });
    const result = await this.sink.write(out);
    if (result.refused.size > 0) {
      const [, reason] = [...result.refused][0] as [number, string];
      throw new Error(`the rejects sink ${this.sink.name} refused ${result.refused.size} reject(s): ${reason}`);
    }
  }

  close(): Promise<void> {
    return this.sink.close();
  }
}
