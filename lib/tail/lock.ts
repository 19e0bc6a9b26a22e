import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

// One tailer per cursor: two read the same cursor, send each other's events again and undo each
// other's saves. A lock file beside the cursor names the process holding it, so a second tailer
// is refused as it starts instead of being noticed only by the temp file of a delivery under way.

/** Who holds a cursor: the pid, and its start time when /proc tells it (so a reused pid is not taken for it). */
interface Holder {
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot); null where there is no /proc. */
  start: string | null;
}

/** The lock of `cursorPath`: hidden, so nothing that lists the log's directory for rotated files takes it for one. */
export function lockPath(cursorPath: string): string {
  return join(dirname(cursorPath), `.${basename(cursorPath)}.lock`);
}

/** State and start time of a process from /proc/<pid>/stat (proc(5)); null without /proc or the process. */
function procStat(pid: number): { state: string; start: string } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may hold spaces: fields are counted after its `)`.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const start = fields[19];
  return state === undefined || start === undefined ? null : { state, start };
}

function self(): Holder {
  return { pid: process.pid, start: procStat(process.pid)?.start ?? null };
}

/** Whether the holder still runs: the pid answers signal 0 (EPERM: it runs as another user), is no zombie, and started when the lock says. */
function holderRuns(h: Holder): boolean {
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const st = procStat(h.pid);
  if (st === null) return true;
  // A killed tailer its parent has not reaped yet is a zombie: it writes nothing any more.
  if (st.state === 'Z' || st.state === 'X') return false;
  return h.start === null || st.start === h.start;
}

function parseHolder(text: string): Holder | null {
  try {
    const v = JSON.parse(text) as { pid?: unknown; start?: unknown };
    if (typeof v.pid !== 'number' || !Number.isSafeInteger(v.pid) || v.pid <= 0) return null;
    return { pid: v.pid, start: typeof v.start === 'string' ? v.start : null };
  } catch {
    return null;
  }
}

/** The cursor is this process's until `release`, or another running process (`pid`) holds it. */
export type CursorLock = { held: true; release(): Promise<void> } | { held: false; pid: number };

/**
 * Takes the cursor's lock for this process. The lock file is written whole under a temp name and
 * then hard-linked to its name (link(2) fails with EEXIST when the name exists, atomically), so a
 * reader never sees a half-written one. A lock whose holder no longer runs (a killed tailer, or
 * this pid's earlier life in another container) is taken over: renamed away first, so that of two
 * tailers starting at once only one removes it, and put back if it turns out to be a live one's.
 */
export async function lockCursor(cursorPath: string): Promise<CursorLock> {
  const path = lockPath(cursorPath);
  const me = self();
  const mine = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(mine, `${JSON.stringify(me)}\n`, { mode: 0o644 });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await place(mine, path, me)) return { held: true, release: () => releaseLock(path, me) };
      const aside = `${path}.stale.${randomBytes(4).toString('hex')}`;
      try {
        await rename(path, aside);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      const holder = parseHolder(await readFile(aside, 'utf8').catch(() => ''));
      if (holder !== null && holder.pid !== process.pid && holderRuns(holder)) {
        // Another tailer's lock: put it back (unless a third took the name meanwhile) and say whose it is.
        await link(aside, path).catch(async (err: NodeJS.ErrnoException) => {
          if (NO_HARD_LINKS.has(err.code ?? '')) await rename(aside, path).catch(() => undefined);
        });
        await unlink(aside).catch(() => undefined);
        return { held: false, pid: holder.pid };
      }
      await unlink(aside).catch(() => undefined);
    }
    throw new Error(`cannot take the lock ${path}: it keeps being replaced`);
  } finally {
    await unlink(mine).catch(() => undefined);
  }
}

// What link(2) answers on a file system without hard links (SMB/CIFS shares such as Azure Files,
// many FUSE mounts): there the lock is created with O_EXCL instead, which is as atomic for the
// name, though a reader may see it for a moment before its text is written (read as no holder).
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/** Puts this process's lock at `path`; false when a lock is there already. */
async function place(mine: string, path: string, me: Holder): Promise<boolean> {
  try {
    await link(mine, path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') return false;
    if (!NO_HARD_LINKS.has(code)) throw err;
  }
  try {
    await writeFile(path, `${JSON.stringify(me)}\n`, { mode: 0o644, flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/** Removes the lock if it is still this process's (never another's that took over a stale one). */
async function releaseLock(path: string, me: Holder): Promise<void> {
  const holder = parseHolder(await readFile(path, 'utf8').catch(() => ''));
  if (holder?.pid === me.pid && holder.start === me.start) await unlink(path).catch(() => undefined);
}
