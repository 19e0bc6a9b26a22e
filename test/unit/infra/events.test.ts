import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../../..');
const EVENTS = join(ROOT, 'infra/events');
const FALCO = join(ROOT, 'test/fixtures/falco');
const load = (name: string) => JSON.parse(readFileSync(join(EVENTS, name), 'utf8'));

interface SubscriptionPayload {
  messageType: string;
  owner: string;
  logGroup: string;
  logStream: string;
  logEvents: { id: string; timestamp: number; message: string }[];
}

/** The documented envelope, undone: base64, then gzip, then JSON. */
const decode = (data: string) => JSON.parse(gunzipSync(Buffer.from(data, 'base64')).toString('utf8')) as SubscriptionPayload;

const falcoLines = new Set(
  readdirSync(FALCO).flatMap((f) =>
    readFileSync(join(FALCO, f), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== ''),
  ),
);

describe('infra/events', () => {
  it('wrap real audit lines in an EKS log group and audit stream', () => {
    const p = decode(load('forwarder-cloudwatch-logs.json').awslogs.data);
    expect(p.messageType).toBe('DATA_MESSAGE');
    expect(p.logGroup).toMatch(/^\/aws\/eks\/[^/]+\/cluster$/);
    expect(p.logStream).toMatch(/^kube-apiserver-audit-[0-9a-f]{32}$/);
    expect(p.logEvents.length).toBeGreaterThan(5);
    for (const e of p.logEvents) {
      expect(falcoLines.has(e.message)).toBe(true);
      expect(e.id).toMatch(/^\d{56}$/);
      expect(e.timestamp).toBe(Date.parse(JSON.parse(e.message).stageTimestamp));
    }
  });

  it('include a control message and a non-audit stream of the same group', () => {
    expect(decode(load('forwarder-control-message.json').awslogs.data)).toMatchObject({
      messageType: 'CONTROL_MESSAGE',
      owner: 'CloudwatchLogs',
      logGroup: '',
    });
    const other = decode(load('forwarder-other-stream.json').awslogs.data);
    expect(other.logStream).toMatch(/^kube-apiserver-[0-9a-f]{32}$/);
    expect(other.logGroup).toBe(decode(load('forwarder-cloudwatch-logs.json').awslogs.data).logGroup);
  });

  it('deliver subscription payloads through Kinesis as gzip record data', () => {
    const { Records } = load('forwarder-kinesis.json') as { Records: { eventSource: string; kinesis: { data: string } }[] };
    const payloads = Records.map((r) => decode(r.kinesis.data));
    expect(Records.every((r) => r.eventSource === 'aws:kinesis')).toBe(true);
    expect(payloads.map((p) => p.messageType)).toEqual(['DATA_MESSAGE', 'CONTROL_MESSAGE', 'DATA_MESSAGE']);
    const direct = decode(load('forwarder-cloudwatch-logs.json').awslogs.data).logEvents.map((e) => e.message);
    const viaKinesis = payloads.filter((p) => p.messageType === 'DATA_MESSAGE').flatMap((p) => p.logEvents.map((e) => e.message));
    expect(viaKinesis).toEqual(direct);
  });

  it('post a real EventList on the tenant route, as HTTP API and REST API events', () => {
    const v2 = load('ingest-http-api-eventlist.json');
    const v1 = load('ingest-rest-api-eventlist.json');
    expect(v2).toMatchObject({
      version: '2.0',
      routeKey: 'POST /v1/ingest/k8s-audit/{tenant_id}',
      pathParameters: { tenant_id: 'acme' },
      isBase64Encoded: false,
    });
    expect(v1).toMatchObject({ httpMethod: 'POST', resource: '/v1/ingest/k8s-audit/{tenant_id}', pathParameters: { tenant_id: 'acme' } });
    const list = JSON.parse(v2.body);
    expect(list.kind).toBe('EventList');
    expect(list.items.map((i: unknown) => JSON.stringify(i)).every((l: string) => falcoLines.has(l))).toBe(true);
    expect(v1.body).toBe(v2.body);
  });

  it('carry the same EventList gzip-compressed and base64-encoded', () => {
    const gz = load('ingest-http-api-gzip.json');
    expect(gz.isBase64Encoded).toBe(true);
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(Buffer.from(gz.body, 'base64')).toString()).toBe(load('ingest-http-api-eventlist.json').body);
  });

  it('authenticate with the env files’ secret, except the bad-token event', () => {
    for (const envFile of ['env.json', 'env.local.json']) {
      const env = load(envFile);
      const secret = env.Ingest.K8S_AUDIT_SHARED_SECRET;
      expect(env.Forwarder.K8S_AUDIT_SHARED_SECRET).toBe(secret);
      expect(load('ingest-http-api-eventlist.json').headers['x-aisoc-k8s-token']).toBe(secret);
      expect(load('ingest-rest-api-eventlist.json').headers['X-AiSOC-K8s-Token']).toBe(secret);
      expect(load('ingest-http-api-bad-token.json').headers['x-aisoc-k8s-token']).not.toBe(secret);
    }
    expect(JSON.parse(load('ingest-http-api-empty.json').body).items).toEqual([]);
  });
});
