import { describe, expect, it } from 'vitest';
import { DEFAULT_INGEST_MAX_BATCH_SIZE, DEFAULT_INGEST_MAX_BODY_BYTES, DEFAULT_REQUEST_TIMEOUT_MS } from '../../../lib/config/defaults.js';
import { ConfigError } from '../../../lib/config/env.js';
import {
  DEFAULT_BODY_IDLE_TIMEOUT_MS,
  DEFAULT_BODY_MIN_RATE_BYTES_PER_SECOND,
  DEFAULT_BODY_RATE_GRACE_MS,
  DEFAULT_BUSY_RETRY_AFTER_SECONDS,
  DEFAULT_QUEUE_DEADLINE_MS,
  defaultAdmission,
  GOOGLE_JWKS_URL,
  LAMBDA_MAX_PAYLOAD_BYTES,
  loadInboxStoreSpec,
  parseSinkSpec,
  withSharedSecret,
} from '../../../lib/config/ingest.js';
import { loadIngestConfig } from '../../../lib/ingest/config.js';
import { SQLITE_BUSY_TIMEOUT_MS } from '../../../lib/sinks/sqlite.js';

function problems(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('no ConfigError');
}

describe('loadIngestConfig', () => {
  it('applies the documented defaults locally: SQLite events and alerts under .data, 16 MiB, 5000 items', () => {
    const config = loadIngestConfig({});

    expect(config).toMatchObject({
      runtime: 'local',
      sharedSecret: null,
      maxBodyBytes: DEFAULT_INGEST_MAX_BODY_BYTES,
      maxWireBytes: 16 * 1024 * 1024,
      maxBatchSize: DEFAULT_INGEST_MAX_BATCH_SIZE,
      eventsSink: { kind: 'sqlite' },
      alertsSink: { kind: 'sqlite' },
      dataDir: '.data',
      inbox: { kind: 'sqlite', dataDir: '.data' },
    });
    expect(DEFAULT_INGEST_MAX_BATCH_SIZE).toBeGreaterThan(400);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads every variable', () => {
    const config = loadIngestConfig({
      K8S_AUDIT_SHARED_SECRET: ' s1 \n',
      K8S_AUDIT_SHARED_SECRET_PREVIOUS: 's0',
      K8S_AUDIT_MAX_BODY_BYTES: '1048576',
      K8S_AUDIT_MAX_BATCH_SIZE: '800',
      EVENTS_SINK: 'kinesis:audit-stream',
      ALERTS_SINK: 'sqs:https://sqs.eu-west-1.amazonaws.com/123456789012/alerts.fifo',
      AISOC_DATA_DIR: '/var/lib/aisoc',
      INBOX_TABLE: 'inbox',
      SINK_MAX_ATTEMPTS: '5',
    });

    expect(config).toMatchObject({
      sharedSecret: 's1',
      previousSharedSecret: 's0',
      maxBodyBytes: 1048576,
      maxBatchSize: 800,
      eventsSink: { kind: 'kinesis', stream: 'audit-stream' },
      alertsSink: { kind: 'sqs', queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/alerts.fifo' },
      dataDir: '/var/lib/aisoc',
      inbox: { kind: 'dynamodb', table: 'inbox' },
      sinkMaxAttempts: 5,
    });
  });

  it('names every bad variable in one error', () => {
    const message = problems(() =>
      loadIngestConfig({ K8S_AUDIT_MAX_BODY_BYTES: 'lots', K8S_AUDIT_MAX_BATCH_SIZE: '0', EVENTS_SINK: 'kafka:x', ALERTS_SINK: 'sqs:' }),
    );

    for (const name of ['K8S_AUDIT_MAX_BODY_BYTES', 'K8S_AUDIT_MAX_BATCH_SIZE', 'EVENTS_SINK', 'ALERTS_SINK'])
      expect(message).toContain(name);
  });

  it('defaults the alerts sink to none when the events go to a cloud sink', () => {
    expect(loadIngestConfig({ EVENTS_SINK: 'firehose:audit' }).alertsSink).toEqual({ kind: 'none' });
  });

  it('refuses sqs and eventbridge as an events sink', () => {
    expect(problems(() => loadIngestConfig({ EVENTS_SINK: 'sqs:https://sqs.x/1/q' }))).toContain('EVENTS_SINK');
  });

  describe('in AWS Lambda', () => {
    it('fails naming EVENTS_SINK when it is not set explicitly', () => {
      const message = problems(() => loadIngestConfig({ AWS_LAMBDA_FUNCTION_NAME: 'ingest' }));

      expect(message).toMatch(/EVENTS_SINK is required in AWS Lambda/);
    });

    it('refuses SQLite as events or alerts sink', () => {
      expect(problems(() => loadIngestConfig({ EVENTS_SINK: 'sqlite' }, { runtime: 'lambda' }))).toMatch(
        /EVENTS_SINK=sqlite is not durable/,
      );
      expect(problems(() => loadIngestConfig({ EVENTS_SINK: 'stdout', ALERTS_SINK: 'sqlite' }, { runtime: 'lambda' }))).toMatch(
        /ALERTS_SINK=sqlite/,
      );
    });

    it('allows stdout explicitly (sam local) with no inbox store unless INBOX_TABLE is set', () => {
      const config = loadIngestConfig({ EVENTS_SINK: 'stdout' }, { runtime: 'lambda' });

      expect(config).toMatchObject({
        runtime: 'lambda',
        eventsSink: { kind: 'stdout' },
        alertsSink: { kind: 'none' },
        inbox: { kind: 'none' },
      });
    });

    it('caps the body as received at the Lambda invocation payload limit and names it', () => {
      const config = loadIngestConfig({ EVENTS_SINK: 'kinesis:s' }, { runtime: 'lambda' });

      expect(config.maxWireBytes).toBe(LAMBDA_MAX_PAYLOAD_BYTES);
      expect(config.maxBodyBytes).toBe(DEFAULT_INGEST_MAX_BODY_BYTES);
      expect(config.wireLimitName).toMatch(/AWS Lambda synchronous invocation payload limit/);
    });

    it('keeps a configured limit that is already below the Lambda limit', () => {
      const config = loadIngestConfig({ EVENTS_SINK: 'kinesis:s', K8S_AUDIT_MAX_BODY_BYTES: '1048576' }, { runtime: 'lambda' });

      expect([config.maxWireBytes, config.wireLimitName]).toEqual([1048576, 'K8S_AUDIT_MAX_BODY_BYTES']);
    });
  });
});

describe('admission limits of the local server', () => {
  const MiB = 1024 * 1024;
  const GiB = 1024 * MiB;

  it('are sized from the machine: 8 requests per CPU (16 to 256), 1/64 of the memory (32 to 256 MiB, at least one largest body)', () => {
    expect(defaultAdmission({ cpus: 2, memoryBytes: 24 * GiB }, 16 * MiB)).toEqual({
      maxRequests: 16,
      maxBytes: 256 * MiB,
      queueDeadlineMs: DEFAULT_QUEUE_DEADLINE_MS,
      maxQueueWaitMs: 1000,
      retryAfterSeconds: 2,
    });
    expect(defaultAdmission({ cpus: 8, memoryBytes: 4 * GiB }, 16 * MiB)).toMatchObject({ maxRequests: 64, maxBytes: 64 * MiB });
    expect(defaultAdmission({ cpus: 1, memoryBytes: 512 * MiB }, 16 * MiB)).toMatchObject({ maxRequests: 16, maxBytes: 32 * MiB });
    expect(defaultAdmission({ cpus: 64, memoryBytes: 512 * MiB }, 48 * MiB)).toMatchObject({ maxRequests: 256, maxBytes: 48 * MiB });
    // The deadline answers well before our shipper's 10 s request timeout, even when the commit it
    // let begin then waits out SQLite's busy timeout on a lock another process holds (a request
    // answered at 10.0 s when the busy timeout was 5 s).
    expect(DEFAULT_QUEUE_DEADLINE_MS + SQLITE_BUSY_TIMEOUT_MS).toBeLessThan(DEFAULT_REQUEST_TIMEOUT_MS - 1000);
    // kube-apiserver's client waits out a 429's Retry-After up to 10 times within its 30 s request
    // timeout, and a wait past that timeout drops the batch.
    expect(10 * DEFAULT_BUSY_RETRY_AFTER_SECONDS).toBeLessThan(30);
    // A body's minimum rate is far under what any sender that finishes inside its own request
    // timeout sends: our shippers' 3 MiB in the apiserver's 30 s (the longest timeout of them),
    // and 3 MiB over 1 Mbit/s (25 s), each at least ten times the bound.
    expect(DEFAULT_BODY_MIN_RATE_BYTES_PER_SECOND * 10).toBeLessThan((3 * MiB) / 30);
    expect(DEFAULT_BODY_MIN_RATE_BYTES_PER_SECOND * 10).toBeLessThan(1_000_000 / 8);
    expect(DEFAULT_BODY_RATE_GRACE_MS).toBeLessThan(DEFAULT_BODY_IDLE_TIMEOUT_MS);
  });

  it('come from the machine by default and from the environment when set; group commit is on unless turned off', () => {
    const machine = { cpus: 4, memoryBytes: 8 * GiB };
    expect(loadIngestConfig({}, { machine })).toMatchObject({ admission: { maxRequests: 32, maxBytes: 128 * MiB }, groupCommit: false });
    const config = loadIngestConfig(
      {
        K8S_AUDIT_MAX_INFLIGHT_REQUESTS: '3',
        K8S_AUDIT_MAX_INFLIGHT_BYTES: String(20 * MiB),
        K8S_AUDIT_QUEUE_DEADLINE_MS: '750',
        K8S_AUDIT_MAX_QUEUE_WAIT_MS: '250',
        K8S_AUDIT_BODY_IDLE_TIMEOUT_MS: '2500',
        K8S_AUDIT_BODY_MIN_RATE: '0',
        K8S_AUDIT_BODY_RATE_GRACE_MS: '750',
        AISOC_SQLITE_GROUP_COMMIT: 'true',
      },
      { machine },
    );
    expect(config.admission).toEqual({
      maxRequests: 3,
      maxBytes: 20 * MiB,
      queueDeadlineMs: 750,
      maxQueueWaitMs: 250,
      retryAfterSeconds: 2,
    });
    expect(config.bodyIdleTimeoutMs).toBe(2500);
    expect(loadIngestConfig({}).bodyIdleTimeoutMs).toBe(10_000);
    expect(config.bodyMinRate).toEqual({ bytesPerSecond: 0, graceMs: 750 });
    expect(loadIngestConfig({}).bodyMinRate).toEqual({ bytesPerSecond: 8192, graceMs: 5000 });
    expect(config.groupCommit).toBe(true);
    expect(Object.isFrozen(config.admission)).toBe(true);
    expect(loadIngestConfig({}).kinesisClientAt).toBe('init');
    expect(loadIngestConfig({ AISOC_KINESIS_CLIENT_AT: 'First-Use' }).kinesisClientAt).toBe('first-use');
    expect(problems(() => loadIngestConfig({ AISOC_KINESIS_CLIENT_AT: 'later' }))).toMatch(
      /AISOC_KINESIS_CLIENT_AT must be init or first-use, got "later"/,
    );
  });

  it('refuse a byte bound below one largest body, and bad numbers, naming the variables', () => {
    const text = problems(() =>
      loadIngestConfig({
        K8S_AUDIT_MAX_INFLIGHT_BYTES: String(4 * MiB),
        K8S_AUDIT_MAX_INFLIGHT_REQUESTS: '0',
        K8S_AUDIT_QUEUE_DEADLINE_MS: 'soon',
        K8S_AUDIT_MAX_QUEUE_WAIT_MS: '0',
        K8S_AUDIT_BODY_IDLE_TIMEOUT_MS: '50',
        K8S_AUDIT_BODY_MIN_RATE: 'fast',
        K8S_AUDIT_BODY_RATE_GRACE_MS: '10',
      }),
    );
    expect(text).toMatch(/K8S_AUDIT_BODY_MIN_RATE must be an integer between 0 and 1073741824, got "fast"/);
    expect(text).toMatch(/K8S_AUDIT_BODY_RATE_GRACE_MS must be an integer between 100 and 600000, got "10"/);
    expect(text).toMatch(/K8S_AUDIT_BODY_IDLE_TIMEOUT_MS must be an integer between 100 and 600000, got "50"/);
    expect(text).toMatch(/K8S_AUDIT_MAX_INFLIGHT_BYTES \(4194304\) must be at least the largest body a request may have \(16777216 bytes/);
    expect(text).toMatch(/K8S_AUDIT_MAX_INFLIGHT_REQUESTS must be an integer between 1 and 100000, got "0"/);
    expect(text).toMatch(/K8S_AUDIT_QUEUE_DEADLINE_MS must be an integer between 10 and 600000, got "soon"/);
    expect(text).toMatch(/K8S_AUDIT_MAX_QUEUE_WAIT_MS must be an integer between 1 and 600000, got "0"/);
  });
});

describe('withSharedSecret', () => {
  const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:aisoc-k8s-audit-AbCdEf';

  it('reads the secret named by K8S_AUDIT_SHARED_SECRET_ARN once, plain or as a JSON key', async () => {
    const config = loadIngestConfig({ K8S_AUDIT_SHARED_SECRET_ARN: ARN });
    expect(config.sharedSecret).toBeNull();
    const asked: string[] = [];
    const plain = await withSharedSecret(config, async (arn) => {
      asked.push(arn);
      return 'from-secrets-manager\n';
    });
    expect(plain.sharedSecret).toBe('from-secrets-manager');
    expect(asked).toEqual([ARN]);
    const json = await withSharedSecret(config, async () => '{"K8S_AUDIT_SHARED_SECRET":"json-secret"}');
    expect(json.sharedSecret).toBe('json-secret');
  });

  it('leaves a config without an ARN as it is, and reads nothing', async () => {
    const config = loadIngestConfig({ K8S_AUDIT_SHARED_SECRET: 'env-secret' });
    expect(await withSharedSecret(config, async () => expect.unreachable())).toBe(config);
  });

  it('refuses both sources at once, and an ARN that is none, naming the variables', () => {
    expect(problems(() => loadIngestConfig({ K8S_AUDIT_SHARED_SECRET: 'x', K8S_AUDIT_SHARED_SECRET_ARN: ARN }))).toContain(
      'set only one of K8S_AUDIT_SHARED_SECRET and K8S_AUDIT_SHARED_SECRET_ARN',
    );
    expect(problems(() => loadIngestConfig({ K8S_AUDIT_SHARED_SECRET_ARN: 'my-secret' }))).toContain(
      'K8S_AUDIT_SHARED_SECRET_ARN must be a Secrets Manager secret ARN',
    );
  });

  it('reads an empty K8S_AUDIT_TENANT_SECRETS_ARN (the stacks’ default) as unset: nothing more is read, a secrets file is no conflict', async () => {
    const config = loadIngestConfig({ K8S_AUDIT_SHARED_SECRET_ARN: ARN, K8S_AUDIT_TENANT_SECRETS_ARN: '' });
    expect(config.tenantSecretsArn).toBeNull();
    const asked: string[] = [];
    const read = await withSharedSecret(config, async (arn) => {
      asked.push(arn);
      return 'from-secrets-manager';
    });
    expect(asked).toEqual([ARN]);
    expect(read.tenantSecrets).toBeNull();
    const withFile = loadIngestConfig({ K8S_AUDIT_TENANT_SECRETS_FILE: '/etc/aisoc/tenants.json', K8S_AUDIT_TENANT_SECRETS_ARN: '' });
    expect(withFile).toMatchObject({ tenantSecretsArn: null, tenantSecretsFile: '/etc/aisoc/tenants.json' });
  });

  it('names the ARN, never a value, when the stored secret is empty', async () => {
    const config = loadIngestConfig({ K8S_AUDIT_SHARED_SECRET_ARN: ARN });
    await expect(withSharedSecret(config, async () => '  ')).rejects.toThrow(`the secret ${ARN} is empty`);
  });
});

describe('parseSinkSpec', () => {
  it.each([
    ['sqlite', { kind: 'sqlite' }],
    ['STDOUT', { kind: 'stdout' }],
    ['kinesis:k8s-audit', { kind: 'kinesis', stream: 'k8s-audit' }],
    ['firehose:to-s3', { kind: 'firehose', stream: 'to-s3' }],
    ['eventbridge:default', { kind: 'eventbridge', bus: 'default' }],
    ['sqs:https://sqs.us-east-1.amazonaws.com/1/q', { kind: 'sqs', queueUrl: 'https://sqs.us-east-1.amazonaws.com/1/q' }],
  ])('reads %s', (text, spec) => {
    expect(parseSinkSpec(text, ['sqlite', 'stdout', 'kinesis', 'firehose', 'eventbridge', 'sqs'])).toEqual(spec);
  });

  it.each(['kinesis', 'sqlite:x', 'sqs:not-a-url', 'kafka:t'])('explains what is wrong with %s', (text) => {
    expect(typeof parseSinkSpec(text, ['sqlite', 'kinesis', 'sqs'])).toBe('string');
  });
});

describe('loadInboxStoreSpec', () => {
  it('uses DynamoDB when INBOX_TABLE is set, else SQLite in the data dir', () => {
    expect(loadInboxStoreSpec({ INBOX_TABLE: 't' })).toEqual({ kind: 'dynamodb', table: 't' });
    expect(loadInboxStoreSpec({ AISOC_DATA_DIR: '/d' })).toEqual({ kind: 'sqlite', dataDir: '/d' });
  });
});

describe('K8S_AUDIT_GKE_PUSH', () => {
  it('reads each tenant audience and push service account, with Google keys by default', () => {
    const config = loadIngestConfig({
      K8S_AUDIT_GKE_PUSH: JSON.stringify({
        acme: { audience: 'https://h/v1/ingest/gke-audit/acme', serviceAccount: 'push@p.iam.gserviceaccount.com' },
      }),
    });
    expect([...config.gkePush.tenants]).toEqual([
      ['acme', { audience: 'https://h/v1/ingest/gke-audit/acme', serviceAccount: 'push@p.iam.gserviceaccount.com' }],
    ]);
    expect(config.gkePush.jwksUrl).toBe(GOOGLE_JWKS_URL);
    expect(loadIngestConfig({}).gkePush.tenants.size).toBe(0);
  });

  it('names every bad tenant, field and URL in one error', () => {
    const message = problems(() =>
      loadIngestConfig({
        K8S_AUDIT_GKE_PUSH: JSON.stringify({
          '-bad': { audience: 'a', serviceAccount: 'x@y.z' },
          acme: { audience: '', serviceAccount: 'nope' },
        }),
        K8S_AUDIT_GKE_JWKS_URL: 'ftp://keys',
      }),
    );
    expect(message).toContain('K8S_AUDIT_GKE_PUSH["-bad"]: the tenant id must match');
    expect(message).toContain('K8S_AUDIT_GKE_PUSH["acme"].audience');
    expect(message).toContain('K8S_AUDIT_GKE_PUSH["acme"].serviceAccount');
    expect(message).toContain('K8S_AUDIT_GKE_JWKS_URL must be an http(s) URL');
    expect(problems(() => loadIngestConfig({ K8S_AUDIT_GKE_PUSH: 'acme=x' }))).toContain('K8S_AUDIT_GKE_PUSH must be JSON');
    expect(problems(() => loadIngestConfig({ K8S_AUDIT_GKE_PUSH: '[]' }))).toContain('must be a JSON object');
  });
});
