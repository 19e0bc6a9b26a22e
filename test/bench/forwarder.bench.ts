// The forwarder's speed and memory on a realistic EKS subscription payload.
// 1. Throughput: a ~1 MB gzip subscription payload of ~6,400 real audit lines (~12-13 MB raw)
//    through the forwarder core to EventList bodies (fetch stubbed: no network), in MB/s of gzip
//    input, against the floor of any correct forwarder: base64-decode + gunzip + JSON.parse of the
//    envelope + JSON.parse of every message.
// 2. Peak RSS of the bundled Lambda handler on 10 MB of raw lines, in a child process, against
//    the same floor work in a child process; the goal is a 128 MB Lambda (< 100 MiB). The handler
//    POSTs its bodies (node:http, as deployed) to a loopback ingest in this process.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { forwardSubscriptionEvent } from '../../lib/cloudwatch/forward.js';
import type { ForwardSettings } from '../../lib/cloudwatch/report.js';
import { DEFAULT_FORWARDER_CONCURRENCY } from '../../lib/config/forwarder.js';
import { DEFAULT_MAX_EVENTS_PER_BATCH, DEFAULT_SHIP_MAX_BODY_BYTES } from '../../lib/ship/index.js';
import { auditLines } from '../helpers/corpus.js';
import type { BenchContext, BenchFigure } from './types.js';

const MiB = 1024 * 1024;
const RSS_GOAL_MIB = 100;
/**
 * The heap flags the Lambda Node.js runtime's bootstrap derives from a 128 MB memory size
 * (new space = memory / 10, semi-space = new space / 2, old space = memory - new space): the
 * memory measurement runs under the same young-generation size as the function will.
 */
const LAMBDA_128_HEAP_FLAGS = ['--max-semi-space-size=6', '--max-old-space-size=116'];

function subscriptionEvent(lines: string[]): { event: { awslogs: { data: string } }; gzipBytes: number; rawBytes: number } {
  const start = 1_714_557_600_000;
  const payload = {
    messageType: 'DATA_MESSAGE',
    owner: '123456789012',
    logGroup: '/aws/eks/bench-eks/cluster',
    logStream: 'kube-apiserver-audit-4f0b7e3c9a1d2e5f6a7b8c9d0e1f2a3b',
    subscriptionFilters: ['aisoc-k8s-audit'],
    logEvents: lines.map((message, i) => ({
      id: `${37_199_717_562_907_174_288n + BigInt(i)}`,
      timestamp: start + Math.floor(i / 5),
      message,
    })),
  };
  const gz = gzipSync(JSON.stringify(payload));
  return {
    event: { awslogs: { data: gz.toString('base64') } },
    gzipBytes: gz.length,
    rawBytes: lines.reduce((n, l) => n + Buffer.byteLength(l), 0),
  };
}

/** The floor: what any forwarder must do to read every line once. Returns the lines parsed. */
function floorWork(data: string): number {
  const payload = JSON.parse(gunzipSync(Buffer.from(data, 'base64')).toString('utf8')) as { logEvents: { message: string }[] };
  let n = 0;
  for (const e of payload.logEvents) {
    JSON.parse(e.message);
    n++;
  }
  return n;
}

const settings: ForwardSettings = {
  ingestUrl: 'http://127.0.0.1:9/v1/ingest/k8s-audit/bench',
  token: 'bench-token',
  clusterName: null,
  streamPrefix: 'kube-apiserver-audit-',
  maxEventsPerBatch: DEFAULT_MAX_EVENTS_PER_BATCH,
  maxBodyBytes: DEFAULT_SHIP_MAX_BODY_BYTES,
  gzip: false,
  requestTimeoutMs: 10_000,
  safetyMarginMs: 0,
  maxAttempts: 1,
  concurrency: DEFAULT_FORWARDER_CONCURRENCY,
};

// Answers like the ingest without any I/O. A string body is encoded to UTF-8 as fetch would do
// before writing it, so building bodies as text cannot look cheaper than it is.
let bodyBytes = 0;
const stubFetch = (async (_url: string | URL | Request, init?: RequestInit) => {
  const body = init?.body;
  bodyBytes += typeof body === 'string' ? Buffer.from(body, 'utf8').length : body instanceof Uint8Array ? body.length : 0;
  return new Response('{"accepted":0,"rejected":0,"duplicates":0,"errors":[]}', {
    status: 200,
    headers: { 'content-type': 'application/json' },
  });
}) as typeof fetch;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function throughput(ctx: BenchContext): Promise<BenchFigure> {
  const lines = auditLines(ctx.root, 6400, ctx.seed);
  const { event, gzipBytes, rawBytes } = subscriptionEvent(lines);
  const rounds = ctx.quick ? 4 : 15;
  const ours: number[] = [];
  const floor: number[] = [];
  let forwarded = 0;
  for (let i = -2; i < rounds; i++) {
    // Alternate the two so machine noise hits both alike; the first rounds warm the JIT.
    let t = performance.now();
    const n = floorWork(event.awslogs.data);
    const floorMs = performance.now() - t;
    t = performance.now();
    const report = await forwardSubscriptionEvent(event, settings, { fetch: stubFetch, log: () => {} });
    const oursMs = performance.now() - t;
    if (report.forwarded !== n || n !== lines.length) throw new Error(`forwarded ${report.forwarded} of ${n} lines`);
    forwarded = report.forwarded;
    if (i >= 0) {
      floor.push(floorMs);
      ours.push(oursMs);
    }
  }
  const mbps = (ms: number): number => gzipBytes / 1e6 / (ms / 1000);
  const value = mbps(median(ours));
  const floorValue = mbps(median(floor));
  const ratio = value / floorValue;
  return {
    figure: 'forwarder MB/s of gzip subscription payload → EventList bodies',
    value,
    unit: 'MB/s',
    floor: floorValue,
    floorLabel: 'base64 + gunzip + JSON.parse envelope + JSON.parse each line',
    ratio,
    goal: 'ratio ≥ 0.8',
    pass: ratio >= 0.8,
    notes: `${forwarded} events, ${(gzipBytes / 1e6).toFixed(2)} MB gzip, ${(rawBytes / 1e6).toFixed(1)} MB raw; ${((forwarded / median(ours)) * 1000).toFixed(0)} events/s; median of ${rounds}`,
  };
}

// The child: the bundled Lambda handler (or the floor work) on one event file; reports max RSS.
// Peak RSS is read from /proc/self/status VmHWM (the high-water mark of this address space):
// getrusage's maxRSS survives exec on Linux, so a child spawned from a large parent would report
// the parent's size.
const CHILD = `
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
const peakKiB = () => {
  try {
    const m = /VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]);
  } catch {}
  return process.resourceUsage().maxRSS;
};
const [mode, bundle, eventFile, outFile, ingestUrl] = process.argv.slice(2);
process.env.AISOC_INGEST_URL = ingestUrl;
process.env.K8S_AUDIT_SHARED_SECRET = 'bench-token-k3J9xQ2mV7pL0aZ4wR8tY6uE1iO5sD3f';
const handler = mode === 'handler' ? (await import(bundle)).handler : null;
const baseline = peakKiB();
const event = JSON.parse(readFileSync(eventFile, 'utf8'));
let lines = 0;
if (handler) {
  const log = process.stdout.write.bind(process.stdout);
  process.stdout.write = () => true;
  await handler(event, { awsRequestId: 'bench', functionName: 'bench', getRemainingTimeInMillis: () => 900000 });
  process.stdout.write = log;
} else {
  const payload = JSON.parse(gunzipSync(Buffer.from(event.awslogs.data, 'base64')).toString('utf8'));
  for (const e of payload.logEvents) { JSON.parse(e.message); lines++; }
}
writeFileSync(outFile, JSON.stringify({ baseline, peak: peakKiB(), lines }));
`;

async function peakRss(ctx: BenchContext): Promise<BenchFigure> {
  const dir = mkdtempSync(join(tmpdir(), 'aisoc-fwd-bench-'));
  try {
    const lines: string[] = [];
    let raw = 0;
    for (const line of auditLines(ctx.root, 8000, ctx.seed + 1)) {
      if (raw >= 10 * MiB) break;
      lines.push(line);
      raw += Buffer.byteLength(line);
    }
    const { event, gzipBytes } = subscriptionEvent(lines);
    writeFileSync(join(dir, 'event.json'), JSON.stringify(event));
    writeFileSync(join(dir, 'child.mjs'), CHILD);
    // The ingest the handler posts to: reads each body and answers 200, as the real one does.
    let received = 0;
    const ingest = createServer((req, res) => {
      req.on('data', (c: Buffer) => {
        received += c.length;
      });
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"accepted":0,"rejected":0,"duplicates":0,"errors":[]}');
      });
    });
    await new Promise<void>((resolve) => ingest.listen(0, '127.0.0.1', resolve));
    const ingestUrl = `http://127.0.0.1:${(ingest.address() as AddressInfo).port}/v1/ingest/k8s-audit/bench`;
    // The shipped bundle (npm run build), as Lambda loads it.
    const bundle = join(ctx.dist, 'forwarder', 'index.mjs');
    const measure = async (mode: 'handler' | 'floor'): Promise<{ baseline: number; peak: number }> => {
      const out = join(dir, `${mode}.json`);
      const child = spawn(
        process.execPath,
        [...LAMBDA_128_HEAP_FLAGS, join(dir, 'child.mjs'), mode, bundle, join(dir, 'event.json'), out, ingestUrl],
        { cwd: ctx.root, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      child.stderr?.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      const status = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      if (status !== 0) throw new Error(`${mode} child failed: ${stderr}`);
      const r = JSON.parse(await readFile(out, 'utf8')) as { baseline: number; peak: number };
      // Both in KiB.
      return { baseline: r.baseline / 1024, peak: r.peak / 1024 };
    };
    const runs = ctx.quick ? 1 : 3;
    const handler: number[] = [];
    const floor: number[] = [];
    let baseline = 0;
    for (let i = 0; i < runs; i++) {
      const h = await measure('handler');
      handler.push(h.peak);
      baseline = h.baseline;
      floor.push((await measure('floor')).peak);
    }
    ingest.close();
    if (received === 0) throw new Error('the handler posted nothing to the loopback ingest');
    const value = Math.max(...handler);
    const floorValue = Math.max(...floor);
    return {
      figure: 'forwarder Lambda peak RSS, 10 MB of raw audit lines',
      value,
      unit: 'MiB',
      floor: floorValue,
      floorLabel: 'peak RSS of a process doing the floor work on the same payload',
      ratio: value / floorValue,
      goal: `peak RSS < ${RSS_GOAL_MIB} MiB (a 128 MB Lambda); ratio = ours / floor, lower is better`,
      pass: value < RSS_GOAL_MIB,
      notes: `${lines.length} events, ${(raw / MiB).toFixed(1)} MiB raw, ${(gzipBytes / 1e6).toFixed(2)} MB gzip; handler bundle loaded: ${baseline.toFixed(0)} MiB; worst of ${runs}`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The forwarder benchmark: throughput against the parse floor, and peak memory. */
export async function run(ctx: BenchContext): Promise<BenchFigure[]> {
  const figures = [await throughput(ctx), await peakRss(ctx)];
  if (bodyBytes === 0) throw new Error('no EventList body was built');
  return figures;
}
