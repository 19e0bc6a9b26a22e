import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { INGEST_METRICS, type IngestOutcome, TAIL_METRICS } from './names.js';

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
  return {
    registry,
    observe: (outcome) => {
      for (const feed of feeds) feed(outcome);
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

/** Answers GET (or HEAD) /metrics from a registry in the Prometheus text format; other methods get 405. */
export async function answerMetrics(registry: Registry, req: IncomingMessage, res: ServerResponse): Promise<void> {
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
