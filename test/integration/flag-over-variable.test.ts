// A flag wins over the variable it defaults from (docs/configuration.md: "Command-line flags win
// over the variables they default"). Before, every command still read the variable first, so an
// operator who fixed a setting on the command line (`AISOC_TAIL_METRICS_PORT=abc … tail
// --metrics-port 0`) was stopped by the value the flag replaces (exit 2). Each pair of every
// command, through the CLI: the variable is wrong (or points elsewhere), the flag is right.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLines, runCli } from '../helpers/cli.js';

const SECRET = 'flag-over-variable-secret-0123456789';
// Nothing listens on port 9 (discard) of loopback: a command that got past its configuration fails
// there, on the network, and says so.
const NOWHERE = 'http://127.0.0.1:9';
const SENDER = {
  AISOC_INGEST_URL: `${NOWHERE}/v1/ingest/k8s-audit/acme`,
  AISOC_ALLOW_INSECURE_HTTP: 'true',
  K8S_AUDIT_SHARED_SECRET: SECRET,
};
// A cluster name the ingest refuses: the é is not printable ASCII.
const BAD_CLUSTER = 'bad name/é';

let dir = '';
let log = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'aisoc-flag-over-variable-'));
  log = join(dir, 'audit.log');
  writeFileSync(log, '');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `tail --once` of an empty audit log: nothing to deliver, exit 0 once its configuration is read. */
const tailOnce = (flags: string[], env: Record<string, string>) =>
  runCli(['tail', '--once', '--path', log, '--cursor', join(dir, 'cursor'), '--cluster', 'c1', ...flags], { ...SENDER, ...env });

describe('a flag wins over its variable, whose value is then not read', () => {
  it.each([
    ['--metrics-port', '0', 'AISOC_TAIL_METRICS_PORT', 'abc'],
    ['--interval', '5', 'AISOC_TAIL_INTERVAL_SECONDS', 'abc'],
    ['--cluster', 'c2', 'CLUSTER_NAME', BAD_CLUSTER],
  ])('tail %s %s with %s=%s', async (flagName, value, variable, bad) => {
    const r = await tailOnce([flagName, value], { [variable]: bad });
    expect(r.stderr).not.toContain(variable);
    expect(r.code).toBe(0);
    // Without the flag the same variable still stops it, by name.
    const without = await runCli(['tail', '--once', '--path', log, '--cursor', join(dir, 'cursor')], { ...SENDER, [variable]: bad });
    expect(without.code).toBe(2);
    expect(without.stderr).toContain(`invalid configuration: ${variable} must be`);
  });

  it('tail --path, --cursor, --cluster, --interval and --metrics-host over variables that name something else', async () => {
    const r = await tailOnce(['--cluster', 'from-flag', '--interval', '7', '--metrics-port', '0', '--metrics-host', '127.0.0.1'], {
      AISOC_TAIL_PATH: join(dir, 'not-this.log'),
      AISOC_TAIL_CURSOR: join(dir, 'not-this-cursor'),
      CLUSTER_NAME: 'from-variable',
      AISOC_TAIL_INTERVAL_SECONDS: '60',
      AISOC_TAIL_METRICS_HOST: '192.0.2.1',
    });
    expect(r.code).toBe(0);
    const starting = jsonLines(r.stderr).find((l) => l.message === 'tail starting');
    expect(starting).toMatchObject({ path: log, cursor: join(dir, 'cursor'), cluster: 'from-flag', interval_s: 7 });
    expect(r.stderr).not.toContain('192.0.2.1');
  });

  it('connector run --metrics-port over AISOC_TAIL_METRICS_PORT', async () => {
    const config = join(dir, 'connector.yaml');
    writeFileSync(
      config,
      [
        'mode: file_tail',
        'cluster_name: c1',
        `ingest_url: ${NOWHERE}/v1/ingest/k8s-audit/acme`,
        `shared_secret: ${SECRET}`,
        `audit_log_path: ${log}`,
        `cursor_path: ${join(dir, 'connector-cursor')}`,
        '',
      ].join('\n'),
    );
    const env = { AISOC_ALLOW_INSECURE_HTTP: 'true', AISOC_TAIL_METRICS_PORT: 'abc' };
    const r = await runCli(['connector', 'run', '--config', config, '--once', '--metrics-port', '0'], env);
    expect(r.stderr).not.toContain('AISOC_TAIL_METRICS_PORT');
    expect(r.code).toBe(0);
    expect((await runCli(['connector', 'run', '--config', config, '--once'], env)).code).toBe(2);
  });

  it('status --url with --tenant over an AISOC_INGEST_URL that is no URL', async () => {
    const r = await runCli(['status', '--url', NOWHERE, '--tenant', 'acme'], {
      AISOC_INGEST_URL: 'garbage',
      K8S_AUDIT_SHARED_SECRET: SECRET,
    });
    // Past its configuration: it asked the address the flag gave.
    expect(r.stderr).toContain(`ingest at ${NOWHERE}/v1/status/k8s-audit/acme: ECONNREFUSED`);
    expect(r.stderr).not.toContain('AISOC_INGEST_URL');
    expect(r.code).toBe(1);
  });

  // Against an AWS endpoint where nothing listens: past their configuration they fail reaching it (exit 1).
  const aws = {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIAFLAGTEST',
    AWS_SECRET_ACCESS_KEY: 'flag-test',
    AWS_ENDPOINT_URL: NOWHERE,
    AWS_MAX_ATTEMPTS: '1',
  };

  it('backfill --cluster over CLUSTER_NAME', async () => {
    const argv = ['backfill', '--log-group', '/aws/eks/c1/cluster', '--start', '1h'];
    const r = await runCli([...argv, '--cluster', 'c1'], { ...SENDER, ...aws, CLUSTER_NAME: BAD_CLUSTER });
    expect(r.stderr).not.toContain('CLUSTER_NAME');
    expect(r.stderr).toContain(`CloudWatch Logs at ${NOWHERE}`);
    expect(r.code).toBe(1);
    expect((await runCli(argv, { ...SENDER, ...aws, CLUSTER_NAME: BAD_CLUSTER })).code).toBe(2);
  });

  it('redrive --cluster over CLUSTER_NAME', async () => {
    const argv = ['redrive', '--queue-url', `${NOWHERE}/123456789012/aisoc-failures`, '--set-aside', join(dir, 'aside.jsonl')];
    const r = await runCli([...argv, '--cluster', 'c1'], { ...SENDER, ...aws, CLUSTER_NAME: BAD_CLUSTER });
    expect(r.stderr).not.toContain('CLUSTER_NAME');
    expect(r.stderr).toContain(`SQS at ${NOWHERE}`);
    expect(r.code).toBe(1);
    expect((await runCli(argv, { ...SENDER, ...aws, CLUSTER_NAME: BAD_CLUSTER })).code).toBe(2);
  });
});
