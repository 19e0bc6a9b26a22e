import { FirehoseClient, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { type BatchEntry, type ItemOutcome, orderedOutcomes, type RetryOptions, sendInBatches } from './batching.js';
import type { KeyedOutgoing, KeyedSink, SinkWriteResult } from './types.js';

// Amazon Data Firehose quotas (PutRecordBatch API reference): at most 500 records and 4 MiB per
// call, and 1,000 KiB per record (before base64).
const MAX_RECORDS_PER_CALL = 500;
const MAX_BYTES_PER_CALL = 4 * 1024 * 1024;
const MAX_RECORD_BYTES = 1000 * 1024;

/** Options of the Firehose sink; `client` is injectable for tests. */
export interface FirehoseSinkOptions extends RetryOptions {
  stream: string;
  client?: FirehoseClient;
}

/**
 * Sends records to a Firehose delivery stream with PutRecordBatch, one JSON line per record (so
 * the S3 objects Firehose writes are NDJSON). Only the records a partial failure names are resent.
 */
export class FirehoseSink implements KeyedSink {
  readonly name: string;
  // One byte per record goes to the newline that separates records in the delivered objects.
  readonly maxRecordBytes = MAX_RECORD_BYTES - 1;
  readonly #client: FirehoseClient;
  // A client passed in belongs to the caller, who may share it: only a client made here is destroyed.
  readonly #ownsClient: boolean;

  constructor(readonly opts: FirehoseSinkOptions) {
    this.name = `firehose:${opts.stream}`;
    this.#client = opts.client ?? new FirehoseClient({});
    this.#ownsClient = opts.client === undefined;
  }

  write(records: readonly KeyedOutgoing[]): Promise<SinkWriteResult> {
    const limits = {
      maxRecordBytes: this.maxRecordBytes,
      maxEntriesPerCall: MAX_RECORDS_PER_CALL,
      maxBytesPerCall: MAX_BYTES_PER_CALL,
      // Each record is sent with a newline after it.
      entryOverheadBytes: 1,
      limitName: 'over the Firehose 1,000 KiB record limit',
    };
    return sendInBatches(this.name, records, limits, (entries) => this.#put(entries), this.opts);
  }

  async #put(items: readonly BatchEntry[]): Promise<ItemOutcome[]> {
    const out = await this.#client.send(
      new PutRecordBatchCommand({
        DeliveryStreamName: this.opts.stream,
        Records: items.map((e) => ({ Data: Buffer.from(`${e.payload.json}\n`, 'utf8') })),
      }),
    );
    return orderedOutcomes(items.length, out.RequestResponses ?? []);
  }

  async close(): Promise<void> {
    if (this.#ownsClient) this.#client.destroy();
  }
}
