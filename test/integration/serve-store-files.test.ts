// `serve` in front of a file at the store's path that is not our store: it stops before it listens,
// with the reason, and the file is left byte for byte as it was (the store's own refusals of such
// files are in test/unit/sinks/sqlite-files.test.ts).
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EVENT_STORE_FILE } from '../../lib/sinks/sqlite.js';
import { runCli, tempDataDir } from '../helpers/ingest.js';

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('a file at the store path that is not an aisoc-k8s-audit store', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let file: string;
  beforeEach(() => {
    tmp = tempDataDir('aisoc-store-files-');
    file = join(tmp.dir, EVENT_STORE_FILE);
  });
  afterEach(() => tmp.remove());

  it('serve stops at start with the reason and exit code 1', async () => {
    writeFileSync(file, 'not a database');
    const before = sha(file);
    const r = await runCli(['serve', '--port', '0', '--data-dir', tmp.dir], { K8S_AUDIT_SHARED_SECRET: 'files-secret-0123456789' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/aisoc-k8s-audit serve: .*aisoc-k8s-audit\.sqlite is not a SQLite database/);
    expect(sha(file)).toBe(before);
  });
});
