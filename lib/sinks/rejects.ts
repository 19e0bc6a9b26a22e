import * as crypto from 'node:crypto';
import { redactRejectedItem } from '../audit/index.js';
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
  if (input.item !== undefined) {
    item = JSON.stringify(redactRejectedItem(input.item));
    if (item.length > MAX_REJECT_ITEM_CHARS) {
      item = item.slice(0, MAX_REJECT_ITEM_CHARS);
      truncated = true;
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
 * `tenant_id` and `cluster_name` (partition key, message attributes); a reject gets a key of its
 * own (SHA-256 of tenant, time, index and text), so a retried batch is not merged with another.
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
      const dedup = crypto.createHash('sha256').update(json).digest('hex');
      return {
        record: { tenant_id: r.tenant_id, cluster_name: r.cluster_name, dedup_key: dedup },
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
