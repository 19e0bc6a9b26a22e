import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { forwardSubscriptionEvent } from './forward.js';
import { type ForwardDeps, type ForwardSettings, hasFailures } from './report.js';

/**
 * SQS caps a receive at 10 messages (ReceiveMessage, MaxNumberOfMessages). The visibility timeout
 * hides a message while it is replayed; 5 minutes is far more than one payload takes.
 */
export const REDRIVE_BATCH = 10;
export const DEFAULT_REDRIVE_VISIBILITY_SECONDS = 300;

/** What a failure-destination message holds: an event to replay, or why it cannot be replayed. */
export type RedriveRecord = { kind: 'event'; event: unknown } | { kind: 'unreplayable'; reason: string };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads one message of the forwarder's failure queue: a Lambda async-invocation record
 * (`{requestContext, requestPayload, ...}`, Lambda Developer Guide "Capturing records of
 * asynchronous invocations"), or the bare event as a dead-letter queue holds it.
 */
export function readRedriveRecord(body: string): RedriveRecord {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return { kind: 'unreplayable', reason: 'message body is not JSON' };
  }
  if (!isObject(value)) return { kind: 'unreplayable', reason: 'message body is not a JSON object' };
  if ('requestPayload' in value) {
    const payload = value.requestPayload;
    if (isObject(payload) && (isObject(payload.awslogs) || Array.isArray(payload.Records))) return { kind: 'event', event: payload };
    return { kind: 'unreplayable', reason: 'the invocation record has no CloudWatch Logs or Kinesis requestPayload' };
  }
  if (isObject(value.awslogs) || Array.isArray(value.Records)) return { kind: 'event', event: value };
  if (isObject(value.KinesisBatchInfo)) {
    // A Kinesis event source mapping's on-failure record names the records, it does not hold them.
    const info = value.KinesisBatchInfo;
    return {
      kind: 'unreplayable',
      reason: `a Kinesis batch pointer (shard ${String(info.shardId)}, sequence ${String(info.startSequenceNumber)} to ${String(info.endSequenceNumber)}, ${String(info.arrivalTimestamp ?? '')}): re-read the stream, or backfill that time range`,
    };
  }
  if (isObject(value.requestContext)) return { kind: 'unreplayable', reason: 'the invocation record has no requestPayload' };
  return { kind: 'unreplayable', reason: 'not a forwarder failure record' };
}

/** One message's outcome, for progress output. */
export interface RedriveMessageOutcome {
  messageId: string;
  deleted: boolean;
  forwarded: number;
  failed: number;
  reason?: string;
}

/** Totals of a redrive run. */
export interface RedriveReport {
  messages: number;
  deleted: number;
  kept: number;
  forwarded: number;
  failed: number;
}

/** What a redrive run needs. */
export interface RedriveOptions {
  sqs: Pick<SQSClient, 'send'>;
  queueUrl: string;
  settings: ForwardSettings;
  deps: ForwardDeps;
  /** Stop after this many messages (default: until the queue is empty). */
  maxMessages?: number;
  waitSeconds?: number;
  visibilitySeconds?: number;
  onMessage?: (outcome: RedriveMessageOutcome) => void;
}

/**
 * Replays the forwarder's failure queue through the same core as the Lambda, and deletes each
 * message only once everything in it was delivered; the rest stay in the queue.
 */
export async function redriveFailures(opts: RedriveOptions): Promise<RedriveReport> {
  const report: RedriveReport = { messages: 0, deleted: 0, kept: 0, forwarded: 0, failed: 0 };
  const seen = new Set<string>();
  const max = opts.maxMessages ?? Number.POSITIVE_INFINITY;
  while (report.messages < max) {
    const out = await opts.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: opts.queueUrl,
        MaxNumberOfMessages: Math.min(REDRIVE_BATCH, max - report.messages),
        WaitTimeSeconds: opts.waitSeconds ?? 1,
        VisibilityTimeout: opts.visibilitySeconds ?? DEFAULT_REDRIVE_VISIBILITY_SECONDS,
      }),
    );
    const messages = out.Messages ?? [];
    // An empty receive means the queue is drained; a message seen twice means only kept ones are left.
    const fresh = messages.filter((m) => m.MessageId !== undefined && !seen.has(m.MessageId));
    if (fresh.length === 0) break;
    for (const m of fresh) {
      const messageId = m.MessageId as string;
      seen.add(messageId);
      report.messages++;
      const outcome = await replayOne(m.Body ?? '', messageId, opts);
      if (outcome.deleted) {
        await opts.sqs.send(new DeleteMessageCommand({ QueueUrl: opts.queueUrl, ReceiptHandle: m.ReceiptHandle }));
        report.deleted++;
      } else {
        report.kept++;
      }
      report.forwarded += outcome.forwarded;
      report.failed += outcome.failed;
      opts.onMessage?.(outcome);
    }
  }
  return report;
}

async function replayOne(body: string, messageId: string, opts: RedriveOptions): Promise<RedriveMessageOutcome> {
  const record = readRedriveRecord(body);
  if (record.kind === 'unreplayable') return { messageId, deleted: false, forwarded: 0, failed: 0, reason: record.reason };
  try {
    const r = await forwardSubscriptionEvent(record.event, opts.settings, opts.deps);
    const done = !hasFailures(r);
    const outcome: RedriveMessageOutcome = { messageId, deleted: done, forwarded: r.forwarded, failed: r.failed };
    if (!done) outcome.reason = r.samples[0]?.reason ?? `${r.undecodable} payload(s) could not be decoded`;
    return outcome;
  } catch (err) {
    return { messageId, deleted: false, forwarded: 0, failed: 0, reason: (err as Error).message };
  }
}
