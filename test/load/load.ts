// `npm run load`: the local ingest under the apiserver's burst. Starts the built CLI's `serve`
// (SQLite sink, a temp data dir) on loopback, and autocannon POSTs real 400-event EventLists,
// every request with fresh auditIDs, from 15 connections for a bounded time. Then it reports
// requests, non-2xx answers, latency, events/s and the server's resident set across the run, and
// counts the events in the store: every accepted one must be there. Exits non-zero when any
// check fails. Run through test/load/run.mjs, which bundles this file.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEventStore } from '../../lib/sinks/sqlite.js';
import { auditLines } from '../helpers/corpus.js';
import { HAS_PROCFS, rssBytes, spawnServe } from '../helpers/serve-process.js';
import { median } from '../helpers/stats.js';
import { describeOverload, overload } from './overload.js';
import { soak } from './soak.js';

/** The apiserver's defaults: --audit-webhook-batch-max-size 400, --audit-webhook-batch-throttle-burst 15. */
const BATCH = 400;
const CONNECTIONS = 15;
const SECRET = 'load-test-shared-secret-7c1d9e2f';
const TENANT = 'load';
const MiB = 1024 * 1024;
/** RSS sampling period; 4 samples a second is plenty for a trend over tens of seconds. */
const SAMPLE_MS = 250;
/**
 * "No growth": the last third's median resident set may exceed the middle third's by at most
 * this share plus a fixed slack (V8's heap breathes with garbage collection; a leak climbs).
 */
const RSS_GROWTH_SHARE = 0.15;
const RSS_GROWTH_SLACK = 16 * MiB;

/** The part of autocannon v8's API used here (the package ships no types). */
interface AutocannonRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  setupRequest?: (req: AutocannonRequest, context: Record<string, unknown>) => AutocannonRequest;
  onResponse?: (status: number, body: string, context: Record<string, unknown>) => void;
}
interface Histogram {
  p50: number;
  p99: number;
  max: number;
  average: number;
}
interface AutocannonResult {
  requests: Histogram & { total: number };
  latency: Histogram;
  throughput: Histogram;
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
  statusCodeStats: Record<string, { count: number }>;
}
type Autocannon = (opts: {
  url: string;
  connections: number;
  duration: number;
  timeout: number;
  requests: AutocannonRequest[];
}) => Promise<AutocannonResult>;

/** Options of one load run. */
export interface LoadOptions {
  root: string;
  durationS: number;
  connections: number;
  seed: number;
}

function parseArgs(argv: string[], root: string): LoadOptions {
  const opt = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i === -1 ? undefined : argv[i + 1];
  };
  const durationS = Number(opt('duration') ?? 20);
  const connections = Number(opt('connections') ?? CONNECTIONS);
  const seed = Number(opt('seed') ?? 1);
  for (const [name, v, max] of [
    ['duration', durationS, 600],
    ['connections', connections, 100],
  ] as const) {
    if (!Number.isInteger(v) || v < 1 || v > max) throw new Error(`--${name} must be a whole number from 1 to ${max}`);
  }
  return { root, durationS, connections, seed };
}

/** Runs the load and prints its report; resolves to the exit code. */
export async function main(argv: string[], root: string): Promise<number> {
  if (argv.includes('--help')) {
    console.log(
      [
        'Usage: npm run load -- [--duration SECONDS (20)] [--connections N (15)] [--seed N (1)]',
        '       npm run load -- --overload [--duration SECONDS (30: the capacity runs, and the load)] [--factor X (2)] [--client-go] [--pin] [--seed N (1)]',
        '       npm run load -- --soak [--duration SECONDS (600)] [--rate EVENTS_PER_S (2000)] [--seed N (1)]   (npm run soak)',
        '',
        'The first: N closed-loop connections of 400-event EventLists against serve.',
        'The second: the apiserver stand-in (test/helpers/apiserver.ts) at X times the capacity measured',
        'first in the same run: 0 timeouts, answers 200 or 429, each event answered 200 stored once,',
        'RSS bounded, goodput at least 90 % of capacity. --client-go: the stand-in also waits out each',
        "429's Retry-After and resends, up to 10 times within its 30 s timeout, as kube-apiserver's client does.",
        '--pin: serve on the first half of the CPUs, the posters and the stand-in on the rest (taskset), as',
        "when the apiserver runs on another machine; unpinned, the 2× sender shares the server's cores.",
        'The third: the stand-in at the apiserver defaults: 0 dropped, stored = delivered, RSS growth < 10 %, WAL bounded.',
      ].join('\n'),
    );
    return 0;
  }
  const o = parseArgs(argv, root);
  if (argv.includes('--soak')) {
    const rate = Number(argv[argv.indexOf('--rate') + 1] ?? 2000);
    return soak(join(o.root, 'dist', 'cli.mjs'), {
      root: o.root,
      durationS: argv.includes('--duration') ? o.durationS : 600,
      eventsPerSecond: argv.includes('--rate') && Number.isFinite(rate) && rate > 0 ? rate : 2000,
      seed: o.seed,
    });
  }
  if (argv.includes('--overload')) {
    const factor = Number(argv[argv.indexOf('--factor') + 1] ?? 2);
    const r = await overload(join(o.root, 'dist', 'cli.mjs'), {
      root: o.root,
      durationS: argv.includes('--duration') ? o.durationS : 30,
      capacitySeconds: argv.includes('--duration') ? o.durationS : 30,
      factor: argv.includes('--factor') && Number.isFinite(factor) && factor > 0 ? factor : 2,
      clientGo: argv.includes('--client-go'),
      pin: argv.includes('--pin'),
      seed: o.seed,
    });
    for (const line of describeOverload(r)) console.log(line);
    console.log('');
    for (const [name, pass] of r.checks) console.log(`${pass ? 'ok  ' : 'FAIL'}  ${name}`);
    return r.checks.every(([, pass]) => pass) ? 0 : 1;
  }
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
  const cli = join(o.root, 'dist', 'cli.mjs');

  // One EventList of real events (the Falco traces and the EKS sample, varied); each request
  // prefixes every auditID with its own number, so no request repeats another's events.
  const template = `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[${auditLines(o.root, BATCH, o.seed).join(',')}]}`;
  const parts = template.split('"auditID":"');
  let sent = 0;
  /** A request's body and the prefix its auditIDs carry. */
  const makeBody = (): { prefix: string; body: string } => {
    const prefix = `L${(sent++).toString(36)}-`;
    return { prefix, body: parts.join(`"auditID":"${prefix}`) };
  };

  const dataDir = mkdtempSync(join(tmpdir(), 'aisoc-load-'));
  const serve = await spawnServe(cli, dataDir, { K8S_AUDIT_SHARED_SECRET: SECRET });
  const samples: { t: number; rss: number }[] = [];
  const t0 = Date.now();
  const sampler = HAS_PROCFS ? setInterval(() => samples.push({ t: Date.now() - t0, rss: rssBytes(serve.pid) }), SAMPLE_MS) : null;
  let accepted = 0;
  let answered200 = 0;
  let notAllAccepted = 0;
  /** The auditID prefix of every request answered 200. */
  const acceptedPrefixes: string[] = [];
  try {
    console.error(
      `load: ${o.connections} connections × ${o.durationS} s of ${BATCH}-event EventLists (${Math.round(template.length / 1024)} KiB) against ${serve.url}`,
    );
    const result = await autocannon({
      url: serve.url,
      connections: o.connections,
      duration: o.durationS,
      // The apiserver's webhook gives up after 30 s.
      timeout: 30,
      requests: [
        {
          method: 'POST',
          path: `/v1/ingest/k8s-audit/${TENANT}`,
          headers: { 'content-type': 'application/json', 'x-aisoc-k8s-token': SECRET, 'x-aisoc-cluster-name': 'load' },
          // One request in flight per connection (no pipelining), so the context holds the answered request's prefix.
          setupRequest: (req, context) => {
            const { prefix, body } = makeBody();
            context.prefix = prefix;
            return { ...req, body };
          },
          onResponse: (status, body, context) => {
            if (status !== 200) return;
            answered200++;
            const n = (JSON.parse(body) as { accepted?: number }).accepted ?? 0;
            accepted += n;
            acceptedPrefixes.push(String(context.prefix));
            if (n !== BATCH) notAllAccepted++;
          },
        },
      ],
    });
    if (sampler) clearInterval(sampler);

    // What the store holds, by request: every request answered 200 must have all its events there.
    // Requests still in flight when the time ran out may be stored too, though nobody read the answer.
    const store = openEventStore(dataDir);
    let stored: number;
    const byPrefix = new Map<string, number>();
    try {
      stored = store.countEvents({ tenant: TENANT });
      const rows = store.db
        .prepare(
          "SELECT substr(audit_id, 1, instr(audit_id, '-')) AS prefix, count(*) AS n FROM events WHERE tenant_id = ? GROUP BY prefix",
        )
        .all(TENANT) as { prefix: string; n: number }[];
      for (const r of rows) byPrefix.set(r.prefix, r.n);
    } finally {
      store.close();
    }
    const incomplete = acceptedPrefixes.filter((p) => byPrefix.get(p) !== BATCH);
    const unanswered = stored - accepted;

    const thirds = [0, 1, 2].map((k) =>
      samples.filter((s) => s.t >= (k * o.durationS * 1000) / 3 && s.t < ((k + 1) * o.durationS * 1000) / 3).map((s) => s.rss),
    );
    const [early, middle, last] = thirds.map(median) as [number, number, number];
    const peak = Math.max(...samples.map((s) => s.rss));
    const rssOk = !HAS_PROCFS || last <= middle * (1 + RSS_GROWTH_SHARE) + RSS_GROWTH_SLACK;
    const total = result.requests.total;
    const eventsPerS = accepted / result.duration;
    const checks: [string, boolean][] = [
      ['requests answered', total > 0 && answered200 > 0],
      ['0 non-2xx answers', result.non2xx === 0],
      ['0 connection errors or timeouts', result.errors === 0 && result.timeouts === 0],
      [`every 200 accepted all ${BATCH} events`, notAllAccepted === 0],
      ['every accepted event is in the store', incomplete.length === 0 && new Set(acceptedPrefixes).size === acceptedPrefixes.length],
      ['server RSS does not grow (last third vs middle third)', rssOk],
    ];
    const mib = (b: number) => `${(b / MiB).toFixed(0)} MiB`;
    const rows: [string, string][] = [
      ['duration', `${result.duration.toFixed(1)} s, ${o.connections} connections`],
      ['requests', `${total} (${answered200} × 200, ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts)`],
      ['latency', `p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, max ${result.latency.max} ms`],
      [
        'events',
        `${accepted} accepted, all in the store (${incomplete.length} requests short); ${Math.round(eventsPerS)} events/s; ` +
          `${unanswered} more stored from requests cut off when the time ran out`,
      ],
      [
        'server RSS',
        HAS_PROCFS
          ? `median ${mib(early)} → ${mib(middle)} → ${mib(last)} (first, middle, last third), peak ${mib(peak)}, ${samples.length} samples`
          : 'not measured (no /proc)',
      ],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
    console.log('');
    for (const [name, pass] of checks) console.log(`${pass ? 'ok  ' : 'FAIL'}  ${name}`);
    return checks.every(([, pass]) => pass) ? 0 : 1;
  } finally {
    if (sampler) clearInterval(sampler);
    const code = await serve.stop();
    if (code !== 0) console.error(`load: serve exited with ${code}:\n${serve.output().slice(-2000)}`);
    rmSync(dataDir, { recursive: true, force: true });
  }
}
