import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IngestServer } from '../../lib/ingest/adapters/server.js';
import { jsonLines, runCli } from '../helpers/cli.js';
import { asFile, falcoEventLines, tempDir } from '../helpers/tail.js';
import { startLocalIngest } from '../helpers/tail-ingest.js';

const SECRET = 'config-warnings-secret-4b7d1e90';
// An inbox token of the shape `inbox create` issues: it must never be echoed.
const INBOX_TOKEN = 'aik8s_Zq3xWm8pLk2vRt6yHn4bGc';

// What a user who mistyped or mixed up a connector config sees from each of the three commands
// that read it: a typo is an error naming the field and its closest known name, a field of the
// other mode is a warning that it is ignored, and the three commands agree.
describe('connector config typos and fields of the other mode', () => {
  let tmp: { dir: string; cleanup: () => void };
  let ingest: IngestServer;
  let log: string;
  let env: Record<string, string>;
  let seq = 0;

  beforeAll(async () => {
    tmp = tempDir('aisoc-connector-warn-');
    ingest = await startLocalIngest(join(tmp.dir, 'data'), SECRET);
    // The Falco k8saudit traces: what a kube-apiserver --audit-log-path file holds.
    log = join(tmp.dir, 'audit.log');
    writeFileSync(log, asFile(falcoEventLines()));
    env = { AISOC_INGEST_URL: `${ingest.url}/v1/ingest/k8s-audit/warn-tenant`, K8S_AUDIT_SHARED_SECRET: SECRET };
  });

  afterAll(async () => {
    await ingest?.close();
    tmp?.cleanup();
  });

  function configFile(yaml: string): string {
    const path = join(tmp.dir, `connector-${seq++}.yaml`);
    writeFileSync(path, yaml);
    return path;
  }

  const warnLines = (stderr: string) => jsonLines(stderr).filter((l) => l.level === 'WARN');

  it('a file_tail config with inbox_token and webhook_route: runs, with a warning naming each ignored field', async () => {
    const config = configFile(
      `mode: file_tail\ncluster_name: selfhosted-w1\naudit_log_path: ${log}\ninbox_token: ${INBOX_TOKEN}\nwebhook_route: inbox\n`,
    );

    const checked = await runCli(['test-connection', '--config', config], env);
    const tailed = await runCli(['tail', '--config', config, '--once'], env);
    const ran = await runCli(['connector', 'run', '--config', config, '--once'], env);

    expect(checked.code, checked.stdout).toBe(0);
    expect(checked.stdout).toContain('warn  config        webhook_route is ignored in file_tail mode (only webhook mode reads it)');
    expect(checked.stdout).toContain('warn  config        inbox_token is ignored in file_tail mode (only webhook mode reads it)');
    expect(checked.stdout).toContain('connection ok');
    for (const [r, code] of [
      [tailed, 0],
      [ran, 0],
    ] as const) {
      expect(r.code, r.stderr).toBe(code);
      expect(warnLines(r.stderr).map((l) => l.message)).toEqual([
        `${config}: webhook_route is ignored in file_tail mode (only webhook mode reads it)`,
        `${config}: inbox_token is ignored in file_tail mode (only webhook mode reads it)`,
      ]);
    }
    for (const r of [checked, tailed, ran]) expect(r.stdout + r.stderr).not.toContain(INBOX_TOKEN);
  });

  it('a webhook config with audit_log_path and cursor_path: test-connection and connector run warn that they are ignored', async () => {
    const config = configFile(
      `mode: webhook\ncluster_name: prod-eks-w2\naudit_log_path: ${log}\ncursor_path: ${join(tmp.dir, 'w2.cursor')}\n`,
    );

    const checked = await runCli(['test-connection', '--config', config], env);
    const ran = await runCli(['connector', 'run', '--config', config, '--once'], env);

    expect(checked.code, checked.stdout).toBe(0);
    expect(checked.stdout).toContain('warn  config        audit_log_path is ignored in webhook mode (only file_tail mode reads it)');
    expect(checked.stdout).toContain('warn  config        cursor_path is ignored in webhook mode (only file_tail mode reads it)');
    expect(ran.code, ran.stderr).toBe(0);
    expect(warnLines(ran.stderr).map((l) => l.message)).toEqual([
      `${config}: audit_log_path is ignored in webhook mode (only file_tail mode reads it)`,
      `${config}: cursor_path is ignored in webhook mode (only file_tail mode reads it)`,
    ]);
  });

  it.each([
    ['audit_logpath', `audit_logpath: /var/log/kube/audit.log`, 'unknown field "audit_logpath": did you mean audit_log_path?'],
    ['auditLogPath', `auditLogPath: /var/log/kube/audit.log`, 'unknown field "auditLogPath": did you mean audit_log_path?'],
    [
      'a capability typo',
      'capabilities: [PULL_AUDIT, PULL_ALERT]',
      'capabilities: unknown capability "PULL_ALERT": did you mean PULL_ALERTS?',
    ],
  ])('%s: an error in all three commands naming the closest known name', async (_label, line, message) => {
    const config = configFile(`mode: file_tail\ncluster_name: selfhosted-w3\n${line}\n`);

    const checked = await runCli(['test-connection', '--config', config], env);
    const tailed = await runCli(['tail', '--config', config, '--once'], env);
    const ran = await runCli(['connector', 'run', '--config', config, '--once'], env);

    expect(checked.code).toBe(1);
    expect(checked.stdout).toContain(`FAIL  config        ${message}`);
    expect(tailed.code).toBe(2);
    expect(tailed.stderr).toContain(message);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain(message);
  });

  it('an unknown field like no known one: an error listing the fields', async () => {
    const config = configFile('mode: file_tail\ncluster_name: selfhosted-w4\nnamespace: kube-system\n');

    const checked = await runCli(['test-connection', '--config', config], env);

    expect(checked.code).toBe(1);
    expect(checked.stdout).toContain('FAIL  config        unknown field "namespace" (the fields are mode, cluster_name, webhook_route,');
  });
});
