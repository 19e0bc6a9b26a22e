// Splunk's Kubernetes detections (splunk/security_content detections/cloud/, listed with the data
// each reads in test/fixtures/public-rules/splunk-kubernetes-detections.txt): for each one that
// reads Kubernetes audit events, the requests its search and description say it catches, written
// as kube-apiserver audits them (the objects as the Kubernetes API reference gives them), POSTed to
// a running `serve`: what each comes out as in `events` and `events --alerts`, each high one's
// alert a valid OCSF 2004 finding naming its rule or table row. Splunk's datasets for these
// (splunk/attack_data) are Git LFS objects, so the events are written from the searches.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from '../helpers/fixtures.js';
import { eventMaker } from '../helpers/k8s-events.js';
import { type Outcome, servedOnce } from '../helpers/through-serve.js';

const SECRET = 'splunk-security-content-secret-0123456789abcdef';

const detections = readFileSync(join(FIXTURES, 'public-rules', 'splunk-kubernetes-detections.txt'), 'utf8')
  .split('\n')
  .filter((l) => l !== '' && !l.startsWith('#'))
  .map((l) => l.split('\t') as [file: string, name: string, data: string]);
const auditDetections = detections.filter(([, , data]) => data === 'audit').map(([, name]) => name);

// Who sends what: a person on EKS with kubectl, a pod's service account, the anonymous user.
const PERSON = { username: 'arn:aws:iam::123456789012:role/dev', groups: ['system:authenticated'] };
const SA = {
  username: 'system:serviceaccount:web:frontend',
  groups: ['system:serviceaccounts', 'system:serviceaccounts:web', 'system:authenticated'],
};
const ANONYMOUS = { username: 'system:anonymous', groups: ['system:unauthenticated'] };
const KUBECTL = 'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350';
const event = eventMaker('5b1c0000', {
  sourceIPs: ['10.0.3.7'],
  userAgent: KUBECTL,
  user: PERSON,
  requestReceivedTimestamp: '2026-12-07T08:00:00.000000Z',
  stageTimestamp: '2026-12-07T08:00:00.020000Z',
  responseStatus: { metadata: {}, code: 200 },
});

/** A refusal as the apiserver answers and audits it (RBAC's Forbidden Status, the authorizer's annotations). */
function forbidden(message: string, kind: string): Record<string, unknown> {
  return {
    annotations: { 'authorization.k8s.io/decision': 'forbid', 'authorization.k8s.io/reason': '' },
    responseStatus: { metadata: {}, status: 'Failure', message, reason: 'Forbidden', details: { kind }, code: 403 },
  };
}

/** A Secret read at Metadata level, as EKS's audit policy logs Secrets (no body). */
function secretGet(namespace: string, name: string, fields: Record<string, unknown>): Record<string, unknown> {
  return event({
    level: 'Metadata',
    verb: 'get',
    requestURI: `/api/v1/namespaces/${namespace}/secrets/${name}`,
    objectRef: { resource: 'secrets', namespace, name, apiVersion: 'v1' },
    ...fields,
  });
}

type Json = Record<string, unknown>;

/** `kubectl apply -f` of a new object: a create whose body carries its last-applied-configuration annotation. */
function applied(object: Json): Json {
  const meta = object.metadata as Json;
  return {
    ...object,
    metadata: { ...meta, annotations: { 'kubectl.kubernetes.io/last-applied-configuration': `${JSON.stringify(object)}\n` } },
  };
}

/** The same pod as `kubectl replace` sends it back: the stored object, scheduled, with its uid and resourceVersion. */
function stored(object: Json): Json {
  const a = applied(object);
  return {
    ...a,
    metadata: { ...(a.metadata as Json), uid: '0b7c3f0e-1111-4222-8333-444455556666', resourceVersion: '81234' },
    spec: { ...(object.spec as Json), nodeName: 'ip-10-0-3-7.ec2.internal', serviceAccountName: 'default' },
  };
}

const pod = (namespace: string, name: string, image: string, spec: Json = {}, container: Json = {}): Json => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace },
  spec: { ...spec, containers: [{ name, image, ...container }] },
});
const privileged = pod('default', 'priv', 'nginx:1.27', {}, { securityContext: { privileged: true } });
const hostNet = pod('default', 'netshoot', 'nicolaka/netshoot:v0.13', { hostNetwork: true });

function podCreate(object: Json, fields: Json = {}): Json {
  const meta = object.metadata as { name: string; namespace: string };
  return event({
    verb: 'create',
    requestURI: `/api/v1/namespaces/${meta.namespace}/pods?fieldManager=kubectl-client-side-apply&fieldValidation=Strict`,
    objectRef: { resource: 'pods', namespace: meta.namespace, name: meta.name, apiVersion: 'v1' },
    requestObject: applied(object),
    responseStatus: { metadata: {}, code: 201 },
    ...fields,
  });
}

function podUpdate(object: Json): Json {
  const meta = object.metadata as { name: string; namespace: string };
  return event({
    verb: 'update',
    requestURI: `/api/v1/namespaces/${meta.namespace}/pods/${meta.name}?fieldManager=kubectl-replace`,
    objectRef: { resource: 'pods', namespace: meta.namespace, name: meta.name, apiVersion: 'v1' },
    requestObject: stored(object),
  });
}

interface Case {
  detection: string;
  name: string;
  event: Json;
  outcome: Outcome;
}

const CASES: Case[] = [
  // `"user.username"="system:anonymous" userAgent!="AWS Security Scanner"`: every anonymous request.
  {
    detection: 'Amazon EKS Kubernetes cluster scan detection',
    name: "kube-hunter's anonymous probe of /api, refused (EKS forbids anonymous resource paths)",
    event: event({
      user: ANONYMOUS,
      userAgent: 'python-requests/2.31.0',
      sourceIPs: ['198.51.100.23'],
      verb: 'get',
      requestURI: '/api',
      ...forbidden('forbidden: User "system:anonymous" cannot get path "/api"', ''),
    }),
    outcome: ['medium', 'request-denied-or-failed'],
  },
  {
    // system:public-info-viewer lets everyone read /version: every cluster's default, as Datadog's rule says too.
    detection: 'Amazon EKS Kubernetes cluster scan detection',
    name: 'anonymous /version (system:public-info-viewer)',
    event: event({ user: ANONYMOUS, userAgent: 'Go-http-client/1.1', sourceIPs: ['198.51.100.23'], verb: 'get', requestURI: '/version' }),
    outcome: ['info', 'steady-state'],
  },
  {
    detection: 'Amazon EKS Kubernetes cluster scan detection',
    name: 'anonymous list of namespaces, allowed',
    event: event({
      user: ANONYMOUS,
      userAgent: 'python-requests/2.31.0',
      sourceIPs: ['198.51.100.23'],
      verb: 'list',
      requestURI: '/api/v1/namespaces',
      objectRef: { resource: 'namespaces', apiVersion: 'v1' },
    }),
    outcome: ['high', 'rule:anonymous-request-allowed', ['anonymous-request-allowed']],
  },
  // `verb=list objectRef.resource=pods requestURI="/api/v1/pods"` by system:anonymous.
  {
    detection: 'Amazon EKS Kubernetes Pod scan detection',
    name: 'anonymous list of every pod, refused',
    event: event({
      user: ANONYMOUS,
      userAgent: 'curl/8.5.0',
      sourceIPs: ['198.51.100.23'],
      verb: 'list',
      requestURI: '/api/v1/pods',
      objectRef: { resource: 'pods', apiVersion: 'v1' },
      ...forbidden('pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" at the cluster scope', 'pods'),
    }),
    outcome: ['medium', 'request-denied-or-failed'],
  },
  {
    detection: 'Amazon EKS Kubernetes Pod scan detection',
    name: 'anonymous list of every pod, allowed',
    event: event({
      user: ANONYMOUS,
      userAgent: 'curl/8.5.0',
      sourceIPs: ['198.51.100.23'],
      verb: 'list',
      requestURI: '/api/v1/pods',
      objectRef: { resource: 'pods', apiVersion: 'v1' },
    }),
    outcome: ['high', 'rule:anonymous-request-allowed', ['anonymous-request-allowed']],
  },
  // `responseStatus.code=401` in GKE's kube-audit: a failed authentication, audited at
  // ResponseStarted with an empty user (k8s.io/apiserver pkg/endpoints/filters/authn_audit.go).
  {
    detection: 'GCP Kubernetes cluster pod scan detection',
    name: 'list of pods with a forged token (401)',
    event: event({
      level: 'Metadata',
      stage: 'ResponseStarted',
      user: {},
      userAgent: 'curl/8.5.0',
      sourceIPs: ['203.0.113.80'],
      verb: 'list',
      requestURI: '/api/v1/pods',
      objectRef: { resource: 'pods', apiVersion: 'v1' },
      annotations: {},
      responseStatus: { metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 },
    }),
    outcome: ['medium', 'request-denied-or-failed'],
  },
  // The four `objectRef.resource=secrets verb=get | search NOT <allowed list>` anomalies.
  {
    detection: 'Kubernetes Abuse of Secret by Unusual Location',
    name: "a person's get of a Secret from an outside address",
    event: secretGet('web', 'db-credentials', { sourceIPs: ['203.0.113.50'] }),
    outcome: ['medium', 'rule:human-secret-read', ['human-secret-read']],
  },
  {
    detection: 'Kubernetes Abuse of Secret by Unusual Location',
    name: "a pod's token reading a Secret from an outside address",
    event: secretGet('web', 'db-credentials', { user: SA, sourceIPs: ['203.0.113.50'] }),
    // kubectl with the pod's token: both medium, the first in the pack names it.
    outcome: [
      'medium',
      'rule:workload-secret-read-by-http-tool',
      ['workload-secret-read-by-http-tool', 'service-account-from-public-address'],
    ],
  },
  {
    detection: 'Kubernetes Abuse of Secret by Unusual User Agent',
    name: "a pod's token with curl",
    event: secretGet('web', 'db-credentials', { user: SA, userAgent: 'curl/8.5.0', sourceIPs: ['10.0.9.12'] }),
    outcome: ['medium', 'rule:workload-secret-read-by-http-tool', ['workload-secret-read-by-http-tool']],
  },
  {
    // Was low (row 8, a workload reading its own namespace): requests' default user agent is kube-hunter's.
    detection: 'Kubernetes Abuse of Secret by Unusual User Agent',
    name: "a pod's token with Python's requests",
    event: secretGet('web', 'db-credentials', { user: SA, userAgent: 'python-requests/2.31.0', sourceIPs: ['10.0.9.12'] }),
    outcome: ['medium', 'rule:workload-secret-read-by-http-tool', ['workload-secret-read-by-http-tool']],
  },
  {
    // Was low: Go's bare net/http, the user agent CDK and Peirates send.
    detection: 'Kubernetes Abuse of Secret by Unusual User Agent',
    name: "a pod's token with Go's net/http, listing its namespace's Secrets",
    event: event({
      level: 'Metadata',
      user: SA,
      userAgent: 'Go-http-client/1.1',
      sourceIPs: ['10.0.9.12'],
      verb: 'list',
      requestURI: '/api/v1/namespaces/web/secrets',
      objectRef: { resource: 'secrets', namespace: 'web', apiVersion: 'v1' },
    }),
    outcome: ['medium', 'rule:workload-secret-read-by-http-tool', ['workload-secret-read-by-http-tool']],
  },
  {
    // What Splunk's allowed list is for: a workload's own client reading its own Secret.
    detection: 'Kubernetes Abuse of Secret by Unusual User Agent',
    name: 'the Kubernetes Python client reading its own namespace',
    event: secretGet('web', 'db-credentials', { user: SA, userAgent: 'OpenAPI-Generator/31.0.0/python', sourceIPs: ['10.0.9.12'] }),
    outcome: ['low', 'sensitive-read'],
  },
  {
    detection: 'Kubernetes Abuse of Secret by Unusual User Group',
    name: 'a system:masters certificate reading a kube-system Secret',
    event: secretGet('kube-system', 'bootstrap-token-abcdef', {
      user: { username: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] },
    }),
    outcome: ['medium', 'rule:human-secret-read', ['human-secret-read']],
  },
  {
    detection: 'Kubernetes Abuse of Secret by Unusual User Name',
    name: 'an OIDC user reading a Secret',
    event: secretGet('payments', 'stripe-api', {
      user: { username: 'oidc:alice@example.com', groups: ['oidc:developers', 'system:authenticated'] },
    }),
    outcome: ['medium', 'rule:human-secret-read', ['human-secret-read']],
  },
  // `"user.groups{}"="system:unauthenticated" "responseStatus.code"=403 | … where count > 5` per address.
  {
    detection: 'Kubernetes Access Scanning',
    name: 'an unauthenticated list of kube-system Secrets, refused',
    event: event({
      user: ANONYMOUS,
      userAgent: 'Mozilla/5.0 zgrab/0.x',
      sourceIPs: ['198.51.100.77'],
      verb: 'list',
      requestURI: '/api/v1/namespaces/kube-system/secrets',
      objectRef: { resource: 'secrets', namespace: 'kube-system', apiVersion: 'v1' },
      ...forbidden(
        'secrets is forbidden: User "system:anonymous" cannot list resource "secrets" in API group "" in the namespace "kube-system"',
        'secrets',
      ),
    }),
    outcome: ['medium', 'request-denied-or-failed'],
  },
  {
    detection: 'Kubernetes Scanning by Unauthenticated IP Address',
    name: 'an unauthenticated probe of /metrics, refused',
    event: event({
      user: ANONYMOUS,
      userAgent: 'Mozilla/5.0 zgrab/0.x',
      sourceIPs: ['198.51.100.77'],
      verb: 'get',
      requestURI: '/metrics',
      ...forbidden('forbidden: User "system:anonymous" cannot get path "/metrics"', ''),
    }),
    outcome: ['medium', 'request-denied-or-failed'],
  },
  // `user.username="system:anonymous" user.groups{} IN ("system:unauthenticated")`: any of them.
  {
    detection: 'Kubernetes AWS detect suspicious kubectl calls',
    name: "kubectl with no credentials listing kube-system's Secrets, allowed",
    event: event({
      user: ANONYMOUS,
      sourceIPs: ['198.51.100.23'],
      verb: 'list',
      requestURI: '/api/v1/namespaces/kube-system/secrets?limit=500',
      objectRef: { resource: 'secrets', namespace: 'kube-system', apiVersion: 'v1' },
    }),
    outcome: ['high', 'rule:anonymous-request-allowed', ['anonymous-request-allowed']],
  },
  // `objectRef.resource=pods verb=create OR verb=update` whose last-applied-configuration has "privileged":true.
  {
    detection: 'Kubernetes Create or Update Privileged Pod',
    name: 'kubectl apply of a privileged pod',
    event: podCreate(privileged),
    outcome: ['high', 'rule:privileged-container', ['privileged-container']],
  },
  {
    detection: 'Kubernetes Create or Update Privileged Pod',
    name: 'kubectl replace of the privileged pod',
    event: podUpdate(privileged),
    outcome: ['high', 'rule:privileged-container', ['privileged-container']],
  },
  {
    detection: 'Kubernetes Cron Job Creation',
    name: 'a CronJob every five minutes',
    event: event({
      verb: 'create',
      requestURI: '/apis/batch/v1/namespaces/default/cronjobs?fieldManager=kubectl-create',
      objectRef: { resource: 'cronjobs', namespace: 'default', name: 'sync', apiGroup: 'batch', apiVersion: 'v1' },
      requestObject: {
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: { name: 'sync', namespace: 'default' },
        spec: {
          schedule: '*/5 * * * *',
          jobTemplate: {
            spec: {
              template: { spec: { restartPolicy: 'OnFailure', containers: [{ name: 'sync', image: 'busybox:1.36', command: ['date'] }] } },
            },
          },
        },
      },
      responseStatus: { metadata: {}, code: 201 },
    }),
    outcome: ['medium', 'workload-change'],
  },
  {
    detection: 'Kubernetes DaemonSet Deployed',
    name: 'a DaemonSet on every node',
    event: event({
      verb: 'create',
      requestURI: '/apis/apps/v1/namespaces/monitoring/daemonsets?fieldManager=kubectl-create',
      objectRef: { resource: 'daemonsets', namespace: 'monitoring', name: 'agent', apiGroup: 'apps', apiVersion: 'v1' },
      requestObject: {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: 'agent', namespace: 'monitoring' },
        spec: {
          selector: { matchLabels: { app: 'agent' } },
          template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'agent', image: 'fluent/fluent-bit:3.1' }] } },
        },
      },
      responseStatus: { metadata: {}, code: 201 },
    }),
    outcome: ['medium', 'workload-change'],
  },
  {
    detection: 'Kubernetes Node Port Creation',
    name: 'a NodePort Service',
    event: event({
      verb: 'create',
      requestURI: '/api/v1/namespaces/default/services?fieldManager=kubectl-create',
      objectRef: { resource: 'services', namespace: 'default', name: 'web', apiVersion: 'v1' },
      requestObject: {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: 'default' },
        spec: { type: 'NodePort', selector: { app: 'web' }, ports: [{ port: 80, nodePort: 30080 }] },
      },
      responseStatus: { metadata: {}, code: 201 },
    }),
    outcome: ['medium', 'rule:nodeport-service', ['nodeport-service']],
  },
  // `objectRef.namespace IN ("default", "kube-system", "kube-public")`.
  {
    detection: 'Kubernetes Pod Created in Default Namespace',
    name: 'kubectl run in default',
    event: podCreate(pod('default', 'web', 'nginx:1.27')),
    outcome: ['medium', 'workload-change'],
  },
  {
    detection: 'Kubernetes Pod Created in Default Namespace',
    name: 'kubectl run in kube-system',
    event: podCreate(pod('kube-system', 'debug', 'alpine:3.20')),
    outcome: ['high', 'rule:kube-system-workload', ['kube-system-workload', 'kube-system-pod']],
  },
  {
    detection: 'Kubernetes Pod With Host Network Attachment',
    name: 'kubectl apply of a pod on the host network',
    event: podCreate(hostNet),
    outcome: ['medium', 'workload-change', ['host-network']],
  },
  {
    detection: 'Kubernetes Pod With Host Network Attachment',
    name: 'kubectl replace of the pod on the host network',
    event: podUpdate(hostNet),
    outcome: ['medium', 'workload-change', ['host-network']],
  },
  // `requestObject.message="Pulling image*" | search NOT <allowed images>`: the kubelet's Event.
  {
    detection: 'Kubernetes Suspicious Image Pulling',
    name: "the kubelet's Pulling event for kube-hunter's image",
    event: event({
      user: { username: 'system:node:ip-10-0-3-7.ec2.internal', groups: ['system:nodes', 'system:authenticated'] },
      userAgent: 'kubelet/v1.30.2 (linux/amd64) kubernetes/3968350',
      verb: 'create',
      requestURI: '/api/v1/namespaces/default/events',
      objectRef: { resource: 'events', namespace: 'default', name: 'kube-hunter.181f2a3b4c5d6e7f', apiVersion: 'v1' },
      requestObject: {
        kind: 'Event',
        apiVersion: 'v1',
        metadata: { name: 'kube-hunter.181f2a3b4c5d6e7f', namespace: 'default' },
        involvedObject: {
          kind: 'Pod',
          namespace: 'default',
          name: 'kube-hunter',
          apiVersion: 'v1',
          fieldPath: 'spec.containers{kube-hunter}',
        },
        reason: 'Pulling',
        message: 'Pulling image "aquasec/kube-hunter:0.6.8"',
        source: { component: 'kubelet', host: 'ip-10-0-3-7.ec2.internal' },
        type: 'Normal',
        count: 1,
      },
      responseStatus: { metadata: {}, code: 201 },
    }),
    outcome: ['info', 'steady-state'],
  },
  {
    // Splunk reads this one from Event objects, not the audit log; the audit log has the pod's own create.
    detection: 'Kubernetes Scanner Image Pulling',
    name: "kube-hunter's documented in-cluster run (kubectl run --image=aquasec/kube-hunter -- --pod)",
    event: podCreate(pod('default', 'kube-hunter', 'aquasec/kube-hunter:0.6.8', {}, { args: ['--pod'] })),
    outcome: ['medium', 'workload-change'],
  },
  // `verb=create responseStatus.reason=Forbidden`.
  {
    detection: 'Kubernetes Unauthorized Access',
    name: 'a pod create in kube-system, refused',
    event: event({
      verb: 'create',
      requestURI: '/api/v1/namespaces/kube-system/pods',
      objectRef: { resource: 'pods', namespace: 'kube-system', name: 'debug', apiVersion: 'v1' },
      requestObject: pod('kube-system', 'debug', 'alpine:3.20'),
      ...forbidden(
        'pods is forbidden: User "arn:aws:iam::123456789012:role/dev" cannot create resource "pods" in API group "" in the namespace "kube-system"',
        'pods',
      ),
    }),
    outcome: ['medium', 'workload-change'],
  },
  {
    detection: 'Kubernetes Unauthorized Access',
    name: "a pod's token creating a ClusterRoleBinding, refused",
    event: event({
      user: SA,
      userAgent: 'Go-http-client/1.1',
      sourceIPs: ['10.0.9.12'],
      verb: 'create',
      requestURI: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
      objectRef: { resource: 'clusterrolebindings', name: 'pwn', apiGroup: 'rbac.authorization.k8s.io', apiVersion: 'v1' },
      ...forbidden(
        'clusterrolebindings.rbac.authorization.k8s.io is forbidden: User "system:serviceaccount:web:frontend" cannot create resource "clusterrolebindings" in API group "rbac.authorization.k8s.io" at the cluster scope',
        'clusterrolebindings.rbac.authorization.k8s.io',
      ),
    }),
    outcome: ['high', 'rbac-binding-change'],
  },
];

describe("Splunk security_content's Kubernetes detections through serve", () => {
  const served = servedOnce(
    'aisoc-splunk-',
    SECRET,
    'prod',
    CASES.map((c) => c.event),
  );

  it('accepts every event', () => {
    expect(served.status).toBe(200);
    expect(served.answer).toMatchObject({ accepted: CASES.length, rejected: 0 });
  });

  it('has a case for every detection that reads audit events, and none for a name Splunk does not have', () => {
    const names = new Set(detections.map(([, name]) => name));
    expect(CASES.map((c) => c.detection).filter((d) => !names.has(d))).toEqual([]);
    expect(auditDetections.filter((d) => !CASES.some((c) => c.detection === d))).toEqual([]);
  });

  for (const c of CASES) {
    it(`"${c.detection}": ${c.name}`, () => served.check(c.event, c.outcome));
  }
});
