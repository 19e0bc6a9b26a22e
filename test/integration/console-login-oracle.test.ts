// The console's login against the built `serve`, over real HTTP: a secret typed in the tenant field
// is answered exactly as any wrong login. Before, it answered its own 400 ("the tenant field holds a
// secret") when the guess was any secret of the installation, any tenant's or the shared one: one
// guess tested every tenant's secret at once and said when it hit.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDataDir } from '../helpers/ingest.js';
import { buildServeBundle, type RawAnswer, rawRequest, type ServeProcess, spawnServe } from '../helpers/serve.js';

// Each tenant's own secret (K8S_AUDIT_TENANT_SECRETS_FILE, docs/ingest.md) and the shared one: hex,
// as `openssl rand -hex 32` makes them, and a base64 one (with / + =) that the tenant pattern refuses.
const SHARED = '5f1c0e9a7b3d2c4e6a8b0d1f3e5c7a9b1d3f5e7c9a0b2d4f6e8a1c3e5b7d9f0a';
const A = '0a7d3c9e1f5b2d8a4c6e0b9f7d3a1c5e2b8f6d4a0c9e7b3f1d5a2c8e6b4f0d9a';
const B = '9c2e4a6b8d0f1e3c5a7b9d2f4e6a8c0b1d3f5e7a9c2b4d6f8e0a1c3b5d7f9e2a';
const B64_SECRET = 'q3Vb8yV0mZ2c9QeH1rT5uW7xA4sD6fG8hJ0kL2n/P4r+Q=';

describe('console login: a secret in the tenant field answers as a wrong login (built serve)', () => {
  const data = tempDataDir('aisoc-console-oracle-');
  let bundle = { cli: '', cleanup: () => {} };
  let serve: ServeProcess;
  let b64: ServeProcess;

  beforeAll(async () => {
    bundle = await buildServeBundle();
    const file = join(data.dir, 'tenants.json');
    writeFileSync(file, JSON.stringify({ a: A, b: B }));
    serve = await spawnServe(bundle.cli, join(data.dir, 'hex'), { K8S_AUDIT_SHARED_SECRET: SHARED, K8S_AUDIT_TENANT_SECRETS_FILE: file });
    b64 = await spawnServe(bundle.cli, join(data.dir, 'b64'), { K8S_AUDIT_SHARED_SECRET: B64_SECRET });
  });
  afterAll(async () => {
    await Promise.all([serve?.stop(), b64?.stop()]);
    bundle.cleanup();
    data.remove();
  });

  const login = async (port: number, tenant: string, secret: string): Promise<RawAnswer> => {
    const body = Buffer.from(JSON.stringify({ tenant, secret }));
    const head = `POST /console/api/login HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close`;
    return rawRequest(port, head, body);
  };
  // The whole answer but its Date header (which ticks between two requests).
  const shown = ({ status, headers, body }: RawAnswer) => {
    const { date: _date, ...rest } = headers;
    return { status, headers: rest, body };
  };

  const logLines = async (server: ServeProcess, count: number) => {
    const lines = () => server.logs.filter((l) => l.message === 'console request');
    while (lines().length < count) await new Promise((resolve) => setTimeout(resolve, 20));
    return lines();
  };

  it("answers a guess equal to tenant b's secret, or the shared one, exactly as a random guess; logs why, never the value", async () => {
    const random = shown(await login(serve.port, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'x'));
    const bSecret = shown(await login(serve.port, B, 'x'));
    const shared = shown(await login(serve.port, SHARED, 'x'));
    expect(random.status).toBe(401);
    expect(JSON.parse(random.body)).toEqual({ error: 'the secret is neither the secret for this tenant nor the console token' });
    expect(bSecret).toEqual(random);
    expect(shared).toEqual(random);
    // The secret in both fields, or with the secret that would open a tenant of that name: no session.
    expect(shown(await login(serve.port, B, B))).toEqual(random);
    expect(shown(await login(serve.port, B, SHARED))).toEqual(random);
    // The operator reads what happened; the value is in no log line.
    // The line is written after the answer: wait for it (bounded by the test's timeout).
    const lines = await logLines(serve, 5);
    expect(lines.map((l) => [l.status, l.note ?? null])).toEqual([
      [401, null],
      [401, 'the tenant field held a secret of this installation (not logged)'],
      [401, 'the tenant field held a secret of this installation (not logged)'],
      [401, 'the tenant field held a secret of this installation (not logged)'],
      [401, 'the tenant field held a secret of this installation (not logged)'],
    ]);
    expect(serve.output()).not.toContain(B);
    expect(serve.output()).not.toContain(SHARED);
  });

  it('answers a base64 secret in the tenant field as a random guess of its shape, and counts both as failed logins', async () => {
    const random = shown(await login(b64.port, 'Zk9xR2t1W3pQ8mN4vB6cL0hJ5sD7fG9a/Y1eT3uI+o=', 'acme'));
    expect(random.status).toBe(400);
    expect(JSON.parse(random.body)).toEqual({ error: 'tenant must match [A-Za-z0-9][A-Za-z0-9._:-]{0,127}' });
    const statuses: number[] = [];
    for (let i = 0; i < 9; i++) {
      const answer = shown(await login(b64.port, B64_SECRET, 'acme'));
      if (i === 0) expect(answer).toEqual(random);
      statuses.push(answer.status);
    }
    // 1 random + 9 secret guesses: the 10th failure was the last before the throttle.
    expect(statuses).toEqual(Array(9).fill(400));
    expect((await login(b64.port, 'acme', B64_SECRET)).status).toBe(429);
    expect(b64.output()).not.toContain(B64_SECRET);
  });
});
