/**
 * The wire protocol between the shippers (the forwarder Lambda, `tail`, `backfill`, `redrive`,
 * the AKS forwarder, `status`, `rejected --replay`) and the ingest (the Lambda, `serve`): header
 * names, route prefixes, the tenant id pattern and query names, as docs/ingest.md documents them.
 * Both sides import this one module, so a name cannot drift between them. Pure constants and
 * string functions: lib/config may import it.
 */

/** The installation's (or the tenant's own) shared secret, on every authenticated request. */
export const TOKEN_HEADER = 'X-AiSOC-K8s-Token';
/** The cluster the events come from; the `cluster` query parameter or an inbox binding are the fallbacks. */
export const CLUSTER_HEADER = 'X-AiSOC-Cluster-Name';
/**
 * The AWS account and region of an EKS log group, set by our forwarder from the subscription
 * payload's `owner` and its own region; they fill OCSF `cloud` (Security Lake puts the account there).
 */
export const SOURCE_ACCOUNT_HEADER = 'X-AiSOC-Source-Account';
export const SOURCE_REGION_HEADER = 'X-AiSOC-Source-Region';

/** The query parameter that names the cluster when the sender cannot set a header. */
export const CLUSTER_QUERY = 'cluster';

/** `POST /v1/ingest/k8s-audit/{tenant_id}`: EventLists, Events, arrays, NDJSON and AKS records bodies. */
export const INGEST_PREFIX = '/v1/ingest/k8s-audit/';
/** `POST /v1/ingest/gke-audit/{tenant_id}`: Pub/Sub push deliveries of GKE audit LogEntries (docs/gke.md). */
export const GKE_PREFIX = '/v1/ingest/gke-audit/';
/** `POST /v1/inbox/{token}`: the legacy path for control planes that cannot send a header. */
export const INBOX_PREFIX = '/v1/inbox/';
/** `GET /v1/status/k8s-audit/{tenant_id}`: a tenant's clusters and last hour (authenticated like the ingest). */
export const STATUS_PREFIX = '/v1/status/k8s-audit/';

/** The tenant id rule as people read it, for error messages and help texts. */
export const TENANT_ID_RULE = '[A-Za-z0-9][A-Za-z0-9._:-]{0,127}';
/** Tenant ids the routes accept (the ingest contract): they name a tenant boundary, nothing else. */
export const TENANT_ID_PATTERN = new RegExp(`^${TENANT_ID_RULE}$`);

/** The dedicated route as a sender's URL ends: `<prefix>/v1/ingest/k8s-audit/<tenant_id>`, a trailing slash allowed. */
const INGEST_URL_PATH = new RegExp(`^(.*)${INGEST_PREFIX.replace(/\//g, '\\/')}([^/]+)(\\/?)$`);

/** An ingest URL's path split at the dedicated route: what precedes it (an API Gateway stage), the raw tenant segment, a trailing slash. */
export interface IngestPath {
  prefix: string;
  tenant: string;
  trailingSlash: boolean;
}

/** Splits a URL path ending in the dedicated route `/v1/ingest/k8s-audit/<tenant_id>`; null for any other path. */
export function splitIngestPath(pathname: string): IngestPath | null {
  const m = INGEST_URL_PATH.exec(pathname);
  if (m === null) return null;
  return { prefix: m[1] ?? '', tenant: m[2] ?? '', trailingSlash: m[3] === '/' };
}

/**
 * Whether a URL path is exactly a tenant route, `<prefix>/v1/ingest/k8s-audit/<tenant_id>`: the
 * tenant segment as sent (not decoded) a valid tenant id, with nothing after it. Another path (the
 * inbox's `/v1/inbox/<token>`, a token pasted after the route) would be sent to, and logged with
 * every failed batch, by a sender configured with it.
 */
export function isTenantRoutePath(pathname: string): boolean {
  const route = splitIngestPath(pathname);
  return route !== null && !route.trailingSlash && TENANT_ID_PATTERN.test(route.tenant);
}

/** The tenant id of a dedicated route URL (`.../v1/ingest/k8s-audit/<tenant_id>`), decoded, or null. */
export function tenantFromIngestUrl(url: string): string | null {
  try {
    const route = splitIngestPath(new URL(url).pathname);
    return route === null ? null : decodeURIComponent(route.tenant);
  } catch {
    return null;
  }
}

/**
 * A cluster name the senders here (forwarder, tail, connector) can send in the
 * X-AiSOC-Cluster-Name header: visible ASCII with spaces only inside (a header carries ASCII), at
 * most 256 characters (the ingest's limit). Checked where it is configured, so a bad one is a
 * clear error at start instead of a 400 for every batch.
 */
export const SENDER_CLUSTER_NAME = /^[\x21-\x7e](?:[\x20-\x7e]{0,254}[\x21-\x7e])?$/;
export const SENDER_CLUSTER_NAME_RULE = '1-256 printable ASCII characters without leading or trailing spaces';

// Cluster names are labels (EKS allows 100 characters); anything longer or with control
// characters is a mistake, not a name to stamp on every record.
/** A cluster name the ingest takes: 1 to 256 characters (code points), none a control character (C0, DEL or C1). */
export const CLUSTER_NAME_PATTERN = /^[^\u0000-\u001f\u007f-\u009f]{1,256}$/u;
