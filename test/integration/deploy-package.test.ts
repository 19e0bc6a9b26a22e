import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { inflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../lib/cli/main.js';
import { hasCommand } from '../helpers/host.js';
import { npmRun, ROOT, scratchCheckout } from '../helpers/infra-scratch.js';

interface CfnResource {
  Type: string;
  Condition?: string;
  Properties: Record<string, unknown>;
}

/** The files inside a zip, read from its central directory (no unzip tool needed): name and content. */
function readZip(path: string): Map<string, Buffer> {
  const buf = readFileSync(path);
  const files = new Map<string, Buffer>();
  const end = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  let off = buf.readUInt32LE(end + 16);
  for (let n = buf.readUInt16LE(end + 10); n > 0; n--) {
    const method = buf.readUInt16LE(off + 10);
    const size = buf.readUInt32LE(off + 20);
    const nameLen = buf.readUInt16LE(off + 28);
    const extraLen = buf.readUInt16LE(off + 30);
    const commentLen = buf.readUInt16LE(off + 32);
    const local = buf.readUInt32LE(off + 42);
    const name = buf.toString('utf8', off + 46, off + 46 + nameLen);
    const dataStart = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const data = buf.subarray(dataStart, dataStart + size);
    if (!name.endsWith('/')) files.set(name, method === 8 ? inflateRawSync(data) : Buffer.from(data));
    off += 46 + nameLen + extraLen + commentLen;
  }
  return files;
}

/** Unpacks a zip into `dir`, as Lambda unpacks a function's code into /var/task. */
function unzipInto(path: string, dir: string): void {
  for (const [name, data] of readZip(path)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), data);
  }
}

async function invokeBundle(dist: string, fn: string, event: string): Promise<{ code: number; out: string }> {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const argv = [
    'invoke',
    fn,
    '--event',
    join(ROOT, 'infra/events', event),
    '--env',
    join(ROOT, 'infra/events/env.local.json'),
    '--dist',
    dist,
  ];
  const code = await main(argv, { stdout, stderr: new PassThrough(), stdin: new PassThrough(), env: { PATH: process.env.PATH ?? '' } });
  return { code, out };
}

// `npm run package` (esbuild, then `osls package`) in a scratch checkout, offline and with no AWS
// credentials at all, as CI and a fresh clone run it.
describe('npm run package', () => {
  let dir = '';
  let cleanup = () => {};
  let template: { Resources: Record<string, CfnResource>; Conditions?: Record<string, unknown> } = { Resources: {} };
  const byType = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);
  const fn = (name: string) => byType('AWS::Lambda::Function').find(([, r]) => r.Properties.FunctionName === `aisoc-k8s-audit-dev-${name}`);

  beforeAll(async () => {
    ({ dir, cleanup } = scratchCheckout());
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
    await npmRun(dir, 'package', { ...env, HOME: dir });
    template = JSON.parse(readFileSync(join(dir, '.serverless/cloudformation-template-update-stack.json'), 'utf8'));
  }, 240_000);
  afterAll(() => cleanup());

  it('writes the CloudFormation template and one zip per function', () => {
    expect(readdirSync(join(dir, '.serverless')).sort()).toEqual(
      expect.arrayContaining([
        'cloudformation-template-create-stack.json',
        'cloudformation-template-update-stack.json',
        'forwarder.zip',
        'ingest.zip',
      ]),
    );
  });

  it('zips only the function’s own bundle', () => {
    for (const name of ['forwarder', 'ingest']) {
      const entries = [...readZip(join(dir, '.serverless', `${name}.zip`)).keys()];
      expect(entries).toContain(`dist/${name}/index.mjs`);
      expect(entries.filter((e) => !e.startsWith(`dist/${name}/`))).toEqual([]);
    }
  });

  it('ships the licence and notice texts of the third-party code each bundle holds', () => {
    // The packages' own licence files, as npm installed them: MIT asks that the copyright notice go
    // with every copy of the code, Apache-2.0 the licence text; the minified bundles keep neither.
    const licence = (pkg: string) => readFileSync(join(process.cwd(), 'node_modules', pkg, 'LICENSE'), 'utf8').trim();
    const expected: Record<string, string[]> = {
      ingest: ['@marcbachmann/cel-js', 're2js', '@aws-sdk/client-kinesis'],
      forwarder: ['@aws-sdk/client-secrets-manager'],
    };
    for (const [name, packages] of Object.entries(expected)) {
      const notices =
        readZip(join(dir, '.serverless', `${name}.zip`))
          .get(`dist/${name}/THIRD-PARTY-NOTICES.txt`)
          ?.toString('utf8') ?? '';
      for (const pkg of packages) {
        expect(notices).toMatch(new RegExp(`^${pkg.replace(/[/.]/g, '\\$&')}@\\d`, 'm'));
        expect(notices).toContain(licence(pkg));
      }
    }
  });

  it('ships zips that run on their own, with no node_modules beside them, as Lambda unpacks them', async () => {
    const task = mkdtempSync(join(tmpdir(), 'aisoc-task-'));
    try {
      unzipInto(join(dir, '.serverless/ingest.zip'), task);
      unzipInto(join(dir, '.serverless/forwarder.zip'), task);
      const ingest = await invokeBundle(join(task, 'dist'), 'Ingest', 'ingest-http-api-eventlist.json');
      expect(ingest.code).toBe(0);
      expect(JSON.parse(JSON.parse(ingest.out).body)).toMatchObject({ accepted: 9, rejected: 0 });
      const forwarder = await invokeBundle(join(task, 'dist'), 'Forwarder', 'forwarder-control-message.json');
      expect(forwarder).toEqual({ code: 0, out: 'null\n' });
    } finally {
      rmSync(task, { recursive: true, force: true });
    }
  });

  it('declares both functions on nodejs22.x arm64 with the bundle handler', () => {
    for (const name of ['forwarder', 'ingest']) {
      const props = fn(name)?.[1].Properties;
      expect(props?.Runtime).toBe('nodejs22.x');
      expect(props?.Architectures).toEqual(['arm64']);
      expect(props?.Handler).toBe(`dist/${name}/index.handler`);
    }
  });

  it('routes the three POST paths of the HTTP API to the ingest function', () => {
    const routes = byType('AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties.RouteKey);
    expect(routes.sort()).toEqual([
      'POST /v1/inbox/{token}',
      'POST /v1/ingest/gke-audit/{tenant_id}',
      'POST /v1/ingest/k8s-audit/{tenant_id}',
    ]);
    const integrations = byType('AWS::ApiGatewayV2::Integration');
    expect(integrations).toHaveLength(1);
    expect(JSON.stringify(integrations[0]?.[1].Properties.IntegrationUri)).toContain(fn('ingest')?.[0]);
    expect(integrations[0]?.[1].Properties.PayloadFormatVersion).toBe('2.0');
  });

  it('alarms on the metrics of the HTTP API osls generates, by its ApiId', () => {
    // An HTTP API (not a REST API, whose metrics are 4XXError/5XXError) on the $default stage:
    // API Gateway publishes its 4xx/5xx by ApiId (API Gateway developer guide, "Monitor
    // CloudWatch metrics for HTTP APIs in API Gateway"), and Ref of the Api is that id.
    expect(template.Resources.HttpApi).toMatchObject({ Type: 'AWS::ApiGatewayV2::Api', Properties: { ProtocolType: 'HTTP' } });
    expect(byType('AWS::ApiGatewayV2::Stage').map(([, r]) => r.Properties.StageName)).toEqual(['$default']);
    // A metric-math alarm (HttpApi4xxAlarm) names its metrics under Metrics[].MetricStat.Metric.
    const gateway = byType('AWS::CloudWatch::Alarm')
      .flatMap(([, r]) =>
        r.Properties.Metrics
          ? (r.Properties.Metrics as { MetricStat?: { Metric: Record<string, unknown> } }[]).flatMap((q) =>
              q.MetricStat ? [q.MetricStat.Metric] : [],
            )
          : [r.Properties],
      )
      .filter((m) => m.Namespace === 'AWS/ApiGateway');
    expect(gateway.map((m) => m.MetricName).sort()).toEqual(['4xx', '5xx']);
    for (const m of gateway) expect(m.Dimensions).toEqual([{ Name: 'ApiId', Value: { Ref: 'HttpApi' } }]);
  });

  it('ships to its own HTTP API and alarms on no events stored only then, with the default ingestUrl', () => {
    // osls writes the empty param into the condition: CloudFormation creates the alarm and
    // takes the If's first branch (test/unit/infra/templates.test.ts evaluates the other).
    expect(template.Conditions?.ForwardToThisStack).toEqual({ 'Fn::Equals': ['', ''] });
    expect(template.Resources.IngestNoEventsAlarm?.Condition).toBe('ForwardToThisStack');
    const url = fn('forwarder')?.[1].Properties.Environment as { Variables: Record<string, unknown> };
    expect(JSON.stringify(url.Variables.AISOC_INGEST_URL)).toMatch(
      /^\{"Fn::If":\["ForwardToThisStack",\{"Fn::Join":.*"HttpApi".*\/v1\/ingest\/k8s-audit\/default"\]\]\},""\]\}$/,
    );
  });

  it('subscribes the forwarder to the EKS log group, with permission for CloudWatch Logs to invoke it', () => {
    const [forwarderId] = fn('forwarder') ?? [];
    const filters = byType('AWS::Logs::SubscriptionFilter');
    expect(filters).toHaveLength(1);
    expect(filters[0]?.[1].Properties).toEqual({
      LogGroupName: '/aws/eks/aisoc-demo/cluster',
      FilterPattern: '"auditID"',
      DestinationArn: { 'Fn::GetAtt': [forwarderId, 'Arn'] },
    });
    const permission = byType('AWS::Lambda::Permission').find(([, r]) => JSON.stringify(r.Properties.Principal).includes('logs.'));
    expect(JSON.stringify(permission?.[1].Properties.SourceArn)).toContain('/aws/eks/aisoc-demo/cluster');
  });

  it('sends failed asynchronous forwarder invocations to the SQS failure queue', () => {
    const [forwarderId] = fn('forwarder') ?? [];
    const configs = byType('AWS::Lambda::EventInvokeConfig');
    expect(configs).toHaveLength(1);
    expect(configs[0]?.[1].Properties).toMatchObject({
      FunctionName: { Ref: forwarderId },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['ForwarderFailureQueue', 'Arn'] } } },
    });
    expect(template.Resources.ForwarderFailureQueue?.Type).toBe('AWS::SQS::Queue');
  });

  it('puts no secret in the artifacts', () => {
    const text = readFileSync(join(dir, '.serverless/cloudformation-template-update-stack.json'), 'utf8');
    const ingestEnv = fn('ingest')?.[1].Properties.Environment as { Variables: Record<string, unknown> };
    // Both functions get the secret's ARN and read the value at init: it is in no template and in
    // no function configuration.
    expect(ingestEnv.Variables.K8S_AUDIT_SHARED_SECRET_ARN).toEqual({ Ref: 'SharedSecret' });
    // Declared (so a local env file can set it, as sam local requires) but empty: no value.
    expect(ingestEnv.Variables.K8S_AUDIT_SHARED_SECRET).toBe('');
    expect(text).not.toMatch(/AKIA[0-9A-Z]{16}/);
  });

  it.skipIf(!hasCommand('cfn-lint'))('compiles to a template cfn-lint finds no error in', { timeout: 120_000 }, () => {
    // Warnings (W3005: osls adds DependsOn next to a GetAtt) are osls's own; errors would block a deploy.
    const out = cfnLint(join(dir, '.serverless/cloudformation-template-update-stack.json'));
    expect(out.split('\n').filter((l) => /^E\d{4}/.test(l))).toEqual([]);
  });
});

function cfnLint(path: string): string {
  try {
    return execFileSync('cfn-lint', [path], { encoding: 'utf8' });
  } catch (err) {
    return String((err as { stdout?: string }).stdout ?? '');
  }
}
