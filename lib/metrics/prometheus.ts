import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { isLoopbackHost } from '../config/tls.js';
import { INGEST_METRICS, type IngestOutcome, RULE_ERROR_METRIC, TAIL_METRICS } from './names.js';

// The self-hosted side of the ingest metrics: `serve` exposes the counters the ingest Lambda emits
// as EMF, under the Prometheus names of lib/metrics/names.ts, on GET /metrics in the text format
// (prom-client). No label carries a tenant or a cluster, for the same reason as on CloudWatch.

/** Handler-time buckets in seconds: a batch of 400 events takes a few ms, a sink retry seconds. */
const HANDLER_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** A registry and what feeds it. */
export interface PrometheusMetrics {
  readonly registry: Registry;
}

/** The ingest's counters on a fresh registry (with the process metrics), and the observer that moves them. */
export function ingestPrometheus(): PrometheusMetrics & { observe: (outcome: IngestOutcome) => void } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const feeds = INGEST_METRICS.map((m) => {
    if (m.unit === 'Milliseconds') {
      const histogram = new Histogram({ name: m.prom, help: m.help, buckets: HANDLER_BUCKETS, registers: [registry] });
      return (o: IngestOutcome) => histogram.observe(m.value(o) / 1000);
    }
    const counter = new Counter({ name: m.prom, help: m.help, registers: [registry] });
    return (o: IngestOutcome) => counter.inc(m.value(o));
  });
  const ruleErrors = new Counter({
    name: RULE_ERROR_METRIC.prom,
    help: RULE_ERROR_METRIC.help,
    labelNames: ['rule', 'kind'] as const,
    registers: [registry],
  });
  return {
    registry,
    observe: (outcome) => {
      for (const feed of feeds) feed(outcome);
      for (const e of outcome.ruleErrors ?? []) ruleErrors.inc({ rule: e.rule, kind: e.kind }, e.count);
    },
  };
}

/** What one tailer poll did, as the tailer's metrics read it. */
export interface TailPollMetrics {
  lines: number;
  delivered: number;
  invalid: number;
  undelivered: number;
  /** Bytes of the log past the cursor after the poll, when known. */
  lagBytes: number | null;
  ok: boolean;
  /** When the poll finished, epoch ms. */
  at: number;
}

/** The tailer's metrics on a fresh registry (with the process metrics), and the recorder of one poll. */
export function tailPrometheus(): PrometheusMetrics & { recordPoll: (poll: TailPollMetrics) => void } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const counter = (m: { prom: string; help: string }) => new Counter({ name: m.prom, help: m.help, registers: [registry] });
  const gauge = (m: { prom: string; help: string }) => new Gauge({ name: m.prom, help: m.help, registers: [registry] });
  const read = counter(TAIL_METRICS.linesRead);
  const shipped = counter(TAIL_METRICS.linesShipped);
  const invalid = counter(TAIL_METRICS.linesInvalid);
  const undelivered = counter(TAIL_METRICS.undelivered);
  const polls = counter(TAIL_METRICS.polls);
  const errors = counter(TAIL_METRICS.pollErrors);
  const lag = gauge(TAIL_METRICS.cursorLag);
  const lastSuccess = gauge(TAIL_METRICS.lastSuccess);
  return {
    registry,
    recordPoll: (p) => {
      read.inc(p.lines);
      shipped.inc(p.delivered);
      invalid.inc(p.invalid);
      undelivered.inc(p.undelivered);
      polls.inc();
      if (!p.ok) errors.inc();
      if (p.lagBytes !== null) lag.set(p.lagBytes);
      if (p.ok) lastSuccess.set(p.at / 1000);
    },
  };
}

// Who may scrape `serve`'s /metrics. Its counters hold no tenant, but they are the whole
// installation's: with the port open to the tenants (a `--host 0.0.0.0` serve behind TLS), one of
// them could read how much every other tenant sends, and when, by subtracting its own, which the
// threat model (docs/reliability.md) says one tenant cannot count. So /metrics answers a caller on
// this machine (a loopback peer) as before, and anyone else only with the bearer token
// AISOC_METRICS_TOKEN, which is what Prometheus sends with `authorization: {credentials_file: …}`
// in a scrape config. The tailer's /metrics (its own port, one cluster's counts) needs no guard.

/** Who may read /metrics: the SHA-256 of the bearer token when one is set (null: loopback callers only). */
export interface MetricsAccess {
  readonly tokenDigest: Buffer | null;
}

/** The access rule for a metrics token (null, or empty: none). The token itself is not kept. */
export function metricsAccess(token: string | null | undefined): MetricsAccess {
  const t = token?.trim() ?? '';
  return { tokenDigest: t === '' ? null : createHash('sha256').update(t).digest() };
}

const BEARER = /^bearer[ \t]+(\S+)[ \t]*$/i;

/** Why `req` may not read /metrics under `access` (the status and error), or null when it may. */
export function metricsRefusal(access: MetricsAccess, req: IncomingMessage): { status: 401 | 403; error: string } | null {
  if (access.tokenDigest === null) {
    if (isLoopbackHost(req.socket.remoteAddress ?? '')) return null;
    return {
      status: 403,
      error:
        'GET /metrics answers only on this machine unless AISOC_METRICS_TOKEN is set; then scrape it with Authorization: Bearer <token>',
    };
  }
  const header = req.headers.authorization;
  const presented = typeof header === 'string' ? BEARER.exec(header)?.[1] : undefined;
  // Both sides hashed, so the comparison takes the same time whatever was sent.
  const digest = createHash('sha256')
    .update(presented ?? '')
    .digest();
  if (presented !== undefined && timingSafeEqual(digest, access.tokenDigest)) return null;
  return {
    status: 401,
    error:
      presented === undefined
        ? 'GET /metrics needs Authorization: Bearer <AISOC_METRICS_TOKEN>'
        : 'the bearer token does not match AISOC_METRICS_TOKEN',
  };
}

/**
 * Answers GET (or HEAD) /metrics from a registry in the Prometheus text format; other methods get
 * 405. With `access`, a caller it refuses gets 401 or 403 first (`metricsRefusal`).
 */
export async function answerMetrics(registry: Registry, req: IncomingMessage, res: ServerResponse, access?: MetricsAccess): Promise<void> {
  const refusal = access === undefined ? null : metricsRefusal(access, req);
  if (refusal !== null) {
    res.writeHead(refusal.status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store',
      ...(refusal.status === 401 ? { 'WWW-Authenticate': 'Bearer realm="metrics"' } : {}),
    });
    res.end(JSON.stringify({ error: refusal.error }));
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET', 'Content-Type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ error: 'method not allowed; use GET' }));
    return;
  }
  const text = await registry.metrics();
  res.writeHead(200, { 'Content-Type': registry.contentType, 'Cache-Control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : text);
}

/** A running /metrics endpoint. */
export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/** Serves GET /metrics from a registry on its own port (the tailer, which has no other server); anything else is 404. */
export async function startMetricsServer(registry: Registry, host: string, port: number): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    if (new URL(req.url ?? '/', 'http://localhost').pathname !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ error: 'not found; scrape GET /metrics' }));
      return;
    }
    answerMetrics(registry, req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shown}:${address.port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
