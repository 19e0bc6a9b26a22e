import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { prepareCursor, readCursor, type TailCursor, writeCursor } from '../../../lib/tail/index.js';
import { tempDir } from '../../helpers/tail.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir('aisoc-cursor-'));
});
afterEach(() => cleanup());

const cursor: TailCursor = {
  path: '/var/log/kubernetes/audit/audit.log',
  dev: '64768',
  ino: '18446744073709551615',
  offset: 123_456,
  skipping: false,
  headBytes: 1024,
  headHash: 'a'.repeat(64),
  updatedAt: '2026-11-26T01:02:03.000Z',
};

describe('readCursor / writeCursor', () => {
  it('finds no cursor where none was written', async () => {
    expect(await readCursor(join(dir, 'c'))).toEqual({ state: 'missing' });
  });

  it('reads back what it wrote, inode numbers beyond 2^53 included', async () => {
    await writeCursor(join(dir, 'c'), cursor);

    expect(await readCursor(join(dir, 'c'))).toEqual({ state: 'ok', cursor });
  });

  it('replaces the cursor in place and leaves no temp file behind', async () => {
    await writeCursor(join(dir, 'c'), cursor);
    await writeCursor(join(dir, 'c'), { ...cursor, offset: 999 });

    expect(readdirSync(dir)).toEqual(['c']);
    expect(JSON.parse(readFileSync(join(dir, 'c'), 'utf8')).offset).toBe(999);
  });

  it.each([
    ['not JSON', '{"version":1,"off', 'the cursor file is not JSON'],
    ['a JSON array', '[]', 'not a JSON object'],
    ['another version', JSON.stringify({ ...cursor, version: 9 }), 'unknown cursor version 9'],
    ['a negative offset', JSON.stringify({ ...cursor, version: 1, offset: -1 }), 'offset is not a non-negative integer'],
    ['a numeric inode', JSON.stringify({ ...cursor, version: 1, ino: 12 }), 'dev/ino are not decimal strings'],
    ['a bad fingerprint', JSON.stringify({ ...cursor, version: 1, headHash: 'zz' }), 'headHash is not a SHA-256 hex digest'],
  ])('reports a cursor file holding %s as corrupt, with the reason', async (_, text, reason) => {
    writeFileSync(join(dir, 'c'), text);

    const found = await readCursor(join(dir, 'c'));

    expect(found.state).toBe('corrupt');
    expect(found.state === 'corrupt' && found.problem).toContain(reason);
  });

  it('reports a cursor path it cannot read as corrupt, naming the error', async () => {
    mkdirSync(join(dir, 'c'));

    expect(await readCursor(join(dir, 'c'))).toEqual({ state: 'corrupt', problem: 'cannot read the cursor file (EISDIR)' });
  });

  it('fails to write into a directory that does not exist', async () => {
    await expect(writeCursor(join(dir, 'missing', 'c'), cursor)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('prepares a cursor beside the old one without touching it, and puts it in place on commit', async () => {
    await writeCursor(join(dir, 'c'), cursor);
    const prepared = prepareCursor(join(dir, 'c'), { ...cursor, offset: 777 });

    // Until the commit, whoever reads the cursor (a restart) still finds the old one.
    expect(await readCursor(join(dir, 'c'))).toMatchObject({ state: 'ok', cursor: { offset: 123_456 } });
    await prepared.commit({ replacing: true });

    expect(await readCursor(join(dir, 'c'))).toMatchObject({ state: 'ok', cursor: { offset: 777 } });
    expect(readdirSync(dir)).toEqual(['c']);
    await expect(prepared.commit()).rejects.toThrow('committed or abandoned once');
  });

  it('abandons a prepared cursor: the old one stays, and no temp file is left', async () => {
    await writeCursor(join(dir, 'c'), cursor);
    const prepared = prepareCursor(join(dir, 'c'), { ...cursor, offset: 777 });

    await prepared.abandon();
    await prepared.abandon();

    expect(readdirSync(dir)).toEqual(['c']);
    expect(JSON.parse(readFileSync(join(dir, 'c'), 'utf8')).offset).toBe(123_456);
  });

  it("reports a prepared cursor's failed write on commit, and abandons it quietly", async () => {
    const failing = prepareCursor(join(dir, 'missing', 'c'), cursor);
    await expect(failing.commit()).rejects.toMatchObject({ code: 'ENOENT' });

    const dropped = prepareCursor(join(dir, 'missing', 'c'), cursor);
    await expect(dropped.abandon()).resolves.toBeUndefined();
    expect(readdirSync(dir)).toEqual([]);
  });
});
