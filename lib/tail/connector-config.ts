import { isAbsolute } from 'node:path';
import { noteSecretAsTenant, readSharedSecret, secretAsClusterProblem, shortSecretWarning } from '../config/secret.js';
import { MAX_TAIL_INTERVAL_SECONDS } from '../config/tail.js';
import { closestName } from '../edit-distance.js';
import { isJsonObject } from '../json.js';
import { INGEST_PREFIX, isTenantRoutePath, SENDER_CLUSTER_NAME, SENDER_CLUSTER_NAME_RULE } from '../protocol.js';

/** The connector documentation's two delivery modes; one per connector instance. */
export const CONNECTOR_MODES = ['webhook', 'file_tail'] as const;
export type ConnectorMode = (typeof CONNECTOR_MODES)[number];

/** Which webhook route the apiserver is pointed at: the dedicated route, or the legacy inbox. */
export const WEBHOOK_ROUTES = ['dedicated', 'inbox'] as const;
export type WebhookRoute = (typeof WEBHOOK_ROUTES)[number];

/** The connector documentation's capability table: audit logs are passive, so there is no BLOCK / ISOLATE. */
export const CONNECTOR_CAPABILITIES = ['PULL_AUDIT', 'PULL_ALERTS'] as const;
export type ConnectorCapability = (typeof CONNECTOR_CAPABILITIES)[number];

/** The connector documentation: "Audit log path: /var/log/kubernetes/audit/audit.log (default)". */
export const DEFAULT_AUDIT_LOG_PATH = '/var/log/kubernetes/audit/audit.log';
/** The connector documentation: "Default poll interval: 300 seconds (overrideable per instance)". */
export const DEFAULT_POLL_INTERVAL_SECONDS = 300;
/** The connector documentation: the cursor "defaults to <audit_log_path>.aisoc-cursor". */
export const CURSOR_SUFFIX = '.aisoc-cursor';

/** The cursor file used when none is configured: `<audit_log_path>.aisoc-cursor`. */
export function defaultCursorPath(auditLogPath: string): string {
  return `${auditLogPath}${CURSOR_SUFFIX}`;
}

/**
 * One connector instance, as the connector documentation's "Add connector" form describes it, validated. Field
 * names are the connector documentation's (`cluster_name`, `inbox_token`, `audit_log_path`, ...). `ingest_url` and
 * `shared_secret` say where the connector itself delivers (file_tail) and what test-connection
 * checks. A field the file leaves out falls back to its variable (`CONNECTOR_ENV`), then to the
 * connector default.
 */
export interface ConnectorConfig {
  readonly mode: ConnectorMode;
  readonly cluster_name: string;
  /** webhook mode: `dedicated` (POST /v1/ingest/k8s-audit/<tenant>) or the legacy `inbox` path. */
  readonly webhook_route: WebhookRoute;
  /** The legacy inbox token (required for the inbox route; never logged). */
  readonly inbox_token: string | null;
  readonly audit_log_path: string;
  readonly cursor_path: string;
  readonly poll_interval_seconds: number;
  /** The full dedicated route, `https://<host>/v1/ingest/k8s-audit/<tenant_id>`. */
  readonly ingest_url: string | null;
  /** The installation-wide secret sent as X-AiSOC-K8s-Token (never logged). */
  readonly shared_secret: string | null;
  readonly capabilities: readonly ConnectorCapability[];
}

/** One or more invalid fields of a connector config, all named in one message. */
export class ConnectorConfigError extends Error {
  override name = 'ConnectorConfigError';
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

const KNOWN_FIELDS = new Set([
  'mode',
  'cluster_name',
  'webhook_route',
  'inbox_token',
  'audit_log_path',
  'cursor_path',
  'poll_interval_seconds',
  'ingest_url',
  'shared_secret',
  'capabilities',
]);

// Sent as the X-AiSOC-Cluster-Name header and shown in the UI: printable ASCII, trimmed.

function isBlank(v: unknown): boolean {
  return v === undefined || v === null || (typeof v === 'string' && v.trim() === '');
}

/**
 * The variable each field falls back to when the config file leaves it out (blank counts as left
 * out): the variables `tail` reads, so `tail --config`, `connector run --config` and
 * `test-connection --config` resolve the same file and environment to the same instance. The
 * file_tail fields' variables apply in file_tail mode only.
 */
export const CONNECTOR_ENV = {
  cluster_name: 'CLUSTER_NAME',
  audit_log_path: 'AISOC_TAIL_PATH',
  cursor_path: 'AISOC_TAIL_CURSOR',
  poll_interval_seconds: 'AISOC_TAIL_INTERVAL_SECONDS',
  ingest_url: 'AISOC_INGEST_URL',
  shared_secret: 'K8S_AUDIT_SHARED_SECRET',
} as const;
type EnvBackedField = keyof typeof CONNECTOR_ENV;

/** Where a field's fallback comes from when the config file leaves it out. */
export interface ConnectorConfigDefaults {
  /** The environment of the entry point (the variables of `CONNECTOR_ENV`). */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Receives what is valid but likely not meant (a field of the other mode, which that mode
   * ignores), for the command to show as a warning; without it they are not reported.
   */
  warnings?: string[];
}

/** The fields only one mode reads: set in the other mode, they are ignored, which a user should hear. */
const MODE_ONLY_FIELDS: Readonly<Record<ConnectorMode, readonly string[]>> = {
  webhook: ['webhook_route', 'inbox_token'],
  file_tail: ['audit_log_path', 'cursor_path'],
};

/**
 * Validates a connector config (as read from JSON or YAML) and applies the connector documentation's defaults.
 * Throws one `ConnectorConfigError` naming every invalid field.
 */
export function parseConnectorConfig(value: unknown, defaults: ConnectorConfigDefaults = {}): ConnectorConfig {
  if (!isJsonObject(value)) {
    throw new ConnectorConfigError(['the connector config must be an object (a JSON object or a YAML mapping)']);
  }
  const v = value as Record<string, unknown>;
  const env = defaults.env ?? {};
  const problems: string[] = [];

  for (const key of Object.keys(v)) {
    if (KNOWN_FIELDS.has(key)) continue;
    const near = closestName(key, KNOWN_FIELDS);
    problems.push(
      near === null
        ? `unknown field ${JSON.stringify(key)} (the fields are ${[...KNOWN_FIELDS].join(', ')})`
        : `unknown field ${JSON.stringify(key)}: did you mean ${near}?`,
    );
  }

  let mode: ConnectorMode = 'webhook';
  if (isBlank(v.mode)) problems.push(`mode is required (${CONNECTOR_MODES.join(' or ')})`);
  else if (!CONNECTOR_MODES.includes(v.mode as ConnectorMode)) {
    problems.push(`mode must be ${CONNECTOR_MODES.join(' or ')}, got ${JSON.stringify(v.mode)}`);
  } else mode = v.mode as ConnectorMode;
  if (mode === v.mode) {
    const other = mode === 'webhook' ? 'file_tail' : 'webhook';
    for (const field of MODE_ONLY_FIELDS[other]) {
      if (!isBlank(v[field])) defaults.warnings?.push(`${field} is ignored in ${mode} mode (only ${other} mode reads it)`);
    }
  }

  // The file's value, else its variable's (file_tail's variables only in file_tail mode), and which
  // of the two the problems should name.
  const pick = (field: EnvBackedField, fileTailOnly = false): { raw: unknown; source: string } => {
    if (!isBlank(v[field]) || (fileTailOnly && mode !== 'file_tail')) return { raw: v[field], source: field };
    return { raw: env[CONNECTOR_ENV[field]], source: CONNECTOR_ENV[field] };
  };

  let clusterName = '';
  const cluster = pick('cluster_name');
  if (isBlank(cluster.raw)) {
    problems.push('cluster_name is required (a human-readable cluster identifier, e.g. prod-eks-us-east-1; or set CLUSTER_NAME)');
  } else if (typeof cluster.raw !== 'string' || !SENDER_CLUSTER_NAME.test(cluster.raw)) {
    problems.push(`${cluster.source} must be ${SENDER_CLUSTER_NAME_RULE}`);
  } else clusterName = cluster.raw;

  let inboxToken: string | null = null;
  if (!isBlank(v.inbox_token)) {
    if (typeof v.inbox_token !== 'string') problems.push('inbox_token must be a string');
    else inboxToken = v.inbox_token.trim();
  }

  let route: WebhookRoute = inboxToken === null ? 'dedicated' : 'inbox';
  if (!isBlank(v.webhook_route)) {
    if (!WEBHOOK_ROUTES.includes(v.webhook_route as WebhookRoute)) {
      problems.push(`webhook_route must be ${WEBHOOK_ROUTES.join(' or ')}, got ${JSON.stringify(v.webhook_route)}`);
    } else route = v.webhook_route as WebhookRoute;
  }
  if (mode === 'webhook' && route === 'inbox' && inboxToken === null) problems.push('inbox_token is required in webhook mode');

  const path = (field: 'audit_log_path' | 'cursor_path', fallback: string): string => {
    const { raw, source } = pick(field, true);
    if (isBlank(raw)) return fallback;
    if (typeof raw !== 'string') {
      problems.push(`${source} must be a string`);
      return fallback;
    }
    if (!isAbsolute(raw.trim())) problems.push(`${source} must be an absolute path, got ${JSON.stringify(raw)}`);
    return raw.trim();
  };
  const auditLogPath = path('audit_log_path', DEFAULT_AUDIT_LOG_PATH);
  const cursorPath = path('cursor_path', defaultCursorPath(auditLogPath));

  let interval = DEFAULT_POLL_INTERVAL_SECONDS;
  const poll = pick('poll_interval_seconds');
  if (!isBlank(poll.raw)) {
    const raw = poll.raw;
    const n = typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : raw;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_TAIL_INTERVAL_SECONDS) {
      problems.push(`${poll.source} must be an integer between 1 and ${MAX_TAIL_INTERVAL_SECONDS}, got ${JSON.stringify(raw)}`);
    } else interval = n;
  }

  let ingestUrl: string | null = null;
  const { raw: rawUrl, source: urlSource } = pick('ingest_url');
  if (!isBlank(rawUrl)) {
    if (typeof rawUrl !== 'string') problems.push(`${urlSource} must be a string`);
    else {
      try {
        const u = new URL(rawUrl.trim());
        if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http');
        // As `tail` reads AISOC_INGEST_URL (readTenantRouteUrl): the connector ships to this URL and
        // logs it with every failed batch, so the inbox's /v1/inbox/<token> would put the token there.
        if (isTenantRoutePath(u.pathname)) ingestUrl = rawUrl.trim();
        else problems.push(`${urlSource} must be the full tenant route, ending in ${INGEST_PREFIX}<tenant_id>`);
      } catch {
        problems.push(`${urlSource} must be an http(s) URL (the full ${INGEST_PREFIX}<tenant_id> route)`);
      }
    }
  }

  let secret: string | null = null;
  const { raw: rawSecret, source: secretSource } = pick('shared_secret');
  if (!isBlank(rawSecret)) {
    if (typeof rawSecret !== 'string') problems.push('shared_secret must be a string');
    else secret = readSharedSecret(rawSecret, secretSource, problems);
  }
  const short = shortSecretWarning(secret, secretSource);
  if (short !== null) defaults.warnings?.push(short);
  // As tail and the forwarder refuse it: a cluster name is logged on every line, kept in the health
  // and stored with every record, so the secret written there would be in all of them.
  const clusterSecret = secretAsClusterProblem(clusterName, secret, cluster.source);
  if (clusterSecret !== null) problems.push(clusterSecret);
  noteSecretAsTenant(problems, ingestUrl ?? '', secret, urlSource);

  let capabilities: readonly ConnectorCapability[] = CONNECTOR_CAPABILITIES;
  if (v.capabilities !== undefined) {
    if (!Array.isArray(v.capabilities) || v.capabilities.some((c) => typeof c !== 'string')) {
      problems.push('capabilities must be a list of PULL_AUDIT, PULL_ALERTS');
    } else {
      const bad = v.capabilities.filter((c) => !CONNECTOR_CAPABILITIES.includes(c as ConnectorCapability));
      // PULL_ALERT is a typo, named with its fix; BLOCK or ISOLATE is a capability audit logs cannot have.
      const unsupported: string[] = [];
      for (const c of bad) {
        const near = closestName(c, CONNECTOR_CAPABILITIES);
        if (near === null) unsupported.push(c);
        else problems.push(`capabilities: unknown capability ${JSON.stringify(c)}: did you mean ${near}?`);
      }
      if (unsupported.length > 0) {
        problems.push(
          `capabilities ${unsupported.join(', ')} not supported: Kubernetes audit logs are passive (PULL_AUDIT, PULL_ALERTS only)`,
        );
      }
      if (bad.length === 0) capabilities = [...new Set(v.capabilities as ConnectorCapability[])];
    }
  }

  if (problems.length > 0) throw new ConnectorConfigError(problems);
  return Object.freeze({
    mode,
    cluster_name: clusterName,
    webhook_route: route,
    inbox_token: inboxToken,
    audit_log_path: auditLogPath,
    cursor_path: cursorPath,
    poll_interval_seconds: interval,
    ingest_url: ingestUrl,
    shared_secret: secret,
    capabilities: Object.freeze([...capabilities]),
  });
}

/**
 * What a file_tail instance lacks to deliver events: the route and the secret, which the config
 * may leave out (test-connection then checks the file alone and warns). `connector run` refuses to
 * start without them (exit 2, as `tail` does), rather than start and fail every poll.
 */
export function deliveryProblems(config: ConnectorConfig): string[] {
  if (config.mode !== 'file_tail') return [];
  const problems: string[] = [];
  if (config.ingest_url === null) problems.push(`file_tail mode needs ingest_url (or ${CONNECTOR_ENV.ingest_url}) to deliver events`);
  if (config.shared_secret === null)
    problems.push(`file_tail mode needs shared_secret (or ${CONNECTOR_ENV.shared_secret}) to deliver events`);
  return problems;
}

/** The config as safe to print: the token and the secret replaced by whether they are set. */
export function describeConnectorConfig(config: ConnectorConfig): Record<string, unknown> {
  return {
    ...config,
    inbox_token: config.inbox_token === null ? null : '<set>',
    shared_secret: config.shared_secret === null ? null : '<set>',
  };
}
