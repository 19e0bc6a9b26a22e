import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { normaliseAuditEvent } from '../../lib/audit/index.js';
import { ConfigError } from '../../lib/config/env.js';
import { loadIngestConfig, withRules } from '../../lib/ingest/config.js';
import { runCli } from '../helpers/cli.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { hasMoto, type RunningMoto, startMoto } from '../helpers/infra-moto.js';

// K8S_AUDIT_RULES=s3://bucket/key: the ingest reads the operators' rule file once at init with the
// real AWS SDK (the Lambda's role may read that object only). moto_server speaks the S3 protocol
// on loopback; the file is the worked example of docs/detection-rules.md, written by hand as an
// operator would, not generated from our types.
const MINER_RULES = readFileSync(join(FIXTURES, 'operator-rules', '30-miner-images.yaml'), 'utf8');
const SECRET_KEY = 'moto-secret-access-key-never-shown';

// A pod created with a miner image, as the apiserver logs it at RequestResponse level.
const minerPod = {
  kind: 'Event',
  apiVersion: 'audit.k8s.io/v1',
  level: 'Request',
  auditID: '6c8a8e64-3d1f-4f0e-9a57-0f4f3e7a1b21',
  stage: 'ResponseComplete',
  requestURI: '/api/v1/namespaces/web/pods',
  verb: 'create',
  user: { username: 'alice@example.com', groups: ['system:authenticated'] },
  sourceIPs: ['10.0.3.4'],
  objectRef: { resource: 'pods', namespace: 'web', name: 'web-1', apiVersion: 'v1' },
  responseStatus: { metadata: {}, code: 201 },
  requestObject: {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: { name: 'web-1' },
    // An image only the operators' rule names (the shipped cryptominer-workload knows xmrig, not NiceHash).
    spec: { containers: [{ name: 'app', image: 'docker.io/nicehash/excavator:1.8.2' }] },
  },
  requestReceivedTimestamp: '2026-12-04T10:00:00.000000Z',
  stageTimestamp: '2026-12-04T10:00:00.020000Z',
};

describe.skipIf(!hasMoto())('operators’ rules from an S3 object, read from a real S3 endpoint (moto)', () => {
  let moto: RunningMoto;

  beforeAll(async () => {
    moto = await startMoto();
    vi.stubEnv('AWS_ENDPOINT_URL_S3', moto.endpoint);
    vi.stubEnv('AWS_REGION', 'us-east-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'testing');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', SECRET_KEY);
    const s3 = new S3Client({ forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: 'aisoc-rules' }));
    await s3.send(new PutObjectCommand({ Bucket: 'aisoc-rules', Key: 'k8s/rules.yaml', Body: MINER_RULES }));
    await s3.send(
      new PutObjectCommand({ Bucket: 'aisoc-rules', Key: 'k8s/broken.yaml', Body: 'rules:\n  - id: Bad Id\n    severity: loud\n' }),
    );
    await s3.send(new PutObjectCommand({ Bucket: 'aisoc-rules', Key: 'k8s/not-yaml.yaml', Body: 'rules: [unclosed' }));
  }, 60_000);

  afterAll(async () => {
    vi.unstubAllEnvs();
    await moto?.close();
  });

  it('scores events with the shipped pack plus the object’s rules', async () => {
    const config = await withRules(loadIngestConfig({ K8S_AUDIT_RULES: 's3://aisoc-rules/k8s/rules.yaml' }));
    const record = normaliseAuditEvent(minerPod as never, {
      tenantId: 'acme',
      clusterName: 'c1',
      receivedAt: 0,
      detection: config.detection,
    });

    expect(config.pendingRules).toBeNull();
    expect(record.severity).toBe('high');
    expect(record.severity_reason).toBe('rule:cryptominer-image');
    expect(record.rule_ids).toContain('cryptominer-image');
    // The shipped pack is still there: 50 rules and the operators' one.
    expect(config.detection?.rules?.describe?.('privileged-container')).toBeDefined();
    // Without the object the same pod is the spec's table's medium.
    expect(normaliseAuditEvent(minerPod as never, { tenantId: 'acme', clusterName: 'c1', receivedAt: 0 }).rule_ids).toEqual([]);
  });

  it('lets `rules test` and `rules list` run the object’s pack before it is deployed', async () => {
    const test = await runCli(['rules', 'test', 's3://aisoc-rules/k8s/rules.yaml']);
    const list = await runCli(['rules', 'list'], { K8S_AUDIT_RULES: 's3://aisoc-rules/k8s/rules.yaml' });
    const broken = await runCli(['rules', 'test', 's3://aisoc-rules/k8s/broken.yaml']);

    expect(test.code).toBe(0);
    expect(test.stdout).toMatch(/^51 rules, \d+ examples, 0 failed$/m);
    expect(list.stdout).toContain('cryptominer-image');
    expect(list.stdout).toMatch(/s3:\/\/aisoc-rules\/k8s\/rules\.yaml; after Microsoft Threat Matrix/);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('s3://aisoc-rules/k8s/broken.yaml: Bad Id');
  });

  it('an object that cannot be fetched is a configuration error in `rules` too (exit 2, as a missing directory), naming bucket, key and S3 code', async () => {
    for (const [url, code] of [
      ['s3://aisoc-rules/k8s/missing.yaml', 'NoSuchKey'],
      ['s3://aisoc-no-such-bucket/rules.yaml', 'NoSuchBucket'],
    ] as const) {
      for (const sub of ['test', 'list']) {
        const named = await runCli(['rules', sub, url]);
        expect(named, `rules ${sub} ${url}`).toMatchObject({ code: 2, stdout: '' });
        expect(named.stderr).toMatch(new RegExp(`^aisoc-k8s-audit rules: invalid configuration: ${url} cannot be read: ${code}: `, 'm'));
        const fromEnv = await runCli(['rules', sub], { K8S_AUDIT_RULES: url });
        expect(fromEnv, `K8S_AUDIT_RULES=${url} rules ${sub}`).toMatchObject({ code: 2, stdout: '' });
        expect(fromEnv.stderr).toMatch(
          new RegExp(`^aisoc-k8s-audit rules: invalid configuration: K8S_AUDIT_RULES: ${url} cannot be read: ${code}: `, 'm'),
        );
        for (const r of [named, fromEnv]) {
          expect(r.stderr).not.toContain(SECRET_KEY);
          expect(r.stderr).not.toContain('testing');
        }
      }
    }
    // Not a bucket and key at all: the same class of error.
    expect(await runCli(['rules', 'test', 's3://Not_A_Bucket/rules.yaml'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('aisoc-k8s-audit rules: invalid configuration: "Not_A_Bucket" is not an S3 bucket name'),
    });
  });

  it.each([
    ['a missing key', 's3://aisoc-rules/k8s/missing.yaml', /s3:\/\/aisoc-rules\/k8s\/missing\.yaml cannot be read: NoSuchKey/],
    ['a missing bucket', 's3://aisoc-no-such-bucket/rules.yaml', /s3:\/\/aisoc-no-such-bucket\/rules\.yaml cannot be read: NoSuchBucket/],
    [
      'bad rules',
      's3://aisoc-rules/k8s/broken.yaml',
      /s3:\/\/aisoc-rules\/k8s\/broken\.yaml: Bad Id: id must be .*severity must be one of/,
    ],
    ['text that is not YAML', 's3://aisoc-rules/k8s/not-yaml.yaml', /s3:\/\/aisoc-rules\/k8s\/not-yaml\.yaml: not valid YAML/],
  ])('fails the start naming the object, never a credential, for %s', async (_, url, message) => {
    const failure = await withRules(loadIngestConfig({ K8S_AUDIT_RULES: url })).then(
      () => null,
      (err: unknown) => err,
    );

    expect(failure).toBeInstanceOf(ConfigError);
    expect(String((failure as Error).message)).toMatch(message);
    expect(String((failure as Error).message)).not.toContain(SECRET_KEY);
    expect(String((failure as Error).message)).not.toContain('testing');
  });
});
