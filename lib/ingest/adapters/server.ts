import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Server as HttpsServer, ServerOptions as HttpsServerOptions } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { shippedDetection } from '../../audit/index.js';
import { type ConsoleOptions, ConsoleRoutes } from '../../console/routes.js';
import { answerOnlyOutcome, type IngestOutcome } from '../../metrics/names.js';
import { answerMetrics, type ingestPrometheus, type MetricsAccess } from '../../metrics/prometheus.js';
import type { EventStore } from '../../sinks/sqlite.js';
import { AdmissionGate, type AdmissionRefusal, tenantReserve } from '../admission.js';
import type { IngestConfig } from '../config.js';
import { type CreateIngestOptions, createIngestService } from '../create.js';
import {
  ClientClosedRequestError,
  errorResponse,
  type IngestResponse,
  jsonResponse,
  TooManyRequestsError,
  tooManyRequestsResponse,
} from '../errors.js';
import { matchStatusRoute } from '../request.js';
import type { AdmittedRequest, IngestService, LogEntry, ReceivedBody } from '../service.js';
import { skipUnreadBody } from './skip-body.js';

/** A server certificate chain and key (PEM), and optionally the CAs whose client certificates it requires. */
export interface ServerTls {
  cert: string;
  key: string;
  /** When set, every client must present a certificate issued by one of these CAs (mTLS). */
  clientCa?: string | null;
}

/** Node's TLS server options for `tls`: TLS 1.2 or newer, Node's default (modern, forward-secret) ciphers. */
function tlsOptions(tls: ServerTls): HttpsServerOptions {
  return {
    cert: tls.cert,
    key: tls.key,
    minVersion: 'TLSv1.2',
    ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
  };
}

/** Options of the local ingest server. */
export interface IngestServerOptions extends CreateIngestOptions {
  config: IngestConfig;
  /** Default 127.0.0.1: the local server is for this machine unless told otherwise. */
  host?: string;
  /** Default 0: an ephemeral port (read it back from `port`). */
  port?: number;
  log?: (entry: LogEntry) => void;
  /** Terminate TLS with this certificate (https); plain http without it. */
  tls?: ServerTls | null;
  /** How long `close()` waits for in-flight requests before cutting connections (default 10 s). */
  drainTimeoutMs?: number;
  /** When set, every request moves these counters and GET /metrics answers them (Prometheus text format). */
  prometheus?: ReturnType<typeof ingestPrometheus>;
  /** Who may read GET /metrics (`metricsAccess`); unset, anyone who reaches the port. */
  metricsAccess?: MetricsAccess;
  /**
   * Serve the read-only console under `/console` (docs/console.md): its files, and whether a
   * console token logs in too. Needs the SQLite events sink; the Lambda never serves it.
   */
  console?: Pick<ConsoleOptions, 'assets' | 'consoleToken'>;
}

/** A running local ingest server. */
export interface IngestServer {
  /** `http://<host>:<port>`, or `https://` with TLS */
  url: string;
  port: number;
  service: IngestService;
  /** The console's routes, when it is served. */
  console: ConsoleRoutes | null;
  /**
   * Replaces the certificate (and client CAs) for new connections; connections already open keep
   * theirs and finish what they carry. Throws when the server has no TLS or the pair is unusable.
   */
  setTls(tls: ServerTls): void;
  /** Stops accepting, lets in-flight requests finish, then closes the sinks and the store. */
  close(): Promise<void>;
}

// After answering a request whose body was not read (an early 401, a 413), the rest of the body
// is read and thrown away for up to this long, so the client sees the answer instead of a reset
// connection; then the socket is closed. Nothing of it is kept in memory.
const LINGER_MS = 2000;
/** Load shedding is logged as one line per this period with the count, not one line per 429. */
const SHED_LOG_MS = 1000;

/** Whether a promise settles within `ms`. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Why `readBody` gave up: no byte of the body arrived for `idleMs`. */
export class BodyStalledError extends Error {
  override name = 'BodyStalledError';
  constructor(
    readonly idleMs: number,
    readonly receivedBytes: number,
  ) {
    super(`no byte of the body arrived for ${idleMs} ms`);
  }
}

/** Why `readBody` gave up: the body arrived slower on average than `bytesPerSecond` once `graceMs` had passed. */
export class BodyTooSlowError extends Error {
  override name = 'BodyTooSlowError';
  constructor(
    readonly elapsedMs: number,
    readonly receivedBytes: number,
    readonly bytesPerSecond: number,
  ) {
    super(`${receivedBytes} bytes of the body arrived in ${elapsedMs} ms, under ${bytesPerSecond} bytes/s`);
  }
}

/** The body's minimum average rate after a grace (K8S_AUDIT_BODY_MIN_RATE, K8S_AUDIT_BODY_RATE_GRACE_MS). */
export interface BodyMinRate {
  readonly bytesPerSecond: number;
  readonly graceMs: number;
}

/**
 * Reads a request body into memory, stopping (without buffering more) once it exceeds `cap`
 * bytes; rejecting with BodyStalledError when no byte arrives for `idleMs`, and with
 * BodyTooSlowError once it has taken longer than `graceMs + received / bytesPerSecond` (the caller
 * answers 408 and frees the request's admission slot instead of holding it to the request timeout).
 */
export function readBody(req: IncomingMessage, cap: number, idleMs = 0, minRate?: BodyMinRate): Promise<ReceivedBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let idle: NodeJS.Timeout | undefined;
    let slow: NodeJS.Timeout | undefined;
    const started = performance.now();
    const giveUp = (err: Error) => {
      cleanup();
      req.pause();
      chunks.length = 0;
      reject(err);
    };
    const onIdle = () => giveUp(new BodyStalledError(idleMs, received));
    // One timer, set to the deadline the bytes so far earn and moved on only when it fires (not on
    // every chunk): a body at a good rate costs one timer per deadline it reaches, not per read.
    const checkRate = () => {
      if (minRate === undefined || minRate.bytesPerSecond <= 0) return;
      const elapsed = performance.now() - started;
      const deadline = minRate.graceMs + (received * 1000) / minRate.bytesPerSecond;
      if (elapsed >= deadline) {
        giveUp(new BodyTooSlowError(Math.round(elapsed), received, minRate.bytesPerSecond));
        return;
      }
      slow = setTimeout(checkRate, Math.ceil(deadline - elapsed));
    };
    const armIdle = () => {
      if (idleMs <= 0) return;
      if (idle === undefined) idle = setTimeout(onIdle, idleMs);
      else idle.refresh();
    };
    const cleanup = () => {
      clearTimeout(idle);
      clearTimeout(slow);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    const onData = (chunk: Buffer) => {
      armIdle();
      received += chunk.length;
      if (received > cap) {
        cleanup();
        req.pause();
        chunks.length = 0;
        resolve({ tooLarge: true, receivedBytes: received });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onAborted = () => {
      cleanup();
      reject(new Error('client aborted the request'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
    armIdle();
    checkRate();
  });
}

/**
 * Writes an answer. `keepAlive`: the request's unread body has a declared length within the cap
 * (a 429 at admission), so the connection is kept: node reads and discards the rest of the body
 * (its `_dump` when the answer ends), and the client's next request follows on the same
 * connection instead of a new one. A refused request costs the server about 0.4 ms less that way
 * (measured: 1.21 against 1.98 ms of server CPU per refused 757 KiB request, 0.37 against 0.73 ms
 * for a 1 KB one), and under twice its capacity the server refuses well over a hundred a second.
 */
function send(req: IncomingMessage, res: ServerResponse, response: IngestResponse, closing: boolean, keepAlive = false): void {
  if (keepAlive && !closing && !req.complete) {
    for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
    res.writeHead(response.status);
    res.end(response.body);
    // The body is discarded as it arrives, uncopied (skip-body.ts), for as long as the drain
    // below would wait, no longer.
    skipUnreadBody(req);
    const socket = req.socket;
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    // Both listeners go with the first to fire: a kept connection may be refused thousands of
    // times, and listeners left on its socket would pile up until it closed.
    const done = () => {
      clearTimeout(timer);
      req.off('end', done);
      socket.off('close', done);
    };
    req.once('end', done);
    socket.once('close', done);
    return;
  }
  const unread = !req.complete;
  for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
  if (unread || closing) res.setHeader('Connection', 'close');
  if (unread) {
    // node ends a `Connection: close` answer with socket.destroySoon(), which closes the socket at
    // once; closed with the unread body still queued, the kernel sends a TCP reset and the client
    // loses the answer it had not read yet (RFC 9112 §9.6; curl missed the 413 for half of 17 MiB
    // uploads). Half-close instead, and let the drain below and its timer end the connection.
    const socket = req.socket;
    socket.destroySoon = () => {
      socket.end();
    };
  }
  res.writeHead(response.status);
  res.end(response.body);
  if (unread) {
    // Drain what the client is still sending, without keeping it, then hang up.
    const socket = req.socket;
    req.on('data', () => {});
    req.resume();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }
}

/**
 * Starts the local ingest API on node:http: the same routes as the Lambda
 * (`POST /v1/ingest/k8s-audit/{tenant_id}`, `POST /v1/inbox/{token}`) plus `GET /healthz`, the
 * authenticated `GET /v1/status/k8s-audit/{tenant_id}` over the SQLite store and, with
 * `prometheus`, `GET /metrics`.
 * Bodies are read only after the header checks pass, and never past the size cap.
 */
export async function startIngestServer(opts: IngestServerOptions): Promise<IngestServer> {
  const log = opts.log ?? (() => {});
  const { prometheus, observe } = opts;
  let consoleRoutes: ConsoleRoutes | null = null;
  const observeAll = (outcome: IngestOutcome): void => {
    prometheus?.observe(outcome);
    observe?.(outcome);
    consoleRoutes?.observe(outcome);
  };
  // Every request's outcome goes to the Prometheus counters, the caller's hook, and the console
  // (rejects for its status view, and a nudge to the tenant's open consoles when events were stored).
  const consoleToken = opts.console?.consoleToken ?? null;
  const service = await createIngestService(opts.config, {
    ...opts,
    log,
    observe: observeAll,
    // The console token typed where a tenant id goes is refused (and not logged) as the secrets are.
    ...(consoleToken === null ? {} : { otherSecrets: [consoleToken] }),
  });
  if (opts.console !== undefined) {
    if (opts.config.eventsSink.kind !== 'sqlite') {
      throw new Error(`the console reads the SQLite store; EVENTS_SINK is ${opts.config.eventsSink.kind} (serve it with --no-console)`);
    }
    consoleRoutes = new ConsoleRoutes({
      dataDir: opts.config.dataDir,
      access: service.access,
      describeRule: (id) => (opts.config.detection ?? shippedDetection()).rules?.describe?.(id),
      log,
      ...opts.console,
    });
  }
  const inFlight = new Set<Promise<void>>();
  let closing = false;
  const limits = opts.config.admission;
  const gate = new AdmissionGate(limits, undefined, tenantReserve(limits, opts.config.maxWireBytes));
  let shed = 0;
  let shedBound: AdmissionRefusal = 'requests';
  let shedLoggedAt = 0;
  let shedTimer: NodeJS.Timeout | undefined;
  // One line per period with the count of its refusals: a refusal inside the period waits for
  // the period's end (a timer), so the last second of a burst is logged too, and at close.
  const logShed = (): void => {
    if (shedTimer !== undefined) clearTimeout(shedTimer);
    shedTimer = undefined;
    if (shed === 0) return;
    const held = gate.held;
    log({
      level: 'warn',
      msg: 'load shed',
      status: 429,
      refused: shed,
      bound: shedBound,
      in_flight: held.requests,
      in_flight_bytes: held.bytes,
      reserve_in_flight: gate.reserveHeld.requests,
      oldest_wait_ms: Math.round(held.oldestWaitMs),
      max_in_flight: limits.maxRequests,
      max_in_flight_bytes: limits.maxBytes,
      max_queue_wait_ms: limits.maxQueueWaitMs,
    });
    shed = 0;
    shedLoggedAt = Date.now();
  };
  const busy = (why: AdmissionRefusal, admitted: AdmittedRequest): IngestResponse => {
    shed++;
    shedBound = why;
    const now = Date.now();
    const held = gate.held;
    if (now - shedLoggedAt >= SHED_LOG_MS) logShed();
    else if (shedTimer === undefined) {
      shedTimer = setTimeout(logShed, SHED_LOG_MS - (now - shedLoggedAt));
      shedTimer.unref();
    }
    // Counted as every answer is (Requests, Responses4xx), with nothing read.
    observeAll(answerOnlyOutcome(admitted.route, 429, admitted.tenant, admitted.cluster));
    const bound =
      why === 'wait'
        ? `its oldest request has waited ${Math.round(held.oldestWaitMs)} ms, over K8S_AUDIT_MAX_QUEUE_WAIT_MS ${limits.maxQueueWaitMs}`
        : `K8S_AUDIT_MAX_INFLIGHT_REQUESTS ${limits.maxRequests}, K8S_AUDIT_MAX_INFLIGHT_BYTES ${limits.maxBytes}`;
    return tooManyRequestsResponse(
      `the ingest holds as much work as it may (${bound}); nothing was read or stored, retry after ${limits.retryAfterSeconds} s`,
      limits.retryAfterSeconds,
    );
  };
  // The status route reads the SQLite file the events sink writes, over its own connection
  // (WAL: readers never block the writer), opened on first use.
  let store: EventStore | null | undefined;
  const statusStore = async (): Promise<EventStore | null> => {
    if (store === undefined) {
      if (opts.config.eventsSink.kind !== 'sqlite' || opts.writer !== undefined) store = null;
      else store = (await import('../../sinks/sqlite.js')).openEventStore(opts.config.dataDir);
    }
    return store;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (consoleRoutes?.handles(url.pathname)) {
      await consoleRoutes.handle(req, res, url);
      return;
    }
    if (url.pathname === '/healthz') {
      const ok = req.method === 'GET' || req.method === 'HEAD';
      send(
        req,
        res,
        ok
          ? jsonResponse(200, { status: closing ? 'closing' : 'ok' })
          : jsonResponse(405, { error: 'method not allowed; use GET' }, { Allow: 'GET' }),
        closing,
      );
      return;
    }
    if (url.pathname === '/metrics' && prometheus !== undefined) {
      await answerMetrics(prometheus.registry, req, res, opts.metricsAccess);
      return;
    }
    const head = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers };
    if (matchStatusRoute(url.pathname) !== null) {
      send(req, res, service.status(head, await statusStore()), closing);
      return;
    }
    const admitted = await service.admit(head);
    if (!('route' in admitted)) {
      send(req, res, admitted, closing);
      return;
    }
    // Admission, before a byte of the body is read: charged its declared length, or the largest
    // body allowed when it declares none (chunked); past the bound, 429 at once.
    const declared = req.headers['content-length'];
    const charge = declared !== undefined && /^\d+$/.test(declared) ? Number(declared) : opts.config.maxWireBytes;
    const ticket = gate.enter(charge, admitted.tenant, admitted.party);
    if (ticket === null) {
      send(
        req,
        res,
        busy(gate.refusal(charge, admitted.tenant, admitted.party) ?? 'requests', admitted),
        closing,
        declared !== undefined && charge <= opts.config.maxWireBytes,
      );
      return;
    }
    // A request is given up (nothing more done, nothing stored) when its client leaves, or when
    // it has waited past K8S_AUDIT_QUEUE_DEADLINE_MS since its body arrived without its commit
    // beginning: its client would time out and resend it while the server still worked on it.
    const giveUp = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) giveUp.abort(new ClientClosedRequestError());
    };
    res.once('close', onClose);
    let deadline: NodeJS.Timeout | undefined;
    try {
      // `Expect: 100-continue` (curl sends it for bodies over 1 MB): the client waits for this
      // before uploading, so a refused request costs it nothing to send.
      if (expectsContinue) res.writeContinue();
      let body: ReceivedBody;
      try {
        body = await readBody(req, opts.config.maxWireBytes, opts.config.bodyIdleTimeoutMs, opts.config.bodyMinRate);
      } catch (err) {
        if (err instanceof BodyStalledError || err instanceof BodyTooSlowError) {
          // A sender that stopped mid-body, or that trickles it, would hold its slot (and its
          // declared bytes) until the 60 s request timeout; answered now, with `Connection: close`
          // and the short drain of `send`, and the slot is freed below.
          const stalled = err instanceof BodyStalledError;
          log({
            level: 'warn',
            msg: stalled ? 'request body stalled' : 'request body too slow',
            status: 408,
            path: admitted.logPath,
            tenant: admitted.tenant,
            received_bytes: err.receivedBytes,
            ...(stalled ? { idle_ms: err.idleMs } : { elapsed_ms: err.elapsedMs, min_rate: err.bytesPerSecond }),
          });
          observeAll(answerOnlyOutcome(admitted.route, 408, admitted.tenant, admitted.cluster));
          send(
            req,
            res,
            jsonResponse(408, {
              error: stalled
                ? `no byte of the request body arrived for ${err.idleMs} ms (K8S_AUDIT_BODY_IDLE_TIMEOUT_MS); nothing was stored, send the body at once and retry`
                : `the request body arrived at less than ${err.bytesPerSecond} bytes/s (K8S_AUDIT_BODY_MIN_RATE, after K8S_AUDIT_BODY_RATE_GRACE_MS ${opts.config.bodyMinRate.graceMs} ms): ${err.receivedBytes} bytes in ${err.elapsedMs} ms; nothing was stored, send the body at once and retry`,
            }),
            closing,
          );
          return;
        }
        // The client went away mid-body: there is no one to answer, and nothing was stored.
        res.destroy();
        return;
      }
      if (Buffer.isBuffer(body)) ticket.resize(body.length);
      ticket.received();
      deadline = setTimeout(() => {
        giveUp.abort(
          new TooManyRequestsError(
            `the ingest could not begin storing this batch within ${limits.queueDeadlineMs} ms (K8S_AUDIT_QUEUE_DEADLINE_MS); nothing was stored, retry after ${limits.retryAfterSeconds} s`,
            limits.retryAfterSeconds,
          ),
        );
      }, limits.queueDeadlineMs);
      send(req, res, await service.complete(admitted, body, giveUp.signal), closing);
    } finally {
      clearTimeout(deadline);
      res.off('close', onClose);
      ticket.release();
    }
  };

  const onRequest = (expectsContinue: boolean) => (req: IncomingMessage, res: ServerResponse) => {
    const task = handle(req, res, expectsContinue).catch((err: unknown) => {
      log({ level: 'error', msg: 'unexpected server error', error: err instanceof Error ? err.name : String(err) });
      if (!res.headersSent) send(req, res, errorResponse(err), true);
      else res.destroy();
    });
    inFlight.add(task);
    void task.finally(() => inFlight.delete(task));
  };
  const https = opts.tls ? await import('node:https') : null;
  const server: Server | HttpsServer =
    https !== null && opts.tls ? https.createServer(tlsOptions(opts.tls), onRequest(false)) : createServer(onRequest(false));
  server.on('checkContinue', onRequest(true));
  // Requests node's HTTP parser refuses (malformed, headers too large, too slow) get a JSON answer
  // too, instead of node's plain-text default.
  const answered = new WeakSet<Socket>();
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // Answered already: the parser reports its error again for every chunk the client still
    // sends; the linger timer below closes the socket.
    if (answered.has(socket)) return;
    if (!socket.writable || (err as { bytesParsed?: number }).bytesParsed === 0) {
      socket.destroy();
      return;
    }
    const [status, reason] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large']
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'Request Timeout']
          : [400, 'Bad Request'];
    const body = JSON.stringify({ error: reason.toLowerCase() });
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    answered.add(socket);
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  });
  // The apiserver's webhook times out after 30 s; a request that takes longer helps no one.
  server.requestTimeout = 60_000;
  server.headersTimeout = 30_000;
  server.keepAliveTimeout = 65_000;
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    // Not listening (the port taken, an address not here): the store and sinks opened for it are
    // closed, so the caller can remove what this start created (serve does).
    consoleRoutes?.close();
    await service.close().catch(() => {});
    store?.close();
    throw err;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${https === null ? 'http' : 'https'}://${host}:${address.port}`;
  log({ level: 'info', msg: 'ingest server listening', url, sinks: service.writer.describe(), runtime: opts.config.runtime });

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      // Open event streams would hold their connections until the drain timeout.
      consoleRoutes?.endStreams();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (!(await within(Promise.allSettled([...inFlight]), opts.drainTimeoutMs ?? 10_000))) {
        log({ level: 'warn', msg: 'drain timed out; closing connections', inFlight: inFlight.size });
      }
      // Answers sent while closing carry `Connection: close`; give them a moment to flush.
      server.closeIdleConnections();
      if (!(await within(stopped, 1000))) for (const socket of sockets) socket.destroy();
      await stopped;
      consoleRoutes?.close();
      logShed();
      await service.close();
      store?.close();
      log({ level: 'info', msg: 'ingest server closed' });
    })();
    return closed;
  };

  const setTls = (tls: ServerTls): void => {
    if (https === null) throw new Error('this server was started without TLS');
    (server as HttpsServer).setSecureContext(tlsOptions(tls));
  };

  return { url, port: address.port, service, console: consoleRoutes, setTls, close };
}
