import type { AuditSource, NormalisedRecord } from '../audit/index.js';

/**
 * What a stream sink reads of what it carries besides the JSON: the tenant and cluster it belongs
 * to and its dedup key (a Kinesis partition key, an SQS FIFO group and deduplication id).
 */
export type RecordKey = Pick<NormalisedRecord, 'tenant_id' | 'cluster_name' | 'dedup_key'>;

/** One serialised form of something a stream sink carries (a record, or a reject record): its key, its JSON text and UTF-8 size. */
export interface KeyedPayload {
  record: RecordKey;
  json: string;
  bytes: number;
}

/** A keyed payload on its way to a stream sink, with the compact form of a record when it has one. */
export interface KeyedOutgoing extends KeyedPayload {
  compact?: KeyedPayload;
}

/** One serialised form of a record: the JSON text a sink stores or sends, and its UTF-8 size. */
export interface RecordPayload extends KeyedPayload {
  record: NormalisedRecord;
}

/**
 * A record on its way to the sinks. `compact`, when present, is the same record without the
 * request and response bodies (as the apiserver's own truncate backend does): a sink whose
 * per-record limit the full form exceeds sends that instead.
 */
export interface OutgoingRecord extends RecordPayload {
  compact?: RecordPayload;
  /**
   * What the record was normalised from, when normalising that again gives the record back (the
   * ingest's records). A store may keep only this, 40 % of the record's JSON, and derive the rest
   * when it is read; `json` is then never needed (the ingest computes it lazily).
   */
  readonly origin?: RecordOrigin;
}

/** An event's text and the source the normaliser was given; tenant, cluster and receive time are the record's own. */
export interface RecordOrigin {
  /** The JSON text of `record.raw_event`. */
  rawEventJson: string;
  source: AuditSource | null;
}

/** What a sink reports back, by position in the array it was given. */
export interface SinkWriteResult {
  /** Records the sink already held (same dedup key: the same event, resent). */
  duplicates: ReadonlySet<number>;
  /**
   * Records the sink stored flagged `reused-audit-id`: another event with other content was
   * already stored in their auditID and stage (only a store that keeps events can tell).
   */
  reused?: ReadonlySet<number>;
  /** Records the sink refused for good (too large even in compact form, malformed), with the reason. */
  refused: ReadonlyMap<number, string>;
}

/** Where normalised records go. A write either stores every record it reports as stored, or throws. */
export interface RecordSink {
  /** `sqlite`, `stdout`, `kinesis:<stream>`, ...: for log lines. */
  readonly name: string;
  /** Largest record the sink accepts, in bytes (`Infinity` when it has no limit). */
  readonly maxRecordBytes: number;
  /**
   * Stores or sends the records; throws `SinkUnavailableError` when that failed after retries. A
   * sink that queues may skip records whose `signal` aborted while they waited, throwing its reason.
   */
  write(records: readonly OutgoingRecord[], signal?: AbortSignal): Promise<SinkWriteResult>;
  /** Releases connections and files. */
  close(): Promise<void>;
}

/**
 * A sink that reads only the key and the JSON of what it carries: stdout and the AWS stream
 * sinks. Any normalised record is one (so it is a `RecordSink`), and so is a reject record.
 */
export interface KeyedSink extends Omit<RecordSink, 'write'> {
  write(records: readonly KeyedOutgoing[], signal?: AbortSignal): Promise<SinkWriteResult>;
}

/** A sink could not take the records after its retries; the request answers 503 so the sender retries. */
export class SinkUnavailableError extends Error {
  override name = 'SinkUnavailableError';
  constructor(
    readonly sink: string,
    message: string,
    options?: { cause?: unknown; publicReason?: string },
  ) {
    super(message, options);
    this.publicReason = options?.publicReason;
  }
  /** A reason safe to show the sender (no names, no internals), when the sink knows one: "the disk … is full". */
  readonly publicReason: string | undefined;
}

/** An empty result: nothing duplicate, nothing refused. */
export const NOTHING_TO_REPORT: SinkWriteResult = Object.freeze({ duplicates: new Set<number>(), refused: new Map<number, string>() });

/** Picks the form of a record that fits `limit` bytes: full, else compact, else `null`. */
export function fitRecord<P extends KeyedPayload>(record: P & { compact?: P }, limit: number): P | null {
  if (record.bytes <= limit) return record;
  if (record.compact !== undefined && record.compact.bytes <= limit) return record.compact;
  return null;
}
