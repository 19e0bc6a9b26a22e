import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../lib/audit/index.js';
import { main } from '../../lib/cli/main.js';
import { type IngestServer, startIngestServer } from '../../lib/ingest/adapters/server.js';
import { loadIngestConfig } from '../../lib/ingest/config.js';
import { toRejectRecord } from '../../lib/sinks/rejects.js';
import { openEventStore } from '../../lib/sinks/sqlite.js';
import { captureIo } from '../helpers/cli.js';
import { FIXTURES, gkeEntries } from '../helpers/fixtures.js';
import { freePort } from '../helpers/host.js';
import { SECRET, tempDataDir } from '../helpers/ingest.js';
import { ocsfErrors } from '../helpers/ocsf.js';

const OPENSHIFT = join(FIXTURES, 'openshift');

/** The real OpenShift audit lines (openshift/cluster-logging-operator, see SOURCES.md). */
function openshiftEvents(): AuditEvent[] {
  return readFileSync(join(OPENSHIFT, 'clo__apiaudit-audit.log'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as AuditEvent);
}

// Audit data from public projects' own tests, sent the ways a user sends it, into the local
// server (`serve`'s) and its SQLite store.
describe('public audit samples through the local ingest server', () => {
  const data = tempDataDir('aisoc-public-samples-');
  let ingest: IngestServer;

  beforeAll(async () => {
    ingest = await startIngestServer({
      port: await freePort(),
      config: loadIngestConfig({ K8S_AUDIT_SHARED_SECRET: SECRET, EVENTS_SINK: 'sqlite', AISOC_DATA_DIR: data.dir }, { runtime: 'local' }),
    });
  });

  afterAll(async () => {
    await ingest?.close();
    data.remove();
  });

  function post(body: string) {
    return fetch(`${ingest.url}/v1/ingest/k8s-audit/acme`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-aisoc-k8s-token': SECRET },
      body,
    });
  }

  function stored(cluster: string) {
    const store = openEventStore(data.dir);
    try {
      return store.queryEvents({ tenant: 'acme', limit: 1000 }).filter((r) => r.cluster_name === cluster);
    } finally {
      store.close();
    }
  }

  it('stores a kube-audit-admin record whose properties.log is the Event object, not a string', async () => {
    // The record's shape (keys, the object-valued properties.log, containerID/pod/stream, the
    // upper-case resourceId, serviceBuild "na") is that of the kube-audit-admin record in Elastic's
    // Kubernetes integration test input (elastic/integrations,
    // packages/kubernetes/data_stream/audit_logs/_dev/test/pipeline/test-audit.log); the Event
    // in it is a real OpenShift one, a deployments patch.
    const event = openshiftEvents().find((e) => e.verb === 'patch') as AuditEvent;
    const record = {
      category: 'kube-audit-admin',
      operationName: 'Microsoft.ContainerService/managedClusters/diagnosticLogs/Read',
      properties: { containerID: 'aaaa1111', log: event, pod: 'kube-apiserver-1234567890', stream: 'stdout' },
      resourceId: '/SUBSCRIPTIONS/1234567890/RESOURCEGROUPS/TEST-RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/TEST-AKS',
      serviceBuild: 'na',
      time: '2025-09-30T06:23:35.101355367Z',
    };

    const res = await post(JSON.stringify({ records: [record] }));

    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ accepted: 1, rejected: 0, duplicates: 0, errors: [], skipped: 0 });
    const [r, ...others] = stored('test-aks');
    expect(others).toEqual([]);
    expect(r).toMatchObject({ audit_id: event.auditID, k8s_verb: 'patch', k8s_resource: 'deployments', severity: 'medium' });
    expect(r?.ocsf.cloud).toMatchObject({ provider: 'Azure', account: { uid: '1234567890' } });
    expect(ocsfErrors(r?.ocsf)).toEqual([]);
  });
  it('answers a GKE LogEntry or a lone AKS record on the EventList route with the way each is sent', async () => {
    // Shapes of the GKE data_access entry for a /readyz probe and of an AKS kube-audit record,
    // one per line, in Elastic's Kubernetes integration test inputs (elastic/integrations,
    // packages/kubernetes/data_stream/audit_logs/_dev/test/pipeline/test-audit.log and
    // test-kube-audit.log); the Event is a real OpenShift one.
    const gkeEntry = {
      protoPayload: {
        '@type': 'type.googleapis.com/google.cloud.audit.AuditLog',
        authenticationInfo: { principalEmail: 'system:gke-master-healthcheck' },
        authorizationInfo: [{ granted: true, permission: 'io.k8s.get', resource: 'readyz' }],
        methodName: 'io.k8s.get',
        requestMetadata: { callerIp: '203.0.113.7', callerSuppliedUserAgent: 'gke-master-healthcheck' },
        resourceName: 'readyz',
        serviceName: 'k8s.io',
        status: { code: 0 },
      },
      insertId: '1234abcd',
      resource: { type: 'k8s_cluster', labels: { cluster_name: 'test-cluster', location: 'us-central1', project_id: 'acme-gke' } },
      timestamp: '2025-07-13T08:38:39.127266Z',
      logName: 'projects/acme-gke/logs/cloudaudit.googleapis.com%2Fdata_access',
      operation: { id: '1234abcd', producer: 'k8s.io', first: true, last: true },
      receiveTimestamp: '2025-07-13T08:38:41.005864307Z',
    };
    const aksLine = {
      category: 'kube-audit',
      operationName: 'Microsoft.ContainerService/managedClusters/diagnosticLogs/Read',
      properties: {
        log: JSON.stringify(openshiftEvents()[0]),
        containerID: 'a64cba7f',
        stream: 'stdout',
        pod: 'kube-apiserver-869d7bb754-kkg69',
      },
      resourceId: '/SUBSCRIPTIONS/AE2861B3/RESOURCEGROUPS/TEST/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/TEST-CLUSTER',
      serviceBuild: 'na',
      time: '2025-10-07T16:19:19.647880072Z',
    };

    const gke = await post(JSON.stringify(gkeEntry));
    const aks = await post(JSON.stringify(aksLine));

    expect(gke.status).toBe(400);
    const gkeError = ((await gke.json()) as { error: string }).error;
    expect(gkeError).toMatch(/GKE Cloud Audit Logs entry/);
    expect(gkeError).toContain('/v1/ingest/gke-audit/<tenant_id>');
    expect(gkeError).not.toMatch(/export the apiserver audit log/);
    expect(aks.status).toBe(400);
    expect(((await aks.json()) as { error: string }).error).toContain('{"records":[...]}');
    expect(stored('test-cluster')).toEqual([]);
  });
  it('replays a kept AKS record in a records body, so a record refused before a fix is stored after it', async () => {
    // The reject an ingest before the object-form fix kept for a kube-audit-admin record shaped as
    // in Elastic's test input (see above), written as that ingest wrote it; the Event is real.
    const event = openshiftEvents().find((e) => e.verb === 'update') as AuditEvent;
    const record = {
      category: 'kube-audit-admin',
      operationName: 'Microsoft.ContainerService/managedClusters/diagnosticLogs/Read',
      properties: { containerID: 'aaaa1111', log: event, pod: 'kube-apiserver-1234567890', stream: 'stdout' },
      resourceId: '/SUBSCRIPTIONS/1234567890/RESOURCEGROUPS/TEST-RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/REPLAY-AKS',
      serviceBuild: 'na',
      time: '2025-09-30T06:23:35.101355367Z',
    };
    const before = openEventStore(data.dir);
    try {
      before.writeRejects([
        toRejectRecord(
          { index: 0, auditID: null, reason: 'kube-audit-admin record has no properties.log string', item: record },
          'replay',
          null,
          Date.now(),
        ),
      ]);
    } finally {
      before.close();
    }
    const cap = captureIo({
      AISOC_DATA_DIR: data.dir,
      AISOC_INGEST_URL: `${ingest.url}/v1/ingest/k8s-audit/replay`,
      K8S_AUDIT_SHARED_SECRET: SECRET,
    });

    const code = await main(['rejected', '--replay', '--tenant', 'replay'], cap.io);

    expect(cap.err()).toContain('replayed 1 item(s) (1 accepted, 0 duplicates, 0 rejected again)');
    expect(code).toBe(0);
    const store = openEventStore(data.dir);
    try {
      expect(store.queryEvents({ tenant: 'replay', limit: 10 }).map((r) => [r.audit_id, r.cluster_name])).toEqual([
        [event.auditID, 'replay-aks'],
      ]);
      expect(store.queryRejects({ tenant: 'replay' })).toEqual([]);
    } finally {
      store.close();
    }
  });
  it('keeps a rejected GKE LogEntry on replay, with its reason, where the EventList route would refuse it as a LogEntry', async () => {
    // A real GKE entry (KHI's, test/fixtures/gke) without its insertId and operation: the GKE push
    // route rejects it 'GKE audit entry has no insertId' and keeps it, as written here.
    const { insertId: _id, operation: _op, ...entry } = [...gkeEntries().values()][0] as Record<string, unknown>;
    const reason = 'GKE audit entry has no insertId (its audit ID)';
    const before = openEventStore(data.dir);
    try {
      before.writeRejects([toRejectRecord({ index: 0, auditID: null, reason, item: entry }, 'gke-replay', 'sample-cluster', Date.now())]);
    } finally {
      before.close();
    }
    const cap = captureIo({
      AISOC_DATA_DIR: data.dir,
      AISOC_INGEST_URL: `${ingest.url}/v1/ingest/k8s-audit/gke-replay`,
      K8S_AUDIT_SHARED_SECRET: SECRET,
    });

    const code = await main(['rejected', '--replay', '--tenant', 'gke-replay'], cap.io);

    expect(cap.err()).toContain('1 GKE push item(s) kept and not replayed (only the GKE push route reads them, from Pub/Sub)');
    expect(code).toBe(0);
    const store = openEventStore(data.dir);
    try {
      expect(store.queryRejects({ tenant: 'gke-replay' }).map((r) => [r.reason, r.times])).toEqual([[reason, 1]]);
    } finally {
      store.close();
    }
  });
  it('keeps a Pub/Sub message whose data was no JSON on replay, with its reason, where the EventList route would refuse the text', async () => {
    // What the GKE push route keeps for {"message":{"data":"bm90IGpzb24=",...}}: the decoded text.
    const reason = 'message data is not base64 of a JSON LogEntry: Unexpected token o in JSON at position 1';
    const decoded = Buffer.from('bm90IGpzb24=', 'base64').toString('utf8');
    const before = openEventStore(data.dir);
    try {
      before.writeRejects([toRejectRecord({ index: 0, auditID: null, reason, item: decoded }, 'gke-text', 'sample-cluster', Date.now())]);
    } finally {
      before.close();
    }
    const cap = captureIo({
      AISOC_DATA_DIR: data.dir,
      AISOC_INGEST_URL: `${ingest.url}/v1/ingest/k8s-audit/gke-text`,
      K8S_AUDIT_SHARED_SECRET: SECRET,
    });

    const code = await main(['rejected', '--replay', '--tenant', 'gke-text'], cap.io);

    expect(cap.err()).toContain(
      'replayed 0 item(s), 1 GKE push item(s) kept and not replayed (only the GKE push route reads them, from Pub/Sub)',
    );
    expect(code).toBe(0);
    const store = openEventStore(data.dir);
    try {
      expect(store.queryRejects({ tenant: 'gke-text' }).map((r) => [r.reason, r.item, r.times])).toEqual([[reason, '"not json"', 1]]);
    } finally {
      store.close();
    }
  });
});
