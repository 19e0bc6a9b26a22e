import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../lib/cli/test-connection.js';
import type { IngestServer } from '../../lib/ingest/adapters/server.js';
import { startIngestServer } from '../../lib/ingest/adapters/server.js';
import { loadIngestConfig } from '../../lib/ingest/config.js';
import { SqliteInboxStore } from '../../lib/ingest/inbox-sqlite.js';
import { tempDir } from '../helpers/tail.js';
import { buildTailCliBundle, captureIo, startLocalIngest } from '../helpers/tail-ingest.js';

const SECRET = 'tc-secret-6f1d2a9b8c7e';
let tmp: { dir: string; cleanup: () => void };
let withSecret: IngestServer;
let withoutSecret: IngestServer;
let inboxStore: SqliteInboxStore;
let goodToken: string;
let otherTemplateToken: string;

beforeAll(async () => {
  tmp = tempDir('aisoc-tail-tc-');
  const dataA = join(tmp.dir, 'data-a');
  inboxStore = new SqliteInboxStore(dataA);
  goodToken = (await inboxStore.create({ tenantId: 'acme', clusterName: 'prod', label: 'legacy' })).token;
  otherTemplateToken = (await inboxStore.create({ tenantId: 'acme', label: 'other', template: 'generic-json' })).token;
  withSecret = await startIngestServer({
    config: loadIngestConfig({ EVENTS_SINK: 'sqlite', AISOC_DATA_DIR: dataA, K8S_AUDIT_SHARED_SECRET: SECRET }, { runtime: 'local' }),
    inbox: inboxStore,
  });
  withoutSecret = await startLocalIngest(join(tmp.dir, 'data-b'), null);
});

afterAll(async () => {
  await withSecret?.close();
  await withoutSecret?.close();
  tmp?.cleanup();
});

let seq = 0;
function configFile(config: Record<string, unknown>, ext: 'json' | 'yaml' = 'json'): string {
  const path = join(tmp.dir, `connector-${seq++}.${ext}`);
  const text =
    ext === 'json'
      ? JSON.stringify(config)
      : Object.entries(config)
          .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
          .join('\n');
  writeFileSync(path, text);
  return path;
}

async function testConnection(config: Record<string, unknown>, env: Record<string, string> = {}, ext: 'json' | 'yaml' = 'json') {
  const cap = captureIo(env);
  const code = await run(['--config', configFile(config, ext)], cap.io);
  return { code, out: cap.out(), err: cap.err() };
}

const route = (server: IngestServer, tenant = 'acme') => `${server.url}/v1/ingest/k8s-audit/${tenant}`;

describe('aisoc-k8s-audit test-connection, webhook mode', () => {
  it('confirms the dedicated route is reachable and the shared secret is configured (200)', async () => {
    const r = await testConnection({ mode: 'webhook', cluster_name: 'prod', ingest_url: route(withSecret), shared_secret: SECRET });

    expect(r.code).toBe(0);
    expect(r.out).toContain('the dedicated route');
    expect(r.out).toContain('is reachable and the shared secret is configured on the ingest service');
    expect(r.out + r.err).not.toContain(SECRET);
  });

  it('says the shared secret is not configured on the ingest service (503)', async () => {
    const r = await testConnection({ mode: 'webhook', cluster_name: 'prod', ingest_url: route(withoutSecret), shared_secret: SECRET });

    expect(r.code).toBe(1);
    expect(r.out).toContain('the shared secret is not configured on the ingest service (HTTP 503)');
  });

  it('says the shared secret does not match (401)', async () => {
    const r = await testConnection({
      mode: 'webhook',
      cluster_name: 'prod',
      ingest_url: route(withSecret),
      shared_secret: 'not-the-secret',
    });

    expect(r.code).toBe(1);
    expect(r.out).toContain('the shared secret does not match the one on the ingest service (HTTP 401)');
    expect(r.out).toContain("or this tenant's own secret when the ingest has one");
    expect(r.out).not.toContain('not-the-secret');
  });

  it('reads the ingest URL and the secret from the environment when the file leaves them out (YAML)', async () => {
    const r = await testConnection(
      { mode: 'webhook', cluster_name: 'prod' },
      { AISOC_INGEST_URL: route(withSecret), K8S_AUDIT_SHARED_SECRET: SECRET },
      'yaml',
    );

    expect(r.code).toBe(0);
  });

  it('answers "inbox_token is required in webhook mode" for the legacy path without a token', async () => {
    const r = await testConnection({ mode: 'webhook', cluster_name: 'prod', webhook_route: 'inbox' });

    expect(r.code).toBe(1);
    expect(r.out).toContain('inbox_token is required in webhook mode');
  });

  it('confirms the legacy inbox route accepts a k8s-audit token', async () => {
    const r = await testConnection({ mode: 'webhook', cluster_name: 'prod', inbox_token: goodToken, ingest_url: route(withSecret) });

    expect(r.code).toBe(0);
    expect(r.out).toContain('the inbox route');
    expect(r.out).not.toContain(goodToken);
  });

  it('says an unknown inbox token is unknown or revoked (401)', async () => {
    const r = await testConnection({
      mode: 'webhook',
      cluster_name: 'prod',
      inbox_token: 'aik8s_unknown-token-0123456789',
      ingest_url: route(withSecret),
    });

    expect(r.code).toBe(1);
    expect(r.out).toContain('the inbox token is unknown or revoked (HTTP 401)');
  });

  it('says a token bound to another template is refused (403)', async () => {
    const r = await testConnection({
      mode: 'webhook',
      cluster_name: 'prod',
      inbox_token: otherTemplateToken,
      ingest_url: route(withSecret),
    });

    expect(r.code).toBe(1);
    expect(r.out).toContain('bound to another template (HTTP 403)');
  });

  it('says when the ingest cannot be reached', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const r = await testConnection({
      mode: 'webhook',
      cluster_name: 'prod',
      ingest_url: `http://127.0.0.1:${port}/v1/ingest/k8s-audit/acme`,
      shared_secret: SECRET,
    });

    expect(r.code).toBe(1);
    expect(r.out).toContain(`cannot reach the ingest at http://127.0.0.1:${port}/v1/ingest/k8s-audit/acme: ECONNREFUSED`);
  });

  it('says the TLS handshake failed and why when an https:// ingest_url points at a serve on plain http', async () => {
    // The mistake a new operator makes with `npm start` (plain http on 127.0.0.1:8080) and the
    // https:// route every other example shows.
    const plainHttp = route(withSecret);
    const httpsUrl = plainHttp.replace(/^http:/, 'https:');
    const r = await testConnection({ mode: 'webhook', cluster_name: 'prod', ingest_url: httpsUrl, shared_secret: SECRET });

    expect(r.code).toBe(1);
    expect(r.out).toContain(
      `FAIL  ingest-route  cannot reach the ingest at ${httpsUrl}: ECONNRESET; the TLS handshake failed: if the ingest serves plain http (serve without --tls-cert, npm start), use http:// for a loopback ingest, or start it with --tls-cert and --tls-key (docs/tls.md)`,
    );
    expect(r.out + r.err).not.toContain(SECRET);
  });

  it('names every invalid field of the config in one answer', async () => {
    const r = await testConnection({ mode: 'pull', poll_interval_seconds: 0, audit_log_pth: '/x' });

    expect(r.code).toBe(1);
    expect(r.out).toContain('unknown field "audit_log_pth"');
    expect(r.out).toContain('mode must be webhook or file_tail, got "pull"');
    expect(r.out).toContain('cluster_name is required');
    expect(r.out).toContain('poll_interval_seconds must be an integer between 1 and 86400, got 0');
  });
});

describe('aisoc-k8s-audit test-connection, file_tail mode', () => {
  it('answers "audit log path <path> not found" for a missing file', async () => {
    const path = join(tmp.dir, 'missing', 'audit.log');

    const r = await testConnection({ mode: 'file_tail', cluster_name: 'prod', audit_log_path: path });

    expect(r.code).toBe(1);
    expect(r.out).toContain(`audit log path ${path} not found`);
  });

  it('confirms the audit log exists and is readable, the cursor is writable and the route works', async () => {
    const dir = join(tmp.dir, 'ok');
    mkdirSync(dir);
    writeFileSync(join(dir, 'audit.log'), '');

    const r = await testConnection({
      mode: 'file_tail',
      cluster_name: 'prod',
      audit_log_path: join(dir, 'audit.log'),
      ingest_url: route(withSecret),
      shared_secret: SECRET,
    });

    expect(r.code).toBe(0);
    expect(r.out).toContain(`audit log path ${join(dir, 'audit.log')} exists and is readable`);
    expect(r.out).toContain(`cursor file will be created at ${join(dir, 'audit.log')}.aisoc-cursor`);
    expect(r.out).toContain('is reachable and the shared secret is configured');
  });

  it('fails when the cursor directory does not exist', async () => {
    const dir = join(tmp.dir, 'nocursor');
    mkdirSync(dir);
    writeFileSync(join(dir, 'audit.log'), '');

    const r = await testConnection({
      mode: 'file_tail',
      cluster_name: 'prod',
      audit_log_path: join(dir, 'audit.log'),
      cursor_path: '/nonexistent-dir/audit.cursor',
    });

    expect(r.code).toBe(1);
    expect(r.out).toContain('cursor directory /nonexistent-dir does not exist');
  });

  describe('with an unreadable audit log', () => {
    let cli: { cli: string; cleanup: () => void };
    beforeAll(async () => {
      cli = await buildTailCliBundle();
    });
    afterAll(() => cli?.cleanup());

    it('says the file is not readable', () => {
      const dir = join(tmp.dir, 'unreadable');
      mkdirSync(dir);
      const path = join(dir, 'audit.log');
      writeFileSync(path, '{}\n');
      chmodSync(path, 0o000);
      chmodSync(dir, 0o755);
      chmodSync(tmp.dir, 0o755);
      const config = join(dir, 'connector.json');
      writeFileSync(config, JSON.stringify({ mode: 'file_tail', cluster_name: 'prod', audit_log_path: path }));
      chmodSync(config, 0o644);

      // Root reads any file regardless of its mode, so the check runs as an unprivileged user.
      const asRoot = process.getuid?.() === 0;
      const res = spawnSync(process.execPath, [cli.cli, 'test-connection', '--config', config], {
        encoding: 'utf8',
        ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
        env: { PATH: process.env.PATH ?? '' },
      });

      expect(res.stdout).toContain(`audit log path ${path} is not readable (permission denied)`);
      expect(res.status).toBe(1);
    });
  });
});
