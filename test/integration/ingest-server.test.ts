import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IngestServer, startIngestServer } from '../../lib/ingest/adapters/server.js';
import type { IngestConfig } from '../../lib/ingest/config.js';
import { type EventStore, openEventStore, type SqliteSink } from '../../lib/sinks/sqlite.js';
import { falcoEvent, falcoEvents } from '../helpers/fixtures.js';
import { hasCommand } from '../helpers/host.js';
import {
  answer,
  EMPTY_EVENT_LIST,
  eventList,
  ingestConfig,
  PREVIOUS_SECRET,
  SECRET,
  tempDataDir,
  uniqueFalcoEvents,
} from '../helpers/ingest.js';

const execFileAsync = promisify(execFile);
const hasCurl = hasCommand('curl');

interface Started {
  server: IngestServer;
  store: EventStore;
  logs: Record<string, unknown>[];
  stop: () => Promise<void>;
}

async function start(env: Record<string, string | undefined> = {}, config?: (dir: string) => IngestConfig): Promise<Started> {
  const tmp = tempDataDir();
  const logs: Record<string, unknown>[] = [];
  const server = await startIngestServer({
    config: config ? config(tmp.dir) : ingestConfig({ AISOC_DATA_DIR: tmp.dir, ...env }),
    log: (e) => logs.push(e),
  });
  const store = openEventStore(tmp.dir);
  return {
    server,
    store,
    logs,
    stop: async () => {
      await server.close();
      store.close();
      tmp.remove();
    },
  };
}

function post(server: IngestServer, body: string | Buffer, headers: Record<string, string> = {}, tenant = 'acme'): Promise<Response> {
  return fetch(`${server.url}/v1/ingest/k8s-audit/${tenant}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET, ...headers },
    body,
  });
}

describe('local ingest server over loopback HTTP', () => {
  let s: Started;
  beforeAll(async () => {
    s = await start({ K8S_AUDIT_MAX_BODY_BYTES: String(1024 * 1024), K8S_AUDIT_MAX_BATCH_SIZE: '100' });
  });
  afterAll(async () => {
    await s.stop();
  });

  it('listens on 127.0.0.1 with an ephemeral port and answers /healthz', async () => {
    const res = await fetch(`${s.server.url}/healthz`);

    expect(s.server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(s.server.port).toBeGreaterThan(0);
    expect([res.status, await answer(res)]).toEqual([200, { status: 'ok' }]);
  });

  describe('the contract rows, in order', () => {
    it('row 1: 503 naming K8S_AUDIT_SHARED_SECRET when the server has no secret', async () => {
      const off = await start({ K8S_AUDIT_SHARED_SECRET: '' });
      try {
        const res = await post(off.server, EMPTY_EVENT_LIST);

        expect(res.status).toBe(503);
        expect((await answer(res)).error).toContain('K8S_AUDIT_SHARED_SECRET');
      } finally {
        await off.stop();
      }
    });

    it('row 2: 401 for a missing or wrong token', async () => {
      const missing = await fetch(`${s.server.url}/v1/ingest/k8s-audit/acme`, { method: 'POST', body: EMPTY_EVENT_LIST });
      const wrong = await post(s.server, EMPTY_EVENT_LIST, { 'X-AiSOC-K8s-Token': SECRET.slice(0, 10) });

      expect([missing.status, wrong.status]).toEqual([401, 401]);
      expect(await wrong.text()).not.toContain(SECRET.slice(0, 10));
    });

    it('row 3: 400 for a bad tenant id', async () => {
      const res = await post(s.server, EMPTY_EVENT_LIST, {}, '_nope');

      expect(res.status).toBe(400);
    });

    it('row 4: 413 for a body over the cap, declared or streamed, and after gzip inflation', async () => {
      const declared = await post(s.server, Buffer.alloc(1024 * 1024 + 1, 0x20));
      let sent = 0;
      // A chunked body with no Content-Length: the server must stop reading at the cap.
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent >= 64 * 1024 * 1024) {
            controller.close();
            return;
          }
          sent += 64 * 1024;
          controller.enqueue(new Uint8Array(64 * 1024).fill(0x20));
        },
      });
      const streamed = await fetch(`${s.server.url}/v1/ingest/k8s-audit/acme`, {
        method: 'POST',
        headers: { 'X-AiSOC-K8s-Token': SECRET },
        body: stream,
        duplex: 'half',
      } as RequestInit);
      const inflated = await post(s.server, gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x20)), { 'Content-Encoding': 'gzip' });

      expect([declared.status, streamed.status, inflated.status]).toEqual([413, 413, 413]);
      expect((await answer(streamed)).error).toMatch(/over 1048576 bytes \(K8S_AUDIT_MAX_BODY_BYTES\)/);
      expect(sent).toBeLessThan(64 * 1024 * 1024);
      expect((await answer(inflated)).error).toMatch(/inflates/);
    });

    it('row 5: 415 for a body that is not JSON by Content-Type', async () => {
      const res = await post(s.server, EMPTY_EVENT_LIST, { 'Content-Type': 'text/plain' });

      expect(res.status).toBe(415);
    });

    it('row 6: 400 with the parser reason for a body that is not an audit payload', async () => {
      const [kindZero] = falcoEvents('fal_01_003.json');
      const res = await post(s.server, JSON.stringify(kindZero));

      expect(res.status).toBe(400);
      expect((await answer(res)).error).toMatch(/kind must be "Event"/);
    });

    it('row 7: 413 for more items than K8S_AUDIT_MAX_BATCH_SIZE', async () => {
      const items = Array.from({ length: 101 }, (_, i) => ({ ...falcoEvent('create_secret.json'), auditID: `batch-${i}` }));

      const res = await post(s.server, eventList(items));

      expect(res.status).toBe(413);
      expect(s.store.countEvents({ auditId: 'batch-0' })).toBe(0);
    });

    it('row 9: 200 with counts, and the records in the SQLite file', async () => {
      const items = uniqueFalcoEvents();

      const res = await post(s.server, eventList(items), { 'X-AiSOC-Cluster-Name': 'kind-local' }, 'tenant-200');

      expect([res.status, await answer(res)]).toEqual([200, { accepted: items.length, rejected: 0, duplicates: 0, errors: [] }]);
      const stored = s.store.queryEvents({ tenant: 'tenant-200', limit: 1000 });
      expect(stored.map((r) => r.audit_id).sort()).toEqual(items.map((e) => e.auditID).sort());
      expect(stored.every((r) => r.cluster_name === 'kind-local')).toBe(true);
    });
  });

  it("answers the connector documentation's smoke test with 200 {accepted:0, rejected:0, ...}", async () => {
    const res = await post(s.server, '{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]}');

    expect(res.status).toBe(200);
    expect(await answer(res)).toEqual({ accepted: 0, rejected: 0, duplicates: 0, errors: [] });
  });

  it.skipIf(!hasCurl)("answers the connector documentation's curl command, run as written", async () => {
    const { stdout } = await execFileAsync('curl', [
      '-sS',
      '-X',
      'POST',
      `${s.server.url}/v1/ingest/k8s-audit/acme`,
      '-H',
      'Content-Type: application/json',
      '-H',
      `X-AiSOC-K8s-Token: ${SECRET}`,
      '-d',
      '{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]}',
    ]);

    expect(JSON.parse(stdout)).toEqual({ accepted: 0, rejected: 0, duplicates: 0, errors: [] });
  });

  it('counts a resent batch as duplicates and stores nothing twice', async () => {
    const items = uniqueFalcoEvents().map((e) => ({ ...e, auditID: `resend-${e.auditID}` }));

    const first = await answer(await post(s.server, eventList(items), {}, 'tenant-resend'));
    const second = await answer(await post(s.server, eventList(items), {}, 'tenant-resend'));

    expect([first.accepted, first.duplicates]).toEqual([items.length, 0]);
    expect([second.accepted, second.duplicates]).toEqual([0, items.length]);
    expect(s.store.countEvents({ tenant: 'tenant-resend' })).toBe(items.length);
  });

  it('takes gzip bodies', async () => {
    const items = uniqueFalcoEvents().slice(0, 10);

    const res = await post(s.server, gzipSync(eventList(items)), { 'Content-Encoding': 'gzip' }, 'tenant-gzip');

    expect((await answer(res)).accepted).toBe(10);
    expect(s.store.countEvents({ tenant: 'tenant-gzip' })).toBe(10);
  });

  it('answers 400 for a truncated gzip body', async () => {
    const res = await post(s.server, gzipSync(eventList(uniqueFalcoEvents())).subarray(0, 200), { 'Content-Encoding': 'gzip' });

    expect(res.status).toBe(400);
  });

  it('puts exactly the high-severity records in the alerts table', async () => {
    const items = uniqueFalcoEvents();

    await post(s.server, eventList(items), {}, 'tenant-alerts');

    const events = s.store.queryEvents({ tenant: 'tenant-alerts', limit: 1000 });
    const alerts = s.store.queryAlerts({ tenant: 'tenant-alerts', limit: 1000 });
    const high = events.filter((r) => r.severity === 'high');
    expect(high.length).toBeGreaterThan(5);
    expect(alerts.map((r) => r.dedup_key).sort()).toEqual(high.map((r) => r.dedup_key).sort());
  });

  it('reports item-level problems inside an EventList with 200', async () => {
    const items = [falcoEvent('create_secret.json'), { kind: 0 }, { verb: 'get' }];

    const body = await answer(await post(s.server, eventList(items), {}, 'tenant-items'));

    expect(body).toMatchObject({ rejected: 2, errors: [{ index: 1 }, { index: 2, reason: 'item has no auditID' }] });
  });

  it('answers 404 and 405 as JSON', async () => {
    const notFound = await fetch(`${s.server.url}/nope`, { method: 'POST' });
    const wrong = await fetch(`${s.server.url}/v1/ingest/k8s-audit/acme`);

    expect([notFound.status, wrong.status, wrong.headers.get('allow')]).toEqual([404, 405, 'POST']);
    expect(notFound.headers.get('content-type')).toMatch(/application\/json/);
  });

  it('logs one line per request without the secret', async () => {
    const before = s.logs.length;

    await post(s.server, EMPTY_EVENT_LIST, {}, 'tenant-log');

    const lines = s.logs.slice(before).filter((l) => l.msg === 'ingest request');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ tenant: 'tenant-log', status: 200, accepted: 0, bytes: EMPTY_EVENT_LIST.length });
    expect(JSON.stringify(s.logs)).not.toContain(SECRET);
  });
});

describe('a failing sink', () => {
  it('answers 503 with Retry-After, writes nothing of the batch, and takes the resend once the sink is back', async () => {
    const s = await start();
    try {
      const items = uniqueFalcoEvents();
      const poison = items[items.length - 1]?.auditID;
      s.store.db.exec(
        `CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.audit_id = '${poison}' BEGIN SELECT RAISE(ABORT, 'I/O error'); END`,
      );

      const failed = await post(s.server, eventList(items));
      const afterFailure = [s.store.countEvents(), s.store.countAlerts()];
      s.store.db.exec('DROP TRIGGER poison');
      const retried = await post(s.server, eventList(items));

      expect(failed.status).toBe(503);
      expect(Number(failed.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await failed.text()).not.toContain('I/O error');
      expect(afterFailure).toEqual([0, 0]);
      expect((await answer(retried)).accepted).toBe(items.length);
    } finally {
      await s.stop();
    }
  });
});

describe('secret rotation', () => {
  it('accepts old and new secrets while K8S_AUDIT_SHARED_SECRET_PREVIOUS is set, then only the new one', async () => {
    const during = await start({ K8S_AUDIT_SHARED_SECRET_PREVIOUS: PREVIOUS_SECRET });
    const statusesDuring = [
      (await post(during.server, EMPTY_EVENT_LIST, { 'X-AiSOC-K8s-Token': PREVIOUS_SECRET })).status,
      (await post(during.server, EMPTY_EVENT_LIST, { 'X-AiSOC-K8s-Token': SECRET })).status,
    ];
    await during.stop();
    const after = await start();
    const statusesAfter = [
      (await post(after.server, EMPTY_EVENT_LIST, { 'X-AiSOC-K8s-Token': PREVIOUS_SECRET })).status,
      (await post(after.server, EMPTY_EVENT_LIST, { 'X-AiSOC-K8s-Token': SECRET })).status,
    ];
    await after.stop();

    expect([statusesDuring, statusesAfter]).toEqual([
      [200, 200],
      [401, 200],
    ]);
  });
});

describe('closing', () => {
  it('lets an in-flight request finish, then refuses new connections and closes the store', async () => {
    const s = await start();
    const items = uniqueFalcoEvents();
    const body = eventList(items);
    let closing: Promise<void> = Promise.resolve();
    // Send the headers and part of the body, start closing, then send the rest.
    const inFlight = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest(`${s.server.url}/v1/ingest/k8s-audit/acme`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET, 'Content-Length': Buffer.byteLength(body) },
      });
      req.on('response', (res) => {
        let text = '';
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.write(body.slice(0, 1000));
      setTimeout(() => {
        closing = s.server.close();
        setTimeout(() => req.end(body.slice(1000)), 50);
      }, 50);
    });

    const result = await inFlight;
    await closing;
    const refused = await fetch(`${s.server.url}/healthz`).then(
      () => 'connected',
      () => 'refused',
    );

    expect(result.status).toBe(200);
    expect(JSON.parse(result.text).accepted).toBe(items.length);
    expect(refused).toBe('refused');
    expect(s.store.countEvents()).toBe(items.length);
    expect((s.server.service.writer.events as SqliteSink).store.db.open).toBe(false);
    await s.stop();
  });
});

describe('Expect: 100-continue', () => {
  function postExpecting(server: IngestServer, token: string, body: string): Promise<{ status: number; continued: boolean }> {
    return new Promise((resolve, reject) => {
      let continued = false;
      const req = httpRequest(`${server.url}/v1/ingest/k8s-audit/acme`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'X-AiSOC-K8s-Token': token,
          'Content-Length': Buffer.byteLength(body),
          Expect: '100-continue',
        },
      });
      req.on('continue', () => {
        continued = true;
        req.end(body);
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, continued }));
        if (!continued) req.destroy();
      });
      req.on('error', (err) => (continued ? reject(err) : undefined));
      req.flushHeaders();
    });
  }

  it('answers a refused request before the client uploads, and invites an accepted one to send', async () => {
    const s = await start();
    try {
      const body = eventList(uniqueFalcoEvents().slice(0, 3));

      const refused = await postExpecting(s.server, 'wrong-token', body);
      const accepted = await postExpecting(s.server, SECRET, body);

      expect(refused).toEqual({ status: 401, continued: false });
      expect(accepted).toEqual({ status: 200, continued: true });
    } finally {
      await s.stop();
    }
  });
});

describe('requests the HTTP parser refuses', () => {
  it('answers malformed HTTP with a JSON 400', async () => {
    const s = await start();
    try {
      const { port } = s.server;
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () =>
          socket.write('POST /v1/ingest/k8s-audit/acme HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n'),
        );
        let text = '';
        socket.on('data', (c) => {
          text += c.toString();
        });
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });

      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer).toMatch(/content-type: application\/json/i);
      expect(answer.slice(answer.indexOf('\r\n\r\n') + 4)).toBe('{"error":"bad request"}');
    } finally {
      await s.stop();
    }
  });
});
