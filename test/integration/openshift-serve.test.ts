// An OpenShift cluster's audit events, posted to a real `serve` and read back as a user reads them
// (`events --json`, `--alerts`) and as the SQLite file holds them. The requests are the ones `oc`
// makes (openshift/oc 6b8e30c5, Apache-2.0): `oc create route edge --key --cert` (a Route with
// spec.tls.key, openshift/api route/v1/types.go), an OAuthClient created with its secret
// (oauth/v1/types.go), `oc get oauthaccesstokens <name>` on a cluster upgraded from before 4.6
// (the object's name is the token), a GitHub webhook call of a BuildConfig (its secret in the URI
// path, as the OpenShift documentation gives it), `oc adm policy add-scc-to-user privileged`
// (pkg/cli/admin/policy/modify_scc.go: the ClusterRole, then a binding), `oc patch scc anyuid`
// adding a user (the older way), and the cluster-version operator re-applying the shipped
// ClusterRole on an upgrade (test/fixtures/openshift/ckao__cr-scc-privileged.yaml, byte for byte
// from openshift/cluster-kube-apiserver-operator).
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { EVENT_STORE_FILE } from '../../lib/sinks/sqlite.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { SECRET, tempDataDir } from '../helpers/ingest.js';
import { expectOutcome, type ThroughServe, throughServe } from '../helpers/through-serve.js';

const KEY_BODY = randomBytes(48).toString('base64');
const KEY = `-----BEGIN RSA PRIVATE KEY-----\n${KEY_BODY}\n-----END RSA PRIVATE KEY-----\n`;
const CLIENT_SECRET = 'opaque-oauthclient-secret-8d2e71';
const TOKEN = randomBytes(32).toString('base64url'); // a pre-4.6 access token, 43 characters
const HOOK_SECRET = 'opaque-webhook-secret-5c0a4b';
const CVO = 'system:serviceaccount:openshift-cluster-version:default';

const base = {
  kind: 'Event',
  apiVersion: 'audit.k8s.io/v1',
  level: 'RequestResponse',
  stage: 'ResponseComplete',
  user: { username: 'kube:admin', groups: ['system:cluster-admins', 'system:authenticated'] },
  sourceIPs: ['10.0.0.7'],
  userAgent: 'oc/4.15.0 (linux/amd64) kubernetes/3c32e8b',
  requestReceivedTimestamp: '2026-12-08T01:00:00.000000Z',
  stageTimestamp: '2026-12-08T01:00:00.020000Z',
  responseStatus: { metadata: {}, code: 200 },
};
const route = {
  kind: 'Route',
  apiVersion: 'route.openshift.io/v1',
  metadata: { name: 'web', namespace: 'shop' },
  spec: { host: 'web.apps.ocp.example.com', to: { kind: 'Service', name: 'web', weight: 100 }, tls: { termination: 'edge', key: KEY } },
};
const sccRole = parse(readFileSync(join(FIXTURES, 'openshift', 'ckao__cr-scc-privileged.yaml'), 'utf8')) as Record<string, unknown>;
const rbac = (resource: string, name: string, ns?: string) => ({
  resource,
  name,
  apiGroup: 'rbac.authorization.k8s.io',
  apiVersion: 'v1',
  ...(ns ? { namespace: ns } : {}),
});

const EVENTS = {
  route: {
    ...base,
    auditID: 'os-route-1',
    verb: 'create',
    requestURI: '/apis/route.openshift.io/v1/namespaces/shop/routes',
    objectRef: { resource: 'routes', namespace: 'shop', name: 'web', apiGroup: 'route.openshift.io', apiVersion: 'v1' },
    requestObject: route,
    responseObject: route,
    responseStatus: { metadata: {}, code: 201 },
  },
  client: {
    ...base,
    auditID: 'os-client-1',
    verb: 'create',
    requestURI: '/apis/oauth.openshift.io/v1/oauthclients',
    objectRef: { resource: 'oauthclients', name: 'grafana', apiGroup: 'oauth.openshift.io', apiVersion: 'v1' },
    requestObject: { kind: 'OAuthClient', metadata: { name: 'grafana' }, secret: CLIENT_SECRET, grantMethod: 'auto' },
    responseStatus: { metadata: {}, code: 201 },
  },
  token: {
    ...base,
    auditID: 'os-token-1',
    verb: 'get',
    requestURI: `/apis/oauth.openshift.io/v1/oauthaccesstokens/${TOKEN}`,
    objectRef: { resource: 'oauthaccesstokens', name: TOKEN, apiGroup: 'oauth.openshift.io', apiVersion: 'v1' },
    responseObject: { kind: 'OAuthAccessToken', metadata: { name: TOKEN }, clientName: 'openshift-browser-client', userName: 'developer' },
  },
  webhook: {
    ...base,
    auditID: 'os-hook-1',
    verb: 'create',
    user: { username: 'system:anonymous', groups: ['system:unauthenticated'] },
    userAgent: 'GitHub-Hookshot/8e03811',
    requestURI: `/apis/build.openshift.io/v1/namespaces/shop/buildconfigs/web/webhooks/${HOOK_SECRET}/github`,
    objectRef: {
      resource: 'buildconfigs',
      subresource: 'webhooks',
      namespace: 'shop',
      name: 'web',
      apiGroup: 'build.openshift.io',
      apiVersion: 'v1',
    },
  },
  sccRole: {
    ...base,
    auditID: 'os-scc-1',
    verb: 'create',
    requestURI: '/apis/rbac.authorization.k8s.io/v1/clusterroles',
    objectRef: rbac('clusterroles', 'system:openshift:scc:privileged'),
    requestObject: sccRole,
    responseStatus: { metadata: {}, code: 201 },
  },
  sccBinding: {
    ...base,
    auditID: 'os-scc-2',
    verb: 'create',
    requestURI: '/apis/rbac.authorization.k8s.io/v1/namespaces/shop/rolebindings',
    objectRef: rbac('rolebindings', 'system:openshift:scc:privileged', 'shop'),
    requestObject: {
      kind: 'RoleBinding',
      metadata: { name: 'system:openshift:scc:privileged', namespace: 'shop' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:openshift:scc:privileged' },
      subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: 'shop' }],
    },
    responseStatus: { metadata: {}, code: 201 },
  },
  sccUsers: {
    ...base,
    auditID: 'os-scc-3',
    verb: 'patch',
    requestURI: '/apis/security.openshift.io/v1/securitycontextconstraints/anyuid',
    objectRef: { resource: 'securitycontextconstraints', name: 'anyuid', apiGroup: 'security.openshift.io', apiVersion: 'v1' },
    requestObject: { users: ['system:serviceaccount:shop:default'] },
  },
  cvo: {
    ...base,
    auditID: 'os-cvo-1',
    verb: 'update',
    user: { username: CVO, groups: ['system:serviceaccounts', 'system:serviceaccounts:openshift-cluster-version', 'system:authenticated'] },
    userAgent: 'cluster-version-operator/v0.0.0 (linux/amd64) kubernetes/$Format',
    requestURI: '/apis/rbac.authorization.k8s.io/v1/clusterroles/system:openshift:scc:privileged',
    objectRef: rbac('clusterroles', 'system:openshift:scc:privileged'),
    requestObject: sccRole,
  },
};

let out: ThroughServe;
let disk: string;
const tmp = tempDataDir('aisoc-openshift-');
beforeAll(async () => {
  out = await throughServe(tmp.dir, SECRET, 'ocp', Object.values(EVENTS));
  const files = readdirSync(tmp.dir).filter((f) => f.startsWith(EVENT_STORE_FILE));
  disk = files.map((f) => readFileSync(join(tmp.dir, f)).toString('latin1')).join('');
}, 60_000);
afterAll(() => tmp.remove());

describe('OpenShift through serve', () => {
  it('stores no private key, client secret, token or webhook secret: not in a record, an alert or the SQLite file', () => {
    expect(out.status).toBe(200);
    expect(out.answer).toMatchObject({ accepted: Object.keys(EVENTS).length, rejected: 0 });
    expect(disk.length).toBeGreaterThan(0);
    const read = JSON.stringify([out.records, out.alerts]);
    for (const text of [read, disk]) {
      for (const value of [KEY_BODY.slice(0, 40), CLIENT_SECRET, TOKEN, HOOK_SECRET]) expect(text).not.toContain(value);
    }
    // The token's object is named by its marker, the same in the flat field and the URI.
    const token = out.records.find((r) => r.audit_id === 'os-token-1') as unknown as { k8s_object_name: string; request_uri: string };
    expect(token.k8s_object_name).toMatch(/^\[REDACTED:sha256~/);
    expect(token.request_uri).toBe(`/apis/oauth.openshift.io/v1/oauthaccesstokens/${token.k8s_object_name}`);
  });

  it('an SCC granted by oc adm policy or by the SCC users: high alerts naming the rule', () => {
    expectOutcome(out, EVENTS.sccRole, ['high', 'sensitive-resource-change', ['openshift-privileged-scc-grant']]);
    expectOutcome(out, EVENTS.sccBinding, ['high', 'rbac-binding-change', ['openshift-privileged-scc-grant']]);
    expectOutcome(out, EVENTS.sccUsers, ['high', 'rule:openshift-privileged-scc-grant', ['openshift-privileged-scc-grant']]);
  });

  it("the cluster-version operator's upgrade write of the same ClusterRole: info, no alert", () => {
    expectOutcome(out, EVENTS.cvo, ['info', 'routine-controller-reconcile', []]);
  });
});
