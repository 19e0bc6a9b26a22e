// Audit lines people published from real clusters, through a running `serve`: what a user reads
// back. The lines themselves are not kept (their write-ups carry no licence that allows a copy:
// docs/detection-rules.md, "Published audit lines", lists each source and what it came out as);
// each event here is built in the audit.k8s.io/v1 Event shape the apiserver writes, with the
// fields that decided the outcome of the line it stands for.
import { describe, expect, it } from 'vitest';
import { falcoEvent } from '../helpers/fixtures.js';
import { eventMaker } from '../helpers/k8s-events.js';
import { servedOnce } from '../helpers/through-serve.js';

const SECRET = 'published-lines-secret-0123456789abcdef';
const NS = 'shop';
const PERSON = { username: 'dev-user', groups: ['developers', 'system:authenticated'] };
// A pod's bound token: kube-apiserver names the pod in user.extra (Kubernetes 1.30 and later).
const POD_SA = {
  username: `system:serviceaccount:${NS}:batch-runner`,
  uid: '6b0f2c3e-1d5a-4f4e-9a61-2f0b7c1d9e10',
  groups: ['system:serviceaccounts', `system:serviceaccounts:${NS}`, 'system:authenticated'],
  extra: {
    'authentication.kubernetes.io/pod-name': ['report-worker'],
    'authentication.kubernetes.io/pod-uid': ['0d7e5b8a-3c2f-4b6e-8f1a-5c9d2e7b4a31'],
  },
};
const KUBECTL = 'kubectl/v1.31.1 (linux/amd64) kubernetes/948afe5';
const event = eventMaker('9b1e0000', {
  sourceIPs: ['192.168.49.1'],
  userAgent: KUBECTL,
  user: PERSON,
  requestReceivedTimestamp: '2026-12-07T09:00:00.000000Z',
  stageTimestamp: '2026-12-07T09:00:00.003000Z',
  responseStatus: { metadata: {}, code: 200 },
  annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
});

// A registry credential as `kubectl create secret docker-registry` stores it: the base64 of
// {"auths":{"registry.example:5000":{"username":"ci","password":"<password>"}}}.
const PASSWORD = 'hunter2-registry-password';
const DOCKERCONFIG = Buffer.from(JSON.stringify({ auths: { 'registry.example:5000': { username: 'ci', password: PASSWORD } } })).toString(
  'base64',
);

/** `kubectl get secret registry-creds -o yaml` at RequestResponse: the Secret in responseObject. */
const secretGet = (user: unknown, userAgent: string, sourceIP: string): Record<string, unknown> =>
  event({
    level: 'RequestResponse',
    verb: 'get',
    user,
    userAgent,
    sourceIPs: [sourceIP],
    requestURI: `/api/v1/namespaces/${NS}/secrets/registry-creds`,
    objectRef: { resource: 'secrets', namespace: NS, name: 'registry-creds', apiVersion: 'v1' },
    responseObject: {
      kind: 'Secret',
      apiVersion: 'v1',
      metadata: { name: 'registry-creds', namespace: NS, resourceVersion: '174795' },
      data: { '.dockerconfigjson': DOCKERCONFIG },
      type: 'kubernetes.io/dockerconfigjson',
    },
  });

// TryHackMe's Advent of Cyber 2024 day 22 ("Kubernetes DFIR", a minikube cluster's audit.log as a
// write-up quotes it): a user refused the Secrets of his namespace, his kubectl exec into a pod
// (audited at ResponseStarted, 101), then kubectl in that pod with its job-runner-sa token getting
// the registry's dockerconfigjson Secret. The last came out low (row 8's read) before kubectl joined
// the user agents of workload-secret-read-by-http-tool.
const deniedList = event({
  level: 'RequestResponse',
  verb: 'list',
  requestURI: `/api/v1/namespaces/${NS}/secrets?limit=500`,
  objectRef: { resource: 'secrets', namespace: NS, apiVersion: 'v1' },
  responseStatus: { metadata: {}, status: 'Failure', reason: 'Forbidden', details: { kind: 'secrets' }, code: 403 },
  annotations: { 'authorization.k8s.io/decision': 'forbid', 'authorization.k8s.io/reason': '' },
});
const exec = event({
  stage: 'ResponseStarted',
  verb: 'create',
  requestURI: `/api/v1/namespaces/${NS}/pods/report-worker/exec?command=%2Fbin%2Fsh&container=app&stdin=true&stdout=true&tty=true`,
  objectRef: { resource: 'pods', namespace: NS, name: 'report-worker', apiVersion: 'v1', subresource: 'exec' },
  responseStatus: { metadata: {}, code: 101 },
});
const podKubectlRead = secretGet(POD_SA, KUBECTL, '10.244.120.126');
// The same read by the workload's own client (client-go names its binary): a read, as before.
const podClientRead = secretGet(POD_SA, 'report-worker/v0.0.0 (linux/amd64) kubernetes/$Format', '10.244.120.126');

// A gVisor and Falco demo on minikube (Kubernetes 1.25) shows kube-apiserver's log of `kubectl
// apply` of Falco's example ConfigMap my-config, an AWS access key pair in access.properties: it came
// out info. Falco keeps the same object as its trace (test/fixtures/falco, Apache-2.0), used here as
// it is, with the trace of the same ConfigMap without the key.
const credentialsConfigMap = falcoEvent('create_configmap_sensitive_values.json');
const plainConfigMap = falcoEvent('create_configmap_no_sensitive_values.json');

describe('published audit lines through serve', () => {
  const items = [deniedList, exec, podKubectlRead, podClientRead, credentialsConfigMap, plainConfigMap];
  const got = servedOnce('published-lines', SECRET, 'minikube', items);

  it('stores every line', () => {
    expect(got.status).toBe(200);
    expect(got.answer).toMatchObject({ accepted: items.length, rejected: 0 });
    expect(got.records).toHaveLength(items.length);
  });

  it("Advent of Cyber 2024 day 22: the refusal medium, the exec high with an alert, the pod's kubectl reading a Secret medium", () => {
    got.check(deniedList, ['medium', 'request-denied-or-failed']);
    got.check(exec, ['high', 'pod-interactive-access']);
    got.check(podKubectlRead, ['medium', 'rule:workload-secret-read-by-http-tool', ['workload-secret-read-by-http-tool']]);
    got.check(podClientRead, ['low', 'sensitive-read']);
  });

  it('a ConfigMap created with an AWS access key pair in its data is medium with the rule named; without it, info', () => {
    got.check(credentialsConfigMap, ['medium', 'rule:configmap-private-credentials', ['configmap-private-credentials']]);
    got.check(plainConfigMap, ['info', 'steady-state']);
  });

  it("keeps the ConfigMap's secret access key out of the stored records, and the key id, the names and the other file", () => {
    const stored = JSON.stringify(got.records);
    expect(stored).not.toContain('MY-KEY');
    expect(stored).toContain('aws_access_key_id = MY-ID\\naws_secret_access_key = [REDACTED]\\n');
    expect(stored).toContain('color.good=purple');
  });

  it("keeps no byte of the Secret's data in the records or the alerts", () => {
    const stored = JSON.stringify([got.records, got.alerts]);
    expect(stored).toContain('registry-creds');
    expect(stored).not.toContain(DOCKERCONFIG);
    expect(stored).not.toContain(DOCKERCONFIG.slice(0, 24));
    expect(stored).not.toContain(PASSWORD);
  });
});
