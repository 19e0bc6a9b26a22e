import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, APIGatewayProxyResult } from 'aws-lambda';
import { isJsonObject } from '../../json.js';
import type { LogFn } from '../../log/index.js';
import { answerOnlyOutcome, type IngestOutcome } from '../../metrics/names.js';
import { GKE_PREFIX, INBOX_PREFIX, INGEST_PREFIX } from '../../protocol.js';
import { errorResponse, type IngestResponse } from '../errors.js';
import type { IngestRequest } from '../request.js';
import type { IngestService } from '../service.js';

/** An API Gateway proxy event: REST API (payload 1.0) or HTTP API (payload 2.0). */
export type ApiGatewayEvent = APIGatewayProxyEvent | APIGatewayProxyEventV2;

function isV2(event: ApiGatewayEvent): event is APIGatewayProxyEventV2 {
  return (event as APIGatewayProxyEventV2).version === '2.0' && 'rawPath' in event;
}

/** Drops a `/<stage>` prefix: HTTP API puts a named stage into `rawPath`. */
function stripStage(path: string, stage: string | undefined): string {
  if (stage === undefined || stage === '' || stage === '$default') return path;
  const prefix = `/${stage}`;
  return path === prefix ? '/' : path.startsWith(`${prefix}/`) ? path.slice(prefix.length) : path;
}

/**
 * The route's path from the route template and its parameters, when API Gateway matched one: that
 * holds behind a custom domain with a base path too, where the raw path has an extra prefix.
 */
function routedPath(template: string | undefined, params: Record<string, string | undefined> | null | undefined): string | undefined {
  if (template === undefined || params === undefined || params === null) return undefined;
  const path = template.replace(/^[A-Z]+ /, '');
  for (const prefix of [INGEST_PREFIX, GKE_PREFIX]) {
    if (path === `${prefix}{tenant_id}` && params.tenant_id !== undefined) return `${prefix}${encodeURIComponent(params.tenant_id)}`;
  }
  if (path === `${INBOX_PREFIX}{token}` && params.token !== undefined) return `${INBOX_PREFIX}${encodeURIComponent(params.token)}`;
  return undefined;
}

/**
 * A Lambda event that is no API Gateway proxy event: the function was wired to another trigger, or
 * run by hand (`sam local invoke`, `aisoc-k8s-audit invoke`) with another service's sample, e.g. the
 * CloudWatch Logs or Kinesis ones `sam local generate-event` writes. It fails the invocation with
 * this message: there is no HTTP client to answer.
 */
export class UnsupportedEventError extends Error {
  override name = 'UnsupportedEventError';
}

const EXPECTED =
  'the ingest takes API Gateway proxy events only: HTTP API payload 2.0 ({"version":"2.0","rawPath":...,"requestContext":{"http":{"method":...}}}) or REST API / payload 1.0 ({"httpMethod":...,"path":...})';

/** What the adapter reads of an event, checked before it is read (a wrong trigger fails clearly, not with a TypeError). */
function checkApiGatewayEvent(event: unknown): asserts event is ApiGatewayEvent {
  const e = isJsonObject(event) ? event : undefined;
  if (e === undefined) throw new UnsupportedEventError(`event is not a JSON object; ${EXPECTED}`);
  if (e.version === '2.0') {
    const ctx = isJsonObject(e.requestContext) ? e.requestContext : {};
    const http = isJsonObject(ctx.http) ? ctx.http : {};
    if (typeof e.rawPath === 'string' && typeof http.method === 'string') return;
    throw new UnsupportedEventError(`event says version 2.0 but lacks rawPath or requestContext.http.method; ${EXPECTED}`);
  }
  if (typeof e.httpMethod === 'string' && typeof e.path === 'string') return;
  const kind = isJsonObject(e.awslogs)
    ? ' (this is a CloudWatch Logs subscription event: the Forwarder takes those)'
    : Array.isArray(e.Records)
      ? ' (this is a Records batch, e.g. Kinesis or SQS: the Forwarder takes Kinesis ones)'
      : '';
  throw new UnsupportedEventError(`event is not an API Gateway proxy event${kind}; ${EXPECTED}`);
}

/** Turns an API Gateway v1 or v2 event into the core's request (body base64-decoded when flagged). */
export function toIngestRequest(event: ApiGatewayEvent): IngestRequest {
  checkApiGatewayEvent(event);
  const raw = event.body ?? '';
  const body = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  if (isV2(event)) {
    return {
      method: event.requestContext.http.method,
      path: routedPath(event.routeKey, event.pathParameters) ?? stripStage(event.rawPath, event.requestContext.stage),
      query: new URLSearchParams(event.rawQueryString ?? ''),
      headers: event.headers ?? {},
      body,
    };
  }
  const query: Record<string, string | undefined> = { ...(event.queryStringParameters ?? {}) };
  return {
    method: event.httpMethod,
    path: routedPath(event.resource, event.pathParameters) ?? stripStage(event.path, event.requestContext?.stage),
    query,
    headers: event.headers ?? {},
    body,
  };
}

/** The core's response as an API Gateway proxy result (the same shape serves v1 and v2). */
export function toApiGatewayResult(response: IngestResponse): APIGatewayProxyResult {
  return { statusCode: response.status, headers: response.headers, body: response.body, isBase64Encoded: false };
}

/** The ingest core as a typed API Gateway handler: v1 or v2 event in, proxy result out. */
export function apiGatewayHandler(service: IngestService): (event: ApiGatewayEvent) => Promise<APIGatewayProxyResult> {
  return async (event) => toApiGatewayResult(await service.handle(toIngestRequest(event)));
}

/**
 * The status an invocation whose event is no API Gateway request counts as: API Gateway answers 502
 * when the function it invoked fails (AWS Lambda developer guide, "Handling Lambda errors with an
 * API Gateway API").
 */
export const UNSUPPORTED_EVENT_STATUS = 502;

/**
 * The middy error mapping of the ingest Lambda: an error that escaped the core is answered as a
 * bare JSON 500 (logged by name and message, never shown to the client), so API Gateway never
 * turns it into its own untyped 502. `observe` counts it as a 500 answer.
 */
export function internalErrorAnswer(
  log: LogFn,
  observe: (outcome: IngestOutcome) => void = () => {},
): MiddlewareObj<ApiGatewayEvent, APIGatewayProxyResult> {
  return {
    onError: (request) => {
      // Not a request at all: the invocation fails with the error's own message (Lambda's Errors
      // metric and the template's IngestErrorsAlarm see it), as the forwarder does for an event it
      // cannot read. A 500 answer would go to no one. It still counts, as one request answered
      // 502, what API Gateway answers a client for a failed invocation: the Requests and 5xx charts
      // show it, and Powertools never flushes an empty buffer (its own "No application metrics to
      // publish" warning in the log, no datapoint for an alarm).
      if (request.error instanceof UnsupportedEventError) {
        // Its own count too: API Gateway's 5xx never includes it (docs/deploy.md, HttpApi5xxAlarm).
        observe({ ...answerOnlyOutcome('unknown', UNSUPPORTED_EVENT_STATUS), failure: 'unsupported_event' });
        log({ level: 'error', msg: 'event is not an API Gateway proxy event', error: request.error.message });
        return;
      }
      // Counted as a 5xx answer like the core's own, so the 5xx alarm sees it.
      observe(answerOnlyOutcome('unknown', 500));
      const err = request.error;
      log({
        level: 'error',
        msg: 'unhandled error in the ingest handler',
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      });
      request.response = toApiGatewayResult(errorResponse(new Error('internal')));
    },
  };
}
