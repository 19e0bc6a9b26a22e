import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORWARDER_METRIC_NAMES, INGEST_METRIC_NAMES } from '../../lib/metrics/index.js';
import { runBuiltCli } from '../helpers/cli-bundle.js';
import { buildScratchBundles, ROOT, scratchCheckout } from '../helpers/infra-scratch.js';

// SAM CLI's own sample events (test/fixtures/sam/, what `sam local generate-event` prints) through
// the built bundles with `node dist/cli.mjs invoke`, as a user who starts from them would run
// `sam local invoke`: each gets the answer our Lambda gives, and one that is not for the function
// gets a clear error (exit 1, Lambda's error shape), never a crash or a silent success.
const SAM = join(ROOT, 'test/fixtures/sam');

interface Invocation {
  code: number;
  result: Record<string, unknown> | null;
  stderr: string;
}

describe('invoke with the SAM CLI sample events', () => {
  let scratch = { dir: '', cleanup: () => {} };
  let cli = '';

  beforeAll(async () => {
    scratch = scratchCheckout();
    cli = join(await buildScratchBundles(scratch.dir), 'cli.mjs');
    // A stand-in for both functions that answers with the environment it was given at init.
    for (const fn of ['forwarder', 'ingest']) {
      mkdirSync(join(scratch.dir, 'env-echo', fn), { recursive: true });
      writeFileSync(
        join(scratch.dir, 'env-echo', fn, 'index.mjs'),
        'const env = { ...process.env };\nexport const handler = async () => env;\n',
      );
    }
  }, 120_000);

  afterAll(() => scratch.cleanup());

  /** `node dist/cli.mjs invoke FN -t infra/template.yaml -e SAMPLE --env-vars infra/events/env.local.json`. */
  function run(fn: string, sample: string) {
    return invokeWith(fn, join(SAM, sample));
  }

  /** The same with any event file (a path). */
  function invokeWith(fn: string, eventFile: string) {
    return runBuiltCli(cli, [
      'invoke',
      fn,
      '-t',
      join(scratch.dir, 'infra/template.yaml'),
      '-e',
      eventFile,
      '--env-vars',
      join(scratch.dir, 'infra/events/env.local.json'),
    ]);
  }

  async function invoke(fn: string, sample: string): Promise<Invocation> {
    // The template and env file of the checkout, as docs/deploy.md's local-run lines give them.
    const { code, stdout, stderr } = await runBuiltCli(cli, [
      'invoke',
      fn,
      '-t',
      join(scratch.dir, 'infra/template.yaml'),
      '-e',
      join(SAM, sample),
      '--env-vars',
      join(scratch.dir, 'infra/events/env.local.json'),
    ]);
    return { code, result: JSON.parse(stdout) as Record<string, unknown> | null, stderr };
  }

  it.each(['cloudwatch-logs.json', 'kinesis-get-records.json'])('Ingest refuses %s by name, not with a TypeError', async (sample) => {
    const r = await invoke('Ingest', sample);
    expect(r.code).toBe(1);
    expect(r.result?.errorType).toBe('UnsupportedEventError');
    expect(r.result?.errorMessage).toMatch(/^event is not an API Gateway proxy event .*the Forwarder takes/);
    expect(r.result?.errorMessage).toContain('HTTP API payload 2.0');
    expect(r.stderr).not.toContain('TypeError');
    expect(r.stderr).not.toContain('unhandled error in the ingest handler');
  });

  it.each(['apigateway-http-api-proxy.json', 'apigateway-aws-proxy.json'])(
    'Ingest answers %s (POST /path/to/resource) 404 naming the routes',
    async (sample) => {
      const r = await invoke('Ingest', sample);
      expect(r.code).toBe(0);
      expect(r.result?.statusCode).toBe(404);
      expect(JSON.parse(String(r.result?.body)).error).toContain('POST audit events to /v1/ingest/k8s-audit/<tenant_id>');
    },
  );

  it.each(['apigateway-http-api-proxy.json', 'apigateway-aws-proxy.json'])('Forwarder refuses %s by name', async (sample) => {
    const r = await invoke('Forwarder', sample);
    expect(r.code).toBe(1);
    expect(r.result?.errorType).toBe('UnsupportedEventError');
    expect(r.result?.errorMessage).toContain('neither a CloudWatch Logs subscription event');
  });

  it("Forwarder fails on SAM's Kinesis record, whose data is no subscription payload", async () => {
    const r = await invoke('Forwarder', 'kinesis-get-records.json');
    expect(r.code).toBe(1);
    expect(r.result?.errorType).toBe('ForwardError');
    expect(r.result?.errorMessage).toContain('could not be decoded');
  });

  // Every invocation publishes the forwarder's counts, zeros included (lib/metrics), also one whose
  // event the forwarder cannot read: before, that one flushed an empty buffer and Powertools printed
  // its own "No application metrics to publish" warning into the function's log instead of them.
  it.each([
    ...['cloudwatch-logs.json', 'kinesis-get-records.json', 'apigateway-http-api-proxy.json'].map((f) => `test/fixtures/sam/${f}`),
    ...['json-null.json', 'wrong-types.json', 'gke-protopayload.json'].map((f) => `test/fixtures/hostile/${f}`),
  ])('Forwarder publishes every count for %s, with no Powertools warning', async (event) => {
    const r = await invokeWith('Forwarder', join(ROOT, event));
    expect(r.stderr).not.toMatch(/no application metrics/i);
    const counts = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{"_aws"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((doc) => 'EventsReceived' in doc);
    expect(counts).toHaveLength(1);
    for (const name of FORWARDER_METRIC_NAMES) expect(counts[0]?.[name], name).toEqual(expect.any(Number));
    if (JSON.parse(r.stdout)?.errorType === 'UnsupportedEventError') {
      expect(counts[0]).toMatchObject({ PayloadsReceived: 1, UndecodablePayloads: 1, EventsReceived: 0 });
      expect(r.stderr).toContain('"message":"invocation failed before forwarding"');
    }
  });

  // The ingest likewise, for an invocation that is no API Gateway request (a wrong trigger, a hand-run
  // sample): it counts as one request answered 502, what API Gateway answers for a failed function,
  // in the one EMF document every request gets. Before, it recorded nothing, so Powertools flushed an
  // empty buffer and printed its "No application metrics to publish" warning instead.
  it.each([
    ...['cloudwatch-logs.json', 'kinesis-get-records.json'].map((f) => `test/fixtures/sam/${f}`),
    ...['json-null.json', 'wrong-types.json', 'gke-protopayload.json', 'proto-pollution.json'].map((f) => `test/fixtures/hostile/${f}`),
  ])('Ingest counts %s as one request answered 502, with no Powertools warning and none of the event in its log', async (event) => {
    const r = await invokeWith('Ingest', join(ROOT, event));
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ errorType: 'UnsupportedEventError' });
    expect(r.stderr).not.toMatch(/no application metrics/i);
    const docs = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{"_aws"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      // Powertools' ColdStart has its own document (invoke runs an on-demand cold start).
      .filter((doc) => !('ColdStart' in doc));
    expect(docs).toHaveLength(1);
    for (const name of INGEST_METRIC_NAMES) expect(docs[0]?.[name], name).toEqual(expect.any(Number));
    // UnsupportedEvents says API Gateway never saw this 502: HttpApi5xxAlarm adds it back.
    expect(docs[0]).toMatchObject({ Requests: 1, Responses5xx: 1, UnsupportedEvents: 1, Responses4xx: 0, EventsAccepted: 0, BodyBytes: 0 });
    const failed = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{"level":"ERROR"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(failed).toMatchObject([
      {
        message: 'event is not an API Gateway proxy event',
        error: expect.stringContaining('the ingest takes API Gateway proxy events only'),
      },
    ]);
    // The event itself is never logged (an API Gateway one carries the token): none of its strings
    // (the short ones, e.g. Kinesis' awsRegion "us-east-1", are the function's own context too).
    const strings = leafStrings(JSON.parse(readFileSync(join(ROOT, event), 'utf8'))).filter((v) => v.length >= 12);
    for (const value of strings) expect(r.stderr, value).not.toContain(value);
  });

  // A stream that is no apiserver audit stream is skipped in any log group (the subscription's filter
  // cannot name streams); in a group that is no EKS control-plane group it is said at WARN, with
  // what to check, since that is a subscription on the wrong group (or SAM's sample), not routine.
  it("Forwarder skips SAM's CloudWatch Logs sample (testLogGroup/testLogStream) and warns that the group is no EKS group", async () => {
    const r = await invoke('Forwarder', 'cloudwatch-logs.json');
    expect(r.code).toBe(0);
    expect(r.result).toBeNull();
    const skipped = r.stderr.split('\n').find((l) => l.includes('stream skipped: not an apiserver audit stream'));
    expect(JSON.parse(skipped ?? '{}')).toMatchObject({
      level: 'WARN',
      logGroup: 'testLogGroup',
      logStream: 'testLogStream',
      events: 2,
      hint: expect.stringContaining('the log group is not an EKS control-plane group (/aws/eks/<cluster>/cluster)'),
    });
  });

  it('Forwarder skips another stream of an EKS group at INFO, as routine', async () => {
    const r = await runBuiltCli(cli, [
      'invoke',
      'Forwarder',
      '-t',
      join(scratch.dir, 'infra/template.yaml'),
      '-e',
      join(scratch.dir, 'infra/events/forwarder-other-stream.json'),
      '--env-vars',
      join(scratch.dir, 'infra/events/env.local.json'),
    ]);
    expect(r.code).toBe(0);
    const skipped = JSON.parse(r.stderr.split('\n').find((l) => l.includes('stream skipped')) ?? '{}');
    expect(skipped).toMatchObject({ level: 'INFO', logGroup: expect.stringMatching(/^\/aws\/eks\/[^/]+\/cluster$/) });
    expect(skipped).not.toHaveProperty('hint');
  });

  // SamFunctionProvider.get (aws/aws-sam-cli samcli/lib/providers/sam_function_provider.py): the
  // logical id or the FunctionName (the template's `${AWS::StackName}-ingest`, "local-ingest" with
  // sam local's stack name "local"), exactly. `sam local invoke ingest` finds nothing.
  it('finds the function as sam local does: logical id or FunctionName, case included', async () => {
    const lower = await run('ingest', 'apigateway-http-api-proxy.json');
    expect(lower.code).toBe(2);
    expect(lower.stdout).toBe('');
    expect(lower.stderr).toContain('the template has no function "ingest": did you mean Ingest?');
    const byName = await run('local-ingest', 'apigateway-http-api-proxy.json');
    expect(byName.code).toBe(0);
    expect(JSON.parse(byName.stdout).statusCode).toBe(404);
    expect(byName.stderr).toContain('"function_name":"Ingest"');
  });

  /** The environment infra/template.yaml gives `fn` under `invoke`, with `args` and the shell's `env`. */
  async function environment(fn: string, args: string[], env: Record<string, string> = {}): Promise<Record<string, string>> {
    const r = await runBuiltCli(
      cli,
      [
        'invoke',
        fn,
        '-t',
        join(scratch.dir, 'infra/template.yaml'),
        '-e',
        join(SAM, 'cloudwatch-logs.json'),
        '--dist',
        join(scratch.dir, 'env-echo'),
        ...args,
      ],
      { env },
    );
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout) as Record<string, string>;
  }

  // IntrinsicsSymbolTable.DEFAULT_PSEUDO_PARAM_VALUES (samcli/lib/intrinsic_resolver/intrinsics_symbol_table.py),
  // put among the parameter values by sam_base_provider.py: AWS::URLSuffix "localhost", AWS::Region
  // us-east-1 unless --region, whatever the shell's AWS_REGION.
  it("resolves the template's pseudo parameters to sam local's stand-ins, and takes --region", async () => {
    const plain = await environment('Forwarder', [], { AWS_REGION: 'eu-west-1' });
    expect(plain.AISOC_INGEST_URL).toBe('https://HttpApi.execute-api.us-east-1.localhost/v1/ingest/k8s-audit/default');
    const region = await environment('Forwarder', ['--region', 'eu-west-1']);
    expect(region.AISOC_INGEST_URL).toBe('https://HttpApi.execute-api.eu-west-1.localhost/v1/ingest/k8s-audit/default');
    expect([region.AWS_REGION, region.AWS_DEFAULT_REGION]).toEqual(['eu-west-1', 'eu-west-1']);
    const override = await environment('Forwarder', ['--parameter-overrides', 'AWS::Region=ap-south-1 TenantId=acme']);
    expect(override.AISOC_INGEST_URL).toBe('https://HttpApi.execute-api.ap-south-1.localhost/v1/ingest/k8s-audit/acme');
  });

  // EnvironmentVariables._get_aws_variables (samcli/local/lambdafn/env_vars.py): the variables
  // sam local gives every function besides the template's, from the template's configuration.
  it("sets the runtime variables sam local sets, from the template's Timeout, MemorySize and Handler", async () => {
    for (const [fn, timeout, memory] of [
      ['Ingest', '29', '1024'],
      ['Forwarder', '120', '512'],
    ] as const) {
      expect(await environment(fn, [])).toMatchObject({
        AWS_SAM_LOCAL: 'true',
        AWS_LAMBDA_FUNCTION_NAME: fn,
        AWS_LAMBDA_FUNCTION_TIMEOUT: timeout,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: memory,
        AWS_LAMBDA_FUNCTION_HANDLER: 'index.handler',
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_ACCOUNT_ID: '123456789012',
        AWS_REGION: 'us-east-1',
      });
    }
  });

  // samcli/commands/local/invoke/cli.py: without --event "no event is assumed", and the function
  // gets {}; --no-event is its hidden older spelling. Each function then names what it takes.
  it('invokes with {} when no event is given, as sam local invoke does', async () => {
    for (const [fn, extra, message] of [
      ['Ingest', [], 'event is not an API Gateway proxy event; the ingest takes API Gateway proxy events only'],
      ['Forwarder', ['--no-event'], 'event is neither a CloudWatch Logs subscription event'],
    ] as const) {
      const r = await runBuiltCli(cli, [
        'invoke',
        fn,
        '-t',
        join(scratch.dir, 'infra/template.yaml'),
        '--env-vars',
        join(scratch.dir, 'infra/events/env.local.json'),
        ...extra,
      ]);
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout)).toMatchObject({ errorType: 'UnsupportedEventError', errorMessage: expect.stringContaining(message) });
    }
  });

  // How `sam local start-api` hands a request to an HttpApi function (samcli/local/apigw/
  // event_constructor.py construct_v2_event_http, samcli/local/events/api_event.py): Flask's
  // header names as Flask spells them (X-Aisoc-K8s-Token), X-Forwarded-Proto/Port added, the route
  // key "POST <path template>", pathParameters from Flask's view_args, stage "$default", a JSON body
  // as text (isBase64Encoded false: an HttpApi has no binary media types). The body is the real
  // Falco events of infra/events/ingest-http-api-eventlist.json.
  it("accepts a request as sam local start-api shapes it (curl -H 'X-AiSOC-K8s-Token: …')", async () => {
    const body = (JSON.parse(readFileSync(join(ROOT, 'infra/events/ingest-http-api-eventlist.json'), 'utf8')) as { body: string }).body;
    const path = '/v1/ingest/k8s-audit/acme';
    const route = 'POST /v1/ingest/k8s-audit/{tenant_id}';
    const event = {
      version: '2.0',
      routeKey: route,
      rawPath: path,
      rawQueryString: '',
      cookies: [],
      headers: {
        Host: '127.0.0.1:3000',
        'User-Agent': 'curl/8.5.0',
        Accept: '*/*',
        'Content-Type': 'application/json',
        'X-Aisoc-K8s-Token': 'sam-local-shared-secret-not-for-production',
        'Content-Length': String(Buffer.byteLength(body)),
        'X-Forwarded-Proto': 'http',
        'X-Forwarded-Port': '3000',
      },
      requestContext: {
        accountId: '123456789012',
        apiId: '1234567890',
        domainName: 'localhost',
        domainPrefix: 'localhost',
        http: { method: 'POST', path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'Custom User Agent String' },
        requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
        routeKey: route,
        stage: '$default',
        time: '07/Dec/2026:06:00:00 +0000',
        timeEpoch: 1796623200,
      },
      body,
      pathParameters: { tenant_id: 'acme' },
      isBase64Encoded: false,
      stageVariables: null,
    };
    const file = join(scratch.dir, 'start-api-event.json');
    writeFileSync(file, JSON.stringify(event));
    const r = await runBuiltCli(cli, [
      'invoke',
      'Ingest',
      '-t',
      join(scratch.dir, 'infra/template.yaml'),
      '-e',
      file,
      '--env-vars',
      join(scratch.dir, 'infra/events/env.local.json'),
    ]);
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout) as { statusCode: number; body: string };
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ accepted: 9, rejected: 0 });
  });
});

/** Every string value of a JSON document, at any depth. */
function leafStrings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value === null || typeof value !== 'object') return [];
  return Object.values(value).flatMap(leafStrings);
}
