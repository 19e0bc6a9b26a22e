import { INGEST_PREFIX, isTenantRoutePath } from '../protocol.js';
import {
  DEFAULT_AUDIT_STREAM_PREFIX,
  DEFAULT_INGEST_MAX_BODY_BYTES,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_MAX_EVENTS_PER_BATCH,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_SAFETY_MARGIN_MS,
  DEFAULT_SHIP_MAX_BODY_BYTES,
  METRICS_NAMESPACE,
} from './defaults.js';
import { type Env, EnvReader, loggableUrl } from './env.js';
import {
  noteSecretAsTenant,
  readSecretsManagerSecret,
  readSharedSecret,
  type SecretReader,
  senderClusterProblem,
  sharedSecretFromArn,
  sharedSecretSourceProblem,
  sharedSecretValue,
} from './secret.js';
import { loadShipTls, type ShipTls } from './tls.js';

/**
 * Two batches in flight: enough to overlap one POST's round trip with the next, while a 128 MB
 * forwarder holds only a few bodies at once.
 */
export const DEFAULT_FORWARDER_CONCURRENCY = 2;
/** The ingest's own body cap (K8S_AUDIT_MAX_BODY_BYTES default); more could never be accepted. */
const MAX_BODY_BYTES_LIMIT = DEFAULT_INGEST_MAX_BODY_BYTES;

/** What the forwarder core needs from its configuration (lib/cloudwatch; `loadForwarderConfig` reads it). */
export interface ForwardSettings {
  ingestUrl: string;
  token: string;
  /** How the connection to the ingest is secured (AISOC_CA_FILE, mTLS, AISOC_ALLOW_INSECURE_HTTP); lib/ship's defaults when absent. */
  tls?: ShipTls | null;
  /** Overrides the cluster read from the log group. */
  clusterName: string | null;
  /** The region the function runs in (AWS_REGION): a subscription delivers its own region's log groups. */
  region?: string | null;
  streamPrefix: string;
  maxEventsPerBatch: number;
  maxBodyBytes: number;
  gzip: boolean;
  requestTimeoutMs: number;
  safetyMarginMs: number;
  maxAttempts: number;
  concurrency: number;
}

/** The forwarder's configuration (also used by `backfill` and `redrive`), validated once at init. */
export interface ForwarderConfig extends Omit<ForwardSettings, 'token'> {
  /** The shared secret from K8S_AUDIT_SHARED_SECRET; null when it comes from Secrets Manager. */
  readonly token: string | null;
  /** K8S_AUDIT_SHARED_SECRET_ARN: read once with `resolveForwarderToken`. */
  readonly tokenSecretArn: string | null;
  /** Answer a Kinesis batch with batchItemFailures instead of throwing (needs ReportBatchItemFailures on the mapping). */
  readonly kinesisBatchItemFailures: boolean;
  readonly metricsNamespace: string;
}

/** AISOC_INGEST_URL, required, and the full tenant route (`/v1/ingest/k8s-audit/<tenant_id>`); a problem is noted on `r`. */
export function readTenantRouteUrl(r: EnvReader): string {
  // Unset, the error says what goes there, as the shared secret's does: an operator setting up
  // `tail`, `backfill` or `redrive` has no other place that tells the route's shape.
  const ingestUrl = r.url('AISOC_INGEST_URL', true, `the ingest's full tenant route, https://<host>${INGEST_PREFIX}<tenant_id>`) ?? '';
  if (ingestUrl !== '' && !isTenantRoutePath(new URL(ingestUrl).pathname)) {
    r.problems.push(`AISOC_INGEST_URL must be the full tenant route, ending in ${INGEST_PREFIX}<tenant_id>`);
  }
  return ingestUrl;
}

/** Reads and checks the forwarder's variables; throws one `ConfigError` naming every bad one. */
export function loadForwarderConfig(env: Env): ForwarderConfig {
  const r = new EnvReader(env);
  r.logLevel();
  const ingestUrl = readTenantRouteUrl(r);
  const tls = loadShipTls(r, ingestUrl);
  const token = readSharedSecret(r.string('K8S_AUDIT_SHARED_SECRET'), 'K8S_AUDIT_SHARED_SECRET', r.problems);
  const tokenSecretArn = r.string('K8S_AUDIT_SHARED_SECRET_ARN')?.trim() || null;
  const secretProblem = sharedSecretSourceProblem(token, tokenSecretArn, true);
  if (secretProblem !== null) r.problems.push(secretProblem);
  noteSecretAsTenant(r.problems, ingestUrl, token);
  const clusterName = r.string('CLUSTER_NAME') ?? null;
  // EKS cluster names are [0-9A-Za-z][A-Za-z0-9-_]*, 100 at most, anyway.
  const clusterProblem = senderClusterProblem(clusterName, token, 'CLUSTER_NAME');
  if (clusterProblem !== null) r.problems.push(clusterProblem);
  const config: ForwarderConfig = {
    ingestUrl,
    tls,
    token,
    tokenSecretArn,
    clusterName,
    region: r.string('AWS_REGION') ?? null,
    streamPrefix: r.string('AUDIT_LOG_STREAM_PREFIX') ?? DEFAULT_AUDIT_STREAM_PREFIX,
    maxEventsPerBatch: r.int('FORWARDER_MAX_BATCH_EVENTS', DEFAULT_MAX_EVENTS_PER_BATCH, 1, 100_000),
    maxBodyBytes: r.int('FORWARDER_MAX_BODY_BYTES', DEFAULT_SHIP_MAX_BODY_BYTES, 1024, MAX_BODY_BYTES_LIMIT),
    gzip: r.bool('FORWARDER_GZIP', false),
    requestTimeoutMs: r.int('FORWARDER_REQUEST_TIMEOUT_MS', DEFAULT_REQUEST_TIMEOUT_MS, 100, 900_000),
    safetyMarginMs: r.int('FORWARDER_SAFETY_MARGIN_MS', DEFAULT_SAFETY_MARGIN_MS, 0, 900_000),
    maxAttempts: r.int('FORWARDER_MAX_ATTEMPTS', DEFAULT_MAX_ATTEMPTS, 1, 100),
    concurrency: r.int('FORWARDER_CONCURRENCY', DEFAULT_FORWARDER_CONCURRENCY, 1, 16),
    kinesisBatchItemFailures: r.bool('FORWARDER_KINESIS_BATCH_ITEM_FAILURES', false),
    metricsNamespace: r.string('POWERTOOLS_METRICS_NAMESPACE') ?? METRICS_NAMESPACE,
  };
  r.done();
  return Object.freeze(config);
}

/** Reads a secret's value; injected so tests need no AWS. */
export type ForwarderSecretReader = SecretReader;
/** Reads the shared secret from Secrets Manager (the same reader the ingest uses). */
export const readForwarderSecret: ForwarderSecretReader = readSecretsManagerSecret;
/** The shared secret out of its stored form (plain, or JSON with a K8S_AUDIT_SHARED_SECRET key). */
export const forwarderSecretValue = sharedSecretValue;

/** The shared secret: from the environment, or read from Secrets Manager once (call at init and keep it). */
export async function resolveForwarderToken(config: ForwarderConfig, read: ForwarderSecretReader = readForwarderSecret): Promise<string> {
  if (config.token !== null) return config.token;
  const arn = config.tokenSecretArn as string;
  return sharedSecretFromArn(arn, read);
}

/** The settings of the forwarder core, with the token resolved. */
export function forwardSettings(config: ForwarderConfig, token: string): ForwardSettings {
  return { ...config, token };
}

/** Config, token and settings in one step, for the commands (backfill, redrive) that run like the forwarder. */
export async function loadForwarderSettings(env: Env, read: ForwarderSecretReader = readForwarderSecret): Promise<ForwardSettings> {
  const config = loadForwarderConfig(env);
  return forwardSettings(config, await resolveForwarderToken(config, read));
}

/** What `awsClientOptions` gives an AWS SDK client. */
export interface AwsClientOptions {
  region?: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  maxAttempts: number;
}

/**
 * AWS client options from a command's environment: the region, static credentials when the
 * environment holds them (else the SDK's default chain), and an endpoint such as a local moto's
 * (AWS_ENDPOINT_URL_<SERVICE> or AWS_ENDPOINT_URL, the SDK's own variables).
 */
export function awsClientOptions(env: Env, service: 'CLOUDWATCH_LOGS' | 'SQS'): AwsClientOptions {
  // The SDK's standard retry mode backs off on ThrottlingException; more attempts ride out a busy account.
  const opts: AwsClientOptions = { maxAttempts: 8 };
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (region) opts.region = region;
  const endpoint = env[`AWS_ENDPOINT_URL_${service}`] ?? env.AWS_ENDPOINT_URL;
  if (endpoint) opts.endpoint = endpoint;
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken } = env;
  if (accessKeyId && secretAccessKey) opts.credentials = { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
  return opts;
}

/** The endpoint an AWS client of these options calls, as an operator would look it up. */
export function awsEndpointOf(opts: AwsClientOptions, host: string): string {
  return opts.endpoint ?? `https://${host}.${opts.region ?? '<region>'}.amazonaws.com`;
}

/**
 * An AWS call's failure as the user should read it, naming the service and the endpoint:
 * `CloudWatch Logs at http://127.0.0.1:4566: connect ECONNREFUSED 127.0.0.1:4566`.
 */
export function awsCallError(service: string, endpoint: string, err: unknown): Error {
  const e = err as { name?: string; message?: string; code?: string; syscall?: string };
  // The SDK's words when neither the environment nor ~/.aws/config names a region, or when
  // AWS_REGION is set empty (the SDK reads its own environment, where empty is not unset); the
  // endpoint then holds no region either, and was shown as `<not a URL>`.
  if (e.message === 'Region is missing' || e.message?.startsWith('Region not accepted: region="" ')) {
    return new Error(`${service}: no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION) to the region of the log group or queue`, {
      cause: err,
    });
  }
  const reason =
    e.message && e.message !== ''
      ? `${e.name && !['Error', 'AggregateError'].includes(e.name) ? `${e.name}: ` : ''}${e.message}`
      : [e.syscall, e.code ?? String(err)].filter(Boolean).join(' ');
  // The endpoint comes from AWS_ENDPOINT_URL*, which may carry a user and password or a query.
  return new Error(`${service} at ${loggableUrl(endpoint)}: ${reason}`, { cause: err });
}
