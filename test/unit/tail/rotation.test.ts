import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { backupNamePattern, listBackups } from '../../../lib/tail/index.js';
import { tempDir } from '../../helpers/tail.js';

describe('backupNamePattern', () => {
  const pattern = backupNamePattern('/var/log/kubernetes/audit/audit.log');

  it.each([['audit-2026-11-26T01-02-03.456.log'], ['audit-1999-01-01T00-00-00.000.log']])(
    'matches the apiserver backup name %s',
    (name) => {
      expect(pattern.test(name)).toBe(true);
    },
  );

  it.each([
    ['audit.log'],
    ['audit-2026-11-26T01-02-03.456.log.gz'],
    ['audit-2026-11-26T01-02-03.log'],
    ['other-2026-11-26T01-02-03.456.log'],
    ['audit.log.aisoc-cursor'],
  ])('does not match %s', (name) => {
    expect(pattern.test(name)).toBe(false);
  });

  it('handles a log path without an extension', () => {
    expect(backupNamePattern('/logs/audit').test('audit-2026-11-26T01-02-03.456')).toBe(true);
  });
});

describe('listBackups', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir('aisoc-rotation-'));
  });
  afterEach(() => cleanup());

  it('lists the backups beside the log, oldest first, with their identity', async () => {
    for (const name of ['audit-2026-02-01T00-00-00.000.log', 'audit.log', 'audit-2026-01-01T00-00-00.000.log', 'notes.txt']) {
      writeFileSync(join(dir, name), name);
    }

    const backups = await listBackups(join(dir, 'audit.log'));

    expect(backups.map((b) => b.name)).toEqual(['audit-2026-01-01T00-00-00.000.log', 'audit-2026-02-01T00-00-00.000.log']);
    expect(backups[0]?.ino).toBe(String(statSync(join(dir, 'audit-2026-01-01T00-00-00.000.log')).ino));
  });

  it('finds nothing in a directory that does not exist', async () => {
    expect(await listBackups(join(dir, 'missing', 'audit.log'))).toEqual([]);
  });
});
