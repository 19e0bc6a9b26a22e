import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../lib/audit/index.js';
import { classifySeverity, normaliseAuditEvent } from '../../../lib/audit/index.js';
import { falcoEvent } from '../../helpers/fixtures.js';

// The spec's table alone (K8S_AUDIT_SEVERITY=spec): it stays exactly as documented. The default
// (refinements and rules) is tested in test/unit/rules/.
const ctx = { tenantId: 't', clusterName: 'c', receivedAt: 0, detection: { severity: 'spec' as const, rules: null } };

function severityOf(event: AuditEvent): [string, string] {
  const r = normaliseAuditEvent(event, ctx);
  return [r.severity, r.severity_reason];
}

function withVerbOn(base: AuditEvent, verb: string, objectRef: AuditEvent['objectRef'], code = 200): AuditEvent {
  return { ...base, verb, objectRef, responseStatus: { code } };
}

const service = falcoEvent('create_service.json');

describe('classifySeverity', () => {
  it('row 1: marks impersonate requests high', () => {
    expect(severityOf(withVerbOn(service, 'impersonate', { resource: 'users', name: 'admin' }))).toEqual(['high', 'impersonation']);
  });

  it('row 1: marks requests made through impersonation high, whatever they do', () => {
    expect(
      severityOf({ ...falcoEvent('create_nginx_pod_unsensitive_mount.json'), impersonatedUser: { username: 'system:admin' } }),
    ).toEqual(['high', 'impersonation']);
  });

  it('row 2: marks RBAC binding changes high', () => {
    expect(severityOf(falcoEvent('create_clusterrolebinding.json'))).toEqual(['high', 'rbac-binding-change']);
    expect(severityOf(falcoEvent('delete_clusterrolebinding.json'))).toEqual(['high', 'rbac-binding-change']);
    expect(severityOf(withVerbOn(service, 'deletecollection', { resource: 'rolebindings', namespace: 'a' }))).toEqual([
      'high',
      'rbac-binding-change',
    ]);
  });

  it('row 3: marks changes to secrets, service accounts, roles and CSRs high', () => {
    expect(severityOf(falcoEvent('create_secret.json'))).toEqual(['high', 'sensitive-resource-change']);
    expect(severityOf(falcoEvent('delete_serviceaccount.json'))).toEqual(['high', 'sensitive-resource-change']);
    expect(severityOf(falcoEvent('create_clusterrole.json'))).toEqual(['high', 'sensitive-resource-change']);
    expect(severityOf(falcoEvent('modify_cluster_role_node_problem_detector.json'))).toEqual(['high', 'sensitive-resource-change']);
    const token = withVerbOn(
      service,
      'create',
      { resource: 'serviceaccounts', subresource: 'token', namespace: 'kube-system', name: 'default' },
      201,
    );
    expect(severityOf(token)).toEqual(['high', 'sensitive-resource-change']);
    const csr = withVerbOn(service, 'update', { resource: 'certificatesigningrequests', subresource: 'approval', name: 'csr-1' });
    expect(severityOf(csr)).toEqual(['high', 'sensitive-resource-change']);
  });

  it('row 4: marks exec, attach, portforward and proxy into pods high, at any stage', () => {
    expect(severityOf(falcoEvent('exec_pod.json'))).toEqual(['high', 'pod-interactive-access']);
    expect(severityOf(falcoEvent('attach_pod.json'))).toEqual(['high', 'pod-interactive-access']);
    for (const sub of ['portforward', 'proxy']) {
      expect(severityOf(withVerbOn(service, 'get', { resource: 'pods', subresource: sub, namespace: 'default', name: 'p' }, 101))).toEqual([
        'high',
        'pod-interactive-access',
      ]);
    }
  });

  it('row 5: marks a cluster-wide list or watch of secrets high', () => {
    expect(severityOf(withVerbOn(service, 'list', { resource: 'secrets' }))).toEqual(['high', 'cluster-wide-secrets-read']);
    expect(severityOf(withVerbOn(service, 'watch', { resource: 'secrets', namespace: '' }))).toEqual(['high', 'cluster-wide-secrets-read']);
  });

  it('row 6: marks workload changes medium, but not the kubelet status writes', () => {
    expect(severityOf(falcoEvent('create_deployment.json'))).toEqual(['medium', 'workload-change']);
    expect(severityOf(falcoEvent('delete_deployment.json'))).toEqual(['medium', 'workload-change']);
    expect(severityOf(falcoEvent('create_nginx_pod_privileged.json'))).toEqual(['medium', 'workload-change']);
    expect(severityOf(withVerbOn(service, 'patch', { resource: 'deployments', subresource: 'scale', namespace: 'a', name: 'd' }))).toEqual([
      'medium',
      'workload-change',
    ]);
    expect(severityOf(withVerbOn(service, 'patch', { resource: 'pods', subresource: 'status', namespace: 'a', name: 'p' }))).toEqual([
      'info',
      'steady-state',
    ]);
  });

  it('row 7: marks denied and failed requests medium', () => {
    expect(severityOf(withVerbOn(service, 'get', { resource: 'configmaps', namespace: 'default', name: 'x' }, 403))).toEqual([
      'medium',
      'request-denied-or-failed',
    ]);
    expect(severityOf(withVerbOn(service, 'create', { resource: 'services', namespace: 'default' }, 500))).toEqual([
      'medium',
      'request-denied-or-failed',
    ]);
  });

  it('row 8: marks reads of sensitive resources low', () => {
    expect(severityOf(withVerbOn(service, 'get', { resource: 'secrets', namespace: 'default', name: 'db' }))).toEqual([
      'low',
      'sensitive-read',
    ]);
    expect(severityOf(withVerbOn(service, 'list', { resource: 'clusterrolebindings' }))).toEqual(['low', 'sensitive-read']);
    expect(severityOf(withVerbOn(service, 'get', { resource: 'configmaps', namespace: 'kube-system', name: 'aws-auth' }))).toEqual([
      'low',
      'sensitive-read',
    ]);
    expect(severityOf(withVerbOn(service, 'get', { resource: 'configmaps', namespace: 'default', name: 'app' }))).toEqual([
      'info',
      'steady-state',
    ]);
  });

  it('row 9: leaves steady-state traffic at info', () => {
    expect(severityOf(falcoEvent('create_nginx_pod_unsensitive_mount.json'))).toEqual(['info', 'steady-state']);
    expect(severityOf(falcoEvent('create_service.json'))).toEqual(['info', 'steady-state']);
    expect(severityOf(falcoEvent('create_configmap.json'))).toEqual(['info', 'steady-state']);
  });

  it('checks the rows in order: a denied secret change is still high', () => {
    expect(
      classifySeverity({ verb: 'delete', resource: 'secrets', subresource: null, namespace: 'a', responseCode: 403, impersonated: false }),
    ).toEqual({ severity: 'high', reason: 'sensitive-resource-change' });
  });
});
