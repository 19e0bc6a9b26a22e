import { describe, expect, it } from 'vitest';
import { EMPTY_EVENT_LIST, inboxUrlFor, parseConnectorConfig, testConnection } from '../../../lib/tail/index.js';

interface Seen {
  url: string;
  headers: Record<string, string>;
  body: string;
}

function fakeFetch(status: number, body: unknown, seen: Seen[] = []): typeof fetch {
  return (async (url: string | URL | Request, init?: RequestInit) => {
    seen.push({ url: String(url), headers: init?.headers as Record<string, string>, body: String(init?.body) });
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
}

const webhook = (extra: Record<string, unknown> = {}) =>
  parseConnectorConfig({
    mode: 'webhook',
    cluster_name: 'prod',
    ingest_url: 'https://aisoc.example/v1/ingest/k8s-audit/acme',
    shared_secret: 's3cret',
    ...extra,
  });

describe('inboxUrlFor', () => {
  it('puts the inbox on the same host and stage prefix as the dedicated route', () => {
    expect(inboxUrlFor('https://api.example/prod/v1/ingest/k8s-audit/acme', 'aik8s_abc')).toBe(
      'https://api.example/prod/v1/inbox/aik8s_abc',
    );
  });

  it('falls back to the origin for any other URL', () => {
    expect(inboxUrlFor('http://127.0.0.1:8080/', 'aik8s_abc')).toBe('http://127.0.0.1:8080/v1/inbox/aik8s_abc');
  });
});

describe('testConnection', () => {
  it("POSTs the connector documentation's empty EventList with the token and cluster headers", async () => {
    const seen: Seen[] = [];

    const report = await testConnection(webhook(), { fetch: fakeFetch(200, { accepted: 0, rejected: 0 }, seen) });

    expect(report.ok).toBe(true);
    expect(seen).toEqual([
      {
        url: 'https://aisoc.example/v1/ingest/k8s-audit/acme',
        headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': 's3cret', 'X-AiSOC-Cluster-Name': 'prod' },
        body: EMPTY_EVENT_LIST,
      },
    ]);
  });

  it('tells a 503 from an unavailable sink apart from a missing shared secret', async () => {
    const report = await testConnection(webhook(), { fetch: fakeFetch(503, { error: 'events sink unavailable, retry later' }) });

    expect(report.checks[0]).toEqual({
      check: 'ingest-route',
      status: 'fail',
      message: 'the ingest answered HTTP 503: events sink unavailable, retry later',
    });
  });

  it('says the route is wrong on a 404', async () => {
    const report = await testConnection(webhook(), { fetch: fakeFetch(404, { error: 'not found' }) });

    expect(report.checks[0]?.message).toContain('ingest_url must be the full /v1/ingest/k8s-audit/<tenant_id> route');
  });

  it('fails the webhook check when there is no secret to test with', async () => {
    const report = await testConnection(
      parseConnectorConfig({ mode: 'webhook', cluster_name: 'prod', ingest_url: 'https://aisoc.example/v1/ingest/k8s-audit/acme' }),
    );

    expect(report.ok).toBe(false);
    expect(report.checks[0]?.message).toContain('set shared_secret (or K8S_AUDIT_SHARED_SECRET)');
  });

  it('says when the ingest does not answer in time', async () => {
    const hanging = ((_url: string, init?: RequestInit) =>
      new Promise((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal?.reason)))) as typeof fetch;

    const report = await testConnection(webhook(), { fetch: hanging, timeoutMs: 20 });

    expect(report.checks[0]?.message).toBe(
      'cannot reach the ingest at https://aisoc.example/v1/ingest/k8s-audit/acme: no answer within 20 ms',
    );
  });

  it('never shows the inbox token, even in the URL it names', async () => {
    const report = await testConnection(webhook({ inbox_token: 'aik8s_secret-token-value' }), { fetch: fakeFetch(200, {}) });

    expect(report.checks[0]?.message).toBe('the inbox route https://aisoc.example/v1/inbox/<token> is reachable and accepts the token');
    expect(JSON.stringify(report)).not.toContain('aik8s_secret-token-value');
  });
});

describe('testConnection and plain http', () => {
  it('sends neither the shared secret nor an inbox token over plain http to another host', async () => {
    const seen: Seen[] = [];
    const url = 'http://10.0.0.5:8080/v1/ingest/k8s-audit/acme';
    const dedicated = await testConnection(webhook({ ingest_url: url }), { fetch: fakeFetch(200, {}, seen) });
    const inbox = await testConnection(webhook({ ingest_url: url, inbox_token: 'aik8s_abcdefghijklmnop' }), {
      fetch: fakeFetch(200, {}, seen),
    });

    expect(seen).toEqual([]);
    for (const report of [dedicated, inbox]) {
      expect(report.ok).toBe(false);
      expect(report.checks[0]?.message).toMatch(
        /^not sent: ingest_url \(AISOC_INGEST_URL\) is plain http:\/\/ to 10\.0\.0\.5.*AISOC_ALLOW_INSECURE_HTTP=true/,
      );
    }
  });

  it('sends when AISOC_ALLOW_INSECURE_HTTP allows it, and to loopback always', async () => {
    const seen: Seen[] = [];
    const tls = { allowInsecureHttp: true, extraCa: null, clientCert: null, clientKey: null };
    const allowed = await testConnection(webhook({ ingest_url: 'http://10.0.0.5/v1/ingest/k8s-audit/acme' }), {
      fetch: fakeFetch(200, {}, seen),
      tls,
    });
    const loopback = await testConnection(webhook({ ingest_url: 'http://127.0.0.1:8080/v1/ingest/k8s-audit/acme' }), {
      fetch: fakeFetch(200, {}, seen),
    });
    expect([allowed.ok, loopback.ok]).toEqual([true, true]);
    expect(seen.map((s) => new URL(s.url).hostname)).toEqual(['10.0.0.5', '127.0.0.1']);
  });
});
