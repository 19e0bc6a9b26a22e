import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricUnit as MetricUnitValue } from '@aws-lambda-powertools/metrics/types';
import type { ForwardCounts } from '../cloudwatch/report.js';
import {
  FORWARDER_METRICS,
  INGEST_METRICS,
  type IngestOutcome,
  METRICS_NAMESPACE,
  type MetricUnitName,
  RULE_ERROR_METRIC,
} from './names.js';

export { FORWARDER_METRICS, INGEST_METRICS, type IngestOutcome, METRICS_NAMESPACE, RULE_ERROR_METRIC } from './names.js';

const UNITS: Record<MetricUnitName, MetricUnitValue> = {
  Count: MetricUnit.Count,
  Bytes: MetricUnit.Bytes,
  Milliseconds: MetricUnit.Milliseconds,
};

/** The metric names the forwarder emits, for docs and tests. */
export const FORWARDER_METRIC_NAMES: readonly string[] = Object.values(FORWARDER_METRICS);

/** The metric names the ingest emits, for docs and tests. */
export const INGEST_METRIC_NAMES: readonly string[] = INGEST_METRICS.map((m) => m.name);

/** A Powertools Metrics (EMF) instance for one of the bundle's services. */
export function createMetrics(serviceName: string, namespace: string = METRICS_NAMESPACE): Metrics {
  return new Metrics({ namespace, serviceName });
}

/** Adds every forwarder count to the metrics buffer (published by the middleware or `publishStoredMetrics`); zeros too, so alarms see a datapoint. */
export function recordForwardCounts(metrics: Metrics, counts: ForwardCounts): void {
  for (const [key, name] of Object.entries(FORWARDER_METRICS) as [keyof ForwardCounts, string][]) {
    metrics.addMetric(name, key === 'bytes' ? MetricUnit.Bytes : MetricUnit.Count, counts[key]);
  }
}

/** Adds one ingest request's metrics to the buffer; `logMetrics` flushes them as one EMF document per request. */
export function recordIngestOutcome(metrics: Metrics, outcome: IngestOutcome): void {
  for (const m of INGEST_METRICS) metrics.addMetric(m.name, UNITS[m.unit], m.value(outcome));
  if (outcome.ruleErrors === undefined) return;
  // One document per rule, with the `rule` dimension beside `service` (singleMetric keeps the
  // default dimensions); the kind is in the log line, not a dimension of its own.
  const byRule = new Map<string, number>();
  for (const e of outcome.ruleErrors) byRule.set(e.rule, (byRule.get(e.rule) ?? 0) + e.count);
  for (const [rule, count] of byRule) {
    const single = metrics.singleMetric();
    single.addDimension(RULE_ERROR_METRIC.dimension, rule);
    single.addMetric(RULE_ERROR_METRIC.name, UNITS[RULE_ERROR_METRIC.unit], count);
  }
}
