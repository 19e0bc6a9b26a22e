import { hostname } from 'node:os';
import { DEFAULT_TAIL_BATCH_EVENTS, DEFAULT_TAIL_CONCURRENCY } from '../config/defaults.js';
import { loggableUrl } from '../config/env.js';
import { senderClusterProblem, shortSecretWarning } from '../config/secret.js';
import { loadTailConfig, MAX_TAIL_INTERVAL_SECONDS } from '../config/tail.js';
import { LOG_SERVICES, streamLog } from '../log/index.js';
import { INGEST_PREFIX, TOKEN_HEADER } from '../protocol.js';
import { CONNECTOR_ENV, ConnectorConfigError, defaultCursorPath, parseConnectorConfig } from '../tail/connector-config.js';
import { fileAtStart } from '../tail/file.js';
import { HealthTracker, summarisePoll, writeHealthFile } from '../tail/health.js';
import { startTailMetrics, type TailMetricsEndpoint } from '../tail/metrics.js';
import { onceHasMore, type PollResult } from '../tail/poll.js';
import { PollRetryBudget, tailShipper } from '../tail/ship.js';
import { FileTailer } from '../tail/tailer.js';
import { envUnderFlags, flag, parseArgs, portFlag, UsageError } from './args.js';
import { readConnectorFile } from './connector-file.js';
import { type CommandIo, checkHealthFile, metricsListenFailure } from './io.js';

const HELP = `Usage: aisoc-k8s-audit tail [--config FILE] [--path FILE] [--cursor FILE] [--cluster NAME]
                            [--interval SECONDS] [--once] [--health-file PATH]
                            [--metrics-port PORT] [--metrics-host HOST]

Tails a kube-apiserver audit log (--audit-log-path) and delivers every complete line to the
AiSOC ingest route as audit.k8s.io/v1 EventLists: the connector's file_tail mode.

Each poll reads forward from a byte cursor, at most AISOC_TAIL_MAX_BYTES (default 8 MiB). A
final line without a newline is still being written and waits for the next poll. The cursor
moves only past lines the ingest accepted, and is written atomically, so a crash or restart
repeats at most one poll's events (the ingest drops repeats as duplicates). A truncated file
(copytruncate) is read again from the top; after a rename rotation the previous file is first
read to its end under its backup name (audit-<timestamp>.log). Lines that are not audit events,
and single lines longer than the per-poll cap, are counted, logged and passed over.

Options:
  --config FILE       a file_tail connector config (JSON or YAML, as \`connector run\` and
                      \`test-connection\` read it): audit_log_path, cursor_path, cluster_name,
                      poll_interval_seconds, ingest_url and shared_secret win over their variables
                      below (which fill what the file leaves out); the flags win over both
  --path FILE         the audit log (default: AISOC_TAIL_PATH; with --config, then the connector's
                      default /var/log/kubernetes/audit/audit.log)
  --cursor FILE       the cursor file (default: AISOC_TAIL_CURSOR, else <path>.aisoc-cursor)
  --cluster NAME      cluster name stamped on every event (default: CLUSTER_NAME, else the host name)
  --interval SECONDS  seconds between polls, 0.01 to 86400, decimals allowed (default:
                      AISOC_TAIL_INTERVAL_SECONDS or 300); a poll that stopped at the byte cap is
                      followed at once by the next
  --once              read what the audit log holds now (polling at once while a poll stops at
                      the byte cap) and exit: 0 when every complete line read was delivered (or
                      passed over as invalid), 1 when some could not be delivered
  --health-file PATH  keep the health after each poll in PATH, for
                      \`aisoc-k8s-audit connector health --health-file PATH\` (the Deployment's probes)
  --metrics-port PORT serve GET /metrics in the Prometheus text format on this port (default:
                      AISOC_TAIL_METRICS_PORT; unset serves none; 0 picks a free one): lines read,
                      shipped and passed over, polls and failed polls, cursor lag in bytes, the
                      time of the last successful poll
  --metrics-host HOST the address it listens on (default AISOC_TAIL_METRICS_HOST or 127.0.0.1;
                      0.0.0.0 in a pod, so Prometheus can reach it)
  --help              show this help

Environment:
  AISOC_INGEST_URL          required: the full route, https://<host>${INGEST_PREFIX}<tenant_id>
  K8S_AUDIT_SHARED_SECRET   required: sent as ${TOKEN_HEADER} (never logged)
  CLUSTER_NAME              cluster name when --cluster is not given
  AISOC_TAIL_MAX_BYTES      bytes read per poll at most (default 8388608)
  AISOC_TAIL_BATCH_EVENTS   events per request at most (default ${DEFAULT_TAIL_BATCH_EVENTS}, the ingest's default cap;
                            a lower cap on the ingest is met by halving a batch it answers 413)
  AISOC_TAIL_CONCURRENCY    batches in flight at once (default ${DEFAULT_TAIL_CONCURRENCY}, 1 to 16); the cursor still stops
                            before the first event not accepted
  AISOC_TAIL_MAX_BODY_BYTES, AISOC_TAIL_GZIP, AISOC_TAIL_REQUEST_TIMEOUT_MS   request shaping
  LOG_LEVEL                 DEBUG, INFO (default), WARN or ERROR

Log lines go to stderr, one JSON object per line (one "poll" line per poll). SIGTERM or SIGINT
finishes the current poll, saves the cursor and exits 0; a second signal exits at once (the
cursor on disk is always a consistent one). One cursor has one tailer: a tail started on the
cursor of one that runs exits 1 at once, naming its pid (.<cursor>.lock beside the cursor).
`;

/** Shortest pause between polls --interval takes (tests poll fast); 0 would poll in a busy loop. */
const MIN_INTERVAL_MS = 10;

/** Process hooks, injectable so tests can send signals without touching the real process. */
export interface TailDeps {
  signals?: Pick<NodeJS.Process, 'on' | 'off'>;
  exit?: (code: number) => void;
  now?: () => number;
}

/**
 * The environment with a connector config file's fields over it, as `connector run` and
 * `test-connection` read the same file: a field the file sets wins, a variable fills what the
 * file leaves out, and the flags win over both. So `test-connection --config` checks exactly what
 * `tail --config` will use. A field the file leaves out is not given its connector default here
 * (a cursor beside the file's log path would follow a log path a flag changed), except the log
 * path itself when no variable names one either.
 */
async function envWithConnectorFile(file: string, env: CommandIo['env'], warnings: string[]): Promise<Record<string, string | undefined>> {
  let raw: unknown;
  let c: ReturnType<typeof parseConnectorConfig>;
  try {
    raw = await readConnectorFile(file);
    c = parseConnectorConfig(raw, { env, warnings });
  } catch (err) {
    if (err instanceof ConnectorConfigError) throw new UsageError(`${file}: ${err.message}`);
    throw err;
  }
  if (c.mode !== 'file_tail') {
    throw new UsageError(
      `${file}: mode is ${c.mode}; tail reads an audit log file (mode: file_tail), a webhook connector is the apiserver's to feed`,
    );
  }
  const sets = (field: string): boolean => {
    const v = (raw as Record<string, unknown>)[field];
    return v !== undefined && v !== null && String(v).trim() !== '';
  };
  // The field-to-variable table parseConnectorConfig falls back along, so both read one mapping.
  const fromFile: [keyof typeof CONNECTOR_ENV, string | null][] = [
    ['ingest_url', c.ingest_url],
    ['shared_secret', c.shared_secret],
    ['cluster_name', c.cluster_name],
    ['audit_log_path', c.audit_log_path],
    ['cursor_path', c.cursor_path],
    ['poll_interval_seconds', String(c.poll_interval_seconds)],
  ];
  const out: Record<string, string | undefined> = { ...env };
  for (const [field, value] of fromFile) if (sets(field) && value !== null) out[CONNECTOR_ENV[field]] = value;
  // The log path is the one connector default given here: with neither the file nor the variable
  // naming one, `connector run` and `test-connection` use /var/log/kubernetes/audit/audit.log (the
  // connector documentation's default), so `tail --config` does too instead of asking for --path.
  if (out.AISOC_TAIL_PATH === undefined || out.AISOC_TAIL_PATH.trim() === '') out.AISOC_TAIL_PATH = c.audit_log_path;
  return out;
}

function parseInterval(value: string | undefined, fallbackSeconds: number): number {
  if (value === undefined) return fallbackSeconds * 1000;
  const ms = /^\d+(\.\d+)?$/.test(value) ? Math.round(Number(value) * 1000) : Number.NaN;
  // 0 polled back to back (a busy loop on the file), which no one means; 86,400 is the variable's cap.
  if (!(ms >= MIN_INTERVAL_MS && ms <= MAX_TAIL_INTERVAL_SECONDS * 1000)) {
    throw new UsageError(
      `--interval must be a number of seconds from ${MIN_INTERVAL_MS / 1000} to ${MAX_TAIL_INTERVAL_SECONDS}, got ${JSON.stringify(value)}`,
    );
  }
  return ms;
}

/** Each flag of `tail` that a variable defaults (its help says which). */
const TAIL_FLAG_VARIABLES = {
  path: 'AISOC_TAIL_PATH',
  cursor: 'AISOC_TAIL_CURSOR',
  cluster: 'CLUSTER_NAME',
  interval: 'AISOC_TAIL_INTERVAL_SECONDS',
  'metrics-port': 'AISOC_TAIL_METRICS_PORT',
  'metrics-host': 'AISOC_TAIL_METRICS_HOST',
} as const;

/** `aisoc-k8s-audit tail`: the file_tail mode as a long-running command (or one poll with --once). */
export async function run(argv: string[], io: CommandIo, deps: TailDeps = {}): Promise<number> {
  const args = parseArgs(
    argv,
    ['config', 'path', 'cursor', 'cluster', 'interval', 'health-file', 'metrics-port', 'metrics-host'],
    ['once'],
  );
  if (args.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
  const configFile = flag(args, 'config');
  const warnings: string[] = [];
  const merged = configFile === undefined ? io.env : await envWithConnectorFile(configFile, io.env, warnings);
  // A flag wins over its variable and the file's value alike: what it replaces is not read.
  const config = loadTailConfig(envUnderFlags(merged, args, TAIL_FLAG_VARIABLES));
  const path = flag(args, 'path') ?? config.path;
  if (path === null || path === '') throw new UsageError('--path is required (or set AISOC_TAIL_PATH)');
  const cursorPath = flag(args, 'cursor') ?? config.cursorPath ?? defaultCursorPath(path);
  const intervalMs = parseInterval(flag(args, 'interval'), config.intervalSeconds);
  const once = args.flags.has('once');
  const now = deps.now ?? Date.now;
  const metricsPort = portFlag(args, 'metrics-port') ?? config.metricsPort;
  const metricsHost = flag(args, 'metrics-host') ?? config.metricsHost;

  const log = streamLog(io.stderr, LOG_SERVICES.tail, io.env);
  for (const warning of warnings) log({ level: 'warn', msg: `${configFile}: ${warning}` });
  // Without --config the connector config's check of the secret's length (above) did not run.
  const short = configFile === undefined ? shortSecretWarning(config.token, 'K8S_AUDIT_SHARED_SECRET') : null;
  if (short !== null) log({ level: 'warn', msg: short });

  const clusterFlag = flag(args, 'cluster');
  const clusterProblem = senderClusterProblem(clusterFlag, config.token, '--cluster');
  if (clusterProblem !== null) throw new UsageError(clusterProblem);
  let cluster = clusterFlag ?? config.clusterName;
  if (cluster === null || cluster === '') {
    cluster = hostname();
    log({ level: 'warn', msg: 'neither --cluster nor CLUSTER_NAME is set; using the host name as the cluster name', cluster });
  }

  const stop = { requested: false, wake: null as (() => void) | null };
  const budget = new PollRetryBudget(intervalMs, now);
  const { ship, isOversize } = tailShipper({
    url: config.ingestUrl,
    token: config.token,
    tls: config.tls,
    clusterName: cluster,
    maxBodyBytes: config.maxBodyBytes,
    maxEventsPerBatch: config.batchEvents,
    concurrency: config.concurrency,
    gzip: config.gzip,
    requestTimeoutMs: config.requestTimeoutMs,
    // Once a stop is asked for, no new retry starts: the poll ends and the cursor is saved.
    remainingTimeMs: budget.remainingTimeMs,
    // ...and a backoff wait in progress (a Retry-After) ends at once.
    signal: budget.signal,
    log,
  });
  const tailer = new FileTailer({ logPath: path, cursorPath, maxBytes: config.maxBytes, ship, isOversize, log, now });
  const healthFile = flag(args, 'health-file');
  checkHealthFile(healthFile);
  const tracker = new HealthTracker('file_tail', cluster, 'tail: each poll reads the audit log forward from the byte cursor');

  const signals = deps.signals ?? process;
  const exit = deps.exit ?? ((code: number) => process.exit(code));
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stop.requested) {
      log({ level: 'warn', msg: 'second signal; exiting now (the saved cursor is consistent)', signal });
      exit(130);
      return;
    }
    stop.requested = true;
    budget.stop();
    log({ msg: 'stopping after the current poll', signal });
    stop.wake?.();
  };
  signals.on('SIGTERM', onSignal);
  signals.on('SIGINT', onSignal);

  log({
    msg: 'tail starting',
    path,
    cursor: cursorPath,
    cluster,
    interval_s: intervalMs / 1000,
    max_bytes: config.maxBytes,
    ingest: loggableUrl(config.ingestUrl),
    once,
  });

  let metrics: TailMetricsEndpoint | null = null;
  const pollOnce = async (): Promise<PollResult> => {
    budget.startPoll();
    const result = await tailer.poll();
    const summary = summarisePoll(result);
    log({ level: result.error === null ? 'info' : 'error', msg: 'poll', path, ...summary, error: result.error });
    metrics?.recordPoll(result, path);
    if (healthFile !== undefined) {
      tracker.record(result.startedAt, result.error, summary);
      try {
        await writeHealthFile(healthFile, tracker.snapshot(), intervalMs / 1000, now());
      } catch (err) {
        log({ level: 'error', msg: 'cannot write the health file', path: healthFile, error: (err as NodeJS.ErrnoException).code });
      }
    }
    return result;
  };

  try {
    // A second tailer on this cursor is refused before it reads anything, naming the one running.
    const refused = await tailer.claim();
    if (refused !== null) {
      log({ level: 'error', msg: 'tail refused: the cursor is held by another tailer', cursor: cursorPath, error: refused });
      return 1;
    }
    metrics = await startTailMetrics(metricsPort, metricsHost, log).catch(metricsListenFailure);
    if (once) {
      // --once reads what the log holds at its start, not just one poll's cap of it: a poll that
      // stopped at the byte cap (a line longer than the cap and the lines after it, a backlog over
      // 8 MiB) is followed at once by the next, as the long-running loop does, until the file as
      // it was found is read (onceHasMore), a poll fails, or a signal stops it.
      const start = await fileAtStart(path);
      for (;;) {
        const result = await pollOnce();
        if (!result.complete) return 1;
        if (stop.requested || !onceHasMore(result, start)) return 0;
      }
    }
    while (!stop.requested) {
      const result = await pollOnce();
      if (stop.requested) break;
      if (result.more && result.error === null) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs);
        stop.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      stop.wake = null;
    }
    log({ msg: 'tail stopped; cursor saved', cursor: cursorPath });
    return 0;
  } finally {
    signals.off('SIGTERM', onSignal);
    signals.off('SIGINT', onSignal);
    await metrics?.close();
    await tailer.close();
  }
}
