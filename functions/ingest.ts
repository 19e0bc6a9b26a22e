// The ingest Lambda: POST /v1/ingest/k8s-audit/{tenant_id} and POST /v1/inbox/{token} behind API
// Gateway (HTTP API or REST). The middy chain, outermost first: the logger (request id, cold start,
// function name on every line; the event itself is never logged, it carries the token), the EMF
// metrics (one document per request, and Powertools' ColdStart on an execution environment's first
// invocation, as the forwarder: a cold-start dashboard sees both), the 500 for an error that
// escaped the core, then the core.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import { withSharedSecret } from '../lib/config.js';
import { type ApiGatewayEvent, apiGatewayHandler, internalErrorAnswer } from '../lib/ingest/adapters/lambda.js';
import { loadIngestConfig, withRules } from '../lib/ingest/config.js';
import { createIngestService } from '../lib/ingest/create.js';
import { initOrLog, LOG_SERVICES, lambdaLogger, logTo } from '../lib/log/index.js';
import { createMetrics, type IngestOutcome, recordIngestOutcome } from '../lib/metrics/index.js';

const logger = lambdaLogger(LOG_SERVICES.ingest);
const log = logTo(logger);
// The metrics' `service` dimension is the function's name: the templates' alarms select it.
const metrics = createMetrics(process.env.AWS_LAMBDA_FUNCTION_NAME || 'ingest');
// Config is read and validated once, at init: a bad or missing variable fails the cold start with
// a ConfigError that names it, instead of failing every request. A secret given by ARN is read
// from Secrets Manager here, once per execution environment, and so is an operators' rule file
// given as K8S_AUDIT_RULES=s3://bucket/key.
// Sink clients are created once per execution environment and reused by every invocation.
const observe = (outcome: IngestOutcome) => recordIngestOutcome(metrics, outcome);
const service = await initOrLog(log, async () =>
  createIngestService(await withRules(await withSharedSecret(loadIngestConfig(process.env, { runtime: 'lambda' }))), { log, observe }),
);

export const handler = middy<ApiGatewayEvent, APIGatewayProxyResult, Error, Context>()
  .use(injectLambdaContext(logger, { logEvent: false, resetKeys: true }))
  .use(logMetrics(metrics, { captureColdStartMetric: true }))
  .use(internalErrorAnswer(log, observe))
  .handler(apiGatewayHandler(service));
