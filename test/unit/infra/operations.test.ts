// The alarms and the dashboard of both templates reference only metrics the code emits: the names
// come from lib/metrics/names.ts, the same constants the Lambdas' EMF documents are built from
// (test/unit/functions/*.test.ts check those documents hold exactly these names).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FORWARDER_METRIC_NAMES, INGEST_METRIC_NAMES, METRICS_NAMESPACE } from '../../../lib/metrics/index.js';
import { SERVICE_DIMENSION } from '../../../lib/metrics/names.js';
import { type CfnResource, templateResources } from '../../helpers/infra-cfn.js';

const ROOT = join(import.meta.dirname, '../../..');
type Obj = Record<string, unknown>;
type Resource = CfnResource;

const templates = () => templateResources(ROOT);

/** What each function emits in the AiSOC namespace. */
const EMITTED: Record<string, readonly string[]> = { Forwarder: FORWARDER_METRIC_NAMES, Ingest: INGEST_METRIC_NAMES };

/** An alarm's metric: namespace, name, and the function its dimension names. */
interface MetricRef {
  where: string;
  namespace: string;
  name: string;
  fn: string | undefined;
  /** The dimension names, for alarms. */
  dims?: string[];
}

function alarmMetrics(resources: Record<string, Resource>): MetricRef[] {
  return Object.entries(resources)
    .filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm')
    .flatMap(([id, r]) => {
      // A metric-math alarm names its metrics under Metrics[].MetricStat.Metric.
      const metrics = r.Properties.Metrics
        ? (r.Properties.Metrics as { MetricStat?: { Metric: Obj } }[]).flatMap((q) => (q.MetricStat ? [q.MetricStat.Metric] : []))
        : [r.Properties];
      return metrics.map((m) => {
        const dims = (m.Dimensions ?? []) as { Name: string; Value: { Ref?: string; 'Fn::GetAtt'?: string[] } }[];
        return {
          where: id,
          namespace: String(m.Namespace),
          name: String(m.MetricName),
          fn: dims.map((d) => d.Value.Ref ?? d.Value['Fn::GetAtt']?.[0]).find((v) => v !== undefined),
          dims: dims.map((d) => d.Name),
        };
      });
    });
}

/** The dashboard body with its substitutions bound to the logical ids they stand for, parsed. */
function dashboardMetrics(resources: Record<string, Resource>): { body: string; metrics: MetricRef[] } {
  const dashboard = Object.values(resources).find((r) => r.Type === 'AWS::CloudWatch::Dashboard');
  if (dashboard === undefined) throw new Error('no dashboard');
  const [body, vars] = (dashboard.Properties.DashboardBody as { 'Fn::Sub': [string, Record<string, Obj>] })['Fn::Sub'];
  const bound = body.replace(/\$\{(\w+)\}/g, (_, name: string) => {
    const v = vars[name];
    if (v === undefined) throw new Error(`unbound \${${name}} in the dashboard`);
    return `@${(v.Ref as string | undefined) ?? (v['Fn::GetAtt'] as string[])[0]}`;
  });
  const parsed = JSON.parse(bound) as { widgets: { properties: { title: string; metrics: unknown[][] } }[] };
  const metrics = parsed.widgets.flatMap((w) =>
    w.properties.metrics.map((m) => ({
      where: w.properties.title,
      namespace: String(m[0]),
      name: String(m[1]),
      fn: typeof m[3] === 'string' && m[3].startsWith('@') ? m[3].slice(1) : undefined,
    })),
  );
  return { body, metrics };
}

/** The references that name an AiSOC metric the function does not emit (or no function at all). */
function drift(refs: MetricRef[]): string[] {
  return refs
    .filter((r) => r.namespace === METRICS_NAMESPACE)
    .filter((r) => r.fn === undefined || !(EMITTED[r.fn] ?? []).includes(r.name))
    .map((r) => `${r.where}: ${r.name} of ${r.fn ?? '?'}`);
}

describe.each(Object.entries(templates()))('%s operations', (_name, resources) => {
  const alarms = alarmMetrics(resources);

  it('alarms and charts only metrics the code emits, with the function as the service dimension', () => {
    expect(drift(alarms)).toEqual([]);
    expect(drift(dashboardMetrics(resources).metrics)).toEqual([]);
    for (const a of alarms.filter((a) => a.namespace === METRICS_NAMESPACE)) expect(a.dims, a.where).toEqual([SERVICE_DIMENSION]);
  });

  it('catches a metric renamed in the code but not in the template', () => {
    const renamed = alarms.map((a) => (a.name === 'SinkFailures' ? { ...a, name: 'SinkErrors' } : a));

    expect(drift(renamed)).toEqual(['IngestSinkFailuresAlarm: SinkErrors of Ingest']);
  });

  it('holds the alarms the issue names, each notifying the alarm topic', () => {
    const has = (namespace: string, name: string, fn: string) =>
      alarms.some((a) => a.namespace === namespace && a.name === name && a.fn === fn);
    expect(has('AWS/Lambda', 'Errors', 'Forwarder')).toBe(true);
    expect(has('AWS/Lambda', 'Throttles', 'Forwarder')).toBe(true);
    expect(has('AWS/Lambda', 'Throttles', 'Ingest')).toBe(true);
    expect(has(METRICS_NAMESPACE, 'Responses5xx', 'Ingest')).toBe(true);
    expect(has(METRICS_NAMESPACE, 'SinkFailures', 'Ingest')).toBe(true);
    // Requests API Gateway answers without the ingest's code (throttled, init failure, 30 s
    // timeout, a body over 6 MB, its own throttle): only API Gateway's own metrics count them.
    expect(has('AWS/ApiGateway', '5xx', 'HttpApi')).toBe(true);
    expect(has('AWS/ApiGateway', '4xx', 'HttpApi')).toBe(true);
    // The failure destination: depth > 0 for 5 minutes.
    const depth = Object.values(resources).find(
      (r) => r.Type === 'AWS::CloudWatch::Alarm' && r.Properties.MetricName === 'ApproximateNumberOfMessagesVisible',
    )?.Properties as Obj;
    expect(depth).toMatchObject({
      Namespace: 'AWS/SQS',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['ForwarderFailureQueue', 'QueueName'] } }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    expect((depth.Period as number) * (depth.DatapointsToAlarm as number)).toBe(300);
    for (const r of Object.values(resources)) {
      if (r.Type !== 'AWS::CloudWatch::Alarm') continue;
      expect(r.Properties.AlarmActions).toEqual([{ Ref: 'AlarmTopic' }]);
    }
    expect(resources.AlarmTopic?.Type).toBe('AWS::SNS::Topic');
    expect(resources.AlarmEmailSubscription).toMatchObject({ Condition: 'HasAlarmEmail', Properties: { Protocol: 'email' } });
  });

  it('alarms on AWS-published metrics under the name and the exact dimensions AWS documents for that resource', () => {
    // AWS publishes these; nothing here can produce them, so their identity is checked against
    // AWS's documentation: the metric names, the dimension set the alarm selects, and the kind of
    // resource whose Ref (or QueueName) is that dimension's value.
    const DOCUMENTED: Record<string, { names: string[]; dimension: string; types: string[]; value: 'Ref' | 'QueueName' }> = {
      // API Gateway developer guide, "Monitor CloudWatch metrics for HTTP APIs in API Gateway":
      // an HTTP API's metrics, by ApiId (or ApiId and Stage); 4XXError/5XXError are REST APIs'
      // names and are never published for an HTTP API. Ref of an HTTP API is its id
      // (CloudFormation reference, AWS::ApiGatewayV2::Api, return values).
      'AWS/ApiGateway': {
        names: ['4xx', '5xx', 'Count', 'IntegrationLatency', 'Latency', 'DataProcessed'],
        dimension: 'ApiId',
        types: ['AWS::Serverless::HttpApi', 'AWS::ApiGatewayV2::Api'],
        value: 'Ref',
      },
      // Lambda developer guide, "Types of metrics for Lambda functions" (by FunctionName); Ref of a function is its name.
      'AWS/Lambda': {
        names: ['Invocations', 'Errors', 'Throttles', 'DestinationDeliveryFailures', 'Duration', 'ConcurrentExecutions'],
        dimension: 'FunctionName',
        types: ['AWS::Serverless::Function', 'AWS::Lambda::Function'],
        value: 'Ref',
      },
      // SQS developer guide, "Available CloudWatch metrics for Amazon SQS" (by QueueName).
      'AWS/SQS': { names: ['ApproximateNumberOfMessagesVisible'], dimension: 'QueueName', types: ['AWS::SQS::Queue'], value: 'QueueName' },
    };
    // serverless.yml leaves the functions and the HTTP API to osls, which generates them as these
    // types (test/integration/deploy-package.test.ts checks the packaged template).
    const GENERATED: Record<string, string> = {
      Forwarder: 'AWS::Lambda::Function',
      Ingest: 'AWS::Lambda::Function',
      HttpApi: 'AWS::ApiGatewayV2::Api',
    };
    const typeOf = (id: string) => resources[id]?.Type ?? GENERATED[id];
    const watched = Object.entries(resources)
      .filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm')
      .flatMap(([id, r]) =>
        (r.Properties.Metrics
          ? (r.Properties.Metrics as { MetricStat?: { Metric: Obj } }[]).flatMap((q) => (q.MetricStat ? [q.MetricStat.Metric] : []))
          : [r.Properties]
        ).map((m) => ({ id, m })),
      )
      .filter(({ m }) => String(m.Namespace).startsWith('AWS/'));
    expect(watched.filter(({ m }) => m.Namespace === 'AWS/ApiGateway').length).toBeGreaterThan(0);
    for (const { id, m } of watched) {
      const doc = DOCUMENTED[String(m.Namespace)];
      expect(doc, `${id}: ${String(m.Namespace)}`).toBeDefined();
      if (doc === undefined) continue;
      expect(doc.names, id).toContain(m.MetricName);
      const dims = m.Dimensions as { Name: string; Value: { Ref?: string; 'Fn::GetAtt'?: string[] } }[];
      expect(
        dims.map((d) => d.Name),
        id,
      ).toEqual([doc.dimension]);
      const value = dims[0]?.Value ?? {};
      const target = doc.value === 'Ref' ? value.Ref : value['Fn::GetAtt']?.[1] === 'QueueName' ? value['Fn::GetAtt'][0] : undefined;
      expect(doc.types, `${id}: ${JSON.stringify(value)}`).toContain(target === undefined ? undefined : typeOf(target));
    }
  });

  it('charts events in, alerts, rejects and failures of each function on one dashboard', () => {
    const { metrics } = dashboardMetrics(resources);
    const charted = (name: string, fn: string) => metrics.some((m) => m.name === name && m.fn === fn);
    for (const [name, fn] of [
      ['EventsReceived', 'Forwarder'],
      ['EventsAccepted', 'Ingest'],
      ['AlertsSent', 'Ingest'],
      ['EventsRejected', 'Ingest'],
      // Every forwarder count of lines that did not reach the ingest whole.
      ['InvalidLines', 'Forwarder'],
      ['TruncatedLines', 'Forwarder'],
      ['SalvagedLines', 'Forwarder'],
      ['OversizeEvents', 'Forwarder'],
      ['EventsFailed', 'Forwarder'],
      ['SinkFailures', 'Ingest'],
      ['Errors', 'Forwarder'],
      ['Errors', 'Ingest'],
      ['ApproximateNumberOfMessagesVisible', 'ForwarderFailureQueue'],
    ] as const) {
      expect(charted(name, fn), `${name} of ${fn}`).toBe(true);
    }
  });

  it('charts every metric an alarm watches, so an alarm that fires can be read on the dashboard', () => {
    const { metrics } = dashboardMetrics(resources);
    const id = (m: MetricRef) => `${m.namespace} ${m.name} of ${m.fn ?? '?'}`;
    const charted = new Set(metrics.map(id));
    expect(alarms.map(id).filter((a) => !charted.has(a))).toEqual([]);
  });
});

describe('the dashboard', () => {
  it('has one body in both templates', () => {
    const [sam, sls] = Object.values(templates()).map((r) => dashboardMetrics(r).body);
    expect(sls).toBe(sam);
  });
});
