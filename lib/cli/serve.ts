import { randomBytes, X509Certificate } from 'node:crypto';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from '../config/env.js';
import { DEFAULT_DATA_DIR, withSharedSecret } from '../config/ingest.js';
import { isLoopbackHost, readServeTls, type ServeTlsFiles } from '../config/tls.js';
import { findConsoleAssets } from '../console/assets.js';
import { startIngestServer } from '../ingest/adapters/server.js';
import { loadIngestConfig, withRules } from '../ingest/config.js';
import { LOG_SERVICES, streamLog } from '../log/index.js';
import { ingestPrometheus, metricsAccess } from '../metrics/prometheus.js';
import { GKE_PREFIX, INBOX_PREFIX, INGEST_PREFIX, STATUS_PREFIX, TOKEN_HEADER } from '../protocol.js';
import { EVENT_STORE_FILE } from '../sinks/sqlite.js';
import { flag, parseArgs, portFlag, UsageError } from './args.js';
import { type CommandIo, listenFailure } from './io.js';

const HELP = `Usage: aisoc-k8s-audit serve [--host 127.0.0.1] [--port 8080] [--data-dir DIR] [--dev] [--no-console]
                             [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]] [--insecure]

Runs the ingest API on this machine: the same routes as the ingest Lambda,
  POST ${INGEST_PREFIX}<tenant_id>   (${TOKEN_HEADER}: <shared secret>)
  POST ${GKE_PREFIX}<tenant_id>   (GKE by Pub/Sub push; 503 until K8S_AUDIT_GKE_PUSH names
                                         the tenant: docs/gke.md)
  POST ${INBOX_PREFIX}<token>                  (legacy inbox path)
plus GET ${STATUS_PREFIX}<tenant_id> (with ${TOKEN_HEADER}: what \`aisoc-k8s-audit status\`
prints), GET /healthz, GET /metrics (the ingest's counters in the Prometheus text format, the
same ones the ingest Lambda sends to CloudWatch: docs/deploy.md, "Operating it"; answered to
callers on this machine, and to others with Authorization: Bearer <AISOC_METRICS_TOKEN>) and a
read-only console at /console/ (events, alerts, cluster status; log in with a tenant id and the
shared secret, or in dev mode the console token it keeps in the data dir: docs/console.md). Records go to
EVENTS_SINK (default: the SQLite file in the data dir) and high-severity ones to ALERTS_SINK
(default: the alerts table of the same file). One JSON log line per request goes to stderr
(level from LOG_LEVEL, default INFO). SIGTERM or SIGINT stops accepting, lets in-flight
requests finish and closes the store (Ctrl-C under npm start, which delivers SIGINT twice,
included); another signal a second or more after the first exits at once with 130.

Options:
  --host HOST       address to listen on (default 127.0.0.1)
  --port PORT       port (default 8080; 0 picks a free one)
  --data-dir DIR    where the SQLite file lives (default AISOC_DATA_DIR or .data); created with
                    mode 0700, a wider existing one is reported, one that cannot be created or
                    written stops serve at once (exit 2)
  --dev             development mode (npm start): when K8S_AUDIT_SHARED_SECRET is unset, use a
                    random secret kept in <data-dir>/dev-shared-secret (mode 0600) and print a
                    curl smoke test that reads it from that file (the secret is never printed).
                    Without --dev an unset secret keeps the webhook off (503), as in production.
                    Also keeps a console token (new at each start) in
                    <data-dir>/dev-console-token, which logs in to the console for any tenant.
  --no-console      do not serve /console (it is served only with the SQLite events sink)
  --tls-cert FILE   terminate TLS (1.2 or newer) with this PEM certificate chain (env
                    AISOC_TLS_CERT_FILE); the server then speaks https only
  --tls-key FILE    its PEM private key (env AISOC_TLS_KEY_FILE)
  --tls-client-ca FILE
                    require a client certificate issued by these PEM CAs (mTLS; env
                    AISOC_TLS_CLIENT_CA_FILE)
  --insecure        allow plain http on a non-loopback --host. Without TLS every request's
                    shared secret (${TOKEN_HEADER}) and inbox token (in the path) crosses the
                    network in clear text, so serve refuses that unless told: use it only on a
                    private network you vouch for, or behind a TLS proxy on another address
  --help            show this help

SIGHUP re-reads the certificate, key and client CAs (cert-manager rotates them in place): new
connections get the new certificate, open ones finish on the old; a pair that does not load is
logged and the current one kept.

Configuration comes from the environment, every variable in docs/configuration.md
(K8S_AUDIT_SHARED_SECRET, K8S_AUDIT_MAX_BODY_BYTES, K8S_AUDIT_MAX_BATCH_SIZE, EVENTS_SINK,
ALERTS_SINK, ...); the endpoint: docs/ingest.md; the console: docs/console.md.
`;

/** The dev secret file under the data dir. */
export const DEV_SECRET_FILE = 'dev-shared-secret';
/** The console token of a running `serve --dev`, under the data dir; removed when it stops. */
export const DEV_CONSOLE_TOKEN_FILE = 'dev-console-token';
const DEV_TENANT = 'dev';

/**
 * Writes a credential to a new 0600 file (replacing any), so that the banner can name the file
 * instead of printing the value: whatever keeps `npm start`'s output (a terminal's scrollback, a
 * container's log, a CI job) never holds a credential.
 */
function writePrivateFile(path: string, value: string): void {
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** A path quoted for sh (single quotes; a single quote in it closed, escaped and reopened). */
function shellQuoted(path: string): string {
  return `'${path.replaceAll("'", `'\\''`)}'`;
}

/** Reads the dev secret from the data dir, creating it (mode 0600) on first use. */
export function devSecret(dataDir: string): { secret: string; path: string; created: boolean } {
  const path = join(dataDir, DEV_SECRET_FILE);
  try {
    const existing = readFileSync(path, 'utf8').trim();
    if (existing !== '') return { secret: existing, path, created: false };
  } catch {
    // Not there yet: created below.
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // The connector documentation's recommendation: openssl rand -base64 32.
  const secret = randomBytes(32).toString('base64');
  writePrivateFile(path, secret);
  return { secret, path, created: true };
}

/**
 * `mkdir -p` one level at a time. Node's `mkdirSync(..., { recursive: true })` spins forever when
 * the kernel answers ENOENT for a directory whose parent exists (`/proc/nope`: 98 % CPU, no error).
 */
function makeDirs(path: string): void {
  if (existsSync(path)) return;
  const parent = dirname(path);
  if (parent !== path) makeDirs(parent);
  mkdirSync(path, { mode: 0o700 });
}

/**
 * Creates the data dir (mode 0700: it holds the events and the dev secret) or checks the one
 * there: a path that cannot be created or written is a configuration error named at once, and
 * a directory others can read is reported. Returns the warning, or null.
 */
export function prepareDataDir(dataDir: string): string | null {
  // Checked before the access check: a file there failed X_OK and was reported as EACCES, which
  // sent the user to its permissions instead of to the path.
  if (existsSync(dataDir) && !statSync(dataDir).isDirectory()) {
    throw new ConfigError([`the data dir ${dataDir} is a file, not a directory: give --data-dir (or AISOC_DATA_DIR) a directory`]);
  }
  try {
    makeDirs(resolve(dataDir));
    accessSync(dataDir, constants.W_OK | constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigError([
      `the data dir ${dataDir} cannot be created or written (${code}): give --data-dir (or AISOC_DATA_DIR) a directory this user can write`,
    ]);
  }
  const st = statSync(dataDir);
  if (!st.isDirectory()) throw new ConfigError([`the data dir ${dataDir} is not a directory`]);
  const mode = st.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    return `the data dir ${dataDir} is open to other users (mode ${mode.toString(8).padStart(4, '0')}); it holds the stored events and the dev secret: chmod 700 ${dataDir}`;
  }
  return null;
}

/**
 * The files a start of serve writes in its data dir before its port is bound: the SQLite store
 * with SQLite's side files, and the dev secret. (The console token is written once it listens.)
 */
const START_FILES = [
  EVENT_STORE_FILE,
  `${EVENT_STORE_FILE}-wal`,
  `${EVENT_STORE_FILE}-shm`,
  `${EVENT_STORE_FILE}-journal`,
  DEV_SECRET_FILE,
];

/** What a start found before writing: the outermost directory of the data dir's path it will create (null when the data dir exists), and which START_FILES were there. */
export interface StartState {
  dataDir: string;
  createdRoot: string | null;
  present: ReadonlySet<string>;
}

/** Looks at the data dir before a start writes anything to it (`undoStart` takes the answer). */
export function beforeStart(dataDir: string): StartState {
  const abs = resolve(dataDir);
  let createdRoot: string | null = null;
  for (let p = abs; !existsSync(p); p = dirname(p)) {
    createdRoot = p;
    if (dirname(p) === p) break;
  }
  const present = new Set(createdRoot === null ? START_FILES.filter((f) => existsSync(join(abs, f))) : []);
  return { dataDir: abs, createdRoot, present };
}

/**
 * Removes what a start that failed created (the data dir it made, else the store and dev secret
 * it wrote) and never what was there before: a first-time user whose port was taken finds no
 * store or secret they never used, and an existing store stays as it was.
 */
export function undoStart(state: StartState): void {
  try {
    if (state.createdRoot !== null) rmSync(state.createdRoot, { recursive: true, force: true });
    else for (const f of START_FILES) if (!state.present.has(f)) rmSync(join(state.dataDir, f), { force: true });
  } catch {
    // Best effort: the start's own error is the one the user needs.
  }
}

/**
 * How to run `events` from where this server was started: under `npm start` (the README's way, in
 * a checkout where `aisoc-k8s-audit` is on no PATH) the README's `npm run cli -- events`; else the
 * installed command.
 */
export function eventsCommand(env: Readonly<Record<string, string | undefined>>): string {
  return env.npm_lifecycle_event === 'start' ? 'npm run cli -- events' : 'aisoc-k8s-audit events';
}

/** The connector documentation's curl smoke test against a local URL. */
export function smokeTest(url: string, tenant: string, secretFile: string): string {
  return [
    `curl -X POST ${url}${INGEST_PREFIX}${tenant} \\`,
    // A private CA's certificate is not in curl's bundle.
    ...(url.startsWith('https:') ? ['  --cacert <the CA that issued the --tls-cert certificate> \\'] : []),
    `  -H "Content-Type: application/json" \\`,
    // The secret is read from its file when the command runs: the banner never holds it.
    `  -H "${TOKEN_HEADER}: $(cat ${shellQuoted(secretFile)})" \\`,
    `  -d '{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]}'`,
  ].join('\n');
}

/** The TLS files from the flags, else the environment; null when neither names a certificate or key. */
function serveTlsFiles(args: ReturnType<typeof parseArgs>, env: Readonly<Record<string, string | undefined>>): ServeTlsFiles | null {
  const pick = (flagName: string, envName: string): { path: string; name: string } | null => {
    const fromFlag = flag(args, flagName);
    if (fromFlag !== undefined) return { path: fromFlag, name: `--${flagName}` };
    const fromEnv = env[envName];
    return fromEnv === undefined || fromEnv === '' ? null : { path: fromEnv, name: envName };
  };
  const cert = pick('tls-cert', 'AISOC_TLS_CERT_FILE');
  const key = pick('tls-key', 'AISOC_TLS_KEY_FILE');
  const clientCa = pick('tls-client-ca', 'AISOC_TLS_CLIENT_CA_FILE');
  if (cert === null && key === null) {
    if (clientCa !== null)
      throw new UsageError(`${clientCa.name} needs --tls-cert and --tls-key: client certificates are checked only over TLS`);
    return null;
  }
  if (cert === null || key === null) {
    throw new UsageError('--tls-cert and --tls-key go together (or AISOC_TLS_CERT_FILE and AISOC_TLS_KEY_FILE)');
  }
  return { cert, key, clientCa };
}

/** What a log line may say about a certificate: public facts only. */
function certificateFacts(pem: string): Record<string, string> {
  try {
    const c = new X509Certificate(pem);
    return { subject: c.subject.replace(/\n/g, ', '), not_after: new Date(c.validTo).toISOString(), sha256: c.fingerprint256 };
  } catch {
    return {};
  }
}

/** `aisoc-k8s-audit serve`: the local ingest API until SIGTERM/SIGINT (or `io.signal` aborts). */
export async function run(argv: string[], io: CommandIo & { signal?: AbortSignal }): Promise<number> {
  const args = parseArgs(argv, ['host', 'port', 'data-dir', 'tls-cert', 'tls-key', 'tls-client-ca'], ['dev', 'no-console', 'insecure']);
  if (args.help) {
    io.stdout.write(HELP);
    return 0;
  }
  // `serve -p 9000` (or any stray word) started on 8080 as if it had not been typed.
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
  const dev = args.flags.get('dev') === true;
  const env: Record<string, string | undefined> = { ...io.env };
  const dataDirFlag = flag(args, 'data-dir');
  if (dataDirFlag !== undefined) env.AISOC_DATA_DIR = dataDirFlag;
  const port = portFlag(args, 'port') ?? 8080;
  const host = flag(args, 'host') ?? '127.0.0.1';
  const insecure = args.flags.get('insecure') === true;
  const tlsFiles = serveTlsFiles(args, io.env);
  // Refused before the data dir is touched: a first `serve --host 0.0.0.0` left a store and a dev
  // secret behind that no server ever used.
  if (tlsFiles === null && !isLoopbackHost(host) && !insecure) {
    throw new UsageError(
      `refusing to listen on ${host} without TLS: every request's shared secret (${TOKEN_HEADER}) and inbox token would cross the network in clear text. ` +
        'Give --tls-cert and --tls-key (or AISOC_TLS_CERT_FILE and AISOC_TLS_KEY_FILE), or keep --host 127.0.0.1 behind a TLS proxy on this machine, ' +
        'or pass --insecure for a private network you vouch for',
    );
  }
  const tls = tlsFiles === null ? null : readServeTls(tlsFiles);
  const log = streamLog(io.stderr, LOG_SERVICES.serve, io.env);
  // The store is opened and the dev secret written before the port is bound (the ingest needs
  // them to answer its first request); a start that then fails (the port taken, a bad rules
  // directory) removes what it created, and nothing that was there before.
  const before = beforeStart(env.AISOC_DATA_DIR || DEFAULT_DATA_DIR);
  let devNote: { secret: string; path: string; created: boolean } | undefined;
  let config: Awaited<ReturnType<typeof withRules>>;
  let withConsole: boolean;
  let consoleToken: string | null;
  let server: Awaited<ReturnType<typeof startIngestServer>>;
  try {
    const dataDirWarning = prepareDataDir(env.AISOC_DATA_DIR || DEFAULT_DATA_DIR);
    if (dataDirWarning !== null) io.stderr.write(`warning: ${dataDirWarning}\n`);
    // A secret given by ARN is the operator's choice: dev mode only fills in when neither is set.
    if (dev && (env.K8S_AUDIT_SHARED_SECRET ?? '').trim() === '' && (env.K8S_AUDIT_SHARED_SECRET_ARN ?? '').trim() === '') {
      devNote = devSecret(env.AISOC_DATA_DIR || '.data');
      env.K8S_AUDIT_SHARED_SECRET = devNote.secret;
    }
    config = await withRules(await withSharedSecret(loadIngestConfig(env, { runtime: 'local' })));
    // The console reads the SQLite store, so it is there only when events go to it.
    withConsole = args.flags.get('no-console') !== true && config.eventsSink.kind === 'sqlite';
    consoleToken = withConsole && dev ? randomBytes(24).toString('base64url') : null;
    server = await startIngestServer({
      config,
      host,
      port,
      log,
      tls,
      sinks: { stdout: io.stdout },
      prometheus: ingestPrometheus(),
      metricsAccess: metricsAccess(io.env.AISOC_METRICS_TOKEN),
      ...(withConsole ? { console: { assets: findConsoleAssets(), consoleToken } } : {}),
    }).catch((err: unknown) => {
      // Under `npm start` a flag reaches serve only after `--`.
      const viaNpm = io.env.npm_lifecycle_event === 'start';
      throw listenFailure(err, 'the ingest', {
        host: viaNpm ? '--host (npm start -- --host ADDRESS)' : '--host',
        port: viaNpm ? '--port (npm start -- --port 8081)' : '--port',
        usualHolder: 'a serve or npm start still running?',
      });
    });
  } catch (err) {
    undoStart(before);
    throw err;
  }
  const consoleTokenFile = consoleToken === null ? null : resolve(config.dataDir, DEV_CONSOLE_TOKEN_FILE);
  // Written only once this server listens: a second `npm start` refused the port must not replace
  // the file of the one running (whose console would then refuse the token the file holds).
  if (consoleTokenFile !== null && consoleToken !== null) writePrivateFile(consoleTokenFile, consoleToken);
  if (tls !== null) log({ level: 'info', msg: 'TLS on', ...certificateFacts(tls.cert), client_certificates: tls.clientCa !== null });
  else if (!isLoopbackHost(host)) {
    log({ level: 'warn', msg: `plain http on ${host} (--insecure): shared secrets and inbox tokens cross the network in clear text` });
  }
  if (!isLoopbackHost(host) && (io.env.AISOC_METRICS_TOKEN ?? '').trim() === '') {
    log({ level: 'info', msg: 'GET /metrics answers callers on this machine only: set AISOC_METRICS_TOKEN to scrape it from elsewhere' });
  }
  // cert-manager (and most rotation tools) replace the files in place and expect a reload signal.
  const reload = (): void => {
    if (tlsFiles === null) return;
    try {
      const next = readServeTls(tlsFiles);
      server.setTls(next);
      log({ level: 'info', msg: 'TLS certificate reloaded', ...certificateFacts(next.cert) });
    } catch (err) {
      log({ level: 'error', msg: 'TLS reload failed; keeping the current certificate', error: (err as Error).message });
    }
  };
  // Only with TLS: without it SIGHUP keeps its default (a closed terminal ends the server).
  if (tlsFiles !== null) process.on('SIGHUP', reload);

  const lines = [`aisoc-k8s-audit ingest listening on ${server.url} (${server.service.writer.describe()})`];
  if (config.sharedSecret === null) {
    lines.push('K8S_AUDIT_SHARED_SECRET is unset: the webhook route answers 503 until it is set (or run with --dev).');
  } else if (devNote !== undefined) {
    lines.push(
      `Dev mode: K8S_AUDIT_SHARED_SECRET is unset, so this server uses the secret ${devNote.created ? 'created' : 'kept'} in ${resolve(devNote.path)} (mode 0600; never printed).`,
      '',
      'Smoke test (expect 200 {"accepted":0,"rejected":0,"duplicates":0,"errors":[]}):',
      '',
      smokeTest(server.url, DEV_TENANT, resolve(devNote.path)),
      '',
    );
  }
  if (config.eventsSink.kind === 'sqlite') lines.push(`Stored events: ${eventsCommand(io.env)} --data-dir ${config.dataDir}`);
  if (withConsole) {
    lines.push(
      consoleToken === null
        ? `Console: ${server.url}/console/ (log in with a tenant id and the shared secret)`
        : `Console: ${server.url}/console/ (log in with tenant ${DEV_TENANT} and the console token: cat ${shellQuoted(consoleTokenFile ?? '')}; or the shared secret)`,
    );
  }
  // With the stdout sink, stdout carries records only; the banner goes to stderr.
  (config.eventsSink.kind === 'stdout' || config.alertsSink.kind === 'stdout' ? io.stderr : io.stdout).write(`${lines.join('\n')}\n`);

  // Ctrl-C on `npm start` delivers SIGINT twice: the terminal's, to the whole process group, and
  // the one npm forwards to its script (npm/run-script's signal-manager), which is this process
  // since the script execs it. With a one-shot handler that second SIGINT killed the server
  // mid-close: no "closed" line, the console token file left behind. The signal handlers stay
  // until the server has closed: a repeat within SAME_STOP_MS is that same Ctrl-C and is ignored,
  // a later one exits at once with 130, as `tail`'s second signal does.
  let stoppingSince: number | null = null;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stoppingSince === null) {
      stoppingSince = Date.now();
      log({ level: 'info', msg: 'stopping: in-flight requests finish, then the store closes', signal });
      stopRequested();
    } else if (Date.now() - stoppingSince >= SAME_STOP_MS) {
      log({ level: 'warn', msg: 'second signal; exiting now', signal });
      process.exit(130);
    }
  };
  let stopRequested: () => void = () => {};
  await new Promise<void>((resolve) => {
    stopRequested = resolve;
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    io.signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  process.off('SIGHUP', reload);
  await server.close();
  // The token logs in only while this server runs; its file goes with it.
  if (consoleTokenFile !== null) rmSync(consoleTokenFile, { force: true });
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  return 0;
}

/** How soon after the first stop signal a repeat counts as the same Ctrl-C (the terminal's and npm's copies arrive within milliseconds). */
const SAME_STOP_MS = 1000;
