// OpenShift's SecurityContextConstraints and their grants, through the normaliser with the shipped
// pack: the SCCs and roles as OpenShift ships them (test/fixtures/openshift/ckao__*, cmo__*:
// openshift/cluster-kube-apiserver-operator and openshift/cluster-monitoring-operator, byte for
// byte), written by a person and by OpenShift's own operators, and the two writes of
// `oc adm policy add-scc-to-user` (openshift/oc 6b8e30c5 pkg/cli/admin/policy/modify_scc.go AddSCC:
// the ClusterRole `system:openshift:scc:<scc>` when absent, then a binding of it by
// RoleModificationOptions.AddRole, a RoleBinding in the namespace with -n, a ClusterRoleBinding otherwise).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { AuditEvent, JsonValue } from '../../../lib/audit/index.js';
import { normaliseAuditEvent } from '../../../lib/audit/index.js';
import { FIXTURES } from '../../helpers/fixtures.js';

const ctx = { tenantId: 'acme', clusterName: 'ocp', receivedAt: 0 };
const manifest = (file: string) => parse(readFileSync(join(FIXTURES, 'openshift', file), 'utf8')) as { [k: string]: JsonValue };
const CVO = 'system:serviceaccount:openshift-cluster-version:default';
const ADMIN = 'kube:admin';
const GROUPS: Record<string, string> = {
  securitycontextconstraints: 'security.openshift.io',
  clusterroles: 'rbac.authorization.k8s.io',
  clusterrolebindings: 'rbac.authorization.k8s.io',
  rolebindings: 'rbac.authorization.k8s.io',
};

let n = 0;
function write(
  user: string,
  verb: string,
  resource: string,
  name: string,
  requestObject: JsonValue,
  extra: { namespace?: string; code?: number } = {},
): AuditEvent {
  n++;
  const group = GROUPS[resource] as string;
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    auditID: `0c500000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    stage: 'ResponseComplete',
    requestURI: `/apis/${group}/v1/${extra.namespace ? `namespaces/${extra.namespace}/` : ''}${resource}${verb === 'create' ? '' : `/${name}`}`,
    verb,
    user: { username: user, groups: ['system:authenticated'] },
    userAgent:
      user === CVO ? 'cluster-version-operator/v0.0.0 (linux/amd64) kubernetes/$Format' : 'oc/4.15.0 (linux/amd64) kubernetes/3c32e8b',
    sourceIPs: ['10.0.0.5'],
    objectRef: { resource, name, apiGroup: group, apiVersion: 'v1', ...(extra.namespace ? { namespace: extra.namespace } : {}) },
    responseStatus: { code: extra.code ?? (verb === 'create' ? 201 : 200) },
    requestObject,
    requestReceivedTimestamp: '2026-12-08T01:00:00.000000Z',
    stageTimestamp: '2026-12-08T01:00:00.010000Z',
  };
}

function scored(ev: AuditEvent): [string, string, string[]] {
  const r = normaliseAuditEvent(ev, ctx);
  return [r.severity, r.severity_reason, r.rule_ids];
}

describe('a person granting a privileged SCC', () => {
  it('`oc adm policy add-scc-to-user privileged -z default -n shop`: both writes high, named by the rule', () => {
    const role = manifest('ckao__cr-scc-privileged.yaml');
    expect(scored(write(ADMIN, 'create', 'clusterroles', 'system:openshift:scc:privileged', role))).toEqual([
      'high',
      'sensitive-resource-change',
      ['openshift-privileged-scc-grant'],
    ]);
    const binding = {
      kind: 'RoleBinding',
      apiVersion: 'rbac.authorization.k8s.io/v1',
      metadata: { name: 'system:openshift:scc:privileged', namespace: 'shop' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:openshift:scc:privileged' },
      subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: 'shop' }],
    };
    expect(scored(write(ADMIN, 'create', 'rolebindings', 'system:openshift:scc:privileged', binding, { namespace: 'shop' }))).toEqual([
      'high',
      'rbac-binding-change',
      ['openshift-privileged-scc-grant'],
    ]);
  });

  it("the older way, a subject added to the shipped SCC's users: info before, high now", () => {
    const scc = manifest('ckao__scc-anyuid.yaml');
    const patch = { users: ['system:serviceaccount:shop:default'] };
    expect(scored(write(ADMIN, 'patch', 'securitycontextconstraints', 'anyuid', patch))).toEqual([
      'high',
      'rule:openshift-privileged-scc-grant',
      ['openshift-privileged-scc-grant'],
    ]);
    // `oc edit scc privileged` sends the whole object with the subject added: both rules.
    const edited = { ...manifest('ckao__scc-privileged.yaml'), users: ['system:serviceaccount:shop:default'] };
    expect(scored(write(ADMIN, 'update', 'securitycontextconstraints', 'privileged', edited))[2]).toEqual([
      'openshift-privileged-scc-grant',
      'openshift-privileged-scc',
    ]);
    expect(scc.kind).toBe('SecurityContextConstraints');
  });

  it('a new SCC as privileged as node-exporter, created by a person: high', () => {
    const scc = { ...manifest('cmo__node-exporter-scc.yaml'), metadata: { name: 'debug-tools' } };
    expect(scored(write(ADMIN, 'create', 'securitycontextconstraints', 'debug-tools', scc))).toEqual([
      'high',
      'rule:openshift-privileged-scc',
      ['openshift-privileged-scc'],
    ]);
  });

  it('restricted-v2 and its binding to system:authenticated stay as the table has them, with no SCC rule', () => {
    expect(scored(write(ADMIN, 'create', 'securitycontextconstraints', 'restricted-v2', manifest('ckao__scc-restricted-v2.yaml')))).toEqual(
      ['info', 'steady-state', []],
    );
    const crb = manifest('ckao__crb-systemauthenticated-scc-restricted-v2.yaml');
    // The binding to system:authenticated is rbac-binding-to-system-group's, not an SCC grant of ours.
    expect(scored(write(ADMIN, 'create', 'clusterrolebindings', 'system:openshift:scc:restricted-v2', crb))[2]).not.toContain(
      'openshift-privileged-scc-grant',
    );
  });
});

describe("OpenShift's operators keeping the shipped SCCs and grants", () => {
  it('the cluster-version operator applying the release (every upgrade): info, no rule', () => {
    // An SCC is no row of the table (info as any other kind); the RBAC grants are rows 2 and 3.
    expect(scored(write(CVO, 'update', 'securitycontextconstraints', 'privileged', manifest('ckao__scc-privileged.yaml')))).toEqual([
      'info',
      'steady-state',
      [],
    ]);
    for (const [resource, name, file] of [
      ['clusterroles', 'system:openshift:scc:privileged', 'ckao__cr-scc-privileged.yaml'],
      ['clusterrolebindings', 'system:openshift:scc:restricted-v2', 'ckao__crb-systemauthenticated-scc-restricted-v2.yaml'],
    ] as const) {
      expect(scored(write(CVO, 'update', resource, name, manifest(file)))).toEqual(['info', 'routine-controller-reconcile', []]);
    }
  });

  it("the monitoring operator creating its node-exporter SCC, the network operator its operand's binding: info", () => {
    const cmo = 'system:serviceaccount:openshift-monitoring:cluster-monitoring-operator';
    expect(scored(write(cmo, 'create', 'securitycontextconstraints', 'node-exporter', manifest('cmo__node-exporter-scc.yaml')))).toEqual([
      'info',
      'steady-state',
      [],
    ]);
    const cno = 'system:serviceaccount:openshift-network-operator:cluster-network-operator';
    const binding = {
      kind: 'RoleBinding',
      metadata: { name: 'system:openshift:scc:hostnetwork-v2', namespace: 'openshift-network-node-identity' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:openshift:scc:hostnetwork-v2' },
      subjects: [{ kind: 'ServiceAccount', name: 'network-node-identity', namespace: 'openshift-network-node-identity' }],
    };
    expect(
      scored(
        write(cno, 'update', 'rolebindings', 'system:openshift:scc:hostnetwork-v2', binding, {
          namespace: 'openshift-network-node-identity',
        }),
      ),
    ).toEqual(['info', 'routine-controller-reconcile', []]);
  });

  it('the same service account name outside openshift-* is anyone: high', () => {
    const lookalike = 'system:serviceaccount:shop:cluster-version';
    expect(
      scored(write(lookalike, 'update', 'clusterroles', 'system:openshift:scc:privileged', manifest('ckao__cr-scc-privileged.yaml'))),
    ).toEqual(['high', 'sensitive-resource-change', ['openshift-privileged-scc-grant']]);
  });
});
