// The shipper never sends the shared secret over plain http to another machine unless the
// operator allows it, and the loaders say so at start, naming the variable and the fix.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/config/env.js';
import { loadForwarderConfig } from '../../lib/config/forwarder.js';
import { loadTailConfig } from '../../lib/config/tail.js';
import { isLoopbackHost, plaintextUrlProblem, shipEvents } from '../../lib/ship/index.js';
import { HAS_OPENSSL, makePki, type TestPki } from '../helpers/pki.js';
import { distinctLines, startFaultServer } from '../helpers/ship.js';

const ROUTE = '/v1/ingest/k8s-audit/acme';

/** A fetch that records what it was asked to send and answers 200: nothing here may reach it. */
function recordingFetch(): { fetch: typeof fetch; urls: string[] } {
  const urls: string[] = [];
  const f = (async (url: string | URL | Request) => {
    urls.push(String(url));
    return new Response('{"accepted":1,"rejected":0,"duplicates":0,"errors":[]}', { status: 200 });
  }) as typeof fetch;
  return { fetch: f, urls };
}

function configProblems(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('isLoopbackHost', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.255.255.254', true],
    ['localhost', true],
    ['LOCALHOST', true],
    ['::1', true],
    ['[::1]', true],
    ['10.0.0.5', false],
    ['128.0.0.1', false],
    ['0.0.0.0', false],
    ['::', false],
    ['localhost.attacker.example', false],
    ['127.0.0.1.nip.io', false],
    ['ingest.internal', false],
  ])('%s → %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });

  it('reads hosts as the URL parser normalises them (shorthand and integer IPv4, IPv4-mapped IPv6)', () => {
    const host = (url: string) => new URL(url).hostname;
    expect(isLoopbackHost(host('http://127.1/'))).toBe(true);
    expect(isLoopbackHost(host('http://2130706433/'))).toBe(true);
    expect(isLoopbackHost(host('http://[::ffff:127.0.0.1]/'))).toBe(true);
    expect(isLoopbackHost(host('http://[::ffff:10.0.0.5]/'))).toBe(false);
    expect(isLoopbackHost(host('http://167772165/'))).toBe(false); // 10.0.0.5
  });
});

describe('shipEvents and plain http', () => {
  it('refuses http://10.0.0.5/... before sending anything, naming the variable and both fixes', async () => {
    const { fetch, urls } = recordingFetch();
    const logs: Record<string, unknown>[] = [];
    const events = distinctLines(3);
    const result = await shipEvents(events, { url: `http://10.0.0.5${ROUTE}`, token: 's3cret', fetch, log: (e) => logs.push(e) });

    expect(urls).toEqual([]);
    expect(result.delivered).toBe(0);
    expect(result.failed.map((f) => [f.index, f.kind, f.retryable])).toEqual([
      [0, 'config', false],
      [1, 'config', false],
      [2, 'config', false],
    ]);
    const reason = result.failed[0]?.reason ?? '';
    expect(reason).toContain('AISOC_INGEST_URL is plain http:// to 10.0.0.5');
    expect(reason).toContain('https://');
    expect(reason).toContain('AISOC_ALLOW_INSECURE_HTTP=true');
    expect(logs).toMatchObject([{ level: 'error', msg: 'refusing to send the shared secret in clear text' }]);
    expect(JSON.stringify(logs)).not.toContain('s3cret');
  });

  it('accepts http://127.0.0.1/... and delivers to the loopback ingest', async () => {
    const server = await startFaultServer();
    try {
      const result = await shipEvents(distinctLines(3), { url: server.url, token: 's3cret' });
      expect(server.url.startsWith('http://127.0.0.1:')).toBe(true);
      expect(result).toMatchObject({ delivered: 3, failed: [] });
      expect(server.delivered).toEqual(['evt-0', 'evt-1', 'evt-2']);
    } finally {
      await server.close();
    }
  });

  it('sends to a non-loopback http URL when allowed, warning once per process however many runs', async () => {
    const { fetch, urls } = recordingFetch();
    const logs: Record<string, unknown>[] = [];
    const tls = { allowInsecureHttp: true, extraCa: null, clientCert: null, clientKey: null };
    for (let run = 0; run < 3; run++) {
      const result = await shipEvents(distinctLines(1, `run${run}`), {
        url: `http://10.0.0.6${ROUTE}`,
        token: 's3cret',
        tls,
        fetch,
        log: (e) => logs.push(e),
      });
      expect(result.delivered).toBe(1);
    }
    expect(urls).toHaveLength(3);
    const warnings = logs.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toContain('AISOC_ALLOW_INSECURE_HTTP=true');
    expect(warnings[0]?.url).toBe(`http://10.0.0.6${ROUTE}`);
  });

  it('never warns or refuses for https or loopback', () => {
    expect(plaintextUrlProblem(`https://10.0.0.5${ROUTE}`)).toBeNull();
    expect(plaintextUrlProblem(`http://localhost:8080${ROUTE}`)).toBeNull();
    expect(plaintextUrlProblem(`http://[::1]:8080${ROUTE}`)).toBeNull();
  });
});

describe('the loaders', () => {
  const tailEnv = { K8S_AUDIT_SHARED_SECRET: 's3cret' };

  it('refuse a plain http AISOC_INGEST_URL to another host at start, for the tailer and the forwarder', () => {
    const url = `http://10.0.0.5:8080${ROUTE}`;
    for (const problems of [
      configProblems(() => loadTailConfig({ ...tailEnv, AISOC_INGEST_URL: url })),
      configProblems(() => loadForwarderConfig({ ...tailEnv, AISOC_INGEST_URL: url })),
    ]) {
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^AISOC_INGEST_URL is plain http:\/\/ to 10\.0\.0\.5.*AISOC_ALLOW_INSECURE_HTTP=true/);
    }
  });

  it('take it with AISOC_ALLOW_INSECURE_HTTP=true, and loopback or https without', () => {
    const allowed = loadTailConfig({ ...tailEnv, AISOC_INGEST_URL: `http://10.0.0.5${ROUTE}`, AISOC_ALLOW_INSECURE_HTTP: 'true' });
    expect(allowed.tls.allowInsecureHttp).toBe(true);
    expect(loadTailConfig({ ...tailEnv, AISOC_INGEST_URL: `http://127.0.0.1:8080${ROUTE}` }).tls).toEqual({
      allowInsecureHttp: false,
      extraCa: null,
      clientCert: null,
      clientKey: null,
    });
    expect(configProblems(() => loadTailConfig({ ...tailEnv, AISOC_INGEST_URL: `https://10.0.0.5${ROUTE}` }))).toEqual([]);
    expect(
      configProblems(() => loadTailConfig({ ...tailEnv, AISOC_INGEST_URL: `https://x${ROUTE}`, AISOC_ALLOW_INSECURE_HTTP: 'Maybe' })),
    ).toEqual(['AISOC_ALLOW_INSECURE_HTTP must be true or false (or 1/0, yes/no), got "Maybe"']);
  });

  describe.skipIf(!HAS_OPENSSL)('with certificate files', () => {
    let pki: TestPki;
    beforeAll(() => {
      pki = makePki();
      writeFileSync(join(pki.dir, 'junk.pem'), 'not a certificate\n');
      writeFileSync(join(pki.dir, 'broken.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    });
    afterAll(() => pki?.remove());
    const https = { ...tailEnv, AISOC_INGEST_URL: `https://ingest.example${ROUTE}` };

    it('read AISOC_CA_FILE in addition to NODE_EXTRA_CA_CERTS, and a client certificate with its key', () => {
      const c = loadTailConfig({
        ...https,
        AISOC_CA_FILE: pki.caCert,
        NODE_EXTRA_CA_CERTS: pki.otherCaCert,
        AISOC_CLIENT_CERT_FILE: pki.clientCert,
        AISOC_CLIENT_KEY_FILE: pki.clientKey,
      });
      expect(c.tls.extraCa).toHaveLength(2);
      expect(c.tls.clientCert).toContain('BEGIN CERTIFICATE');
      expect(c.tls.clientKey).toContain('PRIVATE KEY');
    });

    it('name the variable of every unusable file, and never print a key', () => {
      const problems = configProblems(() =>
        loadTailConfig({
          ...https,
          AISOC_CA_FILE: join(pki.dir, 'missing.pem'),
          AISOC_CLIENT_CERT_FILE: pki.clientCert,
          AISOC_CLIENT_KEY_FILE: pki.serverKey,
        }),
      );
      expect(problems).toEqual([
        expect.stringMatching(/^AISOC_CA_FILE: cannot read .*missing\.pem \(ENOENT\)$/),
        expect.stringMatching(/^AISOC_CLIENT_KEY_FILE: the key in .*server\.key does not belong to the first certificate/),
      ]);
      expect(configProblems(() => loadTailConfig({ ...https, AISOC_CA_FILE: join(pki.dir, 'junk.pem') }))).toEqual([
        expect.stringMatching(/^AISOC_CA_FILE: .*junk\.pem holds no PEM certificate/),
      ]);
      expect(configProblems(() => loadTailConfig({ ...https, AISOC_CA_FILE: join(pki.dir, 'broken.pem') }))).toEqual([
        expect.stringMatching(/^AISOC_CA_FILE: certificate 1 of .*broken\.pem does not parse/),
      ]);
      expect(configProblems(() => loadTailConfig({ ...https, AISOC_CLIENT_CERT_FILE: pki.clientCert }))).toEqual([
        'AISOC_CLIENT_CERT_FILE and AISOC_CLIENT_KEY_FILE go together (the client certificate for mTLS and its key)',
      ]);
      const keyAsCert = configProblems(() =>
        loadTailConfig({ ...https, AISOC_CLIENT_CERT_FILE: pki.clientKey, AISOC_CLIENT_KEY_FILE: pki.clientKey }),
      );
      expect(keyAsCert).toEqual([expect.stringMatching(/^AISOC_CLIENT_CERT_FILE: .*client\.key holds no PEM certificate/)]);
      expect(JSON.stringify(keyAsCert)).not.toContain('PRIVATE KEY');
    });
  });
});
