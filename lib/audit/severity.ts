import type { Severity, SeverityReason } from './types.js';

/** The fields the severity rules look at, already read out of the event. */
export interface SeverityInput {
  verb: string | null;
  resource: string | null;
  subresource: string | null;
  namespace: string | null;
  responseCode: number | null;
  impersonated: boolean;
}

/** A severity and the rule that gave it. */
export interface SeverityResult {
  severity: Severity;
  reason: SeverityReason;
}

const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);
const READ_VERBS = new Set(['get', 'list', 'watch']);
const RBAC_BINDINGS = new Set(['clusterrolebindings', 'rolebindings']);
const SENSITIVE_RESOURCES = new Set(['secrets', 'serviceaccounts', 'clusterroles', 'roles', 'certificatesigningrequests']);
const POD_INTERACTIVE = new Set(['exec', 'attach', 'portforward', 'proxy']);
const WORKLOADS = new Set(['deployments', 'daemonsets', 'statefulsets', 'pods', 'jobs', 'cronjobs', 'replicasets']);
// Subresources that change what runs. `status` and `binding` are written by the kubelet and
// the scheduler all day long; counting them would bury real workload changes in noise.
const WORKLOAD_SUBRESOURCES = new Set(['scale', 'ephemeralcontainers', 'resize']);
const SENSITIVE_READ = new Set(['secrets', 'serviceaccounts', 'clusterroles', 'clusterrolebindings', 'roles', 'rolebindings']);

/**
 * Buckets an event into the seed's four-tier ladder. Rows are checked in order and the first
 * match wins; the README's severity table documents each row and why it is there.
 */
export function classifySeverity(input: SeverityInput): SeverityResult {
  const { verb, resource, subresource, namespace, responseCode } = input;
  const isWrite = verb !== null && WRITE_VERBS.has(verb);
  if (verb === 'impersonate' || input.impersonated) return { severity: 'high', reason: 'impersonation' };
  if (resource !== null) {
    if (isWrite && RBAC_BINDINGS.has(resource)) return { severity: 'high', reason: 'rbac-binding-change' };
    if (isWrite && SENSITIVE_RESOURCES.has(resource)) return { severity: 'high', reason: 'sensitive-resource-change' };
    if (resource === 'pods' && subresource !== null && POD_INTERACTIVE.has(subresource)) {
      return { severity: 'high', reason: 'pod-interactive-access' };
    }
    if (resource === 'secrets' && subresource === null && (verb === 'list' || verb === 'watch') && namespace === null) {
      return { severity: 'high', reason: 'cluster-wide-secrets-read' };
    }
    if (isWrite && WORKLOADS.has(resource) && (subresource === null || WORKLOAD_SUBRESOURCES.has(subresource))) {
      return { severity: 'medium', reason: 'workload-change' };
    }
  }
  if (responseCode !== null && responseCode >= 400) return { severity: 'medium', reason: 'request-denied-or-failed' };
  if (resource !== null && verb !== null && READ_VERBS.has(verb)) {
    if (SENSITIVE_READ.has(resource) || (resource === 'configmaps' && namespace === 'kube-system')) {
      return { severity: 'low', reason: 'sensitive-read' };
    }
  }
  return { severity: 'info', reason: 'steady-state' };
}
