// `npm run load`: the local ingest under the apiserver's burst. Starts the built CLI's `serve`
// (SQLite sink, a temp data dir) on loopback, and 15 connections POST real 400-event EventLists,
// every batch with fresh auditIDs, for a bounded time, each sending its next batch when the last
// is answered. A 429 (admission control: docs/reliability.md, "Overload and durability") is
// waited out and the same batch resent after its Retry-After, as the apiserver's client does.
// Then it reports batches, answers, latency, events/s and the server's resident set across the
// run, and counts the events in the store: every accepted one must be there, once. Exits non-zero
// when any check fails. Run through test/load/run.mjs, which bundles this file.
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
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

/**
 * client-go's own retries of one request (rest/request.go: MaxRetries 10, "retrying upon receiving
 * Retry-After headers and 429 status-code"; with_retry.go sleeps the header's whole seconds), all
 * within the webhook's one 30 s request timeout (k8s.io/apiserver/pkg/util/webhook,
 * defaultRequestTimeout), the same as test/helpers/apiserver.ts with honourRetryAfter.
 */
const CLIENT_GO_MAX_RETRIES = 10;
const REQUEST_TIMEOUT_MS = 30_000;

/** The value at quantile p of sorted values (nearest rank); 0 for none. */
function quantile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number);
}

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
        'The first: N closed-loop connections of 400-event EventLists against serve; a 429 is resent after its',
        "Retry-After (up to 10 times within 30 s, as kube-apiserver's client does): every batch must end 200, stored once.",
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
  let notAllAccepted = 0;
  /** The auditID prefix of every batch answered 200. */
  const acceptedPrefixes: string[] = [];
  const statuses: Record<string, number> = {};
  const requestMs: number[] = [];
  /** From a batch's first send to its 200, the waits of its 429s included: what the apiserver waits. */
  const batchMs: number[] = [];
  let batches = 0;
  let givenUp = 0;
  let timeouts = 0;
  let errors = 0;
  const agent = new Agent({ keepAlive: true, maxSockets: o.connections });
  const url = `${serve.url}/v1/ingest/k8s-audit/${TENANT}`;
  /** One POST answered before `deadline`: its status, Retry-After and body, or the failure. */
  const post = (
    body: Buffer,
    deadline: number,
  ): Promise<{ status: number | 'timeout' | 'error'; retryAfterS: number | null; text: string }> =>
    new Promise((resolve) => {
      const started = performance.now();
      const req = request(url, {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': body.length,
          'x-aisoc-k8s-token': SECRET,
          'x-aisoc-cluster-name': 'load',
        },
        signal: AbortSignal.timeout(Math.max(1, Math.ceil(deadline - started))),
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          requestMs.push(performance.now() - started);
          const header = res.headers['retry-after'];
          resolve({
            status: res.statusCode ?? 0,
            retryAfterS: typeof header === 'string' && /^\d+$/.test(header) ? Number(header) : null,
            text: Buffer.concat(chunks).toString(),
          });
        });
        res.on('error', () => resolve({ status: 'error', retryAfterS: null, text: '' }));
      });
      req.on('error', (err) =>
        resolve({ status: err.name === 'TimeoutError' || err.name === 'AbortError' ? 'timeout' : 'error', retryAfterS: null, text: '' }),
      );
      req.end(body);
    });
  /**
   * One batch as the apiserver's webhook sends it: the same bytes again after each 429's
   * Retry-After, until a 200 or its 30 s pass. A 429 is the server asking for time, not a failure;
   * a batch that never gets its 200 is.
   */
  const sendBatch = async (): Promise<void> => {
    batches++;
    const { prefix, body: text } = makeBody();
    const body = Buffer.from(text);
    const first = performance.now();
    const deadline = first + REQUEST_TIMEOUT_MS;
    for (let retries = 0; ; retries++) {
      const r = await post(body, deadline);
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      if (r.status === 200) {
        batchMs.push(performance.now() - first);
        const n = (JSON.parse(r.text) as { accepted?: number }).accepted ?? 0;
        accepted += n;
        acceptedPrefixes.push(prefix);
        if (n !== BATCH) notAllAccepted++;
        return;
      }
      if (r.status === 'timeout') timeouts++;
      else if (r.status === 'error') errors++;
      if (r.status !== 429 || r.retryAfterS === null || retries >= CLIENT_GO_MAX_RETRIES) break;
      await new Promise((resolve) => setTimeout(resolve, (r.retryAfterS as number) * 1000));
      if (performance.now() >= deadline) break;
    }
    givenUp++;
  };
  try {
    console.error(
      `load: ${o.connections} connections × ${o.durationS} s of ${BATCH}-event EventLists (${Math.round(template.length / 1024)} KiB) against ${serve.url}`,
    );
    // Closed loop: each connection sends its next batch once the last one is answered 200 (or
    // given up); a batch still waiting out a 429 when the time is up is seen to its end, as the
    // apiserver would, so every batch sent has its answer and the store can be checked against them.
    // What else the machine runs decides how often serve's queue-wait bound answers 429 here.
    const loadBefore = loadavg()[0] as number;
    const started = performance.now();
    const end = started + o.durationS * 1000;
    await Promise.all(
      Array.from({ length: o.connections }, async () => {
        while (performance.now() < end) await sendBatch();
      }),
    );
    const durationS = (performance.now() - started) / 1000;
    agent.destroy();
    if (sampler) clearInterval(sampler);

    // What the store holds, by batch: every batch answered 200 must have all its events there, once.
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

    const thirds = [0, 1, 2].map((k) =>
      samples.filter((s) => s.t >= (k * durationS * 1000) / 3 && s.t < ((k + 1) * durationS * 1000) / 3).map((s) => s.rss),
    );
    const [early, middle, last] = thirds.map(median) as [number, number, number];
    const peak = Math.max(...samples.map((s) => s.rss));
    const rssOk = !HAS_PROCFS || last <= middle * (1 + RSS_GROWTH_SHARE) + RSS_GROWTH_SLACK;
    const total = Object.values(statuses).reduce((a, b) => a + b, 0);
    const ok = statuses['200'] ?? 0;
    const busy = statuses['429'] ?? 0;
    const other = total - ok - busy;
    const eventsPerS = accepted / durationS;
    const checks: [string, boolean][] = [
      ['requests answered', ok > 0],
      ['every answer 200, or 429 with a Retry-After (resent after it)', other === 0],
      ['0 connection errors or timeouts', errors === 0 && timeouts === 0],
      ['every batch answered 200 within its 30 s', givenUp === 0 && acceptedPrefixes.length === batches],
      [`every 200 accepted all ${BATCH} events`, notAllAccepted === 0],
      [
        'every accepted event is in the store, once',
        incomplete.length === 0 && new Set(acceptedPrefixes).size === acceptedPrefixes.length && stored === accepted,
      ],
      ['server RSS does not grow (last third vs middle third)', rssOk],
    ];
    const mib = (b: number) => `${(b / MiB).toFixed(0)} MiB`;
    const rows: [string, string][] = [
      [
        'machine',
        `${availableParallelism()} CPUs, load average ${loadBefore.toFixed(1)} at the start, ${(loadavg()[0] as number).toFixed(1)} at the end`,
      ],
      ['duration', `${durationS.toFixed(1)} s, ${o.connections} connections`],
      ['batches', `${batches} (${acceptedPrefixes.length} answered 200, ${givenUp} given up)`],
      [
        'requests',
        `${total} (${ok} × 200, ${busy} × 429 resent after Retry-After, ${other} other, ${errors} errors, ${timeouts} timeouts)`,
      ],
      [
        'latency',
        `request p50 ${quantile(
          requestMs.sort((a, b) => a - b),
          0.5,
        ).toFixed(0)} ms, p99 ${quantile(requestMs, 0.99).toFixed(0)} ms; ` +
          `batch (to its 200, 429 waits included) p50 ${quantile(
            batchMs.sort((a, b) => a - b),
            0.5,
          ).toFixed(0)} ms, ` +
          `p99 ${quantile(batchMs, 0.99).toFixed(0)} ms, max ${quantile(batchMs, 1).toFixed(0)} ms`,
      ],
      ['events', `${accepted} accepted, ${stored} in the store (${incomplete.length} batches short); ${Math.round(eventsPerS)} events/s`],
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
