// The apiserver stand-in (test/helpers/apiserver.ts) against `serve` far past what it may hold:
// admission is set to 2 requests in flight, and the stand-in, its throttle raised, offers
// batches as fast as a fleet of clusters would. Every answer is 200 or 429 (no timeout, no
// reset, no 5xx), every event answered 200 is stored exactly once, and nothing else is stored.
// The full measurement (2× the closed-loop capacity, goodput, RSS) is `npm run load -- --overload`.
import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { startIngestServer } from '../../lib/ingest/adapters/server.js';
import { openEventStore } from '../../lib/sinks/sqlite.js';
import { FATE, runApiserverStandIn } from '../helpers/apiserver.js';
import { auditLines } from '../helpers/corpus.js';
import { EMPTY_EVENT_LIST, holdRequest, ingestConfig, SECRET, storedCounts, tempDataDir } from '../helpers/ingest.js';

const ROOT = new URL('../..', import.meta.url).pathname;

describe('serve under the apiserver stand-in past its admission bound', () => {
  it('answers only 200 or 429 and stores each event answered 200 exactly once', { timeout: 60_000 }, async () => {
    const tmp = tempDataDir('aisoc-overload-');
    const server = await startIngestServer({
      config: ingestConfig({ AISOC_DATA_DIR: tmp.dir, K8S_AUDIT_MAX_INFLIGHT_REQUESTS: '2', AISOC_SQLITE_GROUP_COMMIT: 'true' }),
    });
    // Both slots are held for the stand-in's first 600 ms by requests whose bodies come late, so
    // the server is past its bound however fast the machine: a fast CI machine admitted all of a
    // burst of 40 batches a second into two slots, and the test saw no 429 at all.
    const holders = [await holdRequest(server.port, EMPTY_EVENT_LIST.length), await holdRequest(server.port, EMPTY_EVENT_LIST.length)];
    const release = setTimeout(() => {
      for (const h of holders) h.sendBody(EMPTY_EVENT_LIST);
    }, 600);
    try {
      const report = await runApiserverStandIn({
        url: `${server.url}/v1/ingest/k8s-audit/acme`,
        token: SECRET,
        runId: 'ovl',
        templates: auditLines(ROOT, 100, 7),
        // 40 batches a second of 100 real events for 1.5 s, each sent as it fills (small
        // batches keep the test short on a loaded machine; the load script sends 400).
        eventsPerSecond: 4000,
        durationMs: 1500,
        batchMaxSize: 100,
        throttleQps: 100,
        throttleBurst: 100,
        // Scaled from the apiserver's 10 s, so refused batches are retried within the test.
        initialBackoffMs: 300,
        backoffSteps: 8,
        // Far below the apiserver's 30 s: an answer must come at once, admitted or not.
        requestTimeoutMs: 15_000,
      });
      const store = openEventStore(tmp.dir);
      let rows: ReturnType<typeof storedCounts>;
      try {
        rows = storedCounts(store.db, 'ovl');
      } finally {
        store.close();
      }
      const stored = new Set(rows.map((r) => Number(r.audit_id.slice(4))));
      const delivered = [...report.fate.keys()].filter((n) => report.fate[n] === FATE.delivered);
      console.log(
        `overload: ${report.requests} requests (${JSON.stringify(report.statuses)}), ${report.delivered} events delivered, ${report.droppedAfterRetries} given up after retries, ${report.droppedBufferFull} dropped at the sender, max latency ${Math.round(Math.max(...report.latencies))} ms`,
      );
      expect(Object.keys(report.statuses).sort()).toEqual(['200', '429']);
      expect([report.timeouts, report.connectErrors, report.otherErrors]).toEqual([0, 0, 0]);
      expect(rows.filter((r) => r.n !== 1)).toEqual([]);
      expect(delivered.filter((n) => !stored.has(n))).toEqual([]);
      expect(stored.size).toBe(delivered.length);
      expect(report.delivered).toBeGreaterThan(0);
    } finally {
      clearTimeout(release);
      for (const h of holders) h.socket.destroy();
      await server.close();
      tmp.remove();
    }
  });

  it("with client-go's own retries (Retry-After waited out and resent, as kube-apiserver's client does), every event is delivered and stored once", {
    timeout: 60_000,
  }, async () => {
    const tmp = tempDataDir('aisoc-overload-');
    const server = await startIngestServer({
      config: ingestConfig({ AISOC_DATA_DIR: tmp.dir, K8S_AUDIT_MAX_INFLIGHT_REQUESTS: '1' }),
    });
    // The one slot is held for the stand-in's first second by a request whose body comes late, so
    // the server is past its bound however fast the machine: refusals cost it too little now for
    // a burst alone to be sure of one (100 batches a second into two slots were all admitted once).
    const holder = await holdRequest(server.port, EMPTY_EVENT_LIST.length);
    const release = setTimeout(() => holder.sendBody(EMPTY_EVENT_LIST), 1200);
    try {
      const report = await runApiserverStandIn({
        url: `${server.url}/v1/ingest/k8s-audit/acme`,
        token: SECRET,
        runId: 'cgo',
        templates: auditLines(ROOT, 100, 11),
        // 100 batches of 100 events in one second: several times what one slot takes.
        eventsPerSecond: 10_000,
        durationMs: 1000,
        batchMaxSize: 100,
        throttleQps: 200,
        throttleBurst: 200,
        initialBackoffMs: 300,
        honourRetryAfter: true,
      });
      const store = openEventStore(tmp.dir);
      let rows: ReturnType<typeof storedCounts>;
      try {
        rows = storedCounts(store.db, 'cgo');
      } finally {
        store.close();
      }
      // The server asks for 2 s: 10 waits fit in the client's 30 s request timeout, so no batch
      // is dropped at it, and every refused batch comes back until it is stored.
      expect(report.statuses['429']).toBeGreaterThan(0);
      expect(Object.keys(report.statuses).sort()).toEqual(['200', '429']);
      expect([report.deadlineDrops, report.droppedAfterRetries, report.droppedBufferFull]).toEqual([0, 0, 0]);
      expect(report.delivered).toBe(report.generated);
      expect(rows.length).toBe(report.generated);
      expect(rows.filter((r) => r.n !== 1)).toEqual([]);
    } finally {
      clearTimeout(release);
      holder.socket.destroy();
      await server.close();
      tmp.remove();
    }
  });

  it("drops a batch whose Retry-After waits run past client-go's request timeout, as kube-apiserver does", {
    timeout: 20_000,
  }, async () => {
    // A server that refuses everything with Retry-After: 1, and a request timeout of 2.5 s: the
    // third wait ends past it, and the context's error is not one the webhook retries.
    let requests = 0;
    const refusing = createServer((req, res) => {
      requests++;
      req.resume();
      res.writeHead(429, { 'Retry-After': '1', 'Content-Type': 'application/json' }).end('{"error":"busy"}');
    });
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    const { port } = refusing.address() as { port: number };
    try {
      const report = await runApiserverStandIn({
        url: `http://127.0.0.1:${port}/v1/ingest/k8s-audit/acme`,
        token: SECRET,
        runId: 'late',
        templates: auditLines(ROOT, 5, 3),
        eventsPerSecond: 5,
        durationMs: 1000,
        batchMaxSize: 5,
        batchMaxWaitMs: 100,
        backoffSteps: 3,
        requestTimeoutMs: 2500,
        honourRetryAfter: true,
      });
      expect(report.deadlineDrops).toBe(report.batches);
      expect(report.delivered).toBe(0);
      expect(report.droppedAfterRetries).toBe(report.generated);
      // Each batch: the first answer and two resends within its one request timeout, no backoff step after.
      expect(requests).toBe(3 * report.batches);
    } finally {
      refusing.close();
    }
  });
});
