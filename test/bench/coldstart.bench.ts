import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext, BenchFigure } from './types.js';

// The environment each bundle's init reads: enough for config validation to pass, pointing
// nowhere (nothing is sent during an import). The ingest is measured twice: with stdout sinks
// (the bundle alone), and with Kinesis sinks as deployed, where init also loads the AWS SDK
// client (sinks are imported only when configured, so that cost is the configured sink's).
const CASES: { label: string; fn: string; env: Record<string, string> }[] = [
  { label: 'ingest', fn: 'ingest', env: { K8S_AUDIT_SHARED_SECRET: 'bench-secret', EVENTS_SINK: 'stdout', ALERTS_SINK: 'stdout' } },
  {
    label: 'ingest (Kinesis sinks, AWS SDK loaded at init)',
    fn: 'ingest',
    env: { K8S_AUDIT_SHARED_SECRET: 'bench-secret', EVENTS_SINK: 'kinesis:bench-events', ALERTS_SINK: 'kinesis:bench-alerts' },
  },
  {
    label: 'forwarder',
    fn: 'forwarder',
    env: { K8S_AUDIT_SHARED_SECRET: 'bench-secret', AISOC_INGEST_URL: 'http://127.0.0.1:9/v1/ingest/k8s-audit/bench' },
  },
];

/** Wall time of one fresh `node` process running `args`, in ms. */
function wallMs(args: string[], env: Record<string, string>): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, {
    env: { ...process.env, ...env, AWS_REGION: 'us-east-1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${r.stderr.toString().slice(0, 500)}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function median(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    total += entry.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return total;
}

/** Cold start: a fresh process importing each Lambda bundle, vs a fresh `node -e ''`. */
export async function run(ctx: BenchContext): Promise<BenchFigure[]> {
  const runs = ctx.quick ? 5 : 31;
  const figures: BenchFigure[] = [];
  for (const { label, fn, env } of CASES) {
    const bundle = join(ctx.dist, fn, 'index.mjs');
    if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build first`);
    // Floor and import alternate run by run, so a burst of load from other processes on the
    // machine (it is shared) slows both alike instead of one block of runs; the ratio is the
    // median of each pair's ratio, so a pair taken during a burst is one outlier among many
    // instead of moving both medians apart (the ratio of the two medians moved 1.2-1.6 from run
    // to run on the same build here).
    const floorTimes: number[] = [];
    const importTimes: number[] = [];
    const pairRatios: number[] = [];
    for (let i = 0; i < runs; i++) {
      const floorMs = wallMs(['-e', ''], {});
      const importMs = wallMs(['--input-type=module', '-e', `await import(${JSON.stringify(bundle)})`], env);
      floorTimes.push(floorMs);
      importTimes.push(importMs);
      pairRatios.push(importMs / floorMs);
    }
    const base = median(floorTimes);
    const imported = median(importTimes);
    const ratio = median(pairRatios);
    figures.push({
      figure: `cold start: import ${label} bundle`,
      value: Math.round(imported * 10) / 10,
      unit: 'ms',
      floor: Math.round(base * 10) / 10,
      floorLabel: "node -e '' ms",
      ratio,
      goal: 'ratio ≤ 1.5',
      pass: ratio <= 1.5,
      notes: `bundle ${(dirBytes(join(ctx.dist, fn)) / 1024).toFixed(0)} KiB with its lazily imported chunks (index.mjs ${(statSync(bundle).size / 1024).toFixed(0)} KiB), medians of ${runs} alternating pairs; ratio = median of the pairs' ratios (ratio of the medians ${(imported / base).toFixed(2)})`,
    });
  }
  return figures;
}
