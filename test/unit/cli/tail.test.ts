import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { main } from '../../../lib/cli/main.js';
import { captureIo } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/tail.js';

function io(env: Record<string, string> = {}): ReturnType<typeof captureIo> {
  return captureIo(env);
}

const DEFAULT_AUDIT_LOG = '/var/log/kubernetes/audit/audit.log';
const env = { AISOC_INGEST_URL: 'http://127.0.0.1:9/v1/ingest/k8s-audit/acme', K8S_AUDIT_SHARED_SECRET: 'unit-secret-value' };

describe('aisoc-k8s-audit tail', () => {
  it('explains itself with --help', async () => {
    const cap = io();

    const code = await main(['tail', '--help'], cap.io);

    expect(code).toBe(0);
    expect(cap.out()).toContain('Usage: aisoc-k8s-audit tail [--config FILE] [--path FILE]');
    expect(cap.out()).toContain('AISOC_TAIL_MAX_BYTES');
  });

  it('is a usage error without --path', async () => {
    const cap = io(env);

    const code = await main(['tail', '--once'], cap.io);

    expect(code).toBe(2);
    expect(cap.err()).toContain('--path is required');
  });

  it.each(['soon', '0', '0.001', '-3', '86401'])('is a usage error with --interval %s (0 polled in a busy loop)', async (value) => {
    const cap = io(env);

    const code = await main(['tail', '--path', '/x', '--interval', value], cap.io);

    expect(code).toBe(2);
    expect(cap.err()).toContain('--interval must be a number of seconds from 0.01 to 86400');
  });

  it.each([
    ['--metrics-port', '99999'],
    ['--metrics-port', '65536'],
  ])('is a usage error with %s %s, out of the port range', async (name, value) => {
    const cap = io(env);

    const code = await main(['tail', '--path', '/x', '--once', name, value], cap.io);

    expect(code).toBe(2);
    expect(cap.err()).toContain(`${name} must be a port from 0 to 65535 (0 picks a free one), got "${value}"`);
  });

  // The flag and the variable it defaults to take the same values and say the same thing when wrong.
  it.each([
    ['tail', '--path', '/x', '--once'],
    ['connector', 'run', '--once'],
  ])('%s %s: AISOC_TAIL_METRICS_PORT and --metrics-port refuse the same values in the same words', async (...command) => {
    const tmp = tempDir();
    const file = join(tmp.dir, 'connector.yaml');
    writeFileSync(file, `mode: file_tail\ncluster_name: c1\naudit_log_path: /x\ningest_url: ${env.AISOC_INGEST_URL}\n`);
    const argv = command[0] === 'connector' ? [...command, '--config', file] : command;
    onTestFinished(tmp.cleanup);
    for (const value of ['65536', 'x', '-1', '9100.5']) {
      const byEnv = io({ ...env, AISOC_TAIL_METRICS_PORT: value });
      expect(await main(argv, byEnv.io)).toBe(2);
      expect(byEnv.err()).toContain(`AISOC_TAIL_METRICS_PORT must be a port from 0 to 65535 (0 picks a free one), got "${value}"`);
      const byFlag = io(env);
      expect(await main([...argv, '--metrics-port', value], byFlag.io)).toBe(2);
      expect(byFlag.err()).toContain(`--metrics-port must be a port from 0 to 65535 (0 picks a free one), got "${value}"`);
    }
  });

  it('refuses a cluster name the ingest would refuse for every batch, from --cluster or CLUSTER_NAME, before sending anything', async () => {
    const long = 'c'.repeat(300);
    const byFlag = io(env);
    expect(await main(['tail', '--path', '/x', '--once', '--cluster', long], byFlag.io)).toBe(2);
    expect(byFlag.err()).toContain('--cluster must be 1-256 printable ASCII characters without leading or trailing spaces');
    const byEnv = io({ ...env, CLUSTER_NAME: 'prod\u0085east' });
    expect(await main(['tail', '--path', '/x', '--once'], byEnv.io)).toBe(2);
    expect(byEnv.err()).toContain('CLUSTER_NAME must be 1-256 printable ASCII characters');
  });

  it('names every missing variable at once', async () => {
    const cap = io();

    const code = await main(['tail', '--path', '/x', '--once'], cap.io);

    // A configuration error is the user's to fix: exit 2, like a usage error.
    expect(code).toBe(2);
    // Each says what to set, the route's shape as the secret's purpose: a new operator has nothing
    // else on the screen that tells them.
    expect(cap.err()).toContain(
      "AISOC_INGEST_URL is required (the ingest's full tenant route, https://<host>/v1/ingest/k8s-audit/<tenant_id>)",
    );
    expect(cap.err()).toContain('K8S_AUDIT_SHARED_SECRET is required (the shared secret the ingest service checks in X-AiSOC-K8s-Token)');
  });

  it('warns when it falls back to the host name as the cluster name, and fails --once on a missing file', async () => {
    const cap = io(env);
    const path = join('/nonexistent-aisoc-dir', 'audit.log');

    const code = await main(['tail', '--path', path, '--once'], cap.io);

    const lines = cap
      .err()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(code).toBe(1);
    expect(lines[0]).toMatchObject({
      level: 'WARN',
      service: 'aisoc-k8s-audit-tail',
      message: 'neither --cluster nor CLUSTER_NAME is set; using the host name as the cluster name',
    });
    expect(lines.find((l) => l.message === 'poll')).toMatchObject({ level: 'ERROR', error: `audit log path ${path} not found` });
    expect(cap.err()).not.toContain('unit-secret-value');
  });

  // docs/tail.md's example: `connector run --config connector.yaml --health-file /var/lib/aisoc/health.json`
  // on a host without /var/lib/aisoc polled on, logged `"error":"ENOENT"` at every poll, and left
  // `connector health` (the Deployment's probe) answering unhealthy for a tailer that delivered.
  it.each([
    ['tail', (_config: string, path: string) => ['tail', '--path', path, '--cluster', 'selfhosted-1', '--once']],
    ['connector run', (config: string) => ['connector', 'run', '--config', config, '--once']],
  ])('%s refuses a --health-file whose directory is missing or not one, before reading the log', async (name, argv) => {
    const tmp = tempDir('aisoc-health-dir-');
    const path = join(tmp.dir, 'audit.log');
    writeFileSync(path, '');
    const config = join(tmp.dir, 'connector.yaml');
    writeFileSync(config, `mode: file_tail\ncluster_name: selfhosted-1\naudit_log_path: ${path}\n`);
    const missing = join(tmp.dir, 'no-such-dir', 'health.json');
    const underFile = join(path, 'health.json');
    const command = name === 'tail' ? 'tail' : 'connector';
    try {
      for (const [healthFile, problem] of [
        [
          missing,
          `the directory ${join(tmp.dir, 'no-such-dir')} does not exist: create it, or give a path in a directory this user can write`,
        ],
        [underFile, `${path} is not a directory: give a path in a directory this user can write`],
      ] as const) {
        const cap = io(env);
        const code = await main([...argv(config, path), '--health-file', healthFile], cap.io);

        expect(code).toBe(2);
        expect(cap.err()).toBe(
          `aisoc-k8s-audit ${command}: --health-file ${healthFile}: ${problem}\nRun 'aisoc-k8s-audit ${command} --help' for usage.\n`,
        );
        expect(existsSync(`${path}.aisoc-cursor`)).toBe(false);
      }
    } finally {
      tmp.cleanup();
    }
  });

  // The connector documentation: "Audit log path: /var/log/kubernetes/audit/audit.log (default)".
  it.skipIf(existsSync(DEFAULT_AUDIT_LOG))('--config without audit_log_path tails the default path', async () => {
    const tmp = tempDir('aisoc-tail-default-path-');
    const config = join(tmp.dir, 'connector.yaml');
    writeFileSync(config, 'mode: file_tail\ncluster_name: selfhosted-1\n');
    const tail = io(env);
    const checked = io(env);

    const code = await main(['tail', '--config', config, '--once'], tail.io);
    await main(['test-connection', '--config', config], checked.io);
    tmp.cleanup();

    expect(code).toBe(1);
    expect(tail.err()).not.toContain('--path is required');
    const poll = tail
      .err()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.message === 'poll');
    expect(poll).toMatchObject({ level: 'ERROR', error: `audit log path ${DEFAULT_AUDIT_LOG} not found` });
    expect(checked.out()).toContain(`audit log path ${DEFAULT_AUDIT_LOG} not found`);
  });
});

describe('aisoc-k8s-audit test-connection', () => {
  it('explains the config file with --help', async () => {
    const cap = io();

    const code = await main(['test-connection', '--help'], cap.io);

    expect(code).toBe(0);
    expect(cap.out()).toContain('inbox_token');
    expect(cap.out()).toContain('audit_log_path');
  });

  it('is a usage error without --config', async () => {
    const cap = io();

    expect(await main(['test-connection'], cap.io)).toBe(2);
    expect(cap.err()).toContain('--config FILE is required');
  });

  it('fails the legacy inbox route it could not try for want of the AiSOC host', async () => {
    const tmp = tempDir('aisoc-test-connection-inbox-');
    const config = join(tmp.dir, 'connector.yaml');
    writeFileSync(config, 'mode: webhook\ncluster_name: prod-eks-legacy\ninbox_token: aik8s_abcdefghijklmnopqrstuv\n');
    const cap = io();

    const code = await main(['test-connection', '--config', config], cap.io);
    tmp.cleanup();

    expect(code).toBe(1);
    expect(cap.out()).toContain('FAIL  inbox-route   inbox route not checked: set ingest_url (or AISOC_INGEST_URL)');
    expect(cap.out()).toContain('connection failed');
    expect(cap.out()).not.toContain('aik8s_abcdefghijklmnopqrstuv');
  });

  it('exits 2 for a config file it cannot read', async () => {
    const cap = io();

    expect(await main(['test-connection', '--config', '/nonexistent-aisoc-dir/c.yaml'], cap.io)).toBe(2);
    expect(cap.err()).toContain('cannot read /nonexistent-aisoc-dir/c.yaml: ENOENT');
  });
});
