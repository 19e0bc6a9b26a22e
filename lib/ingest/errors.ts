/**
 * The HTTP error family of the ingest endpoint. Every message here is written for the operator
 * reading the apiserver's log, is safe to show (no secret, no token, no internals), and is mapped
 * to a response in one place: `errorResponse` (and `tooManyRequestsResponse`, its answer for a 429
 * without the Error, for load shedding's hot path).
 */
export class HttpError extends Error {
  override name = 'HttpError';
  /** Shown to the client; false only for errors whose message must stay in the log. */
  readonly expose: boolean = true;
  constructor(
    readonly statusCode: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** 400: the request can never succeed as sent (bad tenant id, body not an audit payload). */
export class BadRequestError extends HttpError {
  override name = 'BadRequestError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(400, message, {}, options);
  }
}

/** 401: the token is missing or wrong. The message never says which part was wrong. */
export class UnauthorizedError extends HttpError {
  override name = 'UnauthorizedError';
  constructor(message: string) {
    super(401, message);
  }
}

/** 403: a valid inbox token that may not be used for this route (bound to another template). */
export class ForbiddenError extends HttpError {
  override name = 'ForbiddenError';
  constructor(message: string) {
    super(403, message);
  }
}

/** 404: no such route. */
export class NotFoundError extends HttpError {
  override name = 'NotFoundError';
  constructor(message = 'not found') {
    super(404, message);
  }
}

/** 405: the route exists but takes another method. */
export class MethodNotAllowedError extends HttpError {
  override name = 'MethodNotAllowedError';
  constructor(allow: string) {
    super(405, `method not allowed; use ${allow}`, { Allow: allow });
  }
}

/** 413: the body or the batch is over a configured or platform limit. */
export class PayloadTooLargeError extends HttpError {
  override name = 'PayloadTooLargeError';
  constructor(message: string) {
    super(413, message);
  }
}

/** 415: a Content-Type or Content-Encoding the endpoint does not read. */
export class UnsupportedMediaTypeError extends HttpError {
  override name = 'UnsupportedMediaTypeError';
  constructor(message: string) {
    super(415, message);
  }
}

/** The header that tells a sender how long to wait before it retries (429, 503). */
function retryAfter(seconds: number): Record<string, string> {
  return { 'Retry-After': String(seconds) };
}

/** 429: the server holds as much work as it may; nothing of this request was read or stored. */
export class TooManyRequestsError extends HttpError {
  override name = 'TooManyRequestsError';
  constructor(message: string, retryAfterSeconds: number) {
    super(429, message, retryAfter(retryAfterSeconds));
  }
}

/**
 * The answer `errorResponse(new TooManyRequestsError(message, retryAfterSeconds))` gives, without
 * the Error: admission control refuses hundreds of requests a second under overload, and each
 * Error would capture a stack trace (measured: the largest JavaScript cost of a refusal).
 */
export function tooManyRequestsResponse(message: string, retryAfterSeconds: number): IngestResponse {
  return jsonResponse(429, { error: message }, retryAfter(retryAfterSeconds));
}

/**
 * 499 (nginx's "client closed request"): the client left before its batch was stored, so the
 * server stopped working on it. Nobody reads this answer; it names the case in the log.
 */
export class ClientClosedRequestError extends HttpError {
  override name = 'ClientClosedRequestError';
  constructor() {
    super(499, 'the client closed the connection before the batch was stored; nothing was stored');
  }
}

/**
 * Seconds a 503 asks the sender to wait. kube-apiserver's client waits out a 503's Retry-After and
 * resends up to 10 times within its 30 s request timeout; a wait that would pass the timeout ends
 * the request with an error its webhook does not retry, and the batch is dropped (client-go
 * rest/with_retry.go; docs/reliability.md). At 5 s that happened after the sixth attempt; at 2 s the
 * ten resends end inside the timeout with the 503 itself, which the webhook retries with its own
 * backoff (--audit-webhook-initial-backoff, 10 s). The shipper honours this header too;
 * Pub/Sub (GKE) ignores it and keeps its own backoff.
 */
export const RETRY_AFTER_SECONDS = 2;
/** 503: the route is switched off, or a sink failed after its retries; `Retry-After` says when to retry. */
export class ServiceUnavailableError extends HttpError {
  override name = 'ServiceUnavailableError';
  constructor(message: string, retryAfterSeconds?: number, options?: { cause?: unknown }) {
    super(503, message, retryAfterSeconds === undefined ? {} : retryAfter(retryAfterSeconds), options);
  }
}

/**
 * 503 for a route this ingest has turned off (the webhook without a secret, GKE push without
 * tenants, the inbox without a table). Anyone who finds the URL can draw it, so it is counted
 * apart (RoutesOff) from a 503 that is an outage: the alarms page on it only when it lasts.
 */
export class RouteOffError extends ServiceUnavailableError {
  override name = 'RouteOffError';
}

/** A transport-free HTTP answer: what the Lambda and the local server both send. */
export interface IngestResponse {
  status: number;
  headers: Record<string, string>;
  /** JSON text. */
  body: string;
}

const JSON_HEADERS = { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' } as const;

/** A JSON response with the endpoint's standard headers. */
export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): IngestResponse {
  return { status, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

/** Maps any thrown value to a response: an `HttpError` shows its message, anything else is a bare 500. */
export function errorResponse(err: unknown): IngestResponse {
  if (err instanceof HttpError && err.expose) return jsonResponse(err.statusCode, { error: err.message }, { ...err.headers });
  return jsonResponse(500, { error: 'internal error' });
}
