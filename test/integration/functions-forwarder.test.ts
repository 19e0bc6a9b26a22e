import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { awslogsEvent, eksPayload, kinesisEvent, sequenceNumbers } from '../helpers/envelopes.js';
import { captureStdout, lambdaContext, loadForwarder } from '../helpers/forwarder.js';
import { distinctLines, type FaultServer, ok, startFaultServer, status } from '../helpers/ship.js';

const TOKEN = 'handler-test-token-0a1b2c3d4e5f';
const secrets = mockClient(SecretsManagerClient);

let server: FaultServer | null = null;
let out: ReturnType<typeof captureStdout>;

beforeEach(() => {
  secrets.reset();
  out = captureStdout();
});

afterEach(async () => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  await server?.close();
  server = null;
});

describe('forwarder handler', () => {
  it('forwards a subscription event and emits the counts as EMF metrics', async () => {
    server = await startFaultServer();
    const handler = await loadForwarder({ AISOC_INGEST_URL: server.url, K8S_AUDIT_SHARED_SECRET: TOKEN });

    await expect(handler(awslogsEvent(eksPayload(distinctLines(50))), lambdaContext())).resolves.toBeUndefined();

    expect(server.delivered).toHaveLength(50);
    expect(out.emf()).toEqual([
      expect.objectContaining({ service: 'forwarder', EventsReceived: 50, EventsForwarded: 50, EventsFailed: 0, Batches: 1 }),
    ]);
  });

  it("publishes Powertools' ColdStart on the first invocation of an execution environment only, as the ingest does", async () => {
    server = await startFaultServer();
    // Lambda sets the initialization type; Powertools counts a cold start only for `on-demand`.
    const handler = await loadForwarder({
      AISOC_INGEST_URL: server.url,
      K8S_AUDIT_SHARED_SECRET: TOKEN,
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    });

    await handler(awslogsEvent(eksPayload(distinctLines(2))), lambdaContext());
    await handler(awslogsEvent(eksPayload(distinctLines(2))), lambdaContext());

    expect(out.emf('ColdStart')).toMatchObject([{ ColdStart: 1, service: 'forwarder', function_name: 'aisoc-k8s-audit-forwarder' }]);
    expect(out.emf()).toHaveLength(2);
  });

  it('throws when events cannot be delivered and still emits the failure metrics', async () => {
    server = await startFaultServer(() => status(503, 'sink unavailable'));
    const handler = await loadForwarder({ AISOC_INGEST_URL: server.url, K8S_AUDIT_SHARED_SECRET: TOKEN, FORWARDER_MAX_ATTEMPTS: '2' });

    await expect(handler(awslogsEvent(eksPayload(distinctLines(30))), lambdaContext())).rejects.toThrow(
      /^30 of 30 audit events not delivered \(first: gave up after 2 attempts \(last: HTTP 503: sink unavailable\)\)/,
    );

    expect(out.emf()).toEqual([expect.objectContaining({ EventsReceived: 30, EventsForwarded: 0, EventsFailed: 30, Retries: 1 })]);
    expect(out.logs()).toContainEqual(
      expect.objectContaining({
        level: 'ERROR',
        message: 'forwarding incomplete',
        failed: 30,
        function_request_id: 'req-1',
        service: 'aisoc-k8s-audit-forwarder',
      }),
    );
    expect(out.text()).not.toContain(TOKEN);
  });

  it('answers a Kinesis batch with batchItemFailures when configured to', async () => {
    server = await startFaultServer((_n, req) => (req.headers['x-aisoc-cluster-name'] === 'blue' ? status(500) : ok()));
    const handler = await loadForwarder({
      AISOC_INGEST_URL: server.url,
      K8S_AUDIT_SHARED_SECRET: TOKEN,
      FORWARDER_MAX_ATTEMPTS: '1',
      FORWARDER_KINESIS_BATCH_ITEM_FAILURES: 'true',
    });
    const event = kinesisEvent([
      eksPayload(distinctLines(2), { cluster: 'green' }),
      eksPayload(distinctLines(2, 'b'), { cluster: 'blue' }),
    ]);

    const answer = await handler(event, lambdaContext());

    expect(answer).toEqual({
      batchItemFailures: [{ itemIdentifier: sequenceNumbers(event)[1] }],
    });
    expect(out.emf()).toEqual([expect.objectContaining({ EventsFailed: 2, EventsForwarded: 2 })]);
  });

  it('throws for a failed Kinesis batch when batchItemFailures are not configured', async () => {
    server = await startFaultServer(() => status(500));
    const handler = await loadForwarder({ AISOC_INGEST_URL: server.url, K8S_AUDIT_SHARED_SECRET: TOKEN, FORWARDER_MAX_ATTEMPTS: '1' });

    await expect(handler(kinesisEvent([eksPayload(distinctLines(2))]), lambdaContext())).rejects.toThrow(
      /2 of 2 audit events not delivered/,
    );
  });

  it('reads the shared secret from Secrets Manager once, at init', async () => {
    server = await startFaultServer();
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:aisoc-k8s-audit-AbCdEf';
    secrets.on(GetSecretValueCommand, { SecretId: arn }).resolves({ SecretString: JSON.stringify({ K8S_AUDIT_SHARED_SECRET: TOKEN }) });
    const handler = await loadForwarder({ AISOC_INGEST_URL: server.url, K8S_AUDIT_SHARED_SECRET_ARN: arn, AWS_REGION: 'eu-west-1' });

    await handler(awslogsEvent(eksPayload(distinctLines(2))), lambdaContext());
    await handler(awslogsEvent(eksPayload(distinctLines(2, 'again'))), lambdaContext());

    expect(server.requests.map((r) => r.headers['x-aisoc-k8s-token'])).toEqual([TOKEN, TOKEN]);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('fails at init naming every bad variable', async () => {
    await expect(loadForwarder({ AISOC_INGEST_URL: 'https://aisoc.example.com/v1/ingest', FORWARDER_GZIP: 'maybe' })).rejects.toThrow(
      /AISOC_INGEST_URL must be the full tenant route.*K8S_AUDIT_SHARED_SECRET or K8S_AUDIT_SHARED_SECRET_ARN is required.*FORWARDER_GZIP must be true or false/,
    );
  });
});
