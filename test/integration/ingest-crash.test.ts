// `serve` killed with SIGKILL at random points while batches of real audit events arrive from
// concurrent posters. After each kill, before the next start, every event of every batch that
// was answered 200 must be in the store; at the end, everything a sender would resend (each
// batch not answered 200, and a share of those that were) is resent and each event is stored
// exactly once.
//
// CI runs AISOC_INGEST_CRASH_RUNS=3 (the default); `npm run soak` runs 50. A failure prints its
// seed; AISOC_INGEST_CRASH_SEED=<seed> repeats the same schedule.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../lib/audit/index.js';
import { openEventStore } from '../../lib/sinks/sqlite.js';
import { eventList, tempDataDir, uniqueFalcoEvents } from '../helpers/ingest.js';
import { prng } from '../helpers/prng.js';
import { buildServeBundle, spawnServe } from '../helpers/serve.js';

const RUNS = Number(process.env.AISOC_INGEST_CRASH_RUNS ?? 3);
const SEED = Number(process.env.AISOC_INGEST_CRASH_SEED ?? Date.now() % 2 ** 31);
const SECRET = 'crash-ingest-secret-9d3e1f0a';
const TENANT = 'crash';
const POSTERS = 4;

let bundle: { cli: string; cleanup: () => void };
let tmp: ReturnType<typeof tempDataDir>;

beforeAll(async () => {
  bundle = await buildServeBundle();
  tmp = tempDataDir('aisoc-ingest-crash-');
});

afterAll(() => {
  bundle?.cleanup();
  tmp?.remove();
});

/** A batch of real events with auditIDs of its own. */
function makeBatch(id: string, base: AuditEvent[]): AuditEvent[] {
  return base.map((e, i) => ({ ...e, auditID: `${id}-${i}` }));
}

async function postBatch(url: string, events: AuditEvent[]): Promise<number | 'failed'> {
  try {
    const res = await fetch(`${url}/v1/ingest/k8s-audit/${TENANT}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET },
      body: eventList(events),
      signal: AbortSignal.timeout(10_000),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 'failed';
  }
}

/** The auditIDs in the store, with how many times each is there. */
function storedCounts(dataDir: string): Map<string, number> {
  const store = openEventStore(dataDir);
  try {
    const rows = store.db.prepare('SELECT audit_id, count(*) AS n FROM events WHERE tenant_id = ? GROUP BY audit_id').all(TENANT) as {
      audit_id: string;
      n: number;
    }[];
    return new Map(rows.map((r) => [r.audit_id, r.n]));
  } finally {
    store.close();
  }
}

describe('serve under SIGKILL', () => {
  it(`keeps every event it answered 200 for, across ${RUNS} kills at random points (seed ${SEED})`, {
    timeout: 60_000 + RUNS * 8_000,
  }, async () => {
    const random = prng(SEED);
    const base = uniqueFalcoEvents();
    const batches = new Map<string, AuditEvent[]>();
    const answered200 = new Set<string>();
    let next = 0;
    let missingAfterKill = 0;
    let killedMidRequest = 0;
    for (let run = 0; run < RUNS; run++) {
      const serve = await spawnServe(bundle.cli, tmp.dir, { K8S_AUDIT_SHARED_SECRET: SECRET });
      let stop = false;
      const posters = Array.from({ length: POSTERS }, async () => {
        while (!stop) {
          const id = `r${run}-b${next++}`;
          const events = makeBatch(id, base);
          batches.set(id, events);
          const status = await postBatch(serve.url, events);
          if (status === 200) answered200.add(id);
          else if (status === 'failed') {
            killedMidRequest++;
            return;
          }
        }
      });
      // A random point: early (the store opening, the first commits) to well into the load.
      await sleep(150 + Math.floor(random() * 1200));
      serve.child.kill('SIGKILL');
      stop = true;
      await Promise.all(posters);
      await new Promise((resolve) =>
        serve.child.exitCode !== null || serve.child.signalCode !== null ? resolve(null) : serve.child.once('exit', resolve),
      );
      // Before anything else opens the store: what was answered 200 is there.
      const stored = storedCounts(tmp.dir);
      for (const id of answered200) for (const e of batches.get(id) ?? []) if (stored.get(e.auditID) !== 1) missingAfterKill++;
    }

    // The senders' resends: every batch not answered 200, and every third answered one.
    const serve = await spawnServe(bundle.cli, tmp.dir, { K8S_AUDIT_SHARED_SECRET: SECRET });
    const resend = [...batches.keys()].filter((id, i) => !answered200.has(id) || i % 3 === 0);
    try {
      for (const id of resend) expect([id, await postBatch(serve.url, batches.get(id) ?? [])]).toEqual([id, 200]);
    } finally {
      await serve.stop();
    }
    const stored = storedCounts(tmp.dir);
    const all = [...batches.values()].flat();
    const twice = [...stored.values()].filter((n) => n !== 1).length;
    const missing = all.filter((e) => !stored.has(e.auditID)).length;
    console.log(
      `ingest crash: ${RUNS} kills, ${batches.size} batches (${answered200.size} answered 200, ${killedMidRequest} requests cut by a kill), ${all.length} events; missing after a kill ${missingAfterKill}, at the end ${missing}, stored twice ${twice} (seed ${SEED})`,
    );
    expect(answered200.size).toBeGreaterThan(0);
    expect({ missingAfterKill, missing, twice, stored: stored.size }).toEqual({
      missingAfterKill: 0,
      missing: 0,
      twice: 0,
      stored: all.length,
    });
  });
});
