import { EnvReader } from '../config/env.js';
import { loadShipTls } from '../config/tls.js';
import { INBOX_PREFIX, INGEST_PREFIX } from '../protocol.js';
import { ConnectorConfigError, parseConnectorConfig } from '../tail/connector-config.js';
import { type ConnectionCheck, type ConnectionReport, testConnection } from '../tail/test-connection.js';
import { flag, parseArgs, UsageError } from './args.js';
import { readConnectorFile } from './connector-file.js';
import type { CommandIo } from './io.js';

const HELP = `Usage: aisoc-k8s-audit test-connection --config FILE [--json]

Checks one Kubernetes Audit Logs connector instance, as "Test connection" in the AiSOC UI does.

FILE is JSON or YAML with the connector's fields:
  mode                   webhook | file_tail (required)
  cluster_name           human-readable cluster identifier (required; default: CLUSTER_NAME)
  webhook_route          dedicated | inbox (the legacy inbox-token path); default: inbox when
                         inbox_token is set, else dedicated
  inbox_token            the legacy inbox token (required for webhook_route: inbox)
  audit_log_path         file_tail: default AISOC_TAIL_PATH, else /var/log/kubernetes/audit/audit.log
  cursor_path            file_tail: default AISOC_TAIL_CURSOR, else <audit_log_path>.aisoc-cursor
  poll_interval_seconds  default AISOC_TAIL_INTERVAL_SECONDS, else 300
  ingest_url             the full route https://<host>${INGEST_PREFIX}<tenant_id>
                         (default: AISOC_INGEST_URL)
  shared_secret          the ingest's shared secret (default: K8S_AUDIT_SHARED_SECRET; prefer the
                         variable over writing the secret into the file)
  capabilities           PULL_AUDIT, PULL_ALERTS (the default; nothing else exists)

webhook mode POSTs the connector documentation's empty EventList to the dedicated route with the shared secret
(or to ${INBOX_PREFIX}<token> on the same host for the inbox route): 200 means the route is reachable
and the secret is configured, 503 that the ingest has no K8S_AUDIT_SHARED_SECRET, 401 that the
secrets differ. file_tail mode checks the audit log exists and is readable, the cursor directory
is writable, and, when ingest_url and the secret are known, the dedicated route as above.
The requests go as the shippers' would: plain http only to a loopback address (unless
AISOC_ALLOW_INSECURE_HTTP=true), trusting AISOC_CA_FILE besides the public CAs, with the client
certificate of AISOC_CLIENT_CERT_FILE / AISOC_CLIENT_KEY_FILE when set (docs/tls.md).

Options:
  --config FILE   the connector config (JSON or YAML)
  --json          print the report as JSON
  --help          show this help

Exit status: 0 when every check passed (warnings allowed), 1 when one failed or the config is
invalid, 2 for usage errors or a config file that cannot be read or parsed.
`;

function line(c: ConnectionCheck): string {
  const tag = c.status === 'ok' ? 'ok  ' : c.status === 'warn' ? 'warn' : 'FAIL';
  return `${tag}  ${c.check.padEnd(13)} ${c.message}\n`;
}

function print(io: CommandIo, report: ConnectionReport | (Omit<ConnectionReport, 'mode'> & { mode: null }), json: boolean): void {
  if (json) {
    io.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  for (const c of report.checks) io.stdout.write(line(c));
  io.stdout.write(report.ok ? 'connection ok\n' : 'connection failed\n');
}

/** `aisoc-k8s-audit test-connection`: the connector documentation's "Test connection" from the command line. */
export async function run(argv: string[], io: CommandIo): Promise<number> {
  const args = parseArgs(argv, ['config'], ['json']);
  if (args.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
  const file = flag(args, 'config');
  if (file === undefined) throw new UsageError('--config FILE is required');
  const json = args.flags.has('json');

  let value: unknown;
  try {
    value = await readConnectorFile(file);
  } catch (err) {
    io.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }

  let config: ReturnType<typeof parseConnectorConfig>;
  const warnings: string[] = [];
  try {
    config = parseConnectorConfig(value, { env: io.env, warnings });
  } catch (err) {
    if (!(err instanceof ConnectorConfigError)) throw err;
    const checks: ConnectionCheck[] = err.problems.map((message) => ({ check: 'config', status: 'fail', message }));
    print(io, { ok: false, mode: null, checks }, json);
    return 1;
  }
  // The shippers' TLS settings, so the test trusts (and refuses) what they will.
  const r = new EnvReader(io.env);
  const tls = loadShipTls(r, '');
  if (r.problems.length > 0) {
    print(io, { ok: false, mode: config.mode, checks: r.problems.map((message) => ({ check: 'config', status: 'fail', message })) }, json);
    return 1;
  }
  const tested = await testConnection(config, { tls });
  // A field the mode ignores is shown as a warning first: the test passes, but the user hears of it.
  const report = {
    ...tested,
    checks: [...warnings.map((message): ConnectionCheck => ({ check: 'config', status: 'warn', message })), ...tested.checks],
  };
  print(io, report, json);
  return report.ok ? 0 : 1;
}
