// Kubernetes Goat (test/fixtures/kubernetes-goat, README.md there): its scenarios' manifests as an
// operator installs them (setup-kubernetes-goat.sh's `kubectl apply -f`, the guide's kube-bench
// and docker-bench jobs, Helm v2 tiller's pwnchart), each created by a person's kubectl in the
// three ways kubectl creates (test/helpers/kubectl-creates.ts), and the attack steps of the guide
// that reach the API server, as the requests each makes from the pod it runs in: POSTed to a
// running `serve` and read back with `events` as a user reads them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { FIXTURES } from '../helpers/fixtures.js';
import { eventMaker } from '../helpers/k8s-events.js';
import { kubectlCreates } from '../helpers/kubectl-creates.js';
import { podIdentity, requester } from '../helpers/pod-requests.js';
import { type Installed, type InstallOutcomes, type Outcome, type ScenarioStep, servedScenarios } from '../helpers/through-serve.js';

type Json = Record<string, unknown>;
const SECRET = 'kubernetes-goat-secret-0123456789abcdef';
const DIR = join(FIXTURES, 'kubernetes-goat');

const event = eventMaker('c0a70000', {
  user: { username: 'arn:aws:iam::123456789012:role/platform-admin', groups: ['system:authenticated'] },
  sourceIPs: ['203.0.113.24'],
  userAgent: 'kubectl/v1.31.4 (linux/amd64) kubernetes/a78aa47',
  requestReceivedTimestamp: '2026-12-07T09:00:00.000000Z',
  stageTimestamp: '2026-12-07T09:00:00.025000Z',
});

/** The objects of one fixture file; `values` fills a Helm template's `{{ .Values.x }}` as `helm install` renders it. */
function objects(file: string, values: Record<string, string> = {}): Json[] {
  const text = readFileSync(join(DIR, file), 'utf8').replace(/\{\{ \.Values\.(\w+) \}\}/g, (_, k: string) => values[k] ?? '');
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Json | null)
    .filter((o): o is Json => o !== null);
}

// What each installed object comes out as, by kind/name (the same for its three creates). A
// person's Service, Namespace and plain Deployment are what every install writes: the table's
// rows (Service and Namespace info, workload medium). Each dangerous workload names its rules.
const MEDIUM_WORKLOAD: Outcome = ['medium', 'workload-change'];
const INFO: Outcome = ['info', 'steady-state'];
const SENSITIVE: Outcome = ['high', 'sensitive-resource-change'];
const PRIVILEGED = 'rule:privileged-container';
const INSTALLS: InstallOutcomes[] = [
  {
    // setup-kubernetes-goat.sh, first: a ServiceAccount in kube-system bound to cluster-admin.
    file: 'scenarios/insecure-rbac/setup.yaml',
    expect: {
      'ServiceAccount/superadmin': SENSITIVE,
      'ClusterRoleBinding/superadmin': ['high', 'rbac-binding-change', ['cluster-admin-binding']],
    },
  },
  { file: 'scenarios/batch-check/job.yaml', expect: { 'Job/batch-check-job': MEDIUM_WORKLOAD } },
  {
    file: 'scenarios/build-code/deployment.yaml',
    expect: { 'Deployment/build-code-deployment': MEDIUM_WORKLOAD, 'Service/build-code-service': INFO },
  },
  {
    file: 'scenarios/cache-store/deployment.yaml',
    expect: {
      'Namespace/secure-middleware': INFO,
      'Service/cache-store-service': INFO,
      'Deployment/cache-store-deployment': MEDIUM_WORKLOAD,
    },
  },
  {
    // Scenario 2, DIND: privileged, containerd's socket mounted.
    file: 'scenarios/health-check/deployment.yaml',
    expect: {
      'Deployment/health-check-deployment': ['high', PRIVILEGED, ['privileged-container', 'container-runtime-socket']],
      'Service/health-check-service': INFO,
    },
  },
  {
    // Scenario 16: a Role reading every core resource (Secrets among them), bound to the pod's account.
    file: 'scenarios/hunger-check/deployment.yaml',
    expect: {
      'Namespace/big-monolith': INFO,
      'Role/secret-reader': ['high', 'sensitive-resource-change', ['rbac-escalation-verbs-or-wildcards']],
      'RoleBinding/secret-reader-binding': ['high', 'rbac-binding-change'],
      'ServiceAccount/big-monolith-sa': SENSITIVE,
      'Secret/vaultapikey': SENSITIVE,
      'Secret/webhookapikey': SENSITIVE,
      'Deployment/hunger-check-deployment': MEDIUM_WORKLOAD,
      'Service/hunger-check-service': INFO,
    },
  },
  {
    // Scenario 3, SSRF: its info-app Service is a NodePort.
    file: 'scenarios/internal-proxy/deployment.yaml',
    expect: {
      'Deployment/internal-proxy-deployment': MEDIUM_WORKLOAD,
      'Service/internal-proxy-api-service': INFO,
      'Service/internal-proxy-info-app-service': ['medium', 'rule:nodeport-service', ['nodeport-service']],
    },
  },
  {
    file: 'scenarios/kubernetes-goat-home/deployment.yaml',
    expect: { 'Deployment/kubernetes-goat-home-deployment': MEDIUM_WORKLOAD, 'Service/kubernetes-goat-home-service': INFO },
  },
  {
    file: 'scenarios/poor-registry/deployment.yaml',
    expect: { 'Deployment/poor-registry-deployment': MEDIUM_WORKLOAD, 'Service/poor-registry-service': INFO },
  },
  {
    // Scenario 4: hostPID, hostIPC, privileged, the host's / mounted.
    file: 'scenarios/system-monitor/deployment.yaml',
    expect: {
      'Secret/goatvault': SENSITIVE,
      'Deployment/system-monitor-deployment': [
        'high',
        PRIVILEGED,
        ['privileged-container', 'host-pid-or-ipc', 'sensitive-host-path', 'allow-privilege-escalation'],
      ],
      'Service/system-monitor-service': INFO,
    },
  },
  // Scenario 15: the secret is in the image's layers, which no audit event shows.
  { file: 'scenarios/hidden-in-layers/deployment.yaml', expect: { 'Job/hidden-in-layers': MEDIUM_WORKLOAD } },
  {
    // Scenario 5 (docker-bench-security) and 6 (kube-bench): the guide applies them.
    file: 'scenarios/docker-bench-security/deployment.yaml',
    expect: {
      'DaemonSet/docker-bench-security': [
        'high',
        PRIVILEGED,
        ['privileged-container', 'host-pid-or-ipc', 'host-network', 'sensitive-host-path', 'container-runtime-socket'],
      ],
    },
  },
  {
    file: 'scenarios/kube-bench-security/node-job.yaml',
    expect: { 'Job/kube-bench-node': ['high', 'rule:host-pid-or-ipc', ['host-pid-or-ipc', 'sensitive-host-path']] },
  },
  {
    file: 'scenarios/kube-bench-security/master-job.yaml',
    expect: { 'Job/kube-bench-master': ['high', 'rule:host-pid-or-ipc', ['host-pid-or-ipc', 'sensitive-host-path']] },
  },
];

const INSTALLED: Installed[] = INSTALLS.flatMap(({ file }) =>
  objects(file).map((object) => {
    const meta = object.metadata as Json;
    const namespace = (meta.namespace as string | undefined) ?? 'default';
    return { file, key: `${object.kind}/${meta.name as string}`, events: kubectlCreates(event, object, namespace) };
  }),
);

const request = requester(event);

// Scenario 16, RBAC least privileges misconfiguration (guide/docs/scenarios/scenario-16): curl in
// the hunger-check pod with its service account's token. The image is ubuntu:noble with its curl
// (infrastructure/hunger-check/Dockerfile): curl 8.5.0.
const HUNGER = podIdentity('big-monolith', 'big-monolith-sa', 'hunger-check-deployment-6d9f7c8b5-x2kqp');
const CURL = 'curl/8.5.0';
const HUNGER_IP = '10.244.1.12';
const S16 = [
  request(HUNGER, CURL, HUNGER_IP, 'get', '/api', undefined, 200),
  request(HUNGER, CURL, HUNGER_IP, 'list', '/api/v1/secrets', { resource: 'secrets' }, 403),
  request(
    HUNGER,
    CURL,
    HUNGER_IP,
    'list',
    '/api/v1/namespaces/big-monolith/secrets',
    { resource: 'secrets', namespace: 'big-monolith' },
    200,
  ),
  request(HUNGER, CURL, HUNGER_IP, 'list', '/api/v1/namespaces/big-monolith/pods', { resource: 'pods', namespace: 'big-monolith' }, 200),
];

// Scenario 9, Helm v2 tiller (guide/docs/scenarios/scenario-9; infrastructure/helm-tiller): the
// attacker's pod (`kubectl run --rm --restart=Never -it --image=madhuakula/k8s-goat-helm-tiller --
// bash`, a name added: kubectl run needs one), its kubectl 1.18.3 (the image's KUBECTL_VERSION)
// with the default service account of default, refused kube-system's Secrets; tiller installing
// the pwnchart (kube-system's tiller account, Helm v2's documented setup); the same list again.
const ATTACKER_POD = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'helm-tiller', namespace: 'default', labels: { run: 'helm-tiller' } },
  spec: {
    containers: [
      { name: 'helm-tiller', image: 'madhuakula/k8s-goat-helm-tiller', args: ['bash'], stdin: true, stdinOnce: true, tty: true },
    ],
    restartPolicy: 'Never',
  },
};
const PERSON = { username: 'arn:aws:iam::123456789012:role/platform-admin', groups: ['system:authenticated'] };
const TILLER_POD = podIdentity('default', 'default', 'helm-tiller');
const KUBECTL_118 = 'kubectl/v1.18.3 (linux/amd64) kubernetes/2e7996e';
// Tiller builds client-go's default user agent (its binary name, client-go's unstamped version).
const TILLER = podIdentity('kube-system', 'tiller', 'tiller-deploy-6c8f6d8b4d-9wzrt', 'goat-control-plane');
const TILLER_UA = 'tiller/v0.0.0 (linux/amd64) kubernetes/$Format';
const pwn = objects('pwnchart/clusterrole.yaml').concat(
  // The chart's values.yaml: namespace default, name default (every pod without its own account).
  objects('pwnchart/clusterrolebinding.yaml', parse(readFileSync(join(DIR, 'pwnchart/values.yaml'), 'utf8')) as Record<string, string>),
);

/** The tiller pod's kubectl listing kube-system's Secrets: refused before the pwnchart's binding, allowed after. */
function tillerPodListsKubeSystemSecrets(code: number): Json {
  return request(
    TILLER_POD,
    KUBECTL_118,
    '10.244.1.19',
    'list',
    '/api/v1/namespaces/kube-system/secrets?limit=500',
    { resource: 'secrets', namespace: 'kube-system' },
    code,
  );
}

const S9 = [
  request(
    PERSON,
    'kubectl/v1.31.4 (linux/amd64) kubernetes/a78aa47',
    '203.0.113.24',
    'create',
    '/api/v1/namespaces/default/pods?fieldManager=kubectl-run',
    { resource: 'pods', namespace: 'default', name: 'helm-tiller' },
    201,
    {
      requestObject: ATTACKER_POD,
      responseObject: ATTACKER_POD,
    },
  ),
  request(
    PERSON,
    'kubectl/v1.31.4 (linux/amd64) kubernetes/a78aa47',
    '203.0.113.24',
    'create',
    '/api/v1/namespaces/default/pods/helm-tiller/attach?container=helm-tiller&stdin=true&stdout=true&tty=true',
    { resource: 'pods', namespace: 'default', name: 'helm-tiller', subresource: 'attach' },
    101,
  ),
  tillerPodListsKubeSystemSecrets(403),
  ...pwn.map((o) => {
    const resource = o.kind === 'ClusterRole' ? 'clusterroles' : 'clusterrolebindings';
    const name = (o.metadata as Json).name as string;
    return request(
      TILLER,
      TILLER_UA,
      '10.244.0.7',
      'create',
      `/apis/rbac.authorization.k8s.io/v1/${resource}`,
      { resource, apiGroup: 'rbac.authorization.k8s.io', name },
      201,
      {
        requestObject: o,
        responseObject: o,
      },
    );
  }),
  tillerPodListsKubeSystemSecrets(200),
];

// Scenario 4, container escape to the host system (guide/docs/scenarios/scenario-4): chroot into
// the host's / mounted in system-monitor, then the node's kubectl with /etc/kubernetes/admin.conf
// (kubeadm's admin, group kubeadm:cluster-admins since 1.29) from the pod's address:
// `get all -n kube-system` (its first list, pods) and `get nodes`.
const ADMIN = { username: 'kubernetes-admin', groups: ['kubeadm:cluster-admins', 'system:authenticated'] };
const NODE_KUBECTL = 'kubectl/v1.30.0 (linux/amd64) kubernetes/7c48c2b';
const S4 = [
  request(
    ADMIN,
    NODE_KUBECTL,
    '10.244.1.15',
    'list',
    '/api/v1/namespaces/kube-system/pods?limit=500',
    { resource: 'pods', namespace: 'kube-system' },
    200,
  ),
  request(ADMIN, NODE_KUBECTL, '10.244.1.15', 'list', '/api/v1/nodes?limit=500', { resource: 'nodes' }, 200),
];

const CURL_RULE = 'workload-secret-read-by-http-tool';
// GET /api is every in-cluster client's first request, a list of pods in one's own namespace and
// kubeadm's admin listing kube-system's pods and the nodes are what controllers, dashboards and
// administrators send all day (docs/detection-rules.md, "Left below medium on purpose"): info.
// What gives scenario 4 away is system-monitor's spec (high above), not these reads.
const RECON: Outcome = ['info', 'steady-state'];
const STEPS: ScenarioStep[] = [
  { scenario: 'scenario 16', step: 'curl GET /api', event: S16[0] as Json, outcome: RECON },
  // Denied, but a list of every namespace's Secrets: table row 5; curl names the rule.
  {
    scenario: 'scenario 16',
    step: 'curl GET /api/v1/secrets (403)',
    event: S16[1] as Json,
    outcome: ['high', 'cluster-wide-secrets-read', [CURL_RULE]],
  },
  // Was low (sensitive-read): the pod's own namespace, which its Role allows.
  {
    scenario: 'scenario 16',
    step: 'curl GET big-monolith secrets',
    event: S16[2] as Json,
    outcome: ['medium', `rule:${CURL_RULE}`, [CURL_RULE]],
  },
  { scenario: 'scenario 16', step: 'curl GET big-monolith pods', event: S16[3] as Json, outcome: RECON },
  { scenario: 'scenario 9', step: 'kubectl run the helm-tiller pod', event: S9[0] as Json, outcome: MEDIUM_WORKLOAD },
  { scenario: 'scenario 9', step: 'kubectl run attaches', event: S9[1] as Json, outcome: ['high', 'pod-interactive-access'] },
  {
    scenario: 'scenario 9',
    step: 'kubectl get secrets -n kube-system (403)',
    event: S9[2] as Json,
    outcome: ['medium', 'request-denied-or-failed', ['workload-cross-namespace-secret-read', 'workload-secret-read-by-http-tool']],
  },
  {
    scenario: 'scenario 9',
    step: 'tiller creates ClusterRole all-your-base',
    event: S9[3] as Json,
    outcome: ['high', 'sensitive-resource-change', ['rbac-escalation-verbs-or-wildcards']],
  },
  // A binding to default/default of a role the binding does not describe: row 2 names it.
  {
    scenario: 'scenario 9',
    step: 'tiller creates ClusterRoleBinding belong-to-us',
    event: S9[4] as Json,
    outcome: ['high', 'rbac-binding-change'],
  },
  {
    scenario: 'scenario 9',
    step: 'kubectl get secrets -n kube-system',
    event: S9[5] as Json,
    outcome: [
      'medium',
      'rule:workload-cross-namespace-secret-read',
      ['workload-cross-namespace-secret-read', 'workload-secret-read-by-http-tool'],
    ],
  },
  { scenario: 'scenario 4', step: 'admin.conf: get all -n kube-system (pods)', event: S4[0] as Json, outcome: RECON },
  { scenario: 'scenario 4', step: 'admin.conf: get nodes', event: S4[1] as Json, outcome: RECON },
];

describe('Kubernetes Goat through serve', () => {
  const served = servedScenarios('aisoc-kubernetes-goat-', SECRET, 'goat', INSTALLS, INSTALLED, STEPS);

  it('every write, attach and Secret read of the attack comes out medium or high', () => {
    const active = STEPS.filter((s) => s.event.verb === 'create' || (s.event.objectRef as Json | undefined)?.resource === 'secrets');
    expect(active).toHaveLength(8);
    for (const s of active)
      expect(['medium', 'high'], s.step).toContain(served.records.find((r) => r.audit_id === s.event.auditID)?.severity);
  });
});
