/**
 * One hour of a healthy 50-node, 1,500-pod EKS cluster's routine API traffic, as audit events, to
 * measure how loud the severity table and the rule pack are on traffic no one should be paged
 * for. Seeded (test/helpers/prng.ts): the same seed gives the same hour.
 *
 * Each stream below is modelled on how the control plane behaves, with the source of its rate:
 * - node leases: the kubelet renews its Lease in kube-node-lease every 10 s (nodeLeaseDurationSeconds
 *   40, renewed at a quarter of it; Kubernetes docs, "Node heartbeats"): 360 per node per hour.
 * - node status: the kubelet patches nodes/status every 5 min when nothing changed
 *   (nodeStatusReportFrequency; kubelet configuration reference): 12 per node per hour.
 * - projected tokens: the kubelet requests a new token for every pod when the old one is past
 *   80% of its life (Kubernetes docs, "Bound service account token volume"; EKS issues 1 h tokens
 *   to pods): 1.25 per pod per hour, `create serviceaccounts/token` by `system:node:<node>`.
 * - leader elections: kube-controller-manager, kube-scheduler, and three add-on controllers
 *   renew a Lease every 2 s (client-go leaderelection RetryPeriod): 1,800 each per hour.
 * - pod churn: 5% of pods replaced per hour (rollouts, evictions, autoscaling): per pod the
 *   replicaset-controller creates it (with its spec), the scheduler writes pods/binding, the
 *   kubelet gets a token, patches pods/status three times and writes events, the controller
 *   deletes the old pod, the kubelet finishes the delete, the endpointslice-controller updates
 *   slices; rollouts go through the deployment-controller (replicasets) and HPAs scale.
 * - node churn: one node replaced per hour (Karpenter/cluster-autoscaler): it registers, asks for
 *   its kubelet serving certificate (a CertificateSigningRequest, signer kubernetes.io/kubelet-serving,
 *   which EKS's eks:certificate-controller approves and signs), its DaemonSet pods (VPC CNI,
 *   kube-proxy, EBS CSI node, from the EKS add-on registry) are created by the
 *   daemon-set-controller.
 * - node agents: on each node that joins (the one replaced, the spot node's replacement and two
 *   scale-ups for the churn's pending pods: 4 an hour, this file's estimate), the daemon-set-controller
 *   creates one pod per third-party agent DaemonSet: kube-prometheus's node-exporter, Falco, the
 *   Datadog agent, fluent-bit, from their public manifests (test/fixtures/daemonset-agents,
 *   SOURCES.md), each the template plus what pkg/controller/daemon adds (test/helpers/daemonset-pods.ts).
 * - the node removed: cluster-autoscaler, installed as kubernetes/autoscaler's AWS example manifest
 *   (cluster-autoscaler/cloudprovider/aws/examples/cluster-autoscaler-autodiscover.yaml: service
 *   account `cluster-autoscaler` in kube-system, its ClusterRole allowed to create `pods/eviction`),
 *   scales down a node unneeded for 10 min (--scale-down-unneeded-time). As its FAQ.md says ("How
 *   does scale-down work?", "Does CA respect PodDisruptionBudgets?"), it taints the node, evicts
 *   every pod on it through the Eviction API
 *   (`create pods/eviction`, policy/v1), DaemonSet pods included on an occupied node
 *   (--daemonset-eviction-for-occupied-nodes, default true), then deletes the node: ~30 evictions
 *   for this cluster's 30 pods a node. The kubelet finishes each evicted pod's delete and the
 *   ReplicaSets replace the app pods on other nodes. One pod is held by a PodDisruptionBudget:
 *   refused (429) three times, retried every 10 s, before it passes. With `nodeLifecycle:
 *   'karpenter'` Karpenter's consolidation removes that node instead (its NodeClaim and Node
 *   deleted, the node drained, a refusal retried with its eviction queue's backoff, the
 *   finalizers removed), and no termination handler runs.
 * - a spot node's interruption notice: the AWS Node Termination Handler cordons the node and drains
 *   it with kubectl's drain library, its DaemonSet pods left alone; one pod refused ten times by
 *   its budget, 400 ms apart, the pod read again after each.
 * - watches: client-go reflectors re-open each watch every 5-10 min (minWatchTimeout 5 min,
 *   randomised up to twice): kubelets, kube-proxy, aws-node, CoreDNS, the controllers and
 *   scheduler, metrics-server and the load-balancer controller, with a list on each resync.
 * - add-ons' informers: cert-manager (controller and cainjector), ingress-nginx, kube-state-metrics,
 *   Argo CD's application controller, external-secrets' controller and the Prometheus operator
 *   (kube-prometheus), each under the service account and namespace its own
 *   install instructions give, each with a cluster-wide Secret informer among its others (their
 *   ClusterRoles grant list/watch on secrets; ADDON_SECRET_WATCHERS in lib/audit/severity.ts names
 *   the chart and RBAC file of each). client-go reflectors reopen each watch every 5-10 min; one
 *   re-list per informer per hour (a watch whose resourceVersion was compacted away: this file's
 *   estimate); Argo CD's cluster cache re-lists and restarts every watch every 10 min
 *   (argoproj/gitops-engine pkg/cache/cluster.go, defaultWatchResyncTimeout).
 * - add-ons' own webhook CA bundle writes as their pods restart: cert-manager's cainjector (both
 *   its own webhook and the AWS Load Balancer Controller's), Kyverno, istiod and Gatekeeper's
 *   rotator, once each (test/helpers/webhook-ca-writes.ts names each source).
 * - Velero's hourly scheduled backup: one cluster-scope list of each kind, Secrets included.
 * - Argo CD syncing a change that adds a ConfigMap and a Service: a 404 get of each, for the dry
 *   run and again for the apply, before it creates it.
 * - HPA metrics: 10 HorizontalPodAutoscalers read pods.metrics.k8s.io every 15 s.
 * - people: 6 engineers with kubectl, 40 get/list/log requests each per hour (no secrets).
 * - routine failures, the control plane racing itself: the endpointslice controller's updates
 *   lose an optimistic-concurrency race (409 Conflict, "the object has been modified"; client-go
 *   retries) about one time in ten during churn, its second update then succeeding; a kubelet's
 *   status patch of a pod deleted meanwhile (404, one deleted pod in five), its own final delete
 *   of a pod already gone (404, one in twenty) and a `get` of it (404); the garbage collector's
 *   `get` of an owner already deleted (404, one replaced pod in ten); a scheduler binding that
 *   lost to a deletion (409, one in fifty). The rates are this file's estimate, not a measurement.
 */
import { agentDaemonSets, daemonSetPod, KCM_USER_AGENT } from './daemonset-pods.js';
import { prng } from './prng.js';
import { routineCaWrites } from './webhook-ca-writes.js';

type Obj = Record<string, unknown>;

/** The cluster's shape: what the README's steady-state figures are for. */
export const STEADY_STATE = { nodes: 50, pods: 1500, hours: 1 } as const;

const HOUR_MS = 3_600_000;

// The controller reference the DaemonSet controller sets on each pod it creates
// (metav1.NewControllerRef; kubernetes/kubernetes pkg/controller/daemon/daemon_controller.go).
const daemonSetOwner = (name: string): Obj => ({
  apiVersion: 'apps/v1',
  kind: 'DaemonSet',
  name,
  uid: `6c0e4f2a-${name.length.toString(16).padStart(4, '0')}-4d1b-9e3a-5b7c8d9e0f1a`,
  controller: true,
  blockOwnerDeletion: true,
});

// The node agents a security-minded EKS cluster runs besides the add-ons, one DaemonSet each, from
// their public manifests (test/fixtures/daemonset-agents, SOURCES.md): kube-prometheus's
// node-exporter, Falco, the Datadog agent, fluent-bit. Cilium's agent is kept for the serve test
// but not run here: this cluster's CNI is the VPC CNI (aws-node).
const NODE_AGENTS = agentDaemonSets().filter(({ file }) => !file.startsWith('cilium'));
const START = Date.UTC(2026, 2, 2, 9, 0, 0);
const EKS_REGISTRY = '602401143452.dkr.ecr.us-east-1.amazonaws.com';
const NAMESPACES = ['web', 'payments', 'search', 'checkout', 'catalog', 'monitoring', 'ingest', 'batch'];
const PEOPLE = [
  'arn:aws:iam::123456789012:role/sre-alice',
  'arn:aws:iam::123456789012:role/sre-bob',
  'alice@example.com',
  'dev-carol',
  'dev-dan',
  'dev-erin',
];
const SA = (ns: string, name: string) => `system:serviceaccount:${ns}:${name}`;
// client-go's default user agent: the binary's name, its version, platform and commit.
const CA_USER_AGENT = 'cluster-autoscaler/v1.32.1 (linux/amd64) kubernetes/$Format';
// Karpenter sets its own: "<AppName>/<Version>" (kubernetes-sigs/karpenter pkg/operator/operator.go).
const KARPENTER_USER_AGENT = 'karpenter/1.6.0';
// The termination handler's binary is node-termination-handler (cmd/node-termination-handler.go),
// with client-go's default user agent.
const NTH_USER_AGENT = 'node-termination-handler/v0.0.0 (linux/amd64) kubernetes/$Format';

// A PodDisruptionBudget's refusal of an eviction, as the apiserver answers it and the audit log
// copies it into responseStatus (kubernetes/kubernetes pkg/registry/core/pod/storage/eviction.go
// checkAndDecrement: NewTooManyRequests with a DisruptionBudget cause).
const pdbRefusal = (pdb: string): Obj => ({
  status: 'Failure',
  message: "Cannot evict pod as it would violate the pod's disruption budget.",
  reason: 'TooManyRequests',
  details: { causes: [{ reason: 'DisruptionBudget', message: `The disruption budget ${pdb} needs 2 healthy pods and has 2 currently` }] },
});

// The apiserver's answer to a get of an object that does not exist, as the audit log copies it
// (k8s.io/apimachinery pkg/api/errors NewNotFound: `<resource> "<name>" not found`).
const notFound = (resource: string, name: string): Obj => ({
  status: 'Failure',
  message: `${resource} "${name}" not found`,
  reason: 'NotFound',
  details: { name, kind: resource },
});

/** Which of the cluster's node lifecycle managers removes the hour's unneeded node. */
export interface SteadyStateOptions {
  /** cluster-autoscaler (the default, the README's figures) or Karpenter's consolidation. */
  nodeLifecycle?: 'cluster-autoscaler' | 'karpenter';
}

/** One hour of routine traffic as audit events, in time order; deterministic for a seed. */
export function steadyStateHour(seed = 1, options: SteadyStateOptions = {}): Obj[] {
  const rand = prng(seed);
  const karpenter = options.nodeLifecycle === 'karpenter';
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const events: Obj[] = [];
  let n = 0;
  const nodes = Array.from({ length: STEADY_STATE.nodes }, (_, i) => `ip-10-0-${Math.floor(i / 8)}-${10 + i}.ec2.internal`);
  // ip-10-0-1-17.ec2.internal is 10.0.1.17, as EKS names nodes.
  const nodeIp = (node: string) => node.slice(3, node.indexOf('.')).replace(/-/g, '.');
  const pods = Array.from({ length: STEADY_STATE.pods }, (_, i) => ({
    ns: NAMESPACES[i % NAMESPACES.length] as string,
    name: `app${i % 60}-${(i * 7919).toString(36).slice(-5)}-${(i * 104729).toString(36).slice(-5)}`,
    node: nodes[i % nodes.length] as string,
    sa: `app${i % 60}`,
  }));

  const emit = (at: number, user: string, groups: string[], verb: string, ref: Obj, code: number, extra: Obj = {}) => {
    n++;
    const t = new Date(START + Math.floor(at)).toISOString().replace('Z', '000Z');
    events.push({
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: extra.requestObject === undefined ? 'Metadata' : 'Request',
      auditID: `5f1c0000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`,
      stage: 'ResponseComplete',
      requestURI: uriOf(ref, verb),
      verb,
      user: { username: user, groups },
      sourceIPs: [
        user.startsWith('system:node:')
          ? nodeIp(user.slice(12))
          : user.startsWith('system:serviceaccount:')
            ? `10.0.${Math.floor(rand() * 32)}.${Math.floor(rand() * 250) + 2}`
            : user.startsWith('system:kube-')
              ? '10.0.100.5'
              : '10.20.30.40',
      ],
      userAgent: extra.userAgent ?? 'kubernetes-client',
      objectRef: { apiVersion: 'v1', ...ref },
      responseStatus: { metadata: {}, code, ...(extra.status as Obj | undefined) },
      requestReceivedTimestamp: t,
      stageTimestamp: t,
      annotations: { 'authorization.k8s.io/decision': code === 403 ? 'forbid' : 'allow', 'authorization.k8s.io/reason': '' },
      ...(extra.requestObject === undefined ? {} : { requestObject: extra.requestObject }),
    });
  };
  const nodeUser = (node: string) => `system:node:${node}`;
  const NODE_GROUPS = ['system:nodes', 'system:authenticated'];
  const SA_GROUPS = (ns: string) => ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'];
  const every = (periodMs: number, fn: (at: number) => void) => {
    for (let at = rand() * periodMs; at < HOUR_MS; at += periodMs) fn(at);
  };
  // A node drain through the Eviction API (`create pods/eviction`, policy/v1) of every pod on
  // `gone`, DaemonSet pods included, by `drainer` (a service account of namespace `ns`): each
  // evicted pod's graceful delete is finished by its kubelet and its ReplicaSet replaces it on
  // another node (the new pod's name ends in `tag` and its index). `held`: the pod a
  // PodDisruptionBudget holds, refused once per gap of `retryGapsMs` (the wait after each refusal)
  // before it passes; `getAfterRefusal`: the drainer reads the pod again after each refusal, as
  // k8s.io/kubectl's drain library does (pkg/drain/drain.go evictPods, getPodFn). `daemonSets`:
  // its DaemonSet pods are evicted too (cluster-autoscaler's --daemonset-eviction-for-occupied-nodes,
  // true by default); the termination handler skips them (--ignore-daemon-sets, true by default),
  // and Karpenter evicts no pod that tolerates its disrupted taint, as these DaemonSets tolerate all.
  const drainNode = (
    drainer: string,
    ns: string,
    userAgent: string,
    gone: string,
    drainAt: number,
    held: { pod: number; retryGapsMs: readonly number[]; getAfterRefusal?: boolean },
    tag: string,
    daemonSets: boolean,
  ) => {
    const onGone = [
      ...pods.filter((p) => p.node === gone),
      ...(daemonSets ? ['aws-node-a1b2c', 'kube-proxy-d3e4f', 'ebs-csi-node-g5h6i'] : []).map((name) => ({
        ns: 'kube-system',
        name,
        node: gone,
        sa: '',
      })),
    ];
    onGone.forEach((pod, k) => {
      const eviction = (t: number, code: number, status?: Obj) =>
        emit(t, drainer, SA_GROUPS(ns), 'create', { resource: 'pods', subresource: 'eviction', namespace: pod.ns, name: pod.name }, code, {
          userAgent,
          requestObject: { kind: 'Eviction', apiVersion: 'policy/v1', metadata: { name: pod.name, namespace: pod.ns } },
          ...(status === undefined ? {} : { status }),
        });
      let t = drainAt + 1_000 + k * 150;
      if (k === held.pod) {
        for (const gap of held.retryGapsMs) {
          eviction(t, 429, pdbRefusal(`${pod.sa}-pdb`));
          if (held.getAfterRefusal === true)
            emit(t + 20, drainer, SA_GROUPS(ns), 'get', { resource: 'pods', namespace: pod.ns, name: pod.name }, 200, { userAgent });
          t += gap;
        }
      }
      eviction(t, 201);
      // The kubelet finishes the graceful delete the eviction started.
      emit(t + 15_000, nodeUser(gone), NODE_GROUPS, 'delete', { resource: 'pods', namespace: pod.ns, name: pod.name }, 200);
      if (pod.sa === '') return;
      // Its ReplicaSet replaces it on another node.
      const node = nodes[1 + (k % (nodes.length - 1))] as string;
      const name = `${pod.name.slice(0, pod.name.lastIndexOf('-'))}-${tag}${k.toString(36).padStart(4, '0')}`;
      emit(
        t + 200,
        SA('kube-system', 'replicaset-controller'),
        SA_GROUPS('kube-system'),
        'create',
        { resource: 'pods', namespace: pod.ns },
        201,
        {
          requestObject: {
            kind: 'Pod',
            apiVersion: 'v1',
            metadata: { generateName: `${pod.sa}-`, namespace: pod.ns },
            spec: {
              serviceAccountName: pod.sa,
              containers: [
                {
                  name: 'app',
                  image: `123456789012.dkr.ecr.us-east-1.amazonaws.com/${pod.sa}:v${1 + (k % 40)}`,
                  securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
                },
              ],
            },
          },
        },
      );
      emit(
        t + 250,
        'system:kube-scheduler',
        ['system:authenticated'],
        'create',
        { resource: 'pods', subresource: 'binding', namespace: pod.ns, name },
        201,
      );
      pod.name = name;
      pod.node = node;
    });
  };

  for (const node of nodes) {
    every(10_000, (at) =>
      emit(
        at,
        nodeUser(node),
        NODE_GROUPS,
        'update',
        { resource: 'leases', apiGroup: 'coordination.k8s.io', namespace: 'kube-node-lease', name: node },
        200,
      ),
    );
    every(300_000, (at) => emit(at, nodeUser(node), NODE_GROUPS, 'patch', { resource: 'nodes', subresource: 'status', name: node }, 200));
    // Reflectors of the kubelet (pods on this node, nodes, services), kube-proxy and aws-node.
    for (const [user, groups, resources] of [
      [nodeUser(node), NODE_GROUPS, ['pods', 'nodes', 'services']],
      [SA('kube-system', 'kube-proxy'), SA_GROUPS('kube-system'), ['services', 'endpointslices', 'nodes']],
      [SA('kube-system', 'aws-node'), SA_GROUPS('kube-system'), ['pods', 'nodes']],
    ] as const) {
      for (const resource of resources) every(300_000 + rand() * 300_000, (at) => emit(at, user, [...groups], 'watch', { resource }, 200));
    }
  }
  // Projected service-account tokens, refreshed at 80% of an hour.
  for (const pod of pods) {
    every(HOUR_MS / 1.25, (at) =>
      emit(
        at,
        nodeUser(pod.node),
        NODE_GROUPS,
        'create',
        { resource: 'serviceaccounts', subresource: 'token', namespace: pod.ns, name: pod.sa },
        201,
      ),
    );
  }
  // The add-ons' own pods get tokens too, from their nodes.
  for (const node of nodes) {
    for (const sa of ['aws-node', 'kube-proxy', 'ebs-csi-node-sa']) {
      every(HOUR_MS / 1.25, (at) =>
        emit(
          at,
          nodeUser(node),
          NODE_GROUPS,
          'create',
          { resource: 'serviceaccounts', subresource: 'token', namespace: 'kube-system', name: sa },
          201,
        ),
      );
    }
  }
  // The controller manager's tokens for its controllers (--use-service-account-credentials).
  for (const c of [
    'replicaset-controller',
    'deployment-controller',
    'endpointslice-controller',
    'daemon-set-controller',
    'job-controller',
    'generic-garbage-collector',
    'horizontal-pod-autoscaler',
    'node-controller',
  ]) {
    every(HOUR_MS / 1.25, (at) =>
      emit(
        at,
        'system:kube-controller-manager',
        ['system:authenticated'],
        'create',
        { resource: 'serviceaccounts', subresource: 'token', namespace: 'kube-system', name: c },
        201,
      ),
    );
  }
  // Leader elections.
  for (const [user, ns, name] of [
    ['system:kube-controller-manager', 'kube-system', 'kube-controller-manager'],
    ['system:kube-scheduler', 'kube-system', 'kube-scheduler'],
    [SA('kube-system', 'aws-load-balancer-controller'), 'kube-system', 'aws-load-balancer-controller-leader'],
    // The node lifecycle manager's own lease: cluster-autoscaler's, or Karpenter's
    // (karpenter-leader-election, kubernetes-sigs/karpenter pkg/operator/options/options.go).
    karpenter
      ? ([SA('kube-system', 'karpenter'), 'kube-system', 'karpenter-leader-election'] as const)
      : ([SA('kube-system', 'cluster-autoscaler'), 'kube-system', 'cluster-autoscaler'] as const),
    [SA('kube-system', 'ebs-csi-controller-sa'), 'kube-system', 'external-attacher-leader-ebs-csi-aws-com'],
  ] as const) {
    every(2_000, (at) =>
      emit(at, user, ['system:authenticated'], 'update', { resource: 'leases', apiGroup: 'coordination.k8s.io', namespace: ns, name }, 200),
    );
  }
  // Control-plane and add-on reflectors.
  const WATCHERS: [string, string[]][] = [
    [SA('kube-system', 'coredns'), ['endpointslices', 'services', 'namespaces']],
    [SA('kube-system', 'coredns'), ['endpointslices', 'services', 'namespaces']],
    [
      'system:kube-scheduler',
      ['pods', 'nodes', 'persistentvolumeclaims', 'services', 'replicasets', 'statefulsets', 'csinodes', 'poddisruptionbudgets'],
    ],
    [
      'system:kube-controller-manager',
      [
        'pods',
        'nodes',
        'deployments',
        'replicasets',
        'daemonsets',
        'statefulsets',
        'jobs',
        'cronjobs',
        'services',
        'endpointslices',
        'serviceaccounts',
        'secrets',
        'configmaps',
        'namespaces',
        'leases',
        'horizontalpodautoscalers',
      ],
    ],
    [SA('kube-system', 'metrics-server'), ['nodes', 'pods']],
    [SA('kube-system', 'aws-load-balancer-controller'), ['services', 'ingresses', 'endpointslices', 'pods', 'nodes']],
    karpenter
      ? [SA('kube-system', 'karpenter'), ['pods', 'nodes', 'poddisruptionbudgets', 'persistentvolumeclaims', 'nodeclaims']]
      : [SA('kube-system', 'cluster-autoscaler'), ['pods', 'nodes', 'poddisruptionbudgets', 'replicasets', 'statefulsets']],
  ];
  for (const [user, resources] of WATCHERS) {
    for (const resource of resources) {
      every(300_000 + rand() * 300_000, (at) => {
        // A reflector lists then watches; the controller manager's secret informer is cluster-wide.
        emit(at, user, ['system:authenticated'], 'watch', { resource }, 200);
      });
    }
  }
  // HPA metrics reads.
  for (let h = 0; h < 10; h++) {
    const ns = NAMESPACES[h % NAMESPACES.length] as string;
    every(15_000, (at) =>
      emit(
        at,
        SA('kube-system', 'horizontal-pod-autoscaler'),
        SA_GROUPS('kube-system'),
        'list',
        { resource: 'pods', apiGroup: 'metrics.k8s.io', namespace: ns },
        200,
      ),
    );
  }

  // Pod churn: 5% of the pods replaced.
  const churn = Math.round(STEADY_STATE.pods * 0.05);
  for (let i = 0; i < churn; i++) {
    const old = pick(pods);
    const at = rand() * (HOUR_MS - 120_000);
    const name = `${old.name.slice(0, old.name.lastIndexOf('-'))}-${Math.floor(rand() * 36 ** 5).toString(36)}`;
    const node = pick(nodes);
    const spec = {
      serviceAccountName: old.sa,
      containers: [
        {
          name: 'app',
          image: `123456789012.dkr.ecr.us-east-1.amazonaws.com/${old.sa}:v${1 + Math.floor(rand() * 40)}`,
          securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        },
      ],
    };
    const rsUser = SA('kube-system', 'replicaset-controller');
    emit(at, rsUser, SA_GROUPS('kube-system'), 'create', { resource: 'pods', namespace: old.ns }, 201, {
      requestObject: { kind: 'Pod', apiVersion: 'v1', metadata: { generateName: `${old.sa}-`, namespace: old.ns }, spec },
    });
    emit(
      at + 50,
      'system:kube-scheduler',
      ['system:authenticated'],
      'create',
      { resource: 'pods', subresource: 'binding', namespace: old.ns, name },
      201,
    );
    emit(
      at + 2_000,
      nodeUser(node),
      NODE_GROUPS,
      'create',
      { resource: 'serviceaccounts', subresource: 'token', namespace: old.ns, name: old.sa },
      201,
    );
    for (let k = 0; k < 3; k++)
      emit(
        at + 3_000 + k * 4_000,
        nodeUser(node),
        NODE_GROUPS,
        'patch',
        { resource: 'pods', subresource: 'status', namespace: old.ns, name },
        200,
      );
    for (const reason of ['Scheduled', 'Pulling', 'Pulled', 'Created', 'Started']) {
      emit(
        at + 1_000,
        reason === 'Scheduled' ? 'system:kube-scheduler' : nodeUser(node),
        ['system:authenticated'],
        'create',
        { resource: 'events', namespace: old.ns },
        201,
      );
    }
    const slice = { resource: 'endpointslices', apiGroup: 'discovery.k8s.io', namespace: old.ns, name: `${old.sa}-x1` };
    // A lost optimistic-concurrency race, retried at once.
    if (rand() < 0.1) emit(at + 19_900, SA('kube-system', 'endpointslice-controller'), SA_GROUPS('kube-system'), 'update', slice, 409);
    emit(at + 20_000, SA('kube-system', 'endpointslice-controller'), SA_GROUPS('kube-system'), 'update', slice, 200);
    if (rand() < 0.02) {
      emit(
        at + 40,
        'system:kube-scheduler',
        ['system:authenticated'],
        'create',
        { resource: 'pods', subresource: 'binding', namespace: old.ns, name },
        409,
      );
    }
    // The old pod goes: the controller deletes it (a 409 when it raced), the kubelet finishes.
    emit(
      at + 30_000,
      rsUser,
      SA_GROUPS('kube-system'),
      'delete',
      { resource: 'pods', namespace: old.ns, name: old.name },
      rand() < 0.05 ? 409 : 200,
    );
    const gone = rand() < 0.05;
    emit(at + 60_000, nodeUser(old.node), NODE_GROUPS, 'delete', { resource: 'pods', namespace: old.ns, name: old.name }, gone ? 404 : 200);
    if (gone) emit(at + 60_100, nodeUser(old.node), NODE_GROUPS, 'get', { resource: 'pods', namespace: old.ns, name: old.name }, 404);
    if (rand() < 0.2) {
      emit(
        at + 60_500,
        nodeUser(old.node),
        NODE_GROUPS,
        'patch',
        { resource: 'pods', subresource: 'status', namespace: old.ns, name: old.name },
        404,
      );
    }
    if (rand() < 0.1) {
      emit(
        at + 62_000,
        SA('kube-system', 'generic-garbage-collector'),
        SA_GROUPS('kube-system'),
        'get',
        { resource: 'replicasets', apiGroup: 'apps', namespace: old.ns, name: `${old.sa}-5c8f7` },
        404,
      );
    }
    emit(
      at + 61_000,
      SA('kube-system', 'endpointslice-controller'),
      SA_GROUPS('kube-system'),
      'update',
      { resource: 'endpointslices', apiGroup: 'discovery.k8s.io', namespace: old.ns, name: `${old.sa}-x1` },
      200,
    );
    if (i % 5 === 0) {
      // A rollout step: the deployment controller scales the ReplicaSets.
      emit(
        at - 1_000,
        SA('kube-system', 'deployment-controller'),
        SA_GROUPS('kube-system'),
        'update',
        { resource: 'replicasets', apiGroup: 'apps', namespace: old.ns, name: `${old.sa}-7d4b9` },
        200,
      );
      emit(
        at - 900,
        SA('kube-system', 'replicaset-controller'),
        SA_GROUPS('kube-system'),
        'update',
        { resource: 'replicasets', subresource: 'status', apiGroup: 'apps', namespace: old.ns, name: `${old.sa}-7d4b9` },
        200,
      );
    }
    if (i % 8 === 0) {
      emit(
        at - 2_000,
        SA('kube-system', 'horizontal-pod-autoscaler'),
        SA_GROUPS('kube-system'),
        'patch',
        { resource: 'deployments', subresource: 'scale', apiGroup: 'apps', namespace: old.ns, name: old.sa },
        200,
      );
    }
    old.name = name;
    old.node = node;
  }

  // A node joining: it registers, the DaemonSet controller creates the EKS add-ons' pods on it
  // (each owned by its DaemonSet, as pkg/controller/daemon writes them), and it asks for its
  // kubelet serving certificate.
  const joinNode = (at: number, node: string) => {
    emit(at, nodeUser(node), NODE_GROUPS, 'create', { resource: 'nodes' }, 201);
    const DS: [string, Obj][] = [
      [
        'aws-node',
        {
          hostNetwork: true,
          containers: [
            {
              name: 'aws-node',
              image: `${EKS_REGISTRY}/amazon-k8s-cni:v1.18.3-eksbuild.1`,
              securityContext: { capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } },
            },
          ],
          volumes: [
            { name: 'cni-bin-dir', hostPath: { path: '/opt/cni/bin' } },
            { name: 'run-dir', hostPath: { path: '/var/run/aws-node' } },
          ],
        },
      ],
      [
        'kube-proxy',
        {
          hostNetwork: true,
          containers: [
            {
              name: 'kube-proxy',
              image: `${EKS_REGISTRY}/eks/kube-proxy:v1.30.0-minimal-eksbuild.3`,
              securityContext: { privileged: true },
            },
          ],
          volumes: [{ name: 'lib-modules', hostPath: { path: '/lib/modules' } }],
        },
      ],
      [
        'ebs-csi-node',
        {
          containers: [
            { name: 'ebs-plugin', image: `${EKS_REGISTRY}/eks/aws-ebs-csi-driver:v1.31.0`, securityContext: { privileged: true } },
          ],
          volumes: [
            { name: 'kubelet-dir', hostPath: { path: '/var/lib/kubelet' } },
            { name: 'device-dir', hostPath: { path: '/dev' } },
          ],
        },
      ],
    ];
    for (const [name, spec] of DS) {
      emit(
        at + 5_000,
        SA('kube-system', 'daemon-set-controller'),
        SA_GROUPS('kube-system'),
        'create',
        { resource: 'pods', namespace: 'kube-system' },
        201,
        {
          requestObject: {
            kind: 'Pod',
            apiVersion: 'v1',
            metadata: { generateName: `${name}-`, namespace: 'kube-system', ownerReferences: [daemonSetOwner(name)] },
            spec,
          },
        },
      );
    }
    // Its kubelet serving certificate: a CSR the node creates, EKS's certificate controller
    // approves and signs (certificates.k8s.io/v1; EKS AMIs run the kubelet with serverTLSBootstrap).
    const csr = { resource: 'certificatesigningrequests', apiGroup: 'certificates.k8s.io', name: 'csr-8kq2z' };
    emit(at + 2_000, nodeUser(node), NODE_GROUPS, 'create', { ...csr, name: undefined }, 201, {
      requestObject: {
        kind: 'CertificateSigningRequest',
        apiVersion: 'certificates.k8s.io/v1',
        metadata: { generateName: 'csr-' },
        spec: {
          request: 'LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K',
          signerName: 'kubernetes.io/kubelet-serving',
          usages: ['digital signature', 'server auth'],
        },
      },
    });
    emit(at + 2_300, 'eks:certificate-controller', ['system:authenticated'], 'update', { ...csr, subresource: 'approval' }, 200);
    emit(at + 2_600, 'eks:certificate-controller', ['system:authenticated'], 'update', { ...csr, subresource: 'status' }, 200);
  };

  // Node churn: one node replaced.
  {
    const at = rand() * (HOUR_MS / 2);
    const node = `ip-10-0-9-${200 + Math.floor(rand() * 50)}.ec2.internal`;
    joinNode(at, node);
    // The node cluster-autoscaler scales down: it taints it, drains it (an Eviction of each pod
    // on it, DaemonSet pods included), then deletes it. No rand() here, so the streams generated
    // after this one are the same hour they were before the drain was modelled.
    const gone = nodes[0] as string;
    if (karpenter) {
      // Karpenter's consolidation removes it instead (kubernetes-sigs/karpenter, as its
      // getting-started guide installs it: release `karpenter` in kube-system): it taints the
      // node karpenter.sh/disrupted:NoSchedule, deletes its NodeClaim and then the Node, whose
      // termination finalizer drains it through the Eviction API, a PodDisruptionBudget's refusal
      // requeued with the eviction queue's backoff, 100 ms doubling up to 10 s
      // (pkg/controllers/node/termination/terminator/eviction.go), and, the instance gone, removes
      // the finalizers of the Node and the NodeClaim (pkg/controllers/node/termination/controller.go).
      const K = SA('kube-system', 'karpenter');
      const ua = { userAgent: KARPENTER_USER_AGENT };
      const claim = { resource: 'nodeclaims', apiGroup: 'karpenter.sh', name: 'default-7x2kq' };
      const drainAt = at + 560_000;
      emit(drainAt, K, SA_GROUPS('kube-system'), 'patch', { resource: 'nodes', name: gone }, 200, ua);
      emit(drainAt + 300, K, SA_GROUPS('kube-system'), 'delete', claim, 200, ua);
      emit(drainAt + 600, K, SA_GROUPS('kube-system'), 'delete', { resource: 'nodes', name: gone }, 200, ua);
      drainNode(
        K,
        'kube-system',
        KARPENTER_USER_AGENT,
        gone,
        drainAt,
        { pod: 1, retryGapsMs: [100, 200, 400, 800, 1_600, 3_200, 6_400, 10_000] },
        'k',
        false,
      );
      emit(at + 590_000, K, SA_GROUPS('kube-system'), 'patch', { resource: 'nodes', name: gone }, 200, ua);
      emit(at + 590_500, K, SA_GROUPS('kube-system'), 'patch', claim, 200, ua);
    } else {
      const CA = SA('kube-system', 'cluster-autoscaler');
      const drainAt = at + 560_000;
      emit(drainAt, CA, SA_GROUPS('kube-system'), 'update', { resource: 'nodes', name: gone }, 200, { userAgent: CA_USER_AGENT });
      // One of its pods is held by a PodDisruptionBudget until its ReplicaSet's new pod is ready:
      // cluster-autoscaler retries the eviction every 10 s (DefaultEvictionRetryTime, for up to
      // --max-pod-eviction-time 2 min; cluster-autoscaler/core/scaledown/actuation/drain.go),
      // refused three times here before it passes.
      drainNode(CA, 'kube-system', CA_USER_AGENT, gone, drainAt, { pod: 1, retryGapsMs: [10_000, 10_000, 10_000] }, 'd', true);
      emit(at + 590_000, CA, SA_GROUPS('kube-system'), 'delete', { resource: 'nodes', name: gone }, 200, { userAgent: CA_USER_AGENT });
    }
  }

  // People with kubectl: reads, logs, a describe.
  for (const person of PEOPLE) {
    for (let k = 0; k < 40; k++) {
      const ns = pick(NAMESPACES);
      const at = rand() * HOUR_MS;
      const r = rand();
      const groups = ['system:authenticated'];
      if (r < 0.35)
        emit(at, person, groups, 'list', { resource: 'pods', namespace: ns }, 200, {
          userAgent: 'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350',
        });
      else if (r < 0.55)
        emit(at, person, groups, 'get', { resource: 'pods', namespace: ns, name: pick(pods).name }, 200, {
          userAgent: 'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350',
        });
      else if (r < 0.7)
        emit(at, person, groups, 'get', { resource: 'pods', subresource: 'log', namespace: ns, name: pick(pods).name }, 200, {
          userAgent: 'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350',
        });
      else if (r < 0.85)
        emit(at, person, groups, 'list', { resource: 'deployments', apiGroup: 'apps', namespace: ns }, 200, {
          userAgent: 'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350',
        });
      else
        emit(at, person, groups, 'list', { resource: 'events', namespace: ns }, 200, {
          userAgent: 'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350',
        });
    }
  }
  // The add-ons most EKS clusters add, each as its own install instructions deploy it, with their
  // informers (a list, then a watch reopened every 5-10 min). Each keeps a cluster-wide Secret
  // informer, which the spec's table scores high (row 5). Generated last so the streams above stay
  // the hour they were. Service accounts, namespaces, RBAC and sources: ADDON_SECRET_WATCHERS in
  // lib/audit/severity.ts. User agents as each binary sets them (commit hashes elided):
  // cert-manager pkg/util RestConfigWithUserAgent "cert-manager-<component>/<version> (<platform>)
  // cert-manager/<commit>"; ingress-nginx cmd/nginx/main.go "<binary>/<release> (<os>/<arch>)
  // ingress-nginx/<commit>"; kube-state-metrics pkg/version "<binary>/<release> (<os>/<arch>)
  // kube-state-metrics/<commit>"; Argo CD cmd/argocd-application-controller
  // "argocd-application-controller/<version> (<platform>)".
  const ADDONS: {
    user: string;
    ns: string;
    userAgent: string;
    watchMs: [number, number];
    relistEachWatch: boolean;
    informers: [string, string?][];
  }[] = [
    {
      user: SA('cert-manager', 'cert-manager'),
      ns: 'cert-manager',
      userAgent: 'cert-manager-controller/v1.16.2 (linux/amd64) cert-manager/0000000',
      watchMs: [300_000, 600_000],
      relistEachWatch: false,
      informers: [
        ['secrets'],
        ['pods'],
        ['services'],
        ['ingresses', 'networking.k8s.io'],
        ['certificates', 'cert-manager.io'],
        ['certificaterequests', 'cert-manager.io'],
        ['issuers', 'cert-manager.io'],
        ['clusterissuers', 'cert-manager.io'],
        ['orders', 'acme.cert-manager.io'],
        ['challenges', 'acme.cert-manager.io'],
      ],
    },
    {
      user: SA('cert-manager', 'cert-manager-cainjector'),
      ns: 'cert-manager',
      userAgent: 'cert-manager-cainjector/v1.16.2 (linux/amd64) cert-manager/0000000',
      watchMs: [300_000, 600_000],
      relistEachWatch: false,
      informers: [
        ['secrets'],
        ['certificates', 'cert-manager.io'],
        ['mutatingwebhookconfigurations', 'admissionregistration.k8s.io'],
        ['validatingwebhookconfigurations', 'admissionregistration.k8s.io'],
        ['apiservices', 'apiregistration.k8s.io'],
        ['customresourcedefinitions', 'apiextensions.k8s.io'],
      ],
    },
    {
      user: SA('ingress-nginx', 'ingress-nginx'),
      ns: 'ingress-nginx',
      userAgent: 'nginx-ingress-controller/v1.11.3 (linux/amd64) ingress-nginx/0000000',
      watchMs: [300_000, 600_000],
      relistEachWatch: false,
      informers: [
        ['secrets'],
        ['configmaps'],
        ['services'],
        ['endpointslices', 'discovery.k8s.io'],
        ['ingresses', 'networking.k8s.io'],
        ['ingressclasses', 'networking.k8s.io'],
      ],
    },
    {
      user: SA('kube-system', 'kube-state-metrics'),
      ns: 'kube-system',
      userAgent: 'kube-state-metrics/v2.13.0 (linux/amd64) kube-state-metrics/0000000',
      watchMs: [300_000, 600_000],
      relistEachWatch: false,
      informers: [
        ['secrets'],
        ['configmaps'],
        ['pods'],
        ['nodes'],
        ['services'],
        ['namespaces'],
        ['persistentvolumeclaims'],
        ['deployments', 'apps'],
        ['daemonsets', 'apps'],
        ['statefulsets', 'apps'],
        ['replicasets', 'apps'],
        ['jobs', 'batch'],
        ['cronjobs', 'batch'],
        ['horizontalpodautoscalers', 'autoscaling'],
      ],
    },
    {
      // gitops-engine's cluster cache lists and watches every kind, and restarts each watch with a
      // fresh list every 10 min (pkg/cache/cluster.go defaultWatchResyncTimeout).
      user: SA('argocd', 'argocd-application-controller'),
      ns: 'argocd',
      userAgent: 'argocd-application-controller/v2.13.1+af54ef8 (linux/amd64)',
      watchMs: [600_000, 600_000],
      relistEachWatch: true,
      informers: [
        ['secrets'],
        ['configmaps'],
        ['serviceaccounts'],
        ['services'],
        ['pods'],
        ['deployments', 'apps'],
        ['replicasets', 'apps'],
        ['statefulsets', 'apps'],
        ['ingresses', 'networking.k8s.io'],
        ['applications', 'argoproj.io'],
      ],
    },
    {
      // external-secrets' controller as its getting started installs it: a cluster-wide informer
      // of the Secrets it manages (label reconcile.external-secrets.io/managed=true) beside its
      // own kinds (controller-runtime's reflectors; client-go's default user agent).
      user: SA('external-secrets', 'external-secrets'),
      ns: 'external-secrets',
      userAgent: 'external-secrets/v0.0.0 (linux/amd64) kubernetes/$Format',
      watchMs: [300_000, 600_000],
      relistEachWatch: false,
      informers: [
        ['secrets'],
        ['externalsecrets', 'external-secrets.io'],
        ['secretstores', 'external-secrets.io'],
        ['clustersecretstores', 'external-secrets.io'],
        ['pushsecrets', 'external-secrets.io'],
      ],
    },
    {
      // The Prometheus operator as kube-prometheus installs it (`prometheus-operator` in
      // `monitoring`): metadata-only informers of Secrets and ConfigMaps in every namespace beside
      // its own kinds (pkg/prometheus/server/operator.go); its binary is `operator`.
      user: SA('monitoring', 'prometheus-operator'),
      ns: 'monitoring',
      userAgent: 'operator/v0.0.0 (linux/amd64) kubernetes/$Format',
      watchMs: [300_000, 600_000],
      relistEachWatch: false,
      informers: [
        ['secrets'],
        ['configmaps'],
        ['namespaces'],
        ['statefulsets', 'apps'],
        ['prometheuses', 'monitoring.coreos.com'],
        ['alertmanagers', 'monitoring.coreos.com'],
        ['servicemonitors', 'monitoring.coreos.com'],
        ['podmonitors', 'monitoring.coreos.com'],
        ['probes', 'monitoring.coreos.com'],
        ['prometheusrules', 'monitoring.coreos.com'],
      ],
    },
  ];
  for (const addon of ADDONS) {
    for (const [resource, apiGroup] of addon.informers) {
      const ref = apiGroup === undefined ? { resource } : { resource, apiGroup };
      const [lo, hi] = addon.watchMs;
      const period = lo + rand() * (hi - lo);
      const extra = { userAgent: addon.userAgent };
      // A list at the hour's first reopen (the informer's re-list after its resourceVersion
      // expired: this file's estimate, one an hour), each watch after it; Argo CD re-lists every time.
      let first = true;
      every(period, (at) => {
        if (first || addon.relistEachWatch) emit(Math.max(0, at - 200), addon.user, SA_GROUPS(addon.ns), 'list', ref, 200, extra);
        first = false;
        emit(at, addon.user, SA_GROUPS(addon.ns), 'watch', ref, 200, extra);
      });
    }
  }
  // Generated after the streams above, so that they stay the hour they were.
  if (!karpenter) {
    // A spot instance's interruption notice: the AWS Node Termination Handler, as its README
    // installs it (Helm release `aws-node-termination-handler` in kube-system), cordons the node
    // (k8s.io/kubectl pkg/drain RunCordonOrUncordon: a patch) and drains it with kubectl's drain
    // library, which retries a PodDisruptionBudget's refusal with no delay (its pkg/node/node.go
    // getDrainHelper leaves EvictErrorRetryDelay 0), reading the pod again after each: only its
    // client's rate limit (--kube-api-qps 5, an eviction and a get per try) spaces them, 400 ms.
    // With Karpenter the interruption queue is Karpenter's own: no handler there. One notice an
    // hour is this file's estimate for a 50-node cluster with spot capacity.
    const NTH = SA('kube-system', 'aws-node-termination-handler');
    const spot = nodes[2] as string;
    const noticeAt = HOUR_MS * 0.58;
    emit(noticeAt, NTH, SA_GROUPS('kube-system'), 'patch', { resource: 'nodes', name: spot }, 200, { userAgent: NTH_USER_AGENT });
    drainNode(
      NTH,
      'kube-system',
      NTH_USER_AGENT,
      spot,
      noticeAt,
      { pod: 4, retryGapsMs: Array(10).fill(400), getAfterRefusal: true },
      's',
      false,
    );
  }
  // Velero's hourly scheduled backup, `velero install`'s account (`velero` in `velero`, bound to
  // cluster-admin): with every namespace included it lists each kind once at cluster scope
  // (vmware-tanzu/velero pkg/backup/item_collector.go getNamespacesToList), in pages of 500
  // (its --client-page-size), then writes its Backup's status. The hourly schedule is this file's
  // estimate; a nightly one puts the same requests in one hour of the night.
  const VELERO = SA('velero', 'velero');
  const veleroUa = { userAgent: 'velero/v1.15.0 (linux/amd64) 0000000' };
  const backupAt = HOUR_MS * 0.5;
  (
    [
      ['pods', undefined, 3],
      ['persistentvolumeclaims'],
      ['persistentvolumes'],
      ['secrets', undefined, 2],
      ['configmaps', undefined, 2],
      ['serviceaccounts'],
      ['services'],
      ['namespaces'],
      ['deployments', 'apps'],
      ['replicasets', 'apps', 2],
      ['statefulsets', 'apps'],
      ['daemonsets', 'apps'],
      ['roles', 'rbac.authorization.k8s.io'],
      ['rolebindings', 'rbac.authorization.k8s.io'],
      ['clusterroles', 'rbac.authorization.k8s.io'],
      ['clusterrolebindings', 'rbac.authorization.k8s.io'],
    ] as [string, string?, number?][]
  ).forEach(([resource, apiGroup, pages = 1], i) => {
    const ref = apiGroup === undefined ? { resource } : { resource, apiGroup };
    for (let page = 0; page < pages; page++) emit(backupAt + i * 700 + page * 150, VELERO, SA_GROUPS('velero'), 'list', ref, 200, veleroUa);
  });
  // Argo CD syncs a change that adds a ConfigMap and a Service to an application: gitops-engine
  // runs kubectl's apply on each object twice, a client dry run first, then for real
  // (argoproj/gitops-engine pkg/sync/sync_context.go applyObject), and kubectl's apply gets the
  // object before it creates it (k8s.io/kubectl pkg/cmd/apply/apply.go: info.Get, a create when
  // IsNotFound): a 404 for each run, then the create.
  const ARGO = SA('argocd', 'argocd-application-controller');
  const argoUa = { userAgent: 'argocd-application-controller/v2.13.1+af54ef8 (linux/amd64)' };
  const syncAt = HOUR_MS * 0.71;
  [
    { resource: 'configmaps', namespace: 'checkout', name: 'checkout-feature-flags' },
    { resource: 'services', namespace: 'checkout', name: 'checkout-grpc' },
  ].forEach((ref, i) => {
    const t = syncAt + i * 40;
    emit(t, ARGO, SA_GROUPS('argocd'), 'get', ref, 404, { ...argoUa, status: notFound(ref.resource, ref.name) });
    emit(t + 900, ARGO, SA_GROUPS('argocd'), 'get', ref, 404, { ...argoUa, status: notFound(ref.resource, ref.name) });
    emit(t + 910, ARGO, SA_GROUPS('argocd'), 'create', { resource: ref.resource, namespace: ref.namespace }, 201, argoUa);
  });
  // Node agents on every node that joins (test/fixtures/daemonset-agents): the DaemonSet controller
  // creates one pod per agent DaemonSet on it, the template plus its tolerations and node affinity.
  // Emitted last, so the streams above are the same hour they were before the agents were modelled.
  // Besides the node replaced above, three more join: the spot node's replacement and two
  // scale-ups for the churn's pending pods (Karpenter or cluster-autoscaler; the count is this
  // file's estimate for a 50-node cluster with spot capacity), each with the add-ons' pods and
  // its serving certificate as above.
  const joins = [...events.filter((e) => e.verb === 'create' && (e.objectRef as Obj).resource === 'nodes')].map((e) => ({
    at: Date.parse(e.requestReceivedTimestamp as string) - START,
    node: (e.user as { username: string }).username.slice('system:node:'.length),
  }));
  [0.38, 0.55, 0.82].forEach((f, i) => {
    const node = `ip-10-0-10-${210 + i}.ec2.internal`;
    joinNode(HOUR_MS * f, node);
    joins.push({ at: HOUR_MS * f, node });
  });
  for (const { at: joined, node } of joins) {
    for (const { ds } of NODE_AGENTS) {
      const pod = daemonSetPod(ds, node);
      const ns = (pod.metadata as Obj).namespace as string;
      emit(
        joined + 5_100,
        SA('kube-system', 'daemon-set-controller'),
        SA_GROUPS('kube-system'),
        'create',
        { resource: 'pods', namespace: ns },
        201,
        {
          requestObject: pod,
          userAgent: KCM_USER_AGENT,
        },
      );
    }
  }
  // Add-ons writing their own webhooks' CA bundle as their pods start: the node scaled down or
  // drained held their controllers, and each writes at start (what, as whom and from which source:
  // test/helpers/webhook-ca-writes.ts): cert-manager's cainjector applies the CA to its own
  // webhook and the load-balancer controller's, Kyverno's admission controller updates its resource webhooks, istiod its sidecar
  // injector, Gatekeeper's rotator both its configurations. Generated last, so the streams above
  // stay the hour they were. One restart each in the hour is this file's estimate.
  // ingress-nginx's patch Job runs only at install and upgrade, not in a routine hour.
  const caWrites = routineCaWrites().filter(({ addon }) => !addon.startsWith('ingress-nginx'));
  caWrites.forEach(({ event }, i) => {
    const ref = event.objectRef as Obj;
    const user = (event.user as { username: string }).username;
    emit(
      HOUR_MS * 0.62 + i * 7_300,
      user,
      SA_GROUPS(user.split(':')[2] as string),
      event.verb as string,
      { resource: ref.resource, name: ref.name, apiGroup: ref.apiGroup },
      200,
      { requestObject: event.requestObject, userAgent: event.userAgent },
    );
  });
  // Time order (ISO strings of one format sort as text; localeCompare would be 100x slower).
  const at = (e: Obj) => e.requestReceivedTimestamp as string;
  events.sort((a, b) => (at(a) < at(b) ? -1 : at(a) > at(b) ? 1 : 0));
  return events;
}

function uriOf(ref: Obj, verb: string): string {
  const group = typeof ref.apiGroup === 'string' && ref.apiGroup !== '' ? `/apis/${ref.apiGroup}/v1` : '/api/v1';
  const ns = typeof ref.namespace === 'string' ? `/namespaces/${ref.namespace}` : '';
  const name = typeof ref.name === 'string' ? `/${ref.name}` : '';
  const sub = typeof ref.subresource === 'string' ? `/${ref.subresource}` : '';
  return `${group}${ns}/${ref.resource}${name}${sub}${verb === 'watch' ? '?watch=true' : ''}`;
}
