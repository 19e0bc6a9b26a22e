import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EnvReader, notAnHttpUrl } from '../config/env.js';
import { loadShipTls } from '../config/tls.js';
import type { ClusterStatus, TenantStatus } from '../ingest/status.js';
import { CLUSTER_HEADER, STATUS_PREFIX, splitIngestPath, TENANT_ID_PATTERN, TENANT_ID_RULE, TOKEN_HEADER } from '../protocol.js';
import { httpGet } from '../ship/http.js';
import { plainHttpHint, redactToken } from '../ship/post.js';
import { flag, outputFormat, parseArgs, UsageError, withShortOutput } from './args.js';
import { type CommandIo, write } from './io.js';
import { DEV_SECRET_FILE } from './serve.js';
import { type Column, fitted, tableLines } from './table.js';

const HELP = `Usage: aisoc-k8s-audit status [--tenant ID] [--url URL] [-o wide|json] [--json]

Asks a running ingest (\`aisoc-k8s-audit serve\`, \`npm start\`) how a tenant is doing, from its
authenticated route GET ${STATUS_PREFIX}<tenant_id>: the clusters its events came from with
the last event of each, and the events, alerts and rejects of the last hour. Events that arrived
without a cluster name are listed as cluster "(none)" and counted, with what to change.

Options:
  --tenant ID     the tenant (default: the one in AISOC_INGEST_URL)
  --url URL       the ingest's origin (default: the origin of AISOC_INGEST_URL, else
                  http://127.0.0.1:8080)
  -o wide         more columns (events in total, last received)
  -o json, --json the status as the route answers it (one JSON object)
  --help          show this help

The shared secret is sent as ${TOKEN_HEADER}: K8S_AUDIT_SHARED_SECRET, else the dev secret
\`serve --dev\` keeps in <AISOC_DATA_DIR or .data>/${DEV_SECRET_FILE}. It is never printed, and
sent as the shippers send it: never over plain http to a host that is not loopback (unless
AISOC_ALLOW_INSECURE_HTTP=true), over https trusting AISOC_CA_FILE besides the public CAs, with
the client certificate of AISOC_CLIENT_CERT_FILE and AISOC_CLIENT_KEY_FILE when set (docs/tls.md).

Exit status: 0 when the status was printed, 1 when the ingest could not be reached or refused
(401, 404 without the SQLite store), 2 for usage errors.
`;

/** How long `status` waits for the ingest's answer. */
const STATUS_TIMEOUT_MS = 10_000;

// Each column's title, width and value written once, for the header and the rows alike.
// The cluster's name comes first, fitted to the names shown (formatStatus).
const CLUSTER: Column<ClusterStatus> = { title: 'CLUSTER', width: 24, value: (c) => c.cluster_name, empty: '(none)' };
const COLUMNS: readonly Column<ClusterStatus>[] = [
  { title: 'LAST EVENT', width: 25, value: (c) => c.last_event_time },
  { title: 'EVENTS/1H', width: 10, value: (c) => c.events_last_hour },
];
const WIDE_COLUMNS: readonly Column<ClusterStatus>[] = [
  ...COLUMNS,
  { title: 'EVENTS', width: 10, value: (c) => c.events },
  { title: 'LAST RECEIVED', width: 25, value: (c) => c.last_received_at },
];
// The cluster column widens to the longest name, up to EKS's longest (100 characters: the EKS API
// reference, CreateCluster `name`), so two clusters named alike to their last characters
// (`...-payments-blue`, `...-payments-green`) are told apart; a longer name is cut with `…`.
const MAX_CLUSTER_WIDTH = 100;

/** The status as a person reads it: counts, one row per cluster, and what a missing cluster name means. */
export function formatStatus(s: TenantStatus, wide: boolean): string {
  const rejects =
    s.rejected_items_last_hour === null
      ? ''
      : `  rejected items: ${s.rejected_items_last_hour}  refused requests: ${s.refused_requests_last_hour}`;
  const lines = [
    `tenant ${s.tenant}, last hour (received since ${s.window_start}):`,
    `  events: ${s.events_last_hour}  alerts: ${s.alerts_last_hour}  without cluster: ${s.events_without_cluster_last_hour}${rejects}`,
    '',
  ];
  if (s.clusters.length === 0) lines.push('no events stored for this tenant yet');
  else {
    const columns = [fitted(CLUSTER, s.clusters, MAX_CLUSTER_WIDTH), ...(wide ? WIDE_COLUMNS : COLUMNS)];
    lines.push(...tableLines(columns, s.clusters));
  }
  const missing = s.clusters.find((c) => c.cluster_name === null);
  if (missing !== undefined) {
    lines.push(
      '',
      `warning: ${missing.events} events (${missing.events_last_hour} in the last hour) arrived without a cluster name. Set it where they`,
      `come from: ${CLUSTER_HEADER} in the nginx forwarder, CLUSTER_NAME for the forwarder Lambda, --cluster for tail,`,
      'cluster_name for connector run; K8S_AUDIT_REQUIRE_CLUSTER=true makes the ingest refuse such batches (400).',
    );
  }
  if (s.refused_without_cluster_last_hour) {
    lines.push('', `${s.refused_without_cluster_last_hour} requests of the last hour were refused for naming no cluster.`);
  }
  return `${lines.join('\n')}\n`;
}

/** A dev secret `serve --dev` left in the data dir, if any. */
function devSecretIn(dataDir: string): string | undefined {
  try {
    return readFileSync(join(dataDir, DEV_SECRET_FILE), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** `aisoc-k8s-audit status`: a tenant's status from a running ingest. */
export async function run(argv: string[], io: CommandIo & { get?: typeof httpGet }): Promise<number> {
  const args = parseArgs(withShortOutput(argv), ['tenant', 'url', 'output'], ['json']);
  if (args.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
  const output = outputFormat(args);
  let fromEnv: URL | undefined;
  // AISOC_INGEST_URL defaults --tenant and --url; with both given (a flag wins) it is not read.
  if (io.env.AISOC_INGEST_URL && !(args.flags.has('tenant') && args.flags.has('url'))) {
    try {
      fromEnv = new URL(io.env.AISOC_INGEST_URL);
    } catch {
      throw new UsageError(`AISOC_INGEST_URL must be an http(s) URL, got ${notAnHttpUrl(io.env.AISOC_INGEST_URL)}`);
    }
  }
  const tenant = flag(args, 'tenant') ?? splitIngestPath(fromEnv?.pathname ?? '')?.tenant;
  if (tenant === undefined) throw new UsageError('name the tenant: --tenant ID (or set AISOC_INGEST_URL to its ingest route)');
  // `--url localhost:8080` parses, as a URL of the scheme `localhost:` whose origin is "null": it
  // went out as `null/v1/status/...` and failed as unreachable (exit 1) instead of a usage error.
  const urlFlag = flag(args, 'url');
  const base = urlFlag ?? fromEnv?.href ?? 'http://127.0.0.1:8080';
  let parsed: URL | undefined;
  try {
    parsed = new URL(base);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new UsageError(`${urlFlag === undefined ? 'AISOC_INGEST_URL' : '--url'} must be an http(s) URL, got ${notAnHttpUrl(base)}`);
  }
  const origin = parsed.origin;
  const fromVariable = io.env.K8S_AUDIT_SHARED_SECRET?.trim() || undefined;
  const devSecretFile = join(io.env.AISOC_DATA_DIR || '.data', DEV_SECRET_FILE);
  const secret = fromVariable ?? devSecretIn(io.env.AISOC_DATA_DIR || '.data');
  if (secret === undefined) {
    throw new UsageError(
      `set K8S_AUDIT_SHARED_SECRET to the ingest's shared secret (or run serve --dev, whose secret is kept in the data dir)`,
    );
  }

  // Checked here as the ingest checks it, so a bad one is a usage error (exit 2), and the secret
  // typed where the tenant goes is never sent, nor printed in the URL of an error.
  if (!TENANT_ID_PATTERN.test(tenant)) throw new UsageError(`--tenant must match ${TENANT_ID_RULE}`);
  if (tenant === secret) {
    throw new UsageError(`--tenant is the shared secret: name the tenant (the secret is sent as ${TOKEN_HEADER})`);
  }
  const url = `${origin}${STATUS_PREFIX}${encodeURIComponent(tenant)}`;
  // The secret goes as the shippers send it: refused over plain http off loopback unless
  // AISOC_ALLOW_INSECURE_HTTP=true, and over https with their trust (AISOC_CA_FILE) and client
  // certificate (mTLS), so an ingest they reach answers this too (docs/tls.md).
  const env = new EnvReader(io.env);
  const tls = loadShipTls(env, url, '--url (or AISOC_INGEST_URL)');
  if (env.problems.length > 0) throw new UsageError(env.problems.join('; '));
  // `status --url https://…` to `npm start` (plain http) said only ECONNRESET: say why, as
  // test-connection does.
  // ECONNREFUSED alone is what a first `status` after `npm start` was stopped (or before it) said.
  const refused = (code: string | undefined): string =>
    code === 'ECONNREFUSED'
      ? ': nothing listens there: start the ingest (npm start, or aisoc-k8s-audit serve), or give --url its address'
      : '';
  const failed = (code: string | undefined, message: string): Error =>
    new Error(`ingest at ${url}: ${code ?? message}${refused(code)}${plainHttpHint(url, code)}`);
  const res = await (io.get ?? httpGet)(url, { [TOKEN_HEADER]: secret }, STATUS_TIMEOUT_MS, tls);
  if (res.kind === 'unsendable') throw failed(undefined, res.message);
  if (res.kind === 'error') {
    // A timeout is a DOMException, whose `code` is a number (23): said in words instead.
    const e = res.error as Error & { code?: unknown };
    if (e.name === 'TimeoutError' || e.name === 'AbortError') throw failed(undefined, `no answer within ${STATUS_TIMEOUT_MS / 1000} s`);
    throw failed(typeof e.code === 'string' ? e.code : undefined, e.message);
  }
  // A wrong --url (an echo service, a proxy's error page) may send the token header back.
  const text = redactToken(res.text, secret);
  if (res.status < 200 || res.status > 299) {
    let message = text;
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? text;
    } catch {
      // not JSON: the text as it came
    }
    // A 401 says the secret is wrong, not which one was sent: a dev secret left in the data dir by
    // an earlier `npm start` is sent to a serve started with K8S_AUDIT_SHARED_SECRET (docs/deploy.md's
    // sam-local line), and the operator cannot tell why without this.
    const which =
      res.status === 401
        ? fromVariable === undefined
          ? `; this command sent the dev secret in ${resolve(devSecretFile)}: set K8S_AUDIT_SHARED_SECRET to the secret this ingest was started with`
          : '; this command sent K8S_AUDIT_SHARED_SECRET: set it to the secret this ingest was started with'
        : '';
    throw new Error(`ingest at ${url}: ${res.status} ${message}${which}`);
  }
  const status = JSON.parse(text) as TenantStatus;
  await write(io.stdout, output === 'json' ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status, output === 'wide'));
  return 0;
}
