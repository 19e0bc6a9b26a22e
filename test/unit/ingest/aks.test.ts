import { describe, expect, it } from 'vitest';
import { IngestService, type LogEntry } from '../../../lib/ingest/service.js';
import { RecordWriter } from '../../../lib/sinks/writer.js';
import { aksBody, aksRecord, withoutCloud } from '../../helpers/clouds.js';
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
