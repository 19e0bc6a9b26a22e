import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { backfillLogGroup, DEFAULT_BACKFILL_REQUESTS_PER_SECOND, MAX_FILTER_PAGE_SIZE } from '../cloudwatch/backfill.js';
import { clusterFromLogGroup } from '../cloudwatch/eks.js';
import { awsCallError, awsClientOptions, awsEndpointOf, loadForwarderSettings } from '../config/forwarder.js';
import { senderClusterProblem } from '../config/secret.js';
import { LOG_SERVICES, streamLog } from '../log/index.js';
import { envUnderFlags, flag, intFlag, parseArgs, parseTime, UsageError } from './args.js';
import type { CommandIo, ShippingCommandDeps } from './io.js';
import { count, DEFAULT_PROGRESS_INTERVAL_SECONDS, type ProgressSnapshot, progressIntervalMs, startProgress } from './progress.js';

/** Injectable pieces of the command, for tests. */
export interface BackfillDeps extends ShippingCommandDeps {
  /** Where SIGINT and SIGTERM come from (the process; an emitter in tests). */
  signals?: Pick<NodeJS.EventEmitter, 'on' | 'off'>;
}

const HELP = `Usage: aisoc-k8s-audit backfill --log-group /aws/eks/<cluster>/cluster --start TIME [--end TIME] [options]

Replays a time range of an EKS control-plane log group into the AiSOC ingest: reads the
apiserver audit streams with CloudWatch Logs FilterLogEvents, page by page (following nextToken,
so no event that shares a millisecond with another is lost), and ships every audit line as the
forwarder Lambda does. Safe to run over a range that was already delivered: the ingest drops
a resend (the same auditID, stage and content) as a duplicate.

TIME is an ISO 8601 time (2024-05-01T10:00:00Z), epoch milliseconds, "now", or an age such as
30m, 6h or 7d (that long ago). Both bounds are inclusive.

Options:
  --log-group NAME       the log group, /aws/eks/<cluster>/cluster
  --start TIME           first event time
  --end TIME             last event time (default: now)
  --stream-prefix P      log streams to read (default: AUDIT_LOG_STREAM_PREFIX or kube-apiserver-audit-)
  --cluster NAME         cluster name sent with the events (default: CLUSTER_NAME, else from the log group)
  --rate N               FilterLogEvents requests per second, 1 to 5 (default ${DEFAULT_BACKFILL_REQUESTS_PER_SECOND};
                         the API allows 5 per account and region)
  --page-size N          events per FilterLogEvents page, 1 to ${MAX_FILTER_PAGE_SIZE} (default ${MAX_FILTER_PAGE_SIZE})
  --progress-interval S  seconds between progress lines when stderr is not a terminal
                         (default ${DEFAULT_PROGRESS_INTERVAL_SECONDS}; 0: one per page)
  --help                 show this help

Environment: AISOC_INGEST_URL and K8S_AUDIT_SHARED_SECRET (or K8S_AUDIT_SHARED_SECRET_ARN), as for
the forwarder Lambda; the AWS credentials and region of the SDK's default chain.

Progress goes to stderr. On a terminal: one line redrawn in place (a bar over the time range, events
read, shipped and failed, events per second, elapsed time) and a summary line at the end. Otherwise
JSON lines, as the log lines are: {"message":"backfill progress", "eventsRead", "eventsShipped",
"eventsFailed", "eventsUnreadable", "eventsSkipped", "percent", "elapsedSeconds", ...} every
--progress-interval, and a final {"message":"backfill done", ...} with the totals.

Exit status: 0 when every audit line was delivered (truncated and invalid lines are counted and
logged), 1 when some were not (the last line says which --start to rerun from), 2 for usage errors,
130 when stopped by SIGINT or SIGTERM: it finishes the page in hand, sends what it read and says
where to resume; a second signal ends it at once.
`;

export { parseTime };

/** `aisoc-k8s-audit backfill`: a log group's time range, through lib/ship, to the ingest. */
export async function run(argv: string[], io: CommandIo, deps: BackfillDeps = {}): Promise<number> {
  const args = parseArgs(argv, ['log-group', 'start', 'end', 'stream-prefix', 'cluster', 'rate', 'page-size', 'progress-interval']);
  if (args.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
  const now = deps.now ?? Date.now;
  const logGroup = flag(args, 'log-group');
  if (logGroup === undefined) throw new UsageError('--log-group is required');
  const startFlag = flag(args, 'start');
  if (startFlag === undefined) throw new UsageError('--start is required');
  const startMs = parseTime(startFlag, 'start', now());
  const endMs = parseTime(flag(args, 'end') ?? 'now', 'end', now());
  if (endMs < startMs) throw new UsageError('--end is before --start');
  const rate = intFlag(args, 'rate', 1) ?? DEFAULT_BACKFILL_REQUESTS_PER_SECOND;
  if (rate > 5) throw new UsageError('--rate must be at most 5 (the FilterLogEvents quota per account and region)');
  const pageSize = intFlag(args, 'page-size', 1);
  if (pageSize !== undefined && pageSize > MAX_FILTER_PAGE_SIZE)
    throw new UsageError(`--page-size must be at most ${MAX_FILTER_PAGE_SIZE}`);
  const intervalMs = progressIntervalMs(flag(args, 'progress-interval'));

  // --cluster and --stream-prefix win over their variables, which are then not read.
  const env = envUnderFlags(io.env, args, { cluster: 'CLUSTER_NAME', 'stream-prefix': 'AUDIT_LOG_STREAM_PREFIX' });
  const loaded = await loadForwarderSettings(env, ...(deps.readSecret ? [deps.readSecret] : []));
  const cluster = flag(args, 'cluster');
  const clusterProblem = senderClusterProblem(cluster, loaded.token, '--cluster');
  if (clusterProblem !== null) throw new UsageError(clusterProblem);
  const settings = cluster === undefined ? loaded : { ...loaded, clusterName: cluster };
  const clientOptions = awsClientOptions(io.env, 'CLOUDWATCH_LOGS');
  const endpoint = awsEndpointOf(clientOptions, 'logs');
  const client = new CloudWatchLogsClient(clientOptions);
  const progress = startProgress({
    command: 'backfill',
    service: LOG_SERVICES.backfill,
    stream: io.stderr,
    counters: [
      { key: 'eventsRead', label: 'read' },
      { key: 'eventsShipped', label: 'shipped' },
      { key: 'eventsFailed', label: 'failed' },
    ],
    rate: { key: 'eventsRead', unit: 'events/s' },
    intervalMs,
  });
  const log = streamLog(progress.logStream, LOG_SERVICES.backfill, io.env);
  if (settings.clusterName === null && clusterFromLogGroup(logGroup) === null) {
    log({ level: 'warn', msg: 'no cluster name: the log group is not /aws/eks/<cluster>/cluster; pass --cluster' });
  }
  const iso = (ms: number | null): string => (ms === null ? '-' : new Date(ms).toISOString());
  // How far through the time range the last event read is: FilterLogEvents returns events in time order.
  const fractionAt = (ms: number | null) => (ms === null ? 0 : endMs > startMs ? (ms - startMs) / (endMs - startMs) : 1);
  let finished = false;
  // The first SIGINT or SIGTERM stops reading after the page in hand, ships what was read and prints
  // where to resume; a second one ends the process at once (events read and not yet sent are then
  // sent by the rerun the last line names, from before them).
  let stopRequested = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopRequested) process.exit(signal === 'SIGINT' ? 130 : 143);
    stopRequested = true;
    log({ level: 'warn', msg: `${signal}: stopping after this page; what was read is sent, and the last line says where to resume` });
  };
  const signals = deps.signals ?? process;
  signals.on('SIGINT', onSignal);
  signals.on('SIGTERM', onSignal);
  try {
    const report = await backfillLogGroup({
      stopRequested: () => stopRequested,
      logGroup,
      startMs,
      endMs,
      ...(flag(args, 'stream-prefix') === undefined ? {} : { streamPrefix: flag(args, 'stream-prefix') as string }),
      ...(pageSize === undefined ? {} : { pageSize }),
      requestsPerSecond: rate,
      filterLogEvents: async (input) => {
        try {
          return await client.send(new FilterLogEventsCommand(input));
        } catch (err) {
          const failure = awsCallError('CloudWatch Logs', endpoint, err);
          // The SDK says only "The specified log group does not exist.": a mistyped cluster in
          // the name, or (as often) a shell whose AWS_REGION is not the cluster's.
          if ((err as { name?: string }).name === 'ResourceNotFoundException') {
            failure.message += ` Check --log-group ${logGroup} (aws logs describe-log-groups --log-group-name-prefix /aws/eks/ lists them) and that AWS_REGION (${clientOptions.region ?? 'unset: the SDK default'}) is the cluster's region.`;
          }
          throw failure;
        }
      },
      settings,
      deps: { log, ...(deps.fetch ? { fetch: deps.fetch } : {}), ...(deps.sleep ? { sleep: deps.sleep } : {}) },
      progress: (p) =>
        progress.update({
          counts: {
            pages: p.pages,
            eventsRead: p.read,
            eventsShipped: p.forwarded,
            eventsFailed: p.failed,
            eventsUnreadable: p.unreadable,
            eventsSkipped: p.skipped,
          },
          fraction: fractionAt(p.lastTimestamp),
          extra: { at: p.lastTimestamp === null ? null : iso(p.lastTimestamp) },
        }),
      now,
      ...(deps.sleep ? { sleep: deps.sleep } : {}),
    });
    const final: ProgressSnapshot = {
      counts: {
        pages: report.pages,
        requests: report.requests,
        eventsRead: report.received,
        eventsShipped: report.forwarded,
        eventsFailed: report.failed,
        eventsUnreadable: report.truncated + report.invalid,
        eventsSkipped: report.skippedEvents,
        salvaged: report.salvaged,
        truncated: report.truncated,
        invalid: report.invalid,
        duplicates: report.duplicates,
      },
      fraction: report.failed > 0 || report.stopped ? fractionAt(report.resumeFromMs) : 1,
      extra: { resumeFrom: report.failed > 0 || report.stopped ? iso(report.resumeFromMs) : null },
    };
    progress.finish(
      final,
      `backfill done: ${count(report.received)} read, ${count(report.forwarded)} forwarded, ${count(report.failed)} failed, ${count(report.salvaged)} salvaged, ${count(report.truncated)} truncated, ${count(report.invalid)} invalid, ${count(report.skippedEvents)} skipped, ${count(report.duplicates)} duplicates, ${count(report.requests)} requests`,
      report.failed > 0 ? 'ERROR' : 'INFO',
    );
    finished = true;
    if (report.stopped) {
      const advice = `backfill: stopped before the end of the range; rerun with --start ${iso(report.resumeFromMs)} to read the rest`;
      if (progress.tty) progress.note(advice);
      else log({ level: 'warn', msg: advice, resumeFrom: iso(report.resumeFromMs) });
      return 130;
    }
    if (report.failed > 0) {
      const advice = `backfill: ${report.failed} events not delivered (${report.samples[0]?.reason ?? 'see the log'}); rerun with --start ${iso(report.resumeFromMs)}`;
      if (progress.tty) progress.note(advice);
      else log({ level: 'error', msg: advice, resumeFrom: iso(report.resumeFromMs) });
      return 1;
    }
    return 0;
  } finally {
    signals.off('SIGINT', onSignal);
    signals.off('SIGTERM', onSignal);
    if (!finished) progress.stop();
    client.destroy();
  }
}
