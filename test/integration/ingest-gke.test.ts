import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gkeLogEntryToAuditEvent, type NormalisedRecord } from '../../lib/audit/index.js';
import type { IngestConfig } from '../../lib/ingest/config.js';
import type { IngestRequest } from '../../lib/ingest/request.js';
import { IngestService, type LogEntry } from '../../lib/ingest/service.js';
import { RecordWriter } from '../../lib/sinks/writer.js';
import { pushBody, withoutCloud } from '../helpers/clouds.js';
import { gkeEntries } from '../helpers/fixtures.js';
import { LocalGoogleKeys } from '../helpers/google-oidc.js';
import { eventList, ingestConfig, MemorySink, SECRET } from '../helpers/ingest.js';
import { ocsfErrors } from '../helpers/ocsf.js';

const AUDIENCE = 'https://aisoc.example.com/v1/ingest/gke-audit/acme';
const PUSH_SA = 'aisoc-push@acme-audit.iam.gserviceaccount.com';
const keys = new LocalGoogleKeys();
let config: IngestConfig;

beforeAll(async () => {
  await keys.start();
  config = ingestConfig({
    K8S_AUDIT_GKE_PUSH: JSON.stringify({ acme: { audience: AUDIENCE, serviceAccount: PUSH_SA } }),
    K8S_AUDIT_GKE_JWKS_URL: keys.url,
  });
});
afterAll(() => keys.stop());

function harness(cfg: IngestConfig = config) {
  const events = new MemorySink('events');
  const alerts = new MemorySink('alerts');
  const logs: LogEntry[] = [];
  const service = new IngestService({
    config: cfg,
    writer: new RecordWriter(events, alerts),
    log: (e) => logs.push(e),
    now: () => Date.parse('2024-05-01T12:00:00Z'),
  });
  return { service, events, logs };
}

const GOOD_CLAIMS = { aud: AUDIENCE, email: PUSH_SA, email_verified: true, sub: '113774264463038321964' };

async function push(body: string, token: string | undefined, tenant = 'acme'): Promise<IngestRequest> {
  return {
    method: 'POST',
    path: `/v1/ingest/gke-audit/${tenant}`,
    // What Pub/Sub push sends (it also sets User-Agent APIs-Google and From noreply@google.com).
    headers: {
      'content-type': 'application/json',
      'user-agent': 'APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: Buffer.from(body),
  };
}

function entry(file: string): Record<string, unknown> {
  return gkeEntries().get(file) as Record<string, unknown>;
}

function json(res: { body: string }): Record<string, unknown> {
  return JSON.parse(res.body) as Record<string, unknown>;
}

describe('the GKE route: Pub/Sub push of Cloud Logging entries', () => {
  it('stores a real GKE audit entry pushed with a valid token, equal field for field to the same event sent as an EventList', async () => {
    const gke = harness();
    const token = await keys.sign(GOOD_CLAIMS);

    const res = await gke.service.handle(await push(pushBody(entry('khi__container_recorder_test_1_1.yaml')), token));

    expect(res.status).toBe(200);
    expect(json(res)).toEqual({ accepted: 1, rejected: 0, duplicates: 0, errors: [], skipped: 0 });
    const [record] = gke.events.records as [NormalisedRecord];
    expect(record).toMatchObject({
      tenant_id: 'acme',
      cluster_name: 'sample-cluster',
      audit_id: '85371f7c-2383-4041-96e8-dad63d2d1990',
      k8s_verb: 'create',
      k8s_resource: 'pods',
      k8s_user: 'system:serviceaccount:kube-system:replicaset-controller',
      src_ip: '172.16.0.3',
    });
    expect(record.ocsf.cloud).toEqual({
      provider: 'GCP',
      region: 'us-central1',
      zone: 'us-central1-a',
      account: { uid: 'sample-project', type: 'GCP Project', type_id: 11 },
    });
    expect(ocsfErrors(record.ocsf)).toEqual([]);

    // The same event, as an apiserver webhook would send it, on the EKS-style route.
    const converted = gkeLogEntryToAuditEvent(entry('khi__container_recorder_test_1_1.yaml'));
    if (converted.kind !== 'event') throw new Error('fixture did not convert');
    const webhook = harness();
    const viaList = await webhook.service.handle({
      method: 'POST',
      path: '/v1/ingest/k8s-audit/acme',
      headers: { 'content-type': 'application/json', 'x-aisoc-k8s-token': SECRET, 'x-aisoc-cluster-name': 'sample-cluster' },
      body: Buffer.from(eventList([converted.event])),
    });
    expect(viaList.status).toBe(200);
    expect(withoutCloud(record)).toEqual(withoutCloud(webhook.events.records[0] as NormalisedRecord));
    expect(webhook.events.records[0]?.ocsf.cloud).toBeUndefined();
  });

  it('takes every real GKE entry, and the bare LogEntry of a --push-no-wrapper subscription', async () => {
    const { service, events } = harness();
    const token = await keys.sign(GOOD_CLAIMS);
    for (const e of gkeEntries().values()) expect((await service.handle(await push(pushBody(e), token))).status).toBe(200);
    const bare = { ...entry('khi__container_recorder_test_1_2.yaml'), insertId: 'c7842d26-0000-4000-8000-000000000000' };
    expect(json(await service.handle(await push(JSON.stringify(bare), token)))).toMatchObject({ accepted: 1 });
    expect(events.records.map((r) => [r.k8s_verb, r.k8s_subresource])).toEqual([
      ['create', null],
      ['patch', 'status'],
      ['patch', 'status'],
      ['patch', 'status'],
    ]);
  });

  it('answers a redelivery of the same message 200 and stores it once', async () => {
    const { service, events } = harness();
    const token = await keys.sign(GOOD_CLAIMS);
    const body = pushBody(entry('khi__container_recorder_test_1_2.yaml'));

    const first = await service.handle(await push(body, token));
    const again = await service.handle(await push(body, token));

    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(json(again)).toMatchObject({ accepted: 0, duplicates: 1 });
    expect(events.records).toHaveLength(1);
  });

  it('answers 503 when the sink cannot store the event, so Pub/Sub delivers it again', async () => {
    const { service, events } = harness();
    events.failWith = new Error('stream throttled');
    const body = pushBody(entry('khi__container_recorder_test_1_2.yaml'));
    const token = await keys.sign(GOOD_CLAIMS);

    const res = await service.handle(await push(body, token));
    events.failWith = null;
    const again = await service.handle(await push(body, token));

    expect(res.status).toBe(503);
    expect(res.headers['Retry-After']).toBe('2');
    expect(again.status).toBe(200);
    expect(events.records).toHaveLength(1);
  });

  it('acknowledges and counts entries that are not GKE Kubernetes audit entries, storing nothing', async () => {
    const { service, events, logs } = harness();
    const token = await keys.sign(GOOD_CLAIMS);
    const clusterOp = {
      ...entry('khi__container_recorder_test_1_2.yaml'),
      resource: {
        type: 'gke_cluster',
        labels: { cluster_name: 'sample-cluster', location: 'us-central1-a', project_id: 'sample-project' },
      },
      protoPayload: {
        '@type': 'type.googleapis.com/google.cloud.audit.AuditLog',
        serviceName: 'container.googleapis.com',
        methodName: 'google.container.v1.ClusterManager.CreateCluster',
      },
    };

    const res = await service.handle(await push(pushBody(clusterOp), token));

    expect(res.status).toBe(200);
    expect(json(res)).toEqual({ accepted: 0, rejected: 0, duplicates: 0, errors: [], skipped: 1 });
    expect(events.records).toEqual([]);
    expect(logs.find((l) => l.msg === 'items skipped')).toMatchObject({ count: 1, reasons: [expect.stringContaining('k8s_cluster')] });
    expect(logs.find((l) => l.msg === 'ingest request')).toMatchObject({ status: 200, skipped: 1 });
  });

  it('rejects a body that is not a push delivery with 400, and a message whose data is not a LogEntry in the answer', async () => {
    const { service } = harness();
    const token = await keys.sign(GOOD_CLAIMS);
    expect((await service.handle(await push('{"kind":"EventList","items":[]}', token))).status).toBe(400);
    expect((await service.handle(await push('not json', token))).status).toBe(400);
    const garbage = JSON.stringify({ message: { data: Buffer.from('{not json').toString('base64'), messageId: '1' }, subscription: 's' });
    const res = await service.handle(await push(garbage, token));
    expect(res.status).toBe(200);
    expect(json(res)).toMatchObject({
      accepted: 0,
      rejected: 1,
      errors: [{ index: 0, reason: expect.stringContaining('not base64 of a JSON LogEntry') }],
    });
  });

  describe('authentication as Pub/Sub push does it', () => {
    const cases: [string, () => Promise<string | undefined>, string, RegExp][] = [
      ['no Authorization header', async () => undefined, 'acme', /missing Authorization/],
      [
        'a token signed with a key Google never published',
        async () => keys.sign(GOOD_CLAIMS, { key: await LocalGoogleKeys.otherKey() }),
        'acme',
        /not a token signed by Google/,
      ],
      [
        'a token naming an unknown key',
        async () => keys.sign(GOOD_CLAIMS, { kid: 'not-published' }),
        'acme',
        /not a token signed by Google/,
      ],
      ['an expired token', async () => keys.sign({ ...GOOD_CLAIMS, expiresIn: -120, issuedAgo: 3720 }), 'acme', /expired/],
      [
        'another audience',
        async () => keys.sign({ ...GOOD_CLAIMS, aud: 'https://evil.example.com/' }),
        'acme',
        /not valid for this tenant/,
      ],
      [
        'another service account',
        async () => keys.sign({ ...GOOD_CLAIMS, email: 'someone@evil.iam.gserviceaccount.com' }),
        'acme',
        /not valid for this tenant/,
      ],
      ['an unverified email', async () => keys.sign({ ...GOOD_CLAIMS, email_verified: false }), 'acme', /not valid for this tenant/],
      ['an issuer other than Google', async () => keys.sign({ ...GOOD_CLAIMS, iss: 'https://evil.example.com' }), 'acme', /iss claim/],
      [
        'a valid token for a tenant with no subscription configured',
        async () => keys.sign(GOOD_CLAIMS),
        'other',
        /not valid for this tenant/,
      ],
      ['an unsigned token (alg none)', async () => unsigned(GOOD_CLAIMS), 'acme', /not a token signed by Google/],
      ['not a bearer token', async () => 'Basic dXNlcjpwYXNz', 'acme', /Bearer/],
    ];
    it.each(cases)('answers 401 to %s, stores nothing and never logs the token', async (_name, make, tenant, message) => {
      const { service, events, logs } = harness();
      const token = await make();
      const req = await push(
        pushBody(entry('khi__container_recorder_test_1_2.yaml')),
        token?.startsWith('Basic ') ? undefined : token,
        tenant,
      );
      if (token?.startsWith('Basic ')) (req.headers as Record<string, string>).authorization = token;

      const res = await service.handle(req);

      expect(res.status).toBe(401);
      expect(String(json(res).error)).toMatch(message);
      expect(events.records).toEqual([]);
      if (token !== undefined) {
        expect(res.body).not.toContain(token);
        expect(JSON.stringify(logs)).not.toContain(token.split('.')[2] || token);
      }
    });

    it('fetches Google keys once and reuses them across requests', async () => {
      const before = keys.fetches;
      const { service } = harness();
      const token = await keys.sign(GOOD_CLAIMS);
      for (let i = 0; i < 5; i++) {
        const body = pushBody({ ...entry('khi__container_recorder_test_1_2.yaml'), insertId: `c7842d26-11fe-446a-b985-00000000000${i}` });
        expect((await service.handle(await push(body, token))).status).toBe(200);
      }
      expect(keys.fetches - before).toBe(1);
    });

    it("answers 503 (Pub/Sub delivers again) when Google's keys cannot be fetched", async () => {
      const { service, events } = harness();
      keys.down = true;
      try {
        const res = await service.handle(
          await push(pushBody(entry('khi__container_recorder_test_1_2.yaml')), await keys.sign(GOOD_CLAIMS)),
        );
        expect(res.status).toBe(503);
        expect(res.headers['Retry-After']).toBe('2');
        expect(events.records).toEqual([]);
      } finally {
        keys.down = false;
      }
    });

    it('answers a tenant with no subscription exactly as the configured one, whatever the token (no tenant oracle)', async () => {
      // A prober without Google's keys sends what it can make: a forged, an unsigned, an expired
      // token, a well-formed one for a key Google never published; and it waits for an outage of
      // Google's keys. Before, the unconfigured tenant answered "not valid for this tenant" to all
      // of these, the configured one "not signed by Google", "expired" or 503.
      const tokens: [string, () => Promise<string>][] = [
        ['forged', async () => keys.sign(GOOD_CLAIMS, { key: await LocalGoogleKeys.otherKey() })],
        ['unknown key', async () => keys.sign(GOOD_CLAIMS, { kid: 'not-published' })],
        ['unsigned', async () => unsigned(GOOD_CLAIMS)],
        ['expired', async () => keys.sign({ ...GOOD_CLAIMS, expiresIn: -120, issuedAgo: 3720 })],
        ['not a JWT', async () => 'abc.def.ghi'],
        ['another audience', async () => keys.sign({ ...GOOD_CLAIMS, aud: 'https://evil.example.com/' })],
      ];
      const { service, events } = harness();
      const answer = async (token: string, tenant: string) => {
        const res = await service.handle(await push(pushBody(entry('khi__container_recorder_test_1_2.yaml')), token, tenant));
        return { status: res.status, body: res.body, retryAfter: res.headers['Retry-After'] };
      };
      for (const [name, make] of tokens) {
        const token = await make();
        const known = await answer(token, 'acme');
        expect(known.status, name).toBe(401);
        expect(await answer(token, 'other'), name).toEqual(known);
      }
      keys.down = true;
      try {
        // A fresh verifier, so the keys are fetched (and fail) for this request.
        const fresh = harness();
        const token = await keys.sign(GOOD_CLAIMS);
        const known = await fresh.service.handle(await push(pushBody(entry('khi__container_recorder_test_1_2.yaml')), token, 'acme'));
        const unknown = await fresh.service.handle(await push(pushBody(entry('khi__container_recorder_test_1_2.yaml')), token, 'other'));
        expect(known.status).toBe(503);
        expect([unknown.status, unknown.body]).toEqual([known.status, known.body]);
      } finally {
        keys.down = false;
      }
      expect(events.records).toEqual([]);
    });

    it('answers 503 naming K8S_AUDIT_GKE_PUSH when no tenant is configured', async () => {
      const { service } = harness(ingestConfig());
      const res = await service.handle(await push(pushBody(entry('khi__container_recorder_test_1_2.yaml')), await keys.sign(GOOD_CLAIMS)));
      expect(res.status).toBe(503);
      expect(String(json(res).error)).toContain('K8S_AUDIT_GKE_PUSH');
    });
  });

  it('takes a push of the largest LogEntry Cloud Logging allows (256 KB) within the Lambda payload limit', async () => {
    const lambda = ingestConfig({
      AWS_LAMBDA_FUNCTION_NAME: 'ingest',
      EVENTS_SINK: 'stdout',
      K8S_AUDIT_GKE_PUSH: JSON.stringify({ acme: { audience: AUDIENCE, serviceAccount: PUSH_SA } }),
      K8S_AUDIT_GKE_JWKS_URL: keys.url,
    });
    const big = structuredClone(entry('khi__container_recorder_test_1_1.yaml'));
    const payload = big.protoPayload as { request: { metadata: { annotations?: Record<string, string> } } };
    const size = Buffer.byteLength(JSON.stringify(big));
    payload.request.metadata.annotations = { padding: 'x'.repeat(256 * 1024 - size - 30) };
    expect(Math.abs(Buffer.byteLength(JSON.stringify(big)) - 256 * 1024)).toBeLessThan(64);
    const body = pushBody(big);

    const res = await harness(lambda).service.handle(await push(body, await keys.sign(GOOD_CLAIMS)));

    expect(res.status).toBe(200);
    expect(json(res)).toMatchObject({ accepted: 1 });
  });
});

/** A JWT with `alg: none` and no signature, as an attacker would send one. */
function unsigned(claims: Record<string, unknown>): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ ...claims, iss: 'https://accounts.google.com', iat: now, exp: now + 3600 })}.`;
}
