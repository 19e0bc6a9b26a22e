import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCliBundle, PROJECT_CACHE } from '../helpers/cli-bundle.js';

const exec = promisify(execFile);

// The built CLI against an AWS endpoint that refuses the call, as AWS does for a log group or a
// queue that does not exist: the error names the service and the endpoint; and the SDK's notice
// about Node versions after January 2027 does not reach users of a Node this package supports.
describe('backfill and redrive name the AWS service and endpoint that failed', () => {
  let bundle = { cli: '', cleanup: () => {} };
  let server: Server;
  let endpoint = '';

  beforeAll(async () => {
    bundle = await buildCliBundle(PROJECT_CACHE, 'aisoc-aws-errors-');
    // AWS JSON protocol errors (CloudWatch Logs and SQS both speak it): 400, __type and message.
    server = createServer((req, res) => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const [type, message] = target.startsWith('Logs_')
        ? ['ResourceNotFoundException', 'The specified log group does not exist.']
        : ['com.amazonaws.sqs#QueueDoesNotExist', 'The specified queue does not exist.'];
      req.resume();
      req.on('end', () => {
        res.writeHead(400, { 'Content-Type': 'application/x-amz-json-1.1', 'x-amzn-ErrorType': type });
        res.end(JSON.stringify({ __type: type, message }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }, 60_000);
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    bundle.cleanup();
  });

  const cli = (args: string[], extra: Record<string, string> = {}) =>
    exec(process.execPath, [bundle.cli, ...args], {
      env: {
        PATH: process.env.PATH ?? '',
        AWS_ENDPOINT_URL: endpoint,
        AWS_REGION: 'eu-west-1',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AISOC_INGEST_URL: 'http://127.0.0.1:9/v1/ingest/k8s-audit/t',
        K8S_AUDIT_SHARED_SECRET: 'aws-errors-secret',
        ...extra,
      },
    }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );

  it('backfill: CloudWatch Logs at <endpoint>: the error', async () => {
    const r = await cli(['backfill', '--log-group', '/aws/eks/nope/cluster', '--start', '1h']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `aisoc-k8s-audit backfill: CloudWatch Logs at ${endpoint}: ResourceNotFoundException: The specified log group does not exist.`,
    );
    expect(r.stderr).not.toContain('NodeVersionSupportWarning');
    expect(r.stderr).not.toContain('aws-errors-secret');
  });

  // A first run on a machine with no AWS profile: the SDK finds no region, and the message said
  // `CloudWatch Logs at <not a URL>: Region is missing`.
  it.each([
    ['unset', {}],
    ['set empty', { AWS_REGION: '' }],
  ])('backfill with AWS_REGION %s and no profile says to set AWS_REGION', async (_name, region) => {
    const r = await exec(process.execPath, [bundle.cli, 'backfill', '--log-group', '/aws/eks/nope/cluster', '--start', '1h'], {
      env: {
        PATH: process.env.PATH ?? '',
        AWS_CONFIG_FILE: '/nonexistent/aws-config',
        AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
        AISOC_INGEST_URL: 'http://127.0.0.1:9/v1/ingest/k8s-audit/t',
        K8S_AUDIT_SHARED_SECRET: 'aws-errors-secret',
        ...region,
      },
    }).then(
      (ok) => ({ code: 0, ...ok }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'aisoc-k8s-audit backfill: CloudWatch Logs: no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION) to the region of the log group or queue\n',
    );
  });

  it('redrive: SQS at <endpoint>: the error', async () => {
    const r = await cli(['redrive', '--queue-url', `${endpoint}/123456789012/nope`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`aisoc-k8s-audit redrive: SQS at ${endpoint}: \\w*QueueDoesNotExist\\w*: The specified queue does not exist\\.`),
    );
    expect(r.stderr).not.toContain('NodeVersionSupportWarning');
  });

  // An endpoint written with a user and password or a signed query (a proxy or a gateway in front
  // of moto or LocalStack): the error names the endpoint by scheme, host and port only (inbox's
  // DynamoDB errors: test/integration/ingest-dynamodb.test.ts).
  it('never shows a user, password or query written into AWS_ENDPOINT_URL', async () => {
    const [user, password, query] = ['aws-endpoint-user-Qx7', 'aws-endpoint-password-Wz3', 'aws-endpoint-query-Rk9'];
    const withSecrets = `${endpoint.replace('http://', `http://${user}:${password}@`)}/?X-Amz-Security-Token=${query}`;
    const runs = [
      await cli(['backfill', '--log-group', '/aws/eks/nope/cluster', '--start', '1h'], { AWS_ENDPOINT_URL: withSecrets }),
      await cli(['redrive', '--queue-url', `${endpoint}/123456789012/nope`], { AWS_ENDPOINT_URL: withSecrets }),
    ];
    expect(runs.map((r) => r.code)).toEqual([1, 1]);
    expect(runs.map((r) => r.stderr.match(/ at (\S+): /)?.[1])).toEqual([endpoint, endpoint]);
    for (const r of runs) {
      for (const secret of [user, password, query, encodeURIComponent(password)]) expect(`${r.stdout}${r.stderr}`).not.toContain(secret);
    }
  });
});
