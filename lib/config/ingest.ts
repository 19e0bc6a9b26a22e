import { availableParallelism, totalmem } from 'node:os';
import { isJsonObject, jsonErrorReason } from '../json.js';
import { GKE_PREFIX, TENANT_ID_PATTERN } from '../protocol.js';
import { DEFAULT_INGEST_MAX_BATCH_SIZE, DEFAULT_INGEST_MAX_BODY_BYTES, MIN_INGEST_MAX_BODY_BYTES } from './defaults.js';
import { ConfigError, type Env, EnvReader, queueUrlProblem } from './env.js';
import {
  readSecretOf,
  readSecretsManagerSecret,
  readSharedSecret,
  type SecretReader,
  sharedSecretSourceProblem,
  sharedSecretsFromArn,
} from './secret.js';

/**
 * AWS Lambda refuses a synchronous invocation whose payload (the whole API Gateway event JSON,
 * body included) exceeds 6,291,456 bytes (Lambda quotas, "Invocation payload"); API Gateway's own
 * cap is 10 MB. A body over this never reaches the function, so in Lambda it is the real limit.
 */
export const LAMBDA_MAX_PAYLOAD_BYTES = 6_291_456;
/** Default tries per sink call (the first plus retries of what failed) before answering 503. */
export const DEFAULT_SINK_MAX_ATTEMPTS = 3;
/**
 * Google's published keys for the OIDC tokens Pub/Sub push signs (Pub/Sub "Authenticate push
 * subscriptions": verify against https://www.googleapis.com/oauth2/v3/certs).
 */
export const GOOGLE_JWKS_URL = 'https://www.googleapis.com/oauth2/v3/certs';

/** One tenant's Pub/Sub push subscription: the token's audience and the service account that signs it. */
export interface GkePushTenant {
  readonly audience: string;
  readonly serviceAccount: string;
}

/** The GKE route: which tenants take Pub/Sub pushes, and where Google's keys are. */
export interface GkePushConfig {
  /** K8S_AUDIT_GKE_PUSH, by tenant id; empty keeps the route off (503). */
  readonly tenants: ReadonlyMap<string, GkePushTenant>;
  /** K8S_AUDIT_GKE_JWKS_URL (tests point it at a local server). */
  readonly jwksUrl: string;
}

/**
 * How long an admitted request may wait in the local server, from its last body byte to the
 * start of the commit that stores it, before it is answered 429 instead. Well inside the 10 s
 * request timeout of our shipper (lib/ship) and the apiserver webhook's 30 s
 * (k8s.io/apiserver/pkg/util/webhook, defaultRequestTimeout): a request is answered while its
 * client still listens, so the client never resends work the server is still doing.
 */
export const DEFAULT_QUEUE_DEADLINE_MS = 5000;
/**
 * No request is admitted while the oldest one whose body has arrived has waited this long for its
 * answer: the server is behind, and queueing more only makes every answer later. One second holds
 * the apiserver's burst of 15 batches on an idle 2-core machine (25 ms each) and keeps answers far
 * inside the senders' timeouts on a busy one (docs/reliability.md, "Overload and durability").
 */
export const DEFAULT_MAX_QUEUE_WAIT_MS = 1000;
/**
 * Seconds a 429 asks the sender to wait. kube-apiserver's webhook client waits out a 429's
 * Retry-After and resends on its own, up to 10 times within the request's 30 s timeout (client-go
 * rest/request.go and with_retry.go; k8s.io/apiserver/pkg/util/webhook), and a wait that runs past
 * that timeout fails the request with an error the webhook does not retry: the batch is dropped.
 * So 2 at most (10 × 3 s would cross it), and 2 rather than 1: under twice the capacity with such
 * senders it cut the refused requests (13,457–19,234 against 29,193–34,570 in 30 s) and no event
 * was dropped in four runs (against 17,566 of 604,145 and 37,600 of 612,476 at 1 s)
 * (`npm run load -- --overload --client-go`, docs/reliability.md).
 */
export const DEFAULT_BUSY_RETRY_AFTER_SECONDS = 2;
/**
 * How long the local server waits for the next byte of a request body before it answers 408 and
 * frees the request's admission slot. Every sender of this connector writes a body it already
 * holds in memory at once: kube-apiserver's audit webhook posts `RestClient.Post().Body(&list)`
 * (k8s.io/apiserver/plugin/pkg/audit/webhook/webhook.go), which client-go encodes to one byte
 * slice before the request is written, and our forwarder,
 * tailer and backfill post a Buffer (lib/ship). A pause of seconds between two reads is therefore
 * a stalled or hostile sender, not a slow network: nginx's client_body_timeout (60 s between two
 * reads) is sized for clients on the internet, while `serve` listens on loopback or a LAN (or
 * behind a TLS proxy that buffers the body). 10 s is that of our shipper's request timeout, so a
 * sender of ours has given up by then anyway, and it is a third of the apiserver's 30 s timeout.
 */
export const DEFAULT_BODY_IDLE_TIMEOUT_MS = 10_000;
/**
 * The body's minimum average rate, after a grace (DEFAULT_BODY_RATE_GRACE_MS): by `grace + n / rate`
 * seconds from its first read a body must have sent `n` bytes, or it is answered 408 and its
 * admission slot freed. The idle bound alone lets a sender that writes a byte every 9 s hold its
 * slot to the 60 s request timeout; this one cuts it at the grace. Apache's mod_reqtimeout works
 * the same way (`RequestReadTimeout body=20,MinRate=500`, its default: 20 s, plus 1 s for every 500
 * bytes received). 8 KiB/s (64 kbit/s) is a sixteenth of the slowest link we plan for: a 3 MiB
 * body (our shippers' cap, FORWARDER_MAX_BODY_BYTES and AISOC_TAIL_MAX_BODY_BYTES) over 1 Mbit/s
 * takes 25 s at about 122 KiB/s, and the slowest body any of our senders can deliver at all is one
 * that ends inside its request timeout (the apiserver's 30 s, k8s.io/apiserver/pkg/util/webhook
 * `defaultRequestTimeout`; our shipper's 10 s): 3 MiB in 30 s is 102 KiB/s, twelve times this
 * rate. To hold a slot for the 60 s request timeout a sender must now keep sending at least this
 * rate: 16 slots cost it about 1 Mbit/s, against 16 bytes a minute before.
 */
export const DEFAULT_BODY_MIN_RATE_BYTES_PER_SECOND = 8192;
/**
 * How long a body may take before the minimum rate applies: the first segments of a body over a
 * slow WAN link wait for TCP's slow start (a few round trips), and an `Expect: 100-continue`
 * client sends nothing until our 100 has reached it. Half the idle bound, so a sender that sends
 * nothing at all is still cut by whichever comes first.
 */
export const DEFAULT_BODY_RATE_GRACE_MS = 5000;
/** Where the embedded SQLite store and the dev secret live. */
export const DEFAULT_DATA_DIR = '.data';

/** Where records go. `none` is allowed for the alerts sink only. */
export type SinkSpec =
  | { kind: 'sqlite' }
  | { kind: 'stdout' }
  | { kind: 'none' }
  | { kind: 'kinesis'; stream: string }
  | { kind: 'firehose'; stream: string }
  | { kind: 'sqs'; queueUrl: string }
  | { kind: 'eventbridge'; bus: string };

/** Where inbox tokens are kept: SQLite in the data dir locally, DynamoDB on AWS. */
export type InboxStoreSpec = { kind: 'sqlite'; dataDir: string } | { kind: 'dynamodb'; table: string } | { kind: 'none' };

/** How much work the local server holds at once (`aisoc-k8s-audit serve`); the Lambda has its own limits. */
export interface AdmissionLimits {
  /** K8S_AUDIT_MAX_INFLIGHT_REQUESTS: requests admitted and not yet answered. */
  readonly maxRequests: number;
  /** K8S_AUDIT_MAX_INFLIGHT_BYTES: body bytes (declared or read) of those requests. */
  readonly maxBytes: number;
  /** K8S_AUDIT_QUEUE_DEADLINE_MS: see DEFAULT_QUEUE_DEADLINE_MS. */
  readonly queueDeadlineMs: number;
  /** K8S_AUDIT_MAX_QUEUE_WAIT_MS: see DEFAULT_MAX_QUEUE_WAIT_MS. */
  readonly maxQueueWaitMs: number;
  /** The Retry-After of a 429. */
  readonly retryAfterSeconds: number;
}

/** The machine the defaults are sized from. */
export interface MachineSize {
  cpus: number;
  memoryBytes: number;
}

/** This machine: its usable CPUs and its memory, or the cgroup's limit when lower (a container). */
export function thisMachine(): MachineSize {
  const total = totalmem();
  const constrained = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0;
  return { cpus: availableParallelism(), memoryBytes: constrained > 0 && constrained < total ? constrained : total };
}

const MiB = 1024 * 1024;

/**
 * The default admission limits of a machine. Requests: 8 per CPU, 16 to 256: the server
 * normalises on one thread and commits on another, so more requests in flight than that only
 * wait (16 holds the apiserver's burst of 15 from one cluster at once). Bytes: 1/64 of the
 * memory, 32 to 256 MiB, and never below one largest body: a request costs about 6 times its
 * body at its peak (docs/reliability.md), so the bound keeps that near a tenth of the memory.
 */
export function defaultAdmission(machine: MachineSize, maxWireBytes: number): AdmissionLimits {
  const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, Math.floor(v)));
  return {
    maxRequests: clamp(8 * machine.cpus, 16, 256),
    maxBytes: Math.max(maxWireBytes, clamp(machine.memoryBytes / 64, 32 * MiB, 256 * MiB)),
    queueDeadlineMs: DEFAULT_QUEUE_DEADLINE_MS,
    maxQueueWaitMs: DEFAULT_MAX_QUEUE_WAIT_MS,
    retryAfterSeconds: DEFAULT_BUSY_RETRY_AFTER_SECONDS,
  };
}

/**
 * The ingest endpoint's settings as the environment gives them, validated once at start; the
 * rule pack is compiled beside them (`loadIngestConfig` in lib/ingest/config.ts).
 */
export interface IngestSettings {
  /** `lambda` applies the platform's limits and refuses non-durable sinks. */
  readonly runtime: 'lambda' | 'local';
  /** K8S_AUDIT_SHARED_SECRET; `null` keeps the webhook route off (503). */
  readonly sharedSecret: string | null;
  /**
   * K8S_AUDIT_SHARED_SECRET_ARN: the secret lives in Secrets Manager and `withSharedSecret`
   * reads it once at init, so the value never sits in the function's configuration.
   */
  readonly sharedSecretArn: string | null;
  /** K8S_AUDIT_SHARED_SECRET_PREVIOUS, also accepted while the apiservers are moved to the new one. */
  readonly previousSharedSecret: string | null;
  /**
   * Optional per-tenant secrets (K8S_AUDIT_TENANT_SECRETS_FILE locally, K8S_AUDIT_TENANT_SECRETS_ARN
   * in AWS: a JSON map of tenant id to secret), read by `withSharedSecret`. A tenant in the map is
   * opened only by its own secret; the others by the installation-wide one. `null`: not used.
   */
  readonly tenantSecrets: ReadonlyMap<string, string> | null;
  readonly tenantSecretsFile: string | null;
  readonly tenantSecretsArn: string | null;
  /** Cap on the body after gzip inflation (K8S_AUDIT_MAX_BODY_BYTES). */
  readonly maxBodyBytes: number;
  /** Cap on the body as received: `maxBodyBytes`, or less where the platform refuses more. */
  readonly maxWireBytes: number;
  /** What sets `maxWireBytes`, as a 413 names it. */
  readonly wireLimitName: string;
  /** K8S_AUDIT_MAX_BATCH_SIZE. */
  readonly maxBatchSize: number;
  readonly eventsSink: SinkSpec;
  readonly alertsSink: SinkSpec;
  /** REJECTS_SINK: where rejected items are kept (SQLite `rejected` table, a stream or queue, or stdout). */
  readonly rejectsSink: SinkSpec;
  readonly dataDir: string;
  readonly inbox: InboxStoreSpec;
  /** Tries per sink call before the request answers 503. */
  readonly sinkMaxAttempts: number;
  /** The GKE route (Pub/Sub push of Cloud Logging entries). */
  readonly gkePush: GkePushConfig;
  /** What the local server holds at once before it answers 429. */
  readonly admission: AdmissionLimits;
  /** K8S_AUDIT_BODY_IDLE_TIMEOUT_MS: see DEFAULT_BODY_IDLE_TIMEOUT_MS. */
  readonly bodyIdleTimeoutMs: number;
  /** K8S_AUDIT_BODY_MIN_RATE (bytes/s, 0 turns it off) and K8S_AUDIT_BODY_RATE_GRACE_MS: see DEFAULT_BODY_MIN_RATE_BYTES_PER_SECOND. */
  readonly bodyMinRate: { readonly bytesPerSecond: number; readonly graceMs: number };
  /**
   * AISOC_SQLITE_GROUP_COMMIT (default off): concurrent requests share one SQLite transaction and
   * one fsync, committed on a worker thread; off, each request commits its own on the main thread.
   * Off by default: on this project's 2-core machine it measured 0.62-1.27x the events/s of
   * per-request commits at 15 posters, and its best there is about 1.2x, bounded by the CPU a
   * batch needs (docs/performance.md), and its single-poster p99 was 0.91-1.70x theirs.
   */
  readonly groupCommit: boolean;
  /**
   * AISOC_KINESIS_CLIENT_AT (`init`, the default, or `first-use`): when the Kinesis sink loads
   * the AWS SDK and makes its client, at the Lambda's init or on the first write. Both were
   * measured (`npm run bench -- --only coldstart`, docs/performance.md); the default is the cheaper.
   */
  readonly kinesisClientAt: 'init' | 'first-use';
  /** K8S_AUDIT_REQUIRE_CLUSTER: a batch that names no cluster is refused (400) instead of stored with `cluster_name: null`. */
  readonly requireCluster: boolean;
}

/** Options the entry point knows better than the environment. */
export interface LoadIngestOptions {
  /** Forces the runtime; by default Lambda is detected from AWS_LAMBDA_FUNCTION_NAME. */
  runtime?: 'lambda' | 'local';
  /** The machine the admission defaults are sized from (default: this one). */
  machine?: MachineSize;
}

const EVENTS_KINDS = ['sqlite', 'stdout', 'kinesis', 'firehose'] as const;
const ALERTS_KINDS = ['sqlite', 'stdout', 'none', 'kinesis', 'firehose', 'sqs', 'eventbridge'] as const;
// No `none`: a rejected item is always kept somewhere (stdout is CloudWatch Logs in Lambda).
const REJECTS_KINDS = ['sqlite', 'stdout', 'kinesis', 'firehose', 'sqs', 'eventbridge'] as const;

/** Parses a sink spec (`sqlite`, `stdout`, `none`, `kinesis:<stream>`, ...); returns an error text on failure. */
export function parseSinkSpec(value: string, allowed: readonly string[]): SinkSpec | string {
  const colon = value.indexOf(':');
  const kind = (colon === -1 ? value : value.slice(0, colon)).trim().toLowerCase();
  const arg = colon === -1 ? '' : value.slice(colon + 1).trim();
  if (!allowed.includes(kind)) return `must be one of ${allowed.map(sinkExample).join(', ')}, got ${JSON.stringify(value)}`;
  const needsArg = kind === 'kinesis' || kind === 'firehose' || kind === 'sqs' || kind === 'eventbridge';
  if (needsArg && arg === '') return `${kind} needs a target: ${sinkExample(kind)}`;
  if (!needsArg && arg !== '') return `${kind} takes no target, got ${JSON.stringify(value)}`;
  switch (kind) {
    case 'kinesis':
    case 'firehose':
      return { kind, stream: arg };
    case 'sqs': {
      if (!/^https?:\/\//.test(arg))
        return `sqs needs a queue URL (sqs:https://sqs.<region>.amazonaws.com/<account>/<queue>), got ${JSON.stringify(arg)}`;
      const problem = queueUrlProblem(arg);
      return problem === null ? { kind, queueUrl: arg } : `sqs target ${problem}`;
    }
    case 'eventbridge':
      return { kind, bus: arg };
    default:
      return { kind: kind as 'sqlite' | 'stdout' | 'none' };
  }
}

function sinkExample(kind: string): string {
  switch (kind) {
    case 'kinesis':
      return 'kinesis:<stream>';
    case 'firehose':
      return 'firehose:<delivery-stream>';
    case 'sqs':
      return 'sqs:<queue-url>';
    case 'eventbridge':
      return 'eventbridge:<bus>';
    default:
      return kind;
  }
}

/** A secret as set in the environment; surrounding whitespace (a newline from a file) is not part of it. */
function trimmed(r: EnvReader, name: string): string | null {
  const v = r.string(name)?.trim();
  return v === undefined || v === '' ? null : v;
}

/**
 * Reads the ingest endpoint's settings (EVENTS_SINK default `sqlite`, AISOC_DATA_DIR default
 * `.data`, K8S_AUDIT_SHARED_SECRET, ...); every problem goes to `r`, whose `done()` the caller
 * calls once the rest of its variables are read, so one `ConfigError` names every bad one.
 */
export function readIngestSettings(r: EnvReader, opts: LoadIngestOptions = {}): IngestSettings {
  const runtime = opts.runtime ?? (r.string('AWS_LAMBDA_FUNCTION_NAME') !== undefined ? 'lambda' : 'local');
  const maxBodyBytes = r.int('K8S_AUDIT_MAX_BODY_BYTES', DEFAULT_INGEST_MAX_BODY_BYTES, MIN_INGEST_MAX_BODY_BYTES, 1024 * 1024 * 1024);
  const maxBatchSize = r.int('K8S_AUDIT_MAX_BATCH_SIZE', DEFAULT_INGEST_MAX_BATCH_SIZE, 1, 1_000_000);
  const sinkMaxAttempts = r.int('SINK_MAX_ATTEMPTS', DEFAULT_SINK_MAX_ATTEMPTS, 1, 10);
  const dataDir = r.string('AISOC_DATA_DIR') ?? DEFAULT_DATA_DIR;
  const groupCommit = r.bool('AISOC_SQLITE_GROUP_COMMIT', false);
  const clientAt = r.string('AISOC_KINESIS_CLIENT_AT')?.trim().toLowerCase() ?? 'init';
  if (clientAt !== 'init' && clientAt !== 'first-use') {
    r.problems.push(`AISOC_KINESIS_CLIENT_AT must be init or first-use, got ${JSON.stringify(r.string('AISOC_KINESIS_CLIENT_AT'))}`);
  }
  const kinesisClientAt = clientAt === 'first-use' ? 'first-use' : 'init';
  const requireCluster = r.bool('K8S_AUDIT_REQUIRE_CLUSTER', false);

  const eventsRaw = r.string('EVENTS_SINK');
  let eventsSink: SinkSpec = { kind: 'sqlite' };
  if (eventsRaw === undefined) {
    if (runtime === 'lambda') {
      r.problems.push(
        'EVENTS_SINK is required in AWS Lambda: the embedded SQLite file would be lost with the execution environment; set kinesis:<stream> or firehose:<delivery-stream> (or stdout for sam local)',
      );
    }
  } else {
    const parsed = parseSinkSpec(eventsRaw, EVENTS_KINDS);
    if (typeof parsed === 'string') r.problems.push(`EVENTS_SINK ${parsed}`);
    else eventsSink = parsed;
    if (runtime === 'lambda' && eventsSink.kind === 'sqlite') {
      r.problems.push(
        'EVENTS_SINK=sqlite is not durable in AWS Lambda (the file is lost with the execution environment); use kinesis:<stream> or firehose:<delivery-stream>',
      );
    }
  }

  const alertsRaw = r.string('ALERTS_SINK');
  // High-severity records also go to the alerts sink (the connector documentation's PULL_ALERTS). By default that is
  // the alerts table of the same SQLite file; with a cloud events sink there is no local file, and
  // alerts stay findable in the events stream by `severity`.
  let alertsSink: SinkSpec = eventsSink.kind === 'sqlite' ? { kind: 'sqlite' } : { kind: 'none' };
  if (alertsRaw !== undefined) {
    const parsed = parseSinkSpec(alertsRaw, ALERTS_KINDS);
    if (typeof parsed === 'string') r.problems.push(`ALERTS_SINK ${parsed}`);
    else alertsSink = parsed;
    if (runtime === 'lambda' && alertsSink.kind === 'sqlite') {
      r.problems.push(
        'ALERTS_SINK=sqlite is not durable in AWS Lambda; use sqs:<queue-url>, eventbridge:<bus>, kinesis:<stream>, firehose:<delivery-stream> or none',
      );
    }
  }

  // Rejected items go with the events by default: the SQLite file locally; otherwise stdout
  // (CloudWatch Logs in Lambda) until an operator names a stream or queue.
  let rejectsSink: SinkSpec = eventsSink.kind === 'sqlite' ? { kind: 'sqlite' } : { kind: 'stdout' };
  const rejectsRaw = r.string('REJECTS_SINK');
  if (rejectsRaw !== undefined) {
    const parsed = parseSinkSpec(rejectsRaw, REJECTS_KINDS);
    if (typeof parsed === 'string') r.problems.push(`REJECTS_SINK ${parsed}`);
    else rejectsSink = parsed;
    if (runtime === 'lambda' && rejectsSink.kind === 'sqlite') {
      r.problems.push(
        'REJECTS_SINK=sqlite is not durable in AWS Lambda; use sqs:<queue-url>, kinesis:<stream>, firehose:<delivery-stream>, eventbridge:<bus> or stdout',
      );
    }
  }

  const table = r.string('INBOX_TABLE');
  const inbox: InboxStoreSpec =
    table !== undefined ? { kind: 'dynamodb', table } : runtime === 'lambda' ? { kind: 'none' } : { kind: 'sqlite', dataDir };

  const sharedSecret = readSharedSecret(r.string('K8S_AUDIT_SHARED_SECRET'), 'K8S_AUDIT_SHARED_SECRET', r.problems);
  const sharedSecretArn = trimmed(r, 'K8S_AUDIT_SHARED_SECRET_ARN');
  // Unset is allowed: the route then answers 503 until an operator turns it on (the connector documentation).
  const secretProblem = sharedSecretSourceProblem(sharedSecret, sharedSecretArn, false);
  if (secretProblem !== null) r.problems.push(secretProblem);
  const tenantSecretsFile = trimmed(r, 'K8S_AUDIT_TENANT_SECRETS_FILE');
  const tenantSecretsArn = trimmed(r, 'K8S_AUDIT_TENANT_SECRETS_ARN');
  if (tenantSecretsFile !== null && tenantSecretsArn !== null) {
    r.problems.push('set only one of K8S_AUDIT_TENANT_SECRETS_FILE and K8S_AUDIT_TENANT_SECRETS_ARN');
  }
  if (tenantSecretsArn !== null && !tenantSecretsArn.startsWith('arn:')) {
    r.problems.push('K8S_AUDIT_TENANT_SECRETS_ARN must be a Secrets Manager secret ARN (arn:aws:secretsmanager:...)');
  }
  const previousSharedSecret = readSharedSecret(
    r.string('K8S_AUDIT_SHARED_SECRET_PREVIOUS'),
    'K8S_AUDIT_SHARED_SECRET_PREVIOUS',
    r.problems,
  );
  const gkePush: GkePushConfig = Object.freeze({
    tenants: readGkePushTenants(r),
    jwksUrl: r.url('K8S_AUDIT_GKE_JWKS_URL', false) ?? GOOGLE_JWKS_URL,
  });

  const lambdaCapped = runtime === 'lambda' && maxBodyBytes > LAMBDA_MAX_PAYLOAD_BYTES;
  const maxWireBytes = lambdaCapped ? LAMBDA_MAX_PAYLOAD_BYTES : maxBodyBytes;
  const admission = readAdmission(r, defaultAdmission(opts.machine ?? thisMachine(), maxWireBytes), maxWireBytes);
  return {
    runtime,
    sharedSecret,
    sharedSecretArn,
    previousSharedSecret,
    tenantSecrets: null,
    tenantSecretsFile,
    tenantSecretsArn,
    maxBodyBytes,
    maxWireBytes,
    wireLimitName: lambdaCapped
      ? `the AWS Lambda synchronous invocation payload limit (${LAMBDA_MAX_PAYLOAD_BYTES} bytes for the whole request event; API Gateway refuses larger requests before the function runs)`
      : 'K8S_AUDIT_MAX_BODY_BYTES',
    maxBatchSize,
    eventsSink,
    alertsSink,
    rejectsSink,
    dataDir,
    inbox,
    sinkMaxAttempts,
    gkePush,
    admission: Object.freeze(admission),
    bodyIdleTimeoutMs: r.int('K8S_AUDIT_BODY_IDLE_TIMEOUT_MS', DEFAULT_BODY_IDLE_TIMEOUT_MS, 100, 600_000),
    bodyMinRate: Object.freeze({
      bytesPerSecond: r.int('K8S_AUDIT_BODY_MIN_RATE', DEFAULT_BODY_MIN_RATE_BYTES_PER_SECOND, 0, 1024 * MiB),
      graceMs: r.int('K8S_AUDIT_BODY_RATE_GRACE_MS', DEFAULT_BODY_RATE_GRACE_MS, 100, 600_000),
    }),
    groupCommit,
    kinesisClientAt,
    requireCluster,
  };
}

/** The admission variables over the machine's defaults; a byte bound below one largest body is refused. */
function readAdmission(r: EnvReader, defaults: AdmissionLimits, maxWireBytes: number): AdmissionLimits {
  const maxBytes = r.int('K8S_AUDIT_MAX_INFLIGHT_BYTES', defaults.maxBytes, 1024, 64 * 1024 * MiB);
  if (maxBytes < maxWireBytes) {
    r.problems.push(
      `K8S_AUDIT_MAX_INFLIGHT_BYTES (${maxBytes}) must be at least the largest body a request may have (${maxWireBytes} bytes, K8S_AUDIT_MAX_BODY_BYTES), or such a request could never be admitted`,
    );
  }
  return {
    maxRequests: r.int('K8S_AUDIT_MAX_INFLIGHT_REQUESTS', defaults.maxRequests, 1, 100_000),
    maxBytes,
    queueDeadlineMs: r.int('K8S_AUDIT_QUEUE_DEADLINE_MS', defaults.queueDeadlineMs, 10, 600_000),
    maxQueueWaitMs: r.int('K8S_AUDIT_MAX_QUEUE_WAIT_MS', defaults.maxQueueWaitMs, 1, 600_000),
    retryAfterSeconds: defaults.retryAfterSeconds,
  };
}

// A Google service account's address; Pub/Sub signs push tokens as one (its `email` claim).
const SERVICE_ACCOUNT_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * K8S_AUDIT_GKE_PUSH: a JSON object from tenant id to `{"audience": "...", "serviceAccount": "..."}`,
 * the values of each tenant's `gcloud pubsub subscriptions create --push-auth-token-audience
 * --push-auth-service-account` (docs/gke.md).
 */
function readGkePushTenants(r: EnvReader): ReadonlyMap<string, GkePushTenant> {
  const tenants = new Map<string, GkePushTenant>();
  const raw = r.string('K8S_AUDIT_GKE_PUSH');
  if (raw === undefined) return tenants;
  const example = `{"<tenant_id>":{"audience":"https://<host>${GKE_PREFIX}<tenant_id>","serviceAccount":"<name>@<project>.iam.gserviceaccount.com"}}`;
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch {
    r.problems.push(`K8S_AUDIT_GKE_PUSH must be JSON such as ${example}`);
    return tenants;
  }
  if (!isJsonObject(doc)) {
    r.problems.push(`K8S_AUDIT_GKE_PUSH must be a JSON object such as ${example}`);
    return tenants;
  }
  for (const [tenant, value] of Object.entries(doc)) {
    const where = `K8S_AUDIT_GKE_PUSH[${JSON.stringify(tenant)}]`;
    if (!TENANT_ID_PATTERN.test(tenant)) {
      r.problems.push(`${where}: the tenant id must match [A-Za-z0-9][A-Za-z0-9._:-]{0,127}`);
      continue;
    }
    const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
    const audience = typeof v.audience === 'string' ? v.audience.trim() : '';
    const serviceAccount = typeof v.serviceAccount === 'string' ? v.serviceAccount.trim() : '';
    if (audience === '') r.problems.push(`${where}.audience must be the subscription's token audience (by default its push endpoint URL)`);
    if (!SERVICE_ACCOUNT_PATTERN.test(serviceAccount)) {
      r.problems.push(`${where}.serviceAccount must be the push subscription's service account email`);
    }
    if (audience !== '' && SERVICE_ACCOUNT_PATTERN.test(serviceAccount)) tenants.set(tenant, Object.freeze({ audience, serviceAccount }));
  }
  return tenants;
}

/**
 * The config with the shared secret read from Secrets Manager when K8S_AUDIT_SHARED_SECRET_ARN is
 * set (once, at init; the entry point keeps the result). Otherwise the config as it is.
 */
export async function withSharedSecret<T extends IngestSettings>(
  config: T,
  read: SecretReader = readSecretsManagerSecret,
  readFile: (path: string) => Promise<string> = (path) => import('node:fs/promises').then((fs) => fs.readFile(path, 'utf8')),
): Promise<T> {
  let out = config;
  if (config.sharedSecretArn !== null) {
    const { current, previous } = await sharedSecretsFromArn(config.sharedSecretArn, read);
    // K8S_AUDIT_SHARED_SECRET_PREVIOUS in the environment, when set, is the operator's explicit choice.
    out = { ...out, sharedSecret: current, previousSharedSecret: config.previousSharedSecret ?? previous };
  }
  if (config.tenantSecretsArn !== null) {
    const source = `K8S_AUDIT_TENANT_SECRETS_ARN (the secret ${config.tenantSecretsArn})`;
    out = {
      ...out,
      tenantSecrets: parseTenantSecrets(await readSecretOf('K8S_AUDIT_TENANT_SECRETS_ARN', config.tenantSecretsArn, read), source),
    };
  } else if (config.tenantSecretsFile !== null) {
    const source = `K8S_AUDIT_TENANT_SECRETS_FILE (${config.tenantSecretsFile})`;
    let text: string;
    try {
      text = await readFile(config.tenantSecretsFile);
    } catch (err) {
      throw new ConfigError([`${source} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
    }
    out = { ...out, tenantSecrets: parseTenantSecrets(text, source) };
  }
  if (out.tenantSecrets !== null) refuseSharedTenantSecrets(out.tenantSecrets, out.sharedSecret, out.previousSharedSecret);
  return out === config ? config : Object.freeze(out);
}

/**
 * A tenant's own secret must be its alone: one shared with another tenant opens that tenant too,
 * and one equal to the installation-wide secret (current or previous) opens every tenant without
 * a secret of its own, which is what per-tenant secrets exist to prevent. Names the tenants and
 * variables, never a value.
 */
function refuseSharedTenantSecrets(tenants: ReadonlyMap<string, string>, shared: string | null, previous: string | null): void {
  const holders = new Map<string, string[]>();
  for (const [tenant, secret] of tenants) holders.set(secret, [...(holders.get(secret) ?? []), tenant]);
  const problems: string[] = [];
  for (const [secret, names] of holders) {
    if (names.length > 1) problems.push(`tenants ${names.join(', ')} have the same secret: each tenant needs its own`);
    for (const [name, value] of [
      ['K8S_AUDIT_SHARED_SECRET', shared],
      ['K8S_AUDIT_SHARED_SECRET_PREVIOUS', previous],
    ] as const) {
      if (value === secret) problems.push(`tenant ${names.join(', ')}: its secret is ${name}, which opens every tenant without its own`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
}

/**
 * A per-tenant secrets map: a JSON object of tenant id to secret, each secret read by
 * `readSharedSecret`. Errors name the source and the tenant, never a value.
 */
export function parseTenantSecrets(text: string, source: string): ReadonlyMap<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    // Where it goes wrong, never V8's quoted excerpt of the text (jsonErrorReason): it holds secrets.
    throw new ConfigError([`${source} is not JSON (${jsonErrorReason(err)}): it must be an object of tenant id to secret`]);
  }
  if (!isJsonObject(parsed)) {
    throw new ConfigError([`${source} must be a JSON object of tenant id to secret`]);
  }
  const problems: string[] = [];
  const map = new Map<string, string>();
  for (const [tenant, value] of Object.entries(parsed)) {
    if (!TENANT_ID_PATTERN.test(tenant)) {
      problems.push(`${source}: ${JSON.stringify(tenant.slice(0, 64))} is not a tenant id ([A-Za-z0-9][A-Za-z0-9._:-]{0,127})`);
      continue;
    }
    const secret = typeof value === 'string' ? readSharedSecret(value, `${source} tenant ${tenant}`, problems) : null;
    if (secret === null && !problems.some((p) => p.startsWith(`${source} tenant ${tenant} `))) {
      problems.push(`${source} tenant ${tenant} has no secret (a non-empty string)`);
    }
    if (secret !== null) map.set(tenant, secret);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return map;
}

/** Reads only where inbox tokens are kept (for `aisoc-k8s-audit inbox`): INBOX_TABLE, else SQLite in AISOC_DATA_DIR. */
export function loadInboxStoreSpec(env: Env): InboxStoreSpec {
  const r = new EnvReader(env);
  const table = r.string('INBOX_TABLE');
  return table !== undefined ? { kind: 'dynamodb', table } : { kind: 'sqlite', dataDir: r.string('AISOC_DATA_DIR') ?? DEFAULT_DATA_DIR };
}
