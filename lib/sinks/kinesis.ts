import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { type BatchEntry, type ItemOutcome, orderedOutcomes, type RetryOptions, sendInBatches } from './batching.js';
import type { KeyedOutgoing, KeyedSink, SinkWriteResult } from './types.js';

// Kinesis Data Streams quotas (PutRecords API reference): at most 500 records and 5 MiB per call,
// and 1 MiB per record counting the data blob and the partition key together.
const MAX_RECORDS_PER_CALL = 500;
const MAX_BYTES_PER_CALL = 5 * 1024 * 1024;
const MAX_RECORD_BYTES = 1024 * 1024;
// The partition key is the record's dedup key: 64 hex characters.
const PARTITION_KEY_BYTES = 64;

/** Options of the Kinesis sink; `client` is injectable for local servers and tests. */
export interface KinesisSinkOptions extends RetryOptions {
  stream: string;
  client?: KinesisClient;
}

/**
 * Sends records to a Kinesis data stream with PutRecords, partitioned by dedup key so resends of
 * one event land on one shard. Only the records a partial failure names are sent again.
 */
export class KinesisSink implements KeyedSink {
  readonly name: string;
  readonly maxRecordBytes = MAX_RECORD_BYTES - PARTITION_KEY_BYTES;
  readonly #client: KinesisClient;
  // A client passed in belongs to the caller, who may share it: only a client made here is destroyed.
  readonly #ownsClient: boolean;

  constructor(readonly opts: KinesisSinkOptions) {
    this.name = `kinesis:${opts.stream}`;
    // HTTP/1.1: the Kinesis client defaults to HTTP/2, which only SubscribeToShard needs; local
    // and test endpoints (kinesalite, moto) and many proxies speak HTTP/1.1 only, where PutRecords
    // over HTTP/2 fails with a protocol error.
    this.#client = opts.client ?? new KinesisClient({ requestHandler: new NodeHttpHandler() });
    this.#ownsClient = opts.client === undefined;
  }

  write(records: readonly KeyedOutgoing[]): Promise<SinkWriteResult> {
    const limits = {
      maxRecordBytes: this.maxRecordBytes,
      maxEntriesPerCall: MAX_RECORDS_PER_CALL,
      maxBytesPerCall: MAX_BYTES_PER_CALL,
      entryOverheadBytes: PARTITION_KEY_BYTES,
      limitName: 'over the Kinesis 1 MiB record limit',
    };
    return sendInBatches(this.name, records, limits, (entries) => this.#put(entries), this.opts);
  }

  async #put(items: readonly BatchEntry[]): Promise<ItemOutcome[]> {
    const out = await this.#client.send(
      new PutRecordsCommand({
        StreamName: this.opts.stream,
        Records: items.map((e) => ({ Data: Buffer.from(e.payload.json, 'utf8'), PartitionKey: e.record.record.dedup_key })),
      }),
    );
    return orderedOutcomes(items.length, out.Records ?? []);
  }

  async close(): Promise<void> {
    if (this.#ownsClient) this.#client.destroy();
  }
}
