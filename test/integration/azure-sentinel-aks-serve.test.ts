// Microsoft Sentinel's AKS content (Azure/Azure-Sentinel, Solutions/Azure kubernetes Service:
// two hunting queries and the kube-audit queries of its AKS Security workbook, listed in
// test/fixtures/public-rules/azure-sentinel-aks-queries.txt) and a real AKS Event Hubs message
// (test/fixtures/aks/sysdig__event.json), each POSTed to a running `serve` as an AKS diagnostic
// setting delivers it, the `{"records":[...]}` body: what a user reads back in `events`,
// `events --alerts` and `rejected`. Sentinel keeps no AKS sample data, so the events its queries
// select are written from the queries' own conditions, shaped as the Kubernetes API reference and
// kubectl give the requests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aksRecord } from '../helpers/clouds.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { tempDataDir } from '../helpers/ingest.js';
import { eventMaker } from '../helpers/k8s-events.js';
import { cliJson, expectOutcome, type Outcome, type StoredAlert, type StoredRecord, startServe } from '../helpers/through-serve.js';

const SECRET = 'azure-sentinel-aks-secret-0123456789abcdef';

type Json = Record<string, unknown>;
type Row = StoredRecord & { cluster_name: string; k8s_user: string; k8s_response_code: number; ocsf: { cloud?: Json } };

const real = JSON.parse(readFileSync(join(FIXTURES, 'aks', 'sysdig__event.json'), 'utf8')) as { records: Json[] };
const realEvents = real.records.map((r) => JSON.parse((r.properties as { log: string }).log) as Json);
// The one write of the real message: AKS's aksService creating kube-system's coredns-custom
// ConfigMap, answered 409 AlreadyExists (its add-on reconcile).
const reconcile = realEvents.find((e) => e.verb === 'create') as Json;

const catalogue = readFileSync(join(FIXTURES, 'public-rules', 'azure-sentinel-aks-queries.txt'), 'utf8')
  .split('\n')
  .filter((l) => l !== '' && !l.startsWith('#'))
  .map((l) => l.split('\t')[1] as string);

// Who sends what on an AKS cluster: a person signed in through Entra ID, the cluster's local admin
// certificate (`az aks get-credentials --admin`: masterclient, system:masters), a kube-system account.
const PERSON = { username: 'alice@contoso.com', groups: ['6a1b2c3d-0000-4000-8000-00000000e17a', 'system:authenticated'] };
const MASTERCLIENT = { username: 'masterclient', groups: ['system:masters', 'system:authenticated'] };
const event = eventMaker('a5e17000', {
  sourceIPs: ['203.0.113.7'],
  userAgent: 'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350',
  user: PERSON,
  requestReceivedTimestamp: '2026-12-07T09:00:00.000000Z',
  stageTimestamp: '2026-12-07T09:00:00.030000Z',
  responseStatus: { metadata: {}, code: 200 },
});

const pod = (name: string, spec: Json): Json =>
  event({
    verb: 'create',
    requestURI: '/api/v1/namespaces/default/pods?fieldManager=kubectl-create&fieldValidation=Strict',
    objectRef: { resource: 'pods', namespace: 'default', name, apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 201 },
    requestObject: { kind: 'Pod', apiVersion: 'v1', metadata: { name, namespace: 'default' }, spec },
  });

/** Each query's events: what it selects, and beside it what it leaves out or only counts. */
const cases: Record<string, { event: Json; outcome: Outcome; label: string }[]> = {
  'Azure RBAC AKS created role details': [
    {
      label: 'kubectl create role pod-reader --verb=get,list --resource=pods',
      event: event({
        verb: 'create',
        requestURI: '/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles?fieldManager=kubectl-create&fieldValidation=Strict',
        objectRef: { resource: 'roles', namespace: 'default', name: 'pod-reader', apiGroup: 'rbac.authorization.k8s.io', apiVersion: 'v1' },
        responseStatus: { metadata: {}, code: 201 },
        requestObject: {
          kind: 'Role',
          apiVersion: 'rbac.authorization.k8s.io/v1',
          metadata: { name: 'pod-reader', namespace: 'default' },
          rules: [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'] }],
        },
      }),
      outcome: ['high', 'sensitive-resource-change'],
    },
  ],
  'AKS find cluster-admin clusterrolebinding': [
    {
      label: 'kubectl create clusterrolebinding my-svc-acct-admin --clusterrole=cluster-admin --serviceaccount=default:my-svc-acct',
      event: event({
        verb: 'create',
        requestURI: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings?fieldManager=kubectl-create&fieldValidation=Strict',
        objectRef: { resource: 'clusterrolebindings', name: 'my-svc-acct-admin', apiGroup: 'rbac.authorization.k8s.io', apiVersion: 'v1' },
        responseStatus: { metadata: {}, code: 201 },
        requestObject: {
          kind: 'ClusterRoleBinding',
          apiVersion: 'rbac.authorization.k8s.io/v1',
          metadata: { name: 'my-svc-acct-admin' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
          subjects: [{ kind: 'ServiceAccount', name: 'my-svc-acct', namespace: 'default' }],
        },
      }),
      outcome: ['high', 'rbac-binding-change', ['cluster-admin-binding']],
    },
  ],
  'Masterclient operations': [
    {
      label: "the admin certificate's kubectl get configmaps",
      event: event({
        level: 'Metadata',
        verb: 'list',
        user: MASTERCLIENT,
        requestURI: '/api/v1/namespaces/default/configmaps?limit=500',
        objectRef: { resource: 'configmaps', namespace: 'default', apiVersion: 'v1' },
      }),
      outcome: ['info', 'steady-state'],
    },
    {
      label: "the admin certificate's kubectl get secrets -A",
      event: event({
        level: 'Metadata',
        verb: 'list',
        user: MASTERCLIENT,
        requestURI: '/api/v1/secrets?limit=500',
        objectRef: { resource: 'secrets', apiVersion: 'v1' },
      }),
      outcome: ['high', 'cluster-wide-secrets-read', ['human-secret-read']],
    },
  ],
  'Pod creation operations': [
    {
      label: 'kubectl run nginx',
      event: pod('nginx', { containers: [{ name: 'nginx', image: 'nginx' }] }),
      outcome: ['medium', 'workload-change'],
    },
  ],
  'Secret get\\list operations': [
    {
      label: 'a person reading a Secret',
      event: event({
        level: 'Metadata',
        verb: 'get',
        requestURI: '/api/v1/namespaces/default/secrets/db-password',
        objectRef: { resource: 'secrets', namespace: 'default', name: 'db-password', apiVersion: 'v1' },
      }),
      outcome: ['medium', 'rule:human-secret-read', ['human-secret-read']],
    },
    {
      label: "AKS's tunnelfront reading its own Secret (the query leaves it out)",
      event: event({
        level: 'Metadata',
        verb: 'get',
        user: {
          username: 'system:serviceaccount:kube-system:tunnelfront',
          groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
        },
        userAgent: 'tunnelfront/v0.0.0 (linux/amd64) kubernetes/$Format',
        sourceIPs: ['10.244.0.5'],
        requestURI: '/api/v1/namespaces/kube-system/secrets/tunnelfront',
        objectRef: { resource: 'secrets', namespace: 'kube-system', name: 'tunnelfront', apiVersion: 'v1' },
      }),
      outcome: ['low', 'sensitive-read'],
    },
  ],
  'Privileged containers creation': [
    {
      label: 'a privileged container',
      event: pod('priv', { containers: [{ name: 'c', image: 'ubuntu', securityContext: { privileged: true } }] }),
      outcome: ['high', 'rule:privileged-container', ['privileged-container']],
    },
  ],
  'exec commands': [
    {
      label: 'kubectl exec -it nginx -- /bin/sh (101 Switching Protocols)',
      event: event({
        level: 'Metadata',
        verb: 'create',
        requestURI: '/api/v1/namespaces/default/pods/nginx/exec?command=%2Fbin%2Fsh&container=nginx&stdin=true&stdout=true&tty=true',
        objectRef: { resource: 'pods', namespace: 'default', name: 'nginx', apiVersion: 'v1', subresource: 'exec' },
        responseStatus: { metadata: {}, code: 101 },
      }),
      outcome: ['high', 'pod-interactive-access'],
    },
  ],
  'hostPath mount': [
    {
      label: "the node's / mounted",
      event: pod('hp-root', {
        containers: [{ name: 'c', image: 'ubuntu', volumeMounts: [{ name: 'host', mountPath: '/host' }] }],
        volumes: [{ name: 'host', hostPath: { path: '/' } }],
      }),
      outcome: ['high', 'rule:sensitive-host-path', ['sensitive-host-path']],
    },
    {
      // Read-only here, but a writable /var/log is KubeHound's CE_VAR_LOG_SYMLINK: host-log-mount, medium.
      label: "the node's /var/log mounted, as log shippers do (listed by the workbook; medium, host-log-mount)",
      event: pod('hp-logs', {
        containers: [{ name: 'c', image: 'fluent/fluent-bit', volumeMounts: [{ name: 'logs', mountPath: '/var/log', readOnly: true }] }],
        volumes: [{ name: 'logs', hostPath: { path: '/var/log' } }],
      }),
      outcome: ['medium', 'workload-change', ['host-log-mount']],
    },
  ],
  'Cluster-admin binding': [],
  'Delete events': [
    {
      label: 'kubectl delete event',
      event: event({
        level: 'Metadata',
        verb: 'delete',
        requestURI: '/api/v1/namespaces/default/events/nginx.17e2b3c4d5e6f7a8',
        objectRef: { resource: 'events', namespace: 'default', name: 'nginx.17e2b3c4d5e6f7a8', apiVersion: 'v1' },
        responseStatus: { metadata: {}, status: 'Success', code: 200 },
      }),
      outcome: ['high', 'rule:events-deleted', ['events-deleted']],
    },
  ],
};
// The workbook's "Cluster-admin binding" selects what the hunting query above does.
cases['Cluster-admin binding'] = cases['AKS find cluster-admin clusterrolebinding'] as (typeof cases)[string];

// The boundary of aksService's 409: its denial, and a person's own 409, stay what the table says.
const aksServiceDenied = event({
  ...reconcile,
  auditID: 'a5e17000-0000-4000-8000-0000000d3e1d',
  annotations: { 'authorization.k8s.io/decision': 'forbid', 'authorization.k8s.io/reason': '' },
  responseStatus: { metadata: {}, status: 'Failure', reason: 'Forbidden', code: 403 },
});
const personConflict = event({
  level: 'Metadata',
  verb: 'create',
  requestURI: '/api/v1/namespaces/kube-system/configmaps?fieldManager=kubectl-create&fieldValidation=Strict',
  objectRef: { resource: 'configmaps', namespace: 'kube-system', name: 'coredns-custom', apiVersion: 'v1' },
  responseStatus: { metadata: {}, status: 'Failure', reason: 'AlreadyExists', code: 409 },
});

const written = [...new Set(Object.values(cases).flat())];
const got = {
  real: { status: 0, answer: undefined as unknown },
  written: { status: 0, answer: undefined as unknown },
  records: [] as Row[],
  alerts: [] as StoredAlert[],
  rejected: [] as Json[],
};
const data = tempDataDir('aisoc-sentinel-aks-');

beforeAll(async () => {
  const server = await startServe(data.dir, SECRET);
  const post = async (body: string) => {
    const res = await fetch(`${server.url}/v1/ingest/k8s-audit/acme`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-aisoc-k8s-token': SECRET },
      body,
    });
    return { status: res.status, answer: await res.json() };
  };
  // The real message byte for byte, as its Event Hub holds it.
  got.real = await post(readFileSync(join(FIXTURES, 'aks', 'sysdig__event.json'), 'utf8'));
  const records = [...written.map((c) => c.event), aksServiceDenied, personConflict].map((e) => aksRecord(e as never, 'prod-aks'));
  got.written = await post(JSON.stringify({ records }));
  await server.stop();
  got.records = await cliJson<Row>(['events', '--json', '--limit', '1000', '--data-dir', data.dir]);
  got.alerts = await cliJson<StoredAlert>(['events', '--alerts', '--json', '--limit', '1000', '--data-dir', data.dir]);
  got.rejected = await cliJson<Json>(['rejected', '--json', '--data-dir', data.dir]);
}, 60_000);
afterAll(() => data.remove());

describe("a real AKS Event Hubs message and Microsoft Sentinel's AKS queries, through serve's records route", () => {
  it('the real message: all 22 records accepted, each stored with its cluster and subscription, none rejected', () => {
    expect(got.real).toEqual({ status: 200, answer: { accepted: 22, rejected: 0, duplicates: 0, errors: [], skipped: 0 } });
    const stored = got.records.filter((r) => r.cluster_name === 'kubetest');
    expect(stored.map((r) => r.audit_id).sort()).toEqual(realEvents.map((e) => e.auditID).sort());
    for (const r of stored)
      expect(r.ocsf.cloud).toMatchObject({ provider: 'Azure', account: { uid: 'bfc31cc5-d3bd-4b36-a40e-d13688d546ec' } });
    expect(got.rejected).toEqual([]);
  });

  it("the real message is the cluster's own routine: no medium or high, no alert; aksService's 409 on its add-on's ConfigMap is info", () => {
    const stored = got.records.filter((r) => r.cluster_name === 'kubetest');
    expect(stored.filter((r) => r.severity === 'high' || r.severity === 'medium').map((r) => [r.k8s_user, r.severity_reason])).toEqual([]);
    expect(got.alerts.filter((a) => realEvents.some((e) => e.auditID === a.audit_id))).toEqual([]);
    // It was medium (request-denied-or-failed) as any 409 is: once per reconcile on every AKS cluster.
    expectOutcome(got, reconcile, ['info', 'routine-not-found-or-conflict']);
  });

  it("aksService's denial and a person's 409 stay medium, as the table has them", () => {
    expectOutcome(got, aksServiceDenied, ['medium', 'request-denied-or-failed']);
    expectOutcome(got, personConflict, ['medium', 'request-denied-or-failed']);
  });

  it('the written records: all accepted into the cluster their resourceId names', () => {
    expect(got.written).toEqual({
      status: 200,
      answer: { accepted: written.length + 2, rejected: 0, duplicates: 0, errors: [], skipped: 0 },
    });
    for (const c of written) {
      const r = got.records.find((x) => x.audit_id === c.event.auditID);
      expect(r?.cluster_name, c.label).toBe('prod-aks');
      expect(r?.ocsf.cloud, c.label).toMatchObject({ provider: 'Azure', account: { uid: '00000000-1111-2222-3333-444444444444' } });
    }
  });

  it('has a case for every query listed in test/fixtures/public-rules, and none for another', () => {
    expect(Object.keys(cases).sort()).toEqual([...catalogue].sort());
  });

  for (const [query, list] of Object.entries(cases)) {
    it(`${query}: each event's record, severity, rules and alert`, () => {
      expect(list.length, query).toBeGreaterThan(0);
      for (const c of list) expectOutcome(got, c.event, c.outcome);
    });
  }
});
