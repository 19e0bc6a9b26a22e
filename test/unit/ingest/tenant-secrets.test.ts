import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/config/env.js';
import { parseTenantSecrets, withSharedSecret } from '../../../lib/config/ingest.js';
import { loadIngestConfig } from '../../../lib/ingest/config.js';
import { IngestService } from '../../../lib/ingest/service.js';
import { RecordWriter } from '../../../lib/sinks/writer.js';
import { EMPTY_EVENT_LIST, MemorySink, SECRET } from '../../helpers/ingest.js';

const ACME = 'acme-own-secret-7Yq2LmZ0pW4rT8vX';
const GLOBEX = 'globex-own-secret-3Kd9HsQ1nB6cJ5f';
const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:tenant-secrets-AbCdEf';

async function service(env: Record<string, string>, file: string): Promise<IngestService> {
  const config = await withSharedSecret(
    loadIngestConfig({ K8S_AUDIT_TENANT_SECRETS_FILE: '/etc/aisoc/tenants.json', ...env }, { runtime: 'local' }),
    undefined,
    async () => file,
  );
  return new IngestService({ config, writer: new RecordWriter(new MemorySink('events'), null) });
}

async function status(s: IngestService, tenant: string, token: string): Promise<number> {
  const res = await s.handle({
    method: 'POST',
    path: `/v1/ingest/k8s-audit/${tenant}`,
    headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': token },
    body: Buffer.from(EMPTY_EVENT_LIST),
  });
  return res.status;
}

describe('per-tenant secrets', () => {
  it('open only their own tenant; the installation-wide secret opens only the tenants without one', async () => {
    const s = await service({ K8S_AUDIT_SHARED_SECRET: SECRET }, `${JSON.stringify({ acme: `${ACME}\n`, globex: GLOBEX })}\n`);

    expect(await status(s, 'acme', ACME)).toBe(200);
    expect(await status(s, 'globex', GLOBEX)).toBe(200);
    expect(await status(s, 'acme', GLOBEX)).toBe(401);
    expect(await status(s, 'acme', SECRET)).toBe(401);
    expect(await status(s, 'initech', SECRET)).toBe(200);
    expect(await status(s, 'initech', ACME)).toBe(401);
  });

  it("are refused as a path's tenant id, with or without the header, and never become a tenant in the sink or the log", async () => {
    const events = new MemorySink('events');
    const logs: string[] = [];
    const config = await withSharedSecret(
      loadIngestConfig({ K8S_AUDIT_TENANT_SECRETS_FILE: '/etc/aisoc/tenants.json', K8S_AUDIT_SHARED_SECRET: SECRET }, { runtime: 'local' }),
      undefined,
      async () => JSON.stringify({ acme: ACME, globex: GLOBEX }),
    );
    const s = new IngestService({ config, writer: new RecordWriter(events, null), log: (e) => logs.push(JSON.stringify(e)) });
    const post = (tenant: string, headers: Record<string, string>) =>
      s.handle({ method: 'POST', path: `/v1/ingest/k8s-audit/${tenant}`, headers, body: Buffer.from(EMPTY_EVENT_LIST) });

    // With a credential for the tenant it names (the installation-wide secret opens a tenant
    // without its own), the path is told it holds a secret.
    const named = await post(GLOBEX, { 'X-AiSOC-K8s-Token': SECRET });
    expect(named.status).toBe(400);
    expect(String(named.body)).toContain('the tenant id in the path is a secret of this installation');
    // Without one, the answer is any unknown tenant's, byte for byte: a guess at a secret learns nothing.
    const wrong = { 'X-AiSOC-K8s-Token': 'a-wrong-token-0123456789' };
    const guesses = [await post(GLOBEX, wrong), await post(ACME, wrong), await post('initech', wrong)];
    expect(guesses.map((r) => [r.status, String(r.body)])).toEqual(Array(3).fill([401, String(guesses[2]?.body)]));
    const bare = [await post(GLOBEX, {}), await post('initech', {})];
    expect(bare.map((r) => [r.status, String(r.body)])).toEqual(Array(2).fill([401, String(bare[1]?.body)]));
    expect(await status(s, ACME, ACME)).toBe(401);
    expect(await status(s, GLOBEX, GLOBEX)).toBe(401);
    expect(await status(s, 'acme', ACME)).toBe(200);
    expect(events.records.map((r) => r.tenant_id).filter((t) => t !== 'acme')).toEqual([]);
    expect(logs.join('\n')).not.toContain(ACME);
    expect(logs.join('\n')).not.toContain(GLOBEX);
    expect(
      logs
        .filter((l) => l.includes(`"status":4`) && !l.includes('k8s-audit/acme'))
        .every((l) => l.includes('/v1/ingest/k8s-audit/<redacted>') || l.includes('k8s-audit/initech')),
    ).toBe(true);
  });

  it('turn the route on by themselves: without an installation-wide secret, other tenants get 401', async () => {
    const s = await service({}, JSON.stringify({ acme: ACME }));

    expect(await status(s, 'acme', ACME)).toBe(200);
    expect(await status(s, 'initech', ACME)).toBe(401);
  });

  it('are read from Secrets Manager by ARN, and a bad map is refused naming the source and tenant, never a value', async () => {
    const config = await withSharedSecret(
      loadIngestConfig({ K8S_AUDIT_TENANT_SECRETS_ARN: ARN, EVENTS_SINK: 'stdout' }, { runtime: 'lambda' }),
      async (arn) => (arn === ARN ? JSON.stringify({ acme: ACME }) : ''),
    );
    expect([...(config.tenantSecrets ?? [])]).toEqual([['acme', ACME]]);

    const problems = (text: string) => {
      try {
        parseTenantSecrets(text, 'SRC');
      } catch (err) {
        return (err as ConfigError).problems.join('\n');
      }
      return '';
    };
    expect(problems('{"acme": "ab\\ncd-hidden"}')).toContain('SRC tenant acme holds a character that cannot be sent');
    expect(problems('{"acme": "ab\\ncd-hidden"}')).not.toContain('hidden');
    expect(problems('{"../x": "s"}')).toContain('is not a tenant id');
    expect(problems('{"acme": 7}')).toContain('SRC tenant acme has no secret');
    expect(problems('{"acme": "secret-not-json-hidden"')).toBe(
      "SRC is not JSON (Expected ',' or '}' after property value in JSON at position 33): it must be an object of tenant id to secret",
    );
    expect(() => loadIngestConfig({ K8S_AUDIT_TENANT_SECRETS_FILE: '/a', K8S_AUDIT_TENANT_SECRETS_ARN: ARN })).toThrow(ConfigError);
  });
});

describe('a tenant secret that is not its own', () => {
  // Before, both maps were taken: acme's holder opened globex with its own secret, or every
  // tenant without a secret of its own, as the installation-wide secret does.
  it.each([
    [
      'shared with another tenant',
      { K8S_AUDIT_SHARED_SECRET: SECRET },
      { acme: ACME, globex: ACME },
      /tenants acme, globex have the same secret/,
    ],
    [
      'equal to the installation-wide secret',
      { K8S_AUDIT_SHARED_SECRET: SECRET },
      { acme: SECRET },
      /tenant acme: its secret is K8S_AUDIT_SHARED_SECRET,/,
    ],
    [
      'equal to the previous installation-wide secret',
      { K8S_AUDIT_SHARED_SECRET: SECRET, K8S_AUDIT_SHARED_SECRET_PREVIOUS: GLOBEX },
      { acme: ACME, globex: GLOBEX },
      /tenant globex: its secret is K8S_AUDIT_SHARED_SECRET_PREVIOUS,/,
    ],
  ])('%s stops the start, naming the tenants and never the value', async (_name, env, map, message) => {
    const started = service(env, JSON.stringify(map));
    await expect(started).rejects.toBeInstanceOf(ConfigError);
    const err = (await started.catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain(ACME);
    expect(err.message).not.toContain(GLOBEX);
    expect(err.message).not.toContain(SECRET);
  });
});
