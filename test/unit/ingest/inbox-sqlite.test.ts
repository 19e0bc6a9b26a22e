import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashToken } from '../../../lib/ingest/auth.js';
import { INBOX_TEMPLATE, looksLikeInboxToken } from '../../../lib/ingest/inbox.js';
import { SqliteInboxStore } from '../../../lib/ingest/inbox-sqlite.js';
import { EVENT_STORE_FILE } from '../../../lib/sinks/sqlite.js';
import { tempDataDir } from '../../helpers/ingest.js';

describe('SqliteInboxStore', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let store: SqliteInboxStore;
  beforeEach(() => {
    tmp = tempDataDir();
    store = new SqliteInboxStore(tmp.dir);
  });
  afterEach(async () => {
    await store.close();
    tmp.remove();
  });

  it('creates a URL-safe token bound to the k8s-audit template and finds it again', async () => {
    const { token, binding } = await store.create({ tenantId: 'acme', clusterName: 'prod', label: 'legacy' });

    expect(looksLikeInboxToken(token)).toBe(true);
    expect(encodeURIComponent(token)).toBe(token);
    expect(binding).toMatchObject({ tenantId: 'acme', clusterName: 'prod', label: 'legacy', template: INBOX_TEMPLATE, revokedAt: null });
    expect(await store.lookup(token)).toEqual(binding);
    expect(await store.lookup(`${token}x`)).toBeNull();
  });

  it('keeps only the SHA-256 of the token on disk', async () => {
    const { token } = await store.create({ tenantId: 'acme', label: 'l' });
    await store.close();

    const bytes = readFileSync(join(tmp.dir, EVENT_STORE_FILE)).toString('latin1') + readWal(tmp.dir);

    expect(bytes).not.toContain(token);
    expect(bytes).toContain(hashToken(token));
    store = new SqliteInboxStore(tmp.dir);
  });

  it('lists tokens and revokes one by id', async () => {
    const a = await store.create({ tenantId: 'a', label: 'one' });
    const b = await store.create({ tenantId: 'b', label: 'two' });

    const revoked = await store.revoke(a.binding.id);
    const missing = await store.revoke('0000000000000000');

    expect([revoked, missing]).toEqual([true, false]);
    expect((await store.lookup(a.token))?.revokedAt).not.toBeNull();
    expect((await store.lookup(b.token))?.revokedAt).toBeNull();
    expect((await store.list()).map((t) => t.id).sort()).toEqual([a.binding.id, b.binding.id].sort());
  });
});

function readWal(dir: string): string {
  try {
    return readFileSync(join(dir, `${EVENT_STORE_FILE}-wal`)).toString('latin1');
  } catch {
    return '';
  }
}
