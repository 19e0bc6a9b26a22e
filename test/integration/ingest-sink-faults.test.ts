// The ingest with a failing sink, over loopback HTTP: Kinesis throttling and partial PutRecords
// failures (aws-sdk-client-mock), SQLite locked by another connection, and SQLite out of space.
// Never a 200 for records that were not written (503 + Retry-After instead), and the resend once
// the sink is back lands each event exactly once (in SQLite; in Kinesis once per dedup_key, the
// partition key consumers deduplicate on).
import { join } from 'node:path';
import {
  KinesisClient,
  ProvisionedThroughputExceededException,
  PutRecordsCommand,
  type PutRecordsCommandInput,
} from '@aws-sdk/client-kinesis';
import { mockClient } from 'aws-sdk-client-mock';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEvent, NormalisedRecord } from '../../lib/audit/index.js';
import { type IngestServer, startIngestServer } from '../../lib/ingest/adapters/server.js';
import { EVENT_STORE_FILE, type EventStore, openEventStore, type SqliteSink } from '../../lib/sinks/sqlite.js';
import { runApiserverStandIn } from '../helpers/apiserver.js';
import { auditLines } from '../helpers/corpus.js';
import { answer, eventList, ingestConfig, SECRET, storedCounts, tempDataDir, uniqueFalcoEvents } from '../helpers/ingest.js';

const ROOT = new URL('../..', import.meta.url).pathname;

const kinesis = mockClient(KinesisClient);

function batch(prefix: string, n?: number): AuditEvent[] {
  const all = uniqueFalcoEvents().map((e) => ({ ...e, auditID: `${prefix}-${e.auditID}` }));
  return n === undefined ? all : all.slice(0, n);
}

function post(server: IngestServer, events: AuditEvent[]): Promise<Response> {
  return fetch(`${server.url}/v1/ingest/k8s-audit/acme`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET },
    body: eventList(events),
  });
}

async function expect503(res: Response): Promise<void> {
  expect(res.status).toBe(503);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  expect((await answer(res)).error).toMatch(/could not be stored \(sink unavailable(: [^)]*)?\); nothing was acknowledged/);
}

describe('Kinesis sink: throttling and partial PutRecords failures', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let server: IngestServer;
  /** Every record a PutRecords call took, by partition key (the record's dedup_key). */
  let stream: { key: string; record: NormalisedRecord }[];
  let logs: Record<string, unknown>[];

  beforeEach(async () => {
    kinesis.reset();
    stream = [];
    logs = [];
    tmp = tempDataDir('aisoc-sink-kinesis-');
    server = await startIngestServer({
      config: ingestConfig({ EVENTS_SINK: 'kinesis:audit-events', AISOC_DATA_DIR: tmp.dir }),
      sinks: { clients: { kinesis: new KinesisClient({ region: 'eu-west-1' }) }, sleep: async () => {} },
      log: (e) => logs.push(e),
    });
  });

  afterEach(async () => {
    await server.close();
    tmp.remove();
  });

  /** PutRecords that refuses the records `fails(partitionKey, attempt)` names, and takes the rest. */
  function putRecords(fails: (key: string, call: number) => boolean): void {
    let call = 0;
    kinesis.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput) => {
      call++;
      const results = (input.Records ?? []).map((r) => {
        const key = r.PartitionKey as string;
        if (fails(key, call)) return { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded for shard' };
        stream.push({ key, record: JSON.parse(Buffer.from(r.Data as Uint8Array).toString('utf8')) as NormalisedRecord });
        return { SequenceNumber: String(stream.length), ShardId: 'shardId-000000000000' };
      });
      return Promise.resolve({ FailedRecordCount: results.filter((r) => 'ErrorCode' in r).length, Records: results });
    });
  }

  it('answers 503 while every PutRecords is throttled, then 200 for the resend, each event in the stream once', async () => {
    kinesis.on(PutRecordsCommand).rejects(new ProvisionedThroughputExceededException({ message: 'Rate exceeded', $metadata: {} }));
    const events = batch('throttled');

    const refused = await post(server, events);
    const refusedCalls = kinesis.commandCalls(PutRecordsCommand).length;
    kinesis.reset();
    putRecords(() => false);
    const resent = await post(server, events);

    await expect503(refused);
    expect(refusedCalls).toBe(3);
    expect(stream.filter((r) => r.record.audit_id.startsWith('throttled-'))).toHaveLength(events.length);
    expect([resent.status, (await answer(resent)).accepted]).toEqual([200, events.length]);
    expect(new Set(stream.map((r) => r.record.audit_id))).toEqual(new Set(events.map((e) => e.auditID)));
    expect(logs.filter((l) => l.msg === 'sink write failed')).toHaveLength(1);
  });

  it('sends again only what a partial failure names, and answers 200 once all of it is in', async () => {
    // A third of the records fail on the first call and go through on the second.
    const events = batch('partial');
    putRecords((key, call) => call === 1 && Number.parseInt(key.slice(0, 2), 16) % 3 === 0);

    const res = await post(server, events);

    expect([res.status, (await answer(res)).accepted]).toEqual([200, events.length]);
    expect(kinesis.commandCalls(PutRecordsCommand)).toHaveLength(2);
    expect(stream.map((r) => r.record.audit_id).sort()).toEqual(events.map((e) => e.auditID).sort());
  });

  it('answers 503 when some records still fail after the retries; the resend lands each dedup_key, and only repeats what was taken before', async () => {
    const events = batch('stuck');
    const stuck = (key: string) => Number.parseInt(key.slice(0, 2), 16) % 4 === 0;
    putRecords((key) => stuck(key));

    const refused = await post(server, events);
    const takenBefore = stream.length;
    kinesis.reset();
    putRecords(() => false);
    const resent = await post(server, events);

    await expect503(refused);
    expect(takenBefore).toBeGreaterThan(0);
    expect(takenBefore).toBeLessThan(events.length);
    expect(resent.status).toBe(200);
    // At least once: the resend repeats the records the first try got in. Each repeat is the same
    // record under the same partition key (its dedup_key), so a consumer keeps each event once.
    const byKey = new Map<string, NormalisedRecord[]>();
    for (const r of stream) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r.record]);
    expect(byKey.size).toBe(events.length);
    expect(stream).toHaveLength(events.length + takenBefore);
    for (const [key, copies] of byKey) {
      const uid = (c: NormalisedRecord | undefined) => (c?.ocsf.metadata as { uid?: string } | undefined)?.uid;
      expect(copies.every((c) => c.dedup_key === key && uid(c) === uid(copies[0]))).toBe(true);
      expect(new Set(copies.map((c) => c.audit_id)).size).toBe(1);
    }
  });
});

describe('SQLite sink: locked and full', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let server: IngestServer;
  let store: EventStore;

  beforeEach(async () => {
    tmp = tempDataDir('aisoc-sink-sqlite-');
    server = await startIngestServer({ config: ingestConfig({ AISOC_DATA_DIR: tmp.dir }) });
    store = openEventStore(tmp.dir);
  });

  afterEach(async () => {
    await server.close();
    store.close();
    tmp.remove();
  });

  /** Each auditID of `events` is stored exactly once, and nothing else with that prefix. */
  function expectStoredOnce(prefix: string, events: AuditEvent[]): void {
    const rows = storedCounts(store.db, prefix);
    expect(rows.filter((r) => r.n !== 1)).toEqual([]);
    expect(rows.map((r) => r.audit_id).sort()).toEqual(events.map((e) => e.auditID).sort());
  }

  it('answers 503 while another connection holds the write lock, storing nothing; the resend lands each event once', async () => {
    const events = batch('locked');
    const other = new Database(join(tmp.dir, EVENT_STORE_FILE));
    other.exec('BEGIN IMMEDIATE');

    // The server waits out SQLite's busy timeout (5 s) on the lock, then gives up.
    const refused = await post(server, events);
    other.exec('ROLLBACK');
    other.close();
    const countAfterRefusal = store.countEvents({ tenant: 'acme' });
    const resent = await post(server, events);
    const again = await post(server, events);

    await expect503(refused);
    expect(countAfterRefusal).toBe(0);
    expect([resent.status, (await answer(resent)).accepted]).toEqual([200, events.length]);
    expect(await answer(again)).toMatchObject({ accepted: 0, duplicates: events.length });
    expectStoredOnce('locked', events);
  }, 30_000);

  it('answers 503 when the store is full, keeping none of the batch; after space is freed the resend stores only what was missing', async () => {
    const first = batch('full-a', 10);
    const both = [...first, ...batch('full-b')];
    expect((await post(server, first)).status).toBe(200);
    // The server's own connection may not grow the file past its current size: a full disk, as SQLite sees one.
    const sinkStore = (server.service.writer.events as SqliteSink).store;
    sinkStore.setMaxPageCount(sinkStore.db.pragma('page_count', { simple: true }) as number);
    const beforeRefusal = [store.countEvents({ tenant: 'acme' }), store.countAlerts({ tenant: 'acme' })];

    const refused = await post(server, both);
    const afterRefusal = [store.countEvents({ tenant: 'acme' }), store.countAlerts({ tenant: 'acme' })];
    sinkStore.setMaxPageCount(1073741823);
    const resent = await post(server, both);

    expect(refused.headers.get('content-type')).toMatch(/json/);
    expect(((await refused.clone().json()) as { error: string }).error).toMatch(
      /\(sink unavailable: the disk holding the event store is full\)/,
    );
    await expect503(refused);
    expect(beforeRefusal[0]).toBe(first.length);
    expect(afterRefusal).toEqual(beforeRefusal);
    expect(await answer(resent)).toMatchObject({ accepted: both.length - first.length, duplicates: first.length, rejected: 0 });
    expectStoredOnce('full-a', first);
    expectStoredOnce('full-b', both.slice(first.length));
  });

  it("keeps client-go's resends inside its request timeout while the store is full, so the apiserver drops nothing", {
    timeout: 40_000,
  }, async () => {
    // The store full for 6 s against client-go's Retry-After resends, its 30 s timeout scaled to
    // 9 s. At the 503's 2 s the fourth resend lands once space returns; at the 5 s this route once
    // asked for, the second wait would end past 9 s, and kube-apiserver drops such a batch.
    const sinkStore = (server.service.writer.events as SqliteSink).store;
    sinkStore.setMaxPageCount(sinkStore.db.pragma('page_count', { simple: true }) as number);
    const freed = setTimeout(() => sinkStore.setMaxPageCount(1073741823), 6000);
    try {
      const report = await runApiserverStandIn({
        url: `${server.url}/v1/ingest/k8s-audit/acme`,
        token: SECRET,
        runId: 'full-cgo',
        templates: auditLines(ROOT, 20, 5),
        eventsPerSecond: 40,
        durationMs: 500,
        batchMaxSize: 10,
        batchMaxWaitMs: 100,
        requestTimeoutMs: 9000,
        backoffSteps: 1,
        honourRetryAfter: true,
      });
      expect(Object.keys(report.statuses).sort()).toEqual(['200', '503']);
      expect([report.deadlineDrops, report.droppedAfterRetries, report.droppedBufferFull]).toEqual([0, 0, 0]);
      expect(report.delivered).toBe(report.generated);
      const rows = storedCounts(store.db, 'full-cgo');
      expect(rows.length).toBe(report.generated);
      expect(rows.filter((r) => r.n !== 1)).toEqual([]);
    } finally {
      clearTimeout(freed);
    }
  });
});
