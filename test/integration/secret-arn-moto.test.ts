import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadForwarderConfig, resolveForwarderToken } from '../../lib/config/forwarder.js';
import { withSharedSecret } from '../../lib/config/ingest.js';
import { loadIngestConfig } from '../../lib/ingest/config.js';
import { hasMoto, type RunningMoto, startMoto } from '../helpers/infra-moto.js';

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

  it('fails the start with the secret named, not a value, when the ARN does not exist', async () => {
    const missing = plainArn.replace('aisoc-plain', 'aisoc-missing');

    await expect(withSharedSecret(loadIngestConfig({ K8S_AUDIT_SHARED_SECRET_ARN: missing }))).rejects.toThrow(
      /Secrets Manager can't find|ResourceNotFound/,
    );
  });
});
