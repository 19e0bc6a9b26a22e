import { describe, expect, it } from 'vitest';
import { type AuditEvent, normaliseAuditEvent } from '../../../lib/audit/index.js';
import { falcoEvent, falcoEvents } from '../../helpers/fixtures.js';

// Falco's recorded attack traces (test/fixtures/falco, falcosecurity/falco test/trace_files/k8s_audit):
// what each comes out as with the shipped pack, and with K8S_AUDIT_SEVERITY=spec.
const ctx = { tenantId: 'acme', clusterName: 'prod', receivedAt: 0 };
const spec = { ...ctx, detection: { severity: 'spec' as const, rules: null } };

function lastEvent(file: string): AuditEvent {
  const events = falcoEvents(file);
  return events[events.length - 1] as AuditEvent;
}

describe('Falco attack traces through the shipped pack', () => {
  it.each([
    ['anonymous_creates_namespace_foo.json', 'anonymous-request-allowed', 'info', 'high'],
    ['create_nginx_pod_privileged.json', 'privileged-container', 'medium', 'high'],
    ['create_nginx_pod_privileged_2nd_container.json', 'privileged-container', 'medium', 'high'],
    ['create_nginx_pod_no_secctx_1st_container_privileged_2nd_container.json', 'privileged-container', 'medium', 'high'],
    ['create_nginx_pod_sensitive_mount.json', 'sensitive-host-path', 'medium', 'high'],
    ['create_nginx_pod_sensitive_mount_2nd_container.json', 'sensitive-host-path', 'medium', 'high'],
    ['create_nginx_service_nodeport.json', 'nodeport-service', 'info', 'medium'],
    ['create_pod_kube_system_namespace.json', 'kube-system-pod', 'medium', 'medium'],
    ['create_pod_kube_public_namespace.json', 'kube-system-pod', 'medium', 'medium'],
    ['create_nginx_pod_hostnetwork.json', 'host-network', 'medium', 'medium'],
    ['delete_namespace_foo.json', 'namespace-deleted', 'info', 'high'],
  ])('%s: %s fires (spec table %s, now %s)', (file, ruleId, specSeverity, severity) => {
    const event = lastEvent(file);
    const record = normaliseAuditEvent(event, ctx);
    expect(record.rule_ids).toContain(ruleId);
    expect(record.severity).toBe(severity);
    expect(record.ocsf.severity_id).toBe({ info: 1, low: 2, medium: 3, high: 4 }[severity]);
    expect(normaliseAuditEvent(event, spec).severity).toBe(specSeverity);
    // Each is a pod or object a refinement leaves at info, or the table leaves lower: the rule decides.
    expect(record.severity_reason).toBe(`rule:${ruleId}`);
  });

  it('the RBAC traces keep the table row as reason and list the rule', () => {
    const admin = normaliseAuditEvent(lastEvent('attach_cluster_admin_role.json'), ctx);
    expect(admin).toMatchObject({ severity: 'high', severity_reason: 'rbac-binding-change', rule_ids: ['cluster-admin-binding'] });
    for (const file of ['create_cluster_role_wildcard_resources.json', 'create_cluster_role_wildcard_verbs.json']) {
      const r = normaliseAuditEvent(lastEvent(file), ctx);
      expect(r).toMatchObject({
        severity: 'high',
        severity_reason: 'sensitive-resource-change',
        rule_ids: ['rbac-escalation-verbs-or-wildcards'],
      });
    }
  });

  it('an unprivileged pod a controller creates is routine (info); with K8S_AUDIT_SEVERITY=spec it stays medium', () => {
    for (const file of ['create_nginx_pod_unprivileged.json', 'create_nginx_pod_nohostnetwork.json']) {
      const event = falcoEvents(file).find((e) => e.verb === 'create') as AuditEvent;
      expect(normaliseAuditEvent(event, ctx)).toMatchObject({
        severity: 'info',
        severity_reason: 'routine-controller-reconcile',
        rule_ids: [],
      });
      expect(normaliseAuditEvent(event, spec)).toMatchObject({ severity: 'medium', severity_reason: 'workload-change', rule_ids: [] });
    }
  });

  it('events no rule matches keep the spec table exactly', () => {
    for (const file of ['create_deployment.json', 'delete_secret.json', 'exec_pod.json', 'create_configmap.json']) {
      const event = falcoEvent(file);
      const ours = normaliseAuditEvent(event, ctx);
      const table = normaliseAuditEvent(event, spec);
      expect(ours.rule_ids).toEqual([]);
      expect([ours.severity, ours.severity_reason]).toEqual([table.severity, table.severity_reason]);
    }
  });
});
