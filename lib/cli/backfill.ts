import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { backfillLogGroup, DEFAULT_BACKFILL_REQUESTS_PER_SECOND, MAX_FILTER_PAGE_SIZE } from '../cloudwatch/backfill.js';
import { clusterFromLogGroup } from '../cloudwatch/eks.js';
import { awsCallError, awsClientOptions, awsEndpointOf, loadForwarderSettings } from '../config/forwarder.js';
import { LOG_SERVICES, streamLog } from '../log/index.js';
import { flag, intFlag, parseArgs, parseTime, UsageError } from './args.js';
import type { CommandIo, ShippingCommandDeps } from './io.js';

/** Injectable pieces of the command, for tests. */
export type BackfillDeps = ShippingCommandDeps;

const HELP = `Usage: aisoc-k8s-audit backfill --log-group /aws/eks/<cluster>/cluster --start TIME [--end TIME] [options]

Replays a time range of an EKS control-plane log group into the AiSOC ingest: reads the
apiserver audit streams with CloudWatch Logs FilterLogEvents, page by page (following nextToken,
so no event that shares a millisecond with another is lost), and ships every audit line as the
forwarder Lambda does. Safe to run over a range that was already delivered: the ingest drops
repeats (same auditID and stage) as duplicates.

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
  --help                 show this help

Environment: AISOC_INGEST_URL and K8S_AUDIT_SHARED_SECRET (or K8S_AUDIT_SHARED_SECRET_ARN), as for
the forwarder Lambda; the AWS credentials and region of the SDK's default chain.

Progress goes to stderr, one line per page; log lines are JSON. Exit status: 0 when every audit
line was delivered (truncated and invalid lines are counted and logged), 1 when some were not
(the last line says which --start to rerun from), 2 for usage errors.
`;

export { parseTime };

/** `aisoc-k8s-audit backfill`: a log group's time range, through lib/ship, to the ingest. */
export async function run(argv: string[], io: CommandIo, deps: BackfillDeps = {}): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(HELP);
    return 0;
  }
  const args = parseArgs(argv, ['log-group', 'start', 'end', 'stream-prefix', 'cluster', 'rate', 'page-size']);
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

  const loaded = await loadForwarderSettings(io.env, ...(deps.readSecret ? [deps.readSecret] : []));
  const cluster = flag(args, 'cluster');
  const settings = cluster === undefined ? loaded : { ...loaded, clusterName: cluster };
  const log = streamLog(io.stderr, LOG_SERVICES.backfill, io.env);
  if (settings.clusterName === null && clusterFromLogGroup(logGroup) === null) {
    log({ level: 'warn', msg: 'no cluster name: the log group is not /aws/eks/<cluster>/cluster; pass --cluster' });
  }
  const clientOptions = awsClientOptions(io.env, 'CLOUDWATCH_LOGS');
  const endpoint = awsEndpointOf(clientOptions, 'logs');
  const client = new CloudWatchLogsClient(clientOptions);
  const iso = (ms: number | null): string => (ms === null ? '-' : new Date(ms).toISOString());
  try {
    const report = await backfillLogGroup({
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
          throw awsCallError('CloudWatch Logs', endpoint, err);
        }
      },
      settings,
      deps: { log, ...(deps.fetch ? { fetch: deps.fetch } : {}), ...(deps.sleep ? { sleep: deps.sleep } : {}) },
      progress: (p) =>
        io.stderr.write(
          `backfill: page ${p.pages}, ${p.read} events read, ${p.forwarded} forwarded, ${p.failed} failed, at ${iso(p.lastTimestamp)}\n`,
        ),
      now,
      ...(deps.sleep ? { sleep: deps.sleep } : {}),
    });
    io.stderr.write(
      `backfill done: ${report.received} read, ${report.forwarded} forwarded, ${report.failed} failed, ${report.truncated} truncated, ${report.invalid} invalid, ${report.skippedEvents} skipped, ${report.duplicates} duplicates, ${report.requests} requests\n`,
    );
    if (report.failed > 0) {
      io.stderr.write(
        `backfill: ${report.failed} events not delivered (${report.samples[0]?.reason ?? 'see the log'}); rerun with --start ${iso(report.resumeFromMs)}\n`,
      );
      return 1;
    }
    return 0;
  } finally {
    client.destroy();
  }
}
