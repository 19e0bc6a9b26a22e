// TLS on every self-hosted path, with a private PKI made in the test (openssl): a TLS `serve`
// accepts the tailer and the forwarder that trust the test CA through AISOC_CA_FILE, refuses a
// client that does not, takes only TLS 1.2 or newer, and checks client certificates when told.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadTailConfig } from '../../lib/config/tail.js';
import { readServeTls } from '../../lib/config/tls.js';
import { type IngestServer, startIngestServer } from '../../lib/ingest/adapters/server.js';
import { loadIngestConfig } from '../../lib/ingest/config.js';
import { shipEvents } from '../../lib/ship/index.js';
import { openEventStore } from '../../lib/sinks/sqlite.js';
import { runCli } from '../helpers/cli.js';
import { awslogsEvent, eksPayload } from '../helpers/envelopes.js';
import { captureStdout, lambdaContext, loadForwarder } from '../helpers/forwarder.js';
import { hasNginx, type RunningNginx, renderNginxForwarder, startNginx } from '../helpers/infra-nginx.js';
import { HAS_OPENSSL, makePki, type TestPki } from '../helpers/pki.js';
import { distinctLines } from '../helpers/ship.js';

const SECRET = 'tls-test-shared-secret-0123456789abcdef';
const ROUTE = '/v1/ingest/k8s-audit/acme';

function storedIds(dataDir: string): string[] {
  const store = openEventStore(dataDir);
  try {
    return store
      .queryEvents({ tenant: 'acme', limit: 10_000 })
      .map((r) => r.audit_id as string)
      .sort();
  } finally {
    store.close();
  }
}

/** A TLS handshake with `opts`; resolves to the negotiated protocol or the error code. */
function handshake(port: number, opts: ConnectionOptions): Promise<string> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ...opts });
    socket.once('secureConnect', () => {
      const protocol = socket.getProtocol() ?? 'unknown';
      socket.destroy();
      resolve(protocol);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** A POST with node:https and the given trust; resolves to the status or the error code. */
function post(url: string, ca: string | undefined): Promise<number | string> {
  return new Promise((resolve) => {
    const req = httpsRequest(
      url,
      { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET }, ...(ca ? { ca } : {}) },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end('{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]}');
  });
}

/** A TLS `serve` core on 127.0.0.1 with the SQLite sink in a fresh data dir, its certificate from `pki`. */
async function startTlsIngest(
  pki: TestPki,
  prefix: string,
  clientCa = false,
): Promise<{ server: IngestServer; dataDir: string; close: () => Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  const config = loadIngestConfig(
    { K8S_AUDIT_SHARED_SECRET: SECRET, EVENTS_SINK: 'sqlite', AISOC_DATA_DIR: dataDir },
    { runtime: 'local' },
  );
  const tls = readServeTls({
    cert: { path: pki.serverCert, name: '--tls-cert' },
    key: { path: pki.serverKey, name: '--tls-key' },
    clientCa: clientCa ? { path: pki.caCert, name: '--tls-client-ca' } : null,
  });
  const server = await startIngestServer({ config, tls });
  return {
    server,
    dataDir,
    close: async () => {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

describe.skipIf(!HAS_OPENSSL)('TLS between the shippers and serve', () => {
  let pki: TestPki;
  let ingest: Awaited<ReturnType<typeof startTlsIngest>>;
  let dataDir: string;
  let server: IngestServer;
  let route: string;

  beforeAll(async () => {
    pki = makePki();
    ingest = await startTlsIngest(pki, 'aisoc-tls-');
    server = ingest.server;
    dataDir = ingest.dataDir;
    route = `${server.url}${ROUTE}`;
  });

  afterAll(async () => {
    await ingest?.close();
    pki?.remove();
  });

  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it('listens with https only, TLS 1.2 or newer', async () => {
    const ca = readFileSync(pki.caCert, 'utf8');
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await handshake(server.port, { ca, minVersion: 'TLSv1.2' })).toMatch(/^TLSv1\.[23]$/);
    expect(await handshake(server.port, { ca, maxVersion: 'TLSv1.2' })).toBe('TLSv1.2');
    // TLS 1.1 and older: no handshake (the server's minVersion, whatever the client offers).
    const old = await handshake(server.port, { ca, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
    expect(old).not.toMatch(/^TLS/);
    // Plain http on the TLS port gets no answer an http client can read.
    expect(await fetch(`${server.url.replace('https:', 'http:')}${ROUTE}`, { method: 'POST' }).catch(() => 'refused')).toBe('refused');
  });

  it('accepts the tailer (`tail --once`) that trusts the test CA through AISOC_CA_FILE', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aisoc-tls-tail-'));
    try {
      const lines = distinctLines(40, 'tail-tls');
      writeFileSync(join(dir, 'audit.log'), `${lines.join('\n')}\n`);
      const env = { AISOC_INGEST_URL: route, K8S_AUDIT_SHARED_SECRET: SECRET, CLUSTER_NAME: 'selfhosted', AISOC_CA_FILE: pki.caCert };
      const { code, stderr: err } = await runCli(
        ['tail', '--path', join(dir, 'audit.log'), '--cursor', join(dir, 'cursor'), '--once'],
        env,
      );
      const stderr = () => err;
      expect({ code, stderr: code === 0 ? '' : stderr() }).toEqual({ code: 0, stderr: '' });
      expect(storedIds(dataDir).filter((id) => id.startsWith('tail-tls-'))).toHaveLength(40);
      expect(stderr()).not.toContain(SECRET);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses the tailer without the CA: the poll fails, the cursor stays, nothing is stored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aisoc-tls-tail-'));
    try {
      writeFileSync(join(dir, 'audit.log'), `${distinctLines(5, 'untrusted').join('\n')}\n`);
      const env = {
        AISOC_INGEST_URL: route,
        K8S_AUDIT_SHARED_SECRET: SECRET,
        CLUSTER_NAME: 'selfhosted',
        AISOC_TAIL_REQUEST_TIMEOUT_MS: '2000',
      };
      const { code, stderr: err } = await runCli(
        ['tail', '--path', join(dir, 'audit.log'), '--cursor', join(dir, 'cursor'), '--once'],
        env,
      );
      const stderr = () => err;
      expect(code).toBe(1);
      // Not retried: a trust problem is the operator's to fix, and the message says how.
      expect(stderr()).toContain("configuration error: the ingest's TLS certificate is not trusted");
      expect(stderr()).toContain('set AISOC_CA_FILE');
      expect(stderr()).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN/);
      expect(stderr()).not.toContain('retrying batch');
      expect(storedIds(dataDir).filter((id) => id.startsWith('untrusted-'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('passes test-connection with AISOC_CA_FILE, and fails it with a reason without', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aisoc-tls-tc-'));
    try {
      const file = join(dir, 'connector.json');
      writeFileSync(file, JSON.stringify({ mode: 'webhook', cluster_name: 'selfhosted', ingest_url: route }));
      const trusted = await runCli(['test-connection', '--config', file], { K8S_AUDIT_SHARED_SECRET: SECRET, AISOC_CA_FILE: pki.caCert });
      expect(trusted.stdout).toContain('connection ok');
      expect(trusted.code).toBe(0);
      const untrusted = await runCli(['test-connection', '--config', file], { K8S_AUDIT_SHARED_SECRET: SECRET });
      expect(untrusted.code).toBe(1);
      expect(untrusted.stdout).toMatch(
        /cannot reach the ingest at https:\/\/127\.0\.0\.1:\d+\/v1\/ingest\/k8s-audit\/acme: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)/,
      );
      expect(untrusted.stdout + trusted.stdout).not.toContain(SECRET);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('`status` reads a TLS serve trusting AISOC_CA_FILE, and says why without it; refuses plain http off loopback before sending the secret', async () => {
    const trusted = await runCli(['status', '--tenant', 'acme', '--url', server.url], {
      K8S_AUDIT_SHARED_SECRET: SECRET,
      AISOC_CA_FILE: pki.caCert,
    });
    expect(trusted.stderr).toBe('');
    expect(trusted.code).toBe(0);
    expect(trusted.stdout).toMatch(/^tenant acme, last hour/);
    const untrusted = await runCli(['status', '--tenant', 'acme', '--url', server.url], { K8S_AUDIT_SHARED_SECRET: SECRET });
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(
      /ingest at https:\/\/127\.0\.0\.1:\d+\/v1\/status\/k8s-audit\/acme: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)/,
    );
    // 192.0.2.0/24 is TEST-NET-1: nothing answers there, and nothing is sent, since the secret would go in clear.
    const plain = await runCli(['status', '--tenant', 'acme', '--url', 'http://192.0.2.10:8080'], { K8S_AUDIT_SHARED_SECRET: SECRET });
    expect(plain.code).toBe(2);
    expect(plain.stderr).toContain('is plain http:// to 192.0.2.10, which is not a loopback address');
    for (const r of [trusted, untrusted, plain]) expect(r.stdout + r.stderr).not.toContain(SECRET);
  });

  it('accepts the EKS forwarder Lambda that trusts the test CA through AISOC_CA_FILE', async () => {
    const handler = await loadForwarder({
      AISOC_INGEST_URL: route,
      K8S_AUDIT_SHARED_SECRET: SECRET,
      AISOC_CA_FILE: pki.caCert,
      AWS_REGION: 'us-east-1',
    });
    const out = captureStdout();
    const lines = distinctLines(25, 'fwd-tls');
    await handler(awslogsEvent(eksPayload(lines)), lambdaContext());
    expect(storedIds(dataDir).filter((id) => id.startsWith('fwd-tls-'))).toHaveLength(25);
    expect(out.text()).not.toContain(SECRET);
  });

  it('refuses a client that trusts another CA, and a server whose certificate the shipper cannot verify', async () => {
    const other = readFileSync(pki.otherCaCert, 'utf8');
    expect(await post(route, other)).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN/);
    expect(await post(route, undefined)).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN/);
    // lib/ship with Node's default trust store: a network failure, never a delivery.
    const result = await shipEvents(distinctLines(2, 'default-trust'), { url: route, token: SECRET, maxAttempts: 1 });
    expect(result.delivered).toBe(0);
    expect(result.failed[0]).toMatchObject({ kind: 'config', retryable: false });
    expect(result.failed[0]?.reason).toMatch(/AISOC_CA_FILE.*(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)/);
  });
});

describe.skipIf(!HAS_OPENSSL)('mTLS: serve with --tls-client-ca and the shipper with a client certificate', () => {
  let pki: TestPki;
  let ingest: Awaited<ReturnType<typeof startTlsIngest>>;
  let dataDir: string;
  let server: IngestServer;

  beforeAll(async () => {
    pki = makePki();
    ingest = await startTlsIngest(pki, 'aisoc-mtls-', true);
    server = ingest.server;
    dataDir = ingest.dataDir;
  });

  afterAll(async () => {
    await ingest?.close();
    pki?.remove();
  });

  it('delivers with AISOC_CLIENT_CERT_FILE / AISOC_CLIENT_KEY_FILE and refuses the same shipper without them', async () => {
    const url = `${server.url}${ROUTE}`;
    const base = { AISOC_INGEST_URL: url, K8S_AUDIT_SHARED_SECRET: SECRET, AISOC_CA_FILE: pki.caCert };
    const without = loadTailConfig(base);
    const refused = await shipEvents(distinctLines(3, 'no-client-cert'), { url, token: SECRET, tls: without.tls, maxAttempts: 1 });
    expect(refused.delivered).toBe(0);
    expect(refused.failed[0]).toMatchObject({ kind: 'config', retryable: false });
    expect(refused.failed[0]?.reason).toContain('set AISOC_CLIENT_CERT_FILE and AISOC_CLIENT_KEY_FILE');

    const withCert = loadTailConfig({ ...base, AISOC_CLIENT_CERT_FILE: pki.clientCert, AISOC_CLIENT_KEY_FILE: pki.clientKey });
    const delivered = await shipEvents(distinctLines(3, 'client-cert'), { url, token: SECRET, tls: withCert.tls });
    expect(delivered).toMatchObject({ delivered: 3, accepted: 3, failed: [] });
    expect(storedIds(dataDir)).toEqual(['client-cert-0', 'client-cert-1', 'client-cert-2']);
  });

  it('`status` presents the client certificate of AISOC_CLIENT_CERT_FILE / AISOC_CLIENT_KEY_FILE', async () => {
    const base = { K8S_AUDIT_SHARED_SECRET: SECRET, AISOC_CA_FILE: pki.caCert };
    const args = ['status', '--tenant', 'acme', '--url', server.url, '--json'];
    const withCert = await runCli(args, { ...base, AISOC_CLIENT_CERT_FILE: pki.clientCert, AISOC_CLIENT_KEY_FILE: pki.clientKey });
    expect(withCert.stderr).toBe('');
    expect(JSON.parse(withCert.stdout)).toMatchObject({ tenant: 'acme' });
    const without = await runCli(args, base);
    expect(without.code).toBe(1);
    expect(without.stderr).toContain('ingest at https://127.0.0.1:');
  });
});

// The header-injecting nginx of the apiserver wiring, rendered the documented way with
// AISOC_CA_FILE, in front of a TLS serve: it verifies the ingest's certificate before the token
// leaves it.
describe.skipIf(!HAS_OPENSSL || !hasNginx())('infra/k8s/nginx-forwarder.conf to a TLS serve', () => {
  const CONF = readFileSync(join(import.meta.dirname, '../../infra/k8s/nginx-forwarder.conf'), 'utf8');
  let pki: TestPki;
  let ingest: Awaited<ReturnType<typeof startTlsIngest>>;
  let dataDir: string;
  let server: IngestServer;
  let trusting: RunningNginx;
  let defaultTrust: RunningNginx;

  beforeAll(async () => {
    pki = makePki();
    ingest = await startTlsIngest(pki, 'aisoc-tls-nginx-');
    server = ingest.server;
    dataDir = ingest.dataDir;
    // The certificate names DNS:localhost; nginx checks the name of the proxy_pass host.
    const origin = `https://localhost:${server.port}`;
    const values = { token: SECRET, origin, tenant: 'acme', cluster: 'selfhosted' };
    trusting = await startNginx(renderNginxForwarder(CONF, { ...values, caFile: pki.caCert }));
    defaultTrust = await startNginx(renderNginxForwarder(CONF, values));
  });

  afterAll(async () => {
    await trusting?.close();
    await defaultTrust?.close();
    await ingest?.close();
    pki?.remove();
  });

  it('delivers what the apiserver posts when it trusts the test CA, and stops at a 502 when it does not', async () => {
    const lines = distinctLines(20, 'nginx-tls');
    const body = `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[${lines.join(',')}]}`;
    const ok = await fetch(`${trusting.url}/forward`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ accepted: 20, rejected: 0 });

    const refused = await fetch(`${defaultTrust.url}/forward`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: body.replaceAll('nginx-tls-', 'nginx-untrusted-'),
    });
    expect(refused.status).toBe(502);
    await refused.text();
    const stored = storedIds(dataDir);
    expect(stored.filter((id) => id.startsWith('nginx-tls-'))).toHaveLength(20);
    expect(stored.filter((id) => id.startsWith('nginx-untrusted-'))).toEqual([]);
  });
});
