import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { REDACTED, redactRejectedItem, scrubJwtText } from '../audit/index.js';
import { INBOX_TOKEN_IN_TEXT } from '../ingest/inbox.js';
import { isJsonObject } from '../json.js';
import { TOKEN_HEADER } from '../protocol.js';
import { UnsupportedEventError } from './decode.js';
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
  if (!isJsonObject(value)) return { kind: 'unreplayable', reason: 'message body is not a JSON object' };
  if ('requestPayload' in value) {
    const payload = value.requestPayload;
    if (isJsonObject(payload) && (isJsonObject(payload.awslogs) || Array.isArray(payload.Records)))
      return { kind: 'event', event: payload };
    return { kind: 'unreplayable', reason: 'the invocation record has no CloudWatch Logs or Kinesis requestPayload' };
  }
  if (isJsonObject(value.awslogs) || Array.isArray(value.Records)) return { kind: 'event', event: value };
  if (isJsonObject(value.KinesisBatchInfo)) {
    // A Kinesis event source mapping's on-failure record names the records, it does not hold them.
    const info = value.KinesisBatchInfo;
    return {
      kind: 'unreplayable',
      reason: `a Kinesis batch pointer (shard ${String(info.shardId)}, sequence ${String(info.startSequenceNumber)} to ${String(info.endSequenceNumber)}${info.arrivalTimestamp === undefined ? '' : `, ${String(info.arrivalTimestamp)}`}): re-read the stream, or backfill that time range`,
    };
  }
  if (isJsonObject(value.requestContext)) return { kind: 'unreplayable', reason: 'the invocation record has no requestPayload' };
  return { kind: 'unreplayable', reason: 'not a forwarder failure record' };
}

// Header names whose value is a credential, in any casing: the ingest's own token header, HTTP
// authentication, cookies, API Gateway keys and AWS session tokens.
const CREDENTIAL_NAMES = `${TOKEN_HEADER.toLowerCase()}|authorization|proxy-authorization|cookie|set-cookie|x-api-key|x-amz-security-token`;
const CREDENTIAL_KEY = new RegExp(`^(${CREDENTIAL_NAMES})$`, 'i');
// The same names followed by a value in free text (`X-AiSOC-K8s-Token: abc`, `authorization=Bearer x`):
// the value goes up to the end of the line or a quote.
// (proxy-authorization before authorization, set-cookie before cookie: the longer name matches first.)
const CREDENTIAL_IN_TEXT = new RegExp(
  `(${TOKEN_HEADER.toLowerCase()}|proxy-authorization|authorization|set-cookie|cookie|x-api-key|x-amz-security-token)(\\\\?["']?\\s*[:=]\\s*\\\\?["']?)([^"'\\\\\\r\\n]+)`,
  'gi',
);

function redactCredentialKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactCredentialKeys);
  if (!isJsonObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const v = CREDENTIAL_KEY.test(key) && value[key] !== null ? REDACTED : redactCredentialKeys(value[key]);
    Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Where a failure record's payloads are: the objects holding a `data` string (paths from the top). */
function payloadHolders(value: Record<string, unknown>): (string | number)[][] {
  const paths: (string | number)[][] = [];
  const event = (e: unknown, at: (string | number)[]) => {
    if (!isJsonObject(e)) return;
    if (isJsonObject(e.awslogs) && typeof e.awslogs.data === 'string') paths.push([...at, 'awslogs']);
    if (Array.isArray(e.Records)) {
      e.Records.forEach((r, i) => {
        if (isJsonObject(r) && isJsonObject(r.kinesis) && typeof r.kinesis.data === 'string') paths.push([...at, 'Records', i, 'kinesis']);
      });
    }
  };
  event(value, []);
  event(value.requestPayload, ['requestPayload']);
  return paths;
}

function at(value: unknown, path: readonly (string | number)[]): Record<string, unknown> | null {
  let node: unknown = value;
  for (const seg of path) node = isJsonObject(node) || Array.isArray(node) ? (node as Record<string | number, unknown>)[seg] : undefined;
  return isJsonObject(node) ? node : null;
}

const PAYLOAD_PLACEHOLDER = '@@aisoc-payload-';

/**
 * A message body as it may be written to a set-aside file: every value that could be a credential
 * replaced by the marker. Such a message is not a failure record, so it may be anything (an API
 * Gateway event with its headers, a log line): a JSON body loses its credential headers (any
 * casing), `token` and Secret `data` values (as a rejected item does); any text loses the values
 * after a credential header name, generated inbox tokens, every JWT's signature, and every
 * `secrets` value given (the shared secret the command holds) wherever it appears.
 *
 * A failure record's payloads (the subscription payload in `awslogs.data`, each Kinesis record's
 * `kinesis.data`, bare or under `requestPayload`) are kept as they came: they are what a person
 * needs to recover the events, the same bytes the queue and the log group hold, and as base64
 * gzip nothing can be read or cut out of them. Redacted as a rejected item's `data`, every event
 * inside was lost. With nothing to redact, the body is the one received, byte for byte.
 */
export function redactMessageBody(body: string, secrets: readonly string[]): { body: string; redacted: boolean } {
  let text = body;
  let payloads: string[] = [];
  let changed = false;
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null) {
      const copy = structuredClone(parsed) as Record<string, unknown>;
      const holders = Array.isArray(copy) ? [] : payloadHolders(copy);
      const kept = holders.map((path) => {
        const holder = at(copy, path) as Record<string, unknown>;
        const payload = holder.data as string;
        delete holder.data;
        return payload;
      });
      const plain = JSON.stringify(copy);
      const redacted = redactCredentialKeys(redactRejectedItem(copy));
      if (JSON.stringify(redacted) !== plain) {
        holders.forEach((path, i) => {
          const holder = at(redacted, path);
          if (holder !== null)
            Object.defineProperty(holder, 'data', {
              value: `${PAYLOAD_PLACEHOLDER}${i}@@`,
              enumerable: true,
              writable: true,
              configurable: true,
            });
        });
        text = JSON.stringify(redacted);
        payloads = kept;
        changed = true;
      }
    }
  } catch {
    // Not JSON: only the text rules below apply.
  }
  let after = text.replace(CREDENTIAL_IN_TEXT, (_m, name: string, sep: string) => `${name}${sep}${REDACTED}`);
  after = after.replace(INBOX_TOKEN_IN_TEXT, REDACTED);
  after = scrubJwtText(after);
  for (const secret of secrets) if (secret.length >= 8) after = after.split(secret).join(REDACTED);
  if (!changed && after === text) return { body, redacted: false };
  // The payloads back in place of their placeholders, as the JSON strings they were.
  const restored = payloads.reduce(
    (t, payload, i) => t.split(`${PAYLOAD_PLACEHOLDER}${i}@@`).join(JSON.stringify(payload).slice(1, -1)),
    after,
  );
  return { body: restored, redacted: true };
}

/** A message set aside: written (redacted) to the set-aside file, then deleted from the queue. */
export interface SetAsideMessage {
  messageId: string;
  reason: string;
  /** The body after `redactMessageBody`. */
  body: string;
  redacted: boolean;
}

/** One message's outcome, for progress output. */
export interface RedriveMessageOutcome {
  messageId: string;
  deleted: boolean;
  /** It can never be replayed (not a failure record, a Kinesis batch pointer, undecodable payloads). */
  unreplayable?: boolean;
  /** Deleted after it was written to the set-aside file. */
  setAside?: boolean;
  forwarded: number;
  failed: number;
  /** Lines that are no audit event (cut by EKS, not JSON, not an Event): counted, never sent. */
  unreadable?: number;
  /** Lines cut at the event-size limit and sent with their members before the cut (part of forwarded/failed). */
  salvaged?: number;
  reason?: string;
}

/** Totals of a redrive run. */
export interface RedriveReport {
  messages: number;
  /** Replayed and deleted. */
  deleted: number;
  kept: number;
  /** Unreplayable, written to the set-aside file and deleted. */
  setAside: number;
  forwarded: number;
  failed: number;
  /** Lines that are no audit event, as backfill counts them (`eventsUnreadable`). */
  unreadable: number;
  /** Lines cut at the event-size limit and sent flagged truncated, as backfill counts them (`salvaged`). */
  salvaged: number;
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
  /**
   * Where messages that can never be replayed go (not a failure record, a Kinesis batch pointer, a
   * payload that cannot be decoded): resolved once the message is stored durably, then it is
   * deleted. Without it they stay in the queue.
   */
  setAside?: (message: SetAsideMessage) => Promise<void>;
  /** Values to redact from set-aside bodies wherever they appear (the shared secret). */
  secrets?: readonly string[];
}

/**
 * Replays the forwarder's failure queue through the same core as the Lambda, and deletes each
 * message only once everything in it was delivered; the rest stay in the queue.
 */
export async function redriveFailures(opts: RedriveOptions): Promise<RedriveReport> {
  const report: RedriveReport = { messages: 0, deleted: 0, kept: 0, setAside: 0, forwarded: 0, failed: 0, unreadable: 0, salvaged: 0 };
  const seen = new Set<string>();
  // The receipts of the messages kept, made visible again once the run ends: otherwise a rerun
  // straight after the fix reads nothing for the visibility timeout, and says the queue is drained.
  const keptReceipts: string[] = [];
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
      const body = m.Body ?? '';
      const outcome = await replayOne(body, messageId, opts);
      if (outcome.unreplayable && opts.setAside) {
        // Stored first, deleted after: a crash in between leaves it in both, never in neither.
        await opts.setAside({ messageId, reason: outcome.reason ?? 'unreplayable', ...redactMessageBody(body, opts.secrets ?? []) });
        outcome.setAside = true;
        outcome.deleted = true;
      }
      if (outcome.deleted) {
        await opts.sqs.send(new DeleteMessageCommand({ QueueUrl: opts.queueUrl, ReceiptHandle: m.ReceiptHandle }));
        if (outcome.setAside) report.setAside++;
        else report.deleted++;
      } else {
        report.kept++;
        if (m.ReceiptHandle !== undefined) keptReceipts.push(m.ReceiptHandle);
      }
      report.forwarded += outcome.forwarded;
      report.failed += outcome.failed;
      report.unreadable += outcome.unreadable ?? 0;
      report.salvaged += outcome.salvaged ?? 0;
      opts.onMessage?.(outcome);
    }
  }
  for (const receipt of keptReceipts) {
    try {
      await opts.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: opts.queueUrl, ReceiptHandle: receipt, VisibilityTimeout: 0 }));
    } catch {
      // Visible again when its timeout runs out anyway; the message is kept either way.
    }
  }
  return report;
}

async function replayOne(body: string, messageId: string, opts: RedriveOptions): Promise<RedriveMessageOutcome> {
  const record = readRedriveRecord(body);
  if (record.kind === 'unreplayable')
    return { messageId, deleted: false, unreplayable: true, forwarded: 0, failed: 0, reason: record.reason };
  try {
    const r = await forwardSubscriptionEvent(record.event, opts.settings, opts.deps);
    const done = !hasFailures(r);
    const outcome: RedriveMessageOutcome = {
      messageId,
      deleted: done,
      forwarded: r.forwarded,
      failed: r.failed,
      unreadable: r.truncated + r.invalid,
      salvaged: r.salvaged,
    };
    if (!done) outcome.reason = r.samples[0]?.reason ?? `${r.undecodable} payload(s) could not be decoded`;
    // Nothing failed to send, only payloads that cannot be decoded: no replay will ever succeed
    // (what was decodable was delivered, and the ingest drops it as a duplicate if it comes again).
    if (!done && r.failed === 0 && r.undecodable > 0) outcome.unreplayable = true;
    return outcome;
  } catch (err) {
    // An event the forwarder core refuses (neither awslogs nor Kinesis records) is unreplayable too.
    const unsupported = err instanceof UnsupportedEventError;
    return {
      messageId,
      deleted: false,
      forwarded: 0,
      failed: 0,
      reason: (err as Error).message,
      ...(unsupported ? { unreplayable: true } : {}),
    };
  }
}
