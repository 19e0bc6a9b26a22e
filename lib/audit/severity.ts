import type { RoutineIdentities, Severity, SeverityReason } from './types.js';

/** The fields the severity rules look at, already read out of the event. */
export interface SeverityInput {
  verb: string | null;
  resource: string | null;
  subresource: string | null;
  namespace: string | null;
  responseCode: number | null;
  impersonated: boolean;
  /**
   * A CertificateSigningRequest's `spec.signerName` as sent: null when the request body holds none,
   * undefined when the body was not logged (the policy's Metadata level) or is not a CSR.
   */
  csrSigner?: string | null | undefined;
  /** A ClusterRole whose stored object (`responseObject`) has an `aggregationRule`; false otherwise. */
  aggregatedRole?: boolean;
  /**
   * The object is one of OpenShift's SecurityContextConstraints (`securitycontextconstraints`) or a
   * Role, ClusterRole or binding named `system:openshift:scc:…` (the RBAC form of an SCC grant).
   */
  openshiftScc?: boolean;
  /**
   * Another event with different content holds the same (tenant, cluster, auditID, stage): set
   * by whoever saw both (the ingest within a batch, the SQLite store across batches).
   */
  auditIdReused?: boolean;
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
// the scheduler all day long; counting them would bury real workload changes in noise. A pod's
// `eviction` is a create on pods that deletes the pod (kubectl drain, or anyone allowed to evict):
// the table's row as written, and no steady-state writer makes it.
const WORKLOAD_SUBRESOURCES = new Set(['scale', 'ephemeralcontainers', 'resize', 'eviction']);
const SENSITIVE_READ = new Set(['secrets', 'serviceaccounts', 'clusterroles', 'clusterrolebindings', 'roles', 'rolebindings']);

/**
 * Buckets an event into the connector documentation's four-tier ladder. Rows are checked in order and the first
 * match wins; the README's severity table documents each row and why it is there.
 */
export function classifySeverity(input: SeverityInput): SeverityResult {
  const row = classifyRow(input);
  return input.auditIdReused === true ? withReusedAuditId(row) : row;
}

/**
 * A severity for an event whose auditID and stage another event with other content already
 * holds: at least medium, and the reason names the reuse (a real apiserver writes one event per
 * request and stage; two are a client choosing its own Audit-ID, e.g. to hide one behind another).
 */
export function withReusedAuditId(row: SeverityResult): SeverityResult {
  return { severity: RANK[row.severity] >= RANK.medium ? row.severity : 'medium', reason: 'reused-audit-id' };
}

function classifyRow(input: SeverityInput): SeverityResult {
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
    if (isSensitiveRead(resource, namespace)) {
      return { severity: 'low', reason: 'sensitive-read' };
    }
  }
  return { severity: 'info', reason: 'steady-state' };
}

/** Whether a read of this kind is row 8's (`sensitive-read`): credentials, RBAC, kube-system's ConfigMaps (aws-auth). */
function isSensitiveRead(resource: string, namespace: string | null): boolean {
  return SENSITIVE_READ.has(resource) || (resource === 'configmaps' && namespace === 'kube-system');
}

const RANK: Record<Severity, number> = { info: 0, low: 1, medium: 2, high: 3 };

/**
 * The highest of the table's result and every lift (detection rules, and any other flag that
 * raises severity): the final severity. On a tie the earlier result keeps its reason, so the
 * table's row stays named unless something ranks strictly higher.
 */
export function highestSeverity(base: SeverityResult, lifts: Iterable<SeverityResult>): SeverityResult {
  let best = base;
  for (const lift of lifts) if (RANK[lift.severity] > RANK[best.severity]) best = lift;
  return best;
}

// Which objects each kube-controller-manager controller writes as it reconciles, by the service
// account it runs as (--use-service-account-credentials, the default on EKS and kubeadm;
// kubernetes/kubernetes cmd/kube-controller-manager, pkg/controller/*). `scale` is the
// subresource the autoscaler writes.
const CONTROLLER_OWNS: Record<string, readonly string[]> = {
  'replicaset-controller': ['pods'],
  'replication-controller': ['pods'],
  'daemon-set-controller': ['pods'],
  'statefulset-controller': ['pods'],
  'job-controller': ['pods'],
  'cronjob-controller': ['jobs'],
  'deployment-controller': ['replicasets'],
  'ttl-after-finished-controller': ['jobs'],
  'generic-garbage-collector': ['pods', 'replicasets', 'replicationcontrollers', 'jobs'],
  'pod-garbage-collector': ['pods'],
  'node-controller': ['pods'],
  'horizontal-pod-autoscaler': ['deployments/scale', 'replicasets/scale', 'statefulsets/scale', 'replicationcontrollers/scale'],
};
const CONTROLLER_SA = 'system:serviceaccount:kube-system:';
// The controller manager's own identity, when it runs without per-controller credentials.
const CONTROLLER_MANAGER = 'system:kube-controller-manager';
// The namespace controller empties a namespace being deleted: a deletecollection (or, where a
// kind has none, a delete of each object) of every namespaced kind, Secrets, service accounts,
// RoleBindings and pods among them (kubernetes/kubernetes
// pkg/controller/namespace/deletion/namespaced_resources_deleter.go).
const NAMESPACE_CONTROLLER = `${CONTROLLER_SA}namespace-controller`;
const EMPTIED_BY_NAMESPACE_CONTROLLER = new Set(['rbac-binding-change', 'sensitive-resource-change', 'workload-change']);

// Who drains nodes on an EKS cluster, each as its own documentation installs it; all of them
// evict through the Eviction API (`create pods/eviction`, which a PodDisruptionBudget can refuse):
// - EKS managed node groups (updates, scale-in, auto repair) as `eks:node-manager`, bound to the
//   ClusterRole of that name (an EKS audit trace of a node group scale-in:
//   github.com/focaaby/ironman-eks-example docs/example/ch11/managed-ng-pods-update.json);
// - cluster-autoscaler's scale-down, as kube-system's `cluster-autoscaler` (kubernetes/autoscaler
//   cluster-autoscaler/cloudprovider/aws/examples/cluster-autoscaler-autodiscover.yaml; FAQ.md);
// - Karpenter's disruption and consolidation, as kube-system's `karpenter` (its getting-started
//   guide installs Helm release `karpenter` in KARPENTER_NAMESPACE=kube-system, and the chart names
//   the service account after the release; kubernetes-sigs/karpenter
//   pkg/controllers/node/termination/terminator/eviction.go evicts);
// - the AWS Node Termination Handler, as kube-system's `aws-node-termination-handler` (its README's
//   `helm upgrade --install aws-node-termination-handler --namespace kube-system`; it drains with
//   k8s.io/kubectl/pkg/drain, which evicts).
// - Karpenter installed as its documentation did before v0.32: Helm release `karpenter` in
//   namespace `karpenter` (aws/karpenter-provider-aws website/content/en/v0.19.2/getting-started/
//   getting-started-with-eksctl/scripts/step08-apply-helm-chart.sh, `--namespace karpenter
//   --create-namespace`), where clusters installed then still run it.
// Only these exact identities: the same service account name in another namespace is anyone's.
const NODE_LIFECYCLE_EVICTORS = new Set([
  'eks:node-manager',
  `${CONTROLLER_SA}cluster-autoscaler`,
  `${CONTROLLER_SA}karpenter`,
  'system:serviceaccount:karpenter:karpenter',
  `${CONTROLLER_SA}aws-node-termination-handler`,
]);

// A PodDisruptionBudget's refusal of an eviction: 429 TooManyRequests, "Cannot evict pod as it
// would violate the pod's disruption budget." (kubernetes/kubernetes
// pkg/registry/core/pod/storage/eviction.go). Nothing was evicted; every drainer retries it until
// the budget allows it: kubectl drain every 5 s with no end by default (k8s.io/kubectl pkg/drain
// drain.go evictPods, EvictErrorRetryDelay 5 s in pkg/cmd/drain), cluster-autoscaler every 10 s
// for up to 2 min (cluster-autoscaler/core/scaledown/actuation/drain.go DefaultEvictionRetryTime,
// --max-pod-eviction-time), Karpenter with a backoff growing to 10 s (kubernetes-sigs/karpenter
// pkg/controllers/node/termination/terminator/eviction.go evictionQueueMaxDelay), the AWS Node
// Termination Handler with no delay at all (its pkg/node/node.go getDrainHelper leaves
// EvictErrorRetryDelay 0) until its timeout. Each retry is an event of its own.
const EVICTION_REFUSED = 429;

// The kubelet's own certificates (kubernetes/kubernetes pkg/kubelet/certificate, the
// certificates.k8s.io signers): its client certificate (asked for as system:bootstrap:<token-id>
// when the node joins by TLS bootstrapping, as system:node:<name> when it rotates) and its
// serving certificate. Any other signer asked for by a node (kube-apiserver-client: a client
// certificate for any name) stays high.
const KUBELET_SIGNERS = new Set(['kubernetes.io/kube-apiserver-client-kubelet', 'kubernetes.io/kubelet-serving']);
// GKE's nodes join with a bootstrap client certificate of their node pool (CN
// kubelet-nodepool-bootstrap, O gke:nodepool:name:<pool>), not a bootstrap token, so a joining
// GKE node's CSR comes from this one name, with no system: prefix (Panther's
// rules/kubernetes_rules/k8s_client_certificate_created.py leaves it out as node bootstrap;
// gke-labs/kube-agents counted 1,110 of its calls in a day of three projects' live audit logs).
const GKE_NODE_BOOTSTRAP = 'kubelet-nodepool-bootstrap';
// Who approves, signs and cleans up CSRs: kube-controller-manager's csrapproving, csrsigning and
// csrcleaner controllers (pkg/controller/certificates) under the certificate-controller service
// account, and EKS's own controller for the serving certificates of its nodes.
const CSR_CONTROLLERS = new Set(['system:serviceaccount:kube-system:certificate-controller', 'eks:certificate-controller']);

// Add-ons that keep a cluster-wide Secret informer (a ClusterRole granting list and watch on
// secrets, an informer with no namespace), each by the service account and namespace its own
// install instructions give; client-go's reflector re-lists and reopens each watch every 5-10
// minutes, so each one is several row-5 events an hour, forever:
// - cert-manager's controller (Issuer, ClusterIssuer, Certificate, ACME Secrets in every namespace)
//   and cainjector (CA data of Secrets named by its annotations): ClusterRoles
//   cert-manager-controller-* and cert-manager-cainjector, both with secrets get/list/watch
//   (cert-manager/cert-manager deploy/charts/cert-manager/templates/rbac.yaml, cainjector-rbac.yaml);
//   its docs install release `cert-manager` in namespace `cert-manager`, accounts `cert-manager`
//   and `cert-manager-cainjector`;
// - ingress-nginx's controller (TLS Secrets of every Ingress): its chart's ClusterRole lists and
//   watches secrets unless `controller.scope` is set (kubernetes/ingress-nginx
//   charts/ingress-nginx/templates/clusterrole.yaml); its quick start installs release
//   `ingress-nginx` in namespace `ingress-nginx`, account `ingress-nginx`;
// - kube-state-metrics (kube_secret_* metrics): its standard manifests' ClusterRole lists and
//   watches secrets, account `kube-state-metrics` in kube-system (kubernetes/kube-state-metrics
//   examples/standard/cluster-role.yaml, service-account.yaml);
// - Argo CD's application controller, whose cluster cache watches every kind it may, Secrets
//   included, restarting each watch every 10 min (argoproj/gitops-engine pkg/cache/cluster.go
//   defaultWatchResyncTimeout): ClusterRole argocd-application-controller grants `*` on `*`
//   (argoproj/argo-cd manifests/cluster-rbac/application-controller), installed in `argocd`;
// - istiod (gateway credentials, multicluster secrets): ClusterRole istiod-clusterrole-<ns> with
//   secrets get/watch/list (istio/istio manifests/charts/istio-control/istio-discovery/templates/
//   clusterrole.yaml), account `istiod`, installed in `istio-system` by Istio's Helm guide.
// - external-secrets' controller (the Secrets its ExternalSecrets manage, in every namespace): its
//   chart's ClusterRole `<release>-controller` grants secrets get/list/watch unless `scopedRBAC`
//   (false by default), and the controller keeps a cluster-wide informer of the Secrets labelled
//   reconcile.external-secrets.io/managed=true (external-secrets/external-secrets
//   deploy/charts/external-secrets/templates/rbac.yaml, pkg/controllers/common/common.go
//   BuildManagedSecretClient, `--enable-managed-secrets-caching` true by default); its getting
//   started installs release `external-secrets` in namespace `external-secrets`, account
//   `external-secrets`. Its cert-controller (whose ClusterRole also lists Secrets) reads only its
//   own webhook's Secret, uncached (cmd/controller/certcontroller.go DisableFor Secret), and its
//   webhook reads none: neither is here;
// - the Prometheus operator (the Secrets its Prometheus and Alertmanager objects name): a
//   metadata-only Secret informer over every namespace unless --namespaces narrows it
//   (prometheus-operator/prometheus-operator pkg/prometheus/server/operator.go, pkg/operator/config.go
//   AllowList defaulting to all); kube-prometheus's manifests install it as `prometheus-operator`
//   in `monitoring`, ClusterRole prometheus-operator with `*` on secrets
//   (prometheus-operator/kube-prometheus manifests/prometheusOperator-serviceAccount.yaml,
//   prometheusOperator-clusterRole.yaml). kube-prometheus-stack's chart names its operator
//   `<release>-…-operator` after whatever release name the installer picks: not here;
// - Velero, whose backups list every kind in all namespaces at once, Secrets included
//   (vmware-tanzu/velero pkg/backup/item_collector.go getNamespacesToList: "" when all namespaces
//   are included, the default): `velero install` makes account `velero` in namespace `velero`
//   bound to cluster-admin (pkg/install/resources.go), and the Helm chart, release `velero` as its
//   README installs it, account `velero-server` bound to cluster-admin
//   (vmware-tanzu/helm-charts charts/velero values.yaml rbac.clusterAdministrator,
//   templates/clusterrolebinding.yaml), in the `velero` namespace Velero's documentation uses;
// - OPA Gatekeeper's audit, which lists every kind the API serves with a `list` verb, Secrets
//   included, in all namespaces (chunks of 500), every 60 s by default (open-policy-agent/gatekeeper
//   pkg/audit/manager.go: auditResources over ServerPreferredResources, --audit-interval 60,
//   --audit-match-kind-only false): ClusterRole gatekeeper-manager-role grants get/list/watch on
//   `*` of `*`, account `gatekeeper-admin` in `gatekeeper-system` (deploy/gatekeeper.yaml; the
//   chart names the account `gatekeeper-admin` and its README installs into `gatekeeper-system`).
//   killer.sh's CKS simulator solution (quoted in kubernetes/kubernetes#106324) shows this account
//   watching Secrets cluster-wide in a kubeadm cluster's audit log.
// The AWS Load Balancer Controller is not here: its chart grants cluster-wide Secrets only with
// clusterSecretsPermissions.allowAllSecrets, false by default (helm/aws-load-balancer-controller).
// Only these exact identities: the same name in another namespace is anyone's service account.
const ADDON_SECRET_WATCHERS = new Set([
  'system:serviceaccount:cert-manager:cert-manager',
  'system:serviceaccount:cert-manager:cert-manager-cainjector',
  'system:serviceaccount:ingress-nginx:ingress-nginx',
  `${CONTROLLER_SA}kube-state-metrics`,
  'system:serviceaccount:argocd:argocd-application-controller',
  'system:serviceaccount:istio-system:istiod',
  'system:serviceaccount:external-secrets:external-secrets',
  'system:serviceaccount:monitoring:prometheus-operator',
  'system:serviceaccount:velero:velero',
  'system:serviceaccount:velero:velero-server',
  'system:serviceaccount:gatekeeper-system:gatekeeper-admin',
]);

// Add-ons that write their own admission webhooks' CA bundle (`caBundle`) as their serving CA is
// made and rotated, each by the service account and namespace its own install gives (a write of
// only the CA bundle is `routine-webhook-ca-injection`, lib/audit/detect.ts):
// - cert-manager's cainjector, into every webhook configuration annotated
//   cert-manager.io/inject-ca-from(-secret), its own webhook's included: a server-side apply
//   `patch` whose body holds only each webhook's name and clientConfig.caBundle
//   (cert-manager/cert-manager 2d0d7f7f, pkg/controller/cainjector/reconciler.go Reconcile,
//   injectables.go AsApplyObject); chart release `cert-manager` in `cert-manager`, account
//   `cert-manager-cainjector`;
// - Kyverno's admission controller, an `update` of each of its configurations
//   (kyverno-resource-validating-webhook-cfg, -mutating-, policy, verify, exception: kyverno/kyverno
//   111e07bb, pkg/controllers/webhook/controller.go reconcile*WebhookConfiguration via
//   controllerutils.Update) with its own Service as target; chart release `kyverno` in `kyverno`,
//   account `kyverno-admission-controller` (charts/kyverno/templates/admission-controller/_helpers.tpl);
// - istiod, an `update` of istio-sidecar-injector and istio-validator-* when its CA bundle differs
//   (istio/istio 86c9f01f, pkg/webhooks/webhookpatch.go patchMutatingWebhookConfig,
//   pkg/webhooks/validation/controller/controller.go), account `istiod` in `istio-system`;
// - OPA Gatekeeper's cert rotator (open-policy-agent/cert-controller 5bfb84d4, pkg/rotator/rotator.go
//   ensureCerts: an `update` of each webhook configuration with clientConfig.caBundle set), run
//   inside the controller manager as `gatekeeper-admin` in `gatekeeper-system`;
// - ingress-nginx's admission patch Job (`kube-webhook-certgen patch`: an `update` of
//   ingress-nginx-admission with each webhook's caBundle and, when given, failurePolicy:
//   kubernetes/ingress-nginx dbb11b92, images/kube-webhook-certgen/rootfs/pkg/k8s/k8s.go
//   patchValidating; charts/ingress-nginx/templates/admission-webhooks/job-patch), account
//   `ingress-nginx-admission` in `ingress-nginx`.
// The AWS Load Balancer Controller is not here: its chart writes its webhooks' caBundle itself
// (Helm, as whoever runs the upgrade) or leaves it to cert-manager's cainjector.
// Only these exact identities: the same name in another namespace is anyone's service account.
const WEBHOOK_CA_INJECTORS = new Set([
  'system:serviceaccount:cert-manager:cert-manager-cainjector',
  'system:serviceaccount:kyverno:kyverno-admission-controller',
  'system:serviceaccount:istio-system:istiod',
  'system:serviceaccount:gatekeeper-system:gatekeeper-admin',
  'system:serviceaccount:ingress-nginx:ingress-nginx-admission',
]);

/** Whether `user` is an add-on whose own webhooks' CA bundle writes are routine (built in, or the operators'). */
export function isWebhookCaInjector(user: string, routine: RoutineIdentities | undefined): boolean {
  return WEBHOOK_CA_INJECTORS.has(user) || routine?.webhookCaInjectors.has(user) === true;
}

/**
 * The identities `refineSeverity` counts routine with no operators' file: what `rules list --json`
 * shows beside the declared ones, so a script sees every name that lowers a row.
 */
export const BUILT_IN_ROUTINE: RoutineIdentities = {
  secretWatchers: ADDON_SECRET_WATCHERS,
  nodeDrainers: NODE_LIFECYCLE_EVICTORS,
  webhookCaInjectors: WEBHOOK_CA_INJECTORS,
};

/** The routine case of a write to a sensitive kind (row 3) that a node or a controller makes as the cluster runs. */
function routineSensitiveWrite(input: SeverityInput, user: string): SeverityResult | null {
  const { verb, resource, subresource, namespace } = input;
  if (resource === 'certificatesigningrequests') {
    if (verb === 'create' && subresource === null && (user.startsWith('system:node:') || isBootstrapIdentity(user))) {
      // A body not logged (Metadata level) says nothing against it; one naming another signer does.
      const signer = input.csrSigner;
      if (signer === undefined || (signer !== null && KUBELET_SIGNERS.has(signer))) return { severity: 'info', reason: 'routine-node-csr' };
      return null;
    }
    const write = verb === 'update' || verb === 'patch';
    if (
      CSR_CONTROLLERS.has(user) &&
      ((write && (subresource === 'approval' || subresource === 'status')) || (verb === 'delete' && subresource === null))
    ) {
      return { severity: 'info', reason: 'routine-controller-reconcile' };
    }
    return null;
  }
  // The serviceaccount controller makes the `default` service account of every new namespace.
  if (
    resource === 'serviceaccounts' &&
    subresource === null &&
    verb === 'create' &&
    user === `${CONTROLLER_SA}service-account-controller`
  ) {
    return { severity: 'info', reason: 'routine-controller-reconcile' };
  }
  // kube-controller-manager's clusterrole aggregation controller rewrites the rules of each role
  // with an aggregationRule (admin, edit, view, an operator's) whenever a role labelled for it is
  // installed or changed (pkg/controller/clusterroleaggregation). Its token writing any other role
  // (ControlPlane simulator's Coastline) stays high.
  if (
    resource === 'clusterroles' &&
    subresource === null &&
    (verb === 'update' || verb === 'patch') &&
    input.aggregatedRole === true &&
    user === `${CONTROLLER_SA}clusterrole-aggregation-controller`
  ) {
    return { severity: 'info', reason: 'routine-controller-reconcile' };
  }
  // The token cleaner deletes expired bootstrap tokens (Secrets in kube-system).
  if (
    resource === 'secrets' &&
    subresource === null &&
    verb === 'delete' &&
    namespace === 'kube-system' &&
    user === `${CONTROLLER_SA}token-cleaner`
  ) {
    return { severity: 'info', reason: 'routine-controller-reconcile' };
  }
  return null;
}

// OpenShift's own writers of its SCCs and of the `system:openshift:scc:<name>` roles and bindings
// that grant them: the cluster-version operator applies the release's manifests on install and
// every upgrade as `system:serviceaccount:openshift-cluster-version:default` (the built-in SCCs
// and their ClusterRoles carry include.release.openshift.io annotations: openshift/cluster-kube-
// apiserver-operator c813e820, bindata/bootkube/scc-manifests/, Apache-2.0), the kube-apiserver
// operator's SCC reconcile controller updates the built-in SCCs' volumes (its
// pkg/operator/sccreconcilecontroller), and each cluster operator keeps the bindings of its own
// operands in its `openshift-*` namespace (the network operator's RoleBinding
// `system:openshift:scc:hostnetwork-v2` in openshift-network-node-identity, a related object in
// openshift/oc 6b8e30c5 pkg/cli/admin/upgrade/status/examples/4.16.0-compact-co.yaml).
const CLUSTER_VERSION_OPERATOR = 'system:serviceaccount:openshift-cluster-version:default';
const OPENSHIFT_OPERATOR_SA = 'system:serviceaccount:openshift-';

/** Whether `user` is OpenShift's own: its cluster-version operator or a service account of an `openshift-*` namespace. */
function isOpenShiftOperator(user: string): boolean {
  return user === CLUSTER_VERSION_OPERATOR || user.startsWith(OPENSHIFT_OPERATOR_SA);
}

/** A joining node's identity before it has its own: a bootstrap token's user, or GKE's node pool bootstrap certificate. */
function isBootstrapIdentity(user: string): boolean {
  return user.startsWith('system:bootstrap:') || user === GKE_NODE_BOOTSTRAP;
}

// EKS installs, updates and keeps its managed add-ons (the VPC CNI's aws-node DaemonSet, CoreDNS,
// kube-proxy, the EBS CSI driver, ADOT's operator) as `eks:addon-manager`, an identity only AWS
// holds (authenticated from EKS's own AddonManagerRole: its authenticator log line, "access
// granted ... username=eks:addon-manager"), bound to EKS's ClusterRole and Roles of that name; it
// re-applies an add-on's objects when they drift (CoreDNS's tolerations reset by it, operators'
// notes), and Falco lists it among eks_allowed_k8s_users (falcosecurity/plugins k8saudit rules,
// "Add eks:addon-manager as well"). Its writes of the add-ons' workloads, service accounts, roles
// and bindings are low: seen, no alert; the rules still read each workload's pod spec.
const EKS_ADDON_MANAGER = 'eks:addon-manager';
const ADDON_MANAGER_ROWS = new Set(['workload-change', 'rbac-binding-change', 'sensitive-resource-change']);

// AKS's own control-plane client (system:masters), run by Azure, not by the cluster's users: it
// reconciles the managed add-ons in kube-system with kubectl (a create of each object,
// 409 AlreadyExists when it is there, as `coredns-custom` in a real AKS 1.15 Event Hubs message:
// sysdiglabs/aks-kubernetes-audit-log samples/event.json, test/fixtures/aks) and renews their
// leader-election Leases (Elastic's AKS records, elastic/integrations test-kube-audit.log).
const AKS_CONTROL_PLANE = 'aksService';

/**
 * Identities only the control plane holds: the kubelets (node credentials), the controller
 * manager and scheduler, kube-system's service accounts (its controllers and add-ons), EKS's
 * own components (eks:…) and AKS's (aksService).
 */
function isControlPlane(user: string): boolean {
  return (
    user.startsWith('system:node:') ||
    user === CONTROLLER_MANAGER ||
    user === 'system:kube-scheduler' ||
    user.startsWith(CONTROLLER_SA) ||
    user.startsWith('eks:') ||
    user === AKS_CONTROL_PLANE
  );
}

// 404 Not Found and 409 Conflict are how the API answers the control plane's races: a kubelet
// patching the status of a pod just deleted, a garbage collector getting an owner already gone,
// a controller's or the scheduler's write losing an optimistic-concurrency race ("the object has
// been modified"; client-go retries it). Denials (401, 403) and server errors are never routine.
const ROUTINE_FAILURES = new Set([404, 409]);

function isNodeDrainer(user: string, routine: RoutineIdentities | undefined): boolean {
  return NODE_LIFECYCLE_EVICTORS.has(user) || routine?.nodeDrainers.has(user) === true;
}

function controllerOwns(user: string, resource: string, subresource: string | null): boolean {
  const key = subresource === null ? resource : `${resource}/${subresource}`;
  if (user === CONTROLLER_MANAGER) return Object.values(CONTROLLER_OWNS).some((owned) => owned.includes(key));
  if (!user.startsWith(CONTROLLER_SA)) return false;
  return CONTROLLER_OWNS[user.slice(CONTROLLER_SA.length)]?.includes(key) ?? false;
}

/**
 * Writes of ReplicationControllers (core/v1) scored as the workload row scores ReplicaSets. The
 * row names the kinds that run pods from a template but leaves out this one, the oldest, which
 * still runs pods from a template as a ReplicaSet does (`kubectl scale rc` writes its `scale`):
 * the same harmless-looking workload was info made as a ReplicationController and medium made as
 * a ReplicaSet (badPods' `nothing-allowed` manifests, one per kind), a way round every detection
 * that reads medium and high. Its pod template is checked by the rules as the others' are.
 */
function withReplicationControllers(input: SeverityInput, table: SeverityResult): SeverityResult {
  const { verb, resource, subresource } = input;
  if (table.reason !== 'steady-state' || resource !== 'replicationcontrollers' || verb === null || !WRITE_VERBS.has(verb)) return table;
  return subresource === null || subresource === 'scale' ? { severity: 'medium', reason: 'workload-change' } : table;
}

/**
 * The table's result with its routine control-plane cases brought down. To info: a node's token
 * requests for its own pods, the controller manager's tokens for its controllers, a node's final
 * delete of its pods, a node's requests for its kubelet certificates, controllers writing the
 * objects they own, node drains' evictions by the node lifecycle identities (those a
 * PodDisruptionBudget refuses too), the namespace controller emptying a namespace being deleted,
 * the control plane's 404s and 409s, a service account's get of an object not there yet (404). To
 * low (as row 8 scores reads): the controller manager's and the common add-ons' cluster-wide
 * Secret watches, a service account's 404 get of a kind row 8 counts; and anyone else's eviction
 * a budget refuses. Every other case of those rows stays as the table has it;
 * docs/detection-rules.md gives the traffic behind each. `routine`: the operators' own
 * secret-watching add-ons and node drainers, counted as the built-in ones. One case goes up:
 * ReplicationController writes join the workload row (`withReplicationControllers`).
 */
export function refineSeverity(
  input: SeverityInput,
  user: string | null,
  table: SeverityResult,
  routine?: RoutineIdentities,
): SeverityResult {
  const result = withReplicationControllers(input, table);
  if (user === null) return result;
  const { verb, resource, subresource, namespace, responseCode } = input;
  const allowed = responseCode !== null && responseCode < 400;
  if (
    user === NAMESPACE_CONTROLLER &&
    (verb === 'delete' || verb === 'deletecollection') &&
    namespace !== null &&
    responseCode !== null &&
    (responseCode < 400 || ROUTINE_FAILURES.has(responseCode)) &&
    EMPTIED_BY_NAMESPACE_CONTROLLER.has(result.reason)
  ) {
    return { severity: 'info', reason: 'routine-controller-reconcile' };
  }
  if (user === EKS_ADDON_MANAGER && allowed && ADDON_MANAGER_ROWS.has(result.reason))
    return { severity: 'low', reason: 'routine-eks-addon-manager' };
  if (result.reason === 'sensitive-resource-change' && verb === 'create' && resource === 'serviceaccounts' && subresource === 'token') {
    // NodeRestriction admits a node's TokenRequest only for a pod bound to that node, so an
    // allowed one is the kubelet refreshing a projected token (every pod, hourly).
    if (allowed && user.startsWith('system:node:')) return { severity: 'info', reason: 'routine-node-pod-token' };
    if (allowed && user === CONTROLLER_MANAGER && namespace === 'kube-system')
      return { severity: 'info', reason: 'routine-controller-token' };
    return result;
  }
  if (
    input.openshiftScc === true &&
    allowed &&
    (result.reason === 'sensitive-resource-change' || result.reason === 'rbac-binding-change') &&
    isOpenShiftOperator(user)
  ) {
    // OpenShift's operators keeping its SCCs' roles and bindings as the release ships them.
    return { severity: 'info', reason: 'routine-controller-reconcile' };
  }
  if (result.reason === 'sensitive-resource-change' && allowed) return routineSensitiveWrite(input, user) ?? result;
  if (result.reason === 'cluster-wide-secrets-read' && user === CONTROLLER_MANAGER && allowed) {
    // The controller manager's shared secret informer lists and watches every namespace, and its
    // reflector reopens the watch every 5-10 minutes: a read, as row 8 scores reads.
    return { severity: 'low', reason: 'routine-controller-secrets-watch' };
  }
  if (
    result.reason === 'cluster-wide-secrets-read' &&
    allowed &&
    (ADDON_SECRET_WATCHERS.has(user) || routine?.secretWatchers.has(user) === true)
  ) {
    // An add-on's own cluster-wide Secret informer (its list and each reopened watch): a read, as
    // row 8 scores reads. A `get` never reaches here (row 5 is list and watch only).
    return { severity: 'low', reason: 'routine-addon-secrets-watch' };
  }
  if (result.reason === 'request-denied-or-failed') {
    if (responseCode !== null && ROUTINE_FAILURES.has(responseCode) && isControlPlane(user)) {
      return { severity: 'info', reason: 'routine-not-found-or-conflict' };
    }
    // A workload's own deployer (Argo CD, Flux, Helm, a CI job's kubectl apply) gets each object
    // before it creates it, and the first time that is a 404: kubectl apply's client side
    // (k8s.io/kubectl pkg/cmd/apply/apply.go: info.Get, then a create when IsNotFound), Helm's
    // install (helm/helm pkg/action/validate.go existingResourceConflict: a Get of each object),
    // Flux's kustomize-controller every reconcile (fluxcd/pkg ssa/manager_apply.go ApplyAll: a Get
    // of each object before its dry-run apply). Nothing was read or changed: scored as that read
    // would be when allowed (info, or low for a kind row 8 counts), not as a failure. Only a
    // service account's `get` of an object: a person's, a list, a denial and a server error keep
    // the row.
    if (verb === 'get' && responseCode === 404 && subresource === null && resource !== null && user.startsWith('system:serviceaccount:')) {
      return { severity: isSensitiveRead(resource, namespace) ? 'low' : 'info', reason: 'routine-get-not-found' };
    }
    return result;
  }
  if (result.reason !== 'workload-change' || resource === null) return result;
  const eviction = verb === 'create' && resource === 'pods' && subresource === 'eviction';
  if (eviction && responseCode === EVICTION_REFUSED) {
    // Refused by a PodDisruptionBudget (EVICTION_REFUSED): nothing evicted, and retried until
    // allowed. A node lifecycle identity's retries are its drain waiting (info); anyone else's
    // are kept as a trace (low) without a medium every 5 s: the evictions that do pass stay medium.
    return isNodeDrainer(user, routine)
      ? { severity: 'info', reason: 'routine-node-drain-eviction' }
      : { severity: 'low', reason: 'eviction-refused' };
  }
  // A reconcile racing another (409), or deleting what is already gone (404): routine too.
  if (responseCode !== null && responseCode >= 400 && !ROUTINE_FAILURES.has(responseCode)) return result;
  if (verb === 'delete' && resource === 'pods' && subresource === null && user.startsWith('system:node:')) {
    return { severity: 'info', reason: 'routine-node-pod-delete' };
  }
  // A node drain: an eviction by the cluster's node lifecycle identities, allowed (or racing the
  // pod's own deletion: 404, 409; refused by a budget: above). A denial keeps the row.
  if (eviction && responseCode !== null && isNodeDrainer(user, routine)) {
    return { severity: 'info', reason: 'routine-node-drain-eviction' };
  }
  if (controllerOwns(user, resource, subresource)) return { severity: 'info', reason: 'routine-controller-reconcile' };
  return result;
}
