// The AiSOC connector documentation: "Pick a long random value (openssl rand -base64 32)". A shared secret
// shorter than 16 bytes still works (existing deployments keep running) but every place that
// starts with it says so, without the secret: serve's start, the ingest Lambda's init log, and
// test-connection (with connector run and tail --config, which read the same connector config).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2, APIGatewayProxyResult, Context } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { run as serve } from '../../lib/cli/serve.js';
import { captureIo, runCli } from '../helpers/cli.js';
import { captureStdout } from '../helpers/forwarder.js';
import { tempDataDir } from '../helpers/ingest.js';
import { until } from '../helpers/until.js';

// Header-safe and 9 bytes; distinctive, so any occurrence in the output is the secret leaking.
const SHORT = 'kZ7q#Wv2x';
const LONG = 'Jm4Qh8Zr2Vx6Tb0Nc3Pd7Sf1Wg5Ky9L';
const WARNING =
  'K8S_AUDIT_SHARED_SECRET is shorter than 16 bytes, short enough to guess: the AiSOC connector documentation says to pick a long random value (openssl rand -base64 32)';
const EMPTY_LIST = '{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]}';

describe('a short shared secret', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  async function serveOnce(secret: string): Promise<{ status: number; out: string; err: string }> {
    const data = tempDataDir('aisoc-short-secret-');
    const cap = captureIo({ K8S_AUDIT_SHARED_SECRET: secret });
    const abort = new AbortController();
    try {
      const done = serve(['--port', '0', '--data-dir', data.dir, '--no-console'], { ...cap.io, signal: abort.signal });
      await until(() => /listening on http:\/\/127\.0\.0\.1:\d+/.test(cap.out()));
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(cap.out())?.[1] as string;
      const res = await fetch(`${url}/v1/ingest/k8s-audit/acme`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': secret },
        body: EMPTY_LIST,
      });
      abort.abort();
      expect(await done).toBe(0);
      return { status: res.status, out: cap.out(), err: cap.err() };
    } finally {
      data.remove();
    }
  }

  it('serve starts, accepts it, and logs one WARN line that names the variable, not the secret', async () => {
    const r = await serveOnce(SHORT);

    expect(r.status).toBe(200);
    const warns = r.err
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.level === 'WARN');
    expect(warns.map((l) => l.message)).toEqual([WARNING]);
    expect(r.out + r.err).not.toContain(SHORT);
    expect(r.out + r.err).not.toContain(SHORT.slice(0, 4));
  });

  it('serve with a long secret logs no such warning', async () => {
    const r = await serveOnce(LONG);

    expect(r.status).toBe(200);
    expect(r.err).not.toContain('shorter than 16 bytes');
  });

  it('the ingest Lambda warns in its init log and still answers 200', async () => {
    const captured = captureStdout();
    vi.resetModules();
    vi.stubEnv('AWS_LAMBDA_FUNCTION_NAME', 'aisoc-k8s-audit-ingest');
    for (const name of ['ALERTS_SINK', 'INBOX_TABLE', 'K8S_AUDIT_SHARED_SECRET_PREVIOUS', 'K8S_AUDIT_SHARED_SECRET_ARN'])
      vi.stubEnv(name, '');
    vi.stubEnv('EVENTS_SINK', 'stdout');
    vi.stubEnv('K8S_AUDIT_SHARED_SECRET', SHORT);
    const { handler } = (await import('../../functions/ingest.js')) as {
      handler: (event: unknown, ctx: Context) => Promise<APIGatewayProxyResult>;
    };
    const init = captured.logs().filter((l) => l.level === 'WARN');
    const event: Partial<APIGatewayProxyEventV2> = {
      version: '2.0',
      routeKey: 'POST /v1/ingest/k8s-audit/{tenant_id}',
      rawPath: '/v1/ingest/k8s-audit/acme',
      rawQueryString: '',
      headers: { 'content-type': 'application/json', 'x-aisoc-k8s-token': SHORT },
      pathParameters: { tenant_id: 'acme' },
      requestContext: {
        stage: '$default',
        http: { method: 'POST', path: '/v1/ingest/k8s-audit/acme' },
      } as APIGatewayProxyEventV2['requestContext'],
      body: EMPTY_LIST,
      isBase64Encoded: false,
    };
    const res = await handler(event, { awsRequestId: 'req-short', getRemainingTimeInMillis: () => 29_000 } as unknown as Context);

    expect(res.statusCode).toBe(200);
    expect(init.map((l) => l.message)).toEqual([WARNING]);
    expect(captured.text()).not.toContain(SHORT);
  });

  it('test-connection passes with a warn line, and connector run and tail (with or without --config) log it; none prints the secret', async () => {
    const data = tempDataDir('aisoc-short-secret-tc-');
    const cap = captureIo({ K8S_AUDIT_SHARED_SECRET: SHORT });
    const abort = new AbortController();
    try {
      const done = serve(['--port', '0', '--data-dir', join(data.dir, 'ingest'), '--no-console'], { ...cap.io, signal: abort.signal });
      await until(() => /listening on http:\/\/127\.0\.0\.1:\d+/.test(cap.out()));
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(cap.out())?.[1] as string;
      const log = join(data.dir, 'audit.log');
      writeFileSync(log, '');
      const config = join(data.dir, 'connector.yaml');
      writeFileSync(config, `mode: file_tail\ncluster_name: selfhosted-short\naudit_log_path: ${log}\n`);
      const env = { AISOC_INGEST_URL: `${url}/v1/ingest/k8s-audit/acme`, K8S_AUDIT_SHARED_SECRET: SHORT };

      const checked = await runCli(['test-connection', '--config', config], env);
      const ran = await runCli(['connector', 'run', '--config', config, '--once'], env);
      const tailed = await runCli(['tail', '--config', config, '--once'], env);
      const bare = await runCli(['tail', '--path', log, '--cluster', 'selfhosted-short', '--once'], env);
      abort.abort();
      expect(await done).toBe(0);

      expect(checked.code, checked.stdout).toBe(0);
      expect(checked.stdout).toContain(`warn  config        ${WARNING}`);
      expect(checked.stdout).toContain('ok    ingest-route  the dedicated route');
      for (const r of [ran, tailed]) {
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).toContain(`"level":"WARN","message":"${config}: ${WARNING}"`);
      }
      expect(bare.code, bare.stderr).toBe(0);
      expect(bare.stderr).toContain(`"level":"WARN","message":"${WARNING}"`);
      for (const r of [checked, ran, tailed, bare]) expect(r.stdout + r.stderr).not.toContain(SHORT);
    } finally {
      data.remove();
    }
  });
});
