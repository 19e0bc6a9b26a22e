import { describe, expect, it } from 'vitest';
import { forwardAksMessages, packRecords } from '../../../lib/azure/forward.js';
import { loadAksForwarderConfig } from '../../../lib/config/aks-forwarder.js';
import { aksBody, aksRecord, aksRow } from '../../helpers/clouds.js';
import { uniqueFalcoEvents } from '../../helpers/ingest.js';

const URL = 'https://aisoc.example.com/v1/ingest/k8s-audit/acme';
const TOKEN = 'aks-forwarder-secret-0123456789';

/** A stand-in ingest: answers from a script, records what it was sent. */
function ingest(answers: (() => Response)[]) {
  const sent: { headers: Headers; body: { records: unknown[] } }[] = [];
  const fetch = (async (_url: string, init: RequestInit) => {
    sent.push({ headers: new Headers(init.headers), body: JSON.parse(String(init.body)) });
    const next = answers.shift() ?? (() => Response.json({ accepted: 0, rejected: 0, duplicates: 0, errors: [] }));
    return next();
  }) as unknown as typeof globalThis.fetch;
  return { sent, fetch };
}

const ok = (accepted: number) => () => Response.json({ accepted, rejected: 0, duplicates: 0, errors: [] });
const messages = (n: number) => [
  aksBody(
    uniqueFalcoEvents()
      .slice(0, n)
      .map((e) => aksRecord(e, 'prod-aks')),
  ),
];

describe('forwardAksMessages', () => {
  it('sends only the audit records, with the shared secret, and counts the rest', async () => {
    const { sent, fetch } = ingest([ok(3)]);
    const batch = [
      ...messages(3),
      aksBody([aksRecord('I0501 plain klog text', 'prod-aks', 'kube-apiserver')]),
      'not json',
      { records: 'nope' },
    ];

    const report = await forwardAksMessages(batch, { url: URL, token: TOKEN, fetch });

    expect(report).toMatchObject({ messages: 4, records: 3, accepted: 3, skipped: 1, unreadable: 2, bodies: 1, failure: null });
    expect(sent).toHaveLength(1);
    expect(sent[0]?.headers.get('x-aisoc-k8s-token')).toBe(TOKEN);
    expect(sent[0]?.body.records).toHaveLength(3);
  });

  it('sends AKSAudit rows a Log Analytics data export puts on the hub, and skips rows of other tables', async () => {
    // Before, a row (no category) was counted as skipped and never reached the ingest.
    const { sent, fetch } = ingest([ok(2)]);
    const rows = uniqueFalcoEvents()
      .slice(0, 2)
      .map((e, i) => aksRow(e, 'prod-aks', { table: i === 0 ? 'AKSAudit' : 'AKSAuditAdmin' }));
    const batch = [aksBody([...rows, { TimeGenerated: '2025-05-30T18:02:53Z', Type: 'AKSControlPlane', Message: 'I0530' }])];

    const report = await forwardAksMessages(batch, { url: URL, token: TOKEN, fetch });

    expect(report).toMatchObject({ messages: 1, records: 2, accepted: 2, skipped: 1, failure: null });
    expect(sent[0]?.body.records).toEqual(rows);
  });

  it('takes messages the host already parsed, and bytes', async () => {
    const { sent, fetch } = ingest([ok(2)]);
    const [text] = messages(2) as [string];
    await forwardAksMessages([JSON.parse(text), Buffer.from(text)], { url: URL, token: TOKEN, fetch });
    expect(sent[0]?.body.records).toHaveLength(4);
  });

  it('retries 503 with backoff, honouring Retry-After, then delivers', async () => {
    const { sent, fetch } = ingest([() => new Response('{"error":"busy"}', { status: 503, headers: { 'retry-after': '2' } }), ok(3)]);
    const sleeps: number[] = [];
    const report = await forwardAksMessages(messages(3), { url: URL, token: TOKEN, fetch, sleep: async (ms) => void sleeps.push(ms) });
    expect(report).toMatchObject({ accepted: 3, failure: null });
    expect(sent).toHaveLength(2);
    expect(sleeps).toEqual([2000]);
  });

  it('reports a failure, never the secret, when the ingest refuses the token (the invocation is retried later)', async () => {
    const { sent, fetch } = ingest([() => Response.json({ error: `X-AiSOC-K8s-Token does not match ${TOKEN}` }, { status: 401 })]);
    const report = await forwardAksMessages(messages(3), { url: URL, token: TOKEN, fetch, sleep: async () => {} });
    expect(sent).toHaveLength(1);
    expect(report.failure).toMatch(/^HTTP 401/);
    expect(report.failure).not.toContain(TOKEN);
  });

  it('gives up after its attempts and reports the last answer', async () => {
    const fail = () => new Response('{"error":"down"}', { status: 502 });
    const { sent, fetch } = ingest([fail, fail, fail, fail]);
    const report = await forwardAksMessages(messages(1), { url: URL, token: TOKEN, fetch, sleep: async () => {}, maxAttempts: 4 });
    expect(sent).toHaveLength(4);
    expect(report.failure).toMatch(/^HTTP 502/);
  });
});

describe('packRecords', () => {
  it('keeps each body under the byte cap and the record cap, and every record in exactly one body', () => {
    const records = Array.from({ length: 50 }, (_, i) => JSON.stringify({ category: 'kube-audit', n: i, pad: 'x'.repeat(900) }));
    const groups = packRecords(records, 10_000);
    expect(groups.length).toBeGreaterThan(4);
    for (const g of groups) expect(Buffer.byteLength(`{"records":[${g.join(',')}]}`)).toBeLessThanOrEqual(10_000);
    expect(groups.flat()).toEqual(records);
    const small = Array.from({ length: 25 }, (_, i) => JSON.stringify({ n: i }));
    expect(packRecords(small, 1_000_000, 10).map((g) => g.length)).toEqual([10, 10, 5]);
  });
});

describe('forwardAksMessages on a 413', () => {
  it('splits the body until the ingest takes it, passes over a record refused alone, and never fails the invocation for either', async () => {
    const sizes: number[] = [];
    const fetch = (async (_url: string, init: RequestInit) => {
      const body = JSON.parse(String(init.body)) as { records: { properties: { log: string } }[] };
      sizes.push(body.records.length);
      // An ingest whose batch cap is 4 records, and which refuses any body holding one record (auditID big-…) as too large.
      if (body.records.length > 4 || body.records.some((r) => r.properties.log.includes('big-')))
        return Response.json({ error: 'request body is too large' }, { status: 413 });
      return Response.json({ accepted: body.records.length, rejected: 0, duplicates: 0, errors: [] });
    }) as unknown as typeof globalThis.fetch;
    const events = uniqueFalcoEvents().slice(0, 9);
    events[5] = { ...(events[5] as (typeof events)[number]), auditID: `big-${'x'.repeat(2000)}` };
    const logs: Record<string, unknown>[] = [];

    const report = await forwardAksMessages([aksBody(events.map((e) => aksRecord(e, 'prod-aks')))], {
      url: URL,
      token: TOKEN,
      fetch,
      log: (e) => logs.push(e),
      sleep: async () => {},
    });

    expect(report).toMatchObject({ accepted: 8, oversize: 1, failure: null });
    expect(logs.some((l) => l.msg === 'a record too large for the ingest was passed over')).toBe(true);
    expect(Math.max(...sizes)).toBe(9);
  });

  it('halves each refused body, the first half taking the odd record, in the order the records came', async () => {
    const bodies: string[][] = [];
    const fetch = (async (_url: string, init: RequestInit) => {
      const body = JSON.parse(String(init.body)) as { records: { properties: { log: string } }[] };
      bodies.push(body.records.map((r) => (JSON.parse(r.properties.log) as { auditID: string }).auditID));
      // An ingest whose batch cap is 2 records.
      if (body.records.length > 2) return Response.json({ error: 'request body is too large' }, { status: 413 });
      return Response.json({ accepted: body.records.length, rejected: 0, duplicates: 0, errors: [] });
    }) as unknown as typeof globalThis.fetch;
    const events = uniqueFalcoEvents().slice(0, 5);
    const ids = events.map((e) => e.auditID);

    const report = await forwardAksMessages(messages(5), { url: URL, token: TOKEN, fetch, log: () => {}, sleep: async () => {} });

    expect(report).toMatchObject({ accepted: 5, oversize: 0, failure: null });
    expect(bodies).toEqual([ids, ids.slice(0, 3), ids.slice(0, 2), ids.slice(2, 3), ids.slice(3, 5)]);
  });

  it('fails the invocation (a configuration error, retried) when a body smaller than any ingest cap is refused', async () => {
    const fetch = (async () => new Response('Request Entity Too Large', { status: 413 })) as unknown as typeof globalThis.fetch;
    const tiny = aksBody([aksRecord({ kind: 'Event', auditID: 'a', verb: 'get' } as never, 'c')]);
    const report = await forwardAksMessages([tiny], { url: URL, token: TOKEN, fetch, sleep: async () => {} });
    expect(report.oversize).toBe(0);
    expect(report.failure).toMatch(/^HTTP 413/);
  });
});

describe('loadAksForwarderConfig', () => {
  it('needs the tenant route and the secret, naming both', () => {
    expect(() => loadAksForwarderConfig({})).toThrow(/AISOC_INGEST_URL is required.*K8S_AUDIT_SHARED_SECRET is required/);
    expect(() => loadAksForwarderConfig({ AISOC_INGEST_URL: 'https://h/v1/other', K8S_AUDIT_SHARED_SECRET: 's' })).toThrow(
      /full tenant route/,
    );
    expect(loadAksForwarderConfig({ AISOC_INGEST_URL: URL, K8S_AUDIT_SHARED_SECRET: ' s \n' })).toEqual({
      ingestUrl: URL,
      tls: { allowInsecureHttp: false, extraCa: null, clientCert: null, clientKey: null },
      token: 's',
      maxBodyBytes: 3 * 1024 * 1024,
    });
  });
});

describe('forwardAksMessages and plain http', () => {
  it('sends no secret over http to a non-loopback host, failing the invocation with what to set', async () => {
    const { sent, fetch } = ingest([ok(3)]);
    const report = await forwardAksMessages(messages(3), { url: 'http://10.0.0.5/v1/ingest/k8s-audit/acme', token: TOKEN, fetch });
    expect(sent).toEqual([]);
    expect(report.failure).toContain('AISOC_INGEST_URL is plain http:// to 10.0.0.5');
    expect(report.failure).toContain('AISOC_ALLOW_INSECURE_HTTP=true');
    expect(report.failure).not.toContain(TOKEN);
  });

  it('sends when AISOC_ALLOW_INSECURE_HTTP allows it', async () => {
    const { sent, fetch } = ingest([ok(3)]);
    const tls = loadAksForwarderConfig({
      AISOC_INGEST_URL: 'http://10.0.0.5/v1/ingest/k8s-audit/acme',
      K8S_AUDIT_SHARED_SECRET: TOKEN,
      AISOC_ALLOW_INSECURE_HTTP: 'true',
    }).tls;
    const report = await forwardAksMessages(messages(3), { url: 'http://10.0.0.5/v1/ingest/k8s-audit/acme', token: TOKEN, tls, fetch });
    expect(report.failure).toBeNull();
    expect(sent).toHaveLength(1);
  });

  it('refuses the setting at start without AISOC_ALLOW_INSECURE_HTTP', () => {
    expect(() =>
      loadAksForwarderConfig({ AISOC_INGEST_URL: 'http://10.0.0.5/v1/ingest/k8s-audit/acme', K8S_AUDIT_SHARED_SECRET: TOKEN }),
    ).toThrow(/AISOC_INGEST_URL is plain http:\/\/ to 10\.0\.0\.5/);
  });
});
