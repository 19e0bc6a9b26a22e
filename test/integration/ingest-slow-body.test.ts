// A sender that stops mid-body, over real sockets on 127.0.0.1 against the local server: its
// request is answered 408 once no byte has arrived for K8S_AUDIT_BODY_IDLE_TIMEOUT_MS, and its
// admission slot is freed then, not at the 60 s request timeout; and while one tenant's stalled
// requests fill the shared admission bounds, another tenant's request is admitted from the reserve
// (lib/ingest/admission.ts). The events posted are the real Falco fixture events
// (test/helpers/fixtures.ts, a copy of the public falco k8s audit traces).
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../lib/audit/index.js';
import { withSharedSecret } from '../../lib/config/ingest.js';
import { type IngestServer, startIngestServer } from '../../lib/ingest/adapters/server.js';
import { falcoEvent } from '../helpers/fixtures.js';
import { eventList, ingestConfig, SECRET, storedEventCount, tempDataDir, uniqueFalcoEvents } from '../helpers/ingest.js';
import { until } from '../helpers/until.js';

/** A raw request: its head declaring `length` body bytes and the first `sent` bytes of the body; the rest is never sent. */
interface Stalled {
  socket: Socket;
  received: () => string;
  closed: () => boolean;
}

function stall(server: IngestServer, tenant: string, length: number, sent: string, secret = SECRET): Promise<Stalled> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1');
    let text = '';
    let closed = false;
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
    });
    socket.on('close', () => {
      closed = true;
    });
    socket.on('error', () => {});
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.write(
        `POST /v1/ingest/k8s-audit/${tenant} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-AiSOC-K8s-Token: ${secret}\r\nContent-Length: ${length}\r\n\r\n${sent}`,
      );
      resolve({ socket, received: () => text, closed: () => closed });
    });
  });
}

function post(server: IngestServer, tenant: string, events: AuditEvent[], secret = SECRET): Promise<Response> {
  return fetch(`${server.url}/v1/ingest/k8s-audit/${tenant}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': secret },
    body: eventList(events),
  });
}

describe('a request body that stalls', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let server: IngestServer;
  let logs: Record<string, unknown>[];
  const open: Socket[] = [];

  async function start(env: Record<string, string>, tenantSecrets?: Record<string, string>): Promise<void> {
    tmp = tempDataDir('aisoc-slow-body-');
    logs = [];
    const secretsEnv: Record<string, string> = {};
    if (tenantSecrets !== undefined) {
      secretsEnv.K8S_AUDIT_TENANT_SECRETS_FILE = join(tmp.dir, 'tenant-secrets.json');
      writeFileSync(secretsEnv.K8S_AUDIT_TENANT_SECRETS_FILE, JSON.stringify(tenantSecrets), { mode: 0o600 });
    }
    const config = await withSharedSecret(ingestConfig({ AISOC_DATA_DIR: tmp.dir, ...secretsEnv, ...env }));
    server = await startIngestServer({ config, log: (e) => logs.push(e) });
  }

  afterEach(async () => {
    for (const s of open.splice(0)) s.destroy();
    await server?.close();
    tmp?.remove();
  });

  const stored = (tenant: string): number => storedEventCount(tmp.dir, tenant);

  it('is answered 408 once no byte arrives for K8S_AUDIT_BODY_IDLE_TIMEOUT_MS, and its slot is freed', async () => {
    await start({ K8S_AUDIT_MAX_INFLIGHT_REQUESTS: '2', K8S_AUDIT_BODY_IDLE_TIMEOUT_MS: '500' });
    // Two senders declare 100,000 bytes and send the first few of an EventList, then nothing.
    const stalled = [await stall(server, 'acme', 100_000, '{"kind":"EventList",'), await stall(server, 'acme', 100_000, '{"ki')];
    open.push(...stalled.map((s) => s.socket));
    // Their heads are read (and their slots taken) before the next request arrives.
    await new Promise((r) => setTimeout(r, 100));
    // They hold both slots: a third request is refused at once.
    const refused = await post(server, 'acme', uniqueFalcoEvents().slice(0, 1));
    expect(refused.status).toBe(429);

    // Well before the 60 s request timeout, each is answered 408 and its connection closed.
    await until(() => stalled.every((s) => s.closed()), 10_000);
    for (const s of stalled) {
      expect(s.received()).toMatch(/^HTTP\/1\.1 408 /);
      expect(s.received()).toMatch(/\r\nConnection: close\r\n/i);
      expect(s.received()).toMatch(/K8S_AUDIT_BODY_IDLE_TIMEOUT_MS/);
      expect(s.received()).toMatch(/nothing was stored/);
    }
    expect(logs.filter((e) => e.msg === 'request body stalled' && e.status === 408)).toHaveLength(2);

    // The slots are free again: a whole batch of real events is admitted and stored, and nothing
    // of the stalled bodies.
    const events = uniqueFalcoEvents();
    const ok = await post(server, 'acme', events);
    expect(ok.status).toBe(200);
    expect(stored('acme')).toBe(events.length);
  });

  it('is not cut while its bytes keep arriving, however slowly in all', async () => {
    await start({ K8S_AUDIT_BODY_IDLE_TIMEOUT_MS: '1000' });
    const events = uniqueFalcoEvents().slice(0, 5);
    const body = Buffer.from(eventList(events));
    const s = await stall(server, 'acme', body.length, '');
    open.push(s.socket);
    // The body in four parts 300 ms apart: 1.2 s in all, past the bound, but never idle that long.
    const parts = 4;
    const size = Math.ceil(body.length / parts);
    for (let i = 0; i < parts; i++) {
      await new Promise((r) => setTimeout(r, 300));
      s.socket.write(body.subarray(i * size, (i + 1) * size));
    }
    await until(() => /"accepted":\d+/.test(s.received()), 10_000);
    expect(s.received()).toMatch(/^HTTP\/1\.1 200 /);
    expect(stored('acme')).toBe(events.length);
  });
  it("of one tenant filling every shared slot do not refuse another tenant's request, which is admitted from the reserve", async () => {
    // The 2-CPU defaults (16 requests: the apiserver's burst of 15 from one cluster fits), set
    // here so the test means the same on a larger machine; a short idle bound to keep it brief.
    await start({ K8S_AUDIT_MAX_INFLIGHT_REQUESTS: '16', K8S_AUDIT_BODY_IDLE_TIMEOUT_MS: '3000' });
    // Tenant a: 16 requests declaring 100,000 bytes that send a few, then nothing.
    const stalled: Stalled[] = [];
    for (let i = 0; i < 16; i++) stalled.push(await stall(server, 'tenant-a', 100_000, '{"kind":"EventList",'));
    open.push(...stalled.map((s) => s.socket));
    await new Promise((r) => setTimeout(r, 100));
    // a holds its whole share: its 17th request is refused at once, before its body is read.
    const seventeenth = await post(server, 'tenant-a', uniqueFalcoEvents().slice(0, 1));
    expect(seventeenth.status).toBe(429);
    expect(seventeenth.headers.get('retry-after')).toBe('2');

    // Tenant b posts a real audit event meanwhile: admitted from the reserve, stored.
    const event = falcoEvent('create_clusterrolebinding.json');
    const b = await post(server, 'tenant-b', [event]);
    expect(b.status).toBe(200);
    expect(await b.json()).toMatchObject({ accepted: 1 });
    expect(stored('tenant-b')).toBe(1);
    // None of a's requests was answered yet: b did not get in by a slot a gave back.
    expect(stalled.every((s) => s.received() === '')).toBe(true);

    // a's stalled requests are answered 408 once their bodies have been idle for the bound.
    await until(() => stalled.every((s) => s.closed()), 15_000);
    for (const s of stalled) expect(s.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(stored('tenant-a')).toBe(0);
  });

  it('by the holder of the installation-wide secret, spread over invented tenant ids, take one reserved slot, not the reserve of tenants with their own secrets', async () => {
    // Tenants with their own secrets (K8S_AUDIT_TENANT_SECRETS_FILE); every other tenant id is
    // opened by the installation-wide secret, so its holder is one party whatever ids it writes under.
    const own = { 'tenant-b': 'tenant-b-own-secret-0123456789abcdef', 'tenant-c': 'tenant-c-own-secret-0123456789abcdef' };
    await start({ K8S_AUDIT_MAX_INFLIGHT_REQUESTS: '16', K8S_AUDIT_BODY_IDLE_TIMEOUT_MS: '3000' }, own);
    // The holder fills the shared bounds under one tenant id (16 stalled bodies)...
    const stalled: Stalled[] = [];
    for (let i = 0; i < 16; i++) stalled.push(await stall(server, 'shared-a', 100_000, '{"kind":"EventList",'));
    // ...then tries the reserve (4 requests) under four tenant ids it made up.
    for (let i = 1; i <= 4; i++) stalled.push(await stall(server, `invented-${i}`, 100_000, '{"kind":"EventList",'));
    open.push(...stalled.map((s) => s.socket));
    await new Promise((r) => setTimeout(r, 200));
    // The first invented id got the one reserved slot of that party; the other three the 429 at once.
    const answeredAtOnce = stalled.slice(17).map((s) => s.received());
    for (const text of answeredAtOnce) expect(text).toMatch(/^HTTP\/1\.1 429 /);
    expect(stalled[16]?.received()).toBe('');

    // Each tenant with its own secret posts a real audit event meanwhile, at once: both admitted
    // from the reserve and stored (before, the four invented ids held the whole reserve: 429).
    const [b, c] = await Promise.all([
      post(server, 'tenant-b', [falcoEvent('create_clusterrolebinding.json')], own['tenant-b']),
      post(server, 'tenant-c', [falcoEvent('create_configmap.json')], own['tenant-c']),
    ]);
    expect(b.status).toBe(200);
    expect(c.status).toBe(200);
    expect(stored('tenant-b')).toBe(1);
    expect(stored('tenant-c')).toBe(1);

    await until(() => stalled.every((s) => s.closed()), 15_000);
    expect(stored('shared-a') + stored('invented-1')).toBe(0);
  });
});
