import { GKE_PREFIX, INBOX_PREFIX, INGEST_PREFIX, STATUS_PREFIX, TENANT_ID_PATTERN } from '../protocol.js';
import { hashToken } from './auth.js';
import { inboxTokenId, TOKEN_PREFIX } from './inbox.js';

/** Header values as transports give them: node:http, API Gateway v1 and v2. */
export type RawHeaders = Readonly<Record<string, string | readonly string[] | null | undefined>>;

/** A request as the core sees it, whatever brought it (the Lambda or the local server). */
export interface IngestRequest {
  method: string;
  /** The path without the query string and without an API Gateway stage prefix. */
  path: string;
  query?: URLSearchParams | Readonly<Record<string, string | undefined>>;
  headers: RawHeaders;
  body: Buffer;
}

/** The part of a request known before its body arrives. */
export type RequestHead = Omit<IngestRequest, 'body'>;

/** Header names folded to lower case (HTTP header names are case-insensitive); repeated values joined. */
export function lowerCaseHeaders(headers: RawHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || value === null) continue;
    const key = name.toLowerCase();
    const text = typeof value === 'string' ? value : value.join(', ');
    out[key] = out[key] === undefined ? text : `${out[key]}, ${text}`;
  }
  return out;
}

/** One query parameter, from either form. */
export function queryParam(query: IngestRequest['query'], name: string): string | undefined {
  if (query === undefined) return undefined;
  if (query instanceof URLSearchParams) return query.get(name) ?? undefined;
  return query[name];
}

/** Which route a path names. */
export type Route =
  | { kind: 'ingest'; tenant: string }
  | { kind: 'gke'; tenant: string }
  | { kind: 'inbox'; token: string }
  | { kind: 'none' };

/** Matches `/v1/ingest/k8s-audit/{tenant_id}`, `/v1/ingest/gke-audit/{tenant_id}` and `/v1/inbox/{token}` (a trailing slash is fine). */
export function matchRoute(path: string): Route {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  for (const [prefix, kind] of [
    [INGEST_PREFIX, 'ingest'],
    [GKE_PREFIX, 'gke'],
    [INBOX_PREFIX, 'inbox'],
  ] as const) {
    if (!trimmed.startsWith(prefix)) continue;
    const segment = trimmed.slice(prefix.length);
    if (segment === '' || segment.includes('/')) return { kind: 'none' };
    return kind === 'inbox' ? { kind, token: segment } : { kind, tenant: segment };
  }
  return { kind: 'none' };
}

/** Whether a path is the status route, `/v1/status/k8s-audit/{tenant_id}`; its raw tenant segment, or null. */
export function matchStatusRoute(path: string): string | null {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  if (!trimmed.startsWith(STATUS_PREFIX)) return null;
  const segment = trimmed.slice(STATUS_PREFIX.length);
  return segment === '' || segment.includes('/') ? null : segment;
}

// Path segments a log line shows as they are: route words (v1, ingest, k8s-audit, healthz). Anything
// longer or stranger could be a credential sent to the wrong path, and is not shown.
const PLAIN_SEGMENT = /^[A-Za-z0-9._:-]{1,15}$/;
const MAX_LOGGED_PATH = 256;

/** A path segment and whether it is a secret of this installation, as a request's handler found it. */
export interface KnownSegment {
  readonly segment: string;
  readonly secret: boolean;
}

/**
 * The request path as a log line may show it, with no credential in it: an inbox token
 * (`/v1/inbox/<token>`, and whatever follows it) becomes its public id, as `inbox list` shows
 * it (`/v1/inbox/<id:0123456789abcdef>`); the ingest routes keep a valid tenant id; in any other
 * path, a segment that is not a short plain word becomes `<redacted>`, and so does any segment
 * `isSecret` knows (a secret typed where the tenant id goes). Every logger of request
 * paths (the ingest's request line, serve's access log, the console's) goes through this one
 * function, and must say which secrets it knows: a default of none let the console log a short
 * plain secret typed into its URL. `known` is what the caller already found of the path's tenant
 * segment (the ingest checks it for a secret anyway): that segment is then not hashed again.
 */
export function loggablePath(path: string, isSecret: (value: string) => boolean, known?: KnownSegment): string {
  const bare = path.split('?', 1)[0] ?? '';
  if (bare.startsWith(INBOX_PREFIX)) {
    const rest = bare.slice(INBOX_PREFIX.length);
    const slash = rest.indexOf('/');
    const token = slash === -1 ? rest : rest.slice(0, slash);
    if (token === '') return INBOX_PREFIX;
    let decoded = token;
    try {
      decoded = decodeURIComponent(token);
    } catch {
      // Not valid percent-encoding: the id of the raw segment still identifies it.
    }
    const tail = slash === -1 ? '' : rest.length === slash + 1 ? '/' : '/<redacted>';
    // Only a token `inbox create` could have made gets its id: the id is 64 bits of the token's
    // SHA-256, which says nothing of 32 random bytes, but of a weak secret sent to the wrong route
    // it would let a log reader test guesses.
    if (!decoded.startsWith(TOKEN_PREFIX)) return `${INBOX_PREFIX}<redacted>${tail}`;
    return `${INBOX_PREFIX}<id:${inboxTokenId(hashToken(decoded))}>${tail}`;
  }
  const route = matchRoute(bare);
  const tenant = route.kind === 'ingest' || route.kind === 'gke' ? route.tenant : matchStatusRoute(bare);
  if (tenant !== null && TENANT_ID_PATTERN.test(tenant) && !(tenant === known?.segment ? known.secret : isSecret(tenant))) {
    return bare.slice(0, MAX_LOGGED_PATH);
  }
  // A secret sent as a segment (typed in the tenant's place) is hidden however short and plain.
  const shown = bare
    .split('/')
    .map((segment) => (segment === '' || (PLAIN_SEGMENT.test(segment) && !isSecret(segment)) ? segment : '<redacted>'))
    .join('/');
  return shown.length > MAX_LOGGED_PATH ? `${shown.slice(0, MAX_LOGGED_PATH)}…` : shown;
}
