// Do the stacks' alarms fire? A static name check (test/unit/infra/operations.test.ts) cannot say:
// in CloudWatch a metric is (namespace, name, exact set of dimensions), and an alarm whose
// dimensions are [service] never sees a datapoint published under [service, cluster] or [].
// Here the real bundles (built by the real build script) run through `aisoc-k8s-audit invoke`
// on the failure each alarm is for; every EMF document they print is turned into datapoints the
// way CloudWatch does (Embedded Metric Format specification: each dimension set listed in
// `_aws.CloudWatchMetrics[].Dimensions` is one metric, its values the root members of those
// names), and each alarm of both templates is evaluated against them.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IngestServer, startIngestServer } from '../../lib/ingest/adapters/server.js';
import { loadIngestConfig } from '../../lib/ingest/config.js';
import { runCli } from '../helpers/cli.js';
import { awslogsEvent, eksPayload, truncateLine } from '../helpers/envelopes.js';
import { FALCO_DIR, falcoEvent } from '../helpers/fixtures.js';
import { type CfnResource, templateResources } from '../helpers/infra-cfn.js';
import { buildScratchBundles, ROOT, scratchCheckout } from '../helpers/infra-scratch.js';

type Obj = Record<string, unknown>;
type Resource = CfnResource;
const EVENTS = join(ROOT, 'infra/events');
const LOCAL_ENV = JSON.parse(readFileSync(join(EVENTS, 'env.local.json'), 'utf8')) as Record<string, Record<string, string>>;
const SECRET = LOCAL_ENV.Ingest?.K8S_AUDIT_SHARED_SECRET ?? '';

/** One CloudWatch metric: namespace, name and its exact dimensions (name → value). */
interface Identity {
  namespace: string;
  name: string;
  dims: Record<string, string>;
}
interface Datapoint extends Identity {
  value: number;
}

const key = (m: Identity) =>
  `${m.namespace} ${m.name} {${Object.entries(m.dims)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(',')}}`;

/**
 * The datapoints of the EMF documents among a function's log lines, as CloudWatch Logs extracts
 * them (EMF specification): per directive, one metric per dimension set, its dimension values the
 * root members named in the set; a value may be a number or an array of numbers.
 */
function emfDatapoints(logText: string): Datapoint[] {
  const points: Datapoint[] = [];
  for (const line of logText.split('\n')) {
    if (!line.includes('"_aws"')) continue;
    const doc = JSON.parse(line) as Obj & {
      _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
    };
    for (const directive of doc._aws.CloudWatchMetrics) {
      for (const set of directive.Dimensions) {
        const dims: Record<string, string> = {};
        for (const d of set) {
          // The specification: a dimension's member must be a string; otherwise nothing is published.
          if (typeof doc[d] !== 'string') throw new Error(`EMF dimension ${d} has no string value in ${line}`);
          dims[d] = doc[d] as string;
        }
        for (const m of directive.Metrics) {
          const raw = doc[m.Name];
          for (const value of Array.isArray(raw) ? raw : [raw]) {
            points.push({ namespace: directive.Namespace, name: m.Name, dims, value: Number(value) });
          }
        }
      }
    }
  }
  return points;
}

/**
 * What AWS itself publishes for an invocation that ran the code (Lambda developer guide, "Types of
 * metrics for Lambda functions": Invocations and Errors per FunctionName, Errors = 1 when the
 * function threw, failed its init or timed out).
 */
function lambdaDatapoints(fn: string, threw: boolean): Datapoint[] {
  const dims = { FunctionName: fn };
  return [
    { namespace: 'AWS/Lambda', name: 'Invocations', dims, value: 1 },
    { namespace: 'AWS/Lambda', name: 'Errors', dims, value: threw ? 1 : 0 },
  ];
}

const templates = () => templateResources(ROOT);

const FUNCTIONS = ['Forwarder', 'Ingest'] as const;
type Fn = (typeof FUNCTIONS)[number];

/**
 * A dimension value as CloudFormation resolves it, for the two functions: `!Ref` of a function is
 * its name, which is also the AWS_LAMBDA_FUNCTION_NAME the code runs with (and the metrics'
 * `service`). `invoke` names a function by its logical id, as sam local does, so here the name is
 * the logical id on both sides. Anything else is a resource the bundles never name.
 */
function resolve(value: unknown): string {
  if (typeof value === 'string') return value;
  const ref = (value as { Ref?: string }).Ref;
  if (ref !== undefined && (FUNCTIONS as readonly string[]).includes(ref)) return ref;
  const getAtt = (value as { 'Fn::GetAtt'?: string[] })['Fn::GetAtt'];
  return `<${ref ?? getAtt?.join('.') ?? 'unresolved'}>`;
}

interface MetricStat {
  id: string;
  identity: Identity;
  stat: string;
  period: number;
}
interface Alarm {
  id: string;
  stats: MetricStat[];
  /** A metric-math expression over the ids; a plain alarm is its one metric. */
  expression: string;
  evaluationPeriods: number;
  datapointsToAlarm: number;
  threshold: number;
  comparison: string;
  treatMissing: string;
}

function identityOf(m: Obj): Identity {
  const dims: Record<string, string> = {};
  for (const d of (m.Dimensions ?? []) as { Name: string; Value: unknown }[]) dims[d.Name] = resolve(d.Value);
  return { namespace: resolve(m.Namespace), name: String(m.MetricName), dims };
}

function alarmsOf(resources: Record<string, Resource>): Alarm[] {
  return Object.entries(resources)
    .filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm')
    .map(([id, r]) => {
      const p = r.Properties;
      const common = {
        id,
        evaluationPeriods: Number(p.EvaluationPeriods),
        datapointsToAlarm: Number(p.DatapointsToAlarm ?? p.EvaluationPeriods),
        threshold: Number(p.Threshold),
        comparison: String(p.ComparisonOperator),
        treatMissing: String(p.TreatMissingData ?? 'missing'),
      };
      if (p.Metrics === undefined) {
        return {
          ...common,
          stats: [{ id: 'm', identity: identityOf(p), stat: String(p.Statistic), period: Number(p.Period) }],
          expression: 'm',
        };
      }
      const queries = p.Metrics as {
        Id: string;
        Expression?: string;
        ReturnData?: boolean;
        MetricStat?: { Metric: Obj; Period: number; Stat: string };
      }[];
      const returned = queries.find((q) => q.ReturnData !== false);
      return {
        ...common,
        stats: queries.flatMap((q) =>
          q.MetricStat
            ? [{ id: q.Id, identity: identityOf(q.MetricStat.Metric), stat: q.MetricStat.Stat, period: q.MetricStat.Period }]
            : [],
        ),
        expression: returned?.Expression ?? returned?.Id ?? '',
      };
    });
}

/** A statistic over one period's values, as CloudWatch computes it; undefined for no datapoint. */
function statistic(stat: string, values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  switch (stat) {
    case 'Sum':
      return values.reduce((a, b) => a + b, 0);
    case 'Maximum':
      return Math.max(...values);
    case 'Minimum':
      return Math.min(...values);
    case 'Average':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'SampleCount':
      return values.length;
    default:
      throw new Error(`statistic ${stat} not modelled`);
  }
}

/**
 * The templates' expressions: ids and FILL(id, 0) added or subtracted (CloudWatch metric math:
 * FILL gives a period without a datapoint the value; an arithmetic result has a datapoint only
 * where every operand has one). Anything else fails loudly.
 */
function evaluateExpression(expression: string, values: Record<string, number | undefined>): number | undefined {
  let total = 0;
  for (const [, sign, term] of expression.matchAll(/([+-]?)\s*([^+-]+)/g)) {
    const fill = /^FILL\((\w+),\s*(\d+)\)$/.exec((term as string).trim());
    const id = fill ? (fill[1] as string) : (term as string).trim();
    if (!(id in values)) throw new Error(`expression ${expression} not modelled`);
    const value = values[id] ?? (fill ? Number(fill[2]) : undefined);
    if (value === undefined) return undefined;
    total += sign === '-' ? -value : value;
  }
  return total;
}

const COMPARE: Record<string, (v: number, t: number) => boolean> = {
  GreaterThanOrEqualToThreshold: (v, t) => v >= t,
  GreaterThanThreshold: (v, t) => v > t,
  LessThanThreshold: (v, t) => v < t,
  LessThanOrEqualToThreshold: (v, t) => v <= t,
};

/**
 * The alarm's state over its evaluation range. `perPeriod` (the datapoints of one scenario) repeats
 * in every period: a condition that lasts. An array of such lists is a sequence of periods, oldest
 * first: the last N are evaluated. The exact identity selects the datapoints; a period with none is
 * missing data, breaching or not as TreatMissingData says; M of N breaching is ALARM.
 */
function evaluate(alarm: Alarm, perPeriod: Datapoint[] | Datapoint[][]): 'ALARM' | 'OK' | 'INSUFFICIENT_DATA' {
  const sequence = Array.isArray(perPeriod[0]) ? (perPeriod as Datapoint[][]) : null;
  const periods = sequence ?? Array.from({ length: alarm.evaluationPeriods }, () => perPeriod as Datapoint[]);
  const compare = COMPARE[alarm.comparison];
  if (compare === undefined) throw new Error(`${alarm.comparison} not modelled`);
  let breaching = 0;
  for (const points of periods.slice(-alarm.evaluationPeriods)) {
    const values: Record<string, number | undefined> = {};
    for (const s of alarm.stats) {
      const k = key(s.identity);
      values[s.id] = statistic(
        s.stat,
        points.filter((p) => key(p) === k).map((p) => p.value),
      );
    }
    const value = evaluateExpression(alarm.expression, values);
    if (value === undefined) {
      if (alarm.treatMissing === 'breaching') breaching++;
      else if (alarm.treatMissing !== 'notBreaching') return 'INSUFFICIENT_DATA';
    } else if (compare(value, alarm.threshold)) breaching++;
  }
  return breaching >= alarm.datapointsToAlarm ? 'ALARM' : 'OK';
}

/**
 * What API Gateway publishes for `n` 4xx answers of the HTTP API in a period (API Gateway developer
 * guide, "Monitor CloudWatch metrics for HTTP APIs": 4xx by ApiId); `<HttpApi>` is how resolve()
 * names the Ref of the API.
 */
const gateway4xx = (n: number): Datapoint[] => [{ namespace: 'AWS/ApiGateway', name: '4xx', dims: { ApiId: '<HttpApi>' }, value: n }];
const gateway5xx = (n: number): Datapoint[] => [{ namespace: 'AWS/ApiGateway', name: '5xx', dims: { ApiId: '<HttpApi>' }, value: n }];

/** A loopback HTTP server answering every request with `status`. */
async function answering(status: number, body = '{"error":"unavailable"}'): Promise<Server> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}
const urlOf = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;

/** A committed API Gateway event with its body rewritten (content-length kept true). */
function withBody(file: string, rewrite: (body: string) => string): string {
  const event = JSON.parse(readFileSync(join(EVENTS, file), 'utf8')) as { body: string; headers: Record<string, string> };
  event.body = rewrite(event.body);
  event.headers['content-length'] = String(Buffer.byteLength(event.body));
  return JSON.stringify(event);
}

/** A committed API Gateway event posted to another route (`k8s-audit` replaced), without its token. */
function withPath(file: string, route: string): string {
  const event = JSON.parse(readFileSync(join(EVENTS, file), 'utf8')) as {
    rawPath: string;
    routeKey: string;
    headers: Record<string, string>;
    requestContext: { http: { path: string } };
  };
  event.rawPath = event.rawPath.replace('k8s-audit', route);
  event.routeKey = event.routeKey.replace('k8s-audit', route);
  event.requestContext.http.path = event.requestContext.http.path.replace('k8s-audit', route);
  delete event.headers['x-aisoc-k8s-token'];
  return JSON.stringify(event);
}

/** A committed API Gateway event whose EventList body gets one more item. */
function withItem(file: string, item: unknown): string {
  return withBody(file, (body) => {
    const list = JSON.parse(body) as { items: unknown[] };
    list.items.push(item);
    return JSON.stringify(list);
  });
}

interface Scenario {
  fn: Fn;
  /** What the run must have answered, so a scenario that stopped driving its failure is seen. */
  expect: { exit: number; status?: number };
  event: string;
  /** The function's env-file section (over env.local.json's). */
  env?: Record<string, string>;
  /** This shell's AWS_* variables, which invoke passes on (an endpoint for a sink). */
  shell?: Record<string, string>;
}

// Each alarm's failure, driven through the bundle; `healthy` runs are the ones no alarm may fire on.
// AWS/Lambda Throttles and AWS/SQS are published by AWS before or after the code runs: no bundle
// run produces them, so they are listed with the reason and checked for their documented dimension.
const AWS_SIDE: Record<string, string> = {
  ForwarderThrottlesAlarm: 'AWS/Lambda Throttles: the invocation never ran',
  IngestThrottlesAlarm: 'AWS/Lambda Throttles: the invocation never ran',
  ForwarderFailureQueueAlarm: 'AWS/SQS depth of the on-failure destination, filled by Lambda',
  ForwarderDestinationFailuresAlarm: 'AWS/Lambda DestinationDeliveryFailures: Lambda writing to the on-failure destination',
  HttpApi5xxAlarm: 'AWS/ApiGateway 5xx: API Gateway answering, also for requests that never reach the ingest',
  HttpApi4xxAlarm: 'AWS/ApiGateway 4xx: API Gateway answering, also for requests that never reach the ingest',
};
const FIRES_ON: Record<string, string> = {
  ForwarderErrorsAlarm: 'forwarder, ingest answers 503',
  ForwarderDroppedLinesAlarm: 'forwarder, a cut line and lines that are no audit events',
  Ingest5xxAlarm: 'ingest, events sink down',
  IngestSinkFailuresAlarm: 'ingest, events sink down',
  IngestErrorsAlarm: 'ingest, init fails',
  IngestRefusedAlarm: 'ingest, a malformed batch with the token',
  IngestUnauthorizedAlarm: 'ingest, token refused',
  IngestRoutesOffAlarm: "ingest, a stranger's POST to the GKE route a stack keeps off",
  IngestAlertsRefusedAlarm: 'ingest, alerts sink refuses the alerts',
  IngestRejectedItemsAlarm: 'ingest, an item that is no audit event in a batch',
  IngestNoEventsAlarm: 'ingest, no audit event in the batches',
};
const HEALTHY: Record<Fn, string> = { Forwarder: 'forwarder, ingest stores the batch', Ingest: 'ingest, batch stored' };
/** The ingest invoked with another service's event (SAM's CloudWatch Logs sample): no API Gateway request at all. */
const NOT_HTTP = 'ingest, an event that is no API Gateway request';

describe('the alarms against the metrics the built bundles emit', () => {
  let scratch = { dir: '', cleanup: () => {} };
  let dist = '';
  let dataDir = '';
  let ingest: IngestServer;
  const servers: Server[] = [];
  const runs: Record<string, { points: Datapoint[]; exit: number; result: unknown }> = {};

  async function run(name: string, s: Scenario): Promise<void> {
    const envPath = join(scratch.dir, `env-${Object.keys(runs).length}.json`);
    writeFileSync(envPath, JSON.stringify({ ...LOCAL_ENV, [s.fn]: { ...LOCAL_ENV[s.fn], ...s.env } }));
    const eventPath = s.event.startsWith('{') ? join(scratch.dir, `event-${Object.keys(runs).length}.json`) : join(EVENTS, s.event);
    if (s.event.startsWith('{')) writeFileSync(eventPath, s.event);
    const r = await runCli(['invoke', s.fn, '--event', eventPath, '--env-vars', envPath, '--dist', dist], {
      PATH: process.env.PATH ?? '',
      ...s.shell,
    });
    runs[name] = {
      points: [...emfDatapoints(r.stderr), ...lambdaDatapoints(s.fn, r.code === 1)],
      exit: r.code,
      result: r.stdout.trim() === '' ? null : JSON.parse(r.stdout),
    };
  }

  beforeAll(async () => {
    scratch = scratchCheckout();
    dist = await buildScratchBundles(scratch.dir);
    dataDir = mkdtempSync(join(tmpdir(), 'aisoc-alarms-'));
    ingest = await startIngestServer({
      config: loadIngestConfig({ K8S_AUDIT_SHARED_SECRET: SECRET, EVENTS_SINK: 'sqlite', AISOC_DATA_DIR: dataDir }, { runtime: 'local' }),
    });
    const unavailable = await answering(503);
    // Kinesis' JSON-protocol answer for an internal failure, from a loopback endpoint (the SDK retries it, then gives up).
    const kinesis = await answering(500, '{"__type":"InternalFailure","message":"We encountered an internal error."}');
    // SendMessageBatch (SQS's JSON protocol) answering every entry as Failed with SenderFault, as
    // SQS does for a message it will never take (SendMessageBatch API reference, BatchResultErrorEntry).
    const sqs = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        const entries = (JSON.parse(body || '{}') as { Entries?: { Id: string }[] }).Entries ?? [];
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(
          JSON.stringify({
            Successful: [],
            Failed: entries.map((e) => ({
              Id: e.Id,
              SenderFault: true,
              Code: 'InvalidParameterValue',
              Message: 'One or more parameters are invalid.',
            })),
          }),
        );
      });
    });
    await new Promise<void>((r) => sqs.listen(0, '127.0.0.1', r));
    servers.push(unavailable, kinesis, sqs);
    const scenarios: Record<string, Scenario> = {
      [HEALTHY.Forwarder]: {
        fn: 'Forwarder',
        event: 'forwarder-cloudwatch-logs.json',
        env: { AISOC_INGEST_URL: `${ingest.url}/v1/ingest/k8s-audit/alarms`, AISOC_ALLOW_INSECURE_HTTP: 'true' },
        expect: { exit: 0 },
      },
      [FIRES_ON.ForwarderErrorsAlarm as string]: {
        fn: 'Forwarder',
        event: 'forwarder-cloudwatch-logs.json',
        env: { AISOC_INGEST_URL: `${urlOf(unavailable)}/v1/ingest/k8s-audit/alarms`, AISOC_ALLOW_INSECURE_HTTP: 'true' },
        expect: { exit: 1 },
      },
      // A real apiserver line (Falco's trace) cut before its auditID, as EKS cuts an over-long line,
      // and two lines of an audit stream that are no audit Event: the invocation succeeds.
      [FIRES_ON.ForwarderDroppedLinesAlarm as string]: {
        fn: 'Forwarder',
        event: JSON.stringify(
          awslogsEvent(
            eksPayload([
              truncateLine(JSON.stringify(falcoEvent('create_nginx_pod_privileged.json')), 60),
              '{"kind":0}',
              'not an event "auditID"',
            ]),
          ),
        ),
        env: { AISOC_INGEST_URL: `${ingest.url}/v1/ingest/k8s-audit/alarms`, AISOC_ALLOW_INSECURE_HTTP: 'true' },
        expect: { exit: 0 },
      },
      [HEALTHY.Ingest]: { fn: 'Ingest', event: 'ingest-http-api-eventlist.json', expect: { exit: 0, status: 200 } },
      [FIRES_ON.IngestNoEventsAlarm as string]: { fn: 'Ingest', event: 'ingest-http-api-empty.json', expect: { exit: 0, status: 200 } },
      [FIRES_ON.Ingest5xxAlarm as string]: {
        fn: 'Ingest',
        event: 'ingest-http-api-eventlist.json',
        env: { EVENTS_SINK: 'kinesis:aisoc-alarms' },
        shell: {
          AWS_ENDPOINT_URL: urlOf(kinesis),
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: 'AKIAALARMSTEST',
          AWS_SECRET_ACCESS_KEY: 'loopback',
        },
        expect: { exit: 0, status: 503 },
      },
      [FIRES_ON.IngestAlertsRefusedAlarm as string]: {
        fn: 'Ingest',
        event: 'ingest-http-api-eventlist.json',
        env: { ALERTS_SINK: `sqs:${urlOf(sqs)}/123456789012/aisoc-alerts` },
        shell: { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'AKIAALARMSTEST', AWS_SECRET_ACCESS_KEY: 'loopback' },
        expect: { exit: 0, status: 200 },
      },
      [FIRES_ON.IngestUnauthorizedAlarm as string]: {
        fn: 'Ingest',
        event: 'ingest-http-api-bad-token.json',
        expect: { exit: 0, status: 401 },
      },
      // The committed request with no token, to the GKE route: the stacks deploy it with GkePushTenants empty.
      [FIRES_ON.IngestRoutesOffAlarm as string]: {
        fn: 'Ingest',
        event: withPath('ingest-http-api-bad-token.json', 'gke-audit'),
        expect: { exit: 0, status: 503 },
      },
      // The committed EventList with the right token, its body cut short: a real sender's batch refused.
      [FIRES_ON.IngestRefusedAlarm as string]: {
        fn: 'Ingest',
        event: withBody('ingest-http-api-eventlist.json', (body) => body.slice(0, body.length / 2)),
        expect: { exit: 0, status: 400 },
      },
      // The committed EventList with Falco's `{"kind": 0}` regression input (a security audit's) added as an item.
      [FIRES_ON.IngestRejectedItemsAlarm as string]: {
        fn: 'Ingest',
        event: withItem('ingest-http-api-eventlist.json', JSON.parse(readFileSync(join(FALCO_DIR, 'fal_01_003.json'), 'utf8'))),
        expect: { exit: 0, status: 200 },
      },
      [NOT_HTTP]: {
        fn: 'Ingest',
        event: readFileSync(join(ROOT, 'test/fixtures/sam/cloudwatch-logs.json'), 'utf8'),
        expect: { exit: 1 },
      },
      [FIRES_ON.IngestErrorsAlarm as string]: {
        fn: 'Ingest',
        event: 'ingest-http-api-eventlist.json',
        env: { K8S_AUDIT_SEVERITY: 'not-a-mode' },
        expect: { exit: 1 },
      },
    };
    for (const [name, s] of Object.entries(scenarios)) {
      await run(name, s);
      const r = runs[name];
      expect(r?.exit, name).toBe(s.expect.exit);
      if (s.expect.status !== undefined) expect((r?.result as { statusCode?: number } | undefined)?.statusCode, name).toBe(s.expect.status);
    }
  }, 240_000);

  afterAll(async () => {
    await ingest?.close();
    for (const s of servers) s.close();
    rmSync(dataDir, { recursive: true, force: true });
    scratch.cleanup();
  });

  describe.each(Object.entries(templates()))('%s', (_file, resources) => {
    const alarms = alarmsOf(resources);

    it('has a failure run for every alarm, or says why no bundle run can publish its metric', () => {
      for (const a of alarms) expect(FIRES_ON[a.id] ?? AWS_SIDE[a.id], a.id).toBeDefined();
    });

    it('has an alarm for every failure that loses or stops events (docs/deploy.md, Operating it)', () => {
      expect(alarms.map((a) => a.id).sort()).toEqual([...Object.keys(FIRES_ON), ...Object.keys(AWS_SIDE)].sort());
    });

    it('every alarm the bundles feed selects a metric they publish, with its exact dimensions', () => {
      const published = new Set(Object.values(runs).flatMap((r) => r.points.map(key)));
      for (const a of alarms.filter((a) => FIRES_ON[a.id] !== undefined)) {
        for (const s of a.stats) expect(published.has(key(s.identity)), `${a.id} selects ${key(s.identity)}`).toBe(true);
      }
    });

    it('goes to ALARM on the failure it is for, and stays OK on a healthy run of its function', () => {
      for (const a of alarms.filter((a) => FIRES_ON[a.id] !== undefined)) {
        const failure = runs[FIRES_ON[a.id] as string];
        expect(evaluate(a, failure?.points ?? []), `${a.id} on "${FIRES_ON[a.id]}"`).toBe('ALARM');
        const fn = a.stats.map((s) => s.identity.dims.service ?? s.identity.dims.FunctionName).find((v) => v !== undefined) as Fn;
        expect(evaluate(a, runs[HEALTHY[fn]]?.points ?? []), `${a.id} on "${HEALTHY[fn]}"`).toBe('OK');
      }
    });

    it('the AWS-side alarms name the dimension AWS publishes their metric under', () => {
      // An HTTP API's metrics by ApiId alone (API Gateway developer guide, "Monitor CloudWatch
      // metrics for HTTP APIs in API Gateway"); the names are checked in test/unit/infra/operations.test.ts.
      const documented: Record<string, string[]> = {
        'AWS/Lambda': ['FunctionName'],
        'AWS/SQS': ['QueueName'],
        'AWS/ApiGateway': ['ApiId'],
      };
      for (const a of alarms.filter((a) => AWS_SIDE[a.id] !== undefined)) {
        for (const s of a.stats.filter((s) => s.identity.namespace.startsWith('AWS/'))) {
          expect(Object.keys(s.identity.dims), a.id).toEqual(documented[s.identity.namespace]);
        }
      }
    });

    // The ingest's API is public: anyone can draw a 401 or a 404. What an operator must hear of is
    // a sender that keeps failing; what must not page is one probe among healthy traffic.
    const healthy = () => [...(runs[HEALTHY.Forwarder]?.points ?? []), ...(runs[HEALTHY.Ingest]?.points ?? [])];
    const unauthorized = () => runs[FIRES_ON.IngestUnauthorizedAlarm as string]?.points ?? [];
    /** Each alarm's worst state over a sequence of periods: evaluated after each period, as CloudWatch does. */
    const states = (periods: Datapoint[][]) =>
      Object.fromEntries(
        alarms.map((a) => [a.id, periods.some((_, i) => evaluate(a, periods.slice(0, i + 1)) === 'ALARM') ? 'ALARM' : 'OK']),
      );
    const allOk = Object.fromEntries(alarms.map((a) => [a.id, 'OK']));

    it('pages nobody for one refused request in 15 minutes of healthy traffic: a wrong token, a path no route matches', () => {
      // The 401 is counted by API Gateway too; the 404 only by API Gateway (it never reaches the code).
      expect(states([[...healthy(), ...unauthorized(), ...gateway4xx(1)], healthy(), healthy()])).toEqual(allOk);
      expect(states([healthy(), [...healthy(), ...gateway4xx(1)], healthy()])).toEqual(allOk);
      expect(states([healthy(), [...healthy(), ...gateway4xx(1)], [...healthy(), ...unauthorized(), ...gateway4xx(1)]])).toEqual(allOk);
    });

    it('pages for a sender whose token is wrong in each of three 5-minute periods, by IngestUnauthorizedAlarm alone', () => {
      const period = [...healthy(), ...unauthorized(), ...gateway4xx(1)];
      expect(states([period, period, period])).toEqual({ ...allOk, IngestUnauthorizedAlarm: 'ALARM' });
      // Two periods, then a quiet one: a probe over a period boundary, or a sender fixed, pages nobody.
      expect(states([period, period, healthy()])).toEqual(allOk);
    });

    it('pages for a sender API Gateway refuses in each of three 5-minute periods (a wrong URL, its throttle), by HttpApi4xxAlarm alone', () => {
      const period = [...healthy(), ...gateway4xx(3)];
      expect(states([period, period, period])).toEqual({ ...allOk, HttpApi4xxAlarm: 'ALARM' });
      // With no request reaching the ingest at all (its only sender has the wrong URL): FILL keeps the datapoint.
      expect(evaluate(alarms.find((a) => a.id === 'HttpApi4xxAlarm') as Alarm, gateway4xx(3))).toBe('ALARM');
    });

    it('pages at once for a batch of a sender holding the token refused, by IngestRefusedAlarm alone', () => {
      const refused = runs[FIRES_ON.IngestRefusedAlarm as string]?.points ?? [];
      expect(states([healthy(), healthy(), [...healthy(), ...refused, ...gateway4xx(1)]])).toEqual({
        ...allOk,
        IngestRefusedAlarm: 'ALARM',
      });
    });

    it("pages nobody for one stranger's POST to a route turned off, or one body over Lambda's payload", () => {
      const routeOff = runs[FIRES_ON.IngestRoutesOffAlarm as string]?.points ?? [];
      expect(states([[...healthy(), ...routeOff, ...gateway5xx(1)], healthy(), healthy()])).toEqual(allOk);
      expect(states([healthy(), [...healthy(), ...gateway5xx(1)], healthy()])).toEqual(allOk);
    });

    it('pages for a sender posting to a route turned off, or refused by API Gateway with 5xx, in each of three periods', () => {
      const routeOff = [...healthy(), ...(runs[FIRES_ON.IngestRoutesOffAlarm as string]?.points ?? []), ...gateway5xx(1)];
      expect(states([routeOff, routeOff, routeOff])).toEqual({ ...allOk, IngestRoutesOffAlarm: 'ALARM' });
      const tooLarge = [...healthy(), ...gateway5xx(2)];
      expect(states([tooLarge, tooLarge, tooLarge])).toEqual({ ...allOk, HttpApi5xxAlarm: 'ALARM' });
    });

    it("pages for API Gateway's own 5xx also when an invocation that is no API Gateway request (a 502 of the ingest's count) falls in the same periods", () => {
      // That 502 is in Responses5xx, never in API Gateway's 5xx (API Gateway did not invoke it):
      // subtracted alone it cancelled the gateway's one 5xx of each period (1 - 1 = 0).
      const notHttp = runs[NOT_HTTP]?.points ?? [];
      const period = [...healthy(), ...gateway5xx(1), ...notHttp];
      expect(states([period, period, period])).toEqual({
        ...allOk,
        HttpApi5xxAlarm: 'ALARM',
        Ingest5xxAlarm: 'ALARM',
        IngestErrorsAlarm: 'ALARM',
      });
      // Without a gateway 5xx it pages by the ingest's alarms only (the expression never goes below 0).
      const alone = [...healthy(), ...gateway5xx(0), ...notHttp];
      expect(states([alone, alone, alone])).toEqual({ ...allOk, Ingest5xxAlarm: 'ALARM', IngestErrorsAlarm: 'ALARM' });
    });

    it('pages at once for an outage answered 5xx (the events sink down), by the ingest alarms', () => {
      const down = runs[FIRES_ON.Ingest5xxAlarm as string]?.points ?? [];
      expect(states([healthy(), healthy(), [...healthy(), ...down, ...gateway5xx(1)]])).toEqual({
        ...allOk,
        Ingest5xxAlarm: 'ALARM',
        IngestSinkFailuresAlarm: 'ALARM',
      });
    });

    it('every dashboard line of a bundle metric charts a metric the bundles publish', () => {
      const dashboard = Object.values(resources).find((r) => r.Type === 'AWS::CloudWatch::Dashboard');
      if (dashboard === undefined) throw new Error('no dashboard');
      const [body, vars] = (dashboard.Properties.DashboardBody as { 'Fn::Sub': [string, Record<string, unknown>] })['Fn::Sub'];
      const bound = body.replace(/\$\{(\w+)\}/g, (_, name: string) => resolve(vars[name]));
      const widgets = (JSON.parse(bound) as { widgets: { properties: { metrics: unknown[][] } }[] }).widgets;
      const published = new Set(Object.values(runs).flatMap((r) => r.points.map(key)));
      let charted = 0;
      for (const line of widgets.flatMap((w) => w.properties.metrics)) {
        const parts = line.filter((p) => typeof p === 'string') as string[];
        const [namespace = '', name = '', ...pairs] = parts;
        if (namespace !== 'AiSOC/K8sAudit' && !(namespace === 'AWS/Lambda' && name === 'Errors')) continue;
        const dims: Record<string, string> = {};
        for (let i = 0; i < pairs.length; i += 2) dims[pairs[i] as string] = pairs[i + 1] as string;
        expect(published.has(key({ namespace, name, dims })), key({ namespace, name, dims })).toBe(true);
        charted++;
      }
      expect(charted).toBeGreaterThan(20);
    });
  });

  it('catches an alarm whose dimensions differ from what the code publishes', () => {
    const alarm = alarmsOf(templates()['infra/template.yaml'] ?? {}).find((a) => a.id === 'IngestSinkFailuresAlarm') as Alarm;
    const failure = runs[FIRES_ON.IngestSinkFailuresAlarm as string]?.points ?? [];
    expect(evaluate(alarm, failure)).toBe('ALARM');
    const withCluster = {
      ...alarm,
      stats: alarm.stats.map((s) => ({ ...s, identity: { ...s.identity, dims: { ...s.identity.dims, cluster: 'demo-cluster' } } })),
    };
    expect(evaluate(withCluster, failure)).toBe('OK');
  });
});
