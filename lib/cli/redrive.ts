import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DEFAULT_REDRIVE_VISIBILITY_SECONDS, type RedriveReport, redriveFailures, type SetAsideMessage } from '../cloudwatch/redrive.js';
import { ConfigError, queueUrlProblem } from '../config/env.js';
import { awsCallError, awsClientOptions, awsEndpointOf, loadForwarderSettings } from '../config/forwarder.js';
import { senderClusterProblem } from '../config/secret.js';
import { LOG_SERVICES, streamLog } from '../log/index.js';
import { TOKEN_HEADER } from '../protocol.js';
import { envUnderFlags, flag, intFlag, parseArgs, UsageError } from './args.js';
import type { CommandIo, ShippingCommandDeps } from './io.js';
import {
  count,
  DEFAULT_PROGRESS_INTERVAL_SECONDS,
  type ProgressSnapshot,
  type ProgressStream,
  progressIntervalMs,
  startProgress,
} from './progress.js';

/** Injectable pieces of the command, for tests. */
export type RedriveDeps = ShippingCommandDeps;

const HELP = `Usage: aisoc-k8s-audit redrive --queue-url URL [--set-aside FILE] [--max-messages N] [options]

Replays the forwarder's on-failure destination (an SQS queue of Lambda asynchronous invocation
records, {"requestPayload": <the original event>, ...}; a dead-letter queue holding the bare
events works too) through the same code as the forwarder Lambda. Each message is deleted only
after every audit event in it was delivered; the others stay in the queue and are listed.
Replaying is safe: the ingest drops a resend (the same auditID, stage and content) as a duplicate.

A message that can never be replayed (not a failure record, a Kinesis batch pointer, a payload
that is not base64 gzip) stays in the queue too, unless --set-aside FILE is given: it is then
appended to FILE as one JSON line {"messageId", "setAsideAt", "queueUrl", "reason", "body",
"redacted"}, flushed to disk, and only then deleted from the queue. The body is redacted first:
no ${TOKEN_HEADER}, Authorization or cookie value, inbox token, \`token\` or Secret data
value, nor the shared secret itself reaches the file. FILE is created 0600.

Options:
  --queue-url URL             the SQS queue of the forwarder's on-failure destination
  --set-aside FILE            append messages that can never be replayed to FILE, then delete them
  --max-messages N            stop after N messages (default: until the queue is empty)
  --visibility-timeout S      seconds a message stays hidden while it is replayed (default ${DEFAULT_REDRIVE_VISIBILITY_SECONDS})
  --cluster NAME              cluster name sent with the events (default: CLUSTER_NAME, else from each log group)
  --progress-interval S       seconds between progress lines when stderr is not a terminal
                              (default ${DEFAULT_PROGRESS_INTERVAL_SECONDS}; 0: one per message)
  --help                      show this help

Environment: AISOC_INGEST_URL and K8S_AUDIT_SHARED_SECRET (or K8S_AUDIT_SHARED_SECRET_ARN), as for
the forwarder Lambda; the AWS credentials and region of the SDK's default chain.

Progress goes to stderr. On a terminal: one line redrawn in place (a bar over the queue's
depth at the start as SQS estimates it, when sqs:GetQueueAttributes is allowed; messages read,
deleted, kept and set aside, events shipped and failed, elapsed time, messages per second), a
line for each message kept or set aside, and a summary line at the end. Otherwise JSON lines, as the log lines
are: one per message kept or set aside ("message kept in the queue", "message set aside"), a
{"message":"redrive progress", "messagesRead", "messagesDeleted", "messagesKept",
"messagesSetAside", "eventsShipped", "eventsFailed", "eventsUnreadable", "elapsedSeconds", ...} every
--progress-interval, and a final {"message":"redrive done", ...} with the totals.

Exit status: 0 when every message was replayed (or set aside) and deleted, 1 when some were
kept, 2 for usage errors or a --set-aside FILE that cannot be opened.
`;

/** The progress counts of a redrive report. */
function countsOf(r: RedriveReport): ProgressSnapshot['counts'] {
  return {
    messagesRead: r.messages,
    messagesDeleted: r.deleted,
    messagesKept: r.kept,
    messagesSetAside: r.setAside,
    eventsShipped: r.forwarded,
    eventsFailed: r.failed,
    eventsUnreadable: r.unreadable,
    salvaged: r.salvaged,
  };
}

/**
 * How many messages the queue holds, as SQS estimates it (ApproximateNumberOfMessages), for the
 * terminal's bar; null when it cannot say (no sqs:GetQueueAttributes permission, say): the run
 * goes on without a bar.
 */
async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<number | null> {
  try {
    // A bar is not worth a wait: an endpoint that does not answer fails the receive that follows.
    const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }), {
      abortSignal: AbortSignal.timeout(3000),
    });
    const n = Number(out?.Attributes?.ApproximateNumberOfMessages);
    return Number.isFinite(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/**
 * Opens the set-aside file for appending (created 0600) and returns the writer `redriveFailures`
 * calls: one JSON line per message, synced to disk before the message is deleted.
 */
async function openSetAside(
  path: string,
  queueUrl: string,
): Promise<{ write: (m: SetAsideMessage) => Promise<void>; close: () => Promise<void>; mode: number }> {
  let file: FileHandle;
  try {
    file = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
  } catch (err) {
    throw new ConfigError([
      `--set-aside ${path}: cannot open for appending: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    ]);
  }
  // An existing file keeps its mode: said, not changed (the operator may share it on purpose).
  const mode = (await file.stat()).mode & 0o777;
  return {
    mode,
    write: async (m) => {
      const line = {
        messageId: m.messageId,
        setAsideAt: new Date().toISOString(),
        queueUrl,
        reason: m.reason,
        body: m.body,
        redacted: m.redacted,
      };
      await file.appendFile(`${JSON.stringify(line)}\n`);
      await file.datasync();
    },
    close: () => file.close(),
  };
}

/** `aisoc-k8s-audit redrive`: the failure queue back through the forwarder core. */
export async function run(argv: string[], io: CommandIo, deps: RedriveDeps = {}): Promise<number> {
  const args = parseArgs(argv, ['queue-url', 'max-messages', 'visibility-timeout', 'cluster', 'set-aside', 'progress-interval']);
  if (args.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
  const queueUrl = flag(args, 'queue-url');
  if (queueUrl === undefined) throw new UsageError('--queue-url is required');
  const queueProblem = queueUrlProblem(queueUrl);
  if (queueProblem !== null) throw new UsageError(`--queue-url ${queueProblem}`);
  const maxMessages = intFlag(args, 'max-messages', 1);
  const visibility = intFlag(args, 'visibility-timeout', 1);
  const intervalMs = progressIntervalMs(flag(args, 'progress-interval'));
  const setAsidePath = flag(args, 'set-aside');
  if (setAsidePath === '') throw new UsageError('--set-aside needs a file name');
  // --cluster wins over CLUSTER_NAME, which is then not read.
  const loaded = await loadForwarderSettings(
    envUnderFlags(io.env, args, { cluster: 'CLUSTER_NAME' }),
    ...(deps.readSecret ? [deps.readSecret] : []),
  );
  const cluster = flag(args, 'cluster');
  const clusterProblem = senderClusterProblem(cluster, loaded.token, '--cluster');
  if (clusterProblem !== null) throw new UsageError(clusterProblem);
  const settings = cluster === undefined ? loaded : { ...loaded, clusterName: cluster };
  const setAside = setAsidePath === undefined ? null : await openSetAside(setAsidePath, queueUrl);
  const clientOptions = awsClientOptions(io.env, 'SQS');
  const endpoint = awsEndpointOf(clientOptions, 'sqs');
  const sqs = new SQSClient(clientOptions);
  const totals: RedriveReport = { messages: 0, deleted: 0, kept: 0, setAside: 0, forwarded: 0, failed: 0, unreadable: 0, salvaged: 0 };
  // The bar's end: the queue's depth when the run starts (an estimate), or --max-messages if fewer.
  const depth = (io.stderr as ProgressStream).isTTY === true ? await queueDepth(sqs, queueUrl) : null;
  const expected = depth === null ? null : Math.min(depth, maxMessages ?? depth);
  const snapshot = (r: RedriveReport): ProgressSnapshot =>
    expected === null ? { counts: countsOf(r) } : { counts: countsOf(r), fraction: Math.min(1, r.messages / expected) };
  const progress = startProgress({
    initial: snapshot(totals),
    command: 'redrive',
    service: LOG_SERVICES.redrive,
    stream: io.stderr,
    counters: [
      { key: 'messagesRead', label: 'messages' },
      { key: 'messagesDeleted', label: 'deleted' },
      { key: 'messagesKept', label: 'kept' },
      { key: 'messagesSetAside', label: 'set aside' },
      { key: 'eventsShipped', label: 'events shipped' },
      { key: 'eventsFailed', label: 'failed' },
    ],
    rate: { key: 'messagesRead', unit: 'messages/s' },
    intervalMs,
  });
  const log = streamLog(progress.logStream, LOG_SERVICES.redrive, io.env);
  if (setAside !== null && (setAside.mode & 0o077) !== 0) {
    log({
      level: 'warn',
      msg: `--set-aside ${setAsidePath} can be read by other users (mode ${setAside.mode.toString(8).padStart(4, '0')}); the bodies in it are redacted, but chmod 600 it unless that is meant`,
    });
  }

  let finished = false;
  try {
    const report = await redriveFailures({
      sqs: {
        send: (async (command: Parameters<SQSClient['send']>[0]) => {
          try {
            return await sqs.send(command);
          } catch (err) {
            const failure = awsCallError('SQS', endpoint, err);
            // The SDK says only "The specified queue does not exist.": a URL copied wrong, or a
            // queue of another stack or account.
            if (['QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue'].includes((err as { name?: string }).name ?? '')) {
              failure.message +=
                " Check --queue-url: it is the stack's ForwarderFailureQueueUrl output (aws cloudformation describe-stacks), read with the credentials of its account.";
            }
            throw failure;
          }
        }) as SQSClient['send'],
      },
      queueUrl,
      settings,
      deps: { log, ...(deps.fetch ? { fetch: deps.fetch } : {}), ...(deps.sleep ? { sleep: deps.sleep } : {}) },
      ...(maxMessages === undefined ? {} : { maxMessages }),
      ...(visibility === undefined ? {} : { visibilitySeconds: visibility }),
      ...(setAside === null ? {} : { setAside: setAside.write }),
      secrets: [settings.token],
      onMessage: (m) => {
        totals.messages++;
        if (m.setAside) totals.setAside++;
        else if (m.deleted) totals.deleted++;
        else totals.kept++;
        totals.forwarded += m.forwarded;
        totals.failed += m.failed;
        totals.unreadable += m.unreadable ?? 0;
        totals.salvaged += m.salvaged ?? 0;
        const counts = { delivered: m.forwarded, failed: m.failed };
        if (m.setAside) {
          if (progress.tty) progress.note(`redrive: message ${m.messageId}: set aside to ${setAsidePath}: ${m.reason}`);
          else log({ level: 'warn', msg: 'message set aside', messageId: m.messageId, reason: m.reason, file: setAsidePath, ...counts });
        } else if (!m.deleted) {
          const reason = `${m.reason ?? 'not delivered'}${m.unreplayable ? ' (it can never be replayed: --set-aside FILE moves it out of the queue)' : ''}`;
          if (progress.tty)
            progress.note(`redrive: message ${m.messageId}: kept in the queue: ${reason} (${m.forwarded} delivered, ${m.failed} failed)`);
          else log({ level: 'warn', msg: 'message kept in the queue', messageId: m.messageId, reason, ...counts });
        } else if (!progress.tty) {
          log({ level: 'info', msg: 'message replayed and deleted', messageId: m.messageId, ...counts });
        }
        progress.update(snapshot(totals));
      },
    });
    progress.finish(
      snapshot(report),
      `redrive done: ${count(report.messages)} messages, ${count(report.deleted)} deleted, ${count(report.kept)} kept, ${count(report.setAside)} set aside, ${count(report.forwarded)} events delivered, ${count(report.salvaged)} salvaged`,
      report.kept > 0 ? 'WARN' : 'INFO',
    );
    finished = true;
    return report.kept > 0 ? 1 : 0;
  } finally {
    if (!finished) progress.stop();
    sqs.destroy();
    await setAside?.close();
  }
}
