// routine-daemonset-pod (lib/audit/detect.ts): the edges test/integration/daemonset-agents-serve.test.ts
// does not send. The pod is kube-prometheus's node-exporter as the DaemonSet controller writes it
// (test/fixtures/daemonset-agents, test/helpers/daemonset-pods.ts).
import { describe, expect, it } from 'vitest';
import { type AuditEvent, type Detection, decideEventSeverity, normaliseAuditEvent, validateAuditEvent } from '../../../lib/audit/index.js';
import { agentDaemonSets, daemonSetPod } from '../../helpers/daemonset-pods.js';

type Json = Record<string, unknown>;
const ctx = { tenantId: 'acme', clusterName: 'prod', receivedAt: 0 };
const nodeExporter = (agentDaemonSets().find((a) => a.file.startsWith('kube-prometheus')) as { ds: Json }).ds;

function podEvent(pod: Json, over: Json = {}): AuditEvent {
  const v = validateAuditEvent({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    auditID: '0d5e7a9c-0000-4000-8000-000000000001',
    stage: 'ResponseComplete',
    requestURI: '/api/v1/namespaces/monitoring/pods',
    verb: 'create',
    user: {
      username: 'system:serviceaccount:kube-system:daemon-set-controller',
      groups: ['system:serviceaccounts', 'system:authenticated'],
    },
    sourceIPs: ['10.0.100.5'],
    objectRef: { resource: 'pods', namespace: 'monitoring', apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 201 },
    requestObject: pod,
    ...over,
  });
  if (!v.ok) throw new Error(v.reason);
  return v.event;
}

const scored = (e: AuditEvent): [string, string] => {
  const r = normaliseAuditEvent(e, ctx);
  return [r.severity, r.severity_reason];
};

describe('routine-daemonset-pod', () => {
  const pod = daemonSetPod(nodeExporter, 'ip-10-0-3-41.ec2.internal');

  it("the DaemonSet controller's copy is low, its rules named", () => {
    const r = normaliseAuditEvent(podEvent(pod), ctx);
    expect([r.severity, r.severity_reason, r.rule_ids]).toEqual([
      'low',
      'routine-daemonset-pod',
      ['host-pid-or-ipc', 'host-network', 'sensitive-host-path'],
    ]);
  });

  it('through impersonation, or with a second controller reference, it keeps its rules', () => {
    // Row 1 is high for any impersonated request; the rule stays named beside it.
    expect(scored(podEvent(pod, { impersonatedUser: { username: 'system:serviceaccount:kube-system:daemon-set-controller' } }))).toEqual([
      'high',
      'impersonation',
    ]);
    const meta = pod.metadata as Json;
    const two = {
      ...pod,
      metadata: {
        ...meta,
        ownerReferences: [
          ...(meta.ownerReferences as Json[]),
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'x', uid: 'u', controller: true },
        ],
      },
    };
    expect(scored(podEvent(two))).toEqual(['high', 'rule:host-pid-or-ipc']);
    const none = { ...pod, metadata: { ...meta, ownerReferences: undefined } };
    expect(scored(podEvent(none))).toEqual(['high', 'rule:host-pid-or-ipc']);
  });

  it('only rules that score every DaemonSet write are lowered: a pods-only or a requester-scoped rule keeps its own', () => {
    const fired = (match: Json) =>
      ({
        severity: 'default',
        rules: { match: () => [{ id: 'ops-rule', severity: 'high', match }] },
      }) as unknown as Detection;
    const e = podEvent(pod);
    const of = (match: Json) => {
      const d = decideEventSeverity(e, fired(match));
      return [d.severity, d.reason];
    };
    expect(of({ verbs: ['create'], resources: ['pods', 'daemonsets'] })).toEqual(['low', 'routine-daemonset-pod']);
    expect(of({ verbs: ['*'], resources: ['*'] })).toEqual(['low', 'routine-daemonset-pod']);
    expect(of({ verbs: ['create'], resources: ['pods'] })).toEqual(['high', 'rule:ops-rule']);
    expect(of({ verbs: ['update'], resources: ['pods', 'daemonsets'] })).toEqual(['high', 'rule:ops-rule']);
    expect(of({ verbs: ['create'], resources: ['pods', 'daemonsets'], users: ['system:serviceaccount:kube-system:*'] })).toEqual([
      'high',
      'rule:ops-rule',
    ]);
  });

  it('with K8S_AUDIT_SEVERITY=spec the copy is row 6 as before', () => {
    const r = normaliseAuditEvent(podEvent(pod), { ...ctx, detection: { severity: 'spec', rules: null } });
    expect([r.severity, r.severity_reason, r.rule_ids]).toEqual(['medium', 'workload-change', []]);
  });
});
