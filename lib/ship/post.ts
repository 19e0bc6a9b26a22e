import { promisify } from 'node:util';
import { plaintextUrlProblem, type ShipTls } from '../config/tls.js';
import { CLUSTER_HEADER, SOURCE_ACCOUNT_HEADER, SOURCE_REGION_HEADER, TOKEN_HEADER } from '../protocol.js';
import { httpPost } from './http.js';
import type { BodyChunks } from './pack.js';
import type { ShipSource } from './types.js';

// node:zlib is loaded by the first gzip body (AISOC_TAIL_GZIP and the like), not at import.
let gzipAsync: Promise<(body: string | Uint8Array) => Promise<Buffer>> | undefined;
const loadGzip = () => {
  gzipAsync ??= import('node:zlib').then((z) => promisify(z.gzip) as (body: string | Uint8Array) => Promise<Buffer>);
  return gzipAsync;
};

/** What one POST came back with. */
export type PostOutcome =
  | { kind: 'answer'; status: number; text: string; retryAfterMs: number | null }
  | { kind: 'network'; code: string; message: string; stale: boolean; timeout: boolean }
  | { kind: 'unsendable'; message: string };

/** What one POST needs; the token is only ever put in the header. */
export interface PostRequest {
  url: string;
  token: string;
  clusterName?: string | null;
  source?: ShipSource | null;
  gzip: boolean;
  timeoutMs: number;
  /** A private CA and a client certificate; null for Node's defaults. */
  tls?: ShipTls | null;
  /** A fetch to use instead of node:http(s) (tests inject one). */
  fetch?: typeof fetch | null;
}

// Errors of a keep-alive socket the server (or a NAT, or a Lambda freeze) closed while idle:
// undici reports it as UND_ERR_SOCKET "other side closed"; plain sockets as ECONNRESET / EPIPE.
const STALE_SOCKET_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

function errorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e !== null && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function errorText(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e instanceof Error; depth++) {
    parts.push(e.message);
    e = e.cause;
  }
  return parts.join(': ') || String(err);
}

/** Reads a Retry-After header (seconds or an HTTP date) as milliseconds from now. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (value === null || value.trim() === '') return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/**
 * `text` with every occurrence of the token replaced by `<redacted>`. An answer's text goes to
 * log lines and to the operator's terminal, and what answers may not be our ingest: a proxy's
 * error page or a wrong URL's echo service can send the request's headers back.
 */
export function redactToken(text: string, token: string): string {
  return token.length > 0 ? text.split(token).join('<redacted>') : text;
}

/**
 * What to say after a network error `code` for `url`: an https:// URL to an ingest serving plain
 * http (`serve` without --tls-cert, `npm start`) fails the handshake with a bare ECONNRESET
 * (EPROTO from some servers), and the code alone sends an operator to the network. '' otherwise.
 */
export function plainHttpHint(url: string, code: string | undefined): string {
  return url.startsWith('https:') && (code === 'ECONNRESET' || code === 'EPROTO')
    ? '; the TLS handshake failed: if the ingest serves plain http (serve without --tls-cert, npm start), use http:// for a loopback ingest, or start it with --tls-cert and --tls-key (docs/tls.md)'
    : '';
}

function isChunks(body: string | Uint8Array | BodyChunks): body is BodyChunks {
  return typeof body === 'object' && !(body instanceof Uint8Array);
}

/**
 * POSTs one EventList body to the ingest route and classifies what happened. Never throws. A body
 * in pieces goes to the socket as they are; gzip and an injected fetch get it joined.
 */
export async function postEventList(body: string | Uint8Array | BodyChunks, req: PostRequest): Promise<PostOutcome> {
  // The last line of defence for callers that post without shipEvents: no secret in clear text
  // to another machine unless the operator allowed it (shipEvents refuses earlier, and warns).
  if (!req.tls?.allowInsecureHttp) {
    const problem = plaintextUrlProblem(req.url);
    if (problem !== null) return { kind: 'unsendable', message: problem };
  }
  const headers: Record<string, string> = { 'Content-Type': 'application/json', [TOKEN_HEADER]: req.token };
  if (req.clusterName) headers[CLUSTER_HEADER] = req.clusterName;
  if (req.source?.account) headers[SOURCE_ACCOUNT_HEADER] = req.source.account;
  if (req.source?.region) headers[SOURCE_REGION_HEADER] = req.source.region;
  if (isChunks(body) && !req.gzip && !req.fetch)
    return postWithHttp(body.chunks.length === 1 ? (body.chunks[0] as Uint8Array) : body.chunks, headers, req);
  let payload: string | Uint8Array = isChunks(body) ? joinChunks(body) : body;
  if (req.gzip) {
    headers['Content-Encoding'] = 'gzip';
    payload = await (await loadGzip())(payload);
  }
  if (!req.fetch) return postWithHttp(typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload, headers, req);
  try {
    const res = await req.fetch(req.url, {
      method: 'POST',
      headers,
      body: payload,
      signal: AbortSignal.timeout(Math.max(1, Math.floor(req.timeoutMs))),
    });
    // Read the whole answer: it carries the counts, and an unread body keeps the socket from reuse.
    const text = redactToken(await res.text(), req.token);
    return { kind: 'answer', status: res.status, text, retryAfterMs: parseRetryAfter(res.headers.get('retry-after')) };
  } catch (err) {
    return classifyError(err, req.timeoutMs);
  }
}

async function postWithHttp(
  body: Uint8Array | readonly Uint8Array[],
  headers: Record<string, string>,
  req: PostRequest,
): Promise<PostOutcome> {
  const posted = await httpPost(req.url, headers, body, req.timeoutMs, req.tls ?? null);
  if (posted.kind === 'answer') {
    return {
      kind: 'answer',
      status: posted.status,
      text: redactToken(posted.text, req.token),
      retryAfterMs: parseRetryAfter(posted.retryAfter),
    };
  }
  if (posted.kind === 'unsendable') return posted;
  return classifyError(posted.error, req.timeoutMs);
}

function joinChunks(body: BodyChunks): Buffer {
  return Buffer.concat(body.chunks, body.length);
}

/** A failed POST as lib/ship reads it: a timeout, a request that cannot be built, or a network error. */
function classifyError(err: unknown, timeoutMs: number): PostOutcome {
  const name = err instanceof Error ? err.name : '';
  if (name === 'TimeoutError' || name === 'AbortError') {
    return { kind: 'network', code: 'TIMEOUT', message: `no answer within ${timeoutMs} ms`, stale: false, timeout: true };
  }
  const code = errorCode(err);
  // fetch rejects with a bare TypeError (no cause) for requests it refuses to build: a malformed
  // URL or a header value that is not a ByteString. Sending again cannot help.
  if (code === undefined && err instanceof TypeError && err.cause === undefined) {
    return { kind: 'unsendable', message: err.message };
  }
  return {
    kind: 'network',
    code: code ?? 'NETWORK',
    message: errorText(err),
    stale: code !== undefined && STALE_SOCKET_CODES.has(code),
    timeout: false,
  };
}
