import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../lib/audit/index.js';
import { IngestService, type LogEntry } from '../../../lib/ingest/service.js';
import { RecordWriter } from '../../../lib/sinks/writer.js';
import {
  aksBody,
  aksRecord,
  aksResourceId,
  aksRow,
  eventOfPublishedRow,
  PUBLISHED_AKSAUDIT_ROW,
  withoutCloud,
} from '../../helpers/clouds.js';
import { falcoEvent } from '../../helpers/fixtures.js';
import { eventList, ingestConfig, MemorySink, SECRET, uniqueFalcoEvents } from '../../helpers/ingest.js';
import { ocsfErrors } from '../../helpers/ocsf.js';

function harness() {
  const events = new MemorySink('events');
  const logs: LogEntry[] = [];
  const service = new IngestService({
    config: ingestConfig(),
    writer: new RecordWriter(events, new MemorySink('alerts')),
    log: (e) => logs.push(e),
    now: () => Date.parse('2024-05-01T12:00:00Z'),
  });
  return { service, events, logs };
}

/** An Event as an AKS (Kubernetes 1.31) apiserver writes it: audit.k8s.io/v1, none of v1beta1's metadata and timestamp. */
function asAksWrites(e: AuditEvent): AuditEvent {
  const { metadata: _m, timestamp: _t, ...rest } = e as unknown as Record<string, unknown>;
  return { ...rest, apiVersion: 'audit.k8s.io/v1' } as unknown as AuditEvent;
}

function post(body: string, headers: Record<string, string> = {}) {
  return {
    method: 'POST',
    path: '/v1/ingest/k8s-audit/acme',
    headers: { 'content-type': 'application/json', 'x-aisoc-k8s-token': SECRET, ...headers },
    body: Buffer.from(body),
  };
}

describe('AKS diagnostic-settings records on the EKS-style route', () => {
  it('stores each audit record for the cluster its resourceId names, equal field for field to the same events as an EventList', async () => {
    const events = uniqueFalcoEvents().slice(0, 20);
    const aks = harness();

    const res = await aks.service.handle(post(aksBody(events.map((e) => aksRecord(e, 'prod-aks')))));

    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ accepted: 20, rejected: 0, duplicates: 0, errors: [], skipped: 0 });
    for (const r of aks.events.records) {
      expect(r.cluster_name).toBe('prod-aks');
      expect(r.ocsf.cloud).toMatchObject({ provider: 'Azure', account: { uid: '00000000-1111-2222-3333-444444444444' } });
      expect(r.ocsf.metadata).toMatchObject({ product: { feature: { name: 'Azure Kubernetes Service' } } });
      expect(ocsfErrors(r.ocsf)).toEqual([]);
    }

    const webhook = harness();
    expect((await webhook.service.handle(post(eventList(events), { 'x-aisoc-cluster-name': 'prod-aks' }))).status).toBe(200);
    expect(aks.events.records.map(withoutCloud)).toEqual(webhook.events.records.map(withoutCloud));
  });

  it('counts records of other categories as skipped and lists broken audit records as rejected', async () => {
    const { service, events, logs } = harness();
    const body = aksBody([
      aksRecord('I0501 12:00:00.000000 1 trace.go:205] Trace[1]: "List" url:/api/v1/pods', 'prod-aks', 'kube-apiserver'),
      aksRecord(falcoEvent('create_configmap.json'), 'prod-aks', 'kube-audit-admin'),
      aksRecord('{"kind":"Event"', 'prod-aks'),
    ]);

    const res = await service.handle(post(body));

    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ accepted: 1, rejected: 1, skipped: 1, errors: [{ index: 2 }] });
    expect(events.records.map((r) => r.k8s_resource)).toEqual(['configmaps']);
    expect(logs.find((l) => l.msg === 'items skipped')).toMatchObject({ count: 1 });
  });

  it('uses X-AiSOC-Cluster-Name only for a record whose resourceId names no cluster', async () => {
    const { service, events } = harness();
    const named = aksRecord(falcoEvent('create_configmap.json'), 'prod-aks');
    const unnamed = { ...aksRecord(falcoEvent('create_deployment.json')), resourceId: '' };

    await service.handle(post(aksBody([named, unnamed]), { 'x-aisoc-cluster-name': 'from-header' }));

    expect(events.records.map((r) => r.cluster_name)).toEqual(['prod-aks', 'from-header']);
  });

  it('asks for the shared secret like any other body', async () => {
    const { service, events } = harness();
    const res = await service.handle(post(aksBody([aksRecord(falcoEvent('create_configmap.json'))]), { 'x-aisoc-k8s-token': 'wrong' }));
    expect(res.status).toBe(401);
    expect(events.records).toEqual([]);
  });

  it('answers 400 to a records body that is not one', async () => {
    const { service } = harness();
    const res = await service.handle(post('{"records": "nope"}'));
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).error).toMatch(/Azure diagnostic-settings body/);
  });
});

// Rows of the AKSAudit / AKSAuditAdmin Log Analytics tables, as a workspace's data export sends
// them to Event Hubs ({"records":[row,...]}, lib/audit/aks-table.ts). Before, each row was counted
// as a skipped record of category "" and nothing was stored.
describe('AKSAudit rows (Log Analytics data export) on the EKS-style route', () => {
  it('stores the published row and Falco events sent as rows equal to the same events as diagnostic records', async () => {
    // Falco's events are audit.k8s.io/v1beta1 with its metadata and timestamp, which no column
    // holds: compared as the v1 Events an AKS apiserver writes (what the table's columns carry).
    const events = [eventOfPublishedRow(), ...uniqueFalcoEvents().slice(0, 15).map(asAksWrites)];
    const rows = harness();
    const body = aksBody([
      { ...PUBLISHED_AKSAUDIT_ROW, _ResourceId: aksResourceId('prod-aks').toLowerCase() },
      ...events.slice(1).map((e, i) => aksRow(e, 'prod-aks', { table: i % 2 === 0 ? 'AKSAudit' : 'AKSAuditAdmin' })),
    ]);

    const res = await rows.service.handle(post(body));

    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ accepted: 16, rejected: 0, duplicates: 0, errors: [], skipped: 0 });
    const diag = harness();
    await diag.service.handle(post(aksBody(events.map((e) => aksRecord(e, 'prod-aks')))));
    expect(diag.events.records).toHaveLength(16);
    // Fields, severity and OCSF (cloud fields included: same subscription, no region either way).
    expect(rows.events.records).toEqual(diag.events.records);
    const published = rows.events.records.find((r) => r.audit_id === PUBLISHED_AKSAUDIT_ROW.AuditId);
    expect(published).toMatchObject({ cluster_name: 'prod-aks', k8s_user: 'masterclient', k8s_verb: 'list', k8s_resource: 'configmaps' });
    for (const r of rows.events.records) expect(ocsfErrors(r.ocsf)).toEqual([]);
  });

  it('skips rows of other tables, rejects a row whose dynamic column is not JSON, and loses none', async () => {
    const { service, events, logs } = harness();
    const body = aksBody([
      { TimeGenerated: '2025-05-30T18:02:52Z', Type: 'ContainerLogV2', LogMessage: 'hello', _ResourceId: aksResourceId('prod-aks') },
      PUBLISHED_AKSAUDIT_ROW,
      { ...aksRow(falcoEvent('create_configmap.json')), User: '{"username":' },
      { ...aksRow(falcoEvent('create_deployment.json')), AuditId: '' },
      aksRecord(falcoEvent('create_nginx_pod_privileged.json'), 'prod-aks'),
    ]);

    const res = await service.handle(post(body));

    expect(res.status).toBe(200);
    const answer = JSON.parse(res.body);
    expect(answer).toMatchObject({ accepted: 2, rejected: 2, skipped: 1 });
    expect(answer.errors).toEqual([
      {
        index: 2,
        auditID: falcoEvent('create_configmap.json').auditID,
        reason: expect.stringMatching(/^AKSAudit row's User is not JSON: /),
      },
      { index: 3, auditID: null, reason: 'AKSAudit row: item has no auditID' },
    ]);
    expect(events.records.map((r) => r.cluster_name).sort()).toEqual(['aks', 'prod-aks']);
    expect(logs.find((l) => l.msg === 'items skipped')).toMatchObject({
      count: 1,
      reasons: ['table "ContainerLogV2" is not AKSAudit or AKSAuditAdmin'],
    });
  });

  it('reads dynamic columns given as JSON text, and a body AKS did not log as a truncated event', async () => {
    const { service, events } = harness();
    const pod = falcoEvent('create_nginx_pod_privileged.json');
    const row = { ...aksRow(pod, 'prod-aks', { text: true }), RequestObject: 'skipped-too-big-size-object' };

    const res = await service.handle(post(aksBody([row])));

    expect(JSON.parse(res.body)).toMatchObject({ accepted: 1, rejected: 0 });
    const [r] = events.records;
    expect(r?.k8s_user).toBe((pod as { user: { username: string } }).user.username);
    expect(r?.ocsf.metadata).toMatchObject({ is_truncated: true });
    const raw = r?.raw_event as Record<string, unknown>;
    expect(raw.requestObject).toBeUndefined();
    expect(raw.annotations).toMatchObject({ 'audit.k8s.io/truncated': 'true' });
  });
});
