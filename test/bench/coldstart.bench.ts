import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext, BenchFigure } from './types.js';

// The environment each bundle's init reads: enough for config validation to pass, pointing
// nowhere (nothing is sent during an import).
const ENV: Record<string, Record<string, string>> = {
  ingest: { K8S_AUDIT_SHARED_SECRET: 'bench-secret', EVENTS_SINK: 'stdout', ALERTS_SINK: 'stdout' },
  forwarder: { K8S_AUDIT_SHARED_SECRET: 'bench-secret', AISOC_INGEST_URL: 'http://127.0.0.1:9/v1/ingest/k8s-audit/bench' },
};

/** Median wall time of a fresh `node` process running `args`, in ms. */
function medianMs(args: string[], env: Record<string, string>, runs: number): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, {
      env: { ...process.env, ...env, AWS_REGION: 'us-east-1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    if (r.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${r.stderr.toString().slice(0, 500)}`);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
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
  const runs = ctx.quick ? 5 : 21;
  const figures: BenchFigure[] = [];
  for (const fn of ['ingest', 'forwarder']) {
    const bundle = join(ctx.root, 'dist', fn, 'index.mjs');
    if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build first`);
    // Interleave floor and import runs so machine noise hits both alike.
    const floor = medianMs(['-e', ''], {}, runs);
    const imported = medianMs(['--input-type=module', '-e', `await import(${JSON.stringify(bundle)})`], ENV[fn] ?? {}, runs);
    const floor2 = medianMs(['-e', ''], {}, runs);
    const base = Math.min(floor, floor2);
    const ratio = imported / base;
    figures.push({
      figure: `cold start: import ${fn} bundle`,
      value: Math.round(imported * 10) / 10,
      unit: 'ms',
      floor: Math.round(base * 10) / 10,
      floorLabel: "node -e '' ms",
      ratio,
      goal: 'ratio ≤ 1.5',
      pass: ratio <= 1.5,
      notes: `bundle ${(dirBytes(join(ctx.root, 'dist', fn)) / 1024).toFixed(0)} KiB (with chunks), median of ${runs}`,
    });
  }
  return figures;
}
