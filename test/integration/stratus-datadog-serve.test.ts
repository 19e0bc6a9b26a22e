// Stratus Red Team's Kubernetes techniques (test/fixtures/offensive-tools/stratus-red-team.json, the
// API calls each technique's Go code makes, as kube-apiserver audits them at RequestResponse) and
// the audit events Datadog's out-of-the-box Cloud SIEM rules for Kubernetes audit logs are about,
// POSTed to a running `serve`: what each comes out as in `events` and `events --alerts`, event by
// event, each high one's alert a valid OCSF 2004 finding, and no Secret value or token in the store.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from '../helpers/fixtures.js';
import { eventMaker } from '../helpers/k8s-events.js';
import { type Outcome, servedOnce } from '../helpers/through-serve.js';

const SECRET = 'stratus-datadog-secret-0123456789abcdef';

interface Technique {
  id: string;
  source: string;
  events: Record<string, unknown>[];
}
const stratus = JSON.parse(readFileSync(join(FIXTURES, 'offensive-tools', 'stratus-red-team.json'), 'utf8')) as {
  secretValues: string[];
  techniques: Technique[];
};

/** Each event's severity, its severity_reason and the rules that fired, in the fixture's order. */
const STRATUS: Record<string, Outcome[]> = {
  // Every run first checks it may list pods (SelfSubjectAccessReview): a person doing so is routine.
  preflight: [['info', 'steady-state']],
  'k8s.credential-access.dump-secrets': [['high', 'cluster-wide-secrets-read', ['human-secret-read']]],
  'k8s.credential-access.steal-serviceaccount-token': [['high', 'pod-interactive-access']],
  'k8s.persistence.create-admin-clusterrole': [
    ['high', 'sensitive-resource-change', ['rbac-escalation-verbs-or-wildcards']],
    // A ServiceAccount created in kube-system: Datadog's "Kubernetes Service Account Created in Kube Namespace".
    ['high', 'sensitive-resource-change'],
    ['high', 'rbac-binding-change'],
    // Polling for the token Secret's name: a read, as the table scores reads.
    ['low', 'sensitive-read'],
    ['medium', 'rule:human-secret-read', ['human-secret-read']],
  ],
  'k8s.persistence.create-client-certificate': [
    ['high', 'sensitive-resource-change'],
    ['high', 'sensitive-resource-change'],
    ['info', 'steady-state'],
    ['high', 'sensitive-resource-change'],
  ],
  'k8s.persistence.create-token': [['high', 'sensitive-resource-change', ['privileged-service-account-token']]],
  'k8s.privilege-escalation.nodes-proxy': [
    ['high', 'sensitive-resource-change'],
    ['info', 'steady-state'],
    // Proxied from the operator's machine with the minted token: a service account from a public address too.
    ['high', 'rule:node-proxy-access', ['node-proxy-access', 'service-account-from-public-address']],
  ],
  'k8s.privilege-escalation.hostpath-volume': [['high', 'rule:sensitive-host-path', ['sensitive-host-path']]],
  'k8s.privilege-escalation.privileged-pod': [['high', 'rule:privileged-container', ['privileged-container']]],
};

// Datadog's out-of-the-box Cloud SIEM rules for `source:kubernetes` audit logs (docs.datadoghq.com,
// security/default_rules), each with the event it is about, in the shapes the Kubernetes API
// reference gives; a person on EKS with kubectl, or the anonymous user.
const PERSON = { username: 'arn:aws:iam::123456789012:role/dev', groups: ['system:authenticated'] };
const ANONYMOUS = { username: 'system:anonymous', groups: ['system:unauthenticated'] };
const KUBECTL = 'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350';
const event = eventMaker('dd0d0000', {
  sourceIPs: ['198.51.100.23'],
  userAgent: KUBECTL,
  user: PERSON,
  requestReceivedTimestamp: '2026-12-07T08:00:00.000000Z',
  stageTimestamp: '2026-12-07T08:00:00.020000Z',
  responseStatus: { metadata: {}, code: 200 },
});
const webhook = (kind: string) => ({
  kind,
  apiVersion: 'admissionregistration.k8s.io/v1',
  metadata: { name: 'audit-relay' },
  webhooks: [
    {
      name: 'relay.example.net',
      clientConfig: { url: 'https://relay.example.net/admit' },
      rules: [{ operations: ['CREATE', 'UPDATE'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*/*'] }],
      failurePolicy: 'Ignore',
      sideEffects: 'None',
      admissionReviewVersions: ['v1'],
    },
  ],
});
const pod = (namespace: string, name: string, image: string) => ({
  kind: 'Pod',
  apiVersion: 'v1',
  metadata: { name, namespace },
  spec: { containers: [{ name, image }] },
});

const DATADOG: { rule: string; name: string; event: Record<string, unknown>; outcome: Outcome }[] = [
  {
    // "Anonymous request authorized": any 1xx-2xx answer to system:anonymous but /livez and /readyz.
    rule: 'Anonymous request authorized',
    name: 'list pods after a binding of view to system:unauthenticated',
    event: event({
      user: ANONYMOUS,
      userAgent: 'curl/8.5.0',
      verb: 'list',
      requestURI: '/api/v1/pods',
      objectRef: { resource: 'pods', apiVersion: 'v1' },
      annotations: {
        'authorization.k8s.io/decision': 'allow',
        'authorization.k8s.io/reason':
          'RBAC: allowed by ClusterRoleBinding "anon-view" of ClusterRole "view" to Group "system:unauthenticated"',
      },
    }),
    outcome: ['high', 'rule:anonymous-request-allowed', ['anonymous-request-allowed']],
  },
  {
    rule: 'Anonymous request authorized',
    name: 'list the Secrets of kube-system',
    event: event({
      user: ANONYMOUS,
      userAgent: 'curl/8.5.0',
      verb: 'list',
      requestURI: '/api/v1/namespaces/kube-system/secrets',
      objectRef: { resource: 'secrets', namespace: 'kube-system', apiVersion: 'v1' },
    }),
    outcome: ['high', 'rule:anonymous-request-allowed', ['anonymous-request-allowed']],
  },
  {
    // Discovery is system:discovery's, bound to system:authenticated only since Kubernetes 1.14.
    rule: 'Anonymous request authorized',
    name: 'API discovery (/apis)',
    event: event({ user: ANONYMOUS, userAgent: 'curl/8.5.0', verb: 'get', requestURI: '/apis' }),
    outcome: ['high', 'rule:anonymous-request-allowed', ['anonymous-request-allowed']],
  },
  {
    // system:public-info-viewer lets everyone read /version, /healthz, /livez, /readyz: Datadog
    // leaves out /livez and /readyz, this connector all four (docs/detection-rules.md).
    rule: 'Anonymous request authorized',
    name: '/version (system:public-info-viewer, the default)',
    event: event({ user: ANONYMOUS, userAgent: 'curl/8.5.0', verb: 'get', requestURI: '/version' }),
    outcome: ['info', 'steady-state'],
  },
  {
    rule: 'Anonymous request authorized',
    name: '/livez from a load balancer probe (excluded by Datadog too)',
    event: event({ user: ANONYMOUS, userAgent: 'kube-probe/1.30', verb: 'get', requestURI: '/livez' }),
    outcome: ['info', 'steady-state'],
  },
  {
    rule: 'Kubernetes Pod Created in Kube Namespace',
    name: 'kubectl run in kube-system',
    event: event({
      verb: 'create',
      requestURI: '/api/v1/namespaces/kube-system/pods?fieldManager=kubectl-run',
      objectRef: { resource: 'pods', namespace: 'kube-system', name: 'debug', apiVersion: 'v1' },
      requestObject: pod('kube-system', 'debug', 'alpine:3.20'),
      responseStatus: { metadata: {}, code: 201 },
    }),
    outcome: ['high', 'rule:kube-system-workload', ['kube-system-workload', 'kube-system-pod']],
  },
  {
    rule: 'Kubernetes Pod Created in Kube Namespace',
    name: 'a pod in kube-public',
    event: event({
      verb: 'create',
      requestURI: '/api/v1/namespaces/kube-public/pods',
      objectRef: { resource: 'pods', namespace: 'kube-public', name: 'web', apiVersion: 'v1' },
      requestObject: pod('kube-public', 'web', 'nginx:1.27'),
      responseStatus: { metadata: {}, code: 201 },
    }),
    outcome: ['high', 'rule:kube-system-workload', ['kube-system-workload', 'kube-system-pod']],
  },
  {
    // kube-system's is Stratus' create-admin-clusterrole above.
    rule: 'Kubernetes Service Account Created in Kube Namespace',
    name: 'a service account in kube-public',
    event: event({
      verb: 'create',
      requestURI: '/api/v1/namespaces/kube-public/serviceaccounts',
      objectRef: { resource: 'serviceaccounts', namespace: 'kube-public', name: 'reader', apiVersion: 'v1' },
      requestObject: { kind: 'ServiceAccount', apiVersion: 'v1', metadata: { name: 'reader', namespace: 'kube-public' } },
      responseStatus: { metadata: {}, code: 201 },
    }),
    outcome: ['high', 'sensitive-resource-change'],
  },
  ...(['validatingwebhookconfigurations', 'mutatingwebhookconfigurations'] as const).map((resource) => ({
    rule: 'A new Kubernetes admission controller was created',
    name: `${resource} sending every create and update to an outside URL`,
    event: event({
      verb: 'create',
      requestURI: `/apis/admissionregistration.k8s.io/v1/${resource}`,
      objectRef: { resource, name: 'audit-relay', apiGroup: 'admissionregistration.k8s.io', apiVersion: 'v1' },
      requestObject: webhook(resource.startsWith('validating') ? 'ValidatingWebhookConfiguration' : 'MutatingWebhookConfiguration'),
      responseStatus: { metadata: {}, code: 201 },
    }),
    outcome: ['high', 'rule:admission-webhook-change', ['admission-webhook-change']] as Outcome,
  })),
  {
    // Datadog counts Forbidden answers per user over distinct endpoints; each one is medium here.
    rule: 'A Kubernetes user attempted to perform a high number of actions that were denied',
    name: 'list the Secrets of kube-system, refused',
    event: event({
      verb: 'list',
      requestURI: '/api/v1/namespaces/kube-system/secrets?limit=500',
      objectRef: { resource: 'secrets', namespace: 'kube-system', apiVersion: 'v1' },
      annotations: { 'authorization.k8s.io/decision': 'forbid', 'authorization.k8s.io/reason': '' },
      responseStatus: {
        metadata: {},
        status: 'Failure',
        message:
          'secrets is forbidden: User "arn:aws:iam::123456789012:role/dev" cannot list resource "secrets" in API group "" in the namespace "kube-system"',
        reason: 'Forbidden',
        details: { kind: 'secrets' },
        code: 403,
      },
    }),
    outcome: ['medium', 'request-denied-or-failed'],
  },
];

describe('Stratus Red Team techniques and Datadog default rules through serve', () => {
  const items = [...stratus.techniques.flatMap((t) => t.events), ...DATADOG.map((d) => d.event)];
  const served = servedOnce('aisoc-stratus-', SECRET, 'prod', items);

  it('accepts every event', () => {
    expect(served.status).toBe(200);
    expect(served.answer).toMatchObject({ accepted: items.length, rejected: 0 });
  });

  it('has an expectation for every technique in the fixture, one per event', () => {
    expect(stratus.techniques.map((t) => t.id)).toEqual(Object.keys(STRATUS));
    for (const t of stratus.techniques) expect(t.events.length, t.id).toBe(STRATUS[t.id]?.length);
  });

  for (const t of stratus.techniques) {
    it(`Stratus ${t.id}`, () => {
      t.events.forEach((e, i) => {
        served.check(e, STRATUS[t.id]?.[i] as Outcome);
      });
    });
  }

  it('has a case for every Datadog title listed in test/fixtures/public-rules, and none for another title', () => {
    const listed = readFileSync(join(FIXTURES, 'public-rules', 'datadog-kubernetes-audit-rule-titles.txt'), 'utf8')
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => l.split('\t')[0]);
    expect([...new Set(DATADOG.map((d) => d.rule))].sort()).toEqual([...listed].sort());
  });

  for (const d of DATADOG) {
    it(`Datadog "${d.rule}": ${d.name}`, () => served.check(d.event, d.outcome));
  }

  it('keeps no Secret value or token the responses carried', () => {
    const stored = JSON.stringify([served.records, served.alerts]);
    expect(stored).not.toBe('');
    for (const v of stratus.secretValues) expect(stored).not.toContain(v);
  });
});
