// Senders that trickle their bodies (a byte at a time, each well inside the idle bound) against the
// built `serve` as its own process, over real sockets on 127.0.0.1: each is answered 408 once its
// body falls under K8S_AUDIT_BODY_MIN_RATE after K8S_AUDIT_BODY_RATE_GRACE_MS, long before the 60 s
// request timeout, and its admission slot is freed then; another tenant's real audit event (the
// public Falco k8s audit traces, test/helpers/fixtures.ts) is answered 200 and stored meanwhile.
// Small bounds keep it brief: a 1.5 s grace and 1 KiB/s, against a trickle of 4 bytes a second.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../lib/audit/index.js';
import { falcoEvent } from '../helpers/fixtures.js';
import { eventList, SECRET, storedEventCount, tempDataDir, uniqueFalcoEvents } from '../helpers/ingest.js';
import { buildServeBundle, type ServeProcess, spawnServe } from '../helpers/serve.js';
import { until } from '../helpers/until.js';

interface Trickle {
  received: () => string;
  closed: () => boolean;
  /** ms from the head's write to the socket's close. */
  closedAfterMs: () => number;
  socket: Socket;
}

/** A request declaring `length` body bytes that sends one byte of it every `everyMs`. */
function trickle(port: number, tenant: string, length: number, everyMs: number): Promise<Trickle> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let closedAt = 0;
    let timer: NodeJS.Timeout | undefined;
    const t0 = Date.now();
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
    });
    socket.on('close', () => {
      closedAt = Date.now();
      clearInterval(timer);
    });
    socket.on('error', () => {});
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.write(
        `POST /v1/ingest/k8s-audit/${tenant} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-AiSOC-K8s-Token: ${SECRET}\r\nContent-Length: ${length}\r\n\r\n{`,
      );
      timer = setInterval(() => {
        if (!socket.destroyed) socket.write(' ');
      }, everyMs);
      resolve({ socket, received: () => text, closed: () => closedAt !== 0, closedAfterMs: () => closedAt - t0 });
    });
  });
}

function post(url: string, tenant: string, events: AuditEvent[]): Promise<Response> {
  return fetch(`${url}/v1/ingest/k8s-audit/${tenant}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET },
    body: eventList(events),
  });
}

describe('serve against bodies that trickle', () => {
  let bundle: Awaited<ReturnType<typeof buildServeBundle>>;
  let tmp: ReturnType<typeof tempDataDir>;
  let serve: ServeProcess | undefined;
  const open: Socket[] = [];

  beforeAll(async () => {
    bundle = await buildServeBundle();
  }, 120_000);

  afterAll(async () => {
    for (const s of open.splice(0)) s.destroy();
    await serve?.stop();
    tmp?.remove();
    bundle?.cleanup();
  });

  const stored = (tenant: string): number => storedEventCount(tmp.dir, tenant);

  it('answers each 408 once it falls under K8S_AUDIT_BODY_MIN_RATE, frees its slot, and serves another tenant meanwhile', async () => {
    tmp = tempDataDir('aisoc-trickle-');
    serve = await spawnServe(bundle.cli, tmp.dir, {
      K8S_AUDIT_SHARED_SECRET: SECRET,
      // The 2-CPU defaults, set so the test means the same on a larger machine; the idle bound
      // stays at its default 10 s, which a byte every 250 ms never reaches.
      K8S_AUDIT_MAX_INFLIGHT_REQUESTS: '16',
      K8S_AUDIT_BODY_MIN_RATE: '1024',
      K8S_AUDIT_BODY_RATE_GRACE_MS: '1500',
    });
    const port = serve.port;
    // Tenant a: 16 requests declaring 100,000 bytes, each sending a byte every 250 ms.
    const trickles: Trickle[] = [];
    for (let i = 0; i < 16; i++) trickles.push(await trickle(port, 'tenant-a', 100_000, 250));
    open.push(...trickles.map((t) => t.socket));
    await new Promise((r) => setTimeout(r, 200));
    // They hold tenant a's whole share: its 17th request is refused before its body is read.
    const refused = await post(serve.url, 'tenant-a', uniqueFalcoEvents().slice(0, 1));
    expect(refused.status).toBe(429);

    // Tenant b posts a real audit event meanwhile: answered 200 and stored.
    const b = await post(serve.url, 'tenant-b', [falcoEvent('create_clusterrolebinding.json')]);
    expect(b.status).toBe(200);
    expect(await b.json()).toMatchObject({ accepted: 1 });
    expect(stored('tenant-b')).toBe(1);

    // Each trickle is cut with a 408 near the 1.5 s grace, far inside the 60 s request timeout
    // (and the 10 s idle bound, which none of them came near).
    await until(() => trickles.every((t) => t.closed()), 10_000);
    for (const t of trickles) {
      expect(t.received()).toMatch(/^HTTP\/1\.1 408 /);
      expect(t.received()).toMatch(/\r\nConnection: close\r\n/i);
      expect(t.received()).toMatch(/K8S_AUDIT_BODY_MIN_RATE/);
      expect(t.received()).toMatch(/nothing was stored/);
      expect(t.closedAfterMs()).toBeLessThan(10_000);
    }
    expect(serve.logs.filter((e) => e.message === 'request body too slow' && e.status === 408 && e.tenant === 'tenant-a')).toHaveLength(16);

    // The slots are free again: tenant a's next batch of real events is admitted and stored, and
    // nothing of the trickled bodies.
    const events = uniqueFalcoEvents();
    const ok = await post(serve.url, 'tenant-a', events);
    expect(ok.status).toBe(200);
    expect(stored('tenant-a')).toBe(events.length);
  }, 60_000);
});
