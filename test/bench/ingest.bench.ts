import { spawn } from 'node:child_process';
import { closeSync, existsSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normaliseAuditEvent, parseAuditPayload, serialiseRecord, validateAuditEvent } from '../../lib/audit/index.js';
import { DEFAULT_SHIP_MAX_BODY_BYTES, DEFAULT_TAIL_BATCH_EVENTS } from '../../lib/config/defaults.js';
import { packEventLists } from '../../lib/ship/index.js';
import { openEventStore } from '../../lib/sinks/sqlite.js';
import type { OutgoingRecord } from '../../lib/sinks/types.js';
import { auditLines, prng, TIME_FIELDS, withLiveTimes } from '../helpers/corpus.js';
import { processCpuMs, type ServeProcess, spawnServe, threadCpuMs } from '../helpers/serve-process.js';
import type { BenchContext, BenchFigure } from './types.js';

const SECRET = 'bench-shared-secret-0123456789';
const BATCH = 400; // the apiserver's default --audit-webhook-batch-max-size
const BURST = 15; // the apiserver webhook's default burst (--audit-webhook-batch-throttle-burst)

/** The k-th quantile of sorted numbers. */
function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

/** Starts `dist/cli.mjs serve` (the built CLI, as `npm start` runs it) with the SQLite sink. */
async function startServe(dist: string, dataDir: string, env: Record<string, string> = {}): Promise<ServeProcess> {
  const cli = join(dist, 'cli.mjs');
  if (!existsSync(cli)) throw new Error('dist/cli.mjs is missing: run `npm run build` (npm run bench does)');
  // AISOC_BENCH_SERVE_FLAGS: node flags for the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
  // for a CPU profile of it, or "--trace-gc" (its output is printed when the benchmark ends).
  const nodeArgs = (process.env.AISOC_BENCH_SERVE_FLAGS ?? '').split(' ').filter((f) => f !== '');
  return spawnServe(cli, dataDir, { K8S_AUDIT_SHARED_SECRET: SECRET, ...env }, nodeArgs);
}

/** Where a load posts: the tenant and the shared secret of the server. */
export interface Target {
  tenant: string;
  secret: string;
}
const BENCH_TARGET: Target = { tenant: 'bench', secret: SECRET };

interface Shot {
  ms: number;
  status: number;
  accepted: number;
  /** The Retry-After of a 429, in seconds (0 when absent). */
  retryAfterS: number;
}

/**
 * POSTs one body over a keep-alive connection; resolves with the latency and the answer. The body
 * arrives as bytes, as an apiserver has its batch serialised before it sends it: the clock covers
 * the exchange, not the client encoding a string.
 */
function postOnce(agent: Agent, url: string, body: Buffer, to: Target): Promise<Shot> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(`${url}/v1/ingest/k8s-audit/${to.tenant}`, {
      method: 'POST',
      agent,
      headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': to.secret, 'Content-Length': body.length },
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => {
        const ms = performance.now() - t0;
        let accepted = 0;
        try {
          accepted = (JSON.parse(text) as { accepted?: number }).accepted ?? 0;
        } catch {
          // A non-JSON answer counts as an error below through its status.
        }
        resolve({ ms, status: res.statusCode ?? 0, accepted, retryAfterS: Number(res.headers['retry-after'] ?? 0) || 0 });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** An audit.k8s.io/v1 EventList of JSON lines. */
function eventList(lines: readonly string[]): string {
  return `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[${lines.join(',')}]}`;
}

/**
 * Fresh bodies from an EventList of `count` events. Every body gets fresh auditIDs (a random
 * prefix per event, as real UUIDs are random), so no batch is a resend of another and the dedup
 * index sees random keys, as in production; and the times of a live batch (the fixtures' own are
 * from 2018 and repeat in every batch, which no apiserver sends): each event received within the
 * last `count` ms, staged a few ms later.
 */
function liveBodies(template: string, count: number, rand: () => number): () => string {
  const parts = template.split('"auditID":"');
  const stamp = (ms: number) => `${new Date(ms).toISOString().slice(0, -1)}${String(Math.floor(rand() * 1000)).padStart(3, '0')}Z`;
  return () => {
    let body = parts[0] as string;
    for (let i = 1; i < parts.length; i++) body += `"auditID":"${Math.floor(rand() * 0xffffffff).toString(16)}-${parts[i]}`;
    const now = Date.now();
    let k = 0;
    return body.replace(TIME_FIELDS, (_m, key: string) => {
      const received = now - count + Math.floor(k++ / 2);
      return `"${key}":"${stamp(key === 'stageTimestamp' ? received + 3 : received)}"`;
    });
  };
}

/**
 * Runs `total` 400-event requests with `concurrency` in flight (closed loop); every request gets a
 * fresh body. With `untilMs` (a `performance.now()` time), no request starts after it.
 */
export async function load(
  url: string,
  makeBody: () => string,
  total: number,
  concurrency: number,
  to: Target = BENCH_TARGET,
  untilMs = Infinity,
) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const shots: Shot[] = [];
  let errors = 0;
  // 429s: the server's admission control refused the request before reading it (its queue's
  // wait was past its bound); the poster waits its Retry-After, as the apiserver and our shippers
  // do, and only 200s count (resending at once would make the server drain refused bodies all day).
  let refused = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total && performance.now() < untilMs) {
        next++;
        try {
          const shot = await postOnce(agent, url, Buffer.from(makeBody(), 'utf8'), to);
          if (shot.status === 429) {
            refused++;
            await new Promise((resolve) => setTimeout(resolve, shot.retryAfterS * 1000));
            continue;
          }
          if (shot.status !== 200 || shot.accepted !== BATCH) errors++;
          shots.push(shot);
        } catch {
          errors++;
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  const ms = shots.map((s) => s.ms).sort((a, b) => a - b);
  const accepted = shots.reduce((a, s) => a + (s.status === 200 ? s.accepted : 0), 0);
  return { p50: quantile(ms, 0.5), p99: quantile(ms, 0.99), eventsPerSecond: accepted / seconds, errors, refused };
}

/**
 * The ingest endpoint end to end: one 400-event EventList of real events (the Falco traces and
 * the EKS sample, cycled with fresh auditIDs, users and namespaces) POSTed over loopback to
 * `serve` with the SQLite sink (WAL, synchronous=FULL), at concurrency 1 and 15. The floor is
 * the normalise-only time of the same batch: parse, normalise and serialise it to records in
 * this process (what `aisoc-k8s-audit normalise` does), with no HTTP and no store.
 */
export async function run(ctx: BenchContext): Promise<BenchFigure[]> {
  const lines = auditLines(ctx.root, BATCH, ctx.seed);
  const template = eventList(lines);
  const makeBody = liveBodies(template, BATCH, prng(ctx.seed + 1));

  // Floor: what `aisoc-k8s-audit normalise` does with the same batch's bytes (parse, validate,
  // normalise, serialise each record), in this process, median of many rounds after a warm-up.
  const nctx = { tenantId: 'bench', clusterName: null, receivedAt: Date.now() };
  const normaliseOnce = (body: Buffer) => {
    const parsed = parseAuditPayload(body);
    let n = 0;
    for (const e of parsed.events) {
      n += serialiseRecord(normaliseAuditEvent(e, nctx)).length;
    }
    return n;
  };
  const floorRounds = ctx.quick ? 20 : 60;
  const floorTimes: number[] = [];
  for (let i = 0; i < floorRounds + 10; i++) {
    // Bytes, as the ingest receives the batch and as `normalise` reads a file.
    const body = Buffer.from(makeBody(), 'utf8');
    const t0 = performance.now();
    if (normaliseOnce(body) === 0) throw new Error('normalise produced nothing');
    if (i >= 10) floorTimes.push(performance.now() - t0);
  }
  floorTimes.sort((a, b) => a - b);
  const floorMs = quantile(floorTimes, 0.5);

  // The single poster's floor: the mandatory work of a durable ingest, in this process. Normalise
  // the batch, then write the same bytes to a file and fsync it (what a 200 that survives a power
  // cut needs at least), each batch appended as a store's log is.
  const durableDir = mkdtempSync(join(tmpdir(), 'aisoc-bench-fsync-'));
  const durableTimes: number[] = [];
  try {
    const fd = openSync(join(durableDir, 'log'), 'a');
    try {
      for (let i = 0; i < floorRounds + 10; i++) {
        const body = Buffer.from(makeBody(), 'utf8');
        const t0 = performance.now();
        if (normaliseOnce(body) === 0) throw new Error('normalise produced nothing');
        writeSync(fd, body);
        fsyncSync(fd);
        if (i >= 10) durableTimes.push(performance.now() - t0);
      }
    } finally {
      closeSync(fd);
    }
  } finally {
    rmSync(durableDir, { recursive: true, force: true });
  }
  durableTimes.sort((a, b) => a - b);
  const durableP50 = quantile(durableTimes, 0.5);
  const durableP99 = quantile(durableTimes, 0.99);

  const dataDir = mkdtempSync(join(tmpdir(), 'aisoc-bench-ingest-'));
  const serve = await startServe(ctx.dist, dataDir);
  const { url, logs } = serve;
  const at = (entries: Record<string, unknown>[], key: string, q: number) =>
    quantile(
      entries.map((e) => Number(e[key] ?? 0)).sort((a, b) => a - b),
      q,
    );
  // The server's own phase times at a quantile: where a batch's time goes, and where the slow ones' goes.
  const phases = (entries: Record<string, unknown>[], q: number) =>
    `total ${at(entries, 'ms', q).toFixed(1)} ms, parse+normalise ${at(entries, 'normalise_ms', q).toFixed(1)} ms, SQLite ${at(entries, 'sink_ms', q).toFixed(1)} ms`;
  try {
    const warm = ctx.quick ? 10 : 30;
    await load(url, makeBody, warm, 1);
    const c1Total = ctx.quick ? 30 : 200;
    const c1From = logs.length;
    const c1 = await load(url, makeBody, c1Total, 1);
    // serve's lines are Powertools' JSON: the text is under `message`.
    const c1Logs = logs.slice(c1From).filter((e) => (e.message ?? e.msg) === 'ingest request');
    const inServer = `in the server, p50: ${phases(c1Logs, 0.5)}; p99: ${phases(c1Logs, 0.99)}`;
    const c15Total = ctx.quick ? 45 : 300;
    // Where each batch's CPU goes at 15 posters: the server's main thread and its other threads,
    // and this process (the posters). On 2 cores their sum bounds events/s, and the main thread's
    // share bounds it again: what group commit can gain is read off these (docs/performance.md).
    const cpuOf = async (s: ServeProcess, n: number) => {
      const t0 = threadCpuMs(s.pid);
      const c0 = process.cpuUsage();
      const r = await load(s.url, makeBody, n, BURST);
      const t1 = threadCpuMs(s.pid);
      const c = process.cpuUsage(c0);
      const batches = Math.max(1, n - r.refused);
      const per = (ms: number) => (ms / batches).toFixed(1);
      return {
        r,
        note: `CPU per batch: server main thread ${per(t1.main - t0.main)} ms, its other threads ${per(t1.others - t0.others)} ms, posters ${per((c.user + c.system) / 1000)} ms`,
      };
    };
    const c15Cpu = await cpuOf(serve, c15Total);
    const c15 = c15Cpu.r;

    // The same two loads against a server with group commit on (AISOC_SQLITE_GROUP_COMMIT=true:
    // concurrent requests share a transaction and an fsync on a commit thread; the default commits
    // each request on the main thread), in this run: the group commit's gain and its cost to a lone poster.
    const onDir = mkdtempSync(join(tmpdir(), 'aisoc-bench-ingest-group-'));
    const on = await startServe(ctx.dist, onDir, { AISOC_SQLITE_GROUP_COMMIT: 'true' });
    let onC1: Awaited<ReturnType<typeof load>>;
    let onC1Logs: Record<string, unknown>[] = [];
    let onC15: Awaited<ReturnType<typeof load>>;
    let onC15Cpu: Awaited<ReturnType<typeof cpuOf>>;
    try {
      await load(on.url, makeBody, warm, 1);
      const onFrom = on.logs.length;
      onC1 = await load(on.url, makeBody, c1Total, 1);
      onC1Logs = on.logs.slice(onFrom).filter((e) => (e.message ?? e.msg) === 'ingest request');
      onC15Cpu = await cpuOf(on, c15Total);
      onC15 = onC15Cpu.r;
    } finally {
      await on.stop();
      if (process.env.AISOC_BENCH_SERVE_FLAGS) process.stderr.write(on.output());
      rmSync(onDir, { recursive: true, force: true });
    }
    const tailerBody = await tailerBodyCost(ctx, url, makeBody);
    const refusal = await refusalCost(ctx, Buffer.from(makeBody(), 'utf8'));
    const scaling = storeScaling(ctx);
    const eventsFloor = (BATCH / floorMs) * 1000;
    const batchNote = `${BATCH}-event batch, ${Math.round(template.length / 1024)} KiB; normalise-only ${floorMs.toFixed(2)} ms`;
    return [
      {
        figure: 'ingest: 400-event batch over loopback, SQLite sink, c=1, p99',
        value: Math.round(c1.p99 * 100) / 100,
        unit: 'ms',
        floor: Math.round(floorMs * 100) / 100,
        floorLabel: 'normalise-only ms per batch (parse+normalise+serialise)',
        ratio: c1.p99 / floorMs,
        goal: 'p99 ≤ 25 ms; ratio ≤ 2 (lower is better)',
        pass: c1.p99 <= 25 && c1.p99 / floorMs <= 2 && c1.errors === 0,
        notes: `${c1Total} requests, errors ${c1.errors}; ${batchNote}`,
      },
      {
        figure: 'ingest: the same, c=1, p50',
        value: Math.round(c1.p50 * 100) / 100,
        unit: 'ms',
        floor: Math.round(floorMs * 100) / 100,
        floorLabel: 'normalise-only ms per batch (parse+normalise+serialise)',
        ratio: c1.p50 / floorMs,
        goal: 'ratio ≤ 2 (lower is better)',
        pass: c1.p50 / floorMs <= 2,
        notes: inServer,
      },
      {
        figure: 'ingest c=1 p50 vs normalise + write + fsync of the same bytes',
        value: Math.round(c1.p50 * 100) / 100,
        unit: 'ms',
        floor: Math.round(durableP50 * 100) / 100,
        floorLabel: 'normalise + write + fsync, p50 ms',
        ratio: c1.p50 / durableP50,
        goal: 'ratio ≤ 1.5 (lower is better)',
        pass: c1.p50 / durableP50 <= 1.5,
      },
      {
        figure: 'ingest c=1 p99 vs normalise + write + fsync of the same bytes',
        value: Math.round(c1.p99 * 100) / 100,
        unit: 'ms',
        floor: Math.round(durableP99 * 100) / 100,
        floorLabel: 'normalise + write + fsync, p99 ms',
        ratio: c1.p99 / durableP99,
        goal: 'ratio ≤ 1.5 (lower is better)',
        pass: c1.p99 / durableP99 <= 1.5,
      },
      {
        figure: 'ingest: the same, c=1, events/s',
        value: Math.round(c1.eventsPerSecond),
        unit: 'events/s',
        floor: Math.round(eventsFloor),
        floorLabel: 'normalise-only events/s',
        ratio: c1.eventsPerSecond / eventsFloor,
        goal: 'ratio ≥ 0.5',
        pass: c1.eventsPerSecond / eventsFloor >= 0.5,
      },
      {
        figure: `ingest at ${BURST} concurrent posters: events/s`,
        value: Math.round(c15.eventsPerSecond),
        unit: 'events/s',
        floor: Math.round(eventsFloor),
        floorLabel: 'normalise-only events/s',
        ratio: c15.eventsPerSecond / eventsFloor,
        goal: '0 errors; events/s reported',
        pass: c15.errors === 0,
        notes: `${c15Total} requests, errors ${c15.errors}, refused (429) ${c15.refused}, p50 ${c15.p50.toFixed(1)} ms, p99 ${c15.p99.toFixed(1)} ms; ${c15Cpu.note}`,
      },
      {
        figure: `ingest at ${BURST} concurrent posters: group commit on vs off, events/s`,
        value: Math.round(onC15.eventsPerSecond),
        unit: 'events/s',
        floor: Math.round(c15.eventsPerSecond),
        floorLabel: 'the same with group commit off (the default)',
        ratio: onC15.eventsPerSecond / c15.eventsPerSecond,
        goal: 'ratio ≥ 2',
        pass: onC15.eventsPerSecond / c15.eventsPerSecond >= 2 && c15.errors === 0 && onC15.errors === 0,
        notes: `on: errors ${onC15.errors}, refused (429) ${onC15.refused}, p50 ${onC15.p50.toFixed(1)} ms, p99 ${onC15.p99.toFixed(1)} ms; ${onC15Cpu.note}`,
      },
      {
        figure: 'ingest c=1 p99: group commit on vs off',
        value: Math.round(onC1.p99 * 100) / 100,
        unit: 'ms',
        floor: Math.round(c1.p99 * 100) / 100,
        floorLabel: 'c=1 p99 with group commit off (the default)',
        ratio: onC1.p99 / c1.p99,
        goal: 'ratio ≤ 1 (not worse; lower is better)',
        // A p99 of 200 requests moves by a few ms between runs on a shared machine: 10 % is noise.
        pass: onC1.p99 <= c1.p99 * 1.1,
        notes: `p50 on ${onC1.p50.toFixed(1)} ms, off ${c1.p50.toFixed(1)} ms; on, in the server, p50: ${phases(onC1Logs, 0.5)}; p99: ${phases(onC1Logs, 0.99)}`,
      },
      {
        figure: `serve's CPU per request refused at admission (429, ${Math.round(refusal.bodyBytes / 1024)} KiB body sent anyway)`,
        value: Math.round(refusal.serveMs * 1000) / 1000,
        unit: 'ms',
        floor: Math.round(refusal.floorMs * 1000) / 1000,
        floorLabel: 'plain node:http answering 429 at once, node discarding the body',
        ratio: refusal.serveMs / refusal.floorMs,
        goal: 'ratio ≤ 1.25 (lower is better)',
        pass: refusal.serveMs / refusal.floorMs <= 1.25 && refusal.errors === 0,
        notes: `${refusal.requests} requests, 8 connections kept, ${refusal.errors} answers other than 429`,
      },
      {
        figure: `ingest per event: a tailer's body (${tailerBody.count} events, ${(tailerBody.bytes / 1048576).toFixed(1)} MiB) vs a ${BATCH}-event batch, c=1`,
        value: Math.round(tailerBody.largeUs * 10) / 10,
        unit: 'µs',
        floor: Math.round(tailerBody.smallUs * 10) / 10,
        floorLabel: `µs per event in ${BATCH}-event batches (median)`,
        ratio: tailerBody.largeUs / tailerBody.smallUs,
        goal: "reported (lower is better: ≤ 1, the tailer's bodies cost the ingest no more per event)",
        pass: true,
        notes: `medians of ${tailerBody.rounds} alternating requests each way, request time over events; the tailer closes bodies at its ${DEFAULT_SHIP_MAX_BODY_BYTES / 1048576} MiB cap (AISOC_TAIL_BATCH_EVENTS ${DEFAULT_TAIL_BATCH_EVENTS})`,
      },
      {
        figure: `SQLite store write per event: a ${LARGE_BATCH}-event batch (the batch cap) vs a ${BATCH}-event batch`,
        value: Math.round(scaling.largeUs * 100) / 100,
        unit: 'µs',
        floor: Math.round(scaling.smallUs * 100) / 100,
        floorLabel: `µs per event in ${BATCH}-event batches`,
        ratio: scaling.largeUs / scaling.smallUs,
        goal: 'ratio ≤ 1.25: linear in the batch (lower is better)',
        pass: scaling.largeUs / scaling.smallUs <= 1.25,
        notes: `in this process, EventStore.writeBatch (synchronous=FULL, checkpoints on their thread), best of ${scaling.rounds} rounds of ${LARGE_BATCH} events each way`,
      },
    ];
  } finally {
    await serve.stop();
    if (process.env.AISOC_BENCH_SERVE_FLAGS) process.stderr.write(serve.output());
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * The ingest's time per event for the body the tailer sends (lib/ship's pack with the tailer's
 * defaults closes it at the 3 MiB byte cap, four times the apiserver's 400 events or more)
 * against 400-event batches, alternating, at c=1 against the same server: whether the tailer's
 * larger bodies cost the ingest more per event (a larger batch is more garbage alive at once).
 */
async function tailerBodyCost(ctx: BenchContext, url: string, makeSmall: () => string) {
  const candidates = auditLines(ctx.root, DEFAULT_TAIL_BATCH_EVENTS, ctx.seed + 7);
  const first = packEventLists(candidates, DEFAULT_TAIL_BATCH_EVENTS, DEFAULT_SHIP_MAX_BODY_BYTES).bodies[0];
  if (first === undefined) throw new Error('the tailer packed no body');
  const template = eventList(candidates.slice(first.first, first.first + first.count));
  const makeLarge = liveBodies(template, first.count, prng(ctx.seed + 8));
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const rounds = ctx.quick ? 3 : 15;
  const small: number[] = [];
  const large: number[] = [];
  const once = async (body: string, count: number, into: number[] | null) => {
    const shot = await postOnce(agent, url, Buffer.from(body, 'utf8'), BENCH_TARGET);
    if (shot.status !== 200 || shot.accepted !== count)
      throw new Error(`a ${count}-event body was answered ${shot.status}, ${shot.accepted} accepted`);
    into?.push((shot.ms * 1000) / count);
  };
  try {
    await once(makeLarge(), first.count, null);
    for (let r = 0; r < rounds; r++) {
      await once(makeSmall(), BATCH, small);
      await once(makeLarge(), first.count, large);
    }
  } finally {
    agent.destroy();
  }
  const median = (a: number[]) =>
    quantile(
      [...a].sort((x, y) => x - y),
      0.5,
    );
  return { count: first.count, bytes: template.length, smallUs: median(small), largeUs: median(large), rounds };
}

/** The ingest's batch cap (K8S_AUDIT_MAX_BATCH_SIZE's default, docs/limits.md). */
const LARGE_BATCH = 5_000;

/**
 * The store's write time per event for a batch at the cap against 400-event batches, the same
 * number of events each way, in this process: a write linear in its rows costs the same per event.
 * The reused-auditID window scanned the transaction's rows once per row until 6 December: 0.93–1.62
 * in four runs then (45–71 µs per event at the cap), 0.80–1.05 in five after (21–30 µs). Each
 * round writes fresh events (new auditIDs).
 */
function storeScaling(ctx: BenchContext): { smallUs: number; largeUs: number; rounds: number } {
  const rounds = ctx.quick ? 1 : 3;
  const nctx = { tenantId: 'bench', clusterName: 'bench-cluster', receivedAt: Date.now() };
  // Live times (withLiveTimes): each event received 0.1 ms after the one before, so inserts land
  // at the end of the time-led indexes, as a live cluster's do.
  let clock = Date.now() * 1000;
  const recordsOf = (seed: number): OutgoingRecord[] =>
    auditLines(ctx.root, LARGE_BATCH, seed).map((fixture) => {
      clock += 100;
      const line = withLiveTimes(fixture)(Math.floor(clock / 1000), clock % 1000);
      const v = validateAuditEvent(JSON.parse(line));
      if (!v.ok) throw new Error(`benchmark event invalid: ${v.reason}`);
      const record = normaliseAuditEvent(v.event, nctx);
      // As the ingest hands records to the store: the event's text, from which the record is derived when read.
      return { record, json: '', bytes: 0, origin: { rawEventJson: line, source: null } };
    });
  const dir = mkdtempSync(join(tmpdir(), 'aisoc-bench-store-'));
  const store = openEventStore(dir, { backgroundCheckpoints: true });
  let smallUs = Infinity;
  let largeUs = Infinity;
  try {
    // A warm-up batch of each size, then rounds alternating between the two.
    store.writeBatch(recordsOf(ctx.seed + 100).slice(0, BATCH));
    store.writeBatch(recordsOf(ctx.seed + 101));
    for (let r = 0; r < rounds; r++) {
      const small = recordsOf(ctx.seed + 200 + r);
      let t0 = performance.now();
      for (let i = 0; i < small.length; i += BATCH) store.writeBatch(small.slice(i, i + BATCH));
      smallUs = Math.min(smallUs, ((performance.now() - t0) * 1000) / small.length);
      const large = recordsOf(ctx.seed + 300 + r);
      t0 = performance.now();
      if (store.writeBatch(large).size !== 0) throw new Error('fresh events were taken for duplicates');
      largeUs = Math.min(largeUs, ((performance.now() - t0) * 1000) / large.length);
    }
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return { smallUs, largeUs, rounds };
}

/**
 * What a refusal costs the server: `requests` POSTs of `body` over 8 kept connections, each
 * answered 429 on its head (HTTP/1.1 clients that do not send `Expect: 100-continue`, Go's among
 * them, send the body anyway), CPU from /proc per refused request. Against `serve` with
 * K8S_AUDIT_MAX_INFLIGHT_REQUESTS=1 and one request admitted and held, body unsent; the floor is
 * a plain node:http server that answers 429 at once and lets node discard the body its own way.
 * Under twice its capacity `serve` refuses 180-550 such requests a second (docs/reliability.md),
 * so this is CPU taken from the batches it admits.
 */
async function refusalCost(ctx: BenchContext, body: Buffer) {
  const requests = ctx.quick ? 100 : 2000;
  const post = async (url: string, pid: number) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    let errors = 0;
    let next = 0;
    const cpu0 = processCpuMs(pid);
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < requests) {
          next++;
          const shot = await postOnce(agent, url, body, BENCH_TARGET).catch(() => null);
          if (shot?.status !== 429) errors++;
        }
      }),
    );
    const ms = (processCpuMs(pid) - cpu0) / requests;
    agent.destroy();
    return { ms, errors };
  };

  const dataDir = mkdtempSync(join(tmpdir(), 'aisoc-bench-refusal-'));
  const serve = await startServe(ctx.dist, dataDir, { K8S_AUDIT_MAX_INFLIGHT_REQUESTS: '1' });
  let served: { ms: number; errors: number };
  try {
    const held = connect(serve.port, '127.0.0.1');
    held.on('error', () => {});
    await new Promise((r) => held.once('connect', r));
    held.write(
      `POST /v1/ingest/k8s-audit/${BENCH_TARGET.tenant} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-AiSOC-K8s-Token: ${BENCH_TARGET.secret}\r\nContent-Length: 1000\r\n\r\n`,
    );
    await new Promise((r) => setTimeout(r, 100));
    served = await post(serve.url, serve.pid);
    held.destroy();
  } finally {
    await serve.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }

  const plain = spawn(
    process.execPath,
    [
      '-e',
      `require('node:http').createServer((req, res) => { res.writeHead(429, { 'Retry-After': '2', 'Content-Type': 'application/json' }); res.end('{"error":"busy"}'); }).listen(0, '127.0.0.1', function () { console.log(this.address().port); });`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    const port = await new Promise<number>((resolve, reject) => {
      plain.stdout.once('data', (c: Buffer) => resolve(Number(c.toString().trim())));
      plain.once('exit', (code) => reject(new Error(`the plain node:http server exited (${code})`)));
    });
    const floor = await post(`http://127.0.0.1:${port}`, plain.pid as number);
    return { requests, bodyBytes: body.length, serveMs: served.ms, floorMs: floor.ms, errors: served.errors + floor.errors };
  } finally {
    plain.kill();
  }
}
