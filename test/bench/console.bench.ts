// The console with 100,000 stored events: how long each API read takes, against a floor measured
// in the same run on the same file, reading the tenant's events whole (what a console that
// loaded the store would pay on every view). Goal: each read a small fraction of that, and well
// inside what a person waits for.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AuditEvent, normaliseAuditEvent, shippedDetection } from '../../lib/audit/index.js';
import { clusterStatus, RejectCounter } from '../../lib/console/status.js';
import { ConsoleStore } from '../../lib/console/store.js';
import { openEventStore } from '../../lib/sinks/sqlite.js';
import type { OutgoingRecord } from '../../lib/sinks/types.js';
import { auditLines } from '../helpers/corpus.js';
import type { BenchContext, BenchFigure } from './types.js';

const CLUSTERS = ['prod-eks-us-east-1', 'staging-eks', 'kind-dev', null];

/** Milliseconds per call: the median and the worst of `n` runs. */
function time(n: number, fn: () => unknown): { p50: number; max: number } {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    fn();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return { p50: ms[Math.floor(n / 2)] as number, max: ms[n - 1] as number };
}

/** Fills a store with `count` events of one tenant over the last 24 hours (and 10 % of another tenant's). */
export function seedStore(dataDir: string, root: string, count: number, seed: number, now: number): void {
  const store = openEventStore(dataDir);
  const lines = auditLines(root, count, seed);
  const batch: OutgoingRecord[] = [];
  const flush = () => {
    store.writeBatch(batch);
    batch.length = 0;
  };
  for (let i = 0; i < lines.length; i++) {
    const event = JSON.parse(lines[i] as string) as AuditEvent;
    // Spread over the day, newest last as a live cluster sends them.
    const t = new Date(now - 86_400_000 + Math.floor((i / count) * 86_400_000)).toISOString();
    event.requestReceivedTimestamp = t;
    event.stageTimestamp = t;
    const tenant = i % 10 === 9 ? 'other' : 'acme';
    const record = normaliseAuditEvent(event, { tenantId: tenant, clusterName: CLUSTERS[i % CLUSTERS.length] ?? null, receivedAt: now });
    const json = JSON.stringify(record);
    batch.push({ record, json, bytes: Buffer.byteLength(json) });
    if (batch.length === 2000) flush();
  }
  flush();
  store.close();
}

export async function run(ctx: BenchContext): Promise<BenchFigure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'aisoc-bench-console-'));
  const count = ctx.quick ? 20_000 : 100_000;
  const now = Date.now();
  try {
    seedStore(dir, ctx.root, count, ctx.seed, now);
    const store = new ConsoleStore(dir, (id) => shippedDetection().rules?.describe?.(id));
    const rejects = new RejectCounter();
    const n = ctx.quick ? 5 : 20;
    // The floor: read the list columns of every one of the tenant's events (no JSON), the least
    // a console that loaded the store whole would pay on each view.
    const whole = time(3, () =>
      store.db
        .prepare(
          'SELECT id, event_time, severity, k8s_user, k8s_verb, k8s_resource, k8s_namespace, cluster_name FROM events WHERE tenant_id = ?',
        )
        .all('acme'),
    );
    // The cursor of the 21st page (1,000 events deep), as a user paging down would hold it.
    let deep = store.searchEvents('acme', {}, 50).next;
    for (let i = 0; i < 19 && deep !== null; i++) deep = store.searchEvents('acme', {}, 50, deep).next;
    const reads: [string, () => unknown][] = [
      ['search, first page (50)', () => store.searchEvents('acme', {}, 50)],
      ['search, a page 1,000 events deep', () => store.searchEvents('acme', {}, 50, deep)],
      ['search by user + verb', () => store.searchEvents('acme', { user: 'alice@example.com', verb: 'delete' }, 50)],
      ['search matching nothing (one scan budget)', () => store.searchEvents('acme', { user: 'nobody' }, 50)],
      ['alerts page (50 records)', () => store.alerts('acme', 50)],
      ['timeline, last hour', () => store.timeline('acme', now - 3_600_000, now)],
      ['timeline, last 24 h', () => store.timeline('acme', now - 86_400_000, now)],
      ['cluster status', () => clusterStatus(store.db, 'acme', now, rejects)],
      ['one event (record + raw)', () => store.event('acme', 12345)],
    ];
    const figures: BenchFigure[] = [];
    for (const [label, fn] of reads) {
      fn();
      const t = time(n, fn);
      const ratio = t.p50 / whole.p50;
      figures.push({
        figure: `console at ${count.toLocaleString('en')} events: ${label}`,
        value: Math.round(t.p50 * 100) / 100,
        unit: 'ms (p50)',
        floor: Math.round(whole.p50 * 10) / 10,
        floorLabel: "ms: the list columns of all the tenant's events",
        ratio: Math.round(ratio * 1000) / 1000,
        goal: 'ratio ≤ 0.1',
        pass: ratio <= 0.1,
        notes: `max ${t.max.toFixed(1)} ms over ${n}`,
      });
    }
    store.close();
    return figures;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
