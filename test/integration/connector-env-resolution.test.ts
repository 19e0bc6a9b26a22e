import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IngestServer } from '../../lib/ingest/adapters/server.js';
import { type EventStore, openEventStore } from '../../lib/sinks/sqlite.js';
import { jsonLines, runCli } from '../helpers/cli.js';
import { asFile, falcoEventLines, tempDir } from '../helpers/tail.js';
import { startLocalIngest } from '../helpers/tail-ingest.js';

const SECRET = 'env-resolution-secret-7c2e9a41';

// `tail --config`, `test-connection --config` and `connector run --config` on one file_tail config
// that names only its mode, with everything else in the variables `tail` documents: all three must
// resolve the same audit log, cursor, cluster and interval (docs/tail.md: "test-connection --config
// checks what tail --config uses").
describe('one connector config + environment, three commands, one instance', () => {
  let tmp: { dir: string; cleanup: () => void };
  let ingest: IngestServer;
  let store: EventStore;

  beforeAll(async () => {
    tmp = tempDir('aisoc-connector-env-');
    ingest = await startLocalIngest(join(tmp.dir, 'data'), SECRET);
    store = openEventStore(join(tmp.dir, 'data'));
  });

  afterAll(async () => {
    store?.close();
    await ingest?.close();
    tmp?.cleanup();
  });

  it('names the AISOC_TAIL_PATH log, the AISOC_TAIL_CURSOR cursor and the CLUSTER_NAME cluster in all three', async () => {
    const log = join(tmp.dir, 'logs', 'kube-apiserver-audit.log');
    const cursor = join(tmp.dir, 'state', 'audit.cursor');
    mkdirSync(join(tmp.dir, 'logs'));
    mkdirSync(join(tmp.dir, 'state'));
    // The Falco k8saudit traces: what a kube-apiserver --audit-log-path file holds.
    const lines = falcoEventLines();
    writeFileSync(log, asFile(lines));
    const config = join(tmp.dir, 'connector.yaml');
    writeFileSync(config, 'mode: file_tail\n');
    const env = {
      AISOC_TAIL_PATH: log,
      AISOC_TAIL_CURSOR: cursor,
      CLUSTER_NAME: 'selfhosted-env-1',
      AISOC_TAIL_INTERVAL_SECONDS: '42',
      AISOC_INGEST_URL: `${ingest.url}/v1/ingest/k8s-audit/env-tenant`,
      K8S_AUDIT_SHARED_SECRET: SECRET,
    };

    const checked = await runCli(['test-connection', '--config', config], env);
    expect(checked.code, checked.stdout).toBe(0);
    expect(checked.stdout).toContain(`audit log path ${log} exists and is readable`);
    expect(checked.stdout).toContain(`the cursor file will be created at ${cursor}`);
    expect(checked.stdout).not.toContain('/var/log/kubernetes/audit/audit.log');

    const tailed = await runCli(['tail', '--config', config, '--once'], env);
    expect(tailed.code, tailed.stderr).toBe(0);
    expect(jsonLines(tailed.stderr).find((l) => l.message === 'tail starting')).toMatchObject({
      path: log,
      cursor,
      cluster: 'selfhosted-env-1',
      interval_s: 42,
    });
    expect(existsSync(cursor)).toBe(true);
    const stored = store.countEvents({ tenant: 'env-tenant', cluster: 'selfhosted-env-1' });
    expect(stored).toBeGreaterThan(0);

    const ran = await runCli(['connector', 'run', '--config', config, '--once'], env);
    expect(ran.code, ran.stderr).toBe(0);
    expect(jsonLines(ran.stderr).find((l) => l.message === 'connector starting')).toMatchObject({
      path: log,
      cursor,
      cluster: 'selfhosted-env-1',
      interval_s: 42,
    });
    // It went on from the cursor `tail` left: nothing read twice, nothing stored under another cluster.
    expect(jsonLines(ran.stderr).find((l) => l.message === 'poll')).toMatchObject({ health: { last_poll: { lines: 0 } } });
    expect(store.countEvents({ tenant: 'env-tenant' })).toBe(stored);

    const again = await runCli(['test-connection', '--config', config], env);
    expect(again.stdout).toContain(`cursor file ${cursor} is at byte ${Buffer.byteLength(asFile(lines))}`);
  });

  it('reads a poll as AISOC_TAIL_MAX_BYTES caps it under tail and connector run alike, and refuses a bad value in both', async () => {
    const log = join(tmp.dir, 'capped-audit.log');
    const text = asFile(falcoEventLines());
    writeFileSync(log, text);
    const cap = 16_384;
    expect(Buffer.byteLength(text)).toBeGreaterThan(2 * cap);
    const env = {
      AISOC_TAIL_PATH: log,
      AISOC_TAIL_MAX_BYTES: String(cap),
      AISOC_INGEST_URL: `${ingest.url}/v1/ingest/k8s-audit/capped-tenant`,
      K8S_AUDIT_SHARED_SECRET: SECRET,
    };
    const forTail = join(tmp.dir, 'capped-tail.yaml');
    writeFileSync(forTail, `mode: file_tail\ncluster_name: capped-1\ncursor_path: ${join(tmp.dir, 'capped-tail.cursor')}\n`);
    const forConnector = join(tmp.dir, 'capped-connector.yaml');
    writeFileSync(forConnector, `mode: file_tail\ncluster_name: capped-2\ncursor_path: ${join(tmp.dir, 'capped-connector.cursor')}\n`);

    const tailed = await runCli(['tail', '--config', forTail, '--once'], env);
    const ran = await runCli(['connector', 'run', '--config', forConnector, '--once'], env);

    const tailPoll = jsonLines(tailed.stderr).find((l) => l.message === 'poll') as { bytes_read: number; more: boolean };
    const connectorPoll = (jsonLines(ran.stderr).find((l) => l.message === 'poll') as { health: { last_poll: typeof tailPoll } }).health
      .last_poll;
    expect(tailPoll.more).toBe(true);
    expect(tailPoll.bytes_read).toBeLessThanOrEqual(cap);
    expect(connectorPoll).toMatchObject({ bytes_read: tailPoll.bytes_read, more: true });
    expect(store.countEvents({ tenant: 'capped-tenant', cluster: 'capped-2' })).toBe(
      store.countEvents({ tenant: 'capped-tenant', cluster: 'capped-1' }),
    );

    const bad = { ...env, AISOC_TAIL_MAX_BYTES: '12' };
    const tailBad = await runCli(['tail', '--config', forTail, '--once'], bad);
    const runBad = await runCli(['connector', 'run', '--config', forConnector, '--once'], bad);
    expect(tailBad.code).toBe(2);
    expect(runBad.code).toBe(2);
    expect(runBad.stderr).toContain('AISOC_TAIL_MAX_BYTES');
  });

  it('names the variable, not the field, when a variable it fell back to is wrong', async () => {
    const config = join(tmp.dir, 'bad-env.yaml');
    writeFileSync(config, 'mode: file_tail\ncluster_name: selfhosted-env-2\n');
    const env = { AISOC_TAIL_PATH: 'relative/audit.log', AISOC_INGEST_URL: `${ingest.url}/v1/ingest/k8s-audit/env-tenant` };

    const checked = await runCli(['test-connection', '--config', config], env);
    const ran = await runCli(['connector', 'run', '--config', config, '--once'], env);

    expect(checked.code).toBe(1);
    expect(checked.stdout).toContain('FAIL  config        AISOC_TAIL_PATH must be an absolute path, got "relative/audit.log"');
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain('AISOC_TAIL_PATH must be an absolute path');
  });
});
