import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { type BatchEntry, type ItemOutcome, orderedOutcomes, type RetryOptions, sendInBatches } from './batching.js';
import type { KeyedOutgoing, KeyedSink, SinkWriteResult } from './types.js';

// Amazon EventBridge quotas (PutEvents API reference): at most 10 entries and 256 KiB per call.
// An entry's size is its Source, DetailType and Detail in UTF-8 (no Time or Resources are set).
const MAX_ENTRIES_PER_CALL = 10;
const MAX_BYTES_PER_CALL = 256 * 1024;

/** The event source and detail type rules match on. */
export const ALERT_SOURCE = 'aisoc.k8s-audit';
export const ALERT_DETAIL_TYPE = 'Kubernetes Audit Alert';
const ENVELOPE_BYTES = Buffer.byteLength(ALERT_SOURCE) + Buffer.byteLength(ALERT_DETAIL_TYPE);
// Error codes PutEvents reports per entry that a later try can clear.
const RETRYABLE_CODES = new Set(['InternalFailure', 'InternalException', 'ThrottlingException', 'ServiceUnavailable']);

/** Options of the EventBridge alerts sink; `client` is injectable for tests. */
export interface EventBridgeSinkOptions extends RetryOptions {
  bus: string;
  client?: EventBridgeClient;
}

/** Puts alert records on an EventBridge bus (source `aisoc.k8s-audit`), retrying only failed entries. */
export class EventBridgeSink implements KeyedSink {
  readonly name: string;
  readonly maxRecordBytes = MAX_BYTES_PER_CALL - ENVELOPE_BYTES;
  readonly #client: EventBridgeClient;
  // A client passed in belongs to the caller, who may share it: only a client made here is destroyed.
  readonly #ownsClient: boolean;

  constructor(readonly opts: EventBridgeSinkOptions) {
    this.name = `eventbridge:${opts.bus}`;
    this.#client = opts.client ?? new EventBridgeClient({});
    this.#ownsClient = opts.client === undefined;
  }

  write(records: readonly KeyedOutgoing[]): Promise<SinkWriteResult> {
    const limits = {
      maxRecordBytes: this.maxRecordBytes,
      maxEntriesPerCall: MAX_ENTRIES_PER_CALL,
      maxBytesPerCall: MAX_BYTES_PER_CALL,
      entryOverheadBytes: ENVELOPE_BYTES,
      limitName: 'over the EventBridge 256 KiB entry limit',
    };
    return sendInBatches(this.name, records, limits, (entries) => this.#put(entries), this.opts);
  }

  async #put(items: readonly BatchEntry[]): Promise<ItemOutcome[]> {
    const out = await this.#client.send(
      new PutEventsCommand({
        Entries: items.map((e) => ({
          EventBusName: this.opts.bus,
          Source: ALERT_SOURCE,
          DetailType: ALERT_DETAIL_TYPE,
          Detail: e.payload.json,
        })),
      }),
    );
    return orderedOutcomes(items.length, out.Entries ?? [], (code) => !RETRYABLE_CODES.has(code));
  }

  async close(): Promise<void> {
    if (this.#ownsClient) this.#client.destroy();
  }
}
