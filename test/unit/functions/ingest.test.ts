import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, APIGatewayProxyResult, Context } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { NormalisedRecord } from '../../../lib/audit/index.js';
import { INGEST_METRIC_NAMES, METRICS_NAMESPACE } from '../../../lib/metrics/index.js';
import { FIXTURES } from '../../helpers/fixtures.js';
import { captureStdout } from '../../helpers/forwarder.js';
import { EMPTY_EVENT_LIST, eventList, reserialised, reusedAuditIdPair, SECRET, uniqueFalcoEvents } from '../../helpers/ingest.js';

type Handler = (event: unknown, ctx: Context) => Promise<APIGatewayProxyResult>;

const context = {
  awsRequestId: 'req-1',
  functionName: 'aisoc-k8s-audit-ingest',
  getRemainingTimeInMillis: () => 29_000,
} as unknown as Context;

function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, 'apigateway', name), 'utf8')) as T;
}

/** The captured HTTP API (payload 2.0) event, aimed at a route with a body. */
function v2Event(path: string, body: string | Buffer, headers: Record<string, string> = {}, stage = '$default'): APIGatewayProxyEventV2 {
  const e = fixture<APIGatewayProxyEventV2>('powertools-ts__apigw-http__no-auth.json');
  const binary = Buffer.isBuffer(body);
  const rawPath = stage === '$default' ? path : `/${stage}${path}`;
  return {
    ...e,
    routeKey: 'POST /v1/ingest/k8s-audit/{tenant_id}',
    rawPath,
    headers: { ...e.headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers },
    requestContext: { ...e.requestContext, stage, http: { ...e.requestContext.http, path: rawPath } },
    body: binary ? body.toString('base64') : body,
    isBase64Encoded: binary,
  };
}

/** The captured REST API (payload 1.0) event, aimed at a route with a body. */
function v1Event(
  path: string,
  body: string,
  headers: Record<string, string> = {},
  query: Record<string, string> | null = null,
): APIGatewayProxyEvent {
  const e = fixture<APIGatewayProxyEvent>('powertools-ts__apigw-rest__no-auth.json');
  return {
    ...e,
    resource: '/v1/ingest/k8s-audit/{tenant_id}',
    path,
    headers: { ...e.headers, 'Content-Type': 'application/json', ...headers },
    queryStringParameters: query,
    requestContext: { ...e.requestContext, path: `/prod${path}`, resourcePath: '/v1/ingest/k8s-audit/{tenant_id}' },
    body,
    isBase64Encoded: false,
  };
}

async function loadHandler(env: Record<string, string>): Promise<Handler> {
  vi.resetModules();
  vi.stubEnv('AWS_LAMBDA_FUNCTION_NAME', 'aisoc-k8s-audit-ingest');
  for (const name of [
    'EVENTS_SINK',
    'ALERTS_SINK',
    'INBOX_TABLE',
    'K8S_AUDIT_SHARED_SECRET',
    'K8S_AUDIT_SHARED_SECRET_PREVIOUS',
    'K8S_AUDIT_MAX_BODY_BYTES',
  ]) {
    vi.stubEnv(name, '');
  }
  for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
  const mod = (await import('../../../functions/ingest.js')) as { handler: Handler };
  return mod.handler;
}

const records = (lines: Record<string, unknown>[]) => lines.filter((l) => 'dedup_key' in l) as unknown as NormalisedRecord[];

describe('functions/ingest (the ingest Lambda)', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it('takes an HTTP API (v2) event and writes every record to the stdout sink', async () => {
    const out = captureStdout();
    const handler = await loadHandler({ EVENTS_SINK: 'stdout', K8S_AUDIT_SHARED_SECRET: SECRET });
    const items = uniqueFalcoEvents();

    const res = await handler(
      v2Event('/v1/ingest/k8s-audit/acme', eventList(items), { 'x-aisoc-k8s-token': SECRET, 'x-aisoc-cluster-name': 'eks-1' }),
      context,
    );

    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ accepted: items.length, rejected: 0, duplicates: 0, errors: [] });
    expect(res.headers?.['Content-Type']).toMatch(/application\/json/);
    expect(records(out.lines()).map((r) => [r.audit_id, r.tenant_id, r.cluster_name])).toEqual(
      items.map((e) => [e.auditID, 'acme', 'eks-1']),
    );
    expect(out.logs().filter((l) => l.message === 'ingest request')).toMatchObject([
      { tenant: 'acme', status: 200, accepted: items.length },
    ]);
    expect(out.text()).not.toContain(SECRET);
  });

  it('logs one line per request (request id, tenant, cluster, counts, rejects, timings) and emits one EMF document', async () => {
    const out = captureStdout();
    const handler = await loadHandler({ EVENTS_SINK: 'stdout', K8S_AUDIT_SHARED_SECRET: SECRET, LOG_LEVEL: 'INFO' });
    const items = uniqueFalcoEvents().slice(0, 6);
    // Six real events, one of them again (a duplicate) and one item that is not an Event (a reject).
    const body = eventList([...items, items[0], { kind: 'Event', apiVersion: 'audit.k8s.io/v1', stage: 'ResponseComplete' }]);

    const res = await handler(
      v2Event('/v1/ingest/k8s-audit/acme', body, { 'x-aisoc-k8s-token': SECRET, 'x-aisoc-cluster-name': 'eks-1' }),
      context,
    );

    expect(res.statusCode).toBe(200);
    const lines = out.logs().filter((l) => l.message === 'ingest request');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'INFO',
      service: 'aisoc-k8s-audit-ingest',
      function_name: 'aisoc-k8s-audit-ingest',
      function_request_id: 'req-1',
      cold_start: expect.any(Boolean),
      route: 'ingest',
      tenant: 'acme',
      cluster: 'eks-1',
      status: 200,
      items: 8,
      accepted: 6,
      rejected: 1,
      rejected_items: [{ index: 7, auditID: null, reason: expect.any(String) }],
      duplicates: 1,
      bytes: Buffer.byteLength(body),
    });
    expect(lines[0]?.timestamp).toEqual(expect.any(String));
    expect(lines[0]?.sink_ms).toEqual(expect.any(Number));
    const docs = out.emf('EventsAccepted');
    expect(docs).toHaveLength(1);
    const doc = docs[0] as Record<string, unknown> & {
      _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
    };
    const directive = doc._aws.CloudWatchMetrics[0];
    expect(directive?.Namespace).toBe(METRICS_NAMESPACE);
    // Tenant and cluster are never dimensions (unbounded): only the function's service name.
    expect(directive?.Dimensions).toEqual([['service']]);
    expect(directive?.Metrics.map((m) => m.Name).sort()).toEqual([...INGEST_METRIC_NAMES].sort());
    expect(doc).toMatchObject({
      service: 'aisoc-k8s-audit-ingest',
      Requests: 1,
      EventsAccepted: 6,
      EventsRejected: 1,
      EventsDuplicate: 1,
      SinkFailures: 0,
      AuthFailures: 0,
      Responses5xx: 0,
      BodyBytes: Buffer.byteLength(body),
    });
    expect(doc.HandlerTime).toEqual(expect.any(Number));
    expect(doc).not.toHaveProperty('tenant');
    expect(out.text()).not.toContain(SECRET);
  });

  it('counts a wrong token (401) and a route turned off (503: the webhook without a secret, GKE push without tenants) as separate metrics, and logs neither token', async () => {
    const out = captureStdout();
    const handler = await loadHandler({ EVENTS_SINK: 'stdout', K8S_AUDIT_SHARED_SECRET: SECRET });
    const wrong = 'wrong-token-5f4e3d2c1b0a';

    const res = await handler(v2Event('/v1/ingest/k8s-audit/acme', EMPTY_EVENT_LIST, { 'x-aisoc-k8s-token': wrong }), context);

    expect(res.statusCode).toBe(401);
    expect(out.emf('AuthFailures')).toMatchObject([{ AuthFailures: 1, AuthUnavailable: 0, Responses4xx: 1, Requests: 1 }]);
    expect(out.logs().filter((l) => l.message === 'ingest request')).toMatchObject([
      { level: 'WARN', status: 401, tenant: 'acme', failure: 'unauthorized' },
    ]);
    expect(out.text()).not.toContain(wrong);
    expect(out.text()).not.toContain(SECRET);

    vi.restoreAllMocks();
    const off = captureStdout();
    const disabled = await loadHandler({ EVENTS_SINK: 'stdout' });
    const res503 = await disabled(v2Event('/v1/ingest/k8s-audit/acme', EMPTY_EVENT_LIST, { 'x-aisoc-k8s-token': wrong }), context);

    expect(res503.statusCode).toBe(503);
    // A stranger's POST, with no token, to the GKE route a stack without GkePushTenants keeps off.
    const gke = await disabled(v2Event('/v1/ingest/gke-audit/acme', '{}', {}), context);
    expect(gke.statusCode).toBe(503);
    // Anyone can draw these; the alarms tell them from an outage (Responses5xx - RoutesOff).
    expect(off.emf('RoutesOff')).toMatchObject([
      { AuthFailures: 0, AuthUnavailable: 0, RoutesOff: 1, Responses5xx: 1 },
      { AuthFailures: 0, AuthUnavailable: 0, RoutesOff: 1, Responses5xx: 1 },
    ]);
    expect(off.logs().filter((l) => l.message === 'ingest request')).toMatchObject([
      { status: 503, failure: 'route_off' },
      { status: 503, failure: 'route_off' },
    ]);
    expect(off.text()).not.toContain(wrong);
  });

  it('lists every reject of a bad batch at DEBUG only for the sampled share of requests', async () => {
    const bad = Array.from({ length: 7 }, () => ({ kind: 'Event', apiVersion: 'audit.k8s.io/v1' }));
    const body = eventList([...uniqueFalcoEvents().slice(0, 2), ...bad]);
    const event = v2Event('/v1/ingest/k8s-audit/acme', body, { 'x-aisoc-k8s-token': SECRET });
    const debugLines = async (env: Record<string, string>) => {
      const out = captureStdout();
      const handler = await loadHandler({ EVENTS_SINK: 'stdout', K8S_AUDIT_SHARED_SECRET: SECRET, LOG_LEVEL: 'INFO', ...env });
      expect((await handler(event, context)).statusCode).toBe(200);
      const lines = out.logs();
      vi.restoreAllMocks();
      // The request line is there either way, naming the first five.
      expect(lines.find((l) => l.message === 'ingest request')).toMatchObject({ rejected: 7, rejected_items: { length: 5 } });
      return lines.filter((l) => l.level === 'DEBUG' && l.message === 'rejected items');
    };

    expect(await debugLines({ POWERTOOLS_LOGGER_SAMPLE_RATE: '0' })).toEqual([]);
    expect(await debugLines({ POWERTOOLS_LOGGER_SAMPLE_RATE: '1' })).toMatchObject([{ tenant: 'acme', items: { length: 7 } }]);
  });

  it('serves no console: /console and its API are a JSON 404 in the Lambda, even with the secret', async () => {
    captureStdout();
    const handler = await loadHandler({ EVENTS_SINK: 'stdout', K8S_AUDIT_SHARED_SECRET: SECRET });

    for (const path of ['/console/', '/console/api/events', '/console/api/login']) {
      // A catch-all route ($default) hands the Lambda whatever path the browser asked for.
      const event = {
        ...v2Event(path, JSON.stringify({ tenant: 'acme', secret: SECRET }), { 'x-aisoc-k8s-token': SECRET }),
        routeKey: '$default',
      };
      const res = await handler(event, context);
      expect([path, res.statusCode]).toEqual([path, 404]);
      expect(JSON.parse(res.body).error).toMatch(/no such route/);
    }
  });

  it('writes both of two different events in one auditID and stage, flags the later, and drops a re-serialised resend', async () => {
    const out = captureStdout();
    const handler = await loadHandler({ EVENTS_SINK: 'stdout', K8S_AUDIT_SHARED_SECRET: SECRET });
    const [list, binding] = reusedAuditIdPair();
    const body = `{"kind":"EventList","items":[${JSON.stringify(list)},${JSON.stringify(binding)},${reserialised(list)}]}`;

    const res = await handler(v2Event('/v1/ingest/k8s-audit/acme', body, { 'x-aisoc-k8s-token': SECRET }), context);

    expect(JSON.parse(res.body)).toEqual({ accepted: 2, rejected: 0, duplicates: 1, reusedAuditIds: 1, errors: [] });
    expect(records(out.lines()).map((r) => [r.k8s_resource, r.severity, r.severity_reason])).toEqual([
      ['pods', 'info', 'steady-state'],
      ['clusterrolebindings', 'high', 'reused-audit-id'],
    ]);
    expect(out.logs().find((l) => l.message === 'ingest request')).toMatchObject({ accepted: 2, duplicates: 1, reused_audit_ids: 1 });
  });

  it('strips a named HTTP API stage from rawPath and reads a base64 gzip body', async () => {
    const out = captureStdout();
    const handler = await loadHandler({ EVENTS_SINK: 'stdout', K8S_AUDIT_SHARED_SECRET: SECRET });
    const items = uniqueFalcoEvents().slice(0, 4);

    const res = await handler(
      v2Event('/v1/ingest/k8s-audit/acme', gzipSync(eventList(items)), { 'x-aisoc-k8s-token': SECRET, 'content-encoding': 'gzip' }, 'prod'),
      context,
    );

    expect([res.statusCode, JSON.parse(res.body).accepted]).toEqual([200, 4]);
    expect(records(out.lines())).toHaveLength(4);
  });

  it('takes a REST API (v1) event with mixed-case headers and a cluster query parameter', async () => {
    const out = captureStdout();
    const handler = await loadHandler({ EVENTS_SINK: 'stdout', K8S_AUDIT_SHARED_SECRET: SECRET });
    const items = uniqueFalcoEvents().slice(0, 3);

    const res = await handler(
      v1Event('/v1/ingest/k8s-audit/acme', eventList(items), { 'X-AiSOC-K8s-Token': SECRET }, { cluster: 'from-query' }),
      context,
    );

    expect([res.statusCode, JSON.parse(res.body).accepted]).toEqual([200, 3]);
    expect(records(out.lines()).map((r) => r.cluster_name)).toEqual(['from-query', 'from-query', 'from-query']);
  });

  it('routes a v1 event by its resource and path parameters behind a custom domain base path', async () => {
    captureStdout();
    const handler = await loadHandler({ EVENTS_SINK: 'stdout', K8S_AUDIT_SHARED_SECRET: SECRET });
    const event = {
      ...v1Event('/aisoc/v1/ingest/k8s-audit/acme', EMPTY_EVENT_LIST, { 'X-AiSOC-K8s-Token': SECRET }),
      pathParameters: { tenant_id: 'acme' },
    };

    const res = await handler(event, context);

    expect(res.statusCode).toBe(200);
  });

  it('answers 401 as JSON for a v1 event without the token', async () => {
    captureStdout();
    const handler = await loadHandler({ EVENTS_SINK: 'stdout', K8S_AUDIT_SHARED_SECRET: SECRET });

    const res = await handler(v1Event('/v1/ingest/k8s-audit/acme', EMPTY_EVENT_LIST), context);

    expect(res.statusCode).toBe(401);
    expect(JSON.parse(res.body).error).toMatch(/X-AiSOC-K8s-Token/);
  });

  it("answers 503 naming K8S_AUDIT_SHARED_SECRET when it is unset, as the connector documentation's stock install does", async () => {
    captureStdout();
    const handler = await loadHandler({ EVENTS_SINK: 'stdout' });

    const res = await handler(v2Event('/v1/ingest/k8s-audit/acme', EMPTY_EVENT_LIST), context);

    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body).error).toContain('K8S_AUDIT_SHARED_SECRET');
  });

  it('answers 413 naming the Lambda payload limit, not the 16 MiB default, for a body over 6 MB', async () => {
    captureStdout();
    const handler = await loadHandler({ EVENTS_SINK: 'stdout', K8S_AUDIT_SHARED_SECRET: SECRET });

    const res = await handler(v2Event('/v1/ingest/k8s-audit/acme', ' '.repeat(6_400_000), { 'x-aisoc-k8s-token': SECRET }), context);

    expect(res.statusCode).toBe(413);
    expect(JSON.parse(res.body).error).toMatch(/6291456 bytes \(the AWS Lambda synchronous invocation payload limit/);
  });

  it('fails at init naming EVENTS_SINK when it is not set (SQLite is not durable in Lambda)', async () => {
    captureStdout();

    await expect(loadHandler({ K8S_AUDIT_SHARED_SECRET: SECRET })).rejects.toThrow(/EVENTS_SINK is required in AWS Lambda/);
  });

  it('fails the invocation, by name, for an event that is no API Gateway proxy event', async () => {
    const out = captureStdout();
    const handler = await loadHandler({ EVENTS_SINK: 'stdout', K8S_AUDIT_SHARED_SECRET: SECRET });

    // No API Gateway sends this: there is no HTTP client to answer, so Lambda's error is the answer.
    await expect(handler({ unexpected: 'shape' }, context)).rejects.toMatchObject({
      name: 'UnsupportedEventError',
      message: expect.stringContaining('event is not an API Gateway proxy event'),
    });
    expect(out.logs()).toContainEqual(
      expect.objectContaining({ level: 'ERROR', message: 'event is not an API Gateway proxy event', function_request_id: 'req-1' }),
    );
    // Counted as one request answered 502 (what API Gateway answers for a failed function), so
    // Powertools has metrics to flush instead of its "No application metrics to publish" warning.
    expect(out.emf('Responses5xx')).toMatchObject([{ Requests: 1, Responses5xx: 1, Responses4xx: 0, EventsAccepted: 0 }]);
  });

  it("publishes Powertools' ColdStart once per execution environment, as the forwarder does", async () => {
    const out = captureStdout();
    // Lambda sets the initialization type; Powertools counts a cold start only for `on-demand`.
    const handler = await loadHandler({
      EVENTS_SINK: 'stdout',
      K8S_AUDIT_SHARED_SECRET: SECRET,
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    });
    const request = () => v2Event('/v1/ingest/k8s-audit/acme', EMPTY_EVENT_LIST, { 'x-aisoc-k8s-token': SECRET });

    expect((await handler(request(), context)).statusCode).toBe(200);
    expect((await handler(request(), context)).statusCode).toBe(200);

    // Its own document (dimensions service and function_name), on the first invocation only.
    const cold = out.emf('ColdStart') as (Record<string, unknown> & { _aws: { CloudWatchMetrics: { Dimensions: string[][] }[] } })[];
    expect(cold).toMatchObject([{ ColdStart: 1, service: 'aisoc-k8s-audit-ingest', function_name: 'aisoc-k8s-audit-ingest' }]);
    expect(cold[0]?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['service', 'function_name']]);
    expect(out.emf('Requests')).toHaveLength(2);
  });

  it('answers a bare JSON 500 for an error that escapes the core', async () => {
    const out = captureStdout();
    const handler = await loadHandler({ EVENTS_SINK: 'stdout', K8S_AUDIT_SHARED_SECRET: SECRET });

    // An HTTP API event whose body is a number: Buffer.from throws inside the handler.
    const event = { version: '2.0', rawPath: '/v1/ingest/k8s-audit/acme', requestContext: { http: { method: 'POST' } }, body: 5 };
    const res = await handler(event as never, context);

    expect(res.statusCode).toBe(500);
    expect(JSON.parse(res.body)).toEqual({ error: 'internal error' });
    expect(out.logs()).toContainEqual(
      expect.objectContaining({ level: 'ERROR', message: 'unhandled error in the ingest handler', function_request_id: 'req-1' }),
    );
    expect(out.emf('Responses5xx')).toMatchObject([{ Requests: 1, Responses5xx: 1, EventsAccepted: 0 }]);
  });
});
