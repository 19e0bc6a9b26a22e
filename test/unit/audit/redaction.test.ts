// Redaction of every credential an audit event can carry, in the shapes the Kubernetes API
// reference documents: Secret (core/v1) bodies, lists and watch events; JSON patch (RFC 6902),
// merge patch (RFC 7386) and strategic merge patch bodies sent to `secrets`; the
// kubectl.kubernetes.io/last-applied-configuration annotation; TokenRequest
// (authentication.k8s.io/v1, serviceaccounts/token) and TokenReview (authentication.k8s.io/v1).
import { generateKeyPairSync, sign } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AuditEvent, JsonValue } from '../../../lib/audit/index.js';
import { normaliseAuditEvent, REDACTED, redactRejectedItem, serialiseRecord, validateAuditEvent } from '../../../lib/audit/index.js';
import { falcoEvent, falcoEvents } from '../../helpers/fixtures.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const ctx = { tenantId: 'acme', clusterName: 'c1', receivedAt: 0 };
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** Everything a record holds, in every form it leaves the normaliser: flat fields, raw event, OCSF (with bodies too). */
function everyOutput(event: AuditEvent): string {
  const record = normaliseAuditEvent(event, ctx);
  const withBodies = normaliseAuditEvent(event, { ...ctx, ocsfBodies: true });
  return [serialiseRecord(record), JSON.stringify(record), JSON.stringify(withBodies)].join('\n');
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
  // meta.k8s.io/v1 Table, what `kubectl get` asks for (server-side printing): each row's `object`
  // is the object itself with includeObject=Object, or by default its PartialObjectMetadata,
  // whose last-applied-configuration annotation is a copy of the Secret.
  'Table answer with includeObject=Object (kubectl get)': (k, v) =>
    event({ resource: 'secrets' }, 'list', {
      responseObject: {
        kind: 'Table',
        apiVersion: 'meta.k8s.io/v1',
        metadata: { resourceVersion: '1' },
        columnDefinitions: [{ name: 'Name', type: 'string', format: 'name' }],
        rows: [{ cells: ['s1', 'Opaque', 1, '5d'], object: secret(k, v) }],
      },
    }),
  'Table answer with PartialObjectMetadata rows (kubectl get, the default)': (k, v) =>
    event({ resource: 'secrets', name: 's1' }, 'get', {
      responseObject: {
        kind: 'Table',
        apiVersion: 'meta.k8s.io/v1',
        columnDefinitions: [{ name: 'Name', type: 'string', format: 'name' }],
        rows: [
          {
            cells: ['s1', 'Opaque', 1, '5d'],
            object: {
              kind: 'PartialObjectMetadata',
              apiVersion: 'meta.k8s.io/v1',
              metadata: { name: 's1', namespace: 'default', annotations: { [LAST_APPLIED]: JSON.stringify(secret(k, v)) } },
            },
          },
        ],
      },
    }),
  'Table of Secrets in a List of another resource': (k, v) =>
    event({ resource: 'configmaps' }, 'list', {
      responseObject: {
        kind: 'Table',
        apiVersion: 'meta.k8s.io/v1',
        rows: [
          { cells: ['cm'], object: { kind: 'ConfigMap' } },
          { cells: ['s1'], object: secret(k, v) },
        ],
      },
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

/**
 * A service-account token as kube-apiserver issues one (TokenRequest, authentication.k8s.io/v1):
 * an RS256 JWS in compact form (RFC 7515) with the claims Kubernetes writes, really signed.
 */
function serviceAccountJwt(name: string): { token: string; signature: string; unsigned: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const unsigned = `${b64({ alg: 'RS256', kid: 'V1StGXR8_Z5jdHi6B-myT' })}.${b64({
    aud: ['https://kubernetes.default.svc.cluster.local'],
    exp: 1767225600,
    iat: 1767222000,
    iss: 'https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE',
    'kubernetes.io': { namespace: 'monitoring', serviceaccount: { name, uid: '4c1e1f3a-6a0e-4b7e-9a55-2f1c0f6b8d11' } },
    nbf: 1767222000,
    sub: `system:serviceaccount:monitoring:${name}`,
  })}`;
  const signature = sign('sha256', Buffer.from(unsigned), privateKey).toString('base64url');
  return { token: `${unsigned}.${signature}`, signature, unsigned };
}

describe('JWTs outside the API’s own credential fields lose their signature', () => {
  const { token, signature, unsigned } = serviceAccountJwt('grafana');
  // Where such a token turns up in real traffic: a query sent through the apiserver's service
  // proxy, a kubeconfig kept in a ConfigMap, a container's env and args, a free-text annotation.
  const PLACES: Record<string, AuditEvent> = {
    'services/proxy query': {
      ...event({ resource: 'services', subresource: 'proxy', name: 'grafana:3000' }, 'get', {}),
      requestURI: `/api/v1/namespaces/monitoring/services/grafana:3000/proxy/api/dashboards?auth_token=${token}&orgId=1`,
    },
    'kubeconfig in a ConfigMap (the real Falco trace, one value replaced)': (() => {
      const e = structuredClone(falcoEvent('create_configmap_sensitive_values.json'));
      const kubeconfig = `apiVersion: v1\nkind: Config\nusers:\n- name: ci\n  user:\n    token: ${token}\n`;
      (e.requestObject as { data: Record<string, string> }).data.kubeconfig = kubeconfig;
      return e;
    })(),
    'container env and args': event({ resource: 'pods', name: 'p1' }, 'create', {
      requestObject: {
        kind: 'Pod',
        apiVersion: 'v1',
        metadata: { name: 'p1' },
        spec: { containers: [{ name: 'c', image: 'busybox', args: [`--token=${token}`], env: [{ name: 'API_TOKEN', value: token }] }] },
      },
    }),
    annotation: {
      ...event({ resource: 'pods', name: 'p1' }, 'get', {}),
      annotations: { 'example.com/debug': `Authorization: Bearer ${token}` },
    },
    // The token right after a character a base64url run can hold: a percent-escape's last digit
    // (`%20` for the space of "Bearer", `%22` for a quote) or anything glued to it.
    'a proxy query, after a percent-escaped space': {
      ...event({ resource: 'services', subresource: 'proxy', name: 'x' }, 'get', {}),
      requestURI: `/api/v1/namespaces/d/services/x/proxy/?auth=Bearer%20${token}`,
    },
    'a proxy query, between percent-escaped quotes': {
      ...event({ resource: 'services', subresource: 'proxy', name: 'x' }, 'get', {}),
      requestURI: `/api/v1/namespaces/d/services/x/proxy/?q=%22${token}%22`,
    },
    'glued to the text before it': {
      ...event({ resource: 'pods', name: 'p1' }, 'get', {}),
      annotations: { 'example.com/debug': `token=x${token}` },
    },
    'a map key (a ConfigMap keyed by token)': event({ resource: 'configmaps', name: 'tokens' }, 'create', {
      requestObject: { kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'tokens' }, data: { [token]: 'grafana', other: 'x' } },
    }),
  };

  for (const [place, e] of Object.entries(PLACES)) {
    it(`${place}: the signature is nowhere in the output; header and claims stay`, () => {
      expect(JSON.stringify(e)).toContain(signature);
      const out = everyOutput(e);

      expect(out).not.toContain(signature);
      expect(out).toContain(`${unsigned}.${REDACTED}`);
    });
  }

  it('scrubs the flat request_uri and the OCSF url as well as raw_event', () => {
    const record = normaliseAuditEvent(PLACES['services/proxy query'] as AuditEvent, ctx);

    expect(record.request_uri).toBe(
      `/api/v1/namespaces/monitoring/services/grafana:3000/proxy/api/dashboards?auth_token=${unsigned}.${REDACTED}&orgId=1`,
    );
    expect(JSON.stringify(record.ocsf)).not.toContain(signature);
    expect(record.raw_event.requestURI).toBe(record.request_uri);
  });

  it('a record normalised again from its stored raw event is the same record (the store derives it so)', () => {
    for (const e of Object.values(PLACES)) {
      const first = normaliseAuditEvent(e, ctx);
      const again = normaliseAuditEvent(JSON.parse(JSON.stringify(first.raw_event)) as AuditEvent, ctx);

      expect(again.dedup_key).toBe(first.dedup_key);
      expect(JSON.stringify(again)).toBe(JSON.stringify(first));
    }
  });

  it('leaves what only looks alike: base64 of JSON without dots, one JSON segment, an event with no JWT', () => {
    const blob = Buffer.from('{"auths":{"registry.example.com":{}}}').toString('base64');
    const lookalikes = event({ resource: 'configmaps', name: 'c' }, 'create', {
      requestObject: { kind: 'ConfigMap', data: { blob, dotted: 'eyJhbGciOiJub25lIn0.notjson.sig', version: 'v1.2.3' } },
    });
    const record = normaliseAuditEvent(lookalikes, ctx);

    expect(record.raw_event).toBe(lookalikes);
    const plain = falcoEvent('create_nginx_pod_privileged.json');
    expect(normaliseAuditEvent(plain, ctx).raw_event).toBe(plain);
  });

  it('knows a token whose header or claims are JSON written with spaces or line breaks', () => {
    const b64 = (text: string) => Buffer.from(text).toString('base64url');
    const signatureOf = (i: number) => `c2lnbmF0dXJl${i}XyZ-_q`;
    const tokens = [
      `${b64('{ "alg": "RS256" }')}.${b64('{"sub":"a"}')}.${signatureOf(1)}`,
      `${b64('{\n  "alg": "RS256"\n}')}.${b64('{\n  "sub": "a"\n}')}.${signatureOf(2)}`,
      `${b64('{\t"alg":"none"}')}.${b64('{ "sub":"a"}')}.${signatureOf(3)}`,
    ];
    const e = {
      ...event({ resource: 'services', subresource: 'proxy', name: 'x' }, 'get', {}),
      requestURI: `/api/v1/namespaces/d/services/x/proxy/?a=${tokens[0]}&b=${tokens[1]}&c=%20${tokens[2]}`,
    };
    const out = everyOutput(e);

    for (let i = 1; i <= 3; i++) expect(out).not.toContain(signatureOf(i));
    // Dotted text whose segments are not JSON objects is left alone.
    const names = `${b64('{ not json')}.${b64('{"a":1}')}.tail www.ewr.example.com monkey.eyes.x`;
    expect(normaliseAuditEvent({ ...e, requestURI: `/x?q=${names}` }, ctx).request_uri).toBe(`/x?q=${names}`);
  });

  it('an item rejected for its auditID does not echo a token there', () => {
    const checked = validateAuditEvent({ kind: 'Event', auditID: token, verb: 42 });

    expect(checked.ok).toBe(false);
    expect(JSON.stringify(checked)).not.toContain(signature);
    expect(JSON.stringify(checked)).toContain(`${unsigned}.${REDACTED}`);
  });

  it('redacts an item that is an event given as text, whole or cut short (an AKS log, a Pub/Sub message)', () => {
    const secret = { kind: 'Event', auditID: 'x', verb: 7, requestObject: { kind: 'Secret', data: { password: 'c2VjcmV0LWluLXRleHQ=' } } };
    const whole = JSON.stringify(secret);
    const cut = whole.slice(0, -5);
    const kept = JSON.stringify(redactRejectedItem({ properties: { log: whole }, other: cut, plain: `Bearer ${token}` }));

    expect(kept).not.toContain('c2VjcmV0LWluLXRleHQ=');
    expect(kept).not.toContain(signature);
    // The whole text is kept redacted, with its structure; the cut one up to its first credential field.
    expect(kept).toContain('\\"data\\":{\\"password\\":\\"[REDACTED]\\"}');
    expect(kept).toContain(`${JSON.stringify(cut.slice(0, cut.indexOf('"data"'))).slice(1, -1)}[REDACTED]`);
  });

  it('scrubs the items the ingest rejects and keeps', () => {
    const item = { kind: 'Event', requestURI: `/x?t=${token}`, objectRef: ['not', 'an', 'object'], extra: { [token]: 'as a key' } };
    const kept = JSON.stringify(redactRejectedItem(item));

    expect(kept).not.toContain(signature);
    expect(kept).toContain(`${unsigned}.${REDACTED}`);
  });

  it('property: a generated JWT put in any string of a real event leaves no signature in the output', () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9_-]{8,60}$/);
    const events = falcoEvents('create_nginx_pod_privileged.json').concat(falcoEvents('create_configmap.json'));
    fc.assert(
      fc.property(
        fc.constantFrom(...events),
        segment,
        segment,
        fc.stringMatching(/^[A-Za-z0-9_-]{16,90}$/),
        fc.nat(),
        (base, h, p, sig, pick) => {
          const jwt = `eyJ${h}.eyJ${p}.${sig}Zq9`;
          const e = structuredClone(base);
          // Every string value of the event, by path; one of them gets the token appended.
          const paths: (string | number)[][] = [];
          const walk = (v: unknown, path: (string | number)[]) => {
            if (typeof v === 'string') paths.push(path);
            else if (Array.isArray(v)) for (const [i, x] of v.entries()) walk(x, [...path, i]);
            else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
          };
          walk(e, []);
          const path = paths[pick % paths.length] as (string | number)[];
          let at = e as unknown as Record<string | number, unknown>;
          for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
          const last = path[path.length - 1] as string | number;
          at[last] = `${at[last] as string} ${jwt}`;
          expect(everyOutput(e)).not.toContain(`${sig}Zq9`);
        },
      ),
      { numRuns: Math.min(RUNS, 300) },
    );
  });
});
