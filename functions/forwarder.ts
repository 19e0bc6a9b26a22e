// The EKS audit forwarder: a CloudWatch Logs subscription (direct, or through Kinesis) in,
// EventList POSTs to the ingest route out. Config and the shared secret are read once, at init.
// The middy chain: the logger (request id, cold start, function name on every line; the event is
// never logged), then the EMF metrics, flushed once per invocation, also when it throws.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { forwardSubscriptionEvent } from '../lib/cloudwatch/forward.js';
import { ForwardError, type ForwardReport, forwardCountsOfError, hasFailures } from '../lib/cloudwatch/report.js';
import { forwardSettings, loadForwarderConfig, resolveForwarderToken } from '../lib/config.js';
import { initOrLog, LOG_SERVICES, lambdaLogger, logTo } from '../lib/log/index.js';
import { createMetrics, recordForwardCounts } from '../lib/metrics/index.js';

const logger = lambdaLogger(LOG_SERVICES.forwarder);
const log = logTo(logger);
const { config, settings } = await initOrLog(log, async () => {
  const config = loadForwarderConfig(process.env);
  return { config, settings: forwardSettings(config, await resolveForwarderToken(config)) };
});
// The metrics' `service` dimension is the function's name: the templates' alarms select it.
const metrics = createMetrics(process.env.AWS_LAMBDA_FUNCTION_NAME || 'forwarder', config.metricsNamespace);

type KinesisBatchResponse = { batchItemFailures: { itemIdentifier: string }[] };

function summary(report: ForwardReport): Record<string, unknown> {
  const { samples, failedRecords, ...counts } = report;
  return { ...counts, failedRecords: failedRecords.length, samples };
}

const lambdaHandler = async (event: unknown, context: Context): Promise<KinesisBatchResponse | undefined> => {
  let report: ForwardReport;
  try {
    report = await forwardSubscriptionEvent(event, settings, {
      remainingTimeMs: () => context.getRemainingTimeInMillis(),
      log,
    });
  } catch (err) {
    // An event the forwarder cannot read still publishes its counts (Powertools would otherwise
    // flush an empty buffer and print its own "No application metrics to publish" warning).
    recordForwardCounts(metrics, forwardCountsOfError(err));
    log({
      level: 'error',
      msg: 'invocation failed before forwarding',
      error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    });
    throw err;
  }
  recordForwardCounts(metrics, report);
  const failed = hasFailures(report);
  log({
    level: failed ? 'error' : 'info',
    msg: failed ? 'forwarding incomplete' : 'forwarded',
    ...summary(report),
  });
  const partial = report.kind === 'kinesis' && config.kinesisBatchItemFailures;
  // Only when every failure maps to a record: an empty list would tell Kinesis all went well.
  if (partial && (!failed || report.failedRecords.length > 0))
    return { batchItemFailures: report.failedRecords.map((itemIdentifier) => ({ itemIdentifier })) };
  // Throwing keeps the event: Lambda retries an async invocation twice, then hands it to the
  // on-failure destination; a Kinesis mapping retries the batch. The line above logged why. A
  // resent event is the same event: the SQLite store drops it, a stream sink keeps its dedup_key.
  if (failed) throw new ForwardError(report);
  return undefined;
};

export const handler = middy<unknown, KinesisBatchResponse | undefined, Error, Context>()
  .use(injectLambdaContext(logger, { logEvent: false, resetKeys: true }))
  .use(logMetrics(metrics, { captureColdStartMetric: true }))
  .handler(lambdaHandler);
