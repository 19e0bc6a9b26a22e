// `aisoc-k8s-audit serve` with TLS as its own process: it refuses plain http on a non-loopback
// address unless told, and re-reads its certificate on SIGHUP (as cert-manager rotates it) while
// requests keep flowing, on connections opened before and after the rotation.
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEventStore } from '../../lib/sinks/sqlite.js';
import { runCli } from '../helpers/cli.js';
import { eventList, uniqueFalcoEvents } from '../helpers/ingest.js';
import { HAS_OPENSSL, makePki, type TestPki } from '../helpers/pki.js';
import { buildServeBundle, type ServeProcess, spawnServe } from '../helpers/serve.js';

const SECRET = 'serve-tls-shared-secret-0123456789abcdef';
const ROUTE = '/v1/ingest/k8s-audit/acme';

describe('serve refuses plain http on a non-loopback address', () => {
  it('exits 2 without TLS or --insecure, naming the flags that fix it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'aisoc-serve-refuse-'));
    try {
      const { code, stderr: err } = await runCli(['serve', '--host', '0.0.0.0', '--port', '0', '--data-dir', dataDir], {
        K8S_AUDIT_SHARED_SECRET: SECRET,
      });
      const stderr = () => err;
      expect(code).toBe(2);
      expect(stderr()).toContain('refusing to listen on 0.0.0.0 without TLS');
      expect(stderr()).toContain('--tls-cert and --tls-key');
      expect(stderr()).toContain('--insecure');
      expect(stderr()).not.toContain(SECRET);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('gets past the refusal with --insecure (then fails to bind TEST-NET-1, which is on no interface here)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'aisoc-serve-refuse-'));
    try {
      const { code, stderr: err } = await runCli(['serve', '--host', '192.0.2.1', '--port', '0', '--data-dir', dataDir, '--insecure'], {
        K8S_AUDIT_SHARED_SECRET: SECRET,
      });
      const stderr = () => err;
      expect(code).toBe(1);
      expect(stderr()).toContain('EADDRNOTAVAIL');
      expect(stderr()).not.toContain('refusing');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('wants --tls-cert and --tls-key together', async () => {
    const { code, stderr } = await runCli(['serve', '--tls-cert', '/nonexistent.crt'], { K8S_AUDIT_SHARED_SECRET: SECRET });
    expect(code).toBe(2);
    expect(stderr).toContain('--tls-cert and --tls-key go together');
  });
});

/** The SHA-256 fingerprint of the certificate a new TLS connection to `port` is shown. */
function peerFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      const fp = socket.getPeerCertificate().fingerprint256;
      socket.destroy();
      resolve(fp);
    });
    socket.once('error', reject);
  });
}

function fingerprintOf(path: string): string {
  return new X509Certificate(readFileSync(path)).fingerprint256;
}

/** POSTs one EventList with node:https through `agent`; resolves to the status or the error code. */
function postList(url: string, agent: Agent, body: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = httpsRequest(
      url,
      { method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET } },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end(body);
  });
}

async function waitForLog(proc: ServeProcess, msg: string, from: number): Promise<Record<string, unknown>> {
  for (let i = 0; i < 200; i++) {
    const hit = proc.logs.slice(from).find((l) => l.message === msg);
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no "${msg}" log line: ${proc.output()}`);
}

describe.skipIf(!HAS_OPENSSL)('serve --tls-cert --tls-key, rotated on SIGHUP', () => {
  let bundle: { cli: string; cleanup: () => void };
  let pki: TestPki;
  let dir: string;
  let proc: ServeProcess;
  let ca: string;
  const certPath = () => join(dir, 'tls.crt');
  const keyPath = () => join(dir, 'tls.key');

  beforeAll(async () => {
    bundle = await buildServeBundle();
    pki = makePki();
    ca = readFileSync(pki.caCert, 'utf8');
    dir = mkdtempSync(join(tmpdir(), 'aisoc-serve-tls-'));
    copyFileSync(pki.serverCert, certPath());
    copyFileSync(pki.serverKey, keyPath());
    proc = await spawnServe(
      bundle.cli,
      join(dir, 'data'),
      { K8S_AUDIT_SHARED_SECRET: SECRET },
      [],
      ['--tls-cert', certPath(), '--tls-key', keyPath()],
    );
  });

  afterAll(async () => {
    await proc?.stop();
    bundle?.cleanup();
    pki?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves https on loopback and logs which certificate it serves, never the key', async () => {
    expect(proc.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await peerFingerprint(proc.port, ca)).toBe(fingerprintOf(pki.serverCert));
    expect(proc.logs.find((l) => l.message === 'TLS on')).toMatchObject({
      sha256: fingerprintOf(pki.serverCert),
      client_certificates: false,
    });
    expect(proc.output()).not.toContain('PRIVATE KEY');
  });

  it("sets the console's session cookie Secure when it serves https itself, with no proxy to say so", async () => {
    const cookie = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest(
        `${proc.url}/console/api/login`,
        { method: 'POST', ca, servername: 'localhost', headers: { 'Content-Type': 'application/json', Origin: proc.url } },
        (res) => {
          res.resume();
          res.once('end', () => resolve(`${res.statusCode} ${String(res.headers['set-cookie'] ?? '')}`));
        },
      );
      req.once('error', reject);
      req.end(JSON.stringify({ tenant: 'acme', secret: SECRET }));
    });
    expect(cookie).toMatch(/^200 /);
    expect(cookie).toMatch(/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/);
  });

  it('rotates on SIGHUP without dropping a request, on kept-alive and new connections', async () => {
    const events = uniqueFalcoEvents();
    const url = `${proc.url}${ROUTE}`;
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1, ca });
    const fresh = new Agent({ keepAlive: false, ca });
    const statuses: (number | string)[] = [];
    const sent: string[] = [];
    let rotated = false;
    const from = proc.logs.length;
    const worker = async (agent: Agent, name: string) => {
      for (let i = 0; i < 30; i++) {
        const id = `rot-${name}-${i}`;
        sent.push(id);
        statuses.push(await postList(url, agent, eventList([{ ...(events[i % events.length] as object), auditID: id }])));
        if (name === 'keep' && i === 10) {
          // cert-manager's way: new files in place, then the signal.
          copyFileSync(pki.rotatedKey, keyPath());
          copyFileSync(pki.rotatedCert, certPath());
          process.kill(proc.pid, 'SIGHUP');
          await waitForLog(proc, 'TLS certificate reloaded', from);
          rotated = true;
        }
      }
    };
    await Promise.all([worker(keepAlive, 'keep'), worker(fresh, 'new')]);
    keepAlive.destroy();
    fresh.destroy();

    expect(rotated).toBe(true);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(statuses).toHaveLength(60);
    expect(await peerFingerprint(proc.port, ca)).toBe(fingerprintOf(pki.rotatedCert));
    expect(proc.logs.find((l) => l.message === 'TLS certificate reloaded')).toMatchObject({ sha256: fingerprintOf(pki.rotatedCert) });
    const store = openEventStore(join(dir, 'data'));
    try {
      const stored = store.queryEvents({ tenant: 'acme', limit: 1000 }).map((r) => r.audit_id as string);
      expect(stored.filter((id) => id.startsWith('rot-')).sort()).toEqual([...sent].sort());
    } finally {
      store.close();
    }
  });

  it('keeps serving the current certificate when the new files do not load, and says why', async () => {
    const from = proc.logs.length;
    writeFileSync(keyPath(), readFileSync(pki.serverKey)); // the old key next to the rotated certificate
    process.kill(proc.pid, 'SIGHUP');
    const failed = await waitForLog(proc, 'TLS reload failed; keeping the current certificate', from);
    expect(String(failed.error)).toContain('does not belong to the first certificate');
    expect(await peerFingerprint(proc.port, ca)).toBe(fingerprintOf(pki.rotatedCert));
    const agent = new Agent({ ca });
    expect(await postList(`${proc.url}${ROUTE}`, agent, eventList([]))).toBe(200);
    agent.destroy();
    expect(proc.child.exitCode).toBeNull();
  });
});
