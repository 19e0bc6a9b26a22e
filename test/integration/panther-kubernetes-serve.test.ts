// Panther's Kubernetes detections (panther-labs/panther-analysis rules/kubernetes_rules/*.yml): the
// audit event of each of their tests (test/fixtures/offensive-tools/panther-kubernetes.json), the
// attacks Panther alerts on and the events it judged benign, POSTed to a running `serve` as an
// apiserver's webhook does: what each comes out as in `events` and `events --alerts`, event by
// event, each high one's alert a valid OCSF 2004 finding naming its rule or table row.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gkeLogEntryToAuditEvent, parseAksRecords } from '../../lib/audit/index.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { expectAlert, servedOnce } from '../helpers/through-serve.js';

const SECRET = 'panther-kubernetes-secret-0123456789abcdef';

interface PantherTest {
  rule: string;
  test: string;
  /** Panther's ExpectedResult: true for the attacks its rule alerts on. */
  expected: boolean;
  logType: 'Amazon.EKS.Audit' | 'Azure.MonitorActivity' | 'GCP.AuditLog';
  event: Record<string, unknown>;
}
const panther = JSON.parse(readFileSync(join(FIXTURES, 'offensive-tools', 'panther-kubernetes.json'), 'utf8')) as {
  tests: PantherTest[];
};

const AKS_CLUSTER =
  '/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/PROD';

/**
 * Each test's event as the ingest reads it, through the path of its cloud. Panther's events
 * leave out what every event has: their auditIDs are placeholders shared between tests
 * (`abc-123`), so each gets its own, as the apiserver gives one per request; an AKS record gets
 * the `resourceId` every diagnostic record has; a GKE entry is Panther's protoPayload without the
 * LogEntry around it (`logName`, `insertId`, the payload's `@type`, `resource` in two of them),
 * given here as Cloud Logging writes it. An AKS record or GKE entry the ingest would skip (another
 * service's) is skipped with its reason.
 */
function asAuditEvent(t: PantherTest, id: string): Record<string, unknown> | { skipped: string } {
  if (t.logType === 'Amazon.EKS.Audit') return { ...t.event, auditID: id };
  if (t.logType === 'Azure.MonitorActivity') {
    const properties = t.event.properties as { log?: string } | undefined;
    const record =
      properties?.log === undefined
        ? { ...t.event, resourceId: AKS_CLUSTER }
        : {
            ...t.event,
            resourceId: AKS_CLUSTER,
            properties: { ...properties, log: JSON.stringify({ ...JSON.parse(properties.log), auditID: id }) },
          };
    const body = parseAksRecords(JSON.stringify({ records: [record] }));
    if (typeof body === 'string' || body.rejected.length > 0) throw new Error(`${t.rule} ${t.test}: ${JSON.stringify(body)}`);
    if (body.skipped > 0) return { skipped: body.skippedReasons.join('; ') };
    return body.events[0]?.event as unknown as Record<string, unknown>;
  }
  const out = gkeLogEntryToAuditEvent({
    logName: 'projects/test-project/logs/cloudaudit.googleapis.com%2Factivity',
    resource: { type: 'k8s_cluster', labels: { project_id: 'test-project', location: 'us-central1', cluster_name: 'prod' } },
    timestamp: '2026-12-07T08:00:00.000000Z',
    ...t.event,
    insertId: id,
    protoPayload: { '@type': 'type.googleapis.com/google.cloud.audit.AuditLog', ...(t.event.protoPayload as object) },
  });
  if (out.kind === 'rejected') throw new Error(`${t.rule} ${t.test}: ${out.reason}`);
  return out.kind === 'skipped' ? { skipped: out.reason } : (out.event as unknown as Record<string, unknown>);
}

/** Panther's test name, then the event's severity, severity_reason and the rules that fired; or 'skipped'. */
type Outcome = [test: string, severity: string, reason?: string, rules?: string[]];

// Every test of every rule file, in the fixture's order. Where Panther judged an event benign and
// we score it medium or high, the comment above the file's list says why.
const OUTCOMES: Record<string, Outcome[]> = {
  // An update redirects every admission request as surely as a create does (the rule covers both); a
  // refused create is the table's denied row.
  'k8s_admission_controller_created.yml': [
    ['EKS MutatingWebhookConfiguration Created', 'high', 'rule:admission-webhook-change', ['admission-webhook-change']],
    ['AKS ValidatingWebhookConfiguration Created', 'high', 'rule:admission-webhook-change', ['admission-webhook-change']],
    ['GKE MutatingWebhookConfiguration Created', 'high', 'rule:admission-webhook-change', ['admission-webhook-change']],
    ['Webhook Update (Not Create)', 'high', 'rule:admission-webhook-change', ['admission-webhook-change']],
    ['Different Resource Type', 'info', 'steady-state'],
    ['Webhook Creation Failed', 'medium', 'request-denied-or-failed'],
  ],
  'k8s_anonymous_api_access.yml': [
    ['EKS Anonymous API Access', 'high', 'rule:anonymous-request-allowed', ['anonymous-request-allowed']],
    ['AKS Anonymous API Access', 'high', 'rule:anonymous-request-allowed', ['anonymous-request-allowed']],
    ['GCP GKE Anonymous API Access', 'info', 'steady-state'],
    ['Non-Anonymous API Access', 'info', 'steady-state'],
    ['Localhost Access', 'info', 'steady-state'],
    ['ELB Health Checker (excluded)', 'info', 'steady-state'],
    ['kube-probe Health Check (excluded)', 'info', 'steady-state'],
    ['Google Load Balancer Health Check (excluded)', 'info', 'steady-state'],
  ],
  // A CSR by anyone but a node or a joining node is the table's row 3: a refused one is the attempt
  // still (the table's first matching row), a serving certificate for a person too. The controller
  // manager approves and signs CSRs and never asks for one, so its "system principal" create has no
  // routine traffic behind it. GKE's node bootstrap (Panther calls it AKS's) is routine-node-csr.
  'k8s_client_certificate_created.yml': [
    ['EKS client certificate CSR created', 'high', 'sensitive-resource-change'],
    ['AKS client certificate CSR created', 'high', 'sensitive-resource-change'],
    ['GKE client certificate CSR created', 'high', 'sensitive-resource-change'],
    ['Service account creating certificate (higher severity)', 'high', 'sensitive-resource-change'],
    ['System principal creating certificate (excluded)', 'high', 'sensitive-resource-change'],
    ['AKS node bootstrap CSR (excluded)', 'info', 'routine-node-csr'],
    ['Failed CSR creation (excluded)', 'high', 'sensitive-resource-change'],
    ['Server auth certificate (not client auth)', 'high', 'sensitive-resource-change'],
    ['Get CSR (not creation)', 'info', 'steady-state'],
  ],
  // Every binding change is row 2, to any role, by anyone, refused or not: the table does not read the
  // role, and a `controller` service account binding cluster-admin is exactly what a stolen
  // controller token would do. Panther's RoleBinding to cluster-admin is cluster-admin-binding too.
  'k8s_clusterrolebinding_privileged.yml': [
    ['EKS ClusterRoleBinding to cluster-admin', 'high', 'rbac-binding-change', ['cluster-admin-binding']],
    ['AKS ClusterRoleBinding to system:masters', 'high', 'rbac-binding-change'],
    ['GKE ClusterRoleBinding to admin role', 'high', 'rbac-binding-change'],
    ['EKS ClusterRoleBinding to controller-manager role', 'high', 'rbac-binding-change'],
    ['ClusterRoleBinding to non-privileged role', 'high', 'rbac-binding-change'],
    ['RoleBinding (not ClusterRoleBinding)', 'high', 'rbac-binding-change', ['cluster-admin-binding']],
    ['System principal creating binding (excluded)', 'high', 'rbac-binding-change', ['cluster-admin-binding']],
    ['Failed request (excluded)', 'high', 'rbac-binding-change'],
    ['Reading ClusterRoleBinding (not creating)', 'low', 'sensitive-read'],
  ],
  // Row 6 (medium) for any workload write; a service account named cronjob-controller writes Jobs,
  // not CronJobs (its routine case is jobs only), so a CronJob it creates in kube-system keeps the row.
  'k8s_cronjob_created_or_modified.yml': [
    ['EKS CronJob Created', 'medium', 'workload-change'],
    ['AKS CronJob Updated', 'medium', 'workload-change'],
    ['GCP GKE CronJob Created', 'medium', 'workload-change'],
    ['CronJob Creation Failed', 'medium', 'workload-change'],
    ['Pod Creation (Not CronJob)', 'medium', 'workload-change'],
    ['CronJob Get (Not Create/Update)', 'info', 'steady-state'],
    ['System controller creating CronJob in kube-system (excluded)', 'medium', 'workload-change'],
  ],
  // Row 6 (medium) for every workload write; the daemon-set-controller writes pods, not DaemonSets, so
  // its "kube-proxy" DaemonSet create keeps the row. Panther's EKS DaemonSet mounts the container
  // runtime's socket in kube-system: high by two rules.
  'k8s_daemonset_created.yml': [
    [
      'EKS DaemonSet Created',
      'high',
      'rule:container-runtime-socket',
      ['container-runtime-socket', 'kube-system-workload', 'kube-system-pod'],
    ],
    ['AKS DaemonSet Created', 'medium', 'workload-change'],
    ['GCP GKE DaemonSet Created', 'high', 'rule:kube-system-workload', ['kube-system-workload']],
    ['DaemonSet Creation Failed', 'medium', 'workload-change'],
    ['Deployment Creation (Not DaemonSet)', 'medium', 'workload-change'],
    ['DaemonSet Update (Not Create)', 'medium', 'workload-change'],
    ['System controller creating DaemonSet in kube-system (excluded)', 'medium', 'workload-change'],
  ],
  // A person's pod create is row 6.
  'k8s_exec_into_pod.yml': [
    ['EKS Exec Into Pod', 'high', 'pod-interactive-access'],
    ['AKS Exec Into Pod (realistic)', 'high', 'pod-interactive-access'],
    ['GCP GKE Exec Into Pod', 'high', 'pod-interactive-access'],
    ['Pod Creation (Not Exec)', 'medium', 'workload-change'],
    ['Get Pod (Not Exec - no subresource)', 'info', 'steady-state'],
  ],
  // Ingresses are no row of the table and no rule: a refused create is the denied row.
  'k8s_ingress_without_tls.yml': [
    ['EKS Ingress without TLS', 'info', 'steady-state'],
    ['AKS Ingress without TLS', 'info', 'steady-state'],
    ['GKE Ingress without TLS with external DNS annotation', 'info', 'steady-state'],
    ['EKS Ingress with TLS configured', 'info', 'steady-state'],
    ['System namespace (excluded)', 'info', 'steady-state'],
    ['Failed request (excluded)', 'medium', 'request-denied-or-failed'],
    ['Updating existing ingress (not creating)', 'info', 'steady-state'],
  ],
  // The two non-Kubernetes entries are skipped by the GKE and AKS paths (another service's, another category).
  'k8s_ioc_activity.yml': [
    ['EKS Activity from Tor Exit Node', 'info', 'steady-state'],
    ['AKS Activity from Tor Exit Node', 'info', 'steady-state'],
    ['GCP GKE Activity from Tor Exit Node', 'info', 'steady-state'],
    ['Non-K8s GCP Activity (Excluded)', 'skipped'],
    ['K8s Activity Without Tor Enrichment', 'info', 'steady-state'],
    ['Non-K8s Azure Activity (Excluded)', 'skipped'],
  ],
  // Every exec is row 4 (high): copying into a pod, a tar, any command, in kube-system, and a refused
  // one (the attempt, whose command the URI still shows).
  'k8s_kubectl_cp_operation.yml': [
    ['EKS kubectl cp from pod (requestURI format)', 'high', 'pod-interactive-access'],
    ['AKS kubectl cp from pod with SSH keys', 'high', 'pod-interactive-access'],
    ['GKE kubectl cp from pod', 'high', 'pod-interactive-access'],
    ['EKS kubectl cp TO pod (not exfiltration)', 'high', 'pod-interactive-access'],
    ['EKS regular tar archive creation', 'high', 'pod-interactive-access'],
    ['EKS regular exec without tar', 'high', 'pod-interactive-access'],
    ['EKS system namespace (excluded)', 'high', 'pod-interactive-access'],
    ['EKS failed request (excluded)', 'high', 'pod-interactive-access'],
  ],
  // Every refusal is the denied row, from any address: Panther counts them per address over time.
  'k8s_multiple_403_public_ip.yml': [
    ['EKS 403 from Public IP', 'medium', 'request-denied-or-failed', ['service-account-from-public-address']],
    ['AKS 403 from Public IP', 'medium', 'request-denied-or-failed'],
    ['GCP GKE 403 from Public IP', 'medium', 'request-denied-or-failed'],
    ['403 from Private IP (Excluded)', 'medium', 'request-denied-or-failed'],
    ['200 Response (Not 403)', 'info', 'steady-state'],
    ['No Source IP', 'medium', 'request-denied-or-failed'],
  ],
  // A person's workload in kube-system is the rule's, a Deployment as much as a pod; a service
  // account named `controller` is not one of kube-controller-manager's (which own only their kinds),
  // and its pod's image is outside the EKS add-on registry (kube-system-pod). GKE's gke-system is
  // GKE's own and its writers are not documented: row 6.
  'k8s_pod_created_in_system_namespace.yml': [
    ['EKS pod created in kube-system', 'high', 'rule:kube-system-workload', ['kube-system-workload', 'kube-system-pod']],
    ['AKS pod created in kube-public', 'high', 'rule:kube-system-workload', ['kube-system-workload', 'kube-system-pod']],
    ['GKE pod created in gke-system', 'medium', 'workload-change'],
    ['EKS pod created in kube-node-lease', 'high', 'rule:kube-system-workload', ['kube-system-workload']],
    ['Pod created in application namespace', 'medium', 'workload-change'],
    ['System principal creating pod in kube-system (excluded)', 'medium', 'workload-change', ['kube-system-pod']],
    ['Failed pod creation (excluded)', 'medium', 'workload-change'],
    ['Deployment creating pod (not direct pod creation)', 'high', 'rule:kube-system-workload', ['kube-system-workload']],
    ['EKS pod eviction in kube-system (excluded)', 'info', 'routine-node-drain-eviction'],
  ],
  // Every pod create is row 6, refused ones too (the table's first matching row).
  'k8s_pod_dangerous_capabilities.yml': [
    ['EKS Pod with SYS_ADMIN Capability', 'high', 'rule:dangerous-capabilities', ['dangerous-capabilities']],
    ['AKS Pod with NET_ADMIN Capability', 'high', 'rule:dangerous-capabilities', ['dangerous-capabilities']],
    ['GKE Pod with BPF Capability', 'high', 'rule:dangerous-capabilities', ['dangerous-capabilities']],
    ['Pod with Safe Capabilities Only', 'medium', 'workload-change'],
    ['Pod without Capabilities', 'medium', 'workload-change'],
    ['Pod Creation Failed', 'medium', 'workload-change'],
  ],
  // A pod sharing the host's IPC namespace in kube-system, by a service account named `daemon` that no
  // controller runs as, is the escape it is anywhere else.
  'k8s_pod_host_ipc.yml': [
    ['EKS Pod with HostIPC', 'high', 'rule:host-pid-or-ipc', ['host-pid-or-ipc']],
    ['AKS Pod with HostIPC', 'high', 'rule:host-pid-or-ipc', ['host-pid-or-ipc']],
    ['GKE Pod with HostIPC', 'high', 'rule:host-pid-or-ipc', ['host-pid-or-ipc']],
    ['Pod without HostIPC', 'medium', 'workload-change'],
    ['System Namespace with HostIPC (Excluded)', 'high', 'rule:host-pid-or-ipc', ['host-pid-or-ipc', 'kube-system-pod']],
    ['Pod Creation Failed', 'medium', 'workload-change'],
  ],
  // host-network is medium: kube-proxy and every CNI pod use it.
  'k8s_pod_host_network.yml': [
    ['EKS Pod With Host Network', 'medium', 'workload-change', ['host-network']],
    ['AKS Pod With Host Network', 'medium', 'workload-change', ['host-network']],
    ['GCP GKE Pod With Host Network', 'medium', 'workload-change', ['host-network']],
    ['Pod Without Host Network', 'medium', 'workload-change'],
    ['Pod Creation Failed', 'medium', 'workload-change'],
    ['Not a Pod Creation', 'info', 'steady-state'],
  ],
  'k8s_pod_host_pid.yml': [
    ['EKS Pod With Host PID', 'high', 'rule:host-pid-or-ipc', ['host-pid-or-ipc']],
    ['AKS Pod With Host PID', 'high', 'rule:host-pid-or-ipc', ['host-pid-or-ipc']],
    ['GCP GKE Pod With Host PID', 'high', 'rule:host-pid-or-ipc', ['host-pid-or-ipc']],
    ['Pod Without Host PID', 'medium', 'workload-change'],
    ['Pod Creation Failed', 'medium', 'workload-change'],
  ],
  // /mnt/data and /var/lib/cni are no sensitive host path: row 6.
  'k8s_pod_hostpath_volume.yml': [
    ['EKS Pod With Suspicious HostPath', 'high', 'rule:sensitive-host-path', ['sensitive-host-path']],
    ['AKS Pod With HostPath', 'medium', 'workload-change'],
    ['GCP GKE Pod With HostPath', 'high', 'rule:sensitive-host-path', ['sensitive-host-path']],
    ['Pod Without HostPath', 'medium', 'workload-change'],
    ['Pod Creation Failed', 'medium', 'workload-change'],
    ['System Namespace Pod (Excluded)', 'medium', 'workload-change'],
  ],
  // Root in a container is no rule (most images run as root): row 6. A privileged pod in kube-system
  // by the deployment-controller, which writes ReplicaSets and never pods, is not its routine.
  'k8s_privileged_pod_created.yml': [
    ['EKS Privileged Pod Created', 'high', 'rule:privileged-container', ['privileged-container']],
    ['AKS Privileged Pod Created', 'high', 'rule:privileged-container', ['privileged-container']],
    ['GCP GKE Privileged Pod Created', 'high', 'rule:privileged-container', ['privileged-container']],
    ['Run-As-Root Pod Created', 'medium', 'workload-change'],
    ['Pod with runAsUser=0 (root)', 'medium', 'workload-change'],
    ['Non-Privileged Pod Created', 'medium', 'workload-change'],
    ['Error Creating Pod', 'medium', 'workload-change'],
    ['Privileged Pod in System Namespace (Excluded)', 'high', 'rule:privileged-container', ['privileged-container', 'kube-system-pod']],
  ],
  // Every Role and ClusterRole write is row 3 (high), whatever it grants, by anyone, refused or not:
  // the same in the three files below. A service account named `operator` or `controller` runs no
  // controller of kube-controller-manager's and has no documented routine. A nodes/proxy grant
  // allowed is named by rbac-node-proxy-csr-or-webhook-grant (was no rule), an update's too: the
  // grant is the same whether the role is new.
  'k8s_role_node_proxy_permissions.yml': [
    ['EKS ClusterRole with nodes/proxy permission', 'high', 'sensitive-resource-change', ['rbac-node-proxy-csr-or-webhook-grant']],
    ['AKS ClusterRole with nodes/* permission', 'high', 'sensitive-resource-change', ['rbac-escalation-verbs-or-wildcards']],
    ['GKE ClusterRole with nodes proxy access', 'high', 'sensitive-resource-change', ['rbac-node-proxy-csr-or-webhook-grant']],
    ['EKS Role with nodes wildcard', 'high', 'sensitive-resource-change', ['rbac-escalation-verbs-or-wildcards']],
    ['Role with only node list permission (no proxy)', 'high', 'sensitive-resource-change'],
    ['Role with pod permissions (not nodes)', 'high', 'sensitive-resource-change'],
    ['System principal creating role (excluded)', 'high', 'sensitive-resource-change', ['rbac-node-proxy-csr-or-webhook-grant']],
    ['Failed request (excluded)', 'high', 'sensitive-resource-change'],
    ['Updating existing role (not creating)', 'high', 'sensitive-resource-change', ['rbac-node-proxy-csr-or-webhook-grant']],
  ],
  'k8s_role_pod_exec.yml': [
    ['EKS ClusterRole with pods/exec', 'high', 'sensitive-resource-change'],
    ['AKS Role with pods/exec in namespace', 'high', 'sensitive-resource-change'],
    ['GKE ClusterRole with multiple resources including pods/exec', 'high', 'sensitive-resource-change'],
    ['Role without pods/exec (only pods)', 'high', 'sensitive-resource-change'],
    ['ClusterRole with only read permissions', 'high', 'sensitive-resource-change'],
    ['System principal creating role (excluded)', 'high', 'sensitive-resource-change'],
    ['Failed request (excluded)', 'high', 'sensitive-resource-change'],
    ['Updating existing role (not creating)', 'high', 'sensitive-resource-change'],
  ],
  'k8s_role_wildcard.yml': [
    ['EKS ClusterRole with wildcard resources and verbs', 'high', 'sensitive-resource-change', ['rbac-escalation-verbs-or-wildcards']],
    ['AKS Role with wildcard verbs only', 'high', 'sensitive-resource-change', ['rbac-escalation-verbs-or-wildcards']],
    ['GKE ClusterRole with wildcard resources only', 'high', 'sensitive-resource-change', ['rbac-escalation-verbs-or-wildcards']],
    ['EKS ClusterRole with multiple rules, one with wildcard', 'high', 'sensitive-resource-change', ['rbac-escalation-verbs-or-wildcards']],
    ['Role with specific resources and verbs (no wildcard)', 'high', 'sensitive-resource-change'],
    ['ClusterRole with wildcard apiGroups only (not resources or verbs)', 'high', 'sensitive-resource-change'],
    ['System principal creating role (excluded)', 'high', 'sensitive-resource-change', ['rbac-escalation-verbs-or-wildcards']],
    ['Failed request (excluded)', 'high', 'sensitive-resource-change'],
    ['Updating existing role (not creating)', 'high', 'sensitive-resource-change', ['rbac-escalation-verbs-or-wildcards']],
  ],
  'k8s_role_write_permissions.yml': [
    ['EKS ClusterRole with delete permissions on secrets', 'high', 'sensitive-resource-change'],
    ['AKS Role with create and update on pods', 'high', 'sensitive-resource-change'],
    ['GKE ClusterRole with deletecollection', 'high', 'sensitive-resource-change'],
    ['EKS Role with mixed read and write permissions', 'high', 'sensitive-resource-change'],
    ['Role with read-only permissions', 'high', 'sensitive-resource-change'],
    ['System principal creating role (excluded)', 'high', 'sensitive-resource-change'],
    ['Failed request (excluded)', 'high', 'sensitive-resource-change'],
    ['Updating existing role (not creating)', 'high', 'sensitive-resource-change'],
  ],
  // Any read of a Secret by a person is human-secret-read (medium); a refusal is the denied row,
  // also for kube-system's service accounts (a 403 is not the 404 or 409 of a reconcile).
  'k8s_secret_access_denied.yml': [
    ['EKS failed secret get (403 Forbidden)', 'medium', 'request-denied-or-failed'],
    ['EKS failed secret get (404 Not Found)', 'medium', 'request-denied-or-failed'],
    ['AKS failed secret get (401 Unauthorized)', 'medium', 'request-denied-or-failed'],
    ['GKE failed secret get', 'medium', 'request-denied-or-failed'],
    ['Service account failed to get secret', 'medium', 'request-denied-or-failed', ['workload-cross-namespace-secret-read']],
    ['Successful secret get', 'medium', 'rule:human-secret-read', ['human-secret-read']],
    ['System service account failed get (excluded)', 'medium', 'request-denied-or-failed'],
    ['Failed get on non-secret resource', 'medium', 'request-denied-or-failed'],
    ['List secrets operation (not get)', 'medium', 'request-denied-or-failed'],
  ],
  // The namespace controller lists Secrets only in the namespace it empties, never across the
  // cluster, so its cluster-wide list is row 5's; a Secret written is row 3.
  'k8s_secret_enumeration.yml': [
    ['User Gets a Secret', 'medium', 'rule:human-secret-read', ['human-secret-read']],
    ['User Lists Secrets', 'medium', 'rule:human-secret-read', ['human-secret-read']],
    ['User Watches Secrets', 'medium', 'rule:human-secret-read', ['human-secret-read']],
    ['User Gets Secret - Access Denied', 'medium', 'request-denied-or-failed'],
    ['System Principal Excluded', 'high', 'cluster-wide-secrets-read'],
    ['Non-Secret Resource', 'info', 'steady-state'],
    ['Write Verb Excluded', 'high', 'sensitive-resource-change'],
  ],
  // kube-state-metrics' cluster-wide informer is a built-in routine watcher (low); a refused dump is
  // still the attempt (row 5 comes before the denied row).
  'k8s_secrets_dump_all_namespaces.yml': [
    ['EKS cluster-wide secret list', 'high', 'cluster-wide-secrets-read', ['human-secret-read']],
    ['AKS cluster-wide secret list', 'high', 'cluster-wide-secrets-read', ['human-secret-read']],
    ['GKE cluster-wide secret list', 'high', 'cluster-wide-secrets-read', ['human-secret-read']],
    ['EKS cluster-wide secret list with watch parameter', 'high', 'cluster-wide-secrets-read', ['human-secret-read']],
    ['Namespaced secret list (not cluster-wide)', 'medium', 'rule:human-secret-read', ['human-secret-read']],
    ['Get single secret (not list)', 'medium', 'rule:human-secret-read', ['human-secret-read']],
    ['System component listing secrets (excluded)', 'high', 'cluster-wide-secrets-read'],
    ['Kube-state-metrics listing secrets (excluded)', 'low', 'routine-addon-secrets-watch'],
    ['Failed cluster-wide list (excluded)', 'high', 'cluster-wide-secrets-read'],
  ],
  // NodePort and externalIPs Services are another helper's work (Sigma, CVE-2020-8554): tested here
  // as they come out, unchanged.
  'k8s_service_nodeport.yml': [
    ['EKS NodePort Service Created', 'medium', 'rule:nodeport-service', ['nodeport-service']],
    ['AKS NodePort Service Created', 'medium', 'rule:nodeport-service', ['nodeport-service']],
    ['GCP GKE NodePort Service Created', 'medium', 'rule:nodeport-service', ['nodeport-service']],
    ['ClusterIP Service Created', 'info', 'steady-state'],
    ['Service Creation Failed', 'medium', 'request-denied-or-failed'],
    ['Not a Service Creation', 'info', 'steady-state'],
  ],
  // A TokenRequest by anyone but a node for its pods or the controller manager in kube-system is row 3,
  // refused or not; a service account created is row 3 too.
  'k8s_serviceaccount_token_created.yml': [
    ['EKS long-lived token created', 'high', 'sensitive-resource-change'],
    ['AKS long-lived token created', 'high', 'sensitive-resource-change'],
    ['Token created in default namespace', 'high', 'sensitive-resource-change'],
    ['User creating token in system namespace (alert)', 'high', 'sensitive-resource-change', ['privileged-service-account-token']],
    ['System principal in user namespace (alert)', 'high', 'sensitive-resource-change'],
    ['System principal in system namespace (excluded)', 'info', 'routine-controller-token'],
    ['Failed token creation (excluded)', 'high', 'sensitive-resource-change'],
    ['Service account creation (not token)', 'high', 'sensitive-resource-change'],
    ['Get service account (not create)', 'low', 'sensitive-read'],
  ],
  // Every exec is row 4, whatever it runs, by anyone, refused or not: kube-proxy never execs.
  'k8s_steal_serviceaccount_token.yml': [
    ['EKS cat service account token', 'high', 'pod-interactive-access'],
    ['AKS read serviceaccount directory', 'high', 'pod-interactive-access'],
    ['GKE steal token with sh -c', 'high', 'pod-interactive-access'],
    ['EKS copy entire serviceaccount directory', 'high', 'pod-interactive-access'],
    ['Regular exec without token access', 'high', 'pod-interactive-access'],
    ['Regular user in system namespace (alert)', 'high', 'pod-interactive-access'],
    ['System principal in regular namespace (alert)', 'high', 'pod-interactive-access'],
    ['System principal in system namespace (excluded)', 'high', 'pod-interactive-access'],
    ['Failed exec (excluded)', 'high', 'pod-interactive-access'],
    ['EKS IRSA token theft', 'high', 'pod-interactive-access'],
    ['AKS workload identity token theft', 'high', 'pod-interactive-access'],
    ['GKE workload identity token theft', 'high', 'pod-interactive-access'],
  ],
  // service-account-from-public-address reads every address of sourceIPs and knows no cloud's ranges: AKS nodes reach
  // a public API server from the cluster's outbound addresses (Panther's CSI driver events), which an
  // operator adds with the rule's override (docs/aks.md); an address that is no IP is not a private
  // one either. A refusal is the denied row. Panther's "mixed" addresses are a private
  // X-Forwarded-For (the client's to write) before the connection's public address, which the
  // apiserver always lists last: a token used from outside that claims to be inside. Panther's GKE health checks name no path GKE is known to
  // write (core/v1/healthz, a methodName with no resourceName): an anonymous request allowed.
  'k8s_system_principal_public_ip.yml': [
    [
      'EKS System ServiceAccount from Non-AWS Public IP',
      'medium',
      'rule:service-account-from-public-address',
      ['service-account-from-public-address'],
    ],
    [
      'AKS System ServiceAccount from Non-Azure Public IP',
      'medium',
      'rule:service-account-from-public-address',
      ['service-account-from-public-address'],
    ],
    ['GKE System ServiceAccount from Non-GCP Public IP', 'info', 'steady-state'],
    ['EKS Legitimate Node from AWS IP', 'info', 'routine-node-pod-token'],
    ['EKS addon-manager from AWS Lambda', 'info', 'steady-state'],
    ['Non-System User from Public IP', 'info', 'steady-state'],
    ['System User from Private IP', 'info', 'steady-state'],
    ['403 Response (Excluded)', 'medium', 'request-denied-or-failed', ['service-account-from-public-address']],
    ['AKS CSI Disk Driver from Azure Node', 'medium', 'rule:service-account-from-public-address', ['service-account-from-public-address']],
    ['AKS CSI File Driver from Azure Node', 'medium', 'rule:service-account-from-public-address', ['service-account-from-public-address']],
    ['GKE Anonymous Health Check with User Agent', 'high', 'rule:anonymous-request-allowed', ['anonymous-request-allowed']],
    ['GKE Anonymous Readyz Check via RequestURI', 'high', 'rule:anonymous-request-allowed', ['anonymous-request-allowed']],
    [
      'Pod with Mixed Public and Private IPs',
      'medium',
      'rule:service-account-from-public-address',
      ['service-account-from-public-address'],
    ],
    ['AKS System Node from Azure IP', 'info', 'steady-state'],
    [
      'Invalid IP in sourceIPs (Skip Invalid)',
      'medium',
      'rule:service-account-from-public-address',
      ['service-account-from-public-address'],
    ],
    ['system:anonymous from Public IP (Excluded - Not a Real Principal)', 'medium', 'request-denied-or-failed'],
    ['system:unauthenticated from Public IP (Excluded - Not a Real Principal)', 'medium', 'request-denied-or-failed'],
    ['GKE system:anonymous Health Check (Excluded - Anonymous)', 'info', 'steady-state'],
  ],
  // Every ClusterRole write is row 3, system:coredns's by a person included.
  'k8s_system_role_modified.yml': [
    ['EKS system ClusterRole modified', 'high', 'sensitive-resource-change', ['rbac-escalation-verbs-or-wildcards']],
    ['AKS system ClusterRole deleted', 'high', 'sensitive-resource-change'],
    ['GKE system Role patched', 'high', 'sensitive-resource-change'],
    ['EKS system:admin ClusterRole modified', 'high', 'sensitive-resource-change'],
    ['System:coredns modified (excluded - expected)', 'high', 'sensitive-resource-change'],
    ['Non-system role modified', 'high', 'sensitive-resource-change'],
    ['System principal modifying system role (excluded)', 'high', 'sensitive-resource-change'],
    ['Failed modification (excluded)', 'high', 'sensitive-resource-change'],
    ['Reading system role (not modifying)', 'low', 'sensitive-read'],
  ],
};

/**
 * The attacks Panther alerts on that come out info or low here, each with why: none is an attack
 * this connector can see in the event as the cluster writes it.
 */
const NOT_SEEN: Record<string, string> = {
  // Posture, not an attack: an Ingress served without TLS is a configuration to fix (a scanner's
  // finding), and creating one is what every web deployment does.
  'k8s_ingress_without_tls.yml/EKS Ingress without TLS': 'posture',
  'k8s_ingress_without_tls.yml/AKS Ingress without TLS': 'posture',
  'k8s_ingress_without_tls.yml/GKE Ingress without TLS with external DNS annotation': 'posture',
  // Panther's Tor exit node list is its own enrichment (p_enrichment, left out of the fixture): the
  // events are a `list pods` and a `get pods` by a person, routine without a threat feed.
  'k8s_ioc_activity.yml/EKS Activity from Tor Exit Node': 'threat feed',
  'k8s_ioc_activity.yml/AKS Activity from Tor Exit Node': 'threat feed',
  'k8s_ioc_activity.yml/GCP GKE Activity from Tor Exit Node': 'threat feed',
  // Panther's own GCP schema, not a GKE LogEntry: the user is in authenticationInfo.authoritySelector
  // (GKE writes system:anonymous as principalEmail), and the address in requestMetadata.callerIP
  // (Cloud Logging's JSON writes callerIp), so neither reaches the event.
  'k8s_anonymous_api_access.yml/GCP GKE Anonymous API Access': 'no user',
  'k8s_system_principal_public_ip.yml/GKE System ServiceAccount from Non-GCP Public IP': 'no address',
};

const cases = panther.tests.map((t, i) => ({ ...t, id: `panther-${String(i).padStart(3, '0')}` }));
const converted = cases.map((c) => ({ ...c, item: asAuditEvent(c, c.id) }));
const items = converted.flatMap((c) => ('skipped' in c.item ? [] : [c.item]));

describe("Panther's Kubernetes rules' test events through serve", () => {
  const served = servedOnce('aisoc-panther-', SECRET, 'prod', items);

  const outcomeOf = (c: (typeof converted)[number]) => {
    if ('skipped' in c.item) return ['skipped'];
    const r = served.records.find((x) => x.audit_id === c.id);
    return [r?.severity, r?.severity_reason, ...(r?.rule_ids.length ? [r.rule_ids] : [])];
  };

  it('accepts every event', () => {
    expect(served.status).toBe(200);
    expect(served.answer).toMatchObject({ accepted: items.length, rejected: 0 });
  });

  it('has an expectation for every test in the fixture, by name, in order', () => {
    const files = [...new Set(cases.map((c) => c.rule))];
    expect(files).toEqual(Object.keys(OUTCOMES));
    for (const f of files) {
      expect(
        OUTCOMES[f]?.map(([test]) => test),
        f,
      ).toEqual(cases.filter((c) => c.rule === f).map((c) => c.test));
    }
  });

  for (const [file, outcomes] of Object.entries(OUTCOMES)) {
    it(`Panther ${file}`, () => {
      const mine = converted.filter((c) => c.rule === file);
      for (const [i, [test, ...expected]] of outcomes.entries()) {
        const c = mine[i] as (typeof converted)[number];
        expect([c.test, ...outcomeOf(c)]).toEqual([test, ...expected]);
        const [severity, reason = '', rules = []] = expected as [string, string?, string[]?];
        expectAlert(served.alerts, c.id, [severity, reason, rules], test);
      }
    });
  }

  it('gives every attack Panther served.alerts on medium or high, but the ones it cannot see in the event', () => {
    const quiet = converted
      .filter((c) => c.expected && !['medium', 'high'].includes(String(outcomeOf(c)[0])))
      .map((c) => `${c.rule}/${c.test}`);
    expect(quiet.sort()).toEqual(Object.keys(NOT_SEEN).sort());
  });
});
