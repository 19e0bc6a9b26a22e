// `npm run soak` (first half): the apiserver stand-in at the apiserver's defaults (buffer 10,000,
// batches of 400, throttle 10/s burst 15, 10 s initial backoff) sends 2,000 events/s to `serve`
// for 10 minutes (bounded; loopback only). Checks: 0 events dropped by the sender, everything it
// delivered stored and nothing else, the server's resident set growing less than 10 % after the
// warm-up (its floor: see below), and the WAL file bounded. The second half of `npm run soak` is the crash test with 50
// kills (test/integration/ingest-crash.test.ts).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEventStore } from '../../lib/sinks/sqlite.js';
import { FATE, runApiserverStandIn } from '../helpers/apiserver.js';
import { auditLines } from '../helpers/corpus.js';
import { HAS_PROCFS, rssBytes, spawnServe } from '../helpers/serve-process.js';
import { median } from '../helpers/stats.js';

const SECRET = 'soak-shared-secret-6f2c8e1d';
const TENANT = 'soak';
const MiB = 1024 * 1024;
/** The WAL is cut back to this when the log starts over (lib/sinks/sqlite.ts); twice it is the bound checked. */
const WAL_BOUND_BYTES = 128 * MiB;

/** Options of a soak run. */
export interface SoakOptions {
  root: string;
  durationS: number;
  eventsPerSecond: number;
  seed: number;
}

/** Runs the soak and prints its figures and checks; resolves to the exit code. */
export async function soak(cli: string, o: SoakOptions): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'aisoc-soak-'));
  const serve = await spawnServe(cli, dataDir, { K8S_AUDIT_SHARED_SECRET: SECRET });
  const wal = join(dataDir, 'aisoc-k8s-audit.sqlite-wal');
  const samples: { t: number; rss: number; wal: number }[] = [];
  const t0 = Date.now();
  const sampler = setInterval(() => {
    let walBytes = 0;
    try {
      walBytes = statSync(wal).size;
    } catch {
      // No WAL between restarts of the log.
    }
    samples.push({ t: Date.now() - t0, rss: HAS_PROCFS ? rssBytes(serve.pid) : 0, wal: walBytes });
  }, 1000);
  try {
    console.error(`soak: ${o.eventsPerSecond} events/s for ${o.durationS} s at the apiserver's defaults against ${serve.url}`);
    const report = await runApiserverStandIn({
      url: `${serve.url}/v1/ingest/k8s-audit/${TENANT}`,
      token: SECRET,
      runId: 'soak',
      templates: auditLines(o.root, 400, o.seed),
      eventsPerSecond: o.eventsPerSecond,
      durationMs: o.durationS * 1000,
      seed: o.seed,
    });
    clearInterval(sampler);
    const store = openEventStore(dataDir);
    let stored = 0;
    let twice = 0;
    let missing = 0;
    let unsent = 0;
    try {
      const rows = store.db
        .prepare("SELECT audit_id, count(*) AS n FROM events WHERE tenant_id = ? AND audit_id LIKE 'soak-%' GROUP BY audit_id")
        .all(TENANT) as { audit_id: string; n: number }[];
      const have = new Set<number>();
      for (const r of rows) {
        stored++;
        if (r.n !== 1) twice++;
        have.add(Number(r.audit_id.slice(5)));
      }
      for (let n = 0; n < report.generated; n++) {
        if (report.fate[n] === FATE.delivered && !have.has(n)) missing++;
        if (report.fate[n] !== FATE.delivered && have.has(n)) unsent++;
      }
    } finally {
      store.close();
    }
    // Warm-up: the first fifth of the run. Growth: the last fifth against the second, by the floor
    // of each (its lowest RSS), the median beside it. The server's RSS is a sawtooth: V8's old space
    // fills with garbage between major collections and empties at each (measured at 2,000 events/s:
    // RSS 191 → 224 → 191 MiB over 75 s while the V8 heap in use went 16 → 46 → 12 MiB), so a
    // fifth's median says where in its teeth the fifth happened to end. A leak lifts the floor:
    // memory kept is there after every collection.
    const fifth = (k: number) => samples.filter((s) => s.t >= (k * o.durationS * 1000) / 5 && s.t < ((k + 1) * o.durationS * 1000) / 5);
    const floorOf = (k: number) => Math.min(...fifth(k).map((s) => s.rss));
    const afterWarmUp = floorOf(1);
    const end = floorOf(4);
    const growth = (end - afterWarmUp) / afterWarmUp;
    const medianAfterWarmUp = median(fifth(1).map((s) => s.rss));
    const medianEnd = median(fifth(4).map((s) => s.rss));
    const walPeak = Math.max(0, ...samples.map((s) => s.wal));
    const lat = [...report.latencies].sort((a, b) => a - b);
    const q = (p: number) => (lat.length === 0 ? 0 : (lat[Math.min(lat.length - 1, Math.ceil(p * lat.length) - 1)] as number));
    const dropped = report.droppedBufferFull + report.droppedAfterRetries;
    const rows: [string, string][] = [
      ['duration', `${o.durationS} s at ${o.eventsPerSecond} events/s, throttle 10/s burst 15, batches of 400`],
      [
        'sender',
        `${report.generated} generated, ${report.delivered} delivered, ${dropped} dropped (${report.droppedBufferFull} buffer full, ${report.droppedAfterRetries} after retries)`,
      ],
      [
        'requests',
        `${report.requests}: ${Object.entries(report.statuses)
          .map(([s, n]) => `${n} × ${s}`)
          .join(', ')}; ${report.timeouts} timeouts; latency p50 ${q(0.5).toFixed(0)} ms, p99 ${q(0.99).toFixed(0)} ms`,
      ],
      ['store', `${stored} stored, ${twice} twice, ${missing} delivered but missing, ${unsent} stored but not delivered`],
      [
        'server RSS',
        HAS_PROCFS
          ? `floor ${(afterWarmUp / MiB).toFixed(0)} MiB after warm-up, ${(end / MiB).toFixed(0)} MiB in the last fifth (${(growth * 100).toFixed(1)} %); median ${(medianAfterWarmUp / MiB).toFixed(0)} → ${(medianEnd / MiB).toFixed(0)} MiB (${((100 * (medianEnd - medianAfterWarmUp)) / medianAfterWarmUp).toFixed(1)} %), peak ${(Math.max(...samples.map((s) => s.rss)) / MiB).toFixed(0)} MiB`
          : 'not measured (no /proc)',
      ],
      ['WAL', `peak ${(walPeak / MiB).toFixed(1)} MiB`],
    ];
    const checks: [string, boolean][] = [
      ['0 events dropped', dropped === 0 && report.unsent === 0],
      ['stored = delivered, each once', missing === 0 && twice === 0 && unsent === 0 && stored === report.delivered],
      ['RSS growth < 10 % after warm-up (floor to floor)', !HAS_PROCFS || growth < 0.1],
      [`WAL under ${WAL_BOUND_BYTES / MiB} MiB`, walPeak < WAL_BOUND_BYTES],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
    console.log('');
    for (const [name, pass] of checks) console.log(`${pass ? 'ok  ' : 'FAIL'}  ${name}`);
    return checks.every(([, pass]) => pass) ? 0 : 1;
  } finally {
    clearInterval(sampler);
    await serve.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
