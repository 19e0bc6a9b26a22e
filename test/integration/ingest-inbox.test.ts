import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IngestServer, startIngestServer } from '../../lib/ingest/adapters/server.js';
import { openInboxStore } from '../../lib/ingest/create.js';
import type { InboxStore } from '../../lib/ingest/inbox.js';
import { type EventStore, openEventStore } from '../../lib/sinks/sqlite.js';
import { answer, eventList, ingestConfig, runCli, tempDataDir, uniqueFalcoEvents } from '../helpers/ingest.js';

describe('legacy inbox path, end to end with the CLI and the local server', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let server: IngestServer;
  let store: EventStore;
  let logs: string;
  beforeAll(async () => {
    tmp = tempDataDir();
    logs = '';
    server = await startIngestServer({ config: ingestConfig({ AISOC_DATA_DIR: tmp.dir }), log: (e) => (logs += `${JSON.stringify(e)}\n`) });
    store = openEventStore(tmp.dir);
  });
  afterAll(async () => {
    await server.close();
    store.close();
    tmp.remove();
  });

  const postInbox = (token: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/v1/inbox/${token}`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });

  it('creates a token with the CLI, takes events on /v1/inbox/<token>, and stores them under the bound tenant and cluster', async () => {
    const created = await runCli(['inbox', 'create', '--tenant', 'legacy-co', '--cluster', 'onprem-1', '--label', 'prod-legacy'], {
      AISOC_DATA_DIR: tmp.dir,
    });
    const token = created.stdout.trim();
    const items = uniqueFalcoEvents();

    const res = await postInbox(token, eventList(items));

    expect(created.code).toBe(0);
    expect(created.stderr).toMatch(/only time the token is shown/);
    expect([res.status, (await answer(res)).accepted]).toEqual([200, items.length]);
    const stored = store.queryEvents({ tenant: 'legacy-co', limit: 1000 });
    expect(stored).toHaveLength(items.length);
    expect(new Set(stored.map((r) => r.cluster_name))).toEqual(new Set(['onprem-1']));
    expect(logs).not.toContain(token);
  });

  it('lists tokens without showing them and revokes one, after which the path answers 401', async () => {
    const created = await runCli(['inbox', 'create', '--tenant', 'revoke-co', '--label', 'to-revoke', '--json'], {
      AISOC_DATA_DIR: tmp.dir,
    });
    const { token, id } = JSON.parse(created.stdout) as { token: string; id: string };
    const before = await postInbox(token, eventList([]));

    const listed = await runCli(['inbox', 'list'], { AISOC_DATA_DIR: tmp.dir });
    const revoked = await runCli(['inbox', 'revoke', id], { AISOC_DATA_DIR: tmp.dir });
    const after = await postInbox(token, eventList([]));

    expect(before.status).toBe(200);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).not.toContain(token);
    expect(revoked.code).toBe(0);
    expect(after.status).toBe(401);
    expect((await runCli(['inbox', 'list', '--json'], { AISOC_DATA_DIR: tmp.dir })).stdout).toMatch(
      new RegExp(`"id":"${id}".*"revoked_at":"\\d{4}-`),
    );
  });

  // `events`, `status` and `rejected` print snake_case keys (tenant_id, cluster_name, ...); inbox
  // printed the store's camelCase (tenantId, createdAt), so one script could not read both.
  it('prints snake_case keys with --json, as the other commands do', async () => {
    const created = await runCli(['inbox', 'create', '--tenant', 'json-co', '--cluster', 'eks-j', '--label', 'keys', '--json'], {
      AISOC_DATA_DIR: tmp.dir,
    });
    const made = JSON.parse(created.stdout) as Record<string, unknown>;
    expect(Object.keys(made).sort()).toEqual(['cluster_name', 'created_at', 'id', 'label', 'revoked_at', 'template', 'tenant_id', 'token']);
    expect(made).toMatchObject({ tenant_id: 'json-co', cluster_name: 'eks-j', label: 'keys', template: 'k8s-audit', revoked_at: null });

    const listed = await runCli(['inbox', 'list', '--json'], { AISOC_DATA_DIR: tmp.dir });
    const row = listed.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((r) => r.id === made.id);
    expect(row).toEqual({
      id: made.id,
      tenant_id: 'json-co',
      cluster_name: 'eks-j',
      label: 'keys',
      template: 'k8s-audit',
      created_at: made.created_at,
      revoked_at: null,
    });
    expect(listed.stdout).not.toContain(String(made.token));
  });

  it('list and revoke in a directory with no store say so, naming the data dir, and create nothing there', async () => {
    // An operator running `inbox list` outside the checkout `serve` runs in (or without --data-dir).
    const elsewhere = tempDataDir();
    const dataDir = join(elsewhere.dir, '.data');
    try {
      const listed = await runCli(['inbox', 'list'], { AISOC_DATA_DIR: dataDir });
      const revoked = await runCli(['inbox', 'revoke', '0123456789abcdef'], { AISOC_DATA_DIR: dataDir });

      expect([listed.code, listed.stdout]).toEqual([0, '']);
      expect(listed.stderr).toBe(
        `no inbox tokens: no store in ${dataDir} yet (inbox create makes one; --data-dir or AISOC_DATA_DIR names the data dir serve uses)\n`,
      );
      expect(revoked.code).toBe(1);
      expect(revoked.stderr).toBe(
        `no inbox token store in ${dataDir}: nothing to revoke (--data-dir or AISOC_DATA_DIR names the data dir serve uses)\n`,
      );
      // Nothing was made where they ran: a later `events` or `serve` there finds no stray store.
      expect(existsSync(dataDir)).toBe(false);
    } finally {
      elsewhere.remove();
    }
  });

  it('revokes by the token itself without echoing it', async () => {
    const created = await runCli(['inbox', 'create', '--tenant', 'revoke-co', '--label', 'by-token', '--json'], {
      AISOC_DATA_DIR: tmp.dir,
    });
    const { token } = JSON.parse(created.stdout) as { token: string };

    const revoked = await runCli(['inbox', 'revoke', token], { AISOC_DATA_DIR: tmp.dir });
    const again = await runCli(['inbox', 'revoke', 'aik8s_thisTokenWasNeverIssuedByAnyoneAtAll000000'], { AISOC_DATA_DIR: tmp.dir });

    expect(revoked.code).toBe(0);
    expect(revoked.stdout + revoked.stderr).not.toContain(token);
    expect((await postInbox(token, eventList([]))).status).toBe(401);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('no inbox token matches the token given');
    expect(again.stderr).not.toContain('aik8s_thisToken');
  });

  it('refuses to create a token for a template this connector does not normalise', async () => {
    const other = await runCli(['inbox', 'create', '--tenant', 'x', '--label', 'okta', '--template', 'okta-system-log'], {
      AISOC_DATA_DIR: tmp.dir,
    });
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('--template must be k8s-audit');
    expect(other.stdout).toBe('');
  });

  it('answers 403 for a token bound to another template, and 401 for an unknown one', async () => {
    // Bound by another component of the platform, straight into the store.
    const store = (await openInboxStore({ kind: 'sqlite', dataDir: tmp.dir })) as InboxStore;
    const other = await store.create({ tenantId: 'x', clusterName: null, label: 'okta', template: 'okta-system-log' });
    await store.close();

    const forbidden = await postInbox(other.token, eventList([]));
    const unknown = await postInbox('aik8s_thisTokenWasNeverIssuedByAnyoneAtAll000000', eventList([]));

    expect([forbidden.status, unknown.status]).toEqual([403, 401]);
  });

  it('refuses a bad tenant and a missing label with usage errors', async () => {
    const badTenant = await runCli(['inbox', 'create', '--tenant', '-x', '--label', 'l'], { AISOC_DATA_DIR: tmp.dir });
    const noLabel = await runCli(['inbox', 'create', '--tenant', 'x'], { AISOC_DATA_DIR: tmp.dir });
    const unknownId = await runCli(['inbox', 'revoke', 'ffffffffffffffff'], { AISOC_DATA_DIR: tmp.dir });
    // A cluster name the ingest would refuse on every request the token brings.
    const badCluster = await runCli(['inbox', 'create', '--tenant', 'x', '--label', 'l', '--cluster', 'a\u001bb'], {
      AISOC_DATA_DIR: tmp.dir,
    });

    expect([badTenant.code, noLabel.code, unknownId.code, badCluster.code]).toEqual([2, 2, 1, 2]);
    expect(badCluster.stderr).toContain('--cluster must be 1 to 256 printable characters');
  });
});
