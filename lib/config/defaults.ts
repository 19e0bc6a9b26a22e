/**
 * Defaults that a config loader applies and a library module also falls back on when called
 * without config (a test, `backfill`): each is defined here once and the owning module imports it,
 * so lib/config imports nothing of lib (CONTRIBUTING.md, "Dependencies").
 */

/** The ingest's cap on a request body, before and after gzip inflation: the connector documentation's 16 MiB. */
export const DEFAULT_INGEST_MAX_BODY_BYTES = 16 * 1024 * 1024;
/** The smallest K8S_AUDIT_MAX_BODY_BYTES an ingest takes: no AiSOC ingest refuses a body this small as too large. */
export const MIN_INGEST_MAX_BODY_BYTES = 1024;
/**
 * The ingest's cap on items per batch (K8S_AUDIT_MAX_BATCH_SIZE). The apiserver sends at most
 * --audit-webhook-batch-max-size events per batch (default 400, k8s.io/apiserver
 * plugin/pkg/audit/webhook); 5000 leaves room for operators who raise it and for the tailer's
 * larger batches, while still bounding the work of one request.
 */
export const DEFAULT_INGEST_MAX_BATCH_SIZE = 5000;

// The shipper (lib/ship): the forwarder Lambda, `tail`, `backfill`, `redrive`, the AKS forwarder.
/** The apiserver's --audit-webhook-batch-max-size default (kube-apiserver flags reference). */
export const DEFAULT_MAX_EVENTS_PER_BATCH = 400;
/**
 * 3 MiB of JSON per body. Lambda's synchronous invocation payload limit is 6 MB (Lambda quotas)
 * and API Gateway hands the body to the ingest Lambda inside a JSON event, where string escaping
 * of every quote grows it by a fifth or more; 3 MiB stays clear of that, and far under the
 * ingest's own 16 MiB K8S_AUDIT_MAX_BODY_BYTES default.
 */
export const DEFAULT_SHIP_MAX_BODY_BYTES = 3 * 1024 * 1024;
/**
 * Events per body of the tailer (AISOC_TAIL_BATCH_EVENTS): as many as the ingest takes by
 * default, so the 3 MiB byte cap is what closes a body. The apiserver's 400 suits a sender that
 * batches as events happen; the tailer reads up to 8 MiB at once, where 400 made 11 requests of a
 * full poll instead of 3, each paying its round trip (docs/tail.md has the figures). An ingest
 * with a lower cap answers 413 and lib/ship halves the batch until it fits.
 */
export const DEFAULT_TAIL_BATCH_EVENTS = DEFAULT_INGEST_MAX_BATCH_SIZE;
/** The tailer's batches in flight at once (AISOC_TAIL_CONCURRENCY; docs/tail.md says why two). */
export const DEFAULT_TAIL_CONCURRENCY = 2;
/** Per request; an ingest that answers at all answers in well under a second. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** Kept back from the Lambda's remaining time so the handler can still log, emit metrics and throw. */
export const DEFAULT_SAFETY_MARGIN_MS = 3_000;
export const DEFAULT_MAX_ATTEMPTS = 8;
export const DEFAULT_BACKOFF_BASE_MS = 200;
export const DEFAULT_BACKOFF_CAP_MS = 5_000;

/** The one CloudWatch namespace every AiSOC K8s audit metric goes to (lib/metrics). */
export const METRICS_NAMESPACE = 'AiSOC/K8sAudit';

/** EKS sends audit lines to streams named kube-apiserver-audit-<hash> (EKS User Guide, "Control plane logs"). */
export const DEFAULT_AUDIT_STREAM_PREFIX = 'kube-apiserver-audit-';
