import { fitRecord, type KeyedOutgoing, type KeyedPayload, SinkUnavailableError, type SinkWriteResult } from './types.js';

/** Splits items into groups of at most `maxCount` items and `maxBytes` bytes (an item over `maxBytes` goes alone). */
export function chunkBy<T>(items: readonly T[], maxCount: number, maxBytes: number, sizeOf: (item: T) => number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length > 0 && (current.length >= maxCount || bytes + size > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** How a sink retries what failed. */
export interface RetryOptions {
  /** Tries in all, the first included. */
  maxAttempts: number;
  /** First backoff; doubles per try with full jitter, capped at 2 s so retries fit the apiserver's 30 s timeout. */
  baseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** What one call reports per item: `null` when taken, an error code worth retrying, or a permanent refusal. */
export type ItemOutcome = null | string | { permanent: string };

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether an AWS SDK error is worth another try (throttling, 5xx, network), after the SDK's own retries. */
export function isRetryableError(err: unknown): boolean {
  const e = err as { $retryable?: unknown; $fault?: string; name?: string; code?: string };
  if (e.$retryable) return true;
  if (e.$fault === 'server') return true;
  const name = e.name ?? '';
  if (/Throttl|ProvisionedThroughputExceeded|ServiceUnavailable|InternalFailure|TimeoutError|RequestTimeout/.test(name)) return true;
  return ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN'].includes(e.code ?? '');
}

/**
 * Sends items, then only the ones that failed, until all are taken or `maxAttempts` is used up
 * (Kinesis PutRecords, Firehose PutRecordBatch, SQS and EventBridge batch calls can each succeed
 * partially; resending the whole batch would duplicate what already went). A thrown error that
 * is not retryable ends the tries at once. Throws `SinkUnavailableError` naming what is left;
 * returns the items refused for good (a message SQS or EventBridge will never take), with why.
 */
export async function sendWithRetry<T>(
  sink: string,
  items: readonly T[],
  send: (items: readonly T[]) => Promise<ItemOutcome[]>,
  opts: RetryOptions,
): Promise<Map<T, string>> {
  const refused = new Map<T, string>();
  const sleep = opts.sleep ?? defaultSleep;
  const base = opts.baseDelayMs ?? 100;
  let pending = [...items];
  let lastError = '';
  for (let attempt = 1; pending.length > 0; attempt++) {
    if (attempt > 1) await sleep(Math.random() * Math.min(2000, base * 2 ** (attempt - 2)));
    let outcomes: ItemOutcome[];
    try {
      outcomes = await send(pending);
    } catch (err) {
      lastError = `${(err as Error).name}: ${(err as Error).message}`;
      if (!isRetryableError(err) || attempt >= opts.maxAttempts) {
        throw new SinkUnavailableError(
          sink,
          `${sink}: ${pending.length} record(s) not delivered after ${attempt} attempt(s): ${lastError}`,
          {
            cause: err,
          },
        );
      }
      continue;
    }
    const failed: T[] = [];
    pending.forEach((item, i) => {
      const outcome = outcomes[i];
      if (outcome === null) return;
      if (typeof outcome === 'object') {
        refused.set(item, outcome.permanent);
        return;
      }
      failed.push(item);
      lastError = outcome ?? 'no result for the record';
    });
    pending = failed;
    if (pending.length > 0 && attempt >= opts.maxAttempts) {
      throw new SinkUnavailableError(sink, `${sink}: ${pending.length} record(s) not delivered after ${attempt} attempt(s): ${lastError}`);
    }
  }
  return refused;
}

/** One entry of an AWS batch answer that lists a result per request entry, in order. */
export interface OrderedResult {
  ErrorCode?: string | undefined;
  ErrorMessage?: string | undefined;
}

/**
 * The outcome of each of `count` entries from an answer that lists results in request order
 * (Kinesis PutRecords, Firehose PutRecordBatch, EventBridge PutEvents): `null` when stored, else
 * the reason, made permanent when `isPermanent` says a resend would fail the same way.
 */
export function orderedOutcomes(
  count: number,
  results: readonly OrderedResult[],
  isPermanent: (code: string) => boolean = () => false,
): ItemOutcome[] {
  const out: ItemOutcome[] = [];
  for (let i = 0; i < count; i++) {
    const r = results[i];
    if (r === undefined) out.push('missing result');
    else if (!r.ErrorCode) out.push(null);
    else {
      const reason = `${r.ErrorCode}${r.ErrorMessage ? `: ${r.ErrorMessage}` : ''}`;
      out.push(isPermanent(r.ErrorCode) ? { permanent: reason } : reason);
    }
  }
  return out;
}

/** A record a batching sink sends: its position in the write, the form that fits, and the record. */
export interface BatchEntry {
  index: number;
  payload: KeyedPayload;
  record: KeyedOutgoing;
}

/** The quotas of one AWS batch call, and how the sink names its record limit in a refusal. */
export interface BatchLimits {
  /** Largest record the sink takes (`RecordSink.maxRecordBytes`). */
  maxRecordBytes: number;
  maxEntriesPerCall: number;
  maxBytesPerCall: number;
  /** Bytes an entry costs on top of its record's (a partition key, a newline, the envelope). */
  entryOverheadBytes: number;
  /** Ends the refusal of a record too large even in compact form: `over the Kinesis 1 MiB record limit`. */
  limitName: string;
}

/**
 * What every AWS sink does with a write: each record in the form that fits the sink's record
 * limit (full, else compact, else refused with its size), the rest cut into calls within the
 * per-call quotas, each call sent with `sendWithRetry`. Returns the refusals by position.
 */
export async function sendInBatches(
  sink: string,
  records: readonly KeyedOutgoing[],
  limits: BatchLimits,
  send: (entries: readonly BatchEntry[]) => Promise<ItemOutcome[]>,
  opts: RetryOptions,
): Promise<SinkWriteResult> {
  const refused = new Map<number, string>();
  const entries: BatchEntry[] = [];
  records.forEach((record, index) => {
    const payload = fitRecord(record, limits.maxRecordBytes);
    if (payload === null) refused.set(index, `record is ${record.compact?.bytes ?? record.bytes} bytes, ${limits.limitName}`);
    else entries.push({ index, payload, record });
  });
  const size = (e: BatchEntry) => e.payload.bytes + limits.entryOverheadBytes;
  for (const chunk of chunkBy(entries, limits.maxEntriesPerCall, limits.maxBytesPerCall, size)) {
    const failed = await sendWithRetry(sink, chunk, send, opts);
    for (const [entry, reason] of failed) refused.set(entry.index, reason);
  }
  return { duplicates: new Set(), refused };
}
