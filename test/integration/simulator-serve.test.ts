// ControlPlane's Kubernetes simulator (test/fixtures/simulator, README.md there): the CTF scenarios
// that are played against the API server, Seven Seas, Commandeer Container, PSS Misconfiguration
// and Coastline Cluster Attack. Their manifests as an
// operator installs them, each created by a person's kubectl in the three ways kubectl creates
// (test/helpers/kubectl-creates.ts); the walkthroughs' kubectl commands as the requests each makes
// with the service account of the pod it runs in (the manifests the attacker applies read from the
// walkthrough as published): POSTed to a running `serve` and read back with `events` as a user reads them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { FIXTURES } from '../helpers/fixtures.js';
import { eventMaker } from '../helpers/k8s-events.js';
import { defaulted, kubectlCreates, where } from '../helpers/kubectl-creates.js';
import { podIdentity, requester } from '../helpers/pod-requests.js';
import { type Installed, type InstallOutcomes, type Outcome, type ScenarioStep, servedScenarios } from '../helpers/through-serve.js';

type Json = Record<string, unknown>;
const SECRET = 'simulator-secret-0123456789abcdef';
const DIR = join(FIXTURES, 'simulator');

const OPERATOR = { username: 'kubernetes-admin', groups: ['kubeadm:cluster-admins', 'system:authenticated'] };
const event = eventMaker('c0a70510', {
  user: OPERATOR,
  sourceIPs: ['10.0.1.10'],
  userAgent: 'kubectl/v1.28.4 (linux/amd64) kubernetes/bae2c62',
  requestReceivedTimestamp: '2026-12-07T10:00:00.000000Z',
  stageTimestamp: '2026-12-07T10:00:00.025000Z',
});
const request = requester(event);

/** The objects of one fixture file. */
function objects(file: string): Json[] {
  return parseAllDocuments(readFileSync(join(DIR, file), 'utf8'))
    .map((d) => d.toJS() as Json | null)
    .filter((o): o is Json => o !== null);
}

/** The manifest a walkthrough shows the attacker writing: the fenced block starting `apiVersion:` at `line` (1-based, its fence). */
function walkthroughManifest(scenario: string, line: number): Json {
  const text = readFileSync(join(DIR, scenario, 'walkthrough.md'), 'utf8').split('\n');
  expect(text[line - 1], `${scenario} walkthrough line ${line}`).toMatch(/^```/);
  const end = text.findIndex((l, i) => i >= line && l.startsWith('```'));
  return parse(text.slice(line, end).join('\n')) as Json;
}

const MEDIUM_WORKLOAD: Outcome = ['medium', 'workload-change'];
const INFO: Outcome = ['info', 'steady-state'];
const SENSITIVE: Outcome = ['high', 'sensitive-resource-change'];
const ROLE = SENSITIVE;
const BINDING: Outcome = ['high', 'rbac-binding-change'];
const NODEPORT: Outcome = ['medium', 'rule:nodeport-service', ['nodeport-service']];
const KUBE_SYSTEM_JOB: Outcome = ['high', 'rule:kube-system-workload', ['kube-system-workload']];
const HOST_ROOT: Outcome = ['high', 'rule:sensitive-host-path', ['sensitive-host-path']];
const PSA_LOWERED: Outcome = ['medium', 'rule:pod-security-enforce-lowered', ['pod-security-enforce-lowered']];

// What each installed object comes out as, by kind/name (the same for its three creates).
const INSTALLS: InstallOutcomes[] = [
  {
    file: 'seven-seas/00-namespaces.yaml',
    expect: {
      'Namespace/arctic': INFO,
      'Namespace/north-atlantic': INFO,
      'Namespace/south-atlantic': INFO,
      'Namespace/north-pacific': INFO,
      'Namespace/south-pacific': INFO,
      'Namespace/indian': INFO,
      'Namespace/southern': INFO,
    },
  },
  {
    file: 'seven-seas/04-arctic-start.yaml',
    expect: {
      'ServiceAccount/swashbyter': SENSITIVE,
      'ClusterRole/ocean-viewer-cr': ROLE,
      'ClusterRoleBinding/ocean-viewer-cr': BINDING,
      'Pod/fancy': MEDIUM_WORKLOAD,
      'Pod/path-of-the-pirate': MEDIUM_WORKLOAD,
      'Service/the-way': NODEPORT,
    },
  },
  {
    file: 'seven-seas/05-north-atlantic-secret.yaml',
    expect: { 'Role/stowaway': ROLE, 'RoleBinding/stowaway-bd': BINDING, 'Secret/treasure-map-2': SENSITIVE },
  },
  {
    file: 'seven-seas/06-south-atlantic-sidecar.yaml',
    expect: {
      'Role/navigator': ROLE,
      'RoleBinding/navigator-rb': BINDING,
      'ServiceAccount/invader': SENSITIVE,
      'Role/cabin-boy-uniform': ROLE,
      'RoleBinding/cabin-boy-bd': BINDING,
      'Role/navy-uniform': ROLE,
      'RoleBinding/navy-uniform-rb': BINDING,
    },
  },
  {
    file: 'seven-seas/07-southern-attached.yaml',
    expect: {
      'ServiceAccount/terrible-disguise': SENSITIVE,
      'Role/third-mate': ROLE,
      'RoleBinding/third-mate-rb': BINDING,
      // The node's /mnt mounted: a host path, though not one of the sensitive ones.
      'Pod/whydah-galley': MEDIUM_WORKLOAD,
      'Role/second-mate': ROLE,
      'RoleBinding/second-mate-rb': BINDING,
      'ClusterRole/td-ocean-viewer': ROLE,
      'ClusterRoleBinding/td-ocean-viewer-cr': BINDING,
      'Role/first-mate': ROLE,
      'RoleBinding/first-mate-rb': BINDING,
    },
  },
  {
    file: 'seven-seas/08-indian-exposed-service.yaml',
    expect: {
      'Service/crack-in-hull': INFO,
      'Pod/adventure-galley': MEDIUM_WORKLOAD,
      'Secret/action': SENSITIVE,
      'Secret/object': SENSITIVE,
      'Secret/treasure-map-5': SENSITIVE,
      'ConfigMap/options': INFO,
      'NetworkPolicy/blockade': INFO,
    },
  },
  {
    file: 'seven-seas/09-south-pacific-pss.yaml',
    expect: {
      'Secret/treasure-map-6': SENSITIVE,
      'ServiceAccount/port-finder': SENSITIVE,
      'Role/cartographer': ROLE,
      'RoleBinding/cartographer-rb': BINDING,
      'Role/quartermaster': ROLE,
      'RoleBinding/quartermaster-rb': BINDING,
    },
  },
  {
    // Step 9's ship: privileged, the host's PID namespace.
    file: 'seven-seas/10-north-pacific-ssh.yaml',
    expect: {
      'Pod/royal-fortune': ['high', 'rule:privileged-container', ['privileged-container', 'host-pid-or-ipc']],
      'Service/plot-a-course': INFO,
      'NetworkPolicy/clearing': INFO,
    },
  },
  {
    file: 'commandeer-container/01-scenario.yaml',
    expect: {
      'Namespace/treasure-island': INFO,
      'Pod/buried-chest': MEDIUM_WORKLOAD,
      'Service/x': NODEPORT,
      'Secret/map': SENSITIVE,
      'Namespace/smugglers-cove': INFO,
      'ServiceAccount/cartographer': SENSITIVE,
      'Role/reader': ROLE,
      'RoleBinding/reader-binding': BINDING,
      'Pod/misty-gally': MEDIUM_WORKLOAD,
      'Namespace/sea': INFO,
      'ServiceAccount/scurvy-dog': SENSITIVE,
      'Role/navigator': ROLE,
      'RoleBinding/navigator-rb': BINDING,
      'ClusterRole/compass': ROLE,
      'ClusterRoleBinding/compass-crb': BINDING,
      'Pod/dark-tide': MEDIUM_WORKLOAD,
    },
  },
  {
    file: 'pss-misconfiguration/01-scenario.yaml',
    expect: {
      // Created enforcing `privileged` (the misconfiguration): a person creating a namespace for a
      // node agent does the same; pod-security-enforce-lowered counts changes of one that exists.
      'Namespace/dev-app-factory': INFO,
      // The attacker's workload: runs as root, allowPrivilegeEscalation true, five capabilities added.
      'Deployment/nginx': ['medium', 'workload-change', ['allow-privilege-escalation']],
      'Namespace/platform': INFO,
      'ServiceAccount/platform-admin': SENSITIVE,
      'ClusterRole/platform-admin': ROLE,
      'ClusterRole/platform-admin-list': ROLE,
      'RoleBinding/platform-admin-bind': BINDING,
      'ClusterRoleBinding/platform-admin-bind': BINDING,
      // The control plane's /etc/kubernetes/manifests, and /opt/k8s-upgrade where the apiserver reads its PSA configuration.
      'Pod/admin': HOST_ROOT,
    },
  },
  {
    file: 'pss-misconfiguration/02-flag-job.yaml',
    expect: {
      'ServiceAccount/cp-checker': SENSITIVE,
      'ClusterRole/cp-checker': ROLE,
      'ClusterRole/cp-checker-list': ROLE,
      'RoleBinding/cp-checker-bind': BINDING,
      'ClusterRoleBinding/cp-checker-list-bind': BINDING,
      // A person's Jobs in kube-system, kubectl apply --server-side's too (was medium: its create is a PATCH answered 201).
      'Job/namespace-checker': KUBE_SYSTEM_JOB,
      'Job/psa-config-checker': KUBE_SYSTEM_JOB,
      'Job/pod-checker': KUBE_SYSTEM_JOB,
    },
  },
  {
    file: 'coastline-cluster-attack/05-fluentd-daemonset.yaml',
    expect: {
      'ServiceAccount/coastline-fluentd': SENSITIVE,
      // serviceaccounts/token create on every namespace: the grant step 5 mints a controller's token with.
      'ClusterRole/coastline-fluentd': ROLE,
      'ClusterRoleBinding/coastline-fluentd': BINDING,
      // Its /var/log hostPath is host-log-mount's (medium) too.
      'DaemonSet/coastline-fluentd': ['high', 'rule:kube-system-workload', ['host-log-mount', 'kube-system-workload', 'kube-system-pod']],
    },
  },
  {
    file: 'coastline-cluster-attack/07-scenario.yaml',
    expect: {
      'Namespace/coastline': INFO,
      // The node's root filesystem at /host/ (what step 3's ephemeral container reaches through the shared process namespace).
      'Deployment/data-burrow-prod': HOST_ROOT,
      'Deployment/data-burrow-dev': HOST_ROOT,
      'Namespace/dmz': INFO,
      'ServiceAccount/sre': SENSITIVE,
      'Role/coastline-auth-access': ROLE,
      'RoleBinding/coastline-auth-rb': BINDING,
      'ClusterRole/cluster-ns-read': ROLE,
      'ClusterRoleBinding/cluster-ns-read-crb': BINDING,
      'Pod/jumpbox-terminal': MEDIUM_WORKLOAD,
    },
  },
];

const INSTALLED: Installed[] = INSTALLS.flatMap(({ file }) =>
  objects(file).map((object) => {
    const meta = object.metadata as Json;
    const namespace = (meta.namespace as string | undefined) ?? 'default';
    return { file, key: `${object.kind}/${meta.name as string}`, events: kubectlCreates(event, object, namespace) };
  }),
);

// The walkthroughs (November 2023, by their dates) do not print kubectl's version; the kubectl of
// their time, 1.28, sends exec and attach as SPDY POSTs (verb create; WebSockets came in 1.30).
const KUBECTL = 'kubectl/v1.28.4 (linux/amd64) kubernetes/bae2c62';
const EXEC_UA = KUBECTL;

/** `kubectl auth can-i --list -n <ns>`: a SelfSubjectRulesReview, cluster-scoped, answered 201. */
function canIList(user: Json, ip: string, namespace: string, agent = KUBECTL): Json {
  return request(
    user,
    agent,
    ip,
    'create',
    '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews',
    { resource: 'selfsubjectrulesreviews', apiGroup: 'authorization.k8s.io' },
    201,
    {
      requestObject: { kind: 'SelfSubjectRulesReview', apiVersion: 'authorization.k8s.io/v1', spec: { namespace } },
    },
  );
}

/** `kubectl get <resource> [name] -n <ns>`: a list (limit=500, as kubectl pages) or a get. */
function get(user: Json, ip: string, resource: string, namespace: string | null, name?: string, group = ''): Json {
  const root = group === '' ? '/api/v1' : `/apis/${group}/v1`;
  const ns = namespace === null ? '' : `/namespaces/${namespace}`;
  return request(
    user,
    KUBECTL,
    ip,
    name === undefined ? 'list' : 'get',
    `${root}${ns}/${resource}${name === undefined ? '?limit=500' : `/${name}`}`,
    {
      resource,
      ...(namespace === null ? {} : { namespace }),
      ...(name === undefined ? {} : { name }),
      ...(group === '' ? {} : { apiGroup: group, apiVersion: 'v1' }),
    },
    200,
  );
}

/** `kubectl exec -it` or `kubectl attach -it` to a container: the pod's subresource, a create answered 101. */
function podStream(
  user: Json,
  ip: string,
  sub: 'exec' | 'attach',
  namespace: string,
  pod: string,
  container: string,
  command?: string,
): Json {
  const q =
    sub === 'exec'
      ? `command=${encodeURIComponent(command ?? '')}&container=${container}&stdin=true&stdout=true&tty=true`
      : `container=${container}&stdin=true&stdout=true&tty=true`;
  return request(
    user,
    EXEC_UA,
    ip,
    'create',
    `/api/v1/namespaces/${namespace}/pods/${pod}/${sub}?${q}`,
    { resource: 'pods', namespace, name: pod, subresource: sub },
    101,
  );
}

/** `kubectl apply -f` of a new object: the create kubectl's client-side apply sends. */
function applyCreate(user: Json, ip: string, object: Json): Json {
  const meta = object.metadata as Json;
  const { base, ref } = where(object, meta.namespace as string);
  const applied = defaulted(object);
  (applied.metadata as Json).annotations = { 'kubectl.kubernetes.io/last-applied-configuration': `${JSON.stringify(object)}\n` };
  return request(user, KUBECTL, ip, 'create', `${base}?fieldManager=kubectl-client-side-apply&fieldValidation=Strict`, ref, 201, {
    requestObject: applied,
    responseObject: applied,
  });
}

/** `kubectl apply -f` of an object that exists: client-side apply's strategic merge patch, the file's fields (spec, or a role's rules) and annotation. */
function applyPatch(user: Json, ip: string, object: Json): Json {
  const { apiVersion: _v, kind: _k, metadata: meta, ...body } = object as Json & { metadata: Json };
  const { base, ref } = where(object, meta.namespace as string);
  const last = `${JSON.stringify(object)}\n`;
  const result = defaulted(object);
  (result.metadata as Json).annotations = { 'kubectl.kubernetes.io/last-applied-configuration': last };
  return request(
    user,
    KUBECTL,
    ip,
    'patch',
    `${base}/${meta.name as string}?fieldManager=kubectl-client-side-apply&fieldValidation=Strict`,
    ref,
    200,
    {
      requestObject: { metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': last } }, ...body },
      responseObject: result,
    },
  );
}

// Seven Seas (seven-seas/walkthrough.md). Each step's kubectl runs in a pod with that pod's token:
// fancy (arctic, swashbyter), then invader (south-atlantic, invader), whydah-galley (southern,
// terrible-disguise), the attacker's invader Deployment's pod (south-pacific, port-finder).
const FANCY = podIdentity('arctic', 'swashbyter', 'fancy', 'node-2');
const FANCY_IP = '192.168.109.65';
const INVADER = podIdentity('south-atlantic', 'invader', 'invader', 'node-2');
const INVADER_IP = '192.168.109.70';
const WHYDAH = podIdentity('southern', 'terrible-disguise', 'whydah-galley', 'node-1');
const WHYDAH_IP = '192.168.11.200';
const PORT_FINDER = podIdentity('south-pacific', 'port-finder', 'invader-55f8b55bd-wsbl4', 'node-2');
const PORT_FINDER_IP = '192.168.109.74';
const INVADER_POD = walkthroughManifest('seven-seas', 342);
const NETPOL = walkthroughManifest('seven-seas', 613);
const DEPLOY_1 = walkthroughManifest('seven-seas', 787);
const DEPLOY_2 = walkthroughManifest('seven-seas', 834);

const DISCOVERY: Outcome = ['medium', 'rule:workload-permission-discovery', ['workload-permission-discovery']];
// Each read with kubectl and a pod's token: workload-secret-read-by-http-tool fires beside it.
const CROSS_NS_SECRETS: Outcome = [
  'medium',
  'rule:workload-cross-namespace-secret-read',
  ['workload-cross-namespace-secret-read', 'workload-secret-read-by-http-tool'],
];
// Discovery that routine clients make too: `get namespaces`, lists of pods, Services,
// NetworkPolicies and ConfigMaps, a pod's logs (controllers, dashboards, CI jobs and people send
// them all day: docs/detection-rules.md, "Left below medium on purpose") are info; reads of service
// accounts are row 8's low. A service account's own namespace's Secrets read with kubectl were low
// too (what a CI job's kubectl does) until TryHackMe's Advent of Cyber 2024 day 22 log showed the
// same read as the attack's last step: workload-secret-read-by-http-tool, medium, no alert.
// What gives Seven Seas away is around them: the exec and the workloads each pod writes.
const RECON = INFO;
const SENSITIVE_READ: Outcome = ['low', 'sensitive-read'];
const OWN_NS_SECRETS: Outcome = ['medium', 'rule:workload-secret-read-by-http-tool', ['workload-secret-read-by-http-tool']];

const SEVEN_SEAS: ScenarioStep[] = [
  { scenario: 'seven-seas 1', step: 'fancy: kubectl auth can-i --list', event: canIList(FANCY, FANCY_IP, 'default'), outcome: DISCOVERY },
  { scenario: 'seven-seas 1', step: 'fancy: kubectl get namespaces', event: get(FANCY, FANCY_IP, 'namespaces', null), outcome: RECON },
  {
    scenario: 'seven-seas 2',
    step: 'fancy: kubectl get secrets -n north-atlantic',
    event: get(FANCY, FANCY_IP, 'secrets', 'north-atlantic'),
    outcome: CROSS_NS_SECRETS,
  },
  {
    scenario: 'seven-seas 2',
    step: 'fancy: kubectl get secrets treasure-map-2 -n north-atlantic',
    event: get(FANCY, FANCY_IP, 'secrets', 'north-atlantic', 'treasure-map-2'),
    outcome: CROSS_NS_SECRETS,
  },
  {
    scenario: 'seven-seas 3',
    step: 'fancy: kubectl get serviceaccounts -n south-atlantic',
    event: get(FANCY, FANCY_IP, 'serviceaccounts', 'south-atlantic'),
    outcome: SENSITIVE_READ,
  },
  {
    scenario: 'seven-seas 3',
    step: 'fancy: kubectl apply -f pod.yaml (invader, south-atlantic, service account invader)',
    event: applyCreate(FANCY, FANCY_IP, INVADER_POD),
    outcome: MEDIUM_WORKLOAD,
  },
  {
    scenario: 'seven-seas 3',
    step: 'fancy: kubectl exec -c blockade-ship -it invader -n south-atlantic -- /bin/sh',
    event: podStream(FANCY, FANCY_IP, 'exec', 'south-atlantic', 'invader', 'blockade-ship', '/bin/sh'),
    outcome: ['high', 'pod-interactive-access'],
  },
  {
    scenario: 'seven-seas 3',
    step: 'fancy: kubectl exec -c tools -it invader -n south-atlantic -- /bin/bash',
    event: podStream(FANCY, FANCY_IP, 'exec', 'south-atlantic', 'invader', 'tools', '/bin/bash'),
    outcome: ['high', 'pod-interactive-access'],
  },
  {
    scenario: 'seven-seas 3',
    step: 'invader: kubectl auth can-i --list -n southern',
    event: canIList(INVADER, INVADER_IP, 'southern'),
    outcome: DISCOVERY,
  },
  {
    scenario: 'seven-seas 4',
    step: 'invader: kubectl exec -it whydah-galley -n southern -- /bin/bash',
    event: podStream(INVADER, INVADER_IP, 'exec', 'southern', 'whydah-galley', 'whydah', '/bin/bash'),
    outcome: ['high', 'pod-interactive-access'],
  },
  {
    scenario: 'seven-seas 5',
    step: 'whydah-galley: kubectl get pods -n indian',
    event: get(WHYDAH, WHYDAH_IP, 'pods', 'indian'),
    outcome: RECON,
  },
  {
    scenario: 'seven-seas 5',
    step: 'whydah-galley: kubectl get services -n indian',
    event: get(WHYDAH, WHYDAH_IP, 'services', 'indian'),
    outcome: RECON,
  },
  {
    scenario: 'seven-seas 5',
    step: 'whydah-galley: kubectl get networkpolicies -n indian',
    event: get(WHYDAH, WHYDAH_IP, 'networkpolicies', 'indian', undefined, 'networking.k8s.io'),
    outcome: RECON,
  },
  {
    scenario: 'seven-seas 5',
    step: 'whydah-galley: kubectl apply -f np.yaml (blockade opened to every source)',
    event: applyPatch(WHYDAH, WHYDAH_IP, NETPOL),
    // Was info: the patch lifts the isolation that deleting the policy would (network-policy-deleted).
    outcome: ['medium', 'rule:network-policy-allow-all', ['network-policy-allow-all']],
  },
  {
    scenario: 'seven-seas 6',
    step: 'whydah-galley: kubectl get configmaps options -n indian',
    event: get(WHYDAH, WHYDAH_IP, 'configmaps', 'indian', 'options'),
    outcome: RECON,
  },
  {
    scenario: 'seven-seas 6',
    step: 'whydah-galley: kubectl logs adventure-galley -n indian',
    event: request(
      WHYDAH,
      KUBECTL,
      WHYDAH_IP,
      'get',
      '/api/v1/namespaces/indian/pods/adventure-galley/log',
      { resource: 'pods', namespace: 'indian', name: 'adventure-galley', subresource: 'log' },
      200,
    ),
    outcome: RECON,
  },
  {
    scenario: 'seven-seas 7',
    step: 'whydah-galley: kubectl apply -f deploy.yaml (south-pacific, service account port-finder, ttl.sh image)',
    event: applyCreate(WHYDAH, WHYDAH_IP, DEPLOY_1),
    outcome: MEDIUM_WORKLOAD,
  },
  {
    scenario: 'seven-seas 7',
    step: 'whydah-galley: kubectl apply -f deploy.yaml again (restricted securityContext)',
    event: applyPatch(WHYDAH, WHYDAH_IP, DEPLOY_2),
    outcome: MEDIUM_WORKLOAD,
  },
  {
    scenario: 'seven-seas 8',
    step: 'whydah-galley: kubectl exec -it invader-55f8b55bd-wsbl4 -n south-pacific -- /bin/bash',
    event: podStream(WHYDAH, WHYDAH_IP, 'exec', 'south-pacific', 'invader-55f8b55bd-wsbl4', 'invader', '/bin/bash'),
    outcome: ['high', 'pod-interactive-access'],
  },
  {
    scenario: 'seven-seas 8',
    step: 'port-finder: kubectl get secrets -n south-pacific',
    event: get(PORT_FINDER, PORT_FINDER_IP, 'secrets', 'south-pacific'),
    outcome: OWN_NS_SECRETS,
  },
  {
    scenario: 'seven-seas 8',
    step: 'port-finder: kubectl get secrets treasure-map-6 -n south-pacific',
    event: get(PORT_FINDER, PORT_FINDER_IP, 'secrets', 'south-pacific', 'treasure-map-6'),
    outcome: OWN_NS_SECRETS,
  },
  {
    scenario: 'seven-seas 8',
    step: 'port-finder: kubectl get services -n north-pacific',
    event: get(PORT_FINDER, PORT_FINDER_IP, 'services', 'north-pacific'),
    outcome: RECON,
  },
];

// Commandeer Container (commandeer-container/walkthrough.md): kubectl in dark-tide (sea,
// scurvy-dog), then in misty-gally (smugglers-cove, cartographer) once attached to it.
const DARK_TIDE = podIdentity('sea', 'scurvy-dog', 'dark-tide', 'node-1');
const DARK_TIDE_IP = '192.168.11.190';
const MISTY = podIdentity('smugglers-cove', 'cartographer', 'misty-gally', 'node-1');
const MISTY_IP = '192.168.11.193';
const COMMANDEER: ScenarioStep[] = [
  {
    scenario: 'commandeer 1',
    step: 'dark-tide: kubectl get namespaces',
    event: get(DARK_TIDE, DARK_TIDE_IP, 'namespaces', null),
    outcome: RECON,
  },
  {
    scenario: 'commandeer 1',
    step: 'dark-tide: kubectl auth can-i --list -n smugglers-cove',
    event: canIList(DARK_TIDE, DARK_TIDE_IP, 'smugglers-cove'),
    outcome: DISCOVERY,
  },
  {
    scenario: 'commandeer 1',
    step: 'dark-tide: kubectl get pods -n smugglers-cove -oyaml',
    event: get(DARK_TIDE, DARK_TIDE_IP, 'pods', 'smugglers-cove'),
    outcome: RECON,
  },
  {
    scenario: 'commandeer 1',
    step: 'dark-tide: kubectl attach -it misty-gally -c hold -n smugglers-cove',
    event: podStream(DARK_TIDE, DARK_TIDE_IP, 'attach', 'smugglers-cove', 'misty-gally', 'hold'),
    outcome: ['high', 'pod-interactive-access'],
  },
  {
    scenario: 'commandeer 2',
    step: 'misty-gally: kubectl auth can-i --list -n treasure-island',
    event: canIList(MISTY, MISTY_IP, 'treasure-island'),
    outcome: DISCOVERY,
  },
  {
    scenario: 'commandeer 2',
    step: 'misty-gally: kubectl get services -n treasure-island',
    event: get(MISTY, MISTY_IP, 'services', 'treasure-island'),
    outcome: RECON,
  },
  {
    scenario: 'commandeer 3',
    step: 'misty-gally: kubectl get secrets -n treasure-island',
    event: get(MISTY, MISTY_IP, 'secrets', 'treasure-island'),
    outcome: CROSS_NS_SECRETS,
  },
  {
    scenario: 'commandeer 3',
    step: 'misty-gally: kubectl get secrets map -n treasure-island -ojson',
    event: get(MISTY, MISTY_IP, 'secrets', 'treasure-island', 'map'),
    outcome: CROSS_NS_SECRETS,
  },
];

/**
 * `kubectl label namespace <ns> <key>=<value> --overwrite` (or `<key>-`, `value` null): kubectl
 * label's JSON merge patch of the labels it changes (fieldManager kubectl-label), answered with
 * the namespace as stored.
 */
function labelNamespace(user: Json, ip: string, ua: string, namespace: string, labels: Json, key: string, value: string | null): Json {
  const after: Json = { ...labels, [key]: value };
  if (value === null) delete after[key];
  return request(
    user,
    ua,
    ip,
    'patch',
    `/api/v1/namespaces/${namespace}?fieldManager=kubectl-label`,
    { resource: 'namespaces', name: namespace },
    200,
    {
      requestObject: { metadata: { labels: { [key]: value } } },
      responseObject: {
        kind: 'Namespace',
        apiVersion: 'v1',
        metadata: { name: namespace, labels: { 'kubernetes.io/metadata.name': namespace, ...after } },
        spec: { finalizers: ['kubernetes'] },
        status: { phase: 'Active' },
      },
    },
  );
}

/** `kubectl delete pods <pod> -n <ns>`: kubectl's DeleteOptions (background propagation). */
function deletePod(user: Json, ip: string, namespace: string, pod: string): Json {
  return request(
    user,
    KUBECTL,
    ip,
    'delete',
    `/api/v1/namespaces/${namespace}/pods/${pod}`,
    { resource: 'pods', namespace, name: pod },
    200,
    {
      requestObject: { kind: 'DeleteOptions', apiVersion: 'meta.k8s.io/__internal', propagationPolicy: 'Background' },
    },
  );
}

// PSS Misconfiguration (pss-misconfiguration/walkthrough.md): the player is the platform team's
// admin pod (platform, platform-admin), whose ClusterRole may get, list, patch and update the
// dev-app-factory namespace itself; the scenario installed that namespace enforcing `privileged`.
const ADMIN = podIdentity('platform', 'platform-admin', 'admin', 'master-1');
const ADMIN_IP = '192.168.133.200';
const DEV_NS = 'dev-app-factory';
const DEV_LABELS = { 'pod-security.kubernetes.io/enforce': 'privileged', 'pod-security.kubernetes.io/warn': 'restricted' };
const ENFORCE = 'pod-security.kubernetes.io/enforce';
// PSS Misconfiguration is played as the defender: its `remedy` steps put a defence back.
const PSS: ScenarioStep[] = [
  { scenario: 'pss 1', step: 'admin: kubectl auth can-i --list', event: canIList(ADMIN, ADMIN_IP, 'platform'), outcome: DISCOVERY },
  {
    scenario: 'pss 1',
    step: 'admin: kubectl auth can-i --list -n dev-app-factory',
    event: canIList(ADMIN, ADMIN_IP, DEV_NS),
    outcome: DISCOVERY,
  },
  { scenario: 'pss 1', step: 'admin: kubectl get pods -n dev-app-factory', event: get(ADMIN, ADMIN_IP, 'pods', DEV_NS), outcome: RECON },
  {
    scenario: 'pss 1',
    step: 'admin: kubectl get deployments -n dev-app-factory',
    event: get(ADMIN, ADMIN_IP, 'deployments', DEV_NS, undefined, 'apps'),
    outcome: RECON,
  },
  {
    scenario: 'pss 1',
    step: 'admin: kubectl get daemonsets -n dev-app-factory',
    event: get(ADMIN, ADMIN_IP, 'daemonsets', DEV_NS, undefined, 'apps'),
    outcome: RECON,
  },
  {
    scenario: 'pss 1',
    step: 'admin: kubectl get statefulsets -n dev-app-factory',
    event: get(ADMIN, ADMIN_IP, 'statefulsets', DEV_NS, undefined, 'apps'),
    outcome: RECON,
  },
  {
    scenario: 'pss 1',
    step: 'admin: kubectl get secrets -n dev-app-factory',
    event: get(ADMIN, ADMIN_IP, 'secrets', DEV_NS),
    outcome: CROSS_NS_SECRETS,
  },
  // Another namespace's pod deleted with a pod's token: the table's row 6, as any workload write.
  {
    scenario: 'pss 1',
    step: 'admin: kubectl delete pods nginx-759f854c9c-zcrxb -n dev-app-factory',
    event: deletePod(ADMIN, ADMIN_IP, DEV_NS, 'nginx-759f854c9c-zcrxb'),
    outcome: MEDIUM_WORKLOAD,
  },
  {
    scenario: 'pss 1',
    step: 'admin: kubectl get namespaces dev-app-factory -oyaml',
    event: get(ADMIN, ADMIN_IP, 'namespaces', null, DEV_NS),
    outcome: RECON,
  },
  {
    scenario: 'pss 2',
    step: 'admin: kubectl label namespace dev-app-factory pod-security.kubernetes.io/enforce=restricted --overwrite',
    event: labelNamespace(ADMIN, ADMIN_IP, KUBECTL, DEV_NS, DEV_LABELS, ENFORCE, 'restricted'),
    // The remedy: a level raised refuses more than before.
    outcome: INFO,
    remedy: true,
  },
  {
    scenario: 'pss 2',
    step: 'admin: kubectl get secrets flag-xyz -n dev-app-factory -ojson',
    event: get(ADMIN, ADMIN_IP, 'secrets', DEV_NS, 'flag-xyz'),
    outcome: CROSS_NS_SECRETS,
  },
  {
    scenario: 'pss 2',
    step: 'admin: kubectl delete pods nginx-759f854c9c-pjgxl -n dev-app-factory',
    event: deletePod(ADMIN, ADMIN_IP, DEV_NS, 'nginx-759f854c9c-pjgxl'),
    outcome: MEDIUM_WORKLOAD,
  },
  // The misconfiguration's other way round, with the same grant: the admin pod's token (or the
  // developer credential the challenge says was stolen) lowering the level back, or removing it.
  {
    scenario: 'pss, reversed',
    step: 'admin: kubectl label namespace dev-app-factory pod-security.kubernetes.io/enforce=privileged --overwrite',
    event: labelNamespace(ADMIN, ADMIN_IP, KUBECTL, DEV_NS, { ...DEV_LABELS, [ENFORCE]: 'restricted' }, ENFORCE, 'privileged'),
    outcome: PSA_LOWERED,
  },
  {
    scenario: 'pss, reversed',
    step: 'admin: kubectl label namespace dev-app-factory pod-security.kubernetes.io/enforce-',
    event: labelNamespace(ADMIN, ADMIN_IP, KUBECTL, DEV_NS, { ...DEV_LABELS, [ENFORCE]: 'restricted' }, ENFORCE, null),
    outcome: PSA_LOWERED,
  },
  {
    scenario: 'pss, reversed',
    step: 'a person: kubectl label namespace dev-app-factory pod-security.kubernetes.io/enforce=privileged --overwrite',
    event: labelNamespace(OPERATOR, '10.0.1.10', KUBECTL, DEV_NS, { ...DEV_LABELS, [ENFORCE]: 'restricted' }, ENFORCE, 'privileged'),
    outcome: PSA_LOWERED,
  },
];

// Coastline Cluster Attack (coastline-cluster-attack README in the simulator's walkthroughs, not
// kept: it prints the service-account tokens it used). The jumpbox (dmz, sre); then, from the
// ephemeral container in data-burrow-dev, the kubectl found on the node with a token read from the
// kubelet's pod directories (coastline-fluentd's, the DaemonSet's pod on that node), then the token
// it mints for kube-system's clusterrole-aggregation-controller (bound to nothing: no pod in its
// extra). The node's kubectl is the cluster's version (`get nodes` there prints v1.24.9).
const SRE = podIdentity('dmz', 'sre', 'jumpbox-terminal', 'node-1');
const SRE_IP = '192.168.11.196';
const BURROW_IP = '192.168.109.72';
const BURROW = 'data-burrow-dev-65f7fb67cd-4dj9z';
const NODE_KUBECTL = 'kubectl/v1.24.9 (linux/amd64) kubernetes/9710807';
const FLUENTD = podIdentity('kube-system', 'coastline-fluentd', 'coastline-fluentd-x8k2p', 'node-2');
const AGGREGATOR: Json = {
  username: 'system:serviceaccount:kube-system:clusterrole-aggregation-controller',
  uid: 'e1f975dc-f01d-490c-b294-e5c59958cfd6',
  groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
  extra: { 'authentication.kubernetes.io/credential-id': ['JTI=8c1e2f3a-4b5c-4d6e-9f70-8192a3b4c5d6'] },
};
// The walkthrough's tmp/cr.yaml (its step 5), as published.
const AGGREGATOR_ROLE: Json = {
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'ClusterRole',
  metadata: { name: 'system:controller:clusterrole-aggregation-controller' },
  rules: [
    { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
    { nonResourceURLs: ['*'], verbs: ['*'] },
  ],
};
// Its step 5's `kubectl run pwn --overrides`: the Pod kubectl run sends, the override merged in.
const PWN: Json = {
  kind: 'Pod',
  apiVersion: 'v1',
  metadata: { name: 'pwn', namespace: 'kube-system', labels: { run: 'pwn' } },
  spec: {
    hostPID: true,
    nodeName: 'master-1',
    containers: [
      {
        name: '1',
        image: 'ttl.sh/image-with-nsenter-645s62:12h',
        command: ['nsenter', '--mount=/proc/1/ns/mnt', '--', '/bin/bash'],
        stdin: true,
        tty: true,
        imagePullPolicy: 'IfNotPresent',
        securityContext: { privileged: true },
        resources: {},
      },
    ],
    restartPolicy: 'Never',
    dnsPolicy: 'ClusterFirst',
  },
  status: {},
};
function nodeRequest(user: Json, verb: string, uri: string, ref: Json | undefined, code: number, more: Json = {}): Json {
  return request(user, NODE_KUBECTL, BURROW_IP, verb, uri, ref, code, more);
}
const COASTLINE: ScenarioStep[] = [
  { scenario: 'coastline 2', step: 'jumpbox: kubectl auth can-i --list', event: canIList(SRE, SRE_IP, 'dmz'), outcome: DISCOVERY },
  { scenario: 'coastline 2', step: 'jumpbox: kubectl get namespaces', event: get(SRE, SRE_IP, 'namespaces', null), outcome: RECON },
  {
    scenario: 'coastline 2',
    step: 'jumpbox: kubectl auth can-i --list -n coastline',
    event: canIList(SRE, SRE_IP, 'coastline'),
    outcome: DISCOVERY,
  },
  { scenario: 'coastline 2', step: 'jumpbox: kubectl get pods -n coastline', event: get(SRE, SRE_IP, 'pods', 'coastline'), outcome: RECON },
  {
    scenario: 'coastline 2',
    step: `jumpbox: kubectl debug -it --attach=false -c debugger --image=ubuntu:latest ${BURROW} -n coastline`,
    // kubectl debug's strategic merge patch of the pod's ephemeralcontainers subresource.
    event: request(
      SRE,
      KUBECTL,
      SRE_IP,
      'patch',
      `/api/v1/namespaces/coastline/pods/${BURROW}/ephemeralcontainers`,
      { resource: 'pods', namespace: 'coastline', name: BURROW, subresource: 'ephemeralcontainers' },
      200,
      {
        requestObject: {
          spec: {
            ephemeralContainers: [
              { name: 'debugger', image: 'ubuntu:latest', resources: {}, stdin: true, terminationMessagePolicy: 'File', tty: true },
            ],
          },
        },
      },
    ),
    outcome: ['high', 'rule:ephemeral-container', ['ephemeral-container']],
  },
  {
    scenario: 'coastline 2',
    step: `jumpbox: kubectl attach -it -c debugger ${BURROW} -n coastline`,
    event: podStream(SRE, SRE_IP, 'attach', 'coastline', BURROW, 'debugger'),
    outcome: ['high', 'pod-interactive-access'],
  },
  {
    scenario: 'coastline 4',
    step: "node's kubectl with coastline-fluentd's token: auth can-i --list -n kube-system",
    event: canIList(FLUENTD, BURROW_IP, 'kube-system', NODE_KUBECTL),
    outcome: DISCOVERY,
  },
  {
    scenario: 'coastline 5',
    step: "node's kubectl with coastline-fluentd's token: create token clusterrole-aggregation-controller -n kube-system",
    event: nodeRequest(
      FLUENTD,
      'create',
      '/api/v1/namespaces/kube-system/serviceaccounts/clusterrole-aggregation-controller/token',
      { resource: 'serviceaccounts', namespace: 'kube-system', name: 'clusterrole-aggregation-controller', subresource: 'token' },
      201,
      {
        requestObject: {
          kind: 'TokenRequest',
          apiVersion: 'authentication.k8s.io/v1',
          metadata: { creationTimestamp: null },
          spec: { audiences: null, expirationSeconds: null, boundObjectRef: null },
          status: { token: '', expirationTimestamp: null },
        },
      },
    ),
    outcome: ['high', 'sensitive-resource-change', ['privileged-service-account-token']],
  },
  {
    scenario: 'coastline 5',
    step: "node's kubectl with the minted token: auth can-i --list -n kube-system",
    event: canIList(AGGREGATOR, BURROW_IP, 'kube-system', NODE_KUBECTL),
    outcome: DISCOVERY,
  },
  {
    scenario: 'coastline 5',
    step: "node's kubectl with the minted token: apply -f tmp/cr.yaml (its own ClusterRole, every verb on everything)",
    event: (() => {
      const e = applyPatch(AGGREGATOR, BURROW_IP, AGGREGATOR_ROLE);
      return { ...e, userAgent: NODE_KUBECTL };
    })(),
    // High by the table's row; rbac-escalation-verbs-or-wildcards left the aggregation controller's
    // name out and named nothing: now only its own writes (of roles with an aggregationRule) are.
    outcome: ['high', 'sensitive-resource-change', ['rbac-escalation-verbs-or-wildcards']],
  },
  {
    scenario: 'coastline 5',
    step: "node's kubectl with the minted token: get nodes",
    event: nodeRequest(AGGREGATOR, 'list', '/api/v1/nodes?limit=500', { resource: 'nodes' }, 200),
    // Every node agent and dashboard lists nodes.
    outcome: RECON,
  },
  {
    scenario: 'coastline 5',
    step: 'kubectl run pwn --overrides (privileged, hostPID, nodeName master-1, kube-system)',
    event: nodeRequest(
      AGGREGATOR,
      'create',
      '/api/v1/namespaces/kube-system/pods?fieldManager=kubectl-run',
      { resource: 'pods', namespace: 'kube-system', name: 'pwn' },
      201,
      {
        requestObject: PWN,
        responseObject: PWN,
      },
    ),
    outcome: ['high', 'rule:privileged-container', ['privileged-container', 'host-pid-or-ipc', 'kube-system-pod']],
  },
  {
    scenario: 'coastline 5',
    step: 'kubectl run pwn -ti: the attach',
    event: nodeRequest(
      AGGREGATOR,
      'create',
      '/api/v1/namespaces/kube-system/pods/pwn/attach?container=1&stdin=true&stdout=true&tty=true',
      { resource: 'pods', namespace: 'kube-system', name: 'pwn', subresource: 'attach' },
      101,
    ),
    outcome: ['high', 'pod-interactive-access'],
  },
];

const STEPS = [...SEVEN_SEAS, ...COMMANDEER, ...PSS, ...COASTLINE];

describe('ControlPlane simulator scenarios through serve', () => {
  const served = servedScenarios('aisoc-simulator-', SECRET, 'simulator', INSTALLS, INSTALLED, STEPS);

  it('every write, exec, attach and cross-namespace Secret read of the attacks comes out medium or high', () => {
    const active = STEPS.filter(
      (s) =>
        s.remedy !== true &&
        (s.event.verb === 'create' ||
          s.event.verb === 'patch' ||
          s.event.verb === 'delete' ||
          ((s.event.objectRef as Json | undefined)?.resource === 'secrets' &&
            !String((s.event.user as Json).username).startsWith(`system:serviceaccount:${(s.event.objectRef as Json).namespace}:`))),
    );
    expect(active).toHaveLength(36);
    for (const s of active)
      expect(['medium', 'high'], s.step).toContain(served.records.find((r) => r.audit_id === s.event.auditID)?.severity);
  });
});
