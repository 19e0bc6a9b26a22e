import { describe, expect, it } from 'vitest';
import {
  awsClientOptions,
  forwarderSecretValue,
  loadForwarderConfig,
  loadForwarderSettings,
  resolveForwarderToken,
} from '../../../lib/config/forwarder.js';
import { ConfigError } from '../../../lib/config.js';

const URL_OK = 'https://aisoc.example.com/v1/ingest/k8s-audit/acme';
const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:aisoc-k8s-audit-AbCdEf';

describe('loadForwarderConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadForwarderConfig({ AISOC_INGEST_URL: URL_OK, K8S_AUDIT_SHARED_SECRET: 's3cret' });

    expect(config).toEqual({
      ingestUrl: URL_OK,
      tls: { allowInsecureHttp: false, extraCa: null, clientCert: null, clientKey: null },
      token: 's3cret',
      tokenSecretArn: null,
      clusterName: null,
      region: null,
      streamPrefix: 'kube-apiserver-audit-',
      maxEventsPerBatch: 400,
      maxBodyBytes: 3 * 1024 * 1024,
      gzip: false,
      requestTimeoutMs: 10_000,
      safetyMarginMs: 3_000,
      maxAttempts: 8,
      concurrency: 2,
      kinesisBatchItemFailures: false,
      metricsNamespace: 'AiSOC/K8sAudit',
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads every variable', () => {
    const config = loadForwarderConfig({
      AISOC_INGEST_URL: 'http://127.0.0.1:8080/prod/v1/ingest/k8s-audit/tenant.a:b',
      K8S_AUDIT_SHARED_SECRET_ARN: ARN,
      CLUSTER_NAME: 'prod-eks-us-east-1',
      AUDIT_LOG_STREAM_PREFIX: 'audit-',
      FORWARDER_MAX_BATCH_EVENTS: '100',
      FORWARDER_MAX_BODY_BYTES: '1048576',
      FORWARDER_GZIP: 'true',
      FORWARDER_REQUEST_TIMEOUT_MS: '5000',
      FORWARDER_SAFETY_MARGIN_MS: '1000',
      FORWARDER_MAX_ATTEMPTS: '3',
      FORWARDER_CONCURRENCY: '4',
      FORWARDER_KINESIS_BATCH_ITEM_FAILURES: 'yes',
      POWERTOOLS_METRICS_NAMESPACE: 'Custom/NS',
    });

    expect(config).toMatchObject({
      token: null,
      tokenSecretArn: ARN,
      clusterName: 'prod-eks-us-east-1',
      streamPrefix: 'audit-',
      maxEventsPerBatch: 100,
      maxBodyBytes: 1048576,
      gzip: true,
      requestTimeoutMs: 5000,
      safetyMarginMs: 1000,
      maxAttempts: 3,
      concurrency: 4,
      kinesisBatchItemFailures: true,
      metricsNamespace: 'Custom/NS',
    });
  });

  it('names every bad variable in one error', () => {
    let error: unknown;
    try {
      loadForwarderConfig({
        AISOC_INGEST_URL: 'https://aisoc.example.com/v1/inbox/abc',
        K8S_AUDIT_SHARED_SECRET: 'a',
        K8S_AUDIT_SHARED_SECRET_ARN: ARN,
        CLUSTER_NAME: 'naïve cluster\n',
        FORWARDER_MAX_BODY_BYTES: '99999999999',
        FORWARDER_CONCURRENCY: '0',
      });
    } catch (err) {
      error = err;
    }

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      'AISOC_INGEST_URL must be the full tenant route, ending in /v1/ingest/k8s-audit/<tenant_id>',
      'set only one of K8S_AUDIT_SHARED_SECRET and K8S_AUDIT_SHARED_SECRET_ARN',
      'CLUSTER_NAME must be 1-256 printable ASCII characters without leading or trailing spaces (it is sent as the X-AiSOC-Cluster-Name header)',
      'FORWARDER_MAX_BODY_BYTES must be an integer between 1024 and 16777216, got "99999999999"',
      'FORWARDER_CONCURRENCY must be an integer between 1 and 16, got "0"',
    ]);
  });

  it('never puts the secret in its error', () => {
    expect(() => loadForwarderConfig({ AISOC_INGEST_URL: 'ftp://x', K8S_AUDIT_SHARED_SECRET: 'do-not-print-me' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('do-not-print-me') }),
    );
  });
});

describe('resolveForwarderToken', () => {
  it('reads the secret from Secrets Manager, as a plain string or a key/value JSON', async () => {
    const config = loadForwarderConfig({ AISOC_INGEST_URL: URL_OK, K8S_AUDIT_SHARED_SECRET_ARN: ARN });
    const asked: string[] = [];

    const plain = await resolveForwarderToken(config, async (arn) => {
      asked.push(arn);
      return 'plain-secret\n';
    });
    const json = await resolveForwarderToken(config, async () => '{"K8S_AUDIT_SHARED_SECRET":"json-secret"}');

    expect([plain, json]).toEqual(['plain-secret', 'json-secret']);
    expect(asked).toEqual([ARN]);
  });

  it('uses K8S_AUDIT_SHARED_SECRET without calling Secrets Manager', async () => {
    const config = loadForwarderConfig({ AISOC_INGEST_URL: URL_OK, K8S_AUDIT_SHARED_SECRET: 'env-secret' });

    expect(await resolveForwarderToken(config, async () => expect.unreachable())).toBe('env-secret');
  });

  it('loads the settings of the backfill and redrive commands in one step', async () => {
    const settings = await loadForwarderSettings({ AISOC_INGEST_URL: URL_OK, K8S_AUDIT_SHARED_SECRET_ARN: ARN }, async () => 'from-sm');

    expect(settings).toMatchObject({ token: 'from-sm', ingestUrl: URL_OK });
  });
});

describe('forwarderSecretValue', () => {
  it.each([
    ['s3cret', 's3cret'],
    ['  s3cret  \n', 's3cret'],
    ['{"token":"t"}', 't'],
    ['{"only":"v"}', 'v'],
  ])('reads %j as %j', (stored, value) => {
    expect(forwarderSecretValue(stored, ARN)).toBe(value);
  });

  it.each([[''], ['{"a":"1","b":"2"}']])('refuses %j', (stored) => {
    expect(() => forwarderSecretValue(stored, ARN)).toThrow(ConfigError);
  });

  // Once taken whole as the secret: a value opening with `{` is JSON gone wrong, not a secret.
  it('refuses a value that starts with { but is not JSON, naming the position and never the value', () => {
    expect(() => forwarderSecretValue('{not json', ARN)).toThrow(
      `K8S_AUDIT_SHARED_SECRET_ARN: the secret ${ARN} starts with { but is not valid JSON (Expected property name or '}' in JSON at position 1)`,
    );
  });
});

describe('awsClientOptions', () => {
  it('takes region, endpoint and static credentials from the command environment', () => {
    expect(
      awsClientOptions(
        {
          AWS_REGION: 'eu-west-1',
          AWS_ENDPOINT_URL: 'http://127.0.0.1:5000',
          AWS_ACCESS_KEY_ID: 'AKIA',
          AWS_SECRET_ACCESS_KEY: 'sk',
          AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:6000',
        },
        'SQS',
      ),
    ).toEqual({
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:6000',
      credentials: { accessKeyId: 'AKIA', secretAccessKey: 'sk' },
      maxAttempts: 8,
    });
    expect(awsClientOptions({}, 'CLOUDWATCH_LOGS')).toEqual({ maxAttempts: 8 });
  });
});
