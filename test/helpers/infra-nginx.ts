import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, hasCommand } from './host.js';

/** The placeholders of infra/k8s/nginx-forwarder.conf, in the order its envsubst line lists them. */
export const NGINX_PLACEHOLDERS = [
  'AISOC_K8S_TOKEN',
  'AISOC_INGEST_ORIGIN',
  'AISOC_TENANT_ID',
  'AISOC_CLUSTER_NAME',
  'AISOC_CA_FILE',
] as const;

export interface NginxValues {
  token: string;
  origin: string;
  tenant: string;
  cluster: string;
  /** The CAs nginx trusts for the ingest; default the system bundle (Debian's path). */
  caFile?: string;
}

/**
 * What `envsubst` with the documented variable list does to the file, plus the checks an operator
 * should make: a `"` or `$` in a value would end the nginx string or start an nginx variable.
 */
export function renderNginxForwarder(conf: string, v: NginxValues): string {
  const values: Record<(typeof NGINX_PLACEHOLDERS)[number], string> = {
    AISOC_K8S_TOKEN: v.token,
    AISOC_INGEST_ORIGIN: v.origin,
    AISOC_TENANT_ID: v.tenant,
    AISOC_CLUSTER_NAME: v.cluster,
    AISOC_CA_FILE: v.caFile ?? '/etc/ssl/certs/ca-certificates.crt',
  };
  for (const [name, value] of Object.entries(values)) {
    if (/["$;\s{}]/.test(value)) throw new Error(`${name} holds a character nginx would read as syntax`);
  }
  // envsubst replaces both ${NAME} and $NAME of the listed variables, comments included.
  return conf.replace(/\$\{(AISOC_[A-Z0-9_]+)\}|\$(AISOC_[A-Z0-9_]+)/g, (whole, braced?: string, bare?: string) => {
    const name = (braced ?? bare) as keyof typeof values;
    return values[name] ?? whole;
  });
}

/** True when Debian's nginx (or any nginx) is on PATH. */
export function hasNginx(): boolean {
  return hasCommand('nginx');
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface RunningNginx {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Starts nginx in the foreground on a free loopback port with `serverConf` (a `server` block whose
 * `listen 127.0.0.1:8080;` is moved to that port) and everything else under its own temporary
 * prefix, so it needs neither root nor /etc/nginx. Resolves once the port accepts connections.
 */
export async function startNginx(serverConf: string): Promise<RunningNginx> {
  const dir = mkdtempSync(join(tmpdir(), 'aisoc-nginx-'));
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    writeFileSync(join(dir, 'server.conf'), serverConf.replace(/listen 127\.0\.0\.1:8080;/, `listen 127.0.0.1:${port};`));
    writeFileSync(
      join(dir, 'nginx.conf'),
      [
        'worker_processes 1;',
        `pid ${join(dir, 'nginx.pid')};`,
        'error_log stderr warn;',
        'events { worker_connections 64; }',
        'http {',
        '  access_log off;',
        ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(dir, t)};`),
        `  include ${join(dir, 'server.conf')};`,
        '}',
        '',
      ].join('\n'),
    );
    const child = spawn('nginx', ['-e', 'stderr', '-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const up = await waitUp(child, port, exited);
    if (up) {
      return {
        url: `http://127.0.0.1:${port}`,
        port,
        async close() {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill('SIGTERM');
            await exited;
          }
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    if (attempt >= 3 || !/Address already in use/.test(stderr)) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`nginx did not start: ${stderr.trim()}`);
    }
  }
}

async function waitUp(child: ChildProcess, port: number, exited: Promise<number | null>): Promise<boolean> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  for (let i = 0; i < 200; i++) {
    if (gone || child.exitCode !== null) return false;
    if (await canConnect(port)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  return false;
}
