import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isJsonObject } from '../json.js';

/**
 * Where the tailer stands in the audit log: the file (by device + inode, so a rename rotation is
 * noticed even though the path stays the same), the byte offset of the first byte not yet
 * delivered, and a fingerprint of the file's first bytes so a file that was truncated and
 * refilled past the cursor between two polls (copytruncate) is not mistaken for the same one.
 */
export interface TailCursor {
  /** The audit log path the cursor was written for (informational; identity is dev + ino). */
  path: string;
  /** `st_dev` and `st_ino` as decimal strings: inode numbers may exceed 2^53. */
  dev: string;
  ino: string;
  /** Byte offset of the next line to read; always at a line start unless `skipping`. */
  offset: number;
  /** True while passing over one line longer than the per-poll cap: read on to its `\n`. */
  skipping: boolean;
  /** Length and SHA-256 (hex) of the file's first bytes, at most `HEAD_FINGERPRINT_BYTES`. */
  headBytes: number;
  headHash: string;
  /** When the cursor was written (ISO 8601), for operators reading the file. */
  updatedAt: string;
}

/** What was found at the cursor path. A corrupt file is a finding, not an exception. */
export type CursorReadResult = { state: 'ok'; cursor: TailCursor } | { state: 'missing' } | { state: 'corrupt'; problem: string };

const CURSOR_VERSION = 1;

function isDecimal(v: unknown): v is string {
  return typeof v === 'string' && /^\d{1,20}$/.test(v);
}

/** Checks a parsed cursor document; returns the problem in words, or the cursor. */
function checkCursor(value: unknown): TailCursor | string {
  if (!isJsonObject(value)) return 'not a JSON object';
  const v = value as Record<string, unknown>;
  if (v.version !== CURSOR_VERSION) return `unknown cursor version ${JSON.stringify(v.version)}`;
  if (typeof v.path !== 'string') return 'path is not a string';
  if (!isDecimal(v.dev) || !isDecimal(v.ino)) return 'dev/ino are not decimal strings';
  if (typeof v.offset !== 'number' || !Number.isSafeInteger(v.offset) || v.offset < 0) return 'offset is not a non-negative integer';
  if (typeof v.skipping !== 'boolean') return 'skipping is not a boolean';
  if (typeof v.headBytes !== 'number' || !Number.isSafeInteger(v.headBytes) || v.headBytes < 0) return 'headBytes is not an integer';
  if (typeof v.headHash !== 'string' || !/^[0-9a-f]{64}$/.test(v.headHash)) return 'headHash is not a SHA-256 hex digest';
  return {
    path: v.path,
    dev: v.dev,
    ino: v.ino,
    offset: v.offset,
    skipping: v.skipping,
    headBytes: v.headBytes,
    headHash: v.headHash,
    updatedAt: typeof v.updatedAt === 'string' ? v.updatedAt : '',
  };
}

/** Reads the cursor file: `missing` when there is none, `corrupt` (with the reason) when it cannot be used. */
export async function readCursor(cursorPath: string): Promise<CursorReadResult> {
  let text: string;
  try {
    text = await readFile(cursorPath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { state: 'missing' };
    return { state: 'corrupt', problem: `cannot read the cursor file (${code ?? (err as Error).message})` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { state: 'corrupt', problem: `the cursor file is not JSON (${text.length} bytes)` };
  }
  const checked = checkCursor(parsed);
  if (typeof checked === 'string') return { state: 'corrupt', problem: `the cursor file is invalid: ${checked}` };
  return { state: 'ok', cursor: checked };
}

/**
 * Writes the cursor so that a crash at any instant leaves either the old or the new cursor on
 * disk, never a torn one: write a temp file in the same directory, fsync it, then rename it over
 * the cursor (atomic within one filesystem, POSIX rename(2)).
 *
 * The directory is fsynced too when the rename creates the cursor's name (`replacing` false: no
 * usable cursor was there), so that the name survives a power loss: a cursor that vanished would
 * restart the tailer at offset 0 of whatever file the path names by then, and the rest of a file
 * rotated meanwhile would never be read. When the rename replaces a cursor whose name is already
 * durable, that fsync is left out (one of the two fsyncs of a poll, ~0.5 ms): the file content is
 * synced before the rename either way, so after a power loss the name holds the new cursor or the
 * old one, both whole and both written only after their lines were accepted. The old one only
 * makes the tailer send again what it sent since (the ingest drops the repeats, by the identity of
 * lib/audit/identity.ts), exactly as a crash just before this call does; SIGKILL leaves the page
 * cache alone and sees no difference.
 */
export async function writeCursor(cursorPath: string, cursor: TailCursor, opts: { replacing?: boolean } = {}): Promise<void> {
  await prepareCursor(cursorPath, cursor).commit(opts);
}

/**
 * A cursor written and fsynced to its temp file, not yet in place: `commit` renames it over the
 * cursor (as `writeCursor`, which is prepare + commit), `abandon` removes it. The tailer prepares
 * the cursor its lines will give while they are being delivered, so the fsync (1.5-2 ms, most of
 * the cost of a save) overlaps the POSTs instead of following them; the cursor only takes its
 * place once the ingest accepted every line before it, so what is on disk is never ahead of
 * delivery. A temp file a crash leaves behind is never read (readCursor reads only the cursor's
 * own name), and `removeStaleTemps` clears it when the tailer starts again.
 */
export interface PreparedCursor {
  readonly cursor: TailCursor;
  /** Puts the cursor in place; rejects with the write's error if the temp file could not be written. */
  commit(opts?: { replacing?: boolean }): Promise<void>;
  /** Removes the temp file (once written); never rejects. */
  abandon(): Promise<void>;
}

/** The temp files of `cursorPath`'s writes: `.<name>.<pid>.<8 hex>.tmp` beside it. */
function tempName(cursorPath: string): string {
  return `.${basename(cursorPath)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
}

function isTempOf(cursorPath: string, name: string): boolean {
  const prefix = `.${basename(cursorPath)}.`;
  return name.startsWith(prefix) && /^\d+\.[0-9a-f]{8}\.tmp$/.test(name.slice(prefix.length));
}

/** Whether a process with this id runs on this host (EPERM: it runs, as another user). */
function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temp files a killed tailer left beside its cursor (a cursor prepared while its lines
 * were being delivered, or one being written). Called once as a tailer starts, when none of its
 * own can exist yet. A temp file whose writer (the pid in its name) still runs is left alone and
 * its pid reported: that is another tailer on this cursor, which one cursor path must not have
 * (each would send what the other sent and undo the other's saves). Never throws.
 */
export async function removeStaleTemps(cursorPath: string): Promise<{ removed: number; otherWriters: number[] }> {
  let names: string[];
  try {
    names = await readdir(dirname(cursorPath));
  } catch {
    return { removed: 0, otherWriters: [] };
  }
  let removed = 0;
  const otherWriters = new Set<number>();
  for (const name of names) {
    if (!isTempOf(cursorPath, name)) continue;
    const pid = Number(name.slice(basename(cursorPath).length + 2).split('.', 1)[0]);
    if (pid !== process.pid && processRuns(pid)) {
      otherWriters.add(pid);
      continue;
    }
    try {
      await unlink(join(dirname(cursorPath), name));
      removed++;
    } catch {
      // Gone already, or not ours to remove: either way nothing reads it.
    }
  }
  return { removed, otherWriters: [...otherWriters] };
}

/** Starts writing `cursor` to a temp file beside `cursorPath` at once; see `PreparedCursor`. */
export function prepareCursor(cursorPath: string, cursor: TailCursor): PreparedCursor {
  const dir = dirname(cursorPath);
  const tmp = join(dir, tempName(cursorPath));
  const body = `${JSON.stringify({ version: CURSOR_VERSION, ...cursor })}\n`;
  // Settles with the write's error instead of rejecting: an abandoned cursor whose write failed
  // is nobody's concern, and must not surface as an unhandled rejection.
  const written: Promise<Error | null> = (async () => {
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(body, 'utf8');
      await fh.sync();
    } catch (err) {
      await fh.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    await fh.close();
    return null;
  })().catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
  let used = false;
  return {
    cursor,
    async commit(opts: { replacing?: boolean } = {}): Promise<void> {
      if (used) throw new Error('a prepared cursor is committed or abandoned once');
      used = true;
      const failed = await written;
      if (failed !== null) throw failed;
      try {
        await rename(tmp, cursorPath);
      } catch (err) {
        await unlink(tmp).catch(() => undefined);
        throw err;
      }
      if (opts.replacing !== true) await fsyncDirectory(dir);
    },
    async abandon(): Promise<void> {
      if (used) return;
      used = true;
      if ((await written) === null) await unlink(tmp).catch(() => undefined);
    },
  };
}

/** fsyncs a directory; filesystems that cannot (EINVAL, EISDIR on some platforms) are not an error. */
async function fsyncDirectory(dir: string): Promise<void> {
  let dh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    dh = await open(dir, 'r');
    await dh.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM' && code !== 'ENOTSUP') throw err;
  } finally {
    await dh?.close().catch(() => undefined);
  }
}
