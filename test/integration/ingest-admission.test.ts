// The local server under more work than it may hold, over loopback: admission control answers
// 429 with Retry-After before reading a byte of the body, frees its slots as requests end (or
// their clients leave), gives up a request that waited past its deadline without storing it,
// stops working on a request whose client left, and shares SQLite commits between concurrent
// requests while each 200 still means stored. The events are the real Falco fixture events.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../lib/audit/index.js';
import { type IngestServer, startIngestServer } from '../../lib/ingest/adapters/server.js';
import { EVENT_STORE_FILE, type EventStore, openEventStore, type SqliteSink } from '../../lib/sinks/sqlite.js';
import {
  answer,
  eventList,
  type HeldRequest,
  holdRequest,
  ingestConfig,
  ingestRequestHead,
  SECRET,
  tempDataDir,
  uniqueFalcoEvents,
} from '../helpers/ingest.js';
import { until } from '../helpers/until.js';

const PATH = '/v1/ingest/k8s-audit/acme';

function batch(prefix: string, n?: number): AuditEvent[] {
  const all = uniqueFalcoEvents().map((e) => ({ ...e, auditID: `${prefix}-${e.auditID}` }));
  return n === undefined ? all : all.slice(0, n);
}

function post(server: IngestServer, events: AuditEvent[]): Promise<Response> {
  return fetch(`${server.url}${PATH}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET },
    body: eventList(events),
  });
}

describe('admission control', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let server: IngestServer;
  let logs: Record<string, unknown>[];

  async function start(env: Record<string, string>): Promise<void> {
    tmp = tempDataDir('aisoc-admission-');
    logs = [];
    server = await startIngestServer({ config: ingestConfig({ AISOC_DATA_DIR: tmp.dir, ...env }), log: (e) => logs.push(e) });
  }

  afterEach(async () => {
    await server?.close();
    tmp?.remove();
  });

  /** A request that has taken a slot: its head read by the server, its body not sent yet. */
  async function holdSlot(length: number): Promise<HeldRequest> {
    const held = await holdRequest(server.port, length);
    await new Promise((r) => setTimeout(r, 100));
    return held;
  }

  /** What the store holds, read through a store opened for `read` alone. */
  function fromStore<T>(read: (store: EventStore) => T): T {
    const store = openEventStore(tmp.dir);
    try {
      return read(store);
    } finally {
      store.close();
    }
  }

  it('answers 429 with Retry-After before reading the body once the requests in flight are at the bound, and admits again when one ends', async () => {
    await start({ K8S_AUDIT_MAX_INFLIGHT_REQUESTS: '2' });
    const events = batch('held');
    const body = Buffer.from(eventList(events));
    const held = [await holdRequest(server.port, body.length), await holdRequest(server.port, body.length)];
    // Both held requests are admitted (their heads read) before the third arrives.
    await new Promise((r) => setTimeout(r, 100));

    const third = await holdRequest(server.port, body.length);
    await third.answered;
    // Not one byte of the third body was sent: the answer came on the head alone.
    expect(third.received()).toMatch(/^HTTP\/1\.1 429 /);
    expect(third.received()).toMatch(/\r\nRetry-After: 2\r\n/i);
    expect(third.received()).toMatch(/K8S_AUDIT_MAX_INFLIGHT_REQUESTS 2/);
    expect(third.received()).toMatch(/nothing was read or stored/);
    third.socket.destroy();
    expect(logs.some((e) => e.msg === 'load shed' && e.status === 429 && e.in_flight === 2)).toBe(true);

    // One held request completes: its slot is free again.
    held[0]?.sendBody(body);
    await held[0]?.answered;
    await until(() => /"accepted":\d+/.test(held[0]?.received() ?? ''));
    expect(held[0]?.received()).toMatch(/^HTTP\/1\.1 200 /);
    const fourth = await post(server, batch('fourth', 3));
    expect(fourth.status).toBe(200);
    // The other held client leaves mid-request: its slot is freed too, nothing of it stored.
    held[1]?.socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const results = await Promise.all([post(server, batch('fifth', 2)), post(server, batch('sixth', 2))]);
    expect(results.map((r) => r.status)).toEqual([200, 200]);
    expect(fromStore((store) => store.countEvents({ tenant: 'acme' }))).toBe(events.length + 3 + 2 + 2);
  });

  it('logs every refusal in the load shed lines, the last second too, and counts each as an answer', async () => {
    tmp = tempDataDir('aisoc-admission-');
    logs = [];
    const outcomes: { status: number; route: string }[] = [];
    server = await startIngestServer({
      config: ingestConfig({ AISOC_DATA_DIR: tmp.dir, K8S_AUDIT_MAX_INFLIGHT_REQUESTS: '2' }),
      log: (e) => logs.push(e),
      observe: (o) => outcomes.push({ status: o.status, route: o.route }),
    });
    const length = Buffer.byteLength(eventList(batch('shed')));
    const held = [await holdRequest(server.port, length), await holdRequest(server.port, length)];
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 5; i++) {
      const refused = await holdRequest(server.port, length);
      await refused.answered;
      expect(refused.received()).toMatch(/^HTTP\/1\.1 429 /);
      refused.socket.destroy();
    }
    // No refusal follows the burst: the period's end logs what it held.
    await until(() => logs.filter((e) => e.msg === 'load shed').reduce((n, e) => n + (e.refused as number), 0) === 5, 3000);
    expect(outcomes.filter((o) => o.status === 429)).toEqual(Array.from({ length: 5 }, () => ({ status: 429, route: 'ingest' })));
    for (const h of held) h.socket.destroy();
  });

  it('keeps the connection of a request refused at admission: the body sent anyway is discarded, and the next request on it is answered', async () => {
    await start({ K8S_AUDIT_MAX_INFLIGHT_REQUESTS: '1' });
    const heldEvents = batch('kept-held', 4);
    const heldBody = Buffer.from(eventList(heldEvents));
    const held = await holdSlot(heldBody.length);

    // Refused on its head; the client sends its body anyway, as a client that writes before it reads does.
    const refusedBody = Buffer.from(eventList(batch('kept-refused', 6)));
    const client = await holdRequest(server.port, refusedBody.length);
    await client.answered;
    expect(client.received()).toMatch(/^HTTP\/1\.1 429 /);
    expect(client.received()).not.toMatch(/\r\nConnection: close\r\n/i);
    client.sendBody(refusedBody);
    // Past the server's linger (2 s): a discarded body ends the linger, not the connection.
    await new Promise((r) => setTimeout(r, 2300));
    expect(client.socket.destroyed).toBe(false);

    held.sendBody(heldBody);
    await until(() => /"accepted":4/.test(held.received()));
    const nextEvents = batch('kept-next', 3);
    const nextBody = Buffer.from(eventList(nextEvents));
    client.socket.write(ingestRequestHead(nextBody.length));
    client.sendBody(nextBody);
    await until(() => /"accepted":3/.test(client.received()));
    expect(client.received().match(/HTTP\/1\.1 \d{3} /g)).toEqual(['HTTP/1.1 429 ', 'HTTP/1.1 200 ']);
    client.socket.destroy();
    held.socket.destroy();

    // The held batch and the next one; nothing of the refused body.
    expect(fromStore((store) => store.countEvents({ tenant: 'acme' }))).toBe(4 + 3);
  });

  it('reads a refused body off without keeping it, and the request that follows it in the same packet is stored whole', async () => {
    await start({ K8S_AUDIT_MAX_INFLIGHT_REQUESTS: '1' });
    const heldBody = Buffer.from(eventList(batch('packet-held', 2)));
    const held = await holdSlot(heldBody.length);
    const refusedBody = Buffer.from(eventList(batch('packet-refused')));
    const client = await holdRequest(server.port, refusedBody.length);
    await client.answered;
    expect(client.received()).toMatch(/^HTTP\/1\.1 429 /);
    client.sendBody(refusedBody.subarray(0, 1000));
    held.sendBody(heldBody);
    await until(() => /"accepted":2/.test(held.received()));
    // The rest of the refused body and the next request, head and body, in one write.
    const nextEvents = batch('packet-next', 5);
    const nextBody = Buffer.from(eventList(nextEvents));
    client.sendBody(Buffer.concat([refusedBody.subarray(1000), Buffer.from(ingestRequestHead(nextBody.length)), nextBody]));
    await until(() => /"accepted":5/.test(client.received()));
    expect(client.received().match(/HTTP\/1\.1 \d{3} /g)).toEqual(['HTTP/1.1 429 ', 'HTTP/1.1 200 ']);
    client.socket.destroy();
    held.socket.destroy();
    expect(fromStore((store) => store.countEvents({ tenant: 'acme' }))).toBe(2 + 5);
    const ids = new Set(fromStore((store) => store.queryEvents({ tenant: 'acme', limit: 100 })).map((r) => r.audit_id));
    expect([...ids].sort()).toEqual([...batch('packet-held', 2), ...nextEvents].map((e) => e.auditID).sort());
  });

  it('refuses one kept connection many times without piling listeners on its socket', async () => {
    await start({ K8S_AUDIT_MAX_INFLIGHT_REQUESTS: '1' });
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const held = await holdSlot(100);
      const body = Buffer.from(eventList(batch('many', 2)));
      const client = await holdRequest(server.port, body.length);
      client.sendBody(body);
      for (let n = 1; n < 30; n++) {
        await until(() => (client.received().match(/HTTP\/1\.1 429 /g) ?? []).length === n);
        client.sendBody(Buffer.concat([Buffer.from(ingestRequestHead(body.length)), body]));
      }
      await until(() => (client.received().match(/HTTP\/1\.1 429 /g) ?? []).length === 30);
      await new Promise((r) => setImmediate(r));
      // node warns (MaxListenersExceededWarning) at the eleventh listener of one kind on a socket.
      expect(warnings).toEqual([]);
      client.socket.destroy();
      held.socket.destroy();
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('charges the declared body bytes: a request that would pass the byte bound is refused, a smaller one admitted', async () => {
    // The bound must hold one largest body (1 MiB here); 1.5 MiB holds one such request, not two.
    await start({ K8S_AUDIT_MAX_BODY_BYTES: String(1024 * 1024), K8S_AUDIT_MAX_INFLIGHT_BYTES: String(1536 * 1024) });
    const big = await holdSlot(1024 * 1024);
    const second = await holdRequest(server.port, 1024 * 1024);
    await second.answered;
    expect(second.received()).toMatch(/^HTTP\/1\.1 429 /);
    expect(second.received()).toMatch(/K8S_AUDIT_MAX_INFLIGHT_BYTES 1572864/);
    second.socket.destroy();
    const small = await post(server, batch('small', 5));
    expect([small.status, (await answer(small)).accepted]).toEqual([200, 5]);
    big.socket.destroy();
  });

  it('gives up a request whose commit could not begin within K8S_AUDIT_QUEUE_DEADLINE_MS: 429, and nothing of it stored', async () => {
    await start({ K8S_AUDIT_QUEUE_DEADLINE_MS: '300', AISOC_SQLITE_GROUP_COMMIT: 'true' });
    // Another connection holds SQLite's write lock, so the first commit waits (up to the 3 s busy timeout).
    const other = new Database(join(tmp.dir, EVENT_STORE_FILE));
    other.exec('BEGIN IMMEDIATE');
    const first = post(server, batch('first', 4));
    await new Promise((r) => setTimeout(r, 150));
    // The second waits behind the first's commit, past its deadline.
    const second = await post(server, batch('second', 4));
    other.exec('ROLLBACK');
    other.close();
    const firstAnswer = await first;

    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBe('2');
    expect((await answer(second)).error).toMatch(
      /could not begin storing this batch within 300 ms \(K8S_AUDIT_QUEUE_DEADLINE_MS\); nothing was stored/,
    );
    expect(firstAnswer.status).toBe(200);
    expect(fromStore((store) => store.countEvents({ tenant: 'acme' }))).toBe(4);

    expect(fromStore((store) => store.countEvents({ auditId: batch('second', 1)[0]?.auditID }))).toBe(0);
  });

  it('stores nothing of a request whose client left while it waited for its commit, and logs it as 499', async () => {
    // The commit queue where a request can wait is the group commit's (opt-in).
    await start({ AISOC_SQLITE_GROUP_COMMIT: 'true' });
    const other = new Database(join(tmp.dir, EVENT_STORE_FILE));
    other.exec('BEGIN IMMEDIATE');
    const first = post(server, batch('first', 4));
    await new Promise((r) => setTimeout(r, 150));
    const leaving = batch('leaving', 6);
    const body = Buffer.from(eventList(leaving));
    const req = await holdRequest(server.port, body.length);
    req.sendBody(body);
    // The server has the whole body and queued the batch behind the locked commit; then the client goes.
    await new Promise((r) => setTimeout(r, 200));
    req.socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    other.exec('ROLLBACK');
    other.close();
    expect((await first).status).toBe(200);
    await until(() => logs.some((e) => e.msg === 'ingest request' && e.status === 499));
    expect(fromStore((store) => store.countEvents({ tenant: 'acme' }))).toBe(4);
  });
});

describe('group commit', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let server: IngestServer;

  afterEach(async () => {
    await server?.close();
    tmp?.remove();
  });

  it('concurrent requests share transactions, every 200 is in the store when answered, and a resend in the same group is a duplicate', async () => {
    tmp = tempDataDir('aisoc-group-');
    server = await startIngestServer({ config: ingestConfig({ AISOC_DATA_DIR: tmp.dir, AISOC_SQLITE_GROUP_COMMIT: 'true' }) });
    const store = (server.service.writer.events as SqliteSink).store;
    const reader = openEventStore(tmp.dir);
    try {
      const batches = Array.from({ length: 12 }, (_, k) => batch(`g${k}`));
      // Each answer is checked against the file, through another connection, the moment it arrives.
      const seenAtAnswer: number[] = [];
      const statuses = await Promise.all(
        [...batches, batches[0] as AuditEvent[]].map(async (events) => {
          const res = await post(server, events);
          seenAtAnswer.push(reader.countEvents({ auditId: events[events.length - 1]?.auditID }));
          return [res.status, await answer(res)] as const;
        }),
      );
      expect(statuses.map(([s]) => s)).toEqual(Array(13).fill(200));
      expect(seenAtAnswer).toEqual(Array(13).fill(1));
      const perBatch = batches[0]?.length ?? 0;
      const accepted = statuses.reduce((a, [, b]) => a + b.accepted, 0);
      const duplicates = statuses.reduce((a, [, b]) => a + b.duplicates, 0);
      expect([accepted, duplicates]).toEqual([12 * perBatch, perBatch]);
      expect(reader.countEvents({ tenant: 'acme' })).toBe(12 * perBatch);
      // Fewer transactions than batches: they were shared.
      const stats = store.commitStats;
      expect(stats.batches).toBe(13);
      expect(stats.commits).toBeLessThan(13);
    } finally {
      reader.close();
    }
  });

  it('AISOC_SQLITE_GROUP_COMMIT=false commits each request on its own', async () => {
    tmp = tempDataDir('aisoc-group-off-');
    server = await startIngestServer({ config: ingestConfig({ AISOC_DATA_DIR: tmp.dir, AISOC_SQLITE_GROUP_COMMIT: 'false' }) });
    const results = await Promise.all(Array.from({ length: 4 }, (_, k) => post(server, batch(`o${k}`, 5))));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect((server.service.writer.events as SqliteSink).store.commitStats).toEqual({ commits: 0, batches: 0 });
    const reader = openEventStore(tmp.dir);
    try {
      expect(reader.countEvents({ tenant: 'acme' })).toBe(20);
    } finally {
      reader.close();
    }
  });
});
