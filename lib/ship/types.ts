import type { ShipTls } from '../config/tls.js';

/**
 * The AWS account and region an EKS log group belongs to. The ingest fills OCSF `cloud` with them;
 * the account comes from the subscription payload's `owner`, never from the events themselves.
 */
export interface ShipSource {
  account?: string | null;
  region?: string | null;
}

/** Options of `shipEvents`: where to POST, with which token, and the batching and retry limits. */
export interface ShipOptions {
  /** The full ingest route, e.g. https://host/v1/ingest/k8s-audit/<tenant>. */
  url: string;
  /** Sent as X-AiSOC-K8s-Token; never logged. */
  token: string;
  /** Sent as X-AiSOC-Cluster-Name. */
  clusterName?: string | null;
  /**
   * How the connection is secured: a private CA, a client certificate, and whether plain http to
   * a non-loopback host is allowed. Without it (or with `allowInsecureHttp` false) an http:// URL
   * to anything but loopback is refused before a byte is sent.
   */
  tls?: ShipTls | null;
  /** Where the events come from, sent as X-AiSOC-Source-Account / X-AiSOC-Source-Region. */
  source?: ShipSource | null;
  /** Default 400 (the apiserver's --audit-webhook-batch-max-size default). */
  maxEventsPerBatch?: number;
  /** Byte-exact cap of one EventList body (before gzip). */
  maxBodyBytes?: number;
  /** Content-Encoding: gzip. */
  gzip?: boolean;
  /** Timeout of one request, in milliseconds. */
  requestTimeoutMs?: number;
  /** Time left (Lambda context); retries stop before it runs out (minus `safetyMarginMs`). */
  remainingTimeMs?: () => number;
  /** Time kept back from `remainingTimeMs` so the caller can still report and throw. Default 3 s. */
  safetyMarginMs?: number;
  /** Attempts per batch for retryable answers, the first included. Default 8. */
  maxAttempts?: number;
  /** Base and cap of the full-jitter exponential backoff, in milliseconds. Defaults 200 and 5000. */
  backoffBaseMs?: number;
  backoffCapMs?: number;
  /** Batches in flight at once. Default 1. */
  concurrency?: number;
  /**
   * Start no batch after one that cannot be delivered (the tailer: cursor order). Batches already
   * in flight then still finish, so events after the first failed one may be delivered too: a
   * caller that resumes at the lowest failed index sends them again, a duplicate the ingest drops
   * by the event's identity (lib/audit/identity.ts).
   */
  stopOnFailure?: boolean;
  /** A fetch to POST with instead of node:http(s) (tests inject one to stand in for the ingest). */
  fetch?: typeof fetch;
  /** Structured log lines. */
  log?: (entry: Record<string, unknown>) => void;
  /** Injectable backoff sleep for tests. */
  sleep?: (ms: number) => Promise<void>;
  /**
   * A stop (the tailer's SIGTERM): aborting it ends a backoff wait at once, a Retry-After's
   * included (up to 30 s, longer than a pod's default grace period), and no request starts after
   * it; each batch not delivered fails as `stopped`, retryable. A request in flight still finishes.
   */
  signal?: AbortSignal;
  /** Injectable randomness for the jitter, in [0, 1). */
  random?: () => number;
}

/**
 * Why an event was not delivered: `config` (400/401/403/404/405/415 or a request that cannot be
 * built: sending again cannot help until someone fixes the setup), `oversize` (over the byte cap
 * or a single-event 413), `refused` (another 4xx), `gave-up` (retryable failures past the
 * attempts), `deadline` (no time left), `stopped` (not sent after an earlier failure, or after `signal` aborted).
 */
export type ShipFailureKind = 'config' | 'oversize' | 'refused' | 'gave-up' | 'deadline' | 'stopped';

/** One event that was not delivered, by its index in the input, and why. */
export interface ShipFailure {
  index: number;
  auditID?: string;
  reason: string;
  /** The ingest's HTTP status, when it answered. */
  status?: number;
  /** Whether sending it again later can help (false for configuration errors and oversize events). */
  retryable: boolean;
  kind?: ShipFailureKind;
}

/** What happened to every event passed to `shipEvents`. */
export interface ShipResult {
  /** Events in batches the ingest answered 2xx. */
  delivered: number;
  /** Every event not delivered, by its index in the input, with a reason (never silent). */
  failed: ShipFailure[];
  /** Summed from the ingest's answers. */
  accepted: number;
  rejected: number;
  duplicates: number;
  /** POST requests that got a 2xx answer. */
  batches: number;
  /** Requests sent again after a retryable failure (backoff retries and the immediate stale-socket retry; not 413 halves). */
  retries: number;
  /** Body bytes of the delivered batches (before gzip). */
  bytes: number;
  /** Events too big for one body (the byte cap or the ingest's 413). */
  oversize: number;
}

/** One packed EventList body and the input events it holds. */
export interface PackedBody {
  body: string;
  /** Index of its first event in the input. */
  first: number;
  /** Number of events: the body holds input events `first` .. `first + count - 1`, in order. */
  count: number;
}
