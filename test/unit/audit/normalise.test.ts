import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AuditEvent, JsonObject } from '../../../lib/audit/index.js';
import {
  canonicalJson,
  contentDigest,
  dedupKey,
  normaliseAuditEvent,
  parseAuditPayload,
  REDACTED,
  recordedText,
  serialiseRecord,
} from '../../../lib/audit/index.js';
import { allFalcoEvents, eksRawEvent, FIXTURES, falcoEvent } from '../../helpers/fixtures.js';
import { ocsfErrors } from '../../helpers/ocsf.js';

const ctx = { tenantId: 'acme', clusterName: 'prod-eks-us-east-1', receivedAt: Date.UTC(2026, 10, 26, 1, 2, 3) };

const RECORD_KEYS = [
  'audit_id',
  'cluster_name',
  'dedup_key',
  'event_time',
  'k8s_api_group',
  'k8s_decision',
  'k8s_impersonated_user',
  'k8s_namespace',
  'k8s_object_name',
  'k8s_reason',
  'k8s_resource',
  'k8s_response_code',
  'k8s_stage',
  'k8s_subresource',
  'k8s_user',
  'k8s_user_agent',
  'k8s_user_groups',
  'k8s_verb',
  'ocsf',
  'raw_event',
  'request_uri',
  'rule_ids',
  'severity',
  'severity_reason',
  'source_ips',
  'src_ip',
  'tenant_id',
];

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

describe('normaliseAuditEvent', () => {
  it('gives every record exactly the documented keys, even for a bare event', () => {
    const full = normaliseAuditEvent(falcoEvent('exec_pod.json'), ctx);
    const bare = normaliseAuditEvent({ auditID: 'only-an-id' }, { tenantId: null, clusterName: null, receivedAt: ctx.receivedAt });
    expect(Object.keys(full).sort()).toEqual(RECORD_KEYS);
    expect(Object.keys(bare).sort()).toEqual(RECORD_KEYS);
    expect(bare).toMatchObject({
      k8s_user: null,
      k8s_user_groups: [],
      k8s_verb: null,
      k8s_resource: null,
      k8s_response_code: null,
      src_ip: null,
      source_ips: [],
      severity: 'info',
      severity_reason: 'steady-state',
    });
    expect(ocsfErrors(bare.ocsf)).toEqual([]);
  });

  it('maps the connector documentation flat fields from an exec event', () => {
    const record = normaliseAuditEvent(falcoEvent('exec_pod.json'), ctx);
    expect(record).toMatchObject({
      tenant_id: 'acme',
      cluster_name: 'prod-eks-us-east-1',
      audit_id: 'ca1ed9f4-7bf4-4c85-81a8-1b11253d1ba6',
      k8s_stage: 'ResponseStarted',
      event_time: '2018-10-26T13:38:34.867Z',
      k8s_user: 'minikube-user',
      k8s_user_groups: ['system:masters', 'system:authenticated'],
      k8s_impersonated_user: null,
      k8s_verb: 'create',
      k8s_api_group: null,
      k8s_resource: 'pods',
      k8s_subresource: 'exec',
      k8s_namespace: 'default',
      k8s_object_name: 'nginx-deployment-7998647bdf-phvq7',
      k8s_response_code: 101,
      k8s_decision: 'allow',
      k8s_reason: '',
      src_ip: '192.168.99.1',
      source_ips: ['192.168.99.1'],
      k8s_user_agent: null,
      request_uri: expect.stringContaining('exec?command=bash'),
      severity: 'high',
      severity_reason: 'pod-interactive-access',
    });
  });

  it("reads verbs named like Object.prototype's members as other verbs, never as its functions", () => {
    // Found by the GKE mapping's property test: a methodName ending in ".toString" made a verb
    // "toString", and the verb tables returned Object.prototype.toString as the activity id.
    for (const verb of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf']) {
      const record = normaliseAuditEvent({ ...falcoEvent('create_configmap.json'), verb }, ctx);
      expect(record.ocsf, verb).toMatchObject({ activity_id: 99, type_uid: 600399 });
      expect(ocsfErrors(record.ocsf), verb).toEqual([]);
    }
  });

  it('produces a schema-valid OCSF record for every real event', () => {
    const events = [...allFalcoEvents(), eksRawEvent()];
    expect(events).toHaveLength(52);
    for (const event of events) {
      const record = normaliseAuditEvent(event, ctx);
      expect({ auditID: event.auditID, errors: ocsfErrors(record.ocsf) }).toEqual({ auditID: event.auditID, errors: [] });
    }
  });

  it('places EKS fields where Amazon Security Lake puts them', () => {
    const source = { platform: 'eks' as const, accountId: '123456789012', region: 'us-east-1' };
    const { ocsf } = normaliseAuditEvent(eksRawEvent(), { ...ctx, source });
    expect(ocsf).toMatchObject({
      class_uid: 6003,
      category_uid: 6,
      activity_id: 1,
      activity_name: 'Create',
      type_uid: 600301,
      type_name: 'API Activity: Create',
      time: Date.parse('2021-09-07T20:37:30.642Z'),
      start_time: Date.parse('2021-09-07T20:37:30.502Z'),
      severity_id: 1,
      severity: 'Informational',
      status_id: 1,
      status: 'Success',
      status_code: '201',
      actor: {
        user: {
          name: 'system:node:ip-192-001-02-03.ec2.internal',
          uid: 'heptio-authenticator-aws:123456789012:ABCD1234567890EXAMPLE',
          groups: [{ name: 'system:bootstrappers' }, { name: 'system:nodes' }, { name: 'system:authenticated' }],
          type_id: 3,
        },
        session: {
          credential_uid: 'EXAMPLEUIDTEST',
          issuer: 'arn:aws:iam::123456789012:role/example-test-161366663-NodeInstanceRole-abc12345678912',
          uid: 'i-12345678901',
        },
      },
      api: { operation: 'create', request: { uid: 'f47c68f2-d3ac-4f96-b2f4-5d497bf79b64' }, response: { code: 201 }, version: 'v1' },
      // The sample's zero-padded address is written in the canonical form OCSF's ip_t accepts.
      src_endpoint: { ip: '12.0.22.33' },
      http_request: { url: { path: '/api/v1/nodes' }, user_agent: 'kubelet/v1.21.2 (linux/amd64) kubernetes/729bdfc' },
      resources: [{ type: 'nodes', name: 'ip-192-001-02-03.ec2.internal' }],
      cloud: { provider: 'AWS', region: 'us-east-1', account: { uid: '123456789012' } },
      dst_endpoint: { svc_name: 'kube-apiserver', name: 'prod-eks-us-east-1' },
      metadata: {
        version: '1.8.0',
        log_level: 'RequestResponse',
        log_name: 'Event',
        correlation_uid: 'f47c68f2-d3ac-4f96-b2f4-5d497bf79b64',
        original_event_uid: 'f47c68f2-d3ac-4f96-b2f4-5d497bf79b64',
        tenant_uid: 'acme',
        product: {
          name: 'AiSOC K8s Audit',
          vendor_name: 'AiSOC',
          feature: { name: 'Elastic Kubernetes Service' },
          version: 'audit.k8s.io/v1',
        },
      },
    });
    expect(ocsfErrors(ocsf)).toEqual([]);
  });

  it('keys dedup on tenant, cluster, auditID and stage, and uses the key as ocsf.metadata.uid', () => {
    const event = falcoEvent('exec_pod.json');
    const a = normaliseAuditEvent(event, ctx);
    const again = normaliseAuditEvent(structuredClone(event), { ...ctx, receivedAt: 0 });
    const otherStage = normaliseAuditEvent({ ...event, stage: 'ResponseComplete' }, ctx);
    const otherTenant = normaliseAuditEvent(event, { ...ctx, tenantId: 'other' });
    expect(a.dedup_key).toMatch(/^[0-9a-f]{64}$/);
    expect(again.dedup_key).toBe(a.dedup_key);
    expect(otherStage.dedup_key).not.toBe(a.dedup_key);
    expect(otherTenant.dedup_key).not.toBe(a.dedup_key);
    expect((a.ocsf.metadata as JsonObject).uid).toBe(a.dedup_key);
    expect(a.dedup_key).toBe(dedupKey('acme', 'prod-eks-us-east-1', event.auditID, 'ResponseStarted', contentDigest(event)));
  });

  it('reads the response code as an integer: "201" becomes 201, junk becomes null', () => {
    const event = falcoEvent('create_service.json');
    expect(normaliseAuditEvent({ ...event, responseStatus: { code: '201' } }, ctx).k8s_response_code).toBe(201);
    expect(normaliseAuditEvent({ ...event, responseStatus: { code: 'teapot' } }, ctx).k8s_response_code).toBeNull();
    expect(normaliseAuditEvent({ ...event, responseStatus: { code: 4.5 } }, ctx).k8s_response_code).toBeNull();
    expect(normaliseAuditEvent({ ...event, responseStatus: 'oops' as unknown as JsonObject }, ctx).k8s_response_code).toBeNull();
    const missing = normaliseAuditEvent({ ...event, responseStatus: undefined }, ctx);
    expect(missing.k8s_response_code).toBeNull();
    expect(missing.ocsf).toMatchObject({ status_id: 0, status: 'Unknown' });
  });

  it('takes the event time from requestReceivedTimestamp, then stageTimestamp, then the legacy timestamp', () => {
    const base: AuditEvent = { auditID: 't', verb: 'get' };
    const withAll = {
      ...base,
      requestReceivedTimestamp: '2024-01-02T03:04:05.123456Z',
      stageTimestamp: '2024-01-02T03:04:06Z',
      timestamp: '2024-01-01T00:00:00Z',
    };
    expect(normaliseAuditEvent(withAll, ctx).event_time).toBe('2024-01-02T03:04:05.123Z');
    expect(normaliseAuditEvent({ ...base, stageTimestamp: '2024-01-02 03:04:06' }, ctx).event_time).toBe('2024-01-02T03:04:06.000Z');
    expect(normaliseAuditEvent({ ...base, timestamp: '2024-01-02T05:04:05+02:00' }, ctx).event_time).toBe('2024-01-02T03:04:05.000Z');
  });

  it("reads a v1beta1 event's timestamp as the request's receipt and metadata.creationTimestamp as the stage's time", () => {
    // A ResponseComplete line of audit2rbac's recorded log (test/fixtures/audit2rbac/demo.log),
    // whose stage ended in the second after the request arrived.
    const line = readFileSync(join(FIXTURES, 'audit2rbac', 'demo.log'), 'utf8')
      .split('\n')
      .find((l) => l.includes('"creationTimestamp":"2017-09-11T19:57:39Z"'));
    const event = JSON.parse(line as string) as AuditEvent;
    expect(event).toMatchObject({ apiVersion: 'audit.k8s.io/v1beta1', timestamp: '2017-09-11T19:57:38Z' });
    const record = normaliseAuditEvent(event, ctx);
    expect(record.event_time).toBe('2017-09-11T19:57:38.000Z');
    expect(record.ocsf).toMatchObject({ start_time: Date.parse('2017-09-11T19:57:38Z'), time: Date.parse('2017-09-11T19:57:39Z') });
    // A v1 event's metadata (empty as the apiserver writes it) is never read for a time.
    const v1 = normaliseAuditEvent(
      {
        auditID: 't',
        verb: 'get',
        requestReceivedTimestamp: '2024-01-02T03:04:05Z',
        metadata: { creationTimestamp: '2020-01-01T00:00:00Z' },
      },
      ctx,
    );
    expect(v1.ocsf.time).toBe(Date.parse('2024-01-02T03:04:05Z'));
  });

  it('keeps an event without a usable timestamp, at the time it was received, and says so', () => {
    const record = normaliseAuditEvent(
      { auditID: 't', verb: 'get', requestReceivedTimestamp: 'yesterday', stageTimestamp: '2024-02-31T00:00:00Z' },
      ctx,
    );
    expect(record.event_time).toBe('2026-11-26T01:02:03.000Z');
    expect(record.ocsf.time).toBe(ctx.receivedAt);
    expect((record.ocsf.unmapped as JsonObject).event_time_source).toMatch(/^received/);
  });

  it('surfaces impersonation in the flat shape and in ocsf.unmapped', () => {
    const event = { ...falcoEvent('create_service.json'), impersonatedUser: { username: 'system:admin', groups: ['system:masters'] } };
    const record = normaliseAuditEvent(event, ctx);
    expect(record.k8s_impersonated_user).toBe('system:admin');
    expect((record.ocsf.unmapped as JsonObject).impersonatedUser).toEqual({ username: 'system:admin', groups: ['system:masters'] });
    expect(record.severity).toBe('high');
  });

  it('falls back to the response object name for create with generateName', () => {
    const event = falcoEvent('create_nginx_pod_privileged.json');
    const { objectRef, ...rest } = event;
    const generated = {
      ...rest,
      objectRef: { ...objectRef, name: undefined },
      responseObject: { kind: 'Pod', metadata: { name: 'web-x7k2p' } },
    };
    expect(normaliseAuditEvent(generated, ctx).k8s_object_name).toBe('web-x7k2p');
  });

  it("keeps source addresses that are no IP out of OCSF ip fields, and never puts a later one in the source's place", () => {
    const record = normaliseAuditEvent({ auditID: 'ip', verb: 'get', sourceIPs: ['not-an-ip', '10.0.0.1', '2001:DB8::1'] }, ctx);
    expect(record.src_ip).toBe('not-an-ip');
    // sourceIPs[0] is the client; the entries after it are the proxies it came through.
    expect(record.ocsf.src_endpoint).toEqual({ name: 'unknown', intermediate_ips: ['10.0.0.1', '2001:db8::1'] });
    expect(JSON.stringify(record.ocsf.observables ?? [])).not.toContain('src_endpoint.ip');
    expect((record.ocsf.unmapped as JsonObject).source_ips_not_addresses).toEqual(['not-an-ip']);
    expect(ocsfErrors(record.ocsf)).toEqual([]);
  });

  it('writes an IPv6 source address with its zone as the address (ip_t holds no zone)', () => {
    const record = normaliseAuditEvent({ auditID: 'zone', verb: 'get', sourceIPs: ['FE80::1%eth0', '2001:db8::1'] }, ctx);
    expect(record.src_ip).toBe('FE80::1%eth0');
    expect(record.ocsf.src_endpoint).toEqual({ ip: 'fe80::1', intermediate_ips: ['2001:db8::1'] });
    expect(ocsfErrors(record.ocsf)).toEqual([]);
  });

  it('never mutates the input event', () => {
    const event = deepFreeze({
      ...falcoEvent('create_secret.json'),
      requestObject: { kind: 'Secret', data: { password: 'aHVudGVyMg==' } },
    });
    const before = JSON.stringify(event);
    normaliseAuditEvent(event, ctx);
    expect(JSON.stringify(event)).toBe(before);
  });
});

describe('secret redaction', () => {
  const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

  it('redacts data and stringData of a Secret in raw_event and ocsf, keeping the keys', () => {
    const event: AuditEvent = {
      ...falcoEvent('create_secret.json'),
      requestObject: {
        kind: 'Secret',
        metadata: {
          name: 'db',
          annotations: { [LAST_APPLIED]: JSON.stringify({ kind: 'Secret', data: { password: 'aHVudGVyMg==' } }) },
        },
        data: { password: 'aHVudGVyMg==' },
        stringData: { token: 's3cr3t' },
      },
      responseObject: { kind: 'Secret', metadata: { name: 'db' }, data: { password: 'aHVudGVyMg==' } },
    };
    const record = normaliseAuditEvent(event, ctx);
    const text = JSON.stringify(record);
    expect(text).not.toContain('aHVudGVyMg==');
    expect(text).not.toContain('s3cr3t');
    expect(record.raw_event.requestObject).toMatchObject({ data: { password: REDACTED }, stringData: { token: REDACTED } });
    const annotation = (((record.raw_event.requestObject as JsonObject).metadata as JsonObject).annotations as JsonObject)[LAST_APPLIED];
    expect(JSON.parse(annotation as string)).toEqual({ kind: 'Secret', data: { password: REDACTED } });
    // Bodies are in raw_event; OCSF carries them only when asked, and then redacted too.
    expect(((record.ocsf.api as JsonObject).response as JsonObject).data).toBeUndefined();
    const withBodies = normaliseAuditEvent(event, { ...ctx, ocsfBodies: true });
    expect(((withBodies.ocsf.api as JsonObject).response as JsonObject).data).toMatchObject({ data: { password: REDACTED } });
    expect(((withBodies.ocsf.api as JsonObject).request as JsonObject).data).toMatchObject({ stringData: { token: REDACTED } });
    expect(ocsfErrors(withBodies.ocsf)).toEqual([]);
  });

  it('redacts every item of a secrets list response', () => {
    const event: AuditEvent = {
      auditID: 'list',
      verb: 'list',
      objectRef: { resource: 'secrets', namespace: 'default', apiVersion: 'v1' },
      responseObject: {
        kind: 'SecretList',
        items: [
          { metadata: { name: 'a' }, data: { k: 'djE=' } },
          { metadata: { name: 'b' }, data: { k: 'djI=' } },
        ],
      },
    };
    const text = JSON.stringify(normaliseAuditEvent(event, ctx));
    expect(text).not.toContain('djE=');
    expect(text).not.toContain('djI=');
  });

  it('redacts a patch body sent to the secrets resource, which carries no kind', () => {
    const event: AuditEvent = {
      auditID: 'p',
      verb: 'patch',
      objectRef: { resource: 'secrets', name: 'db' },
      requestObject: { data: { password: 'bmV3' } },
    };
    expect(normaliseAuditEvent(event, ctx).raw_event.requestObject).toEqual({ data: { password: REDACTED } });
  });

  it('leaves bodies of other resources as they are', () => {
    const event = falcoEvent('create_configmap_no_sensitive_values.json');
    expect(normaliseAuditEvent(event, ctx).raw_event).toBe(event);
  });

  it("redacts a pair line naming a credential in a ConfigMap's file (Falco's trace: an AWS credentials file in access.properties)", () => {
    const event = falcoEvent('create_configmap_sensitive_values.json');
    const data = (normaliseAuditEvent(event, ctx).raw_event.requestObject as { data: Record<string, string> }).data;
    expect(data).toEqual({
      'access.properties': `aws_access_key_id = MY-ID\naws_secret_access_key = ${REDACTED}\n`,
      'ui.properties': 'color.good=purple\ncolor.bad=yellow\nallow.textmode=true\n',
    });
  });

  it('reads key = value, KEY=value, export KEY="value" and key: value lines, and leaves URLs, host:port and reference names alone', () => {
    const text = [
      'db_password=hunter2',
      'export API_TOKEN="tok-123456"',
      '  client_secret: s3cr3t-value',
      'endpoint: https://example.com:8443/path',
      'listen=0.0.0.0:9090',
      'password_file = /etc/app/password',
      'tls_secret_name: app-tls',
      '[section]',
    ].join('\n');
    const e: AuditEvent = {
      auditID: 'cm',
      verb: 'create',
      objectRef: { resource: 'configmaps', name: 'app' },
      requestObject: { kind: 'ConfigMap', data: { 'app.conf': text } },
    };
    const kept = (normaliseAuditEvent(e, ctx).raw_event.requestObject as { data: Record<string, string> }).data['app.conf'];
    expect(kept).toBe(
      [
        `db_password=${REDACTED}`,
        `export API_TOKEN=${REDACTED}`,
        `  client_secret: ${REDACTED}`,
        'endpoint: https://example.com:8443/path',
        'listen=0.0.0.0:9090',
        'password_file = /etc/app/password',
        'tls_secret_name: app-tls',
        '[section]',
      ].join('\n'),
    );
  });

  it('replaces an unparseable last-applied annotation whole', () => {
    const event: AuditEvent = {
      auditID: 'la',
      verb: 'update',
      objectRef: { resource: 'secrets', name: 'db' },
      requestObject: { kind: 'Secret', metadata: { annotations: { [LAST_APPLIED]: '{not json password=hunter2' } } },
    };
    expect(JSON.stringify(normaliseAuditEvent(event, ctx))).not.toContain('hunter2');
  });
});

describe('serialiseRecord', () => {
  it('writes the same record as JSON.stringify, raw_event as the text the normaliser wrote for its digest', () => {
    const event = falcoEvent('exec_pod.json');
    const record = normaliseAuditEvent(event, ctx);
    const line = serialiseRecord(record);
    expect(JSON.parse(line)).toEqual(JSON.parse(JSON.stringify(record)));
    expect(line).toContain(`"raw_event":${canonicalJson(record.raw_event)},"ocsf":`);
    expect(line).not.toContain('\n');
  });

  it('serialises a redacted raw_event', () => {
    const event: AuditEvent = {
      auditID: 's',
      verb: 'create',
      objectRef: { resource: 'secrets' },
      requestObject: { data: { k: 'c2VjcmV0' } },
    };
    const line = serialiseRecord(normaliseAuditEvent(event, ctx));
    expect(line).not.toContain('c2VjcmV0');
    expect(JSON.parse(line).raw_event.requestObject).toEqual({ data: { k: REDACTED } });
  });

  it('never writes what the source text holds and the parsed event does not: a key given twice hides nothing', () => {
    // JSON.parse keeps the last of two equal keys: a Secret's data sent first, then a harmless
    // responseObject, leaves the parsed event with nothing to redact and the text with the value.
    const text =
      '{"kind":"Event","auditID":"dup","stage":"ResponseComplete","verb":"get","objectRef":{"resource":"configmaps","name":"c"},' +
      '"responseObject":{"kind":"Secret","data":{"password":"UEFTU1dPUkQ="}},"responseObject":{"kind":"ConfigMap","data":{"a":"b"}}}';
    const parsed = parseAuditPayload(`{"kind":"EventList","items":[${text}]}`);
    const record = normaliseAuditEvent(parsed.events[0] as AuditEvent, ctx);

    expect(serialiseRecord(record)).not.toContain('UEFTU1dPUkQ=');
    expect(recordedText(record.raw_event)).not.toContain('UEFTU1dPUkQ=');
  });
});
