import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { lockCursor, lockPath } from '../../../lib/tail/lock.js';

// A file system without hard links (an SMB share such as Azure Files, many FUSE mounts): link(2)
// answers EPERM or EOPNOTSUPP there. Only link is replaced; every other call reaches the disk.
vi.mock('node:fs/promises', async (original) => {
  const fs = await original<typeof import('node:fs/promises')>();
  return {
    ...fs,
    link: vi.fn(async () => {
      throw Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' });
    }),
  };
});

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function cursorIn(): string {
  const dir = mkdtempSync(join(tmpdir(), 'aisoc-lock-'));
  dirs.push(dir);
  return join(dir, 'audit.log.aisoc-cursor');
}

describe('the cursor lock on a file system without hard links', () => {
  it('is taken, names this process, and is removed on release', async () => {
    const cursor = cursorIn();

    const lock = await lockCursor(cursor);

    expect(lock.held).toBe(true);
    expect(JSON.parse(readFileSync(lockPath(cursor), 'utf8')).pid).toBe(process.pid);
    if (lock.held) await lock.release();
    expect(() => readFileSync(lockPath(cursor))).toThrow(/ENOENT/);
  });

  it("refuses a cursor a running process holds, and leaves that process's lock in place", async () => {
    const cursor = cursorIn();
    // The parent of this test's process: another process that runs for as long as the test.
    const pid = process.ppid;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    const held = `${JSON.stringify({ pid, start })}\n`;
    writeFileSync(lockPath(cursor), held);

    const lock = await lockCursor(cursor);

    expect(lock).toEqual({ held: false, pid });
    expect(readFileSync(lockPath(cursor), 'utf8')).toBe(held);
  });
});
