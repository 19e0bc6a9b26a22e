import { afterEach, describe, expect, it } from 'vitest';
import { type JoinedLines, type ShipOptions, type ShipResult, shipEvents } from '../../lib/ship/index.js';
import { auditIdOf, distinctLines, type Fault, type FaultServer, ok, startFaultServer, status } from '../helpers/ship.js';

const TOKEN = 's3cr3t-token-value-0123456789';

let server: FaultServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

interface Harness {
  opts: ShipOptions;
  sleeps: number[];
  logs: Record<string, unknown>[];
}

function harness(url: string, extra: Partial<ShipOptions> = {}): Harness {
  const sleeps: number[] = [];
  const logs: Record<string, unknown>[] = [];
  return {
    sleeps,
    logs,
    opts: {
      url,
      token: TOKEN,
      clusterName: 'prod-eks',
      maxEventsPerBatch: 50,
      requestTimeoutMs: 2_000,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      random: () => 0.5,
      log: (e) => logs.push(e),
      ...extra,
    },
  };
}

/** Every event is delivered or failed, never both, never neither; the counts match the stub. */
function expectAccounted(events: string[], result: ShipResult, srv: FaultServer): void {
  const failedIds = new Set(result.failed.map((f) => `evt-${f.index}`));
  const deliveredIds = new Set(srv.delivered);
  for (const [i] of events.entries()) {
    const id = `evt-${i}`;
    expect(deliveredIds.has(id) !== failedIds.has(id), `${id} delivered xor failed`).toBe(true);
  }
  expect(result.delivered + result.failed.length).toBe(events.length);
  expect(result.delivered).toBe(deliveredIds.size);
  expect(result.failed.map((f) => f.index)).toEqual([...new Set(result.failed.map((f) => f.index))].sort((a, b) => a - b));
  for (const f of result.failed) expect(f.auditID).toBe(`evt-${f.index}`);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/** The events as views of one buffer holding them joined by commas, as the tailer hands them over. */
function commaJoinedViews(events: readonly string[]): JoinedLines {
  const joined = Buffer.from(events.join(','));
  const views: Buffer[] = [];
  for (let at = 0, i = 0; i < events.length; i++) {
    const n = Buffer.byteLength(events[i] as string);
    views.push(joined.subarray(at, at + n));
    at += n + 1;
  }
  return { events: views, joined: views.map((_, i) => i > 0) };
}

describe('shipEvents', () => {
  it('POSTs EventLists with the token, cluster and content-type headers and sums the answers', async () => {
    server = await startFaultServer();
    const events = distinctLines(120);

    const result = await shipEvents(events, { ...harness(server.url).opts, source: { account: '123456789012', region: 'eu-west-1' } });

    expect(result).toMatchObject({ delivered: 120, failed: [], accepted: 120, batches: 3, retries: 0, oversize: 0 });
    expect(server.delivered).toEqual(events.map((_, i) => `evt-${i}`));
    const headers = server.requests[0]?.headers;
    expect(headers?.['x-aisoc-k8s-token']).toBe(TOKEN);
    expect(headers?.['x-aisoc-cluster-name']).toBe('prod-eks');
    expect(headers?.['x-aisoc-source-account']).toBe('123456789012');
    expect(headers?.['x-aisoc-source-region']).toBe('eu-west-1');
    expect(headers?.['content-type']).toBe('application/json');
    expect(result.bytes).toBe(server.requests.reduce((n, r) => n + r.bodyBytes, 0));
  });

  it('warns when a 2xx accounts for fewer items than were sent (something other than the ingest answered)', async () => {
    server = await startFaultServer(() => ({
      kind: 'answer',
      status: 200,
      body: JSON.stringify({ accepted: 1, rejected: 0, duplicates: 0 }),
    }));
    const h = harness(server.url);
    const result = await shipEvents(distinctLines(20), h.opts);

    expect(result).toMatchObject({ delivered: 20, accepted: 1 });
    expect(h.logs.filter((l) => l.msg === 'ingest answered 2xx with counts that do not add up to the events sent')).toEqual([
      expect.objectContaining({ level: 'warn', events: 20, counted: 1 }),
    ]);
    // An answer that adds up says nothing.
    await server.close();
    server = await startFaultServer();
    const quiet = harness(server.url);
    await shipEvents(distinctLines(20), quiet.opts);
    expect(quiet.logs.some((l) => String(l.msg).includes('do not add up'))).toBe(false);
  });

  it('gzips the body when asked', async () => {
    server = await startFaultServer();
    const events = distinctLines(30);

    const result = await shipEvents(events, harness(server.url, { gzip: true }).opts);

    expect(result.delivered).toBe(30);
    expect(server.requests[0]?.headers['content-encoding']).toBe('gzip');
    expect(server.delivered).toHaveLength(30);
  });

  it.each([
    ['as they are', {}],
    ['gzipped', { gzip: true }],
  ])("delivers events given as views of one comma-joined buffer (the tailer's lines), %s", async (_, extra) => {
    server = await startFaultServer();
    const events = distinctLines(120);
    const views = commaJoinedViews(events);

    const result = await shipEvents(views, harness(server.url, extra).opts);

    expect(result).toMatchObject({ delivered: 120, failed: [], batches: 3 });
    expect(server.delivered).toEqual(events.map((_, i) => `evt-${i}`));
    expect(server.requests[0]?.body).toBe(
      `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[${events.slice(0, 50).join(',')}]}`,
    );
    expect(result.bytes).toBe(server.requests.reduce((n, r) => n + r.bodyBytes, 0));
  });

  it('splits a batch of comma-joined views in half on 413 and still delivers every event in order', async () => {
    server = await startFaultServer((_n, req) => (req.auditIds.length > 12 ? status(413, 'too many items') : ok()));
    const events = distinctLines(100);
    const views = commaJoinedViews(events);

    const result = await shipEvents(views, harness(server.url).opts);

    expect(result.delivered).toBe(100);
    expect(server.delivered).toEqual(events.map((_, i) => `evt-${i}`));
  });

  it('retries 503 and 429 with full-jitter exponential backoff, honouring Retry-After', async () => {
    const faults: Record<number, Fault> = { 1: status(503), 2: status(503), 3: status(429, 'slow down', { 'retry-after': '2' }) };
    server = await startFaultServer((n) => faults[n] ?? ok());
    const events = distinctLines(40);
    const h = harness(server.url, { backoffBaseMs: 100, backoffCapMs: 1000 });

    const result = await shipEvents(events, h.opts);

    expect(result.delivered).toBe(40);
    expect(result.retries).toBe(3);
    // random() = 0.5: half of 100, 200, then the Retry-After of 2 s wins over half of 400.
    expect(h.sleeps).toEqual([50, 100, 2000]);
    expectAccounted(events, result, server);
  });

  it('splits a batch in half on 413 until the ingest takes it', async () => {
    server = await startFaultServer((_n, req) => (req.auditIds.length > 12 ? status(413, 'too many items') : ok()));
    const events = distinctLines(100);

    const result = await shipEvents(events, harness(server.url).opts);

    expect(result.delivered).toBe(100);
    expect(result.failed).toEqual([]);
    expect(server.delivered).toEqual(events.map((_, i) => `evt-${i}`));
    expect(Math.max(...server.requests.filter((r) => r.answered === 200).map((r) => r.auditIds.length))).toBeLessThanOrEqual(12);
  });

  it('fails a single event the ingest still answers 413 for, and counts it oversize', async () => {
    server = await startFaultServer((_n, req) => (req.auditIds.includes('evt-7') ? status(413, 'body too large') : ok()));
    const events = distinctLines(20);

    const result = await shipEvents(events, harness(server.url).opts);

    expect(result.delivered).toBe(19);
    expect(result.oversize).toBe(1);
    expect(result.failed).toEqual([
      expect.objectContaining({ index: 7, auditID: 'evt-7', status: 413, retryable: false, kind: 'oversize' }),
    ]);
    expectAccounted(events, result, server);
  });

  it('stops with a configuration error, passing nothing over, when a body smaller than any ingest cap is refused as too large', async () => {
    // A proxy or WAF in front of the ingest with a tiny body limit answers 413 to everything.
    server = await startFaultServer(() => status(413, 'Request Entity Too Large'));
    const events = Array.from(
      { length: 10 },
      (_, i) =>
        `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"small-${i}","stage":"ResponseComplete","verb":"get","user":{"username":"a"}}`,
    );
    const h = harness(server.url);

    const result = await shipEvents(events, { ...h.opts, stopOnFailure: true });

    expect(result.delivered).toBe(0);
    expect(result.oversize).toBe(0);
    expect(result.failed).toHaveLength(10);
    expect(result.failed.every((f) => f.kind !== 'oversize')).toBe(true);
    expect(result.failed[0]).toMatchObject({ kind: 'config', status: 413, retryable: false });
    expect(result.failed[0]?.reason).toMatch(/which no AiSOC ingest does .*check the body size limit of what sits in front of the ingest/);
    expect(h.logs.some((l) => l.msg === 'event too large for the ingest')).toBe(false);
  });

  it('fails an event bigger than the byte cap without sending it', async () => {
    server = await startFaultServer();
    const events = distinctLines(5);
    events[3] = (events[3] as string).replace('"kind":"Event"', `"kind":"Event","pad":"${'p'.repeat(50_000)}"`);

    const result = await shipEvents(events, harness(server.url, { maxBodyBytes: 40_000 }).opts);

    expect(result.oversize).toBe(1);
    expect(result.failed).toEqual([expect.objectContaining({ index: 3, retryable: false })]);
    expect(result.failed[0]?.reason).toMatch(/over the 40000-byte cap/);
    expectAccounted(events, result, server);
  });

  it('resends at once, without backoff, after a connection reset on a reused socket', async () => {
    server = await startFaultServer((n) => (n === 2 ? { kind: 'reset' } : ok()));
    const events = distinctLines(100);
    const h = harness(server.url);

    const result = await shipEvents(events, h.opts);

    expect(result.delivered).toBe(100);
    expect(result.retries).toBe(1);
    expect(h.sleeps).toEqual([]);
    expect(h.logs.some((l) => l.msg === 'stale keep-alive socket, resending at once')).toBe(true);
    expectAccounted(events, result, server);
  });

  it('backs off after a second reset in a row and gives up after maxAttempts', async () => {
    server = await startFaultServer((_n, req) => (req.auditIds.includes('evt-60') ? { kind: 'reset' } : ok()));
    const events = distinctLines(100);
    const h = harness(server.url, { maxAttempts: 3 });

    const result = await shipEvents(events, h.opts);

    expect(result.delivered).toBe(50);
    expect(result.failed).toHaveLength(50);
    expect(result.failed[0]).toMatchObject({ index: 50, retryable: true, kind: 'gave-up' });
    expect(result.failed[0]?.reason).toMatch(/gave up after 3 attempts/);
    // One immediate stale-socket resend, then two backoff sleeps.
    expect(h.sleeps).toHaveLength(2);
    expect(result.retries).toBe(3);
    expectAccounted(events, result, server);
  });

  it('times out a stalled request and retries it', async () => {
    server = await startFaultServer((n) => (n === 1 ? { kind: 'stall' } : ok()));
    const events = distinctLines(10);

    const result = await shipEvents(events, harness(server.url, { requestTimeoutMs: 150 }).opts);

    expect(result.delivered).toBe(10);
    expect(result.retries).toBe(1);
    expect(server.requests.map((r) => r.answered)).toEqual(['stall', 200]);
  });

  it('does not retry 401, says it is a configuration error, and sends nothing more', async () => {
    server = await startFaultServer(() => status(401, `token ${TOKEN} is not valid`));
    const events = distinctLines(120);
    const h = harness(server.url);

    const result = await shipEvents(events, h.opts);

    expect(server.requests).toHaveLength(1);
    expect(result.delivered).toBe(0);
    expect(result.failed).toHaveLength(120);
    expect(result.failed[0]).toMatchObject({ status: 401, retryable: false, kind: 'config' });
    expect(result.failed[60]).toMatchObject({ kind: 'stopped' });
    expect(result.failed[0]?.reason).toMatch(/^configuration error: the token was refused/);
    expect(result.failed[0]?.reason).toContain("or this tenant's own secret when the ingest has one");
    expect(result.failed[60]?.reason).toMatch(/not sent: an earlier batch failed with a configuration error/);
    expect(JSON.stringify(result)).not.toContain(TOKEN);
    expect(JSON.stringify(h.logs)).not.toContain(TOKEN);
    expectAccounted(events, result, server);
  });

  it.each([400, 403])('does not retry %i and names it a configuration error', async (code) => {
    server = await startFaultServer(() => status(code));
    const events = distinctLines(10);

    const result = await shipEvents(events, harness(server.url).opts);

    expect(server.requests).toHaveLength(1);
    expect(result.retries).toBe(0);
    expect(result.failed.every((f) => f.reason.startsWith('configuration error') && !f.retryable)).toBe(true);
  });

  it('stops at the deadline mid-batch and fails what was not sent, as retryable', async () => {
    let left = 60_000;
    server = await startFaultServer((n) => {
      if (n === 2) left = 2_000;
      return ok();
    });
    const events = distinctLines(200);

    const result = await shipEvents(events, harness(server.url, { remainingTimeMs: () => left, safetyMarginMs: 3_000 }).opts);

    expect(result.delivered).toBe(100);
    expect(result.failed).toHaveLength(100);
    expect(result.failed.every((f) => f.retryable && f.kind === 'deadline' && /deadline/.test(f.reason))).toBe(true);
    expectAccounted(events, result, server);
  });

  it('does not start a backoff that would end past the deadline', async () => {
    server = await startFaultServer(() => status(503));
    const events = distinctLines(10);
    const h = harness(server.url, { remainingTimeMs: () => 3_400, safetyMarginMs: 3_000, backoffBaseMs: 1_000 });

    const result = await shipEvents(events, h.opts);

    expect(server.requests).toHaveLength(1);
    expect(h.sleeps).toEqual([]);
    expect(result.failed[0]?.reason).toMatch(/not delivered before the deadline \(last: HTTP 503/);
  });

  it('with stopOnFailure, sends nothing after the first batch it could not deliver', async () => {
    server = await startFaultServer((_n, req) => (req.auditIds.includes('evt-50') ? status(500) : ok()));
    const events = distinctLines(200);

    const result = await shipEvents(events, harness(server.url, { stopOnFailure: true, maxAttempts: 2 }).opts);

    expect(result.delivered).toBe(50);
    expect(result.failed.map((f) => f.index)).toEqual(events.map((_, i) => i).slice(50));
    expect(server.requests.filter((r) => r.auditIds.includes('evt-100'))).toEqual([]);
    expectAccounted(events, result, server);
  });

  it('with stopOnFailure and batches in flight, lets them finish and starts none after the failure', async () => {
    // Batches 0 and 2 are answered 200 after the failure of batch 1 is known.
    server = await startFaultServer((_n, req) =>
      req.auditIds.includes('evt-50') ? status(500) : { kind: 'answer', status: 200, delayMs: 150 },
    );
    const events = distinctLines(300);

    const result = await shipEvents(events, harness(server.url, { stopOnFailure: true, concurrency: 3, maxAttempts: 1 }).opts);

    expect(server.requests.map((r) => r.auditIds[0]).sort()).toEqual(['evt-0', 'evt-100', 'evt-50']);
    expect(result.delivered).toBe(100);
    expect(server.delivered.slice().sort()).toEqual([...events.slice(0, 50), ...events.slice(100, 150)].map(auditIdOf).sort());
    // The caller resumes at the lowest failed index: events 100-149 are then sent again.
    expect(result.failed[0]).toMatchObject({ index: 50, kind: 'gave-up', status: 500 });
    expect(result.failed.map((f) => f.index)).toEqual([...range(50, 100), ...range(150, 300)]);
    expect(result.failed.filter((f) => f.index >= 150).every((f) => f.kind === 'stopped')).toBe(true);
    expectAccounted(events, result, server);
  });

  it('accounts for every event under mixed faults with several batches in flight', async () => {
    const faults: Fault[] = [ok(), status(503), { kind: 'reset' }, status(429), ok(), status(502), { kind: 'stall' }, ok()];
    server = await startFaultServer((n, req) =>
      req.auditIds.length > 30 && n % 5 === 0 ? status(413) : (faults[n % faults.length] as Fault),
    );
    const events = distinctLines(500);

    const result = await shipEvents(events, harness(server.url, { concurrency: 4, maxAttempts: 4, requestTimeoutMs: 200 }).opts);

    expectAccounted(events, result, server);
    expect(result.delivered).toBeGreaterThan(0);
  });
});

describe('shipEvents with events as bytes', () => {
  it('sends UTF-8 bytes as they are, mixed with strings', async () => {
    server = await startFaultServer();
    const lines = distinctLines(5).map((l) => l.replace('"username":"', '"username":"名前-'));
    const events = lines.map((l, i) => (i % 2 === 0 ? Buffer.from(l, 'utf8') : l));

    const result = await shipEvents(events, harness(server.url).opts);

    expect(result.delivered).toBe(5);
    expect(server.requests[0]?.body).toBe(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[${lines.join(',')}]}`);
    expect(result.bytes).toBe(Buffer.byteLength(server.requests[0]?.body ?? ''));
  });
});
