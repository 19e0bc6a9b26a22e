// Redaction of every credential an audit event can carry, in the shapes the Kubernetes API
// reference documents: Secret (core/v1) bodies, lists and watch events; JSON patch (RFC 6902),
// merge patch (RFC 7386) and strategic merge patch bodies sent to `secrets`; the
// kubectl.kubernetes.io/last-applied-configuration annotation; TokenRequest
// (authentication.k8s.io/v1, serviceaccounts/token) and TokenReview (authentication.k8s.io/v1).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AuditEvent, JsonValue } from '../../../lib/audit/index.js';
import { normaliseAuditEvent, REDACTED, serialiseRecord } from '../../../lib/audit/index.js';
import { falcoEvent, falcoEvents } from '../../helpers/fixtures.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const ctx = { tenantId: 'acme', clusterName: 'c1', receivedAt: 0 };
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** Everything a record holds, in every form it leaves the normaliser: flat fields, raw event, OCSF (with bodies too). */
function everyOutput(event: AuditEvent): string {
  const text = JSON.stringify(event);
  const record = normaliseAuditEvent(event, ctx);
  const withBodies = normaliseAuditEvent(event, { ...ctx, ocsfBodies: true });
  return [serialiseRecord(record, event, text), JSON.stringify(record), JSON.stringify(withBodies)].join('\n');
}

function event(
  objectRef: Record<string, string>,
  verb: string,
  bodies: { requestObject?: JsonValue; responseObject?: JsonValue },
): AuditEvent {
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    auditID: 'c0ffee00-0000-4000-8000-000000000001',
    stage: 'ResponseComplete',
    requestURI: `/api/v1/namespaces/default/${objectRef.resource}`,
    verb,
    user: { username: 'alice' },
    objectRef: { namespace: 'default', apiVersion: 'v1', ...objectRef },
    responseStatus: { code: 200 },
    requestReceivedTimestamp: '2024-05-01T12:00:00.000000Z',
    stageTimestamp: '2024-05-01T12:00:00.100000Z',
    ...bodies,
  };
}

const secret = (key: string, value: string, field: 'data' | 'stringData' = 'data') => ({
  kind: 'Secret',
  apiVersion: 'v1',
  metadata: { name: 's1', namespace: 'default' },
  type: 'Opaque',
  [field]: { [key]: value },
});

/** The documented shapes a credential travels in; each builds an event from a key and a secret value. */
const SHAPES: Record<string, (key: string, value: string) => AuditEvent> = {
  'Secret create (data)': (k, v) =>
    event({ resource: 'secrets', name: 's1' }, 'create', { requestObject: secret(k, v), responseObject: secret(k, v) }),
  'Secret update (stringData)': (k, v) =>
    event({ resource: 'secrets', name: 's1' }, 'update', { requestObject: secret(k, v, 'stringData') }),
  'Secret get answer': (k, v) => event({ resource: 'secrets', name: 's1' }, 'get', { responseObject: secret(k, v) }),
  'Secret delete answer': (k, v) => event({ resource: 'secrets', name: 's1' }, 'delete', { responseObject: secret(k, v) }),
  'SecretList answer (list)': (k, v) =>
    event({ resource: 'secrets' }, 'list', {
      responseObject: { kind: 'SecretList', apiVersion: 'v1', metadata: {}, items: [secret(k, v)] },
    }),
  'watch event answer': (k, v) => event({ resource: 'secrets' }, 'watch', { responseObject: { type: 'ADDED', object: secret(k, v) } }),
  'watch event of another resource': (k, v) =>
    event({ resource: 'events' }, 'watch', { responseObject: { kind: 'WatchEvent', type: 'MODIFIED', object: secret(k, v) } }),
  'List holding a Secret': (k, v) =>
    event({ resource: 'configmaps' }, 'list', {
      responseObject: { kind: 'List', apiVersion: 'v1', items: [{ kind: 'ConfigMap' }, secret(k, v)] },
    }),
  'JSON patch replace /data/<key>': (k, v) =>
    event({ resource: 'secrets', name: 's1' }, 'patch', {
      requestObject: [{ op: 'replace', path: `/data/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, value: v }],
    }),
  'JSON patch add /stringData': (k, v) =>
    event({ resource: 'secrets', name: 's1' }, 'patch', { requestObject: [{ op: 'add', path: '/stringData', value: { [k]: v } }] }),
  'JSON patch test /data/<key>': (k, v) =>
    event({ resource: 'secrets', name: 's1' }, 'patch', {
      requestObject: [
        { op: 'test', path: `/data/${k}`, value: v },
        { op: 'remove', path: `/data/${k}` },
      ],
    }),
  'JSON patch replace /': (k, v) =>
    event({ resource: 'secrets', name: 's1' }, 'patch', { requestObject: [{ op: 'replace', path: '', value: secret(k, v) }] }),
  'JSON patch of the last-applied annotation': (k, v) =>
    event({ resource: 'secrets', name: 's1' }, 'patch', {
      requestObject: [{ op: 'add', path: `/metadata/annotations/${LAST_APPLIED.replace('/', '~1')}`, value: JSON.stringify(secret(k, v)) }],
    }),
  'JSON patch of /metadata/annotations': (k, v) =>
    event({ resource: 'secrets', name: 's1' }, 'patch', {
      requestObject: [{ op: 'add', path: '/metadata/annotations', value: { [LAST_APPLIED]: JSON.stringify(secret(k, v)), team: 'a' } }],
    }),
  'merge patch': (k, v) => event({ resource: 'secrets', name: 's1' }, 'patch', { requestObject: { data: { [k]: v } } }),
  'strategic merge patch with directives': (k, v) =>
    event({ resource: 'secrets', name: 's1' }, 'patch', {
      requestObject: {
        $patch: 'merge',
        stringData: { [k]: v },
        metadata: { annotations: { [LAST_APPLIED]: JSON.stringify(secret(k, v)) } },
      },
    }),
  'patch logged as text': (k, v) => event({ resource: 'secrets', name: 's1' }, 'patch', { requestObject: `stringData:\n  ${k}: ${v}\n` }),
  'last-applied-configuration of a created Secret': (k, v) =>
    event({ resource: 'secrets', name: 's1' }, 'create', {
      requestObject: {
        ...secret(k, 'c2FmZQ=='),
        metadata: { name: 's1', annotations: { [LAST_APPLIED]: JSON.stringify(secret(k, v, 'stringData')) } },
      },
    }),
  'last-applied-configuration that is not JSON': (k, v) =>
    event({ resource: 'secrets', name: 's1' }, 'update', {
      requestObject: { kind: 'Secret', metadata: { name: 's1', annotations: { [LAST_APPLIED]: `{"stringData":{"${k}":"${v}"` } } },
    }),
  'TokenRequest answer (serviceaccounts/token)': (_k, v) =>
    event({ resource: 'serviceaccounts', subresource: 'token', name: 'default' }, 'create', {
      requestObject: {
        kind: 'TokenRequest',
        apiVersion: 'authentication.k8s.io/v1',
        spec: { audiences: ['https://kubernetes.default.svc'], expirationSeconds: 3600 },
      },
      responseObject: {
        kind: 'TokenRequest',
        apiVersion: 'authentication.k8s.io/v1',
        spec: { audiences: ['https://kubernetes.default.svc'], expirationSeconds: 3600 },
        status: { token: v, expirationTimestamp: '2024-05-01T13:00:00Z' },
      },
    }),
  'TokenRequest without kind': (_k, v) =>
    event({ resource: 'serviceaccounts', subresource: 'token', name: 'default' }, 'create', { responseObject: { status: { token: v } } }),
  TokenReview: (_k, v) =>
    event({ resource: 'tokenreviews', apiGroup: 'authentication.k8s.io', apiVersion: 'v1' }, 'create', {
      requestObject: { kind: 'TokenReview', apiVersion: 'authentication.k8s.io/v1', spec: { token: v, audiences: ['api'] } },
      responseObject: {
        kind: 'TokenReview',
        apiVersion: 'authentication.k8s.io/v1',
        spec: { token: v },
        status: { authenticated: true, user: { username: 'system:serviceaccount:default:app' } },
      },
    }),
};

describe('redaction of credentials in every documented shape', () => {
  for (const [name, build] of Object.entries(SHAPES)) {
    it(`${name}: the value is nowhere in the output, the key stays`, () => {
      const value = 'c3VwZXJzZWNyZXQtdmFsdWUtMTIzNDU2Nzg5';
      const out = everyOutput(build('db-password', value));

      expect(out).not.toContain(value);
      expect(out).toContain(REDACTED);
      if (!name.startsWith('Token') && name !== 'patch logged as text' && !name.includes('not JSON')) expect(out).toContain('db-password');
    });
  }

  it('leaves bodies without credentials as they are', () => {
    const pod = falcoEvent('create_nginx_pod_privileged.json');
    const record = normaliseAuditEvent(pod, ctx);

    expect(record.raw_event).toBe(pod);
    const typePatch = normaliseAuditEvent(
      event({ resource: 'secrets' }, 'patch', { requestObject: [{ op: 'replace', path: '/type', value: 'Opaque' }] }),
      ctx,
    );
    expect(typePatch.raw_event.requestObject).toEqual([{ op: 'replace', path: '/type', value: 'Opaque' }]);
  });

  it('redacts the real Falco Secret traces (create, delete, service-account token Secret)', () => {
    for (const file of [
      'create_secret.json',
      'create_kube_system_secret.json',
      'create_service_account_token_secret.json',
      'delete_secret.json',
    ]) {
      for (const e of falcoEvents(file)) {
        const bodies = [e.requestObject, e.responseObject].filter((b) => typeof b === 'object' && b !== null) as {
          data?: Record<string, string>;
        }[];
        const values = bodies.flatMap((b) => Object.values(b.data ?? {})).filter((v) => typeof v === 'string' && v.length > 3);
        const out = everyOutput(e);
        for (const v of values) expect(out, file).not.toContain(v);
      }
    }
  });
});

describe('redaction property', () => {
  // Values that cannot occur by chance in the rest of a record (base64 alphabet, a fixed prefix).
  const secretValue = fc.stringMatching(/^[A-Za-z0-9+/]{12,40}={0,2}$/).map((s) => `zQ9${s}`);
  const key = fc.stringMatching(/^[A-Za-z0-9._-]{1,20}$/);

  it('no generated Secret or token, in any shape, appears anywhere in the output', () => {
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(SHAPES)), key, secretValue, (shape, k, v) => {
        const out = everyOutput((SHAPES[shape] as (k: string, v: string) => AuditEvent)(k, v));
        expect(out).not.toContain(v);
      }),
      { numRuns: RUNS },
    );
  });
});
