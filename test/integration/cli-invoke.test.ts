import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli as runCliRaw } from '../helpers/cli.js';

// Stand-in bundles: what a handler sees (event, context, environment) is what `invoke` must get right.
const BUNDLES: Record<string, string> = {
  echo: `
    console.log('init log line');
    const atInit = process.env.APP_SETTING;
    export const handler = async (event, context) => {
      console.log('handler log line');
      const first = context.getRemainingTimeInMillis();
      await new Promise((r) => setTimeout(r, 50));
      return {
        event,
        atInit,
        env: { APP_SETTING: process.env.APP_SETTING, ONLY_INGEST: process.env.ONLY_INGEST, SHELL_ONLY: process.env.SHELL_ONLY ?? null,
               AWS_ENDPOINT_URL: process.env.AWS_ENDPOINT_URL, AWS_LAMBDA_FUNCTION_NAME: process.env.AWS_LAMBDA_FUNCTION_NAME,
               AWS_REGION: process.env.AWS_REGION },
        context: { awsRequestId: context.awsRequestId, functionName: context.functionName, invokedFunctionArn: context.invokedFunctionArn,
                   memoryLimitInMB: context.memoryLimitInMB, logGroupName: context.logGroupName, functionVersion: context.functionVersion },
        remaining: [first, context.getRemainingTimeInMillis()],
      };
    };`,
  throws: `
    class ForwardError extends Error { name = 'ForwardError'; }
    export const handler = async () => { throw new ForwardError('3 of 9 audit events not delivered'); };`,
  initFails: `
    class ConfigError extends Error { name = 'ConfigError'; }
    throw new ConfigError('invalid configuration: EVENTS_SINK is required');
    export const handler = async () => 'never';`,
  hangs: `export const handler = () => new Promise(() => { setInterval(() => {}, 1000); });`,
  callback: `export const handler = (event, context, callback) => { setTimeout(() => callback(null, { via: 'callback', n: event.n }), 10); };`,
};

// The stand-ins' template: the variables they read are declared, as sam local requires.
const STANDIN_TEMPLATE = `
Resources:
  Forwarder:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ../dist/forwarder/
      Handler: index.handler
      Timeout: 120
      MemorySize: 512
      Environment:
        Variables:
          APP_SETTING: template-default
  Ingest:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ../dist/ingest/
      Handler: index.handler
      Timeout: 29
      MemorySize: 1024
      Environment:
        Variables:
          APP_SETTING: template-default
          ONLY_INGEST: ""
`;

describe('aisoc-k8s-audit invoke', () => {
  let root = '';
  const dist = (name: string) => join(root, name);
  const runCli = (argv: string[], env?: Record<string, string | undefined>) =>
    runCliRaw([...argv, '--template', join(root, 'template.yaml')], env);

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'aisoc-invoke-'));
    for (const [name, code] of Object.entries(BUNDLES)) {
      for (const fn of ['forwarder', 'ingest']) {
        mkdirSync(join(root, name, fn), { recursive: true });
        writeFileSync(join(root, name, fn, 'index.mjs'), code);
      }
    }
    writeFileSync(join(root, 'event.json'), JSON.stringify({ n: 7, awslogs: { data: 'H4sI' } }));
    writeFileSync(
      join(root, 'env.json'),
      JSON.stringify({ Parameters: { APP_SETTING: 'from-parameters' }, Ingest: { APP_SETTING: 'ingest-only', ONLY_INGEST: 1 } }),
    );
    writeFileSync(join(root, 'template.yaml'), STANDIN_TEMPLATE);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('calls the handler with the event and a Lambda-like context, and prints the result as JSON on stdout', async () => {
    const { code, stdout, stderr } = await runCli([
      'invoke',
      'Forwarder',
      '--event',
      join(root, 'event.json'),
      '--dist',
      dist('echo'),
      '--timeout',
      '30',
      // sam local's option for its container's networking: taken, said so, and without effect here.
      '--add-host',
      'host.docker.internal:host-gateway',
    ]);
    expect(code).toBe(0);
    const result = JSON.parse(stdout);
    expect(result.event).toEqual({ n: 7, awslogs: { data: 'H4sI' } });
    expect(result.context).toMatchObject({
      // sam local's name for it: the template's logical id.
      functionName: 'Forwarder',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:Forwarder',
      memoryLimitInMB: '512',
      logGroupName: '/aws/lambda/Forwarder',
      functionVersion: '$LATEST',
    });
    expect(result.context.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    const [first, later] = result.remaining as [number, number];
    expect(first).toBeLessThanOrEqual(30_000);
    expect(first).toBeGreaterThan(0);
    expect(later).toBeLessThan(first);
    expect(stderr).toContain('init log line\n');
    expect(stderr).toContain('invoke: --add-host maps a name inside sam local');
    expect(stderr).toContain('handler log line\n');
    expect(stderr).toMatch(new RegExp(`^START RequestId: ${result.context.awsRequestId} Version: \\$LATEST$`, 'm'));
  });

  it('gives the bundle its env-file variables at init, Parameters first and then the function section', async () => {
    const env = join(root, 'env.json');
    const fwd = JSON.parse(
      (await runCli(['invoke', 'Forwarder', '--event', join(root, 'event.json'), '--env', env, '--dist', dist('echo')])).stdout,
    );
    const ing = JSON.parse(
      (await runCli(['invoke', 'Ingest', '--event', join(root, 'event.json'), '--env', env, '--dist', dist('echo')])).stdout,
    );
    expect(fwd.atInit).toBe('from-parameters');
    // ONLY_INGEST is not declared for the Forwarder: SAM does not set it, and neither does invoke.
    expect(fwd.env.ONLY_INGEST).toBeUndefined();
    expect(ing.atInit).toBe('ingest-only');
    expect(ing.env.ONLY_INGEST).toBe('1');
  });

  // sam local passes only the credentials and region it resolved (env_vars.py); invoke passes every
  // AWS_* so an endpoint like moto's reaches the SDK (docs/deploy.md says so).
  it('passes AWS_* variables of the shell through but nothing else', async () => {
    const { stdout } = await runCli(['invoke', 'Ingest', '--event', join(root, 'event.json'), '--dist', dist('echo')], {
      SHELL_ONLY: 'leak',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:5000',
      AWS_REGION: 'eu-west-1',
      PATH: process.env.PATH ?? '',
    });
    const { env, context } = JSON.parse(stdout);
    expect(env.SHELL_ONLY).toBeNull();
    expect(env.AWS_ENDPOINT_URL).toBe('http://127.0.0.1:5000');
    expect(env.AWS_REGION).toBe('eu-west-1');
    expect(env.AWS_LAMBDA_FUNCTION_NAME).toBe('Ingest');
    expect(context.memoryLimitInMB).toBe('1024');
  });

  it('prints the error type and message like sam and exits 1 when the handler throws', async () => {
    const { code, stdout, stderr } = await runCli(['invoke', 'Forwarder', '--event', join(root, 'event.json'), '--dist', dist('throws')]);
    expect(code).toBe(1);
    expect(JSON.parse(stdout)).toMatchObject({ errorType: 'ForwardError', errorMessage: '3 of 9 audit events not delivered' });
    expect(stderr).toContain('Invoke error: ForwardError: 3 of 9 audit events not delivered\n');
  });

  it('reports an error thrown while the bundle initialises, as Lambda does', async () => {
    const { code, stdout, stderr } = await runCli(['invoke', 'Ingest', '--event', join(root, 'event.json'), '--dist', dist('initFails')]);
    expect(code).toBe(1);
    expect(JSON.parse(stdout)).toMatchObject({ errorType: 'ConfigError', errorMessage: 'invalid configuration: EVENTS_SINK is required' });
    expect(stderr).toContain('Init error: ConfigError');
  });

  it('stops a handler that runs past the timeout', async () => {
    const { code, stdout } = await runCli([
      'invoke',
      'Forwarder',
      '--event',
      join(root, 'event.json'),
      '--dist',
      dist('hangs'),
      '--timeout',
      '1',
    ]);
    expect(code).toBe(1);
    expect(JSON.parse(stdout)).toEqual({ errorType: 'Sandbox.Timedout', errorMessage: 'Task timed out after 1.00 seconds' });
  });

  it('supports callback-style handlers', async () => {
    const { code, stdout } = await runCli(['invoke', 'Forwarder', '--event', join(root, 'event.json'), '--dist', dist('callback')]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ via: 'callback', n: 7 });
  });

  it('says to build first when the bundle is missing', async () => {
    const { code, stderr } = await runCli(['invoke', 'Ingest', '--event', join(root, 'event.json'), '--dist', join(root, 'nothing-here')]);
    expect(code).toBe(2);
    expect(stderr).toContain('is not built; run `npm run build` first');
  });

  // sam local invoke's template option is `--template-file`, `--template` or `-t` (aws/aws-sam-cli
  // samcli/commands/_utils/options.py, template_click_option): a sam line with the long name runs too.
  it('takes the template as sam does: --template-file, --template or -t', async () => {
    const template = join(root, 'template.yaml');
    for (const spelling of [['--template-file', template], [`--template-file=${template}`], ['-t', template]]) {
      const r = await runCliRaw(['invoke', 'Forwarder', ...spelling, '--event', join(root, 'event.json'), '--dist', dist('echo')]);
      expect({ spelling: spelling[0], code: r.code, stderr: r.code === 0 ? '' : r.stderr }).toEqual({
        spelling: spelling[0],
        code: 0,
        stderr: '',
      });
      expect(JSON.parse(r.stdout).env.APP_SETTING).toBe('template-default');
    }
    const both = await runCliRaw(['invoke', 'Forwarder', '-t', template, '--template-file', template, '--dist', dist('echo')]);
    expect([both.code, both.stderr]).toEqual([2, expect.stringContaining('give --template or --template-file, not both')]);
  });

  it('refuses an unknown function and an unreadable event file', async () => {
    expect((await runCli(['invoke', 'tailer', '--event', 'x.json'])).stderr).toContain(
      'the template has no function "tailer"; it has Forwarder, Ingest',
    );
    const missing = await runCli(['invoke', 'Ingest', '--event', join(root, 'missing.json'), '--dist', dist('echo')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('ENOENT');
  });

  // env.json holds the shared secret (infra/events/env.local.json does): a value left unquoted is
  // refused with exit 2, and none of its text is quoted back (V8's message would show ~10 characters).
  it('refuses an env file that is not JSON without quoting the secret in it', async () => {
    const secret = 'Nc5Xw8Rb1-env-secret';
    for (const [name, text] of [
      ['unquoted.json', `{"Forwarder": {"K8S_AUDIT_SHARED_SECRET": ${secret}}}`],
      ['dotenv.json', `K8S_AUDIT_SHARED_SECRET=${secret}\n`],
    ] as const) {
      writeFileSync(join(root, name), text);
      const r = await runCli([
        'invoke',
        'Forwarder',
        '--event',
        join(root, 'event.json'),
        '--env-vars',
        join(root, name),
        '--dist',
        dist('echo'),
      ]);
      expect([r.code, r.stderr.includes(`env file ${join(root, name)} is not JSON`)]).toEqual([2, true]);
      for (const part of [secret.slice(0, 8), 'K8S_AUDIT_']) expect(`${r.stdout}${r.stderr}`).not.toContain(part);
    }
  });
});
