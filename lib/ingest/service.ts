import {
  type AuditEvent,
  type AuditSource,
  aksClusterOf,
  flagReusedAuditId,
  GKE_DATA_NOT_JSON,
  gkeLogEntryToAuditEvent,
  isCutForDepth,
  looksLikeAksRecords,
  type NormaliseContext,
  type NormalisedRecord,
  normaliseAuditEvent,
  parseAksRecords,
  parseAuditPayload,
  type RejectedItem,
  type RuleError,
  recordedText,
  recordSlot,
  serialiseRecord,
  shippedDetection,
  validateAuditEvent,
  withoutBodies,
} from '../audit/index.js';
import { isJsonObject, jsonErrorReason } from '../json.js';
import { type IngestOutcome, RULE_ERROR_METRIC, type RuleErrorCount } from '../metrics/names.js';
import {
  CLUSTER_HEADER,
  CLUSTER_NAME_PATTERN,
  CLUSTER_QUERY,
  GKE_PREFIX,
  INGEST_PREFIX,
  SOURCE_ACCOUNT_HEADER,
  SOURCE_REGION_HEADER,
  TENANT_ID_PATTERN,
  TENANT_ID_RULE,
  TOKEN_HEADER,
} from '../protocol.js';
import { countRuleErrors, RuleErrorLog, ruleErrorLine } from '../rules/error-log.js';
import { type RejectSink, toRejectRecord } from '../sinks/rejects.js';
import type { EventStore } from '../sinks/sqlite.js';
import { type OutgoingRecord, type RecordOrigin, type RecordPayload, SinkUnavailableError } from '../sinks/types.js';
import { type RecordWriter, recordPayload, type WriteOutcome } from '../sinks/writer.js';
import { TenantAccess } from './auth.js';
import { decodeContent, isJsonContentType } from './body.js';
import type { IngestConfig } from './config.js';
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
  RETRY_AFTER_SECONDS,
  RouteOffError,
  ServiceUnavailableError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
} from './errors.js';
import { INBOX_TEMPLATE, type InboxStore, looksLikeInboxToken } from './inbox.js';
import { PubSubPushVerifier } from './oidc.js';
import {
  type IngestRequest,
  loggablePath,
  lowerCaseHeaders,
  matchRoute,
  matchStatusRoute,
  queryParam,
  type RequestHead,
} from './request.js';
import { RecentCounts, tenantStatus } from './status.js';

// Header names as lowerCaseHeaders gives them (HTTP header names are case-insensitive).
const TOKEN_KEY = TOKEN_HEADER.toLowerCase();
const CLUSTER_KEY = CLUSTER_HEADER.toLowerCase();
const SOURCE_ACCOUNT_KEY = SOURCE_ACCOUNT_HEADER.toLowerCase();
const SOURCE_REGION_KEY = SOURCE_REGION_HEADER.toLowerCase();
const AWS_ACCOUNT_PATTERN = /^\d{12}$/;
const AWS_REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
/** At most this many per-item errors are listed in a 200 answer; the rest are counted. */
export const MAX_LISTED_ERRORS = 100;

/** At most this many rejected items are named in the request's log line: a bad batch must not flood the log. */
export const MAX_LOGGED_REJECTS = 5;

/** One item the batch could not use, as the 200 answer lists it. */
export interface ItemError {
  index: number;
  auditID: string | null;
  reason: string;
}

/** The body of a 200 answer. */
export interface IngestResult {
  accepted: number;
  rejected: number;
  duplicates: number;
  /**
   * Stored events whose auditID and stage an event with other content already held (in this
   * batch, or in the store across batches): flagged `reused-audit-id`. Present when not zero.
   */
  reusedAuditIds?: number;
  errors: ItemError[];
  /** Errors beyond the first MAX_LISTED_ERRORS, counted. */
  errorsOmitted?: number;
  /**
   * Items that are not Kubernetes audit events and were left alone (GKE entries of other logs,
   * AKS records of other categories); present only on bodies that can hold such items.
   */
  skipped?: number;
}

/** A structured log line; never holds a token or a secret. */
export type LogEntry = Record<string, unknown>;

/** What the core needs: config, where records go, where inbox tokens are, and a log. */
export interface IngestServiceOptions {
  config: IngestConfig;
  writer: RecordWriter;
  inbox?: InboxStore | null;
  /** Where rejected items are kept with their reason (null: counted and logged only). */
  rejects?: RejectSink | null;
  log?: (entry: LogEntry) => void;
  /** Clock for `receivedAt` (epoch ms). */
  now?: () => number;
  /** Told what each request did, once, as it is answered (metrics). */
  observe?: (outcome: IngestOutcome) => void;
  /** Longest stretch of work on one batch before the event loop gets a turn (ms; default `SLICE_MS`). */
  sliceMs?: number;
  /** Other secrets of this installation (the console token): refused as a tenant id like the ingest's own. */
  otherSecrets?: readonly string[];
}

/**
 * A batch's parse and normalise give the event loop a turn after this long (ms). node accepts
 * about one new connection per loop turn while the loop is busy (measured: with 100 ms of work
 * per turn, 30 connections arriving 40 ms apart were accepted one every ~100 ms), so a server
 * that works on a batch for 100 ms or more at a stretch (a 400-event batch on a loaded machine)
 * leaves new requests in the kernel's accept queue, out of reach of admission control: they wait
 * there for seconds, unrefused, until their clients time out. Sliced, requests are seen within a
 * few ms and refused at once when the server is behind. A turn costs microseconds.
 */
const SLICE_MS = 5;

/** Resolves on the event loop's next turn, after the I/O that is ready (new connections, request heads). */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Batches take turns at parsing and normalising, first come first served. Sliced (SLICE_MS), N
 * batches worked on at once would each advance at 1/N of the speed: every answer N times later,
 * and a batch past its deadline given up after all its work was done (measured: normalise p50 1 s
 * of wall time per batch, 75 client timeouts). In turn, the first in line finishes at full speed
 * and the others wait where admission control sees them (their wait counts toward
 * K8S_AUDIT_MAX_QUEUE_WAIT_MS, their deadline can pass before any work is spent on them).
 */
class Turns {
  #tail: Promise<void> = Promise.resolve();

  /** Waits for this caller's turn (or `signal`'s abort, which throws its reason); call the returned function to pass the turn on. */
  async take(signal?: AbortSignal): Promise<() => void> {
    let pass!: () => void;
    const mine = new Promise<void>((resolve) => {
      pass = resolve;
    });
    const ready = this.#tail;
    this.#tail = ready.then(() => mine);
    if (signal === undefined) {
      await ready;
      return pass;
    }
    let onAbort: (() => void) | undefined;
    try {
      await Promise.race([
        ready,
        new Promise<never>((_, reject) => {
          onAbort = () => reject(signal.reason);
          if (signal.aborted) onAbort();
          else signal.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
    } catch (err) {
      // Given up while waiting: its turn, when it comes, passes on at once.
      void ready.then(pass);
      throw err;
    } finally {
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
    return pass;
  }
}

/** A request that passed the checks that need no body: who it is for, and what to log. */
export interface AdmittedRequest {
  readonly route: 'ingest' | 'gke' | 'inbox';
  readonly tenant: string;
  /**
   * Who holds the credential that let it in, for the admission reserve (lib/ingest/admission.ts):
   * the tenant id for a tenant's own secret, an inbox token (bound to one tenant) or a GKE push
   * subscription (one per tenant); SHARED_SECRET_PARTY for the installation-wide secret, whose one
   * holder may write under any tenant id without a secret of its own.
   */
  readonly party: string;
  readonly cluster: string | null;
  /** Set when the sender named the EKS source (X-AiSOC-Source-Account / -Region). */
  readonly source?: AuditSource;
  readonly headers: Readonly<Record<string, string>>;
  readonly started: number;
  /** The path as log lines show it: an inbox token replaced by its id. */
  readonly logPath: string;
}

/** The body as the transport got it: the bytes, or the count at which it stopped reading. */
export type ReceivedBody = Buffer | { tooLarge: true; receivedBytes: number };

interface LogState {
  route: string;
  /** The request path with any token replaced (`loggablePath`). */
  path: string;
  tenant?: string | undefined;
  cluster?: string | null | undefined;
  /** Some accepted event has no cluster name: none from the request, and none of its own (GKE, AKS). */
  clusterMissing?: boolean;
  bytes?: number;
  inflatedBytes?: number;
  items?: number;
  accepted?: number;
  rejected?: number;
  duplicates?: number;
  reusedAuditIds?: number;
  alerts?: number;
  alertsRefused?: number;
  skipped?: number;
  /** Time to parse, normalise and serialise the batch, and time spent in the sinks. */
  normaliseMs?: number;
  sinkMs?: number;
  failure?: IngestOutcome['failure'];
  /** The first MAX_LOGGED_REJECTS rejected items, for the log line. */
  rejects?: ItemError[];
  /** Events a rule could not evaluate (an error other than an absent key), by rule and kind. */
  ruleErrors?: RuleErrorCount[];
}

/**
 * The transport-free ingest endpoint: `(method, path, query, headers, body) → {status, headers,
 * body}`. Checks run in the order of the design's contract table, cheapest first, and each one
 * before any parsing of the body. Both the Lambda and the local server call it.
 */
export class IngestService {
  readonly config: IngestConfig;
  readonly writer: RecordWriter;
  /** Who opens which tenant (shared and per-tenant secrets); the console's login asks it too. */
  readonly access: TenantAccess;
  readonly #pushVerifier: PubSubPushVerifier;
  readonly #inbox: InboxStore | null;
  readonly #rejects: RejectSink | null;
  readonly #log: (entry: LogEntry) => void;
  readonly #now: () => number;
  readonly #observe: (outcome: IngestOutcome) => void;
  readonly #sliceMs: number;
  readonly #turns = new Turns();
  /** One log line per rule per RULE_ERROR_LOG_MS. */
  readonly #ruleErrorLog = new RuleErrorLog();
  /** Per-tenant rejects of the last hour, for the status route. */
  readonly recent: RecentCounts;

  constructor(opts: IngestServiceOptions) {
    this.config = opts.config;
    this.writer = opts.writer;
    this.access = new TenantAccess(
      opts.config.sharedSecret,
      opts.config.previousSharedSecret,
      opts.config.tenantSecrets,
      opts.otherSecrets,
    );
    this.#pushVerifier = new PubSubPushVerifier(opts.config.gkePush);
    this.#inbox = opts.inbox ?? null;
    this.#rejects = opts.rejects ?? null;
    this.#log = opts.log ?? (() => {});
    this.#now = opts.now ?? Date.now;
    this.#observe = opts.observe ?? (() => {});
    this.#sliceMs = opts.sliceMs ?? SLICE_MS;
    this.recent = new RecentCounts(this.#now());
  }

  /**
   * `GET /v1/status/k8s-audit/{tenant_id}`: the tenant's clusters, last event per cluster, events,
   * alerts and rejects of the last hour. Authenticated like the ingest route (X-AiSOC-K8s-Token).
   * `store` is the embedded SQLite store (serve); without one the route answers 404.
   */
  status(head: RequestHead, store: EventStore | null): IngestResponse {
    const started = performance.now();
    const route = matchStatusRoute(head.path);
    // The tenant segment is hashed once: the answer keeps it out of the log line and refuses it below.
    const pathTenant = route === null ? undefined : { segment: route, secret: this.#segmentIsSecret(route) };
    const state: LogState = { route: 'status', path: loggablePath(head.path, this.#isSecret, pathTenant) };
    try {
      if (route === null || pathTenant === undefined) throw new NotFoundError('no such route');
      if (head.method.toUpperCase() !== 'GET') throw new MethodNotAllowedError('GET');
      if (!this.access.configured) {
        throw new ServiceUnavailableError('the status route is disabled with the webhook: set K8S_AUDIT_SHARED_SECRET to turn both on');
      }
      const headers = lowerCaseHeaders(head.headers);
      // A tenant with its own secret is read with that secret only, as it is written.
      if (!this.access.opens(safeDecode(route) ?? '', headers[TOKEN_KEY])) {
        throw new UnauthorizedError(tokenRefusal(headers, this.access.perTenant));
      }
      this.#refuseSecretAsTenant(pathTenant.secret, true);
      const tenant = safeDecode(route) ?? '';
      if (!TENANT_ID_PATTERN.test(tenant)) throw new BadRequestError(`tenant id must match ${TENANT_ID_RULE}`);
      state.tenant = tenant;
      if (store === null) throw new NotFoundError('the status route reads the embedded SQLite store: run serve with EVENTS_SINK=sqlite');
      return this.#finish(jsonResponse(200, tenantStatus(store, tenant, this.#now(), this.recent)), state, started);
    } catch (err) {
      return this.#answer(err, state, started);
    }
  }

  readonly #isSecret = (value: string): boolean => this.access.isSecret(value);

  /** Whether a path's tenant segment is a secret of this installation, decoded or as sent (a secret holding `%`). */
  #segmentIsSecret(segment: string): boolean {
    const tenant = safeDecode(segment) ?? segment;
    return this.access.isSecret(tenant) || (tenant !== segment && this.access.isSecret(segment));
  }

  /**
   * A secret of this installation sent as the path's tenant id (the shared secret typed in the
   * tenant's place, as an inbox URL carries its token) is refused before anything names the
   * tenant: it would otherwise be logged, counted and, with the right header, stored as a tenant id.
   * Refused after the credential is checked, so a caller without one gets the 401 any other
   * tenant id gets: answered before it, the 400 told anyone whether a guess was one of the
   * installation's secrets (any tenant's), one request per guess, with nothing to throttle it.
   */
  #refuseSecretAsTenant(secret: boolean, viaHeader: boolean): void {
    if (!secret) return;
    throw new BadRequestError(
      viaHeader
        ? `the tenant id in the path is a secret of this installation: the path names the tenant, the ${TOKEN_HEADER} header carries the secret`
        : 'the tenant id in the path is a secret of this installation: the path names the tenant',
    );
  }

  /** Handles a whole request whose body is already in memory (the Lambda). */
  async handle(req: IngestRequest): Promise<IngestResponse> {
    const admitted = await this.admit(req);
    if (!('route' in admitted)) return admitted;
    return this.complete(admitted, req.body);
  }

  /**
   * The checks that need no body, in contract order: route, 503 when the secret is unset, 401,
   * 400 for the tenant id (or, for the inbox route, the token's binding), and a declared
   * Content-Length over the cap. A transport streams the body only when this admits the request.
   */
  async admit(head: RequestHead): Promise<AdmittedRequest | IngestResponse> {
    const started = performance.now();
    const route = matchRoute(head.path);
    // The tenant segment is hashed once: the answer keeps it out of the log line and refuses it below.
    const pathTenant =
      route.kind === 'ingest' || route.kind === 'gke' ? { segment: route.tenant, secret: this.#segmentIsSecret(route.tenant) } : undefined;
    const state: LogState = { route: route.kind, path: loggablePath(head.path, this.#isSecret, pathTenant) };
    try {
      if (route.kind === 'none') {
        throw new NotFoundError(
          `no such route; POST audit events to ${INGEST_PREFIX}<tenant_id> (GKE's Pub/Sub pushes go to ${GKE_PREFIX}<tenant_id>)`,
        );
      }
      if (head.method.toUpperCase() !== 'POST') throw new MethodNotAllowedError('POST');
      const headers = lowerCaseHeaders(head.headers);
      let tenant: string;
      let party: string | undefined;
      let boundCluster: string | null = null;
      if (route.kind === 'ingest') {
        if (!this.access.configured) {
          throw new RouteOffError(
            'the Kubernetes audit webhook is disabled: set K8S_AUDIT_SHARED_SECRET on the ingest service to turn it on',
          );
        }
        const secretTenant = pathTenant?.secret === true;
        if (!secretTenant && TENANT_ID_PATTERN.test(route.tenant)) state.tenant = route.tenant;
        if (!this.access.opens(safeDecode(route.tenant) ?? '', headers[TOKEN_KEY])) {
          throw new UnauthorizedError(tokenRefusal(headers, this.access.perTenant));
        }
        this.#refuseSecretAsTenant(secretTenant, true);
        tenant = safeDecode(route.tenant) ?? '';
        if (!TENANT_ID_PATTERN.test(tenant)) {
          throw new BadRequestError(`tenant id must match ${TENANT_ID_RULE}`);
        }
        party = this.access.party(tenant);
      } else if (route.kind === 'gke') {
        if (!this.#pushVerifier.configured) {
          throw new RouteOffError(
            'the GKE Pub/Sub push route is disabled: set K8S_AUDIT_GKE_PUSH on the ingest service to turn it on (docs/gke.md)',
          );
        }
        const secretTenant = pathTenant?.secret === true;
        tenant = safeDecode(route.tenant) ?? '';
        if (!secretTenant && TENANT_ID_PATTERN.test(tenant)) state.tenant = tenant;
        await this.#pushVerifier.verify(tenant, headers.authorization);
        this.#refuseSecretAsTenant(secretTenant, false);
      } else {
        const binding = await this.#lookupInbox(route.token);
        tenant = binding.tenantId;
        boundCluster = binding.clusterName;
      }
      state.tenant = tenant;
      // A GKE entry names its own cluster (resource.labels.cluster_name); Pub/Sub sets no headers of ours.
      const cluster = route.kind === 'gke' ? null : (headers[CLUSTER_KEY] ?? queryParam(head.query, CLUSTER_QUERY) ?? boundCluster);
      if (cluster !== null && !CLUSTER_NAME_PATTERN.test(cluster)) {
        throw new BadRequestError(
          `cluster name (${CLUSTER_HEADER} or ?${CLUSTER_QUERY}=) must be 1 to 256 printable characters (a name that is not ASCII goes in ?${CLUSTER_QUERY}=, percent-encoded UTF-8: a header carries ASCII)`,
        );
      }
      // A secret sent as the cluster name (the nginx front given the secret for both headers, a
      // tailer's CLUSTER_NAME set to it) would be logged with every request and stored in every
      // record: refused before anything names the cluster, as one in the path's tenant place is.
      if (cluster !== null && this.access.isSecret(cluster)) {
        throw new BadRequestError(
          `the cluster name is a secret of this installation: ${CLUSTER_HEADER} (or ?${CLUSTER_QUERY}=) names the cluster, the ${TOKEN_HEADER} header carries the secret`,
        );
      }
      state.cluster = cluster;
      // The GKE route names its clusters in each entry's resource labels, not in a header.
      if (cluster === null && this.config.requireCluster && route.kind !== 'gke') {
        this.recent.add(tenant, 'refused_without_cluster', 1, this.#now());
        throw new BadRequestError(
          `no cluster name: K8S_AUDIT_REQUIRE_CLUSTER is on, so every batch must name its cluster (${CLUSTER_HEADER} header or ?${CLUSTER_QUERY}=)`,
        );
      }
      const source = route.kind === 'gke' ? undefined : readSource(headers);
      const declared = headers['content-length'];
      if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > this.config.maxWireBytes) {
        state.bytes = Number(declared);
        throw this.#wireTooLarge(Number(declared), true, headers['content-encoding']);
      }
      return {
        route: route.kind,
        tenant,
        party: party ?? tenant,
        cluster,
        ...(source === undefined ? {} : { source }),
        headers,
        started,
        logPath: state.path,
      };
    } catch (err) {
      // Before the body, a 401 is a wrong token, a RouteOffError a route turned off here, and any
      // other 503 means the token cannot be checked at all (the inbox token store down).
      if (err instanceof UnauthorizedError) state.failure = 'unauthorized';
      else if (err instanceof RouteOffError) state.failure = 'route_off';
      else if (err instanceof ServiceUnavailableError) state.failure = 'auth_unavailable';
      return this.#answer(err, state, started);
    }
  }

  /**
   * The checks and work that need the body: size, encoding, type, parse, batch size, normalise,
   * store. `signal` (the local server's) gives the request up: once it aborts, nothing more is
   * done for it unless its commit has begun, and the answer is the signal's reason (an HttpError).
   */
  async complete(req: AdmittedRequest, body: ReceivedBody, signal?: AbortSignal): Promise<IngestResponse> {
    const state: LogState = { route: req.route, path: req.logPath, tenant: req.tenant, cluster: req.cluster };
    try {
      signal?.throwIfAborted();
      if (!Buffer.isBuffer(body)) {
        state.bytes = body.receivedBytes;
        throw this.#wireTooLarge(body.receivedBytes, false, req.headers['content-encoding']);
      }
      state.bytes = body.length;
      if (body.length > this.config.maxWireBytes) throw this.#wireTooLarge(body.length, true, req.headers['content-encoding']);
      const decoded = await decodeContent(body, req.headers['content-encoding'], this.config.maxBodyBytes);
      state.inflatedBytes = decoded.length;
      if (!isJsonContentType(req.headers['content-type'])) {
        throw new UnsupportedMediaTypeError(
          `Content-Type ${JSON.stringify(req.headers['content-type'])} is not JSON; send application/json (an audit.k8s.io/v1 EventList)`,
        );
      }
      const pass = await this.#turns.take(signal);
      let result: IngestResult;
      try {
        result = await this.#ingest(req, decoded, state, signal, pass);
      } finally {
        pass();
      }
      return this.#finish(jsonResponse(200, result), state, req.started);
    } catch (err) {
      return this.#answer(err, state, req.started);
    }
  }

  async #lookupInbox(token: string) {
    if (this.#inbox === null) {
      throw new RouteOffError('the legacy inbox path is not configured on this ingest service (set INBOX_TABLE)');
    }
    const decoded = safeDecode(token);
    if (decoded === null || !looksLikeInboxToken(decoded)) throw new UnauthorizedError('unknown or revoked inbox token');
    let binding: Awaited<ReturnType<InboxStore['lookup']>>;
    try {
      binding = await this.#inbox.lookup(decoded);
    } catch (err) {
      throw new ServiceUnavailableError('the inbox token store is unavailable; retry later', RETRY_AFTER_SECONDS, { cause: err });
    }
    if (binding === null || binding.revokedAt !== null) throw new UnauthorizedError('unknown or revoked inbox token');
    if (binding.template !== INBOX_TEMPLATE) {
      throw new ForbiddenError(`this inbox token is bound to the ${JSON.stringify(binding.template)} template, not ${INBOX_TEMPLATE}`);
    }
    return binding;
  }

  async #ingest(
    req: AdmittedRequest,
    body: Buffer,
    state: LogState,
    signal: AbortSignal | undefined,
    pass: () => void,
  ): Promise<IngestResult> {
    const t0 = performance.now();
    const batch =
      req.route === 'gke' ? readPush(body) : looksLikeAksRecords(body) ? readAks(body, req.cluster) : readAuditPayload(req, body);
    state.items = batch.itemCount;
    if (batch.itemCount > this.config.maxBatchSize) {
      throw new PayloadTooLargeError(
        `batch has ${batch.itemCount} items, over K8S_AUDIT_MAX_BATCH_SIZE (${this.config.maxBatchSize}); lower the apiserver's --audit-webhook-batch-max-size`,
      );
    }
    if (batch.skipped !== undefined) {
      state.skipped = batch.skipped;
      if (batch.skipped > 0) {
        this.#log({
          level: 'info',
          msg: 'items skipped',
          route: req.route,
          tenant: req.tenant,
          count: batch.skipped,
          reasons: batch.skippedReasons,
        });
      }
    }
    return this.#store(req, batch, state, t0, signal, pass);
  }

  /** Normalises a batch's events and hands them to the sinks; the 200 answer's counts. */
  async #store(
    req: AdmittedRequest,
    batch: Batch,
    state: LogState,
    t0: number,
    signal: AbortSignal | undefined,
    pass: () => void,
  ): Promise<IngestResult> {
    const errors: ItemError[] = batch.rejected.map(itemError);
    // What each rejected item was, for the rejects sink (by its index in the batch).
    const rejectedItems = new Map<number, unknown>();
    for (const r of batch.rejected) if (r.item !== undefined) rejectedItems.set(r.index, r.item);
    const receivedAt = this.#now();
    const detection = this.config.detection;
    const ruleErrors: RuleError[] = [];
    const shared: NormaliseContext = {
      tenantId: req.tenant,
      clusterName: batch.cluster,
      receivedAt,
      ...(batch.source === undefined ? {} : { source: batch.source }),
      ...(detection === undefined ? {} : { detection }),
      ruleErrors,
    };
    const limit = this.writer.maxRecordBytes;
    const outgoing: OutgoingRecord[] = [];
    const positions: number[] = [];
    // A duplicate is a resend of the same event (same dedup key: see lib/audit/identity.ts); two
    // events with different content in one auditID and stage are both kept, the later one flagged.
    const seen = new Set<string>();
    const slots = new Set<string>();
    let duplicates = 0;
    /** Positions in `outgoing` of records flagged here (a resend of the pair is a duplicate, not a reuse). */
    const flagged: number[] = [];
    let reused = 0;
    let turn = t0;
    for (let i = 0; i < batch.events.length; i++) {
      if (performance.now() - turn >= this.#sliceMs) {
        await nextTurn();
        turn = performance.now();
      }
      const event = batch.events[i] as AuditEvent;
      const index = batch.indexes[i] as number;
      const origin = batch.perEvent?.[i];
      const ctx: NormaliseContext = origin === undefined ? shared : { ...shared, clusterName: origin.clusterName, source: origin.source };
      let record: NormalisedRecord;
      try {
        record = normaliseAuditEvent(event, ctx);
      } catch (err) {
        this.#log({ level: 'error', msg: 'normalise failed', tenant: req.tenant, index, error: (err as Error).name });
        errors.push({ index, auditID: event.auditID, reason: 'event could not be normalised' });
        rejectedItems.set(index, event);
        continue;
      }
      if (seen.has(record.dedup_key)) {
        duplicates++;
        continue;
      }
      seen.add(record.dedup_key);
      const slot = recordSlot(record);
      if (slots.has(slot)) {
        record = flagReusedAuditId(record);
        flagged.push(outgoing.length);
      } else {
        slots.add(slot);
      }
      const out = new PendingRecord(record, ctx.source ?? null, limit !== Number.POSITIVE_INFINITY);
      // The SQLite sink stores the raw event and normalises it again on read, with the default
      // detection: under another (K8S_AUDIT_SEVERITY=spec, K8S_AUDIT_RULES) it stores the record.
      if (ctx.detection !== undefined && ctx.detection !== shippedDetection()) out.reproducible = false;
      if (limit !== Number.POSITIVE_INFINITY && out.bytes > limit) {
        // The compact form is the same event, cut: it keeps the full event's identity and flag.
        const compactEvent = withoutBodies(event);
        // The rules decided on the bodies: the compact record keeps that severity (and a reuse flag),
        // and the full event's identity.
        // Its rule errors were counted with the full event's.
        out.compact = recordPayload(
          sameIdentity(keepSeverity(normaliseAuditEvent(compactEvent, { ...ctx, ruleErrors: [] }), record), record.dedup_key),
        );
      }
      outgoing.push(out);
      positions.push(index);
    }

    const t1 = performance.now();
    state.normaliseMs = round(t1 - t0);
    if (ruleErrors.length > 0) this.#ruleErrors(req.tenant, ruleErrors, state);
    let accepted = 0;
    if (outgoing.length > 0) {
      // The write waits on a disk or a network, not the CPU: the next batch may start meanwhile.
      pass();
      if (t1 - turn >= this.#sliceMs) await nextTurn();
      let outcome: WriteOutcome;
      try {
        signal?.throwIfAborted();
        outcome = await this.writer.write(outgoing, signal);
        state.sinkMs = round(performance.now() - t1);
      } catch (err) {
        state.sinkMs = round(performance.now() - t1);
        state.failure = 'sink';
        // Given up before its commit began: nothing of the batch was stored.
        if (signal?.aborted && err === signal.reason) throw err;
        this.#log({
          level: 'error',
          msg: 'sink write failed',
          tenant: req.tenant,
          sinks: this.writer.describe(),
          error: describeError(err),
        });
        const reason = err instanceof SinkUnavailableError && err.publicReason !== undefined ? `: ${err.publicReason}` : '';
        throw new ServiceUnavailableError(
          `the batch could not be stored (sink unavailable${reason}); nothing was acknowledged, retry later`,
          RETRY_AFTER_SECONDS,
          {
            cause: err,
          },
        );
      }
      duplicates += outcome.duplicates.size;
      reused = (outcome.reused?.size ?? 0) + flagged.filter((i) => !outcome.duplicates.has(i) && !outcome.refused.has(i)).length;
      for (const [i, reason] of outcome.refused) {
        errors.push({ index: positions[i] as number, auditID: (outgoing[i] as OutgoingRecord).record.audit_id, reason });
        rejectedItems.set(positions[i] as number, (outgoing[i] as OutgoingRecord).record.raw_event);
      }
      accepted = outgoing.length - outcome.duplicates.size - outcome.refused.size;
      state.alerts = outcome.alertsSent;
      if (outcome.alertsRefused.length > 0) {
        state.alertsRefused = outcome.alertsRefused.length;
        this.#log({
          level: 'warn',
          msg: 'alerts refused by the alerts sink',
          tenant: req.tenant,
          count: outcome.alertsRefused.length,
          reasons: outcome.alertsRefused.slice(0, 5),
        });
      }
    }

    errors.sort((a, b) => a.index - b.index);
    // Counted before the rejects are kept: when that fails, the line and the metrics still say
    // what the events sink already holds (the resend then stores it again, or finds duplicates).
    state.accepted = accepted;
    state.clusterMissing =
      batch.perEvent === undefined ? batch.cluster === null : batch.events.some((_, i) => batch.perEvent?.[i]?.clusterName === null);
    state.rejected = errors.length;
    state.duplicates = duplicates;
    if (errors.length > 0) state.rejects = errors.slice(0, MAX_LOGGED_REJECTS);
    if (errors.length > 0) await this.#keepRejects(req, errors, rejectedItems, rejectedClusters(batch, errors), receivedAt, state);
    // Every listed reject, at debug: off by default, on for a share of requests with
    // POWERTOOLS_LOGGER_SAMPLE_RATE, so a bad sender can be looked into without flooding the log.
    if (errors.length > MAX_LOGGED_REJECTS) {
      this.#log({ level: 'debug', msg: 'rejected items', tenant: req.tenant, items: errors.slice(0, MAX_LISTED_ERRORS) });
    }
    state.reusedAuditIds = reused;
    const result: IngestResult = { accepted, rejected: errors.length, duplicates, errors: errors.slice(0, MAX_LISTED_ERRORS) };
    if (reused > 0) result.reusedAuditIds = reused;
    if (errors.length > MAX_LISTED_ERRORS) result.errorsOmitted = errors.length - MAX_LISTED_ERRORS;
    if (batch.skipped !== undefined) result.skipped = batch.skipped;
    return result;
  }

  /**
   * Counts the batch's rule errors for the metrics and logs each rule's at most once per
   * RULE_ERROR_LOG_MS (lib/rules/error-log.ts): the rule id and the error's kind, never the event or the error's message
   * (which can quote a value of the event). A flood of hostile events moves the counter, not the log.
   */
  #ruleErrors(tenant: string, errors: readonly RuleError[], state: LogState): void {
    state.ruleErrors = countRuleErrors(errors);
    for (const c of this.#ruleErrorLog.due(state.ruleErrors, this.#now())) {
      this.#log(
        ruleErrorLine(
          tenant,
          c,
          `the event was scored without this rule, at least its row of the severity table; metric ${RULE_ERROR_METRIC.prom} (RuleErrors) counts every one, this line is logged once a minute per rule`,
        ),
      );
    }
  }

  /** Keeps every rejected item with its reason; a rejects sink that fails makes the request a 503 (the sender resends, the stored events are then duplicates). */
  async #keepRejects(
    req: AdmittedRequest,
    errors: readonly ItemError[],
    items: ReadonlyMap<number, unknown>,
    clusters: ReadonlyMap<number, string>,
    at: number,
    state: LogState,
  ): Promise<void> {
    if (this.#rejects === null) return;
    const records = errors.map((e) =>
      toRejectRecord(
        { index: e.index, auditID: e.auditID, reason: e.reason, item: items.get(e.index) },
        req.tenant,
        clusters.get(e.index) ?? req.cluster,
        at,
      ),
    );
    try {
      await this.#rejects.write(records);
    } catch (err) {
      // A sink failure like the events sink's: the line carries `failure`, SinkFailures counts it,
      // and the alarm on it fires (a rejects queue the role may not write is otherwise only 5xx).
      state.failure = 'sink';
      this.#log({
        level: 'error',
        msg: 'rejects sink write failed',
        tenant: req.tenant,
        sink: this.#rejects.name,
        error: describeError(err),
      });
      throw new ServiceUnavailableError(
        'the rejected items could not be kept (rejects sink unavailable); retry later',
        RETRY_AFTER_SECONDS,
        {
          cause: err,
        },
      );
    }
  }

  #wireTooLarge(bytes: number, exact: boolean, contentEncoding: string | undefined): PayloadTooLargeError {
    const { maxWireBytes, maxBodyBytes } = this.config;
    const compressed = (contentEncoding ?? '').trim() !== '' && contentEncoding?.trim().toLowerCase() !== 'identity';
    // gzip helps only a plain body that is over the cap on the wire (Lambda's payload limit) yet
    // within the cap on the inflated body; one that is over K8S_AUDIT_MAX_BODY_BYTES as it is
    // would be refused again once inflated, and a compressed one is compressed already.
    const advice = compressed
      ? "lower the apiserver's --audit-webhook-batch-max-size (the body is compressed already)"
      : maxWireBytes < maxBodyBytes && exact && bytes <= maxBodyBytes
        ? `lower the apiserver's --audit-webhook-batch-max-size or send gzip (the inflated body may be up to ${maxBodyBytes} bytes)`
        : `lower the apiserver's --audit-webhook-batch-max-size${maxWireBytes < maxBodyBytes ? '' : ' or raise K8S_AUDIT_MAX_BODY_BYTES'}; gzip would not help: the body inflated is capped at ${maxBodyBytes} bytes`;
    return new PayloadTooLargeError(
      `request body is ${exact ? '' : 'at least '}${bytes} bytes, over ${maxWireBytes} bytes (${this.config.wireLimitName}); ${advice}`,
    );
  }

  #answer(err: unknown, state: LogState, started: number): IngestResponse {
    const response = errorResponse(err);
    if (!(err instanceof HttpError)) {
      this.#log({ level: 'error', msg: 'unexpected error', route: state.route, error: describeError(err) });
    }
    return this.#finish(response, state, started, err instanceof HttpError ? err.message : 'internal error');
  }

  #finish(response: IngestResponse, state: LogState, started: number, error?: string): IngestResponse {
    if (state.tenant !== undefined && state.route !== 'status') {
      const now = this.#now();
      if (response.status >= 400 && response.status < 500 && response.status !== 401)
        this.recent.add(state.tenant, 'refused_requests', 1, now);
      if (state.rejected) this.recent.add(state.tenant, 'rejected_items', state.rejected, now);
    }
    const outcome: IngestOutcome = {
      route: state.route,
      status: response.status,
      tenant: state.tenant ?? null,
      cluster: state.cluster ?? null,
      items: state.items ?? null,
      accepted: state.accepted ?? 0,
      rejected: state.rejected ?? 0,
      duplicates: state.duplicates ?? 0,
      alerts: state.alerts ?? 0,
      alertsRefused: state.alertsRefused ?? 0,
      bytes: state.bytes ?? 0,
      inflatedBytes: state.inflatedBytes ?? state.bytes ?? 0,
      ms: round(performance.now() - started),
      ...(state.normaliseMs === undefined ? {} : { normaliseMs: state.normaliseMs }),
      ...(state.sinkMs === undefined ? {} : { sinkMs: state.sinkMs }),
      ...(state.failure === undefined ? {} : { failure: state.failure }),
      ...(state.ruleErrors === undefined ? {} : { ruleErrors: state.ruleErrors }),
    };
    // The one line per request (docs/ingest.md, "The request log line"): tenant and cluster are
    // here and never metric dimensions, whose number must stay bounded.
    this.#log({
      level: response.status >= 500 ? 'error' : response.status >= 400 ? 'warn' : 'info',
      msg: 'ingest request',
      route: outcome.route,
      path: state.path,
      tenant: outcome.tenant,
      cluster: outcome.cluster,
      status: outcome.status,
      items: outcome.items,
      accepted: outcome.accepted,
      rejected: outcome.rejected,
      ...(state.rejects === undefined ? {} : { rejected_items: state.rejects }),
      duplicates: outcome.duplicates,
      ...(state.reusedAuditIds ? { reused_audit_ids: state.reusedAuditIds } : {}),
      ...(state.ruleErrors === undefined ? {} : { rule_errors: state.ruleErrors.reduce((n, e) => n + e.count, 0) }),
      alerts: outcome.alerts,
      ...(outcome.alertsRefused > 0 ? { alerts_refused: outcome.alertsRefused } : {}),
      ...(state.skipped ? { skipped: state.skipped } : {}),
      ...(state.clusterMissing === true && state.accepted ? { cluster_missing: true } : {}),
      bytes: outcome.bytes,
      inflated_bytes: outcome.inflatedBytes,
      ms: outcome.ms,
      ...(outcome.normaliseMs === undefined ? {} : { normalise_ms: outcome.normaliseMs }),
      ...(outcome.sinkMs === undefined ? {} : { sink_ms: outcome.sinkMs }),
      ...(outcome.failure === undefined ? {} : { failure: outcome.failure }),
      ...(error === undefined ? {} : { error }),
    });
    this.#observe(outcome);
    return response;
  }

  /** Closes the sinks and the inbox store. */
  async close(): Promise<void> {
    await Promise.all([this.writer.close(), this.#inbox?.close(), this.#rejects?.close()]);
  }
}

/** The events of one request body, ready to normalise: each with the cluster and source it came from. */
interface Batch {
  events: AuditEvent[];
  indexes: number[];
  rejected: RejectedItem[];
  itemCount: number;
  /** The cluster and source of every event, unless `perEvent` names each one's. */
  cluster: string | null;
  source: AuditSource | undefined;
  perEvent?: { clusterName: string | null; source: AuditSource }[];
  /** Items that are not audit events (counted, not rejected); set only for bodies that can hold them. */
  skipped?: number;
  skippedReasons?: string[];
}

/** An EventList, an Event or an array of Events, all for the request's cluster and source. */
function readAuditPayload(req: AdmittedRequest, body: Buffer): Batch {
  const parsed = parseAuditPayload(body);
  if (parsed.form === 'invalid') throw new BadRequestError(parsed.error ?? 'body is not an audit payload');
  if (parsed.form === 'ndjson') {
    throw new BadRequestError(
      'body is not a JSON document; send an audit.k8s.io/v1 EventList, an Event or an array of Events (NDJSON is read by `aisoc-k8s-audit normalise` and the tailer)',
    );
  }
  if (parsed.form === 'Event' && parsed.events.length === 0) {
    // A lone object that is not an Event is a wrong payload, not a batch with a bad item.
    throw new BadRequestError(`body is not an audit Event: ${parsed.rejected[0]?.reason ?? 'not an Event'}`);
  }
  return {
    events: parsed.events,
    indexes: parsed.indexes,
    rejected: parsed.rejected,
    itemCount: parsed.itemCount,
    cluster: req.cluster,
    source: req.source,
  };
}

/**
 * A Pub/Sub push delivery (`{"message":{"data":base64(LogEntry),...},"subscription":...}`), or
 * the bare LogEntry a subscription created with `--push-no-wrapper` sends.
 */
function readPush(body: Buffer): Batch {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new BadRequestError(`body is not JSON: ${jsonErrorReason(err)}`);
  }
  let entry: unknown;
  const perEvent: NonNullable<Batch['perEvent']> = [];
  const batch: Batch = {
    events: [],
    indexes: [],
    rejected: [],
    itemCount: 1,
    cluster: null,
    source: undefined,
    perEvent,
    skipped: 0,
    skippedReasons: [],
  };
  if (isJsonObject(doc) && isJsonObject(doc.message)) {
    const data = doc.message.data;
    const messageId = typeof doc.message.messageId === 'string' ? doc.message.messageId : null;
    if (typeof data !== 'string' || data === '') {
      batch.skipped = 1;
      batch.skippedReasons?.push(`message ${messageId ?? '(no messageId)'} has no data`);
      return batch;
    }
    const decoded = Buffer.from(data, 'base64').toString('utf8');
    try {
      entry = JSON.parse(decoded);
    } catch (err) {
      // Kept as the text it decoded to (redacted, cut to the bound), for a person to look at.
      batch.rejected.push({ index: 0, reason: `${GKE_DATA_NOT_JSON}: ${jsonErrorReason(err)}`, item: decoded });
      return batch;
    }
  } else if (isJsonObject(doc) && ('logName' in doc || 'protoPayload' in doc)) {
    entry = doc;
  } else {
    throw new BadRequestError(
      'body is not a Pub/Sub push delivery ({"message":{"data":"<base64 LogEntry>",...},"subscription":"..."}); this route takes GKE audit logs from a Pub/Sub push subscription (docs/gke.md)',
    );
  }
  const converted = gkeLogEntryToAuditEvent(entry);
  if (converted.kind === 'skipped') {
    batch.skipped = 1;
    batch.skippedReasons?.push(converted.reason);
    return batch;
  }
  // A rejected entry is kept whole (redacted, cut to the bound), as an EventList's items are.
  if (converted.kind === 'rejected') {
    batch.rejected.push(
      converted.auditID === undefined
        ? { index: 0, reason: converted.reason, item: entry }
        : { index: 0, reason: converted.reason, auditID: converted.auditID, item: entry },
    );
    return batch;
  }
  const checked = validateAuditEvent(converted.event);
  if (!checked.ok) {
    batch.rejected.push({ index: 0, reason: checked.reason, auditID: converted.event.auditID, item: entry });
    return batch;
  }
  batch.events.push(checked.event);
  batch.indexes.push(0);
  perEvent.push(converted.origin);
  return batch;
}

/**
 * The cluster each rejected item of an AKS records body or a GKE push names itself, by its index:
 * an event's (its record's resourceId, its entry's resource labels, as `perEvent` holds them), or
 * for an item rejected before it became one, the AKS record's resourceId or the GKE entry's
 * `resource.labels.cluster_name`. A kept reject then says which cluster it came from as the
 * stored events do (a records body's clusters are its records', the header only fills a gap);
 * it had only the request's cluster, which neither path sends. Empty for other bodies.
 */
function rejectedClusters(batch: Batch, errors: readonly ItemError[]): Map<number, string> {
  const out = new Map<number, string>();
  if (batch.perEvent === undefined) return out;
  const wanted = new Set(errors.map((e) => e.index));
  batch.indexes.forEach((index, i) => {
    const cluster = batch.perEvent?.[i]?.clusterName;
    if (wanted.has(index) && cluster !== null && cluster !== undefined) out.set(index, cluster);
  });
  for (const r of batch.rejected) {
    const cluster = ownCluster(r.item);
    if (cluster !== null) out.set(r.index, cluster);
  }
  return out;
}

/** The cluster an AKS record (its resourceId), an AKSAudit row (its _ResourceId) or a GKE LogEntry (its resource labels) names, if any. */
function ownCluster(item: unknown): string | null {
  if (!isJsonObject(item)) return null;
  // A diagnostic record's resourceId, or an AKSAudit row's _ResourceId (Log Analytics data export).
  const aks = aksClusterOf(item.resourceId ?? item._ResourceId);
  if (aks !== null) return aks.clusterName;
  const labels = isJsonObject(item.resource) && isJsonObject(item.resource.labels) ? item.resource.labels : null;
  const name = labels?.cluster_name;
  return typeof name === 'string' && name !== '' ? name : null;
}

/** An Azure diagnostic-settings body: each record's event with the cluster its resourceId names. */
function readAks(body: Buffer, cluster: string | null): Batch {
  const aks = parseAksRecords(body);
  if (typeof aks === 'string') throw new BadRequestError(aks);
  return {
    events: aks.events.map((e) => e.event),
    indexes: aks.events.map((e) => e.index),
    rejected: aks.rejected,
    itemCount: aks.itemCount,
    cluster: null,
    source: undefined,
    // The resourceId names the cluster; X-AiSOC-Cluster-Name (or ?cluster=) only fills a gap.
    perEvent: aks.events.map((e) => ({ clusterName: e.clusterName ?? cluster, source: e.source })),
    skipped: aks.skipped,
    skippedReasons: aks.skippedReasons,
  };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

function itemError(item: RejectedItem): ItemError {
  return { index: item.index, auditID: item.auditID ?? null, reason: item.reason };
}

/**
 * A record on its way to the sinks, serialised only when a sink reads `json` or `bytes`: the
 * SQLite sink keeps its `origin` (the event's text, written by the normaliser for its digest) instead and never needs the
 * record's JSON, a fifth of the work of a batch. The record is `normaliseAuditEvent(event, ctx)`
 * with `ctx` = the record's tenant and cluster, `source`, and a receive time `event_time` holds.
 */
class PendingRecord implements OutgoingRecord {
  compact?: RecordPayload;
  /** False when normalising the stored raw event again would not give this record back. */
  reproducible = true;
  #json: string | undefined;
  #bytes: number | undefined;
  #origin: RecordOrigin | null | undefined;

  constructor(
    readonly record: NormalisedRecord,
    private readonly source: AuditSource | null,
    /** Whether `bytes` must be the exact UTF-8 size (a sink has a record limit), or may be the length. */
    private readonly exactBytes: boolean,
  ) {}

  get json(): string {
    // serialiseRecord reuses the text the normaliser wrote for the event's digest, and cuts (never
    // loses) an event nested too deep for JSON.stringify.
    this.#json ??= serialiseRecord(this.record);
    return this.#json;
  }

  get bytes(): number {
    this.#bytes ??= this.exactBytes ? Buffer.byteLength(this.json, 'utf8') : this.json.length;
    return this.#bytes;
  }

  get origin(): RecordOrigin | undefined {
    if (!this.reproducible) return undefined;
    if (this.#origin === undefined) {
      const raw = this.record.raw_event;
      // The text the normaliser wrote for the digest: the event as parsed and redacted.
      let rawEventJson: string | null = recordedText(raw) ?? null;
      // An event the normaliser had to cut (too deep for its JWT walk) would come back uncut and
      // unflagged from its cut raw event: the record's JSON, flagged, is stored instead.
      // (Its own signal: ocsf.metadata.is_truncated also flags an event that arrived truncated.)
      const cut = isCutForDepth(this.record);
      if (rawEventJson === null && !cut) {
        try {
          // A record the normaliser did not write the text of: serialise what is kept.
          rawEventJson = JSON.stringify(raw);
        } catch {
          // Nested too deep to write: the record's JSON, cut by serialiseRecord, is stored instead.
        }
      }
      this.#origin = rawEventJson === null ? null : { rawEventJson, source: this.source };
    }
    return this.#origin ?? undefined;
  }
}

/** `compact` with the severity, reason and rules decided on the full event (`full`). */
function keepSeverity(compact: NormalisedRecord, full: NormalisedRecord): NormalisedRecord {
  return {
    ...compact,
    severity: full.severity,
    severity_reason: full.severity_reason,
    rule_ids: full.rule_ids,
    ocsf: { ...compact.ocsf, severity_id: full.ocsf.severity_id ?? null, severity: full.ocsf.severity ?? null },
  };
}

/** A record with another record's identity (dedup key, and OCSF `metadata.uid` which holds it). */
function sameIdentity(record: NormalisedRecord, key: string): NormalisedRecord {
  const metadata = record.ocsf.metadata;
  const ocsf = isJsonObject(metadata) ? { ...record.ocsf, metadata: { ...metadata, uid: key } } : record.ocsf;
  return { ...record, dedup_key: key, ocsf };
}

function safeDecode(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/**
 * Why a request's token was refused: none sent, or not the secret. With per-tenant secrets the
 * shared secret may not be the one a tenant needs, so the answer says "the secret for this tenant",
 * true of a tenant with its own (that one) and of one without (the shared one): one text for both,
 * as the GKE route answers alike for configured and unconfigured tenants, so a prober cannot tell
 * which tenants have their own.
 */
function tokenRefusal(headers: Readonly<Record<string, string>>, perTenant: boolean): string {
  if (headers[TOKEN_KEY] === undefined) return `missing ${TOKEN_HEADER} header`;
  return perTenant ? `${TOKEN_HEADER} does not match the secret for this tenant` : `${TOKEN_HEADER} does not match the shared secret`;
}

/** The EKS source the forwarder named in its headers, or undefined; a malformed value is a 400. */
function readSource(headers: Readonly<Record<string, string>>): AuditSource | undefined {
  const account = headers[SOURCE_ACCOUNT_KEY];
  const region = headers[SOURCE_REGION_KEY];
  if (account === undefined && region === undefined) return undefined;
  if (account !== undefined && !AWS_ACCOUNT_PATTERN.test(account)) {
    throw new BadRequestError(`${SOURCE_ACCOUNT_HEADER} must be a 12-digit AWS account id`);
  }
  if (region !== undefined && !AWS_REGION_PATTERN.test(region)) {
    throw new BadRequestError(`${SOURCE_REGION_HEADER} must be an AWS region name such as us-east-1`);
  }
  return { platform: 'eks', accountId: account ?? null, region: region ?? null };
}
