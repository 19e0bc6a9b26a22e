// OpenShift's own credentials in audit events, in the shapes its API types give (openshift/api
// commit 2a3d73913b5a7caec4c57d5c3d04f51106ec4da3, Apache-2.0): Route `spec.tls.key`
// (route/v1/types.go TLSConfig; the object as route/v1/tests/routes.route.openshift.io/
// RouteExternalCertificate.yaml writes an edge route with key and certificate), OAuthClient
// `secret` and `additionalSecrets` (oauth/v1/types.go), BuildConfig webhook trigger `secret`
// (build/v1/types.go WebHookTrigger), Template `parameters` (template/v1/types.go Parameter), and
// OAuth token objects named by the token before OpenShift 4.6 (oauth/v1/types.go's comment on
// OAuthAccessToken: names are `sha256~…` since). Each event goes through the normaliser; the test
// reads what a record holds in every form it leaves (flat fields, raw event, OCSF with bodies).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { AuditEvent, JsonValue } from '../../../lib/audit/index.js';
import { normaliseAuditEvent, redactEvent, serialiseRecord } from '../../../lib/audit/index.js';

const ctx = { tenantId: 'acme', clusterName: 'ocp', receivedAt: 0 };
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
// A real PEM private key, made for the test, as `oc create route edge --key=tls.key` reads it.
const KEY = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
const KEY_BODY = KEY.split('\n')[1] as string;
const CERT = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2VydGlmaWNhdGVJc1B1YmxpYzAKBggqhkjOPQQDAjAP\n-----END CERTIFICATE-----';
const CLIENT_SECRET = 'oauth-client-secret-5f1e0c7a9b';
const OLD_SECRET = 'oauth-client-rotated-secret-77c2';

function everyOutput(event: AuditEvent): string {
  const record = normaliseAuditEvent(event, ctx);
  const withBodies = normaliseAuditEvent(event, { ...ctx, ocsfBodies: true });
  return [serialiseRecord(record), JSON.stringify(record), JSON.stringify(withBodies)].join('\n');
}

function event(
  objectRef: Record<string, string>,
  verb: string,
  bodies: { requestObject?: JsonValue; responseObject?: JsonValue; requestURI?: string; responseStatus?: Record<string, JsonValue> },
): AuditEvent {
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    auditID: `a0000000-0000-4000-8000-${randomBytes(6).toString('hex')}`,
    stage: 'ResponseComplete',
    requestURI: `/apis/${objectRef.apiGroup}/v1/${objectRef.resource}`,
    verb,
    user: { username: 'developer', groups: ['system:authenticated:oauth'] },
    userAgent: 'oc/4.15.0 (linux/amd64) kubernetes/3c32e8b',
    objectRef: { apiVersion: 'v1', ...objectRef },
    responseStatus: { code: 200 },
    requestReceivedTimestamp: '2026-12-08T01:00:00.000000Z',
    stageTimestamp: '2026-12-08T01:00:00.010000Z',
    ...bodies,
  };
}

const ROUTE_REF = { resource: 'routes', apiGroup: 'route.openshift.io', namespace: 'shop', name: 'web' };
const route = (tls: Record<string, JsonValue> = { termination: 'edge', key: KEY, certificate: CERT, caCertificate: CERT }) => ({
  kind: 'Route',
  apiVersion: 'route.openshift.io/v1',
  metadata: { name: 'web', namespace: 'shop' },
  spec: { host: 'web.apps.example.com', to: { kind: 'Service', name: 'web' }, tls },
});
const applied = (obj: JsonValue) => ({
  ...(obj as Record<string, JsonValue>),
  metadata: { name: 'web', annotations: { [LAST_APPLIED]: JSON.stringify(obj) } },
});

describe('Route spec.tls.key', () => {
  const shapes: Record<string, AuditEvent> = {
    create: event(ROUTE_REF, 'create', { requestObject: route(), responseObject: route() }),
    'get answer': event(ROUTE_REF, 'get', { responseObject: route() }),
    'RouteList answer': event({ ...ROUTE_REF, name: '' }, 'list', {
      responseObject: { kind: 'RouteList', apiVersion: 'route.openshift.io/v1', items: [route()] },
    }),
    'watch event': event({ ...ROUTE_REF, name: '' }, 'watch', { responseObject: { type: 'ADDED', object: route() } }),
    'Table row (oc get -o yaml, includeObject)': event({ ...ROUTE_REF, name: '' }, 'list', {
      responseObject: { kind: 'Table', apiVersion: 'meta.k8s.io/v1', rows: [{ cells: ['web'], object: route() }] },
    }),
    'merge patch': event(ROUTE_REF, 'patch', { requestObject: { spec: { tls: { key: KEY } } }, responseObject: route() }),
    'JSON patch of the key': event(ROUTE_REF, 'patch', { requestObject: [{ op: 'replace', path: '/spec/tls/key', value: KEY }] }),
    'JSON patch of tls': event(ROUTE_REF, 'patch', {
      requestObject: [{ op: 'add', path: '/spec/tls', value: { termination: 'reencrypt', key: KEY } }],
    }),
    'JSON patch of spec': event(ROUTE_REF, 'patch', { requestObject: [{ op: 'replace', path: '/spec', value: route().spec }] }),
    'last-applied annotation': event(ROUTE_REF, 'create', { requestObject: applied(route()), responseObject: applied(route()) }),
    'a patch logged as text': event(ROUTE_REF, 'patch', { requestObject: `{"spec":{"tls":{"key":${JSON.stringify(KEY)}}}}` }),
  };
  for (const [name, ev] of Object.entries(shapes)) {
    it(`${name}: the private key is in no output`, () => {
      const out = everyOutput(ev);
      expect(out).not.toContain(KEY_BODY);
      expect(out).toContain('[REDACTED]');
    });
  }

  it('keeps the certificates (public) and the key field itself, so a detection sees a key was set', () => {
    const record = normaliseAuditEvent(event(ROUTE_REF, 'create', { requestObject: route() }), ctx);
    const spec = (record.raw_event.requestObject as { spec: { tls: Record<string, string> } }).spec;
    expect(spec.tls).toEqual({ termination: 'edge', key: '[REDACTED]', certificate: CERT, caCertificate: CERT });
  });
});

describe('OAuthClient secret and additionalSecrets', () => {
  const REF = { resource: 'oauthclients', apiGroup: 'oauth.openshift.io', name: 'grafana' };
  const client = {
    kind: 'OAuthClient',
    apiVersion: 'oauth.openshift.io/v1',
    metadata: { name: 'grafana' },
    secret: CLIENT_SECRET,
    additionalSecrets: [OLD_SECRET],
    redirectURIs: ['https://grafana.apps.example.com/login/generic_oauth'],
    grantMethod: 'auto',
  };
  const shapes: Record<string, AuditEvent> = {
    create: event(REF, 'create', { requestObject: client, responseObject: client }),
    list: event({ ...REF, name: '' }, 'list', { responseObject: { kind: 'OAuthClientList', items: [client] } }),
    'merge patch': event(REF, 'patch', { requestObject: { secret: CLIENT_SECRET, additionalSecrets: [OLD_SECRET] } }),
    'JSON patch': event(REF, 'patch', {
      requestObject: [
        { op: 'replace', path: '/secret', value: CLIENT_SECRET },
        { op: 'add', path: '/additionalSecrets/-', value: OLD_SECRET },
      ],
    }),
    'last-applied annotation': event(REF, 'update', { requestObject: applied(client) }),
  };
  for (const [name, ev] of Object.entries(shapes)) {
    it(`${name}: neither secret is in any output`, () => {
      const out = everyOutput(ev);
      expect(out).not.toContain(CLIENT_SECRET);
      expect(out).not.toContain(OLD_SECRET);
    });
  }
  it('keeps the keys and the rest of the client', () => {
    const record = normaliseAuditEvent(shapes.create as AuditEvent, ctx);
    expect(record.raw_event.requestObject).toMatchObject({
      secret: '[REDACTED]',
      additionalSecrets: ['[REDACTED]'],
      redirectURIs: ['https://grafana.apps.example.com/login/generic_oauth'],
    });
  });
});

describe('BuildConfig webhook secrets and Template parameters', () => {
  it("a BuildConfig's github and generic webhook secrets go; the secretReference stays", () => {
    const bc: JsonValue = {
      kind: 'BuildConfig',
      apiVersion: 'build.openshift.io/v1',
      metadata: { name: 'ruby-sample-build', namespace: 'shop' },
      spec: {
        triggers: [
          { type: 'GitHub', github: { secret: 'gh-webhook-secret-3a9f' } },
          { type: 'Generic', generic: { secret: 'generic-webhook-secret-b71c', allowEnv: true } },
          { type: 'GitLab', gitlab: { secretReference: { name: 'gitlab-hook' } } },
        ],
      },
    };
    const ref = { resource: 'buildconfigs', apiGroup: 'build.openshift.io', namespace: 'shop', name: 'ruby-sample-build' };
    for (const ev of [
      event(ref, 'create', { requestObject: bc, responseObject: bc }),
      event(ref, 'patch', { requestObject: [{ op: 'replace', path: '/spec/triggers/0/github/secret', value: 'gh-webhook-secret-3a9f' }] }),
    ]) {
      const out = everyOutput(ev);
      expect(out).not.toContain('gh-webhook-secret-3a9f');
      expect(out).not.toContain('generic-webhook-secret-b71c');
    }
    const record = normaliseAuditEvent(event(ref, 'create', { requestObject: bc }), ctx);
    expect(JSON.stringify(record.raw_event.requestObject)).toContain('"secretReference":{"name":"gitlab-hook"}');
  });

  it("a webhook call's URI carries the trigger's secret as a path segment: it goes, the rest of the URI stays", () => {
    const ref = {
      resource: 'buildconfigs',
      subresource: 'webhooks',
      apiGroup: 'build.openshift.io',
      namespace: 'shop',
      name: 'ruby-sample-build',
    };
    const uri = '/apis/build.openshift.io/v1/namespaces/shop/buildconfigs/ruby-sample-build/webhooks/gh-webhook-secret-3a9f/github';
    const ev = event(ref, 'create', { requestURI: uri, responseStatus: { code: 200 } });
    expect(everyOutput(ev)).not.toContain('gh-webhook-secret-3a9f');
    expect(normaliseAuditEvent(ev, ctx).request_uri).toBe(
      '/apis/build.openshift.io/v1/namespaces/shop/buildconfigs/ruby-sample-build/webhooks/[REDACTED]/github',
    );
  });

  it("a Template's credential-named parameter value goes; other parameters stay", () => {
    // The shape of openshift/origin's examples/db-templates (a DATABASE_USER and a DATABASE_PASSWORD parameter).
    const template = {
      kind: 'Template',
      apiVersion: 'template.openshift.io/v1',
      metadata: { name: 'postgresql-ephemeral', namespace: 'openshift' },
      parameters: [
        { name: 'POSTGRESQL_USER', value: 'shop' },
        { name: 'POSTGRESQL_PASSWORD', value: 'Tpl-pg-Passw0rd-91' },
        { name: 'MEMORY_LIMIT', value: '512Mi' },
      ],
      objects: [],
    };
    const ref = { resource: 'processedtemplates', apiGroup: 'template.openshift.io', namespace: 'shop' };
    const record = normaliseAuditEvent(event(ref, 'create', { requestObject: template, responseObject: template }), ctx);
    expect(everyOutput(event(ref, 'create', { requestObject: template }))).not.toContain('Tpl-pg-Passw0rd-91');
    expect((record.raw_event.responseObject as typeof template).parameters).toEqual([
      { name: 'POSTGRESQL_USER', value: 'shop' },
      { name: 'POSTGRESQL_PASSWORD', value: '[REDACTED]' },
      { name: 'MEMORY_LIMIT', value: '512Mi' },
    ]);
  });
});

describe('OAuth token objects named by the token (OpenShift before 4.6)', () => {
  // An OpenShift 3.x/4.5 access token: 43 characters of base64url (32 random bytes), the object's name.
  const TOKEN = randomBytes(32).toString('base64url');
  const REF = { resource: 'oauthaccesstokens', apiGroup: 'oauth.openshift.io', name: TOKEN };
  const URI = `/apis/oauth.openshift.io/v1/oauthaccesstokens/${TOKEN}`;
  const tokenObject = (name: string) => ({
    kind: 'OAuthAccessToken',
    apiVersion: 'oauth.openshift.io/v1',
    metadata: { name },
    clientName: 'openshift-challenging-client',
    userName: 'developer',
    scopes: ['user:full'],
    expiresIn: 86400,
  });

  it('a get by name: the token is in no output, the record names the object by its marker', () => {
    const ev = event(REF, 'get', { requestURI: URI, responseObject: tokenObject(TOKEN) });
    expect(everyOutput(ev)).not.toContain(TOKEN);
    const record = normaliseAuditEvent(ev, ctx);
    expect(record.k8s_object_name).toMatch(/^\[REDACTED:sha256~[A-Za-z0-9_-]{43}\]$/);
    expect(record.request_uri).toBe(`/apis/oauth.openshift.io/v1/oauthaccesstokens/${record.k8s_object_name}`);
    expect(JSON.stringify(record.ocsf)).toContain(record.k8s_object_name as string);
  });

  it('a delete (Status details name, a not-found message), a list and a watch of user tokens', () => {
    const notFound = event({ ...REF, resource: 'useroauthaccesstokens' }, 'delete', {
      requestURI: `/apis/oauth.openshift.io/v1/useroauthaccesstokens/${TOKEN}`,
      responseStatus: {
        code: 404,
        status: 'Failure',
        reason: 'NotFound',
        message: `useroauthaccesstokens.oauth.openshift.io "${TOKEN}" not found`,
        details: { name: TOKEN, group: 'oauth.openshift.io', kind: 'useroauthaccesstokens' },
      },
    });
    const list = event({ resource: 'oauthaccesstokens', apiGroup: 'oauth.openshift.io' }, 'list', {
      responseObject: { kind: 'OAuthAccessTokenList', items: [tokenObject(TOKEN)] },
    });
    const watch = event({ resource: 'oauthauthorizetokens', apiGroup: 'oauth.openshift.io' }, 'watch', {
      responseObject: { type: 'ADDED', object: { ...tokenObject(TOKEN), kind: 'OAuthAuthorizeToken' } },
    });
    for (const ev of [notFound, list, watch]) expect(everyOutput(ev)).not.toContain(TOKEN);
  });

  it('keeps a 4.6+ name (sha256~…) as it is, and two tokens stay two records (dedup)', () => {
    const hashed = `sha256~${randomBytes(32).toString('base64url')}`;
    const ev = event({ ...REF, name: hashed }, 'get', { requestURI: `/apis/oauth.openshift.io/v1/oauthaccesstokens/${hashed}` });
    expect(normaliseAuditEvent(ev, ctx).k8s_object_name).toBe(hashed);
    expect(redactEvent(ev, { resource: 'oauthaccesstokens', subresource: null })).toBe(ev);
    const other = randomBytes(32).toString('base64url');
    const a = normaliseAuditEvent(event(REF, 'get', { requestURI: URI }), ctx);
    const b = normaliseAuditEvent(
      event({ ...REF, name: other }, 'get', { requestURI: `/apis/oauth.openshift.io/v1/oauthaccesstokens/${other}` }),
      ctx,
    );
    expect(a.k8s_object_name).not.toBe(b.k8s_object_name);
  });
});

describe('other resources', () => {
  it('an event of another resource is returned as it came (no copy)', () => {
    // A Service with the fields a Route's would be redacted at: nothing here is OpenShift's.
    const ev = event({ resource: 'services', apiGroup: '', namespace: 'shop', name: 'web' }, 'create', {
      requestObject: {
        kind: 'Service',
        metadata: { name: 'web' },
        spec: { tls: { key: 'not a key' }, ports: [{ port: 443 }] },
        secret: 'x',
      },
    });
    expect(redactEvent(ev, { resource: 'services', subresource: null })).toBe(ev);
  });
});
