import { afterEach, describe, expect, it, vi } from 'vitest';
import { emptyCounts } from '../../../lib/cloudwatch/index.js';
import {
  createMetrics,
  FORWARDER_METRIC_NAMES,
  INGEST_METRIC_NAMES,
  METRICS_NAMESPACE,
  recordForwardCounts,
  recordIngestOutcome,
} from '../../../lib/metrics/index.js';
import { answerOnlyOutcome } from '../../../lib/metrics/names.js';

afterEach(() => {
  vi.restoreAllMocks();
});

/** The EMF documents written to stdout while `fn` runs. */
function captureEmf(fn: () => void): Record<string, unknown>[] {
  const lines: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  fn();
  vi.restoreAllMocks();
  return lines
    .join('')
    .split('\n')
    .filter((l) => l.includes('"_aws"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('recordForwardCounts', () => {
  it('emits every forwarder count as EMF in the AiSOC/K8sAudit namespace, zeros included', () => {
    const metrics = createMetrics('forwarder');
    const counts = { ...emptyCounts(), received: 10, forwarded: 7, failed: 3, retries: 4, bytes: 12345, oversize: 1 };

    const docs = captureEmf(() => {
      recordForwardCounts(metrics, counts);
      metrics.publishStoredMetrics();
    });

    expect(docs).toHaveLength(1);
    const doc = docs[0] as Record<string, unknown> & {
      _aws: { CloudWatchMetrics: { Namespace: string; Metrics: { Name: string; Unit: string }[] }[] };
    };
    const directive = doc._aws.CloudWatchMetrics[0];
    expect(directive?.Namespace).toBe(METRICS_NAMESPACE);
    expect(directive?.Metrics.map((m) => m.Name).sort()).toEqual([...FORWARDER_METRIC_NAMES].sort());
    expect(directive?.Metrics.find((m) => m.Name === 'BytesSent')?.Unit).toBe('Bytes');
    expect(doc).toMatchObject({
      EventsReceived: 10,
      EventsForwarded: 7,
      EventsFailed: 3,
      Retries: 4,
      OversizeEvents: 1,
      TruncatedLines: 0,
      service: 'forwarder',
    });
  });
});

describe('recordIngestOutcome', () => {
  it("emits a request's rule errors as RuleErrors per rule (dimensions service and rule), beside the request's document", () => {
    const metrics = createMetrics('ingest-fn');
    const outcome = {
      ...answerOnlyOutcome('ingest', 200),
      ruleErrors: [
        { rule: 'privileged-container', kind: 'TypeError', count: 3 },
        { rule: 'privileged-container', kind: 'cel:unsupported_type', count: 1 },
        { rule: 'dangerous-capabilities', kind: 'cel:unsupported_type', count: 2 },
      ],
    };

    const docs = captureEmf(() => {
      recordIngestOutcome(metrics, outcome);
      metrics.publishStoredMetrics();
    });

    type Doc = Record<string, unknown> & { _aws: { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] } };
    const perRule = (docs as Doc[]).filter((d) => 'RuleErrors' in d);
    expect(perRule.map((d) => [d.rule, d.RuleErrors, d.service, d._aws.CloudWatchMetrics[0]?.Dimensions])).toEqual([
      ['privileged-container', 4, 'ingest-fn', [['service', 'rule']]],
      ['dangerous-capabilities', 2, 'ingest-fn', [['service', 'rule']]],
    ]);
    // The request's own document is unchanged: every ingest metric, no rule dimension.
    const request = (docs as Doc[]).find((d) => 'Requests' in d);
    expect(request?._aws.CloudWatchMetrics[0]?.Metrics.map((m) => m.Name).sort()).toEqual([...INGEST_METRIC_NAMES].sort());
    expect(request).not.toHaveProperty('rule');
  });
});
