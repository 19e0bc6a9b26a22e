// A JSON text can give a key twice; JSON.parse keeps the last value. A Secret's data sent first and
// a harmless responseObject second leaves the parsed event nothing to redact: the store must keep
// the event as parsed and redacted, never the text, on every body form (EventList, AKS records).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IngestServer, startIngestServer } from '../../lib/ingest/adapters/server.js';
import { openEventStore } from '../../lib/sinks/sqlite.js';
import { ingestConfig, SECRET, tempDataDir } from '../helpers/ingest.js';

const PASSWORD = 'UEFTU1dPUkQtaGlkZGVuLWZpcnN0';
const JWT_SIGNATURE = 'c2lnbmF0dXJlLW9mLWEtdG9rZW4tMTIzNDU2Nzg5MA';
const JWT = `eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.${JWT_SIGNATURE}`;

function eventText(id: string): string {
  return (
    `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"${id}","stage":"ResponseComplete",` +
    `"requestURI":"/api/v1/namespaces/d/configmaps/c","verb":"get","user":{"username":"alice"},` +
    `"objectRef":{"resource":"configmaps","namespace":"d","name":"c","apiVersion":"v1"},` +
    `"responseObject":{"kind":"Secret","data":{"password":"${PASSWORD}"},"x":"${JWT}"},"responseStatus":{"code":200},` +
    `"responseObject":{"kind":"ConfigMap","data":{"a":"b"}},` +
    `"requestReceivedTimestamp":"2026-12-07T00:00:00.000000Z","stageTimestamp":"2026-12-07T00:00:00.000000Z"}`
  );
}

describe('an event text that gives a key twice', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let server: IngestServer;
  beforeAll(async () => {
    tmp = tempDataDir('aisoc-dupkeys-');
    server = await startIngestServer({ config: ingestConfig({ K8S_AUDIT_SHARED_SECRET: SECRET, AISOC_DATA_DIR: tmp.dir }) });
  });
  afterAll(async () => {
    await server?.close();
    tmp?.remove();
  });

  it('is stored as parsed and redacted, with nothing the first value held, from an EventList and from AKS records', async () => {
    const post = (body: string) =>
      fetch(`${server.url}/v1/ingest/k8s-audit/acme`, {
        method: 'POST',
        headers: { 'X-AiSOC-K8s-Token': SECRET, 'Content-Type': 'application/json' },
        body,
      });
    const list = await post(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[${eventText('dup-list')}]}`);
    const resourceId =
      '/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS1';
    const aks = await post(
      JSON.stringify({ records: [{ category: 'kube-audit', resourceId, properties: { log: eventText('dup-aks') } }] }),
    );
    expect([list.status, aks.status]).toEqual([200, 200]);
    await server.close();

    const store = openEventStore(tmp.dir);
    const rows = store.queryEvents({ tenant: 'acme', limit: 10 });
    store.close();
    expect(rows.map((r) => r.audit_id).sort()).toEqual(['dup-aks', 'dup-list']);
    expect(rows.every((r) => (r.raw_event.responseObject as { kind: string }).kind === 'ConfigMap')).toBe(true);
    // The bytes on disk: the database and its log.
    for (const name of readdirSync(tmp.dir).filter((n) => n.startsWith('events'))) {
      const bytes = readFileSync(join(tmp.dir, name)).toString('latin1');
      expect(bytes, name).not.toContain(PASSWORD);
      expect(bytes, name).not.toContain(JWT_SIGNATURE);
    }
  });
});
