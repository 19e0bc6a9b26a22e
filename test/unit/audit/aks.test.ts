import { describe, expect, it } from 'vitest';
import { aksClusterOf, looksLikeAksRecords, normaliseAuditEvent, parseAksRecords } from '../../../lib/audit/index.js';
import { aksBody, aksRecord } from '../../helpers/clouds.js';
import { falcoEvent, falcoEvents, falcoFiles } from '../../helpers/fixtures.js';
import { ocsfErrors } from '../../helpers/ocsf.js';

describe('aksClusterOf', () => {
  it('reads the cluster and subscription of a diagnostic record resourceId, in either case', () => {
    expect(
      aksClusterOf(
        '/SUBSCRIPTIONS/0B6CB75E-8BB1-426B-8C7E-ACD7C6599495/RESOURCEGROUPS/RG-SPOKE/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/PRIVATE-AKS',
      ),
    ).toEqual({ clusterName: 'private-aks', subscriptionId: '0b6cb75e-8bb1-426b-8c7e-acd7c6599495' });
    expect(
      aksClusterOf(
        '/subscriptions/0b6cb75e-8bb1-426b-8c7e-acd7c6599495/resourcegroups/rg-spoke/providers/Microsoft.ContainerService/managedClusters/private-aks',
      ),
    ).toEqual({ clusterName: 'private-aks', subscriptionId: '0b6cb75e-8bb1-426b-8c7e-acd7c6599495' });
    expect(aksClusterOf('/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1')).toBeNull();
    expect(aksClusterOf(42)).toBeNull();
  });
});

describe('looksLikeAksRecords', () => {
  it('recognises a records body by its first key, and never an EventList', () => {
    expect(looksLikeAksRecords(Buffer.from('{"records":[]}'))).toBe(true);
    expect(looksLikeAksRecords(Buffer.from('\ufeff \n { "records" : [ ] }'))).toBe(true);
    expect(looksLikeAksRecords(Buffer.from('{"kind":"EventList","items":[]}'))).toBe(false);
    expect(looksLikeAksRecords(Buffer.from('[{"records":[]}]'))).toBe(false);
    expect(looksLikeAksRecords(Buffer.from(''))).toBe(false);
  });
});

describe('parseAksRecords', () => {
  it('reads every real Falco event carried in kube-audit and kube-audit-admin records, with its cluster', () => {
    const events = falcoFiles()
      .filter((f) => f !== 'fal_01_003.json')
      .flatMap((f) => falcoEvents(f));
    const records = events.map((e, i) =>
      aksRecord(e, i % 2 === 0 ? 'prod-aks' : 'stage-aks', i % 3 === 0 ? 'kube-audit-admin' : 'kube-audit'),
    );

    const out = parseAksRecords(Buffer.from(aksBody(records)));

    if (typeof out === 'string') throw new Error(out);
    expect(out.rejected).toEqual([]);
    expect(out.skipped).toBe(0);
    expect(out.events.map((e) => e.event)).toEqual(events);
    expect(out.events.map((e) => e.clusterName)).toEqual(events.map((_, i) => (i % 2 === 0 ? 'prod-aks' : 'stage-aks')));
    for (const e of out.events) {
      const record = normaliseAuditEvent(e.event, { tenantId: 'acme', clusterName: e.clusterName, receivedAt: 0, source: e.source });
      expect(ocsfErrors(record.ocsf)).toEqual([]);
      expect(record.ocsf.cloud).toEqual({
        provider: 'Azure',
        account: { uid: '00000000-1111-2222-3333-444444444444', type: 'Azure Subscription', type_id: 13 },
      });
    }
  });

  it('skips and counts records of other categories, which carry klog text (Falco k8saudit-aks, issue #1145)', () => {
    const klog = aksRecord('I0101 00:00:00.000000       1 controller.go:100] plain klog text', 'prod-aks', 'kube-apiserver');
    const out = parseAksRecords(
      aksBody([klog, aksRecord(falcoEvent('create_configmap.json')), { ...klog, category: 'cluster-autoscaler' }]),
    );
    if (typeof out === 'string') throw new Error(out);
    expect(out).toMatchObject({ skipped: 2, itemCount: 3, rejected: [] });
    expect(out.events.map((e) => e.index)).toEqual([1]);
    expect(out.skippedReasons).toEqual([
      'category "kube-apiserver" is not kube-audit or kube-audit-admin',
      'category "cluster-autoscaler" is not kube-audit or kube-audit-admin',
    ]);
  });

  it('rejects a broken audit record with its reason and keeps the others', () => {
    const good = aksRecord(falcoEvent('create_configmap.json'));
    const out = parseAksRecords(
      aksBody([
        aksRecord('{"kind":"Event","auditID":"cut-short'),
        { ...good, properties: { stream: 'stdout' } },
        aksRecord('{"kind":"Event","verb":"get"}'),
        'not a record',
        good,
      ]),
    );
    if (typeof out === 'string') throw new Error(out);
    expect(out.events.map((e) => e.index)).toEqual([4]);
    expect(out.rejected.map((r) => [r.index, r.reason.replace(/: .*$/, '')])).toEqual([
      [0, "kube-audit record's properties.log is not JSON"],
      [1, 'kube-audit record has no properties.log (the audit Event as JSON)'],
      [2, 'item has no auditID'],
      [3, 'record is not a JSON object'],
    ]);
  });

  it('says why a body is not a records body', () => {
    expect(parseAksRecords('{"records": {}}')).toMatch(/not an Azure diagnostic-settings body/);
    expect(parseAksRecords('{"records": [')).toMatch(/^body is not JSON/);
  });
});
