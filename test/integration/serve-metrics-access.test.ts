// Who can read `serve`'s GET /metrics, over real HTTP against the built CLI: with
// AISOC_METRICS_TOKEN set, only a scrape that carries it as a bearer token (what Prometheus's
// `authorization` scrape setting sends); everyone else gets a JSON 401 that says nothing of the
// counters. The token is never in the server's output.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventList, SECRET, tempDataDir, uniqueFalcoEvents } from '../helpers/ingest.js';
import { buildServeBundle, type ServeProcess, spawnServe } from '../helpers/serve.js';

const METRICS_TOKEN = 'metrics-token-5b7e0c2a9d41f863';

let cli: { cli: string; cleanup: () => void };
let tmp: ReturnType<typeof tempDataDir>;
let serve: ServeProcess;

beforeAll(async () => {
  cli = await buildServeBundle();
  tmp = tempDataDir('aisoc-serve-metrics-access-');
  serve = await spawnServe(cli.cli, tmp.dir, { K8S_AUDIT_SHARED_SECRET: SECRET, AISOC_METRICS_TOKEN: METRICS_TOKEN });
}, 120_000);

afterAll(async () => {
  await serve?.stop();
  tmp?.remove();
  cli?.cleanup();
});

describe('serve GET /metrics with AISOC_METRICS_TOKEN', () => {
  it('answers only the bearer of the token; others get 401 with no counter in the answer', async () => {
    const posted = await fetch(`${serve.url}/v1/ingest/k8s-audit/acme`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET, 'X-AiSOC-Cluster-Name': 'kind-1' },
      body: eventList(uniqueFalcoEvents().slice(0, 3)),
    });
    expect(posted.status).toBe(200);

    const refused: Record<string, string>[] = [
      {},
      { Authorization: 'Bearer not-the-token' },
      { Authorization: `Basic ${Buffer.from(`x:${METRICS_TOKEN}`).toString('base64')}` },
    ];
    for (const headers of refused) {
      const res = await fetch(`${serve.url}/metrics`, { headers });
      const text = await res.text();
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
      expect(JSON.parse(text)).toEqual({ error: expect.stringContaining('AISOC_METRICS_TOKEN') });
      expect(text).not.toContain('aisoc_ingest');
    }

    const ok = await fetch(`${serve.url}/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } });
    const text = await ok.text();
    expect(ok.status).toBe(200);
    expect(text).toMatch(/^aisoc_ingest_events_accepted_total 3$/m);
    // Totals only: no tenant and no cluster in any label.
    expect(text).not.toContain('acme');
    expect(text).not.toContain('kind-1');
    expect(serve.output()).not.toContain(METRICS_TOKEN);
  });
});
