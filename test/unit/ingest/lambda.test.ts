import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { toApiGatewayResult, toIngestRequest } from '../../../lib/ingest/adapters/lambda.js';
import { jsonResponse } from '../../../lib/ingest/errors.js';
import { FIXTURES } from '../../helpers/fixtures.js';

const v2 = JSON.parse(
  readFileSync(join(FIXTURES, 'apigateway', 'powertools-ts__apigw-http__no-auth.json'), 'utf8'),
) as APIGatewayProxyEventV2;
const v1 = JSON.parse(
  readFileSync(join(FIXTURES, 'apigateway', 'powertools-ts__apigw-rest__no-auth.json'), 'utf8'),
) as APIGatewayProxyEvent;

describe('toIngestRequest', () => {
  it('reads an HTTP API (v2) event: method, path, query, headers, body', () => {
    const req = toIngestRequest({
      ...v2,
      rawPath: '/v1/ingest/k8s-audit/acme',
      rawQueryString: 'cluster=c1',
      body: '{"kind":"EventList"}',
    });

    expect(req.method).toBe('POST');
    expect(req.path).toBe('/v1/ingest/k8s-audit/acme');
    expect(req.query instanceof URLSearchParams && req.query.get('cluster')).toBe('c1');
    expect(req.headers['user-agent']).toBe('HTTPie/3.2.2');
    expect(req.body.toString()).toBe('{"kind":"EventList"}');
  });

  it('strips a named stage from the v2 rawPath', () => {
    const req = toIngestRequest({ ...v2, rawPath: '/prod/v1/inbox/tok', requestContext: { ...v2.requestContext, stage: 'prod' } });

    expect(req.path).toBe('/v1/inbox/tok');
  });

  it('decodes a base64 body', () => {
    const gz = gzipSync('{"kind":"EventList","items":[]}');

    const req = toIngestRequest({ ...v2, body: gz.toString('base64'), isBase64Encoded: true });

    expect(req.body.equals(gz)).toBe(true);
  });

  it('reads a REST API (v1) event: path without the stage, query parameters, mixed-case headers', () => {
    const req = toIngestRequest({ ...v1, path: '/v1/ingest/k8s-audit/acme', queryStringParameters: { cluster: 'c2' }, body: 'x' });

    expect([req.method, req.path, (req.query as Record<string, string>).cluster, req.headers.Host]).toEqual([
      'POST',
      '/v1/ingest/k8s-audit/acme',
      'c2',
      'puhdx84jy9.execute-api.eu-west-1.amazonaws.com',
    ]);
  });

  it('uses the matched route and its parameters behind a custom domain base path', () => {
    const rest = toIngestRequest({
      ...v1,
      resource: '/v1/ingest/k8s-audit/{tenant_id}',
      path: '/aisoc/v1/ingest/k8s-audit/acme',
      pathParameters: { tenant_id: 'acme' },
    });
    const http = toIngestRequest({
      ...v2,
      routeKey: 'POST /v1/inbox/{token}',
      rawPath: '/aisoc/v1/inbox/aik8s_x',
      pathParameters: { token: 'aik8s_x' },
    });

    const gke = toIngestRequest({
      ...v2,
      routeKey: 'POST /v1/ingest/gke-audit/{tenant_id}',
      rawPath: '/aisoc/v1/ingest/gke-audit/acme',
      pathParameters: { tenant_id: 'acme' },
    });

    expect([rest.path, http.path, gke.path]).toEqual(['/v1/ingest/k8s-audit/acme', '/v1/inbox/aik8s_x', '/v1/ingest/gke-audit/acme']);
  });

  it('treats a missing body as empty', () => {
    expect(toIngestRequest({ ...v1, body: null }).body.length).toBe(0);
  });
});

describe('toApiGatewayResult', () => {
  it('maps the core response to a proxy result', () => {
    expect(toApiGatewayResult(jsonResponse(413, { error: 'too big' }))).toEqual({
      statusCode: 413,
      headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' },
      body: '{"error":"too big"}',
      isBase64Encoded: false,
    });
  });
});
