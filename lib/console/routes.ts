import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Severity } from '../audit/index.js';
import { SharedSecretVerifier, type TenantAccess } from '../ingest/auth.js';
import { isJsonContentType } from '../ingest/body.js';
import {
  BadRequestError,
  errorResponse,
  ForbiddenError,
  HttpError,
  type IngestResponse,
  jsonResponse,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
} from '../ingest/errors.js';
import { loggablePath } from '../ingest/request.js';
import type { IngestOutcome } from '../metrics/names.js';
import { TENANT_ID_PATTERN } from '../protocol.js';
import type { ConsoleAssets } from './assets.js';
import { holdingMost } from './most.js';
import type { DescribeRule } from './rules.js';
import { LoginThrottle, SESSION_MAX_MS, type Session, SessionStore } from './session.js';
import { clusterStatus, RejectCounter } from './status.js';
import { ConsoleStore, DEFAULT_PAGE, type EventFilter, MAX_PAGE, MAX_TIMELINE_MS, type PageCursor, SEVERITIES } from './store.js';

/** Where the console lives on the server. */
export const CONSOLE_PREFIX = '/console';
/** The session cookie: HttpOnly, SameSite=Strict, scoped to the console's paths. */
export const SESSION_COOKIE = 'aisoc_console';

/** A login body is a tenant id and a secret: a few hundred bytes. */
const MAX_LOGIN_BYTES = 4096;
/** Server-Sent Event streams per session, per tenant and in all: a tab left open per session is the normal case. */
const MAX_STREAMS_PER_SESSION = 4;
const MAX_STREAMS_PER_TENANT = 32;
const MAX_STREAMS = 256;
/** A comment line this often keeps proxies and the browser from timing an idle stream out. */
const STREAM_PING_MS = 20_000;

// The pages hold no inline script or style, so the policy allows only the console's own files:
// an audit event that smuggles markup into a user name cannot run anything even if some view
// were to render it as HTML (none does: every value is set as text).
const PAGE_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
} as const;

/** What the console needs: where the store is, what a login is checked against, its files. */
export interface ConsoleOptions {
  dataDir: string;
  /** The ingest's own check of a tenant's secret (shared, previous, per-tenant): a login opens what a POST would. */
  access: TenantAccess;
  /** A token that logs in to any tenant, printed by `serve --dev`; null outside dev mode. */
  consoleToken?: string | null;
  /** The built page, script and stylesheet; null serves a JSON 503 that says to build them. */
  assets: ConsoleAssets | null;
  now?: () => number;
  /** How often an open event stream gets a keep-alive line (default 20 s; tests shorten it). */
  streamPingMs?: number;
  /** The ingest's rule pack by id (its `mitre` techniques are shown with each alert). */
  describeRule?: DescribeRule;
  /** One JSON line per console request: method, path, status, tenant, ms (never a query string, secret or cookie). */
  log?: (entry: Record<string, unknown>) => void;
}

/** The tenant a request acted for, filled in as the route learns it (for the log line). */
interface Who {
  tenant: string | null;
  /** Why the request was refused when the answer does not say (a login's tenant field held a secret). */
  note?: string;
}

interface Stream {
  session: Session;
  res: ServerResponse;
  timer: NodeJS.Timeout;
}

function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

function sendResponse(res: ServerResponse, response: IngestResponse): void {
  for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.writeHead(response.status);
  res.end(response.body);
}

async function readSmallBody(req: IncomingMessage, cap: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > cap) throw new PayloadTooLargeError(`request body is over ${cap} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > cap) throw new PayloadTooLargeError(`request body is over ${cap} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** A query parameter, with an empty value read as absent. */
function param(q: URLSearchParams, name: string): string | undefined {
  const v = q.get(name);
  return v === null || v === '' ? undefined : v;
}

// An ISO 8601 date, or a time with its zone: Date.parse also takes "March 7", a bare number and a
// time without a zone (read in the server's local time), and years past 9999, which compare wrong
// as text against the store's event times.
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

function timeParam(q: URLSearchParams, name: string): string | undefined {
  const v = param(q, name);
  if (v === undefined) return undefined;
  const t = ISO_TIME.test(v) ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(t)) throw new BadRequestError(`${name} must be an ISO 8601 time with its zone, such as 2026-01-01T00:00:00Z`);
  return new Date(t).toISOString();
}

function limitParam(q: URLSearchParams): number {
  const v = param(q, 'limit');
  if (v === undefined) return DEFAULT_PAGE;
  if (!/^\d{1,4}$/.test(v) || Number(v) < 1 || Number(v) > MAX_PAGE) throw new BadRequestError(`limit must be 1 to ${MAX_PAGE}`);
  return Number(v);
}

/** The cursor of the next page, as the API hands it out: base64url of `[time, id]`. */
export function encodeCursor(c: PageCursor): string {
  return Buffer.from(JSON.stringify([c.time, c.id])).toString('base64url');
}

function cursorParam(q: URLSearchParams): PageCursor | null {
  const v = param(q, 'cursor');
  if (v === undefined) return null;
  try {
    const [time, id] = JSON.parse(Buffer.from(v, 'base64url').toString('utf8')) as unknown[];
    if (typeof time === 'string' && Number.isSafeInteger(id)) return { time, id: id as number };
  } catch {
    // Reported below.
  }
  throw new BadRequestError('cursor is not one this API handed out; start again without it');
}

function severityParam(q: URLSearchParams): Severity[] | undefined {
  const v = param(q, 'severity');
  if (v === undefined) return undefined;
  const list = v.split(',').map((s) => s.trim());
  for (const s of list) {
    if (!SEVERITIES.includes(s as Severity))
      throw new BadRequestError(`severity must be a comma-separated list of ${SEVERITIES.join(', ')}`);
  }
  return list as Severity[];
}

/** Each API route's parameters: anything else is a 400 naming them, not a filter silently not applied. */
const ROUTE_PARAMS: Record<string, readonly string[]> = {
  session: [],
  status: [],
  stream: [],
  event: [],
  timeline: ['since', 'until', 'cluster'],
  events: ['user', 'verb', 'resource', 'namespace', 'cluster', 'no_cluster', 'severity', 'since', 'until', 'limit', 'cursor'],
  alerts: ['limit', 'cursor'],
};

function onlyParams(q: URLSearchParams, route: string): void {
  const allowed = ROUTE_PARAMS[/^events\/\d+$/.test(route) ? 'event' : route];
  if (allowed === undefined) return;
  const seen = new Set<string>();
  for (const name of q.keys()) {
    // Given twice, one value would be used and the other silently not.
    if (seen.has(name)) throw new BadRequestError(`give ${name} once`);
    seen.add(name);
    if (!allowed.includes(name)) {
      throw new BadRequestError(
        allowed.length === 0
          ? `${route} takes no parameters, got ${name}`
          : `unknown parameter ${name}; ${route} takes ${allowed.join(', ')}`,
      );
    }
  }
}

/** The search filters of a query string. */
export function filterOf(q: URLSearchParams): EventFilter {
  const f: EventFilter = {};
  for (const name of ['user', 'verb', 'resource', 'namespace', 'cluster'] as const) {
    const v = param(q, name);
    if (v !== undefined) {
      if (v.length > 512) throw new BadRequestError(`${name} is longer than 512 characters`);
      f[name] = v;
    }
  }
  const noCluster = param(q, 'no_cluster');
  if (noCluster !== undefined && noCluster !== 'true' && noCluster !== 'false')
    throw new BadRequestError('no_cluster must be true or false');
  if (noCluster === 'true') f.noCluster = true;
  const severity = severityParam(q);
  if (severity !== undefined) f.severity = severity;
  const since = timeParam(q, 'since');
  if (since !== undefined) f.since = since;
  const until = timeParam(q, 'until');
  if (until !== undefined) f.until = until;
  if (since !== undefined && until !== undefined && since > until) throw new BadRequestError('since must be before until');
  return f;
}

/**
 * The console's routes under `/console`: the page and its files (no data in them), and a
 * read-only JSON API that answers only a logged-in browser, only with its tenant's events.
 * Errors are the ingest's JSON shapes (`{"error": "..."}`) from the same HttpError family.
 */
export class ConsoleRoutes {
  readonly rejects = new RejectCounter();
  readonly #opts: ConsoleOptions;
  readonly #now: () => number;
  readonly #sessions: SessionStore;
  readonly #throttle: LoginThrottle;
  readonly #tokenVerifier: SharedSecretVerifier;
  readonly #streams = new Set<Stream>();
  #store: ConsoleStore | undefined;

  constructor(opts: ConsoleOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#sessions = new SessionStore(this.#now);
    this.#throttle = new LoginThrottle(this.#now);
    this.#tokenVerifier = new SharedSecretVerifier(opts.consoleToken ?? null);
  }

  // A secret or the console token typed into a console URL (a bookmark, a path pasted into the
  // address bar) is hidden in the access log however short and plain, as the ingest's paths are.
  readonly #isSecret = (value: string): boolean => this.#opts.access.isSecret(value) || this.#tokenVerifier.verify(value);

  /** Whether a path is the console's. */
  handles(path: string): boolean {
    return path === CONSOLE_PREFIX || path.startsWith(`${CONSOLE_PREFIX}/`);
  }

  /** Answers one request under `/console`. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const started = performance.now();
    const who: Who = { tenant: null };
    try {
      const answer = await this.#route(req, res, url, who);
      if (answer !== null) sendResponse(res, answer);
    } catch (err) {
      // An unexpected error answers a bare 500; its name and message (a store error: no request
      // data, no secret) go to the log for the operator.
      if (!(err instanceof HttpError)) {
        this.#opts.log?.({
          level: 'error',
          msg: 'console error',
          path: loggablePath(url.pathname, this.#isSecret),
          error: err instanceof Error ? `${err.name}: ${err.message}` : 'unknown',
        });
      }
      if (!res.headersSent) sendResponse(res, errorResponse(err));
      else res.destroy();
    }
    // Who looked at what: the path only (a search's values stay out of the log), and the tenant
    // of the session, or the one a login asked for.
    this.#opts.log?.({
      level: res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
      msg: 'console request',
      method: req.method ?? 'GET',
      path: loggablePath(url.pathname, this.#isSecret),
      status: res.statusCode,
      tenant: who.tenant,
      ...(who.note === undefined ? {} : { note: who.note }),
      ms: Math.round((performance.now() - started) * 100) / 100,
    });
  }

  /**
   * Sees every ingest request's outcome: counts what a tenant's senders had refused (for the
   * status view) and tells the tenant's open consoles that events were stored.
   */
  observe(outcome: IngestOutcome): void {
    const { tenant, cluster, status } = outcome;
    if (tenant === null) return;
    const now = this.#now();
    if (status === 200) {
      this.rejects.add(tenant, cluster, outcome.rejected, now);
      if (outcome.accepted > 0) this.#notify(tenant, { accepted: outcome.accepted, alerts: outcome.alerts, cluster });
    } else if (status === 400 || status === 413 || status === 415) {
      // Refused after the sender authenticated (every check before these statuses): the whole
      // batch is lost to the store, so it counts as many rejects as it had items, or one.
      this.rejects.add(tenant, cluster, outcome.items !== null && outcome.items > 0 ? outcome.items : 1, now);
    }
  }

  /** Ends the open event streams (the server is closing: they would hold their connections). */
  endStreams(): void {
    for (const s of this.#streams) this.#endStream(s);
  }

  /** Ends the event streams and closes the store connection. */
  close(): void {
    this.endStreams();
    this.#store?.close();
  }

  get #storeOpen(): ConsoleStore {
    this.#store ??= new ConsoleStore(this.#opts.dataDir, this.#opts.describeRule);
    return this.#store;
  }

  async #route(req: IncomingMessage, res: ServerResponse, url: URL, who: Who): Promise<IngestResponse | null> {
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (path === CONSOLE_PREFIX) {
      return { status: 302, headers: { Location: `${CONSOLE_PREFIX}/`, 'Cache-Control': 'no-store' }, body: '' };
    }
    if (!path.startsWith(`${CONSOLE_PREFIX}/api/`)) return this.#asset(path, method);

    const route = path.slice(`${CONSOLE_PREFIX}/api/`.length);
    if (route === 'login') {
      if (method !== 'POST') throw new MethodNotAllowedError('POST');
      return this.#login(req, who);
    }
    // Everything else needs a session: an unknown route included, so nothing of the API is
    // discoverable without logging in.
    const session = this.#session(req);
    who.tenant = session.tenant;
    if (route === 'logout') {
      if (method !== 'POST') throw new MethodNotAllowedError('POST');
      this.#checkOrigin(req);
      this.#sessions.delete(session.id);
      for (const s of this.#streams) if (s.session.id === session.id) this.#endStream(s);
      return jsonResponse(200, { ok: true }, { 'Set-Cookie': this.#cookie(req, '', 0) });
    }
    if (method !== 'GET' && method !== 'HEAD') throw new MethodNotAllowedError('GET');
    const q = url.searchParams;
    const tenant = session.tenant;
    onlyParams(q, route);
    switch (route) {
      case 'session':
        return jsonResponse(200, { tenant });
      case 'status':
        return jsonResponse(200, clusterStatus(this.#storeOpen.db, tenant, this.#now(), this.rejects));
      case 'timeline': {
        const until = timeParam(q, 'until');
        const since = timeParam(q, 'since');
        const to = until === undefined ? this.#now() : Date.parse(until);
        const from = since === undefined ? to - 3_600_000 : Date.parse(since);
        if (from >= to) throw new BadRequestError('since must be before until');
        if (to - from > MAX_TIMELINE_MS) throw new BadRequestError('the timeline covers at most 7 days; narrow since and until');
        return jsonResponse(200, this.#storeOpen.timeline(tenant, from, to, param(q, 'cluster')));
      }
      case 'events': {
        const page = this.#storeOpen.searchEvents(tenant, filterOf(q), limitParam(q), cursorParam(q));
        return jsonResponse(200, {
          items: page.items,
          next: page.next === null ? null : encodeCursor(page.next),
          // Set when the request's scan budget ran out before a page was found: older events
          // were not looked at yet; `next` continues from there.
          scanned_to: page.scannedTo,
        });
      }
      case 'alerts': {
        const page = this.#storeOpen.alerts(tenant, limitParam(q), cursorParam(q));
        return jsonResponse(200, { items: page.items, next: page.next === null ? null : encodeCursor(page.next) });
      }
      case 'stream':
        this.#openStream(session, res);
        return null;
      default: {
        const m = /^events\/(\d+)$/.exec(route);
        // An id past the store's range names no event, as another tenant's does not.
        if (m?.[1] !== undefined && !Number.isSafeInteger(Number(m[1]))) throw new NotFoundError('no such event');
        if (m?.[1] !== undefined) {
          const record = this.#storeOpen.event(tenant, Number(m[1]));
          // Another tenant's event is "not found" too: its existence is not the caller's business.
          if (record === undefined) throw new NotFoundError('no such event');
          return jsonResponse(200, { id: Number(m[1]), record });
        }
        throw new NotFoundError('no such console API route');
      }
    }
  }

  #asset(path: string, method: string): IngestResponse {
    const name = path.slice(CONSOLE_PREFIX.length + 1);
    const files: Record<string, [keyof ConsoleAssets, string]> = {
      '': ['html', 'text/html; charset=utf-8'],
      'index.html': ['html', 'text/html; charset=utf-8'],
      'app.js': ['js', 'text/javascript; charset=utf-8'],
      'app.css': ['css', 'text/css; charset=utf-8'],
    };
    const file = files[name];
    if (file === undefined) throw new NotFoundError('no such console page');
    if (method !== 'GET' && method !== 'HEAD') throw new MethodNotAllowedError('GET');
    const assets = this.#opts.assets;
    if (assets === null) {
      return jsonResponse(503, { error: 'the console is not built; run npm run build (scripts/build.mjs writes dist/console/)' });
    }
    // IngestResponse bodies are text; the assets are UTF-8.
    return { status: 200, headers: { 'Content-Type': file[1], ...PAGE_HEADERS }, body: assets[file[0]].toString('utf8') };
  }

  #session(req: IncomingMessage): Session {
    const session = this.#sessions.get(parseCookies(req.headers.cookie).get(SESSION_COOKIE));
    if (session === undefined) throw new UnauthorizedError('log in to the console first');
    return session;
  }

  /** A state-changing request must come from the console's own pages (SameSite=Strict already keeps the cookie off others). */
  #checkOrigin(req: IncomingMessage): void {
    const origin = req.headers.origin;
    if (origin === undefined) return;
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      throw new ForbiddenError('Origin does not match this server');
    }
    if (host !== req.headers.host) throw new ForbiddenError('Origin does not match this server');
  }

  #cookie(req: IncomingMessage, value: string, maxAgeSeconds: number): string {
    // Secure when the browser reached us over TLS: `serve --tls-cert` itself, or a terminating
    // proxy that says so; on plain http://127.0.0.1 a Secure cookie would not be sent back.
    const tls = (req.socket as { encrypted?: boolean }).encrypted === true;
    const secure = tls || req.headers['x-forwarded-proto'] === 'https' ? '; Secure' : '';
    return `${SESSION_COOKIE}=${value}; Path=${CONSOLE_PREFIX}; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure}`;
  }

  async #login(req: IncomingMessage, who: Who): Promise<IngestResponse> {
    this.#checkOrigin(req);
    const address = req.socket.remoteAddress ?? 'unknown';
    const wait = this.#throttle.retryAfter(address);
    if (wait > 0) {
      throw new HttpError(429, `too many failed logins from this address; try again in ${wait} s`, { 'Retry-After': String(wait) });
    }
    // A Content-Type is required: a cross-site request without a CORS preflight cannot send JSON.
    const type = req.headers['content-type'];
    if (type === undefined || !isJsonContentType(type)) {
      throw new UnsupportedMediaTypeError('send the login as application/json: {"tenant": "...", "secret": "..."}');
    }
    let body: unknown;
    try {
      body = JSON.parse((await readSmallBody(req, MAX_LOGIN_BYTES)).toString('utf8'));
    } catch (err) {
      if (err instanceof HttpError) throw err;
      throw new BadRequestError('the login body is not JSON; send {"tenant": "...", "secret": "..."}');
    }
    const { tenant, secret } = (typeof body === 'object' && body !== null ? body : {}) as { tenant?: unknown; secret?: unknown };
    // A tenant field that holds a secret of this installation (the two fields swapped, or the
    // secret typed in both) is answered exactly as a wrong login of the same shape: same status,
    // body and steps, and never a session. It used to answer its own 400, and since the check is
    // against every secret of the installation, one guess in the tenant field tested every
    // tenant's secret at once and said when it hit one. Only the log says what happened (the
    // value never: the tenant stays null). The check runs for every login, so its time is the same.
    const tenantIsSecret = typeof tenant === 'string' && (this.#opts.access.isSecret(tenant) || this.#tokenVerifier.verify(tenant));
    if (tenantIsSecret) who.note = 'the tenant field held a secret of this installation (not logged)';
    // Counted as a failed login like a wrong secret: a secret of a shape the pattern refuses (a
    // base64 one, with / + =) is counted, so a random guess of that shape must be too, or the
    // throttle would tell them apart.
    if (typeof tenant !== 'string' || !TENANT_ID_PATTERN.test(tenant)) {
      this.#throttle.fail(address);
      throw new BadRequestError('tenant must match [A-Za-z0-9][A-Za-z0-9._:-]{0,127}');
    }
    if (!tenantIsSecret) who.tenant = tenant;
    if (typeof secret !== 'string' || secret === '') throw new BadRequestError('secret is required');
    if (!this.#opts.access.configured && !this.#tokenVerifier.configured) {
      throw new HttpError(503, 'the console has nothing to check a login against: set K8S_AUDIT_SHARED_SECRET (or run serve --dev)');
    }
    // Both checks run, so the time taken does not say which kind of secret was close. The
    // tenant's secret is the ingest's: its own when it has one, else the shared secret.
    const ok = [this.#opts.access.opens(tenant, secret), this.#tokenVerifier.verify(secret)].includes(true);
    if (!ok || tenantIsSecret) {
      this.#throttle.fail(address);
      // Worded like the ingest's 401 (tokenRefusal): the same for every tenant of an installation.
      throw new UnauthorizedError(
        `the secret is neither ${this.#opts.access.perTenant ? 'the secret for this tenant' : 'the shared secret'} nor the console token`,
      );
    }
    const session = this.#sessions.create(tenant);
    return jsonResponse(200, { tenant }, { 'Set-Cookie': this.#cookie(req, session.id, SESSION_MAX_MS / 1000) });
  }

  #openStream(session: Session, res: ServerResponse): void {
    // Past a bound, the oldest stream of this session gives way (a reloaded tab), else of this
    // tenant, else, with every stream taken, of the tenant holding the most. One tenant's streams
    // used to fill the server's 256, and another tenant's console was then refused (503).
    const all = [...this.#streams];
    const mine = all.filter((s) => s.session.id === session.id);
    const ours = all.filter((s) => s.session.tenant === session.tenant);
    let give: Stream | undefined;
    if (mine.length >= MAX_STREAMS_PER_SESSION) give = mine[0];
    else if (ours.length >= MAX_STREAMS_PER_TENANT) give = ours[0];
    else if (all.length >= MAX_STREAMS) {
      const per = new Map<string, Stream[]>();
      for (const s of all) per.set(s.session.tenant, [...(per.get(s.session.tenant) ?? []), s]);
      give = holdingMost(per.values(), (streams) => streams.length)?.[0];
    }
    if (give !== undefined) this.#endStream(give);
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      Connection: 'keep-alive',
    });
    res.write(`retry: 3000\nevent: hello\ndata: ${JSON.stringify({ tenant: session.tenant })}\n\n`);
    const timer = setInterval(() => {
      // A session that expired or logged out elsewhere stops receiving. Looked at without touching
      // it: the keep-alive is the server's, not a request of the user, and touching it here kept a
      // console tab left open alive until the 24-hour bound, never idle.
      if (this.#sessions.peek(session.id) === undefined) this.#endStream(stream);
      else res.write(': ping\n\n');
    }, this.#opts.streamPingMs ?? STREAM_PING_MS);
    timer.unref();
    const stream: Stream = { session, res, timer };
    this.#streams.add(stream);
    res.once('close', () => {
      clearInterval(timer);
      this.#streams.delete(stream);
    });
  }

  #endStream(s: Stream): void {
    clearInterval(s.timer);
    this.#streams.delete(s);
    s.res.end();
  }

  #notify(tenant: string, data: Record<string, unknown>): void {
    const line = `event: stored\ndata: ${JSON.stringify(data)}\n\n`;
    for (const s of this.#streams) if (s.session.tenant === tenant) s.res.write(line);
  }
}
