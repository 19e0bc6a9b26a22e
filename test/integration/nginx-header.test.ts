import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IngestServer, startIngestServer } from '../../lib/ingest/adapters/server.js';
import { loadIngestConfig } from '../../lib/ingest/config.js';
import { openEventStore } from '../../lib/sinks/sqlite.js';
import { hasNginx, type RunningNginx, renderNginxForwarder, startNginx } from '../helpers/infra-nginx.js';

const ROOT = join(import.meta.dirname, '../..');
const FALCO = join(ROOT, 'test/fixtures/falco');
const CONF = readFileSync(join(ROOT, 'infra/k8s/nginx-forwarder.conf'), 'utf8');
const SECRET = 'nginx-e2e-shared-secret-0123456789abcdef';

/**
 * Real audit events (Falco's captures from a real apiserver), one per line of each fixture; the
 * few traces that repeat an auditID and stage are kept once, since the ingest dedups on those.
 */
function falcoEvents(): Record<string, unknown>[] {
  const events = readdirSync(FALCO)
    .filter((f) => f.endsWith('.json') && f !== 'fal_01_003.json')
    .flatMap((f) => readFileSync(join(FALCO, f), 'utf8').split('\n'))
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const seen = new Set<string>();
  return events.filter((e) => {
    const key = `${String(e.auditID)}/${String(e.stage)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** POSTs an EventList the way the apiserver's webhook does: JSON, and no AiSOC header of its own. */
function postAsApiserver(url: string, body: string): Promise<Response> {
  return fetch(`${url}/forward`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
}

// The header-injecting proxy for real: Debian's nginx with infra/k8s/nginx-forwarder.conf,
// rendered the documented way, in front of the real local ingest with the SQLite sink.
describe.skipIf(!hasNginx())('infra/k8s/nginx-forwarder.conf in front of the ingest', () => {
  let dataDir = '';
  let ingest: IngestServer;
  let good: RunningNginx;
  let wrong: RunningNginx;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'aisoc-nginx-e2e-'));
    const config = loadIngestConfig(
      { K8S_AUDIT_SHARED_SECRET: SECRET, EVENTS_SINK: 'sqlite', AISOC_DATA_DIR: dataDir },
      { runtime: 'local' },
    );
    ingest = await startIngestServer({ config });
    good = await startNginx(renderNginxForwarder(CONF, { token: SECRET, origin: ingest.url, tenant: 'acme', cluster: 'minikube' }));
    wrong = await startNginx(
      renderNginxForwarder(CONF, { token: 'not-the-secret', origin: ingest.url, tenant: 'acme', cluster: 'minikube' }),
    );
  });

  afterAll(async () => {
    await good?.close();
    await wrong?.close();
    await ingest?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('adds the token, the content type and the cluster, so a header-less EventList lands in the sink', async () => {
    const items = falcoEvents();
    const res = await postAsApiserver(good.url, JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items }));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ accepted: items.length, rejected: 0, duplicates: 0 });
    const store = openEventStore(dataDir);
    try {
      const stored = store.queryEvents({ tenant: 'acme', limit: 1000 });
      expect(stored.map((r) => r.audit_id).sort()).toEqual(items.map((e) => e.auditID).sort());
      expect(new Set(stored.map((r) => r.cluster_name))).toEqual(new Set(['minikube']));
    } finally {
      store.close();
    }
  });

  it('passes the ingest 401 through when the rendered secret is wrong, and stores nothing', async () => {
    const before = countEvents(dataDir);
    const item = { ...falcoEvents()[0], auditID: 'nginx-wrong-secret-1' };
    const res = await postAsApiserver(wrong.url, JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [item] }));
    expect(res.status).toBe(401);
    const body = await res.text();
    expect(body).toContain('X-AiSOC-K8s-Token');
    expect(body).not.toContain('not-the-secret');
    expect(countEvents(dataDir)).toBe(before);
  });

  it('answers a batch over its cap with a 413 that names the limit and the apiserver flag to change', async () => {
    const res = await postAsApiserver(good.url, `{"kind":"EventList","items":[],"pad":"${'x'.repeat(4 * 1024 * 1024)}"}`);
    expect(res.status).toBe(413);
    const body = (await res.json()) as { error: string };
    expect(body.error).toContain('4 MiB');
    expect(body.error).toContain('--audit-webhook-batch-max-size');
  });

  it('forwards only POST /forward', async () => {
    expect((await fetch(`${good.url}/forward`)).status).toBe(403);
    expect((await fetch(`${good.url}/forward/x`, { method: 'POST', body: '{}' })).status).toBe(404);
  });
});

function countEvents(dataDir: string): number {
  const store = openEventStore(dataDir);
  try {
    return store.countEvents({});
  } finally {
    store.close();
  }
}
