import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../lib/cli/main.js';
import { run as serve } from '../../lib/cli/serve.js';
import { ConfigError } from '../../lib/config/env.js';
import { loadForwarderConfig, resolveForwarderToken } from '../../lib/config/forwarder.js';
import { withSharedSecret } from '../../lib/config/ingest.js';
import { loadIngestConfig } from '../../lib/ingest/config.js';
import { captureIo } from '../helpers/cli.js';
import { hasMoto, type RunningMoto, startMoto } from '../helpers/infra-moto.js';
import { tempDataDir } from '../helpers/ingest.js';

// The deployed stacks hand both functions the secret's ARN; each reads the value once at init with
// the real AWS SDK. moto_server speaks the Secrets Manager protocol on loopback.
describe.skipIf(!hasMoto())('shared secret by ARN, read from a real Secrets Manager endpoint (moto)', () => {
  let moto: RunningMoto;
  let plainArn = '';
  let jsonArn = '';

  beforeAll(async () => {
    moto = await startMoto();
    vi.stubEnv('AWS_ENDPOINT_URL_SECRETS_MANAGER', moto.endpoint);
    vi.stubEnv('AWS_REGION', 'us-east-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'testing');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'testing');
    const sm = new SecretsManagerClient({});
    plainArn = (await sm.send(new CreateSecretCommand({ Name: 'aisoc-plain', SecretString: 'plain-shared-secret\n' }))).ARN ?? '';
    jsonArn =
      (await sm.send(new CreateSecretCommand({ Name: 'aisoc-json', SecretString: '{"K8S_AUDIT_SHARED_SECRET":"json-shared-secret"}' })))
        .ARN ?? '';
  }, 60_000);

  // A trailing comma, as a hand edit of the console's key/value JSON leaves it. Before, the whole
  // text became the secret and every sender sending the value inside got 401 with no clue why.
  const trailingComma = '{"K8S_AUDIT_SHARED_SECRET": "trailing-comma-secret-value",}';

  it('refuses a stored value that starts with { but is not JSON, naming the ARN and the position, never the value', async () => {
    const sm = new SecretsManagerClient({});
    const arn = (await sm.send(new CreateSecretCommand({ Name: 'aisoc-bad-json', SecretString: `\n${trailingComma}` }))).ARN ?? '';
    const tenantsArn =
      (await sm.send(new CreateSecretCommand({ Name: 'aisoc-bad-tenants', SecretString: '{"acme": "tenant-secret-value-hidden",}' })))
        .ARN ?? '';

    const failed = await withSharedSecret(loadIngestConfig({ K8S_AUDIT_SHARED_SECRET_ARN: arn })).catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(ConfigError);
    expect((failed as ConfigError).problems).toEqual([
      `K8S_AUDIT_SHARED_SECRET_ARN: the secret ${arn} starts with { but is not valid JSON (Expected double-quoted property name in JSON at position 59): store the JSON object {"K8S_AUDIT_SHARED_SECRET": "<secret>"} or the plain secret`,
    ]);
    const forwarder = await resolveForwarderToken(
      loadForwarderConfig({ AISOC_INGEST_URL: 'https://aisoc.example/v1/ingest/k8s-audit/acme', K8S_AUDIT_SHARED_SECRET_ARN: arn }),
    ).catch((err: unknown) => err);
    expect((forwarder as Error).message).toContain(`the secret ${arn} starts with { but is not valid JSON`);
    expect((forwarder as Error).message).not.toContain('trailing-comma-secret-value');

    const cap = captureIo({ K8S_AUDIT_SHARED_SECRET_ARN: arn });
    const data = tempDataDir('aisoc-serve-arn-json-');
    try {
      expect(await main(['serve', '--port', '0', '--data-dir', data.dir, '--no-console'], cap.io)).toBe(2);
    } finally {
      data.remove();
    }
    expect(cap.err()).toContain(`the secret ${arn} starts with { but is not valid JSON`);
    expect(cap.out() + cap.err()).not.toContain('trailing-comma-secret-value');

    const tenants = await withSharedSecret(
      loadIngestConfig({ K8S_AUDIT_SHARED_SECRET: 'an-installation-wide-secret', K8S_AUDIT_TENANT_SECRETS_ARN: tenantsArn }),
    ).catch((err: unknown) => err);
    expect((tenants as ConfigError).problems).toEqual([
      `K8S_AUDIT_TENANT_SECRETS_ARN (the secret ${tenantsArn}) is not JSON (Expected double-quoted property name in JSON at position 38): it must be an object of tenant id to secret`,
    ]);
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await moto?.close();
  });

  it('gives the ingest the stored value, plain or under its JSON key', async () => {
    const plain = await withSharedSecret(loadIngestConfig({ K8S_AUDIT_SHARED_SECRET_ARN: plainArn }));
    const json = await withSharedSecret(loadIngestConfig({ K8S_AUDIT_SHARED_SECRET_ARN: jsonArn }));

    expect(plain.sharedSecret).toBe('plain-shared-secret');
    expect(json.sharedSecret).toBe('json-shared-secret');
  });

  it('gives the forwarder the same value', async () => {
    const config = loadForwarderConfig({
      AISOC_INGEST_URL: 'https://aisoc.example/v1/ingest/k8s-audit/acme',
      K8S_AUDIT_SHARED_SECRET_ARN: plainArn,
    });

    expect(await resolveForwarderToken(config)).toBe('plain-shared-secret');
  });

  it('fails the start with a configuration error naming the variable and the secret, not a value, when the ARN does not exist', async () => {
    const missing = plainArn.replace('aisoc-plain', 'aisoc-missing');

    const failed = await withSharedSecret(loadIngestConfig({ K8S_AUDIT_SHARED_SECRET_ARN: missing })).catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(ConfigError);
    expect((failed as ConfigError).problems).toEqual([
      expect.stringMatching(/^K8S_AUDIT_SHARED_SECRET_ARN: the secret arn:aws:secretsmanager:/),
    ]);
    expect((failed as Error).message).toContain(missing);
    expect((failed as Error).message).toMatch(/Secrets Manager can't find|ResourceNotFound/);
    await expect(
      resolveForwarderToken(
        loadForwarderConfig({ AISOC_INGEST_URL: 'https://aisoc.example/v1/ingest/k8s-audit/acme', K8S_AUDIT_SHARED_SECRET_ARN: missing }),
      ),
    ).rejects.toThrow(/^invalid configuration: K8S_AUDIT_SHARED_SECRET_ARN: the secret .*aisoc-missing/);
  });

  it('reads the secret in the region its ARN names, with no AWS_REGION set (serve on a workstation)', async () => {
    vi.stubEnv('AWS_REGION', undefined);
    vi.stubEnv('AWS_DEFAULT_REGION', undefined);
    try {
      expect(plainArn).toMatch(/^arn:aws:secretsmanager:us-east-1:/);
      const plain = await withSharedSecret(loadIngestConfig({ K8S_AUDIT_SHARED_SECRET_ARN: plainArn }));
      expect(plain.sharedSecret).toBe('plain-shared-secret');
    } finally {
      vi.stubEnv('AWS_REGION', 'us-east-1');
    }
  });

  it('serve answers with the secret the ARN holds, and refuses to start (exit 2, the secret named) when it cannot be read', async () => {
    const data = tempDataDir('aisoc-serve-arn-');
    try {
      const cap = captureIo({ K8S_AUDIT_SHARED_SECRET_ARN: plainArn });
      const abort = new AbortController();
      const done = serve(['--port', '0', '--data-dir', data.dir, '--no-console'], { ...cap.io, signal: abort.signal });
      let url = '';
      for (let i = 0; i < 500 && url === ''; i++) {
        url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(cap.out() + cap.err())?.[1] ?? '';
        if (url === '') await new Promise((r) => setTimeout(r, 10));
      }
      expect(url, cap.out() + cap.err()).not.toBe('');
      const post = (token: string) =>
        fetch(`${url}/v1/ingest/k8s-audit/acme`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': token },
          body: '{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]}',
        }).then((r) => r.status);
      expect(await post('plain-shared-secret')).toBe(200);
      expect(await post('another-secret')).toBe(401);
      abort.abort();
      expect(await done).toBe(0);

      const missing = plainArn.replace('aisoc-plain', 'aisoc-missing');
      const refused = captureIo({ K8S_AUDIT_SHARED_SECRET_ARN: missing });
      expect(await main(['serve', '--port', '0', '--data-dir', data.dir, '--no-console'], refused.io)).toBe(2);
      expect(refused.err()).toContain(`K8S_AUDIT_SHARED_SECRET_ARN: the secret ${missing} cannot be read`);
    } finally {
      data.remove();
    }
  });
});
