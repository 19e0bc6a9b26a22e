import { TOKEN_HEADER } from '../protocol.js';
import {
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_SHIP_MAX_BODY_BYTES,
  DEFAULT_TAIL_BATCH_EVENTS,
  DEFAULT_TAIL_CONCURRENCY,
} from './defaults.js';
import { type Env, EnvReader } from './env.js';
import { readTenantRouteUrl } from './forwarder.js';
import { noteSecretAsTenant, readSharedSecret, senderClusterProblem } from './secret.js';
import { loadShipTls, type ShipTls } from './tls.js';

/** The connector documentation: "each poll reads the audit log forward ... up to a hard cap of 8 MiB per poll to bound memory". */
export const DEFAULT_TAIL_MAX_BYTES = 8 * 1024 * 1024;
/** Below this a poll cannot hold even one ordinary audit line (Metadata-level events are ~1-3 KB). */
export const MIN_TAIL_MAX_BYTES = 1024;
/** Memory is the point of the cap; 256 MiB is already more than a connector pod should hold. */
export const MAX_TAIL_MAX_BYTES = 256 * 1024 * 1024;
/** The connector documentation: "Default poll interval: 300 seconds (overrideable per instance)". */
export const DEFAULT_TAIL_INTERVAL_SECONDS = 300;
/** A day: the longest pause between polls, for the variable, the flag and the connector config alike. */
export const MAX_TAIL_INTERVAL_SECONDS = 86_400;

/** The `tail` command's environment, validated once at start. Flags override path, cursor, cluster and interval. */
export interface TailConfig {
  /** AISOC_INGEST_URL: the full tenant route, `https://<host>/v1/ingest/k8s-audit/<tenant_id>`. */
  readonly ingestUrl: string;
  /** AISOC_CA_FILE, AISOC_CLIENT_CERT_FILE / _KEY_FILE, AISOC_ALLOW_INSECURE_HTTP. */
  readonly tls: ShipTls;
  /** K8S_AUDIT_SHARED_SECRET, sent as X-AiSOC-K8s-Token. Never logged. */
  readonly token: string;
  /** CLUSTER_NAME, stamped on every event by the ingest. */
  readonly clusterName: string | null;
  /** AISOC_TAIL_PATH, the audit log (the `--path` flag wins). */
  readonly path: string | null;
  /** AISOC_TAIL_CURSOR, the cursor file (the `--cursor` flag wins). */
  readonly cursorPath: string | null;
  /** AISOC_TAIL_MAX_BYTES. */
  readonly maxBytes: number;
  /** AISOC_TAIL_INTERVAL_SECONDS (the `--interval` flag wins). */
  readonly intervalSeconds: number;
  /** AISOC_TAIL_MAX_BODY_BYTES: byte cap of one EventList body. */
  readonly maxBodyBytes: number;
  /** AISOC_TAIL_BATCH_EVENTS: events per EventList body at most. */
  readonly batchEvents: number;
  /** AISOC_TAIL_CONCURRENCY: batches in flight at once. */
  readonly concurrency: number;
  /** AISOC_TAIL_GZIP: send bodies gzip-encoded. */
  readonly gzip: boolean;
  /** AISOC_TAIL_REQUEST_TIMEOUT_MS: per request. */
  readonly requestTimeoutMs: number;
  /** AISOC_TAIL_METRICS_PORT: serve GET /metrics (Prometheus) on this port (0: a free one); null (unset) serves none. */
  readonly metricsPort: number | null;
  /** AISOC_TAIL_METRICS_HOST: the address /metrics listens on (default 127.0.0.1; 0.0.0.0 in a pod). */
  readonly metricsHost: string;
}

/** The per-poll cap and request shaping of the file tailer, which `tail` and `connector run` both read. */
export type TailShaping = Pick<TailConfig, 'maxBytes' | 'maxBodyBytes' | 'batchEvents' | 'concurrency' | 'gzip' | 'requestTimeoutMs'>;

/** Reads AISOC_TAIL_MAX_BYTES and the request shaping variables into `r` (its problems collect the bad ones). */
export function readTailShaping(r: EnvReader): TailShaping {
  return {
    maxBytes: r.int('AISOC_TAIL_MAX_BYTES', DEFAULT_TAIL_MAX_BYTES, MIN_TAIL_MAX_BYTES, MAX_TAIL_MAX_BYTES),
    maxBodyBytes: r.int('AISOC_TAIL_MAX_BODY_BYTES', DEFAULT_SHIP_MAX_BODY_BYTES, 1024, 64 * 1024 * 1024),
    batchEvents: r.int('AISOC_TAIL_BATCH_EVENTS', DEFAULT_TAIL_BATCH_EVENTS, 1, 100_000),
    concurrency: r.int('AISOC_TAIL_CONCURRENCY', DEFAULT_TAIL_CONCURRENCY, 1, 16),
    gzip: r.bool('AISOC_TAIL_GZIP', false),
    requestTimeoutMs: r.int('AISOC_TAIL_REQUEST_TIMEOUT_MS', DEFAULT_REQUEST_TIMEOUT_MS, 100, 300_000),
  };
}

/** The tailer's /metrics endpoint, which `tail` and `connector run` (file_tail) both serve. */
export type TailMetricsSettings = Pick<TailConfig, 'metricsPort' | 'metricsHost'>;

/** Reads AISOC_TAIL_METRICS_PORT and AISOC_TAIL_METRICS_HOST into `r` (a bad port is one of its problems). */
export function readTailMetrics(r: EnvReader): TailMetricsSettings {
  return {
    metricsPort: r.port('AISOC_TAIL_METRICS_PORT'),
    metricsHost: r.string('AISOC_TAIL_METRICS_HOST') ?? '127.0.0.1',
  };
}

/** Reads the file tailer's environment; throws one `ConfigError` naming every bad variable. */
export function loadTailConfig(env: Env): TailConfig {
  const r = new EnvReader(env);
  r.logLevel();
  // The tenant route only, as the forwarder: another path (the inbox's /v1/inbox/<token>, a token
  // pasted after the route) would be sent to and logged with every failed batch.
  const ingestUrl = readTenantRouteUrl(r);
  const tls = loadShipTls(r, ingestUrl);
  const token = readSharedSecret(r.string('K8S_AUDIT_SHARED_SECRET'), 'K8S_AUDIT_SHARED_SECRET', r.problems) ?? '';
  if (token === '' && r.problems.every((p) => !p.startsWith('K8S_AUDIT_SHARED_SECRET'))) {
    r.problems.push(`K8S_AUDIT_SHARED_SECRET is required (the shared secret the ingest service checks in ${TOKEN_HEADER})`);
  }
  noteSecretAsTenant(r.problems, ingestUrl, token);
  const clusterName = r.string('CLUSTER_NAME') || null;
  const clusterProblem = senderClusterProblem(clusterName, token, 'CLUSTER_NAME');
  if (clusterProblem !== null) r.problems.push(clusterProblem);
  const config: TailConfig = {
    ingestUrl,
    tls,
    token,
    clusterName,
    path: r.string('AISOC_TAIL_PATH') ?? null,
    cursorPath: r.string('AISOC_TAIL_CURSOR') ?? null,
    ...readTailShaping(r),
    intervalSeconds: r.int('AISOC_TAIL_INTERVAL_SECONDS', DEFAULT_TAIL_INTERVAL_SECONDS, 1, MAX_TAIL_INTERVAL_SECONDS),
    ...readTailMetrics(r),
  };
  r.done();
  return Object.freeze(config);
}
