import { describe, expect, it } from 'vitest';
import { loadAksForwarderConfig } from '../../../lib/config/aks-forwarder.js';
import { ConfigError } from '../../../lib/config/env.js';
import { loadForwarderConfig, resolveForwarderToken } from '../../../lib/config/forwarder.js';
import { withSharedSecret } from '../../../lib/config/ingest.js';
import { arnRegion, readSecretOf, readSharedSecret, sharedSecretValue } from '../../../lib/config/secret.js';
import { loadTailConfig } from '../../../lib/config/tail.js';
import { loadIngestConfig } from '../../../lib/ingest/config.js';
import { IngestService } from '../../../lib/ingest/service.js';
import { RecordWriter } from '../../../lib/sinks/writer.js';
import { parseConnectorConfig } from '../../../lib/tail/connector-config.js';
import { EMPTY_EVENT_LIST, MemorySink } from '../../helpers/ingest.js';

// What `openssl rand -base64 32` prints, newline included (the value our docs recommend).
const PRINTED = 'q3Vb8yV0mZ2c9QeH1rT5uW7xA4sD6fG8hJ0kL2nP4rQ=\n';
const VALUE = PRINTED.trim();
const URL_OK = 'https://aisoc.example.com/v1/ingest/k8s-audit/acme';
const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:k8s-audit-AbCdEf';

function problemOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError || (err as Error).name === 'ConnectorConfigError') return (err as Error).message;
    throw err;
  }
  return '';
}

describe('the one shared secret reader', () => {
  it('strips the newline and surrounding whitespace, and reads blank as unset', () => {
    expect(readSharedSecret(PRINTED, 'X')).toBe(VALUE);
    expect(readSharedSecret(`  ${VALUE}\r\n`, 'X')).toBe(VALUE);
    expect(readSharedSecret(' \n', 'X')).toBeNull();
    expect(readSharedSecret(undefined, 'X')).toBeNull();
  });

  it('refuses what cannot go in a header, naming the variable and never the value', () => {
    for (const bad of ['abc\ndef-secret', 'abc\u0000def-secret', 'pässwörd-secret', 'abc\u007fdef-secret']) {
      const message = problemOf(() => readSharedSecret(bad, 'K8S_AUDIT_SHARED_SECRET'));
      expect(message, JSON.stringify(bad)).toContain('K8S_AUDIT_SHARED_SECRET holds a character that cannot be sent');
      expect(message).not.toContain('def-secret');
    }
  });

  it('is what every path reads: ingest, forwarder (backfill, redrive), tail, test-connection, Secrets Manager', async () => {
    expect(
      loadIngestConfig({ K8S_AUDIT_SHARED_SECRET: PRINTED, K8S_AUDIT_SHARED_SECRET_PREVIOUS: PRINTED }, { runtime: 'local' }),
    ).toMatchObject({
      sharedSecret: VALUE,
      previousSharedSecret: VALUE,
    });
    expect(loadForwarderConfig({ AISOC_INGEST_URL: URL_OK, K8S_AUDIT_SHARED_SECRET: PRINTED }).token).toBe(VALUE);
    expect(loadTailConfig({ AISOC_INGEST_URL: URL_OK, K8S_AUDIT_SHARED_SECRET: PRINTED }).token).toBe(VALUE);
    expect(loadAksForwarderConfig({ AISOC_INGEST_URL: URL_OK, K8S_AUDIT_SHARED_SECRET: PRINTED }).token).toBe(VALUE);
    const connector = { mode: 'file_tail', cluster_name: 'c1', audit_log_path: '/var/log/audit.log', ingest_url: URL_OK };
    expect(parseConnectorConfig({ ...connector, shared_secret: PRINTED }, {}).shared_secret).toBe(VALUE);
    expect(parseConnectorConfig(connector, { env: { K8S_AUDIT_SHARED_SECRET: PRINTED } }).shared_secret).toBe(VALUE);
    expect(sharedSecretValue(PRINTED, ARN)).toBe(VALUE);
    expect(sharedSecretValue(JSON.stringify({ K8S_AUDIT_SHARED_SECRET: PRINTED }), ARN)).toBe(VALUE);
    const fromArn = await withSharedSecret(
      loadIngestConfig({ K8S_AUDIT_SHARED_SECRET_ARN: ARN }, { runtime: 'local' }),
      async () => PRINTED,
    );
    expect(fromArn.sharedSecret).toBe(VALUE);
  });

  it('refuses a bad value on every path with the name of where it came from', () => {
    const bad = 'abc\ndef-secret';
    const connector = { mode: 'file_tail', cluster_name: 'c1', audit_log_path: '/var/log/audit.log', ingest_url: URL_OK };
    const cases: [string, () => unknown][] = [
      ['K8S_AUDIT_SHARED_SECRET', () => loadIngestConfig({ K8S_AUDIT_SHARED_SECRET: bad }, { runtime: 'local' })],
      [
        'K8S_AUDIT_SHARED_SECRET_PREVIOUS',
        () => loadIngestConfig({ K8S_AUDIT_SHARED_SECRET: VALUE, K8S_AUDIT_SHARED_SECRET_PREVIOUS: bad }),
      ],
      ['K8S_AUDIT_SHARED_SECRET', () => loadForwarderConfig({ AISOC_INGEST_URL: URL_OK, K8S_AUDIT_SHARED_SECRET: bad })],
      ['K8S_AUDIT_SHARED_SECRET', () => loadTailConfig({ AISOC_INGEST_URL: URL_OK, K8S_AUDIT_SHARED_SECRET: bad })],
      ['K8S_AUDIT_SHARED_SECRET', () => loadAksForwarderConfig({ AISOC_INGEST_URL: URL_OK, K8S_AUDIT_SHARED_SECRET: bad })],
      ['shared_secret', () => parseConnectorConfig({ ...connector, shared_secret: bad }, {})],
      [`K8S_AUDIT_SHARED_SECRET_ARN (the secret ${ARN})`, () => sharedSecretValue(bad, ARN)],
      [`K8S_AUDIT_SHARED_SECRET_ARN (the secret ${ARN})`, () => sharedSecretValue(JSON.stringify({ token: bad }), ARN)],
    ];
    for (const [name, load] of cases) {
      const message = problemOf(load);
      expect(message, name).toContain(`${name} holds a character that cannot be sent`);
      expect(message).not.toContain('def-secret');
    }
  });
});

describe('a rotation through the secret ARN alone', () => {
  it('the ingest accepts the current and the previous value the secret holds; a sender sends the current one', async () => {
    const NEW = 'new-shared-secret-Vb7nQ2mX9kD4sW6eZq4vN8pW';
    const OLD = 'old-shared-secret-Hm3bC6dF9gJ0kL5Zq4vN8pW2';
    const stored = JSON.stringify({ K8S_AUDIT_SHARED_SECRET: NEW, K8S_AUDIT_SHARED_SECRET_PREVIOUS: `${OLD}\n` });
    const config = await withSharedSecret(
      loadIngestConfig({ K8S_AUDIT_SHARED_SECRET_ARN: ARN, EVENTS_SINK: 'stdout' }, { runtime: 'lambda' }),
      async () => stored,
    );
    const service = new IngestService({ config, writer: new RecordWriter(new MemorySink('events'), null) });
    const post = async (token: string) =>
      (
        await service.handle({
          method: 'POST',
          path: '/v1/ingest/k8s-audit/acme',
          headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': token },
          body: Buffer.from(EMPTY_EVENT_LIST),
        })
      ).status;

    expect([await post(NEW), await post(OLD), await post('neither-of-them-Zq4vN8pW2xR7tY1u')]).toEqual([200, 200, 401]);
    expect(
      await resolveForwarderToken(loadForwarderConfig({ AISOC_INGEST_URL: URL_OK, K8S_AUDIT_SHARED_SECRET_ARN: ARN }), async () => stored),
    ).toBe(NEW);
    // Without the key (or as a plain string) there is no previous; a bad one is named, never shown.
    expect(
      (await withSharedSecret(loadIngestConfig({ K8S_AUDIT_SHARED_SECRET_ARN: ARN }, { runtime: 'local' }), async () => NEW))
        .previousSharedSecret,
    ).toBeNull();
    await expect(
      withSharedSecret(loadIngestConfig({ K8S_AUDIT_SHARED_SECRET_ARN: ARN }, { runtime: 'local' }), async () =>
        JSON.stringify({ K8S_AUDIT_SHARED_SECRET: NEW, K8S_AUDIT_SHARED_SECRET_PREVIOUS: 'bad\nvalue-Hm3bC6' }),
      ),
    ).rejects.toThrow(/its K8S_AUDIT_SHARED_SECRET_PREVIOUS\) holds a character that cannot be sent/);
    // The environment's K8S_AUDIT_SHARED_SECRET_PREVIOUS, when set, wins.
    const explicit = await withSharedSecret(
      loadIngestConfig({ K8S_AUDIT_SHARED_SECRET_ARN: ARN, K8S_AUDIT_SHARED_SECRET_PREVIOUS: VALUE }, { runtime: 'local' }),
      async () => stored,
    );
    expect(explicit.previousSharedSecret).toBe(VALUE);
  });
});

describe('a secret typed where the tenant id goes', () => {
  it("is refused by every sender's configuration, naming the setting and never the value", () => {
    const secret = 'Zq4vN8pW2xR7tY1uHm3bC6dF9gJ0kL5';
    const url = `https://aisoc.example.com/prod/v1/ingest/k8s-audit/${secret}`;
    const connector = { mode: 'file_tail', cluster_name: 'c1', audit_log_path: '/var/log/audit.log' };
    const cases: [string, () => unknown][] = [
      ['AISOC_INGEST_URL', () => loadForwarderConfig({ AISOC_INGEST_URL: url, K8S_AUDIT_SHARED_SECRET: secret })],
      ['AISOC_INGEST_URL', () => loadTailConfig({ AISOC_INGEST_URL: url, K8S_AUDIT_SHARED_SECRET: `${secret}\n` })],
      ['AISOC_INGEST_URL', () => loadAksForwarderConfig({ AISOC_INGEST_URL: url, K8S_AUDIT_SHARED_SECRET: secret })],
      ['ingest_url', () => parseConnectorConfig({ ...connector, ingest_url: url, shared_secret: secret }, {})],
      ['AISOC_INGEST_URL', () => parseConnectorConfig(connector, { env: { AISOC_INGEST_URL: url, K8S_AUDIT_SHARED_SECRET: secret } })],
    ];
    for (const [name, load] of cases) {
      const message = problemOf(load);
      expect(message, name).toContain(`${name} has the shared secret where the tenant id goes`);
      expect(message).not.toContain(secret);
    }
    // The same URL with another tenant id is fine.
    expect(problemOf(() => loadTailConfig({ AISOC_INGEST_URL: URL_OK, K8S_AUDIT_SHARED_SECRET: secret }))).toBe('');
  });
});

describe("a secret's ARN", () => {
  it('names the region its GetSecretValue is sent to; a name or a malformed ARN leaves it to the SDK', () => {
    expect(arnRegion(ARN)).toBe('us-east-1');
    expect(arnRegion('arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:x')).toBe('cn-north-1');
    expect(arnRegion('aisoc-k8s-audit')).toBeUndefined();
    expect(arnRegion('arn:aws:secretsmanager::123456789012:secret:x')).toBeUndefined();
    expect(arnRegion('arn:aws:secretsmanager:us-east-1')).toBeUndefined();
  });

  it('a read that fails names the variable that gave the ARN, and keeps a configuration error one', async () => {
    const denied = readSecretOf('K8S_AUDIT_TENANT_SECRETS_ARN', ARN, async () => {
      throw new ConfigError([`the secret ${ARN} cannot be read from Secrets Manager: AccessDeniedException: denied`]);
    });
    await expect(denied).rejects.toBeInstanceOf(ConfigError);
    await expect(denied).rejects.toThrow(`invalid configuration: K8S_AUDIT_TENANT_SECRETS_ARN: the secret ${ARN} cannot be read`);
    const down = readSecretOf('K8S_AUDIT_SHARED_SECRET_ARN', ARN, async () => {
      throw new Error('connect ECONNREFUSED');
    });
    await expect(down).rejects.toThrow(/^K8S_AUDIT_SHARED_SECRET_ARN: connect ECONNREFUSED$/);
    await expect(down).rejects.not.toBeInstanceOf(ConfigError);
    expect(await readSecretOf('K8S_AUDIT_SHARED_SECRET_ARN', ARN, async () => 'value')).toBe('value');
  });
});
