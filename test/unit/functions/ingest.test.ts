import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, APIGatewayProxyResult, Context } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { NormalisedRecord } from '../../../lib/audit/index.js';
import { FIXTURES } from '../../helpers/fixtures.js';
import { EMPTY_EVENT_LIST, eventList, SECRET, uniqueFalcoEvents } from '../../helpers/ingest.js';

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

/** Captures process.stdout (the stdout sink and the log lines), calling write callbacks as a stream would. */
function captureStdout(): { lines: () => Record<string, unknown>[]; text: () => string } {
  const chunks: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: unknown[]) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    cb?.();
    return true;
  }) as typeof process.stdout.write);
  return {
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
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
    expect(out.lines().filter((l) => l.msg === 'ingest request')).toMatchObject([{ tenant: 'acme', status: 200, accepted: items.length }]);
    expect(out.text()).not.toContain(SECRET);
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

  it("answers 503 naming K8S_AUDIT_SHARED_SECRET when it is unset, as the seed's stock install does", async () => {
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

  it('answers a bare JSON 500 for an event it cannot read', async () => {
    const out = captureStdout();
    const handler = await loadHandler({ EVENTS_SINK: 'stdout', K8S_AUDIT_SHARED_SECRET: SECRET });

    const res = await handler({ unexpected: 'shape' }, context);

    expect(res.statusCode).toBe(500);
    expect(JSON.parse(res.body)).toEqual({ error: 'internal error' });
    expect(out.lines().some((l) => l.level === 'error')).toBe(true);
  });
});
