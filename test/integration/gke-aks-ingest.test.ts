import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../lib/audit/index.js';
import { type IngestServer, startIngestServer } from '../../lib/ingest/adapters/server.js';
import { loadIngestConfig } from '../../lib/ingest/config.js';
import { openEventStore } from '../../lib/sinks/sqlite.js';
import { aksBody, aksRecord, aksRow, PUBLISHED_AKSAUDIT_ROW, pushBody } from '../helpers/clouds.js';
import { gkeEntries } from '../helpers/fixtures.js';
import { LocalGoogleKeys } from '../helpers/google-oidc.js';
import { freePort } from '../helpers/host.js';
import { SECRET, tempDataDir, uniqueFalcoEvents } from '../helpers/ingest.js';
import { ocsfErrors } from '../helpers/ocsf.js';

const PUSH_SA = 'aisoc-push@acme-audit.iam.gserviceaccount.com';

// The real local server (`serve`'s) with the SQLite store: GKE pushes and an AKS records body go
// in over loopback, and what a user reads back out of the store is checked.
describe('GKE pushes and AKS records through the local ingest server into SQLite', () => {
  const data = tempDataDir('aisoc-clouds-');
  const keys = new LocalGoogleKeys();
  let ingest: IngestServer;
  let audience = '';

  beforeAll(async () => {
    await keys.start();
    // The audience is the push endpoint itself, as gcloud sets it by default.
    const port = await freePort();
    audience = `http://127.0.0.1:${port}/v1/ingest/gke-audit/acme`;
    ingest = await startIngestServer({
      port,
      config: loadIngestConfig(
        {
          K8S_AUDIT_SHARED_SECRET: SECRET,
          EVENTS_SINK: 'sqlite',
          AISOC_DATA_DIR: data.dir,
          K8S_AUDIT_GKE_PUSH: JSON.stringify({ acme: { audience, serviceAccount: PUSH_SA } }),
          K8S_AUDIT_GKE_JWKS_URL: keys.url,
        },
        { runtime: 'local' },
      ),
    });
  });

  afterAll(async () => {
    await ingest?.close();
    await keys.stop();
    data.remove();
  });

  function stored(cluster: string) {
    const store = openEventStore(data.dir);
    try {
      return store.queryEvents({ tenant: 'acme', limit: 1000 }).filter((r) => r.cluster_name === cluster);
    } finally {
      store.close();
    }
  }

  it('stores each pushed GKE entry once, however often Pub/Sub delivers it', async () => {
    const token = await keys.sign({ aud: audience, email: PUSH_SA, email_verified: true });
    const entries = [...gkeEntries().values()];
    const answers: number[] = [];
    for (const entry of [...entries, ...entries]) {
      const res = await fetch(audience, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: pushBody(entry),
      });
      answers.push(res.status);
      await res.text();
    }
    const forged = await fetch(audience, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${await keys.sign({ aud: audience, email: PUSH_SA, email_verified: true }, { key: await LocalGoogleKeys.otherKey() })}`,
      },
      body: pushBody({ ...entries[0], insertId: 'forged-0000' }),
    });

    expect(answers).toEqual([200, 200, 200, 200, 200, 200]);
    expect(forged.status).toBe(401);
    const records = stored('sample-cluster');
    expect(records.map((r) => r.audit_id).sort()).toEqual(entries.map((e) => e.insertId).sort());
    for (const r of records) {
      // Read back from the store (re-normalised from the kept event and source): still GCP.
      expect(r.ocsf.cloud).toMatchObject({ provider: 'GCP', account: { uid: 'sample-project' } });
      expect(ocsfErrors(r.ocsf)).toEqual([]);
    }
  });

  it('stores an AKS records body for the cluster its resourceId names, with Azure cloud fields', async () => {
    const events = uniqueFalcoEvents().slice(0, 10);
    const res = await fetch(`${ingest.url}/v1/ingest/k8s-audit/acme`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-aisoc-k8s-token': SECRET },
      body: aksBody(events.map((e) => aksRecord(e, 'prod-aks'))),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ accepted: 10, rejected: 0, duplicates: 0, errors: [], skipped: 0 });
    const records = stored('prod-aks');
    expect(records.map((r) => r.audit_id).sort()).toEqual(events.map((e) => e.auditID).sort());
    for (const r of records) expect(r.ocsf.cloud).toMatchObject({ provider: 'Azure' });
  });

  it('stores AKSAudit rows as a Log Analytics data export sends them to Event Hubs, skipping other tables and listing a broken row', async () => {
    const events = uniqueFalcoEvents().slice(10, 15);
    const body = aksBody([
      PUBLISHED_AKSAUDIT_ROW,
      ...events.map((e) => aksRow(e, 'rows-aks', { table: 'AKSAuditAdmin' })),
      { TimeGenerated: '2025-05-30T18:02:53Z', Type: 'AKSControlPlane', Category: 'kube-apiserver', Message: 'I0530' },
      { ...aksRow(events[0] as AuditEvent, 'rows-aks'), AuditId: 'broken-row', SourceIps: '["1.2.3.4"' },
    ]);
    const res = await fetch(`${ingest.url}/v1/ingest/k8s-audit/acme`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-aisoc-k8s-token': SECRET },
      body,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      accepted: 6,
      rejected: 1,
      duplicates: 0,
      skipped: 1,
      errors: [{ index: 7, auditID: 'broken-row' }],
    });
    expect(
      stored('rows-aks')
        .map((r) => r.audit_id)
        .sort(),
    ).toEqual(events.map((e) => e.auditID).sort());
    const [published] = stored('aks');
    expect(published).toMatchObject({ audit_id: PUBLISHED_AKSAUDIT_ROW.AuditId, k8s_user: 'masterclient', k8s_resource: 'configmaps' });
    expect(ocsfErrors(published?.ocsf)).toEqual([]);
  });
});
