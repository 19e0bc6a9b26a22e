import { readFile } from 'node:fs/promises';
import { EnvReader } from '../config/env.js';
import { MAX_TAIL_INTERVAL_SECONDS, readTailMetrics, readTailShaping } from '../config/tail.js';
import { loadShipTls } from '../config/tls.js';
import { LOG_SERVICES, streamLog } from '../log/index.js';
import { loadDetection } from '../rules/load.js';
import { KubernetesAuditConnector } from '../tail/connector.js';
import { ConnectorConfigError, deliveryProblems, parseConnectorConfig } from '../tail/connector-config.js';
import { fileAtStart } from '../tail/file.js';
import { healthProblem, writeHealthFile } from '../tail/health.js';
import { startTailMetrics, type TailMetricsEndpoint } from '../tail/metrics.js';
import { onceHasMore, type PollResult } from '../tail/poll.js';
import { asksForHelp, envUnderFlags, flag, intFlag, parseArgs, portFlag, UsageError } from './args.js';
import { readConnectorFile } from './connector-file.js';
import { type CommandIo, checkHealthFile, metricsListenFailure, write } from './io.js';

const HELP = `Usage: aisoc-k8s-audit connector run --config FILE [--once] [--interval SECONDS] [--health-file PATH]
                                      [--metrics-port PORT] [--metrics-host HOST]
       aisoc-k8s-audit connector health --health-file PATH [--max-age SECONDS]

run: runs one instance of the Kubernetes Audit Logs connector from its config (the same JSON or
YAML file \`test-connection --config\` reads; fields in \`aisoc-k8s-audit test-connection --help\`),
polling every poll_interval_seconds (300 by default):
  file_tail  each poll reads the audit log forward from the byte cursor (cursor_path, default
             <audit_log_path>.aisoc-cursor) and delivers every complete line to ingest_url, with
             the cursor rules, byte cap and request shaping of \`tail\` (AISOC_TAIL_MAX_BYTES,
             AISOC_TAIL_BATCH_EVENTS, ...); the poll's high-severity events (fetch_alerts, with the
             PULL_ALERTS capability) are printed on stdout, one JSON record per line, scored
             as the ingest scores them: K8S_AUDIT_SEVERITY=spec for the table alone, and
             K8S_AUDIT_RULES for a directory of your own rules (docs/detection-rules.md).
  webhook    events arrive at the ingest route; each poll only reports the instance's health
             (fetch_alerts returns []).
Every poll logs its health as a JSON line on stderr, and --health-file keeps it in a file for
\`connector health\` (a Kubernetes exec probe). SIGTERM or SIGINT ends the current poll (no new
retry starts), saves the cursor and exits 0; a second signal exits at once with 130. Fields the
file leaves out fall back to the variables \`tail\` reads, as \`test-connection\` lists them
(prefer K8S_AUDIT_SHARED_SECRET to writing the secret into the file).

health: exit 0 when the health file's last successful poll is recent enough, else 1 with the
reason on stderr.

Options:
  --config FILE         the connector config (JSON or YAML)
  --once                one poll (file_tail: polls at once while one stops at the byte cap, until
                        the log as found at the start is read), then exit: 0 when they
                        succeeded, 1 when not
  --interval SECONDS    overrides poll_interval_seconds
  --health-file PATH    run: where to keep the health after each poll; health: the file to read
  --metrics-port PORT   run, file_tail: serve GET /metrics in the Prometheus text format on this
                        port, the metrics of \`tail --metrics-port\` (default: AISOC_TAIL_METRICS_PORT;
                        unset serves none; 0 picks a free one)
  --metrics-host HOST   run: the address it listens on (default AISOC_TAIL_METRICS_HOST or 127.0.0.1)
  --max-age SECONDS     health: the oldest acceptable successful poll (default: twice the
                        instance's poll interval plus 60 s)
  --help                show this help

Exit status: 0 success, 1 a failed poll (--once) or stale health, 2 usage or config errors.
`;

/** `aisoc-k8s-audit connector`: run one connector instance from its config, or check its health file. */
export async function run(argv: string[], io: CommandIo & { signal?: AbortSignal; now?: () => number }): Promise<number> {
  const [sub, ...rest] = argv;
  // Help of a subcommand is read by its parser: a help word given as an option's value is not help.
  if (sub === undefined || (sub !== 'run' && sub !== 'health' && asksForHelp(argv))) {
    io.stdout.write(HELP);
    return sub === undefined ? 2 : 0;
  }
  const now = io.now ?? Date.now;
  if (sub === 'health') return health(rest, io, now);
  if (sub !== 'run') throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}: run or health`);

  const args = parseArgs(rest, ['config', 'interval', 'health-file', 'metrics-port', 'metrics-host'], ['once']);
  if (args.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
  const file = flag(args, 'config');
  if (file === undefined) throw new UsageError('--config FILE is required');
  let config: ReturnType<typeof parseConnectorConfig>;
  const warnings: string[] = [];
  try {
    config = parseConnectorConfig(await readConnectorFile(file), { env: io.env, warnings });
  } catch (err) {
    if (err instanceof ConnectorConfigError) throw new UsageError(`${file}: ${err.message}`);
    throw err;
  }
  // A file_tail instance with nowhere to deliver stops here, as `tail` does, not at every poll.
  const undeliverable = deliveryProblems(config);
  if (undeliverable.length > 0) throw new UsageError(`${file}: ${undeliverable.join('; ')}`);
  const intervalSeconds = intFlag(args, 'interval', 1, MAX_TAIL_INTERVAL_SECONDS) ?? config.poll_interval_seconds;
  const healthFile = flag(args, 'health-file');
  checkHealthFile(healthFile);
  const once = args.flags.has('once');
  const log = streamLog(io.stderr, LOG_SERVICES.connector, io.env);
  for (const warning of warnings) log({ level: 'warn', msg: `${file}: ${warning}` });
  // The shippers' transport settings (AISOC_CA_FILE, mTLS, AISOC_ALLOW_INSECURE_HTTP; docs/tls.md).
  // --metrics-port and --metrics-host win over their variables, which are then not read.
  const r = new EnvReader(
    envUnderFlags(io.env, args, { 'metrics-port': 'AISOC_TAIL_METRICS_PORT', 'metrics-host': 'AISOC_TAIL_METRICS_HOST' }),
  );
  r.logLevel();
  const tls = loadShipTls(r, config.mode === 'file_tail' ? (config.ingest_url ?? '') : '');
  // The per-poll cap and request shaping `tail` reads (AISOC_TAIL_MAX_BYTES, ..._BATCH_EVENTS, ...),
  // so one environment tails alike under either command.
  const shaping = readTailShaping(r);
  // The /metrics endpoint `tail` serves (AISOC_TAIL_METRICS_PORT, set in the tailer Deployment), from
  // the same variables and flags, so swapping `tail` for `connector run` keeps the scrape.
  const metricsEnv = readTailMetrics(r);
  r.done();
  const metricsPort = portFlag(args, 'metrics-port') ?? metricsEnv.metricsPort;
  const metricsHost = flag(args, 'metrics-host') ?? metricsEnv.metricsHost;
  // The poll's alerts are scored as the ingest scores them: the same K8S_AUDIT_SEVERITY and
  // K8S_AUDIT_RULES (a directory) as `normalise` reads; a bad value stops the start (exit 2).
  const detection = await loadDetection(io.env);
  let metrics: TailMetricsEndpoint | null = null;
  let lastPoll: PollResult | null = null;
  const connector = new KubernetesAuditConnector(config, {
    log,
    now,
    tls,
    detection,
    shaping,
    intervalSeconds,
    onPoll: (result) => {
      lastPoll = result;
      metrics?.recordPoll(result, config.audit_log_path);
    },
  });
  log({
    msg: 'connector starting',
    mode: config.mode,
    cluster: config.cluster_name,
    interval_s: intervalSeconds,
    ...(config.mode === 'file_tail' ? { path: config.audit_log_path, cursor: config.cursor_path } : {}),
  });

  let stopped = false;
  let wake: (() => void) | null = null;
  const stop = () => {
    stopped = true;
    // As `tail`: no new retry starts, so the poll ends now and the cursor is saved.
    connector.stop();
    wake?.();
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopped) {
      // As `tail`: a second signal exits at once (the first ends a Retry-After wait at once, but a
      // request in flight runs to its timeout); the cursor on disk is always a consistent one, and
      // the lock of a gone pid is taken over.
      log({ level: 'warn', msg: 'second signal; exiting now (the saved cursor is consistent)', signal });
      process.exit(130);
    }
    log({ msg: 'stopping after the current poll', signal });
    stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  io.signal?.addEventListener('abort', stop, { once: true });
  try {
    if (config.mode === 'file_tail') metrics = await startTailMetrics(metricsPort, metricsHost, log).catch(metricsListenFailure);
    else if (metricsPort !== null) {
      // A webhook instance reads no file: the tailer's counters would stay at zero, which a
      // dashboard would take for a healthy idle cluster. Say so instead of serving them.
      log({ level: 'warn', msg: 'webhook mode serves no /metrics (the tailer metrics are file_tail only); the metrics port is ignored' });
    }
    // --once reads what the log holds at the start, as `tail --once` does (onceHasMore).
    const start = once && config.mode === 'file_tail' ? await fileAtStart(config.audit_log_path) : null;
    for (;;) {
      lastPoll = null;
      const { alerts, health } = await connector.fetchAlerts();
      for (const alert of alerts) await write(io.stdout, `${JSON.stringify(alert)}\n`);
      log({ level: health.status === 'error' ? 'error' : 'info', msg: 'poll', alerts: alerts.length, health });
      if (healthFile !== undefined) {
        try {
          await writeHealthFile(healthFile, health, intervalSeconds, now());
        } catch (err) {
          log({ level: 'error', msg: 'cannot write the health file', path: healthFile, error: (err as NodeJS.ErrnoException).code });
        }
      }
      if (once) {
        if (health.status !== 'ok') return 1;
        const polled: PollResult | null = lastPoll;
        if (stopped || polled === null || !onceHasMore(polled, start)) return 0;
        continue;
      }
      // A file_tail poll that stopped at its byte cap goes on at once, as `tail` does.
      const more = health.last_poll?.more === true && health.status === 'ok';
      if (stopped) break;
      if (!more) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, intervalSeconds * 1000);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = null;
      }
      if (stopped) break;
    }
    log({ msg: 'connector stopped', ...(config.mode === 'file_tail' ? { cursor: config.cursor_path } : {}) });
    return 0;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await metrics?.close();
  }
}

async function health(argv: string[], io: CommandIo, now: () => number): Promise<number> {
  const args = parseArgs(argv, ['health-file', 'max-age']);
  if (args.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
  const file = flag(args, 'health-file');
  if (file === undefined) throw new UsageError('--health-file PATH is required');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    io.stderr.write(`unhealthy: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
    return 1;
  }
  const problem = healthProblem(text, now(), intFlag(args, 'max-age', 1));
  if (problem !== null) {
    io.stderr.write(`unhealthy: ${problem}\n`);
    return 1;
  }
  io.stdout.write('healthy\n');
  return 0;
}
