// `aisoc-k8s-audit serve` as a self-hosted install runs it: a real process, scraped on GET /metrics
// while real audit events (Falco's public samples) are posted, and read through its stderr log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INGEST_METRICS } from '../../lib/metrics/names.js';
import { EMPTY_EVENT_LIST, eventList, SECRET, tempDataDir, uniqueFalcoEvents } from '../helpers/ingest.js';
import { buildServeBundle, type ServeProcess, spawnServe } from '../helpers/serve.js';

let cli: { cli: string; cleanup: () => void };
let tmp: ReturnType<typeof tempDataDir>;
let serve: ServeProcess;

beforeAll(async () => {
  cli = await buildServeBundle();
  tmp = tempDataDir('aisoc-serve-metrics-');
  serve = await spawnServe(cli.cli, tmp.dir, { K8S_AUDIT_SHARED_SECRET: SECRET });
});

afterAll(async () => {
  await serve?.stop();
  tmp?.remove();
  cli?.cleanup();
});

/** One scrape: the content type, and each unlabelled sample by name (histograms by their _sum and _count). */
async function scrape(): Promise<{ type: string | null; text: string; value: (name: string) => number | undefined }> {
  const res = await fetch(`${serve.url}/metrics`);
  expect(res.status).toBe(200);
  const text = await res.text();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*) (\S+)$/.exec(line);
    if (m?.[1] && m[2]) samples.set(m[1], Number(m[2]));
  }
  return { type: res.headers.get('content-type'), text, value: (name) => samples.get(name) };
}

function post(body: string, token = SECRET): Promise<Response> {
  return fetch(`${serve.url}/v1/ingest/k8s-audit/acme`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': token, 'X-AiSOC-Cluster-Name': 'kind-1' },
    body,
  });
}

describe('serve GET /metrics', () => {
  it('answers in the Prometheus text format with every ingest counter, and the counters move as events are posted', async () => {
    const before = await scrape();
    expect(before.type).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const m of INGEST_METRICS) expect(before.text, m.prom).toContain(`# TYPE ${m.prom} `);
    // Process metrics, as a Kubernetes operator's dashboards expect them.
    expect(before.text).toContain('# TYPE process_resident_memory_bytes gauge');

    const items = uniqueFalcoEvents();
    const body = eventList([...items, items[0], { kind: 'Event', apiVersion: 'audit.k8s.io/v1' }]);
    expect((await post(body)).status).toBe(200);
    expect((await post(EMPTY_EVENT_LIST, 'not-the-secret-0000')).status).toBe(401);

    const after = await scrape();
    const moved = (name: string) => (after.value(name) ?? Number.NaN) - (before.value(name) ?? 0);
    expect({
      requests: moved('aisoc_ingest_requests_total'),
      accepted: moved('aisoc_ingest_events_accepted_total'),
      rejected: moved('aisoc_ingest_events_rejected_total'),
      duplicates: moved('aisoc_ingest_events_duplicate_total'),
      auth: moved('aisoc_ingest_auth_failures_total'),
      fourxx: moved('aisoc_ingest_responses_4xx_total'),
      fivexx: moved('aisoc_ingest_responses_5xx_total'),
      bytes: moved('aisoc_ingest_body_bytes_total'),
      timed: moved('aisoc_ingest_handler_seconds_count'),
    }).toEqual({
      requests: 2,
      accepted: items.length,
      rejected: 1,
      duplicates: 1,
      auth: 1,
      fourxx: 1,
      fivexx: 0,
      // The 401's body is never read: the token is checked before it.
      bytes: Buffer.byteLength(body),
      timed: 2,
    });
    // No label names a tenant or a cluster.
    expect(after.text).not.toMatch(/acme|kind-1/);
  });

  it('logs one line per request in the Powertools shape on stderr, without the token', async () => {
    const before = serve.logs.length;
    expect((await post(EMPTY_EVENT_LIST)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 50));

    const lines = serve.logs.slice(before).filter((l) => l.message === 'ingest request');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'INFO',
      service: 'aisoc-k8s-audit-serve',
      route: 'ingest',
      tenant: 'acme',
      cluster: 'kind-1',
      status: 200,
      items: 0,
      accepted: 0,
    });
    expect(lines[0]?.timestamp).toEqual(expect.any(String));
    expect(serve.output()).not.toContain(SECRET);
  });

  it('refuses another method on /metrics with 405', async () => {
    const res = await fetch(`${serve.url}/metrics`, { method: 'POST', body: 'x' });

    expect([res.status, res.headers.get('allow')]).toEqual([405, 'GET']);
  });
});
