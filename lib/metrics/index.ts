import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricUnit as MetricUnitValue } from '@aws-lambda-powertools/metrics/types';
import type { ForwardCounts } from '../cloudwatch/report.js';

/** The one CloudWatch namespace every AiSOC K8s audit metric goes to. */
export const METRICS_NAMESPACE = 'AiSOC/K8sAudit';

/** Metric name and unit for each forwarder count; emitted even when zero, so alarms see a datapoint. */
const FORWARDER_METRICS: readonly [keyof ForwardCounts, string, MetricUnitValue][] = [
  ['payloads', 'PayloadsReceived', MetricUnit.Count],
  ['received', 'EventsReceived', MetricUnit.Count],
  ['forwarded', 'EventsForwarded', MetricUnit.Count],
  ['failed', 'EventsFailed', MetricUnit.Count],
  ['controlMessages', 'ControlMessages', MetricUnit.Count],
  ['skippedStreams', 'SkippedStreams', MetricUnit.Count],
  ['skippedEvents', 'SkippedEvents', MetricUnit.Count],
  ['truncated', 'TruncatedLines', MetricUnit.Count],
  ['invalid', 'InvalidLines', MetricUnit.Count],
  ['oversize', 'OversizeEvents', MetricUnit.Count],
  ['undecodable', 'UndecodablePayloads', MetricUnit.Count],
  ['retries', 'Retries', MetricUnit.Count],
  ['batches', 'Batches', MetricUnit.Count],
  ['bytes', 'BytesSent', MetricUnit.Bytes],
  ['rejected', 'IngestRejected', MetricUnit.Count],
  ['duplicates', 'IngestDuplicates', MetricUnit.Count],
];

/** The metric names the forwarder emits, for docs and tests. */
export const FORWARDER_METRIC_NAMES: readonly string[] = FORWARDER_METRICS.map(([, name]) => name);

/** A Powertools Metrics (EMF) instance for one of the bundle's services. */
export function createMetrics(serviceName: string, namespace: string = METRICS_NAMESPACE): Metrics {
  return new Metrics({ namespace, serviceName });
}

/** Adds every forwarder count to the metrics buffer (published by the middleware or `publishStoredMetrics`). */
export function recordForwardCounts(metrics: Metrics, counts: ForwardCounts): void {
  for (const [key, name, unit] of FORWARDER_METRICS) metrics.addMetric(name, unit, counts[key]);
}
