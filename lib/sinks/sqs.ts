import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { type BatchEntry, type ItemOutcome, type RetryOptions, sendInBatches } from './batching.js';
import type { KeyedOutgoing, KeyedSink, SinkWriteResult } from './types.js';

// Amazon SQS quotas (SendMessageBatch API reference): at most 10 messages per call, and 256 KiB
// for the whole batch, which also caps one message. Queues may allow more today; 256 KiB works
// with every queue.
const MAX_MESSAGES_PER_CALL = 10;
const MAX_BYTES_PER_CALL = 256 * 1024;

/** Options of the SQS alerts sink; `client` is injectable for tests. */
export interface SqsSinkOptions extends RetryOptions {
  queueUrl: string;
  client?: SQSClient;
}

/**
 * Sends alert records to an SQS queue with SendMessageBatch. On a FIFO queue the dedup key is the
 * MessageDeduplicationId, so a resent batch within SQS's 5-minute window is not queued twice.
 */
export class SqsSink implements KeyedSink {
  readonly name: string;
  readonly maxRecordBytes = MAX_BYTES_PER_CALL;
  readonly #client: SQSClient;
  // A client passed in belongs to the caller, who may share it: only a client made here is destroyed.
  readonly #ownsClient: boolean;
  readonly #fifo: boolean;

  constructor(readonly opts: SqsSinkOptions) {
    this.name = `sqs:${opts.queueUrl}`;
    this.#client = opts.client ?? new SQSClient({});
    this.#ownsClient = opts.client === undefined;
    this.#fifo = opts.queueUrl.endsWith('.fifo');
  }

  write(records: readonly KeyedOutgoing[]): Promise<SinkWriteResult> {
    const limits = {
      maxRecordBytes: this.maxRecordBytes,
      maxEntriesPerCall: MAX_MESSAGES_PER_CALL,
      maxBytesPerCall: MAX_BYTES_PER_CALL,
      entryOverheadBytes: 0,
      limitName: 'over the SQS 256 KiB message limit',
    };
    return sendInBatches(this.name, records, limits, (entries) => this.#send(entries), this.opts);
  }

  async #send(items: readonly BatchEntry[]): Promise<ItemOutcome[]> {
    const out = await this.#client.send(
      new SendMessageBatchCommand({
        QueueUrl: this.opts.queueUrl,
        Entries: items.map((e, i) => ({
          Id: String(i),
          MessageBody: e.payload.json,
          ...(this.#fifo
            ? {
                MessageGroupId: `${e.record.record.tenant_id ?? ''}/${e.record.record.cluster_name ?? ''}`,
                MessageDeduplicationId: e.record.record.dedup_key,
              }
            : {}),
        })),
      }),
    );
    const failures = new Map((out.Failed ?? []).map((f) => [f.Id, f]));
    return items.map((_, i) => {
      const f = failures.get(String(i));
      if (f === undefined) return null;
      const reason = `${f.Code ?? 'error'}${f.Message ? `: ${f.Message}` : ''}`;
      // SenderFault: the message itself is wrong (invalid characters, too large); a resend fails again.
      return f.SenderFault ? { permanent: reason } : reason;
    });
  }

  async close(): Promise<void> {
    if (this.#ownsClient) this.#client.destroy();
  }
}
