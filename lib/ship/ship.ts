import { scrubJwtText } from '../audit/redact.js';
import {
  DEFAULT_BACKOFF_BASE_MS,
  DEFAULT_BACKOFF_CAP_MS,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_MAX_EVENTS_PER_BATCH,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_SAFETY_MARGIN_MS,
  DEFAULT_SHIP_MAX_BODY_BYTES,
  MIN_INGEST_MAX_BODY_BYTES,
} from '../config/defaults.js';
import { loggableUrl } from '../config/env.js';
import { DEFAULT_SHIP_TLS, plaintextUrlProblem, type ShipTls } from '../config/tls.js';
import { INGEST_PREFIX, TOKEN_HEADER } from '../protocol.js';
import {
  type BodyChunks,
  type EventText,
  eventListChunks,
  eventString,
  firstHalf,
  iteratePackRanges,
  type JoinedLines,
  tooLargeStep,
  withoutJoins,
} from './pack.js';
import { type PostOutcome, postEventList, redactToken } from './post.js';
import { warnInsecureOnce } from './tls.js';
import type { ShipFailure, ShipFailureKind, ShipOptions, ShipResult, ShipSource } from './types.js';

/** A request is not started with less time than this left: it could not finish. */
const MIN_REQUEST_MS = 250;
/** An ingest's Retry-After is honoured up to this, so a bad header cannot park a caller for hours. */
const MAX_RETRY_AFTER_MS = 30_000;

const ROUTE = `${INGEST_PREFIX}<tenant_id>`;
const REDIRECT_HINT = `the ingest URL redirects (HTTP 3xx): set AISOC_INGEST_URL to the final URL (https, the full ${ROUTE} route)`;

/** Statuses that mean the request itself is wrong (URL, tenant, token): sending again cannot help. */
const CONFIG_ERROR_HINTS: Record<number, string> = {
  400: `the ingest rejected the request as malformed (its reason follows): a tenant id or cluster name it refuses (check AISOC_INGEST_URL, the full ${ROUTE} route, and the cluster name), or a body that is not JSON`,
  401: `the token was refused: the shared secret sent as ${TOKEN_HEADER} does not match the ingest's K8S_AUDIT_SHARED_SECRET, or this tenant's own secret when the ingest has one (K8S_AUDIT_TENANT_SECRETS_FILE/_ARN)`,
  403: 'access forbidden: check AISOC_INGEST_URL and any API Gateway resource policy or WAF in front of the ingest',
  404: `no such route: check AISOC_INGEST_URL (it must be the full ${ROUTE} route)`,
  405: `method not allowed: check AISOC_INGEST_URL (it must be the full ${ROUTE} route)`,
  415: 'the ingest refused the content type or encoding: check the gzip setting against what the ingest accepts',
  // Redirects are not followed (a POST body must not be replayed to wherever a Location points):
  // the URL is wrong the same way for every batch.
  301: REDIRECT_HINT,
  302: REDIRECT_HINT,
  303: REDIRECT_HINT,
  307: REDIRECT_HINT,
  308: REDIRECT_HINT,
};

// Node's codes for an ingest certificate this process does not trust (OpenSSL's verify errors, and
// the host name check), and for the alerts of an ingest that refuses our client certificate.
const UNTRUSTED_SERVER_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
const REFUSED_CLIENT_CODES = new Set([
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
]);

/** What to fix when a TLS handshake failed for a reason a retry cannot cure; null otherwise. */
function tlsHint(code: string): string | null {
  if (UNTRUSTED_SERVER_CODES.has(code)) {
    return "the ingest's TLS certificate is not trusted: when a private CA issued it, set AISOC_CA_FILE to that CA's PEM certificate; check that the host name in AISOC_INGEST_URL is one the certificate names and that it has not expired";
  }
  if (REFUSED_CLIENT_CODES.has(code)) {
    return 'the ingest refused this client: it asks for a client certificate (mTLS); set AISOC_CLIENT_CERT_FILE and AISOC_CLIENT_KEY_FILE to one its CA issued';
  }
  return null;
}

const AUDIT_ID_PATTERN = /"auditID"\s*:\s*"([^"\\]{1,128})"/;

/**
 * Reads the auditID out of an event's text without parsing it (also works on cut-off text), for
 * log lines and failure reports. kube-apiserver takes a client's `Audit-ID` header as the auditID
 * as it is (k8s.io/apiserver/pkg/endpoints/filters/audit_init.go), so it may hold a token: a JWT's
 * signature is scrubbed, as validateAuditEvent does for the auditID it echoes.
 */
export function readAuditId(text: string): string | undefined {
  const id = AUDIT_ID_PATTERN.exec(text)?.[1];
  return id === undefined ? undefined : scrubJwtText(id);
}

interface Resolved {
  url: string;
  token: string;
  clusterName: string | null;
  source: ShipSource | null;
  tls: ShipTls;
  maxEvents: number;
  maxBytes: number;
  gzip: boolean;
  requestTimeoutMs: number;
  remainingTimeMs: (() => number) | null;
  safetyMarginMs: number;
  maxAttempts: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  concurrency: number;
  stopOnFailure: boolean;
  fetch: typeof fetch | null;
  log: (entry: Record<string, unknown>) => void;
  /** The injected sleep (tests), or null for a timer. */
  sleep: ((ms: number) => Promise<void>) | null;
  random: () => number;
  signal: AbortSignal | null;
}

function resolve(opts: ShipOptions): Resolved {
  const stopOnFailure = opts.stopOnFailure ?? false;
  return {
    url: opts.url,
    token: opts.token,
    clusterName: opts.clusterName ?? null,
    source: opts.source ?? null,
    tls: opts.tls ?? DEFAULT_SHIP_TLS,
    maxEvents: opts.maxEventsPerBatch ?? DEFAULT_MAX_EVENTS_PER_BATCH,
    maxBytes: opts.maxBodyBytes ?? DEFAULT_SHIP_MAX_BODY_BYTES,
    gzip: opts.gzip ?? false,
    requestTimeoutMs: opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    remainingTimeMs: opts.remainingTimeMs ?? null,
    safetyMarginMs: opts.safetyMarginMs ?? DEFAULT_SAFETY_MARGIN_MS,
    maxAttempts: Math.max(1, opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS),
    backoffBaseMs: opts.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS,
    backoffCapMs: opts.backoffCapMs ?? DEFAULT_BACKOFF_CAP_MS,
    concurrency: Math.max(1, Math.floor(opts.concurrency ?? 1)),
    stopOnFailure,
    fetch: opts.fetch ?? null,
    log: opts.log ?? (() => {}),
    sleep: opts.sleep ?? null,
    random: opts.random ?? Math.random,
    signal: opts.signal ?? null,
  };
}

/**
 * `sleep(ms)`, ended early when `signal` aborts: a stop must not wait out a Retry-After of up to
 * 30 s (MAX_RETRY_AFTER_MS) while the pod's grace period runs (30 s by default, then SIGKILL). The
 * default sleep's timer is cleared then, so it does not keep the process alive either.
 */
function abortableSleep(sleep: ((ms: number) => Promise<void>) | null, ms: number, signal: AbortSignal | null): Promise<void> {
  if (signal?.aborted === true) return Promise.resolve();
  return new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    signal?.addEventListener('abort', done, { once: true });
    if (sleep === null) timer = setTimeout(done, ms);
    else void sleep(ms).then(done, done);
  });
}

/** `value` (parsed JSON) with the token taken out of every string in it, keys included. */
function redactStrings(value: unknown, token: string): unknown {
  if (typeof value === 'string') return redactToken(value, token);
  if (Array.isArray(value)) return value.map((v) => redactStrings(v, token));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [redactToken(k, token), redactStrings(v, token)]));
  }
  return value;
}

function describeAnswer(status: number, text: string, token: string): string {
  let detail = '';
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed?.error === 'string') detail = parsed.error;
  } catch {
    detail = text.slice(0, 200);
  }
  detail = redactToken(detail.replace(/\s+/g, ' ').trim(), token);
  return detail ? `HTTP ${status}: ${detail}` : `HTTP ${status}`;
}

function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

function readCount(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0;
}

/** Why the remaining events are not sent, once a run is stopped. */
function isJoinedLines(input: readonly EventText[] | JoinedLines): input is JoinedLines {
  return !Array.isArray(input);
}

interface Stop {
  reason: string;
  status?: number;
  retryable: boolean;
}

interface FailureInfo {
  kind: ShipFailureKind;
  reason: string;
  retryable: boolean;
  status?: number | undefined;
}

/**
 * Packs events (each the original JSON text of one audit Event, or its UTF-8 bytes) into EventList
 * bodies and POSTs them. Given as `JoinedLines`, runs of comma-joined views go out without a copy.
 */
export async function shipEvents(input: readonly EventText[] | JoinedLines, opts: ShipOptions): Promise<ShipResult> {
  const lines = isJoinedLines(input) ? input : withoutJoins(input);
  const events = lines.events;
  const o = resolve(opts);
  const result: ShipResult = {
    delivered: 0,
    failed: [],
    accepted: 0,
    rejected: 0,
    duplicates: 0,
    batches: 0,
    retries: 0,
    bytes: 0,
    oversize: 0,
  };
  let stop: Stop | null = null;
  const target = loggableUrl(o.url);

  const fail = (first: number, count: number, info: FailureInfo): void => {
    const { kind, reason, retryable, status } = info;
    for (let i = first; i < first + count; i++) {
      const failure: ShipFailure = { index: i, reason, retryable, kind };
      const id = readAuditId(eventString(events[i] as EventText));
      if (id !== undefined) failure.auditID = id;
      if (status !== undefined) failure.status = status;
      result.failed.push(failure);
    }
  };
  // The shared secret never goes over plain http to another machine unless the operator said so;
  // checked here, not only in the config loaders, so every caller of lib/ship is covered.
  if (!o.tls.allowInsecureHttp) {
    const problem = plaintextUrlProblem(o.url);
    if (problem !== null) {
      const reason = `configuration error: ${problem}`;
      fail(0, events.length, { kind: 'config', reason, retryable: false });
      o.log({ level: 'error', msg: 'refusing to send the shared secret in clear text', url: target, reason, events: events.length });
      return result;
    }
  } else warnInsecureOnce(o.url, o.log);
  const timeLeft = (): number => (o.remainingTimeMs === null ? Number.POSITIVE_INFINITY : o.remainingTimeMs() - o.safetyMarginMs);

  const deliver = async (first: number, count: number, body: BodyChunks): Promise<void> => {
    let attempt = 0;
    let staleRetried = false;
    for (;;) {
      if (stop !== null) {
        fail(first, count, { kind: 'stopped', reason: `not sent: ${stop.reason}`, retryable: stop.retryable, status: stop.status });
        return;
      }
      if (o.signal?.aborted === true) {
        fail(first, count, { kind: 'stopped', reason: 'not sent: the sender was stopped (SIGTERM or SIGINT)', retryable: true });
        return;
      }
      const left = timeLeft();
      if (left < MIN_REQUEST_MS) {
        fail(first, count, {
          kind: 'deadline',
          reason: "not sent: no time was left (the Lambda invocation's deadline, or the tailer stopping)",
          retryable: true,
        });
        return;
      }
      const outcome: PostOutcome = await postEventList(body, {
        url: o.url,
        token: o.token,
        clusterName: o.clusterName,
        source: o.source,
        gzip: o.gzip,
        tls: o.tls,
        timeoutMs: Math.min(o.requestTimeoutMs, left),
        fetch: o.fetch,
      });
      let lastError: string;
      let retryAfterMs: number | null = null;
      let status: number | undefined;
      if (outcome.kind === 'answer') {
        status = outcome.status;
        if (status >= 200 && status < 300) {
          accept(outcome.text, first, count, body);
          return;
        }
        if (status === 413) {
          await split(first, count, outcome.text, body.length);
          return;
        }
        const hint = CONFIG_ERROR_HINTS[status];
        if (hint !== undefined) {
          const reason = `configuration error: ${hint} (${describeAnswer(status, outcome.text, o.token)})`;
          // Every later batch would get the same answer: stop here instead of hammering the ingest.
          stop = { reason: `an earlier batch failed with a configuration error: ${reason}`, status, retryable: false };
          fail(first, count, { kind: 'config', reason, retryable: false, status });
          o.log({ level: 'error', msg: 'ingest refused the batch', url: target, status, reason, events: count });
          return;
        }
        if (!isRetryableStatus(status)) {
          const reason = `ingest answered ${describeAnswer(status, outcome.text, o.token)}; not retried`;
          fail(first, count, { kind: 'refused', reason, retryable: false, status });
          o.log({ level: 'error', msg: 'ingest refused the batch', url: target, status, reason, events: count });
          if (o.stopOnFailure) stop = { reason, status, retryable: false };
          return;
        }
        lastError = describeAnswer(status, outcome.text, o.token);
        retryAfterMs = outcome.retryAfterMs;
      } else if (outcome.kind === 'unsendable') {
        const reason = `configuration error: the request cannot be built (${redactToken(outcome.message, o.token)}): check AISOC_INGEST_URL, the cluster name and the token for characters not allowed in a URL or header`;
        stop = { reason: `an earlier batch failed with a configuration error: ${reason}`, retryable: false };
        fail(first, count, { kind: 'config', reason, retryable: false });
        o.log({ level: 'error', msg: 'request cannot be built', url: target, reason, events: count });
        return;
      } else if (tlsHint(outcome.code) !== null) {
        // Sending again cannot make the ingest's certificate trusted or ours accepted: stop and say what to set.
        const reason = `configuration error: ${tlsHint(outcome.code)} (${outcome.code}: ${redactToken(outcome.message, o.token)})`;
        stop = { reason: `an earlier batch failed with a configuration error: ${reason}`, retryable: false };
        fail(first, count, { kind: 'config', reason, retryable: false });
        o.log({ level: 'error', msg: 'TLS handshake refused', url: target, reason, events: count });
        return;
      } else {
        lastError = `${outcome.code}: ${redactToken(outcome.message, o.token)}`;
        if (outcome.stale && !staleRetried) {
          // A socket that idled through a Lambda freeze fails the first request on it; a fresh
          // connection almost always succeeds, so resend at once without spending an attempt.
          staleRetried = true;
          result.retries++;
          o.log({ level: 'warn', msg: 'stale keep-alive socket, resending at once', url: target, error: lastError });
          continue;
        }
      }
      attempt++;
      if (attempt >= o.maxAttempts) {
        const reason = `gave up after ${attempt} attempts (last: ${lastError})`;
        fail(first, count, { kind: 'gave-up', reason, retryable: true, status });
        o.log({ level: 'error', msg: 'batch not delivered', url: target, reason, events: count });
        if (o.stopOnFailure) stop = { reason, retryable: true, ...(status === undefined ? {} : { status }) };
        return;
      }
      // Full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"): spreads the retries
      // of many concurrent forwarders instead of having them all come back at once.
      let delay = Math.floor(o.random() * Math.min(o.backoffCapMs, o.backoffBaseMs * 2 ** (attempt - 1)));
      if (retryAfterMs !== null) delay = Math.max(delay, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS));
      if (timeLeft() - delay < MIN_REQUEST_MS) {
        const reason = `not delivered before the deadline (last: ${lastError})`;
        fail(first, count, { kind: 'deadline', reason, retryable: true, status });
        o.log({ level: 'error', msg: 'batch not delivered', url: target, reason, events: count });
        if (o.stopOnFailure) stop = { reason, retryable: true, ...(status === undefined ? {} : { status }) };
        return;
      }
      result.retries++;
      o.log({ level: 'warn', msg: 'retrying batch', url: target, attempt, delayMs: delay, error: lastError, events: count });
      await abortableSleep(o.sleep, delay, o.signal);
    }
  };

  const accept = (text: string, first: number, count: number, body: BodyChunks): void => {
    result.delivered += count;
    result.batches++;
    result.bytes += body.length;
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
    if (parsed === null || typeof parsed !== 'object') {
      o.log({ level: 'warn', msg: 'ingest answered 2xx without counts', url: target, events: count });
      return;
    }
    const answer = parsed as { accepted?: unknown; rejected?: unknown; duplicates?: unknown; skipped?: unknown; errors?: unknown };
    const counted = readCount(answer.accepted) + readCount(answer.rejected) + readCount(answer.duplicates) + readCount(answer.skipped);
    result.accepted += readCount(answer.accepted);
    result.rejected += readCount(answer.rejected);
    result.duplicates += readCount(answer.duplicates);
    if (counted !== count) {
      // Our ingest accounts for every item it was sent; a 2xx that does not is something else
      // answering (a proxy, a stub), and the events may not be where they were meant to go.
      o.log({
        level: 'warn',
        msg: 'ingest answered 2xx with counts that do not add up to the events sent',
        url: target,
        events: count,
        counted,
      });
    }
    if (Array.isArray(answer.errors) && answer.errors.length > 0) {
      // Per-item rejections are final (the item itself is unusable); they are logged, not retried.
      // The reasons are the answerer's text: the token is taken out of them as out of any answer.
      const errors = redactStrings(answer.errors.slice(0, 5), o.token);
      o.log({ level: 'warn', msg: 'ingest rejected items', first, rejected: answer.errors.length, errors });
    }
  };

  const split = async (first: number, count: number, text: string, bytes: number): Promise<void> => {
    const step = tooLargeStep(count, bytes);
    if (step === 'front-limit') {
      // Stop as for any configuration error; the events stay unsent.
      const reason = `configuration error: a ${bytes}-byte body was refused as too large (413), which no AiSOC ingest does (its smallest cap is ${MIN_INGEST_MAX_BODY_BYTES} bytes): check the body size limit of what sits in front of the ingest (${describeAnswer(413, text, o.token)})`;
      stop = { reason: `an earlier batch failed with a configuration error: ${reason}`, status: 413, retryable: false };
      fail(first, 1, { kind: 'config', reason, retryable: false, status: 413 });
      o.log({ level: 'error', msg: 'ingest refused the batch', url: target, status: 413, reason, events: 1 });
      return;
    }
    if (step === 'oversize') {
      result.oversize++;
      const reason = `event too large for the ingest (${describeAnswer(413, text, o.token)}); raise K8S_AUDIT_MAX_BODY_BYTES on the ingest`;
      fail(first, 1, { kind: 'oversize', reason, retryable: false, status: 413 });
      o.log({
        level: 'error',
        msg: 'event too large for the ingest',
        url: target,
        auditID: readAuditId(eventString(events[first] as EventText)),
      });
      return;
    }
    const half = firstHalf(count);
    o.log({ level: 'warn', msg: 'ingest answered 413, splitting the batch', url: target, events: count });
    await deliver(first, half, eventListChunks(lines, first, half));
    await deliver(first + half, count - half, eventListChunks(lines, first + half, count - half));
  };

  const steps = iteratePackRanges(events, o.maxEvents, o.maxBytes);
  const worker = async (): Promise<void> => {
    for (let step = steps.next(); !step.done; step = steps.next()) {
      const s = step.value;
      if (s.kind === 'oversize') {
        result.oversize++;
        const reason = `event is ${s.bytes} bytes as an EventList body, over the ${o.maxBytes}-byte cap`;
        fail(s.index, 1, { kind: 'oversize', reason, retryable: false });
        o.log({
          level: 'error',
          msg: 'event too large to send',
          bytes: s.bytes,
          auditID: readAuditId(eventString(events[s.index] as EventText)),
        });
        continue;
      }
      await deliver(s.first, s.count, eventListChunks(lines, s.first, s.count, s.bytes));
    }
  };
  // Every worker is waited for, even after one threw: a caller may reuse the memory the events
  // are views of (the tailer's read buffer) as soon as this returns, so no request may still be
  // writing from it.
  const settled = await Promise.allSettled(Array.from({ length: o.concurrency }, worker));
  for (const s of settled) if (s.status === 'rejected') throw s.reason;
  result.failed.sort((a, b) => a.index - b.index);
  return result;
}
