/**
 * Where normalised records go. Each sink's module (and its AWS SDK client or native addon) is
 * imported only when that sink is configured, so a Lambda with a Kinesis sink never loads SQLite.
 */
import type { Writable } from 'node:stream';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { FirehoseClient } from '@aws-sdk/client-firehose';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { RuleLookup } from '../audit/finding.js';
import type { SinkSpec } from '../config/ingest.js';
import type { RetryOptions } from './batching.js';
import type { RejectSink } from './rejects.js';
import type { SqliteSinkMode } from './sqlite-rows.js';
import type { KeyedSink, OutgoingRecord, RecordSink, SinkWriteResult } from './types.js';
import { RecordWriter } from './writer.js';

export type { ItemOutcome, RetryOptions } from './batching.js';
export { chunkBy, isRetryableError, sendWithRetry } from './batching.js';
export type { RejectRecord, RejectSink } from './rejects.js';
export type {
  KeyedOutgoing,
  KeyedPayload,
  KeyedSink,
  OutgoingRecord,
  RecordKey,
  RecordPayload,
  RecordSink,
  SinkWriteResult,
} from './types.js';
export { fitRecord, NOTHING_TO_REPORT, SinkUnavailableError } from './types.js';
export type { WriteOutcome } from './writer.js';
export { RecordWriter } from './writer.js';

/** What the sinks need besides their spec: where the SQLite file lives, streams, injectable clients. */
export interface SinkOptions {
  dataDir: string;
  maxAttempts: number;
  /** Where the stdout sink writes (default `process.stdout`). */
  stdout?: Writable;
  /** Preconfigured clients (a local endpoint, a test double); by default each sink makes its own. */
  clients?: { kinesis?: KinesisClient; firehose?: FirehoseClient; sqs?: SQSClient; eventbridge?: EventBridgeClient };
  sleep?: RetryOptions['sleep'];
  /** The running pack's rules by id, for the Detection Finding each alert carries. */
  describeRule?: RuleLookup;
  /** SQLite sinks share transactions between concurrent batches (see GroupCommitter). */
  groupCommit?: boolean;
  /** When the Kinesis sink loads the AWS SDK and makes its client: now (default) or on its first write. */
  kinesisClientAt?: 'init' | 'first-use';
}

/** Kinesis's per-record limit as KinesisSink states it (1 MiB less the 64-byte partition key), known before its module loads. */
const KINESIS_MAX_RECORD_BYTES = 1024 * 1024 - 64;

/**
 * A sink whose module (and the AWS SDK client it makes) is loaded on the first write instead of
 * now: the cold start's import is shorter, and the first request pays for the load instead.
 */
class FirstUseSink implements RecordSink {
  #sink: Promise<RecordSink> | null = null;

  constructor(
    readonly name: string,
    readonly maxRecordBytes: number,
    private readonly load: () => Promise<RecordSink>,
  ) {}

  write(records: readonly OutgoingRecord[], signal?: AbortSignal): Promise<SinkWriteResult> {
    this.#sink ??= this.load();
    return this.#sink.then((sink) => sink.write(records, signal));
  }

  async close(): Promise<void> {
    await (await this.#sink)?.close();
  }
}

/** The SQLite sink over the store in the data dir, with WAL checkpoints on a background thread. */
async function sqliteSink(dataDir: string, mode: SqliteSinkMode, groupCommit: boolean, describeRule?: RuleLookup): Promise<RecordSink> {
  const { openEventStore, SqliteSink } = await import('./sqlite.js');
  return new SqliteSink(
    openEventStore(dataDir, { backgroundCheckpoints: true, groupCommit, ...(describeRule ? { describeRule } : {}) }),
    mode,
  );
}

/** Builds the events and alerts sinks named by the config; with SQLite for both, one transaction writes both. */
export async function createRecordWriter(events: SinkSpec, alerts: SinkSpec, opts: SinkOptions): Promise<RecordWriter> {
  if (events.kind === 'sqlite') {
    if (alerts.kind === 'sqlite')
      return new RecordWriter(await sqliteSink(opts.dataDir, 'events+alerts', opts.groupCommit ?? false, opts.describeRule), null);
    return new RecordWriter(
      await sqliteSink(opts.dataDir, 'events', opts.groupCommit ?? false),
      alerts.kind === 'none' ? null : await createSink(alerts, 'alerts', opts),
      alerts.kind === 'none' ? 'none' : undefined,
      opts.describeRule,
    );
  }
  const eventsSink = await createSink(events, 'events', opts);
  if (alerts.kind === 'none') return new RecordWriter(eventsSink, null, 'none');
  return new RecordWriter(eventsSink, await createSink(alerts, 'alerts', opts), undefined, opts.describeRule);
}

/** Builds the rejects sink: the SQLite `rejected` table, or one of the record sinks carrying reject records. */
export async function createRejectSink(spec: SinkSpec, opts: SinkOptions): Promise<RejectSink> {
  if (spec.kind === 'sqlite') {
    const { openEventStore, SqliteRejectSink } = await import('./sqlite.js');
    return new SqliteRejectSink(openEventStore(opts.dataDir));
  }
  if (spec.kind === 'none') throw new Error('the none sink takes no records');
  const { StreamRejectSink } = await import('./rejects.js');
  return new StreamRejectSink(await createKeyedSink(spec, 'events', opts));
}

/** Builds one sink from its spec, importing only that sink's module. */
export async function createSink(spec: SinkSpec, role: 'events' | 'alerts', opts: SinkOptions): Promise<RecordSink> {
  if (spec.kind === 'sqlite')
    return sqliteSink(opts.dataDir, role === 'alerts' ? 'alerts' : 'events', opts.groupCommit ?? false, opts.describeRule);
  if (spec.kind === 'none') throw new Error('the none sink takes no records');
  return createKeyedSink(spec, role, opts);
}

/** Builds a sink that reads only the key and JSON of what it carries (stdout and the AWS streams): records or rejects. */
async function createKeyedSink(
  spec: Exclude<SinkSpec, { kind: 'sqlite' | 'none' }>,
  role: 'events' | 'alerts',
  opts: SinkOptions,
): Promise<KeyedSink> {
  const retry = { maxAttempts: opts.maxAttempts, ...(opts.sleep ? { sleep: opts.sleep } : {}) };
  switch (spec.kind) {
    case 'stdout': {
      const { StdoutSink } = await import('./stdout.js');
      return new StdoutSink(opts.stdout ?? process.stdout, role);
    }
    case 'kinesis': {
      const make = async () => {
        const { KinesisSink } = await import('./kinesis.js');
        return new KinesisSink({ stream: spec.stream, ...retry, ...(opts.clients?.kinesis ? { client: opts.clients.kinesis } : {}) });
      };
      return opts.kinesisClientAt === 'first-use' ? new FirstUseSink(`kinesis:${spec.stream}`, KINESIS_MAX_RECORD_BYTES, make) : make();
    }
    case 'firehose': {
      const { FirehoseSink } = await import('./firehose.js');
      return new FirehoseSink({ stream: spec.stream, ...retry, ...(opts.clients?.firehose ? { client: opts.clients.firehose } : {}) });
    }
    case 'sqs': {
      const { SqsSink } = await import('./sqs.js');
      return new SqsSink({ queueUrl: spec.queueUrl, ...retry, ...(opts.clients?.sqs ? { client: opts.clients.sqs } : {}) });
    }
    case 'eventbridge': {
      const { EventBridgeSink } = await import('./eventbridge.js');
      return new EventBridgeSink({ bus: spec.bus, ...retry, ...(opts.clients?.eventbridge ? { client: opts.clients.eventbridge } : {}) });
    }
  }
}
