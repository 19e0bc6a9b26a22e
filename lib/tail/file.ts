import { createHash } from 'node:crypto';
import { type FileHandle, open, stat } from 'node:fs/promises';
import type { TailCursor } from './cursor.js';
import type { FileAtStart } from './poll.js';
import type { BackupFile } from './rotation.js';

// The tailer's file I/O: reading byte ranges of the audit log at a position, the head
// fingerprint that tells a rotated or rewritten file from the one the cursor was on, and
// passing over a line longer than a poll may read.

/** The fingerprint covers the first line's start, which holds its unique auditID (~100 bytes in). */
export const HEAD_FINGERPRINT_BYTES = 1024;

/** Chunk size used while reading on to the end of a line that is longer than the cap. */
const SKIP_CHUNK_BYTES = 64 * 1024;

const NEWLINE = 0x0a;

function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

const EMPTY_HASH = sha256(Buffer.alloc(0));

/** A cursor at the start of a file not read yet. */
export function freshCursor(path: string, dev: string, ino: string): TailCursor {
  return { path, dev, ino, offset: 0, skipping: false, headBytes: 0, headHash: EMPTY_HASH, updatedAt: '' };
}

async function readAt(fh: FileHandle, buf: Buffer, length: number, position: number): Promise<number> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/**
 * Reads up to `length` bytes at `position` into the start of `into` (at least `length` long, the
 * tailer's read buffer: it hands views of it to lib/ship and writes the commas between lines into
 * it, lib/tail/lines.ts). Fewer bytes come back when the file was cut meanwhile.
 */
export async function readRange(fh: FileHandle, position: number, length: number, into: Buffer): Promise<Buffer> {
  const buf = into.subarray(0, length);
  const got = await readAt(fh, buf, length, position);
  return got === length ? buf : buf.subarray(0, got);
}

async function headHash(fh: FileHandle, bytes: number): Promise<string> {
  const buf = Buffer.allocUnsafe(bytes);
  const n = await readAt(fh, buf, bytes, 0);
  return sha256(buf.subarray(0, n));
}

/** Whether the open file starts with the bytes the cursor's fingerprint covers. */
export async function sameHead(fh: FileHandle, c: TailCursor): Promise<boolean> {
  if (c.headBytes === 0) return false;
  return (await headHash(fh, c.headBytes)) === c.headHash;
}

/** The first of `files` that `candidate` admits and that starts with the bytes the cursor's fingerprint covers, or -1. */
async function firstWithHead(files: readonly BackupFile[], c: TailCursor, candidate: (f: BackupFile) => boolean): Promise<number> {
  for (let i = 0; i < files.length; i++) {
    const f = files[i] as BackupFile;
    if (!candidate(f)) continue;
    let fh: FileHandle | undefined;
    try {
      fh = await open(f.path, 'r');
      if (await sameHead(fh, c)) return i;
    } catch {
      // Gone or unreadable: not the file.
    } finally {
      await fh?.close().catch(() => undefined);
    }
  }
  return -1;
}

/** The backup that is the cursor's file under a new device number (same inode, same first bytes), or -1. */
export function findRenumbered(backups: readonly BackupFile[], c: TailCursor): Promise<number> {
  return firstWithHead(backups, c, (b) => b.ino === c.ino);
}

/**
 * The file of `files` that holds what the cursor was reading before a copytruncate rotation: not
 * the live file, at least as long as the cursor's offset, and starting with the bytes its
 * fingerprint covers (the live file no longer does; a copy of it does). -1 when none is.
 */
export async function findCopy(files: readonly BackupFile[], c: TailCursor, live: { dev: string; ino: string }): Promise<number> {
  if (c.headBytes === 0) return -1;
  return firstWithHead(files, c, (f) => !(f.dev === live.dev && f.ino === live.ino) && f.size >= c.offset);
}

/**
 * The cursor with its head fingerprint extended while it is still within the first bytes of the
 * file. `fromZero` is a copy of the file's first bytes when the caller has them (taken before the
 * read buffer's newlines became commas); otherwise they are read again.
 */
export async function withHead(fh: FileHandle, c: TailCursor, fromZero?: Buffer): Promise<TailCursor> {
  const want = Math.min(c.offset, HEAD_FINGERPRINT_BYTES);
  if (want <= c.headBytes) return c;
  const hash = fromZero !== undefined && fromZero.length >= want ? sha256(fromZero.subarray(0, want)) : await headHash(fh, want);
  return { ...c, headBytes: want, headHash: hash };
}

/**
 * Reads on from `from` to the next `\n` (the end of a line longer than the cap), at most
 * `budget` bytes: where the next line starts if it was found, else how far the read got.
 */
export async function skipToNewline(
  fh: FileHandle,
  from: number,
  size: number,
  budget: number,
): Promise<{ found: boolean; next: number; scanned: number }> {
  const chunk = Buffer.allocUnsafe(SKIP_CHUNK_BYTES);
  let pos = from;
  let scanned = 0;
  while (pos < size && scanned < budget) {
    const want = Math.min(SKIP_CHUNK_BYTES, size - pos, budget - scanned);
    const got = await readAt(fh, chunk, want, pos);
    if (got === 0) break;
    scanned += got;
    const nl = chunk.subarray(0, got).indexOf(NEWLINE);
    if (nl !== -1) return { found: true, next: pos + nl + 1, scanned };
    pos += got;
  }
  return { found: false, next: pos, scanned };
}

/** The error code of a failed file operation (its message when it has none). */
export function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

/** The words a user sees when the audit log cannot be opened (test-connection uses the same). */
export function describeOpenError(path: string, err: unknown): string {
  const code = errCode(err);
  if (code === 'ENOENT') return `audit log path ${path} not found`;
  if (code === 'EACCES' || code === 'EPERM') return `audit log path ${path} is not readable (permission denied)`;
  if (code === 'EISDIR') return `audit log path ${path} is a directory, not a file`;
  return `audit log path ${path} cannot be opened (${code})`;
}

/** The log's identity and size when `--once` starts (what it reads before it exits); null when it cannot be read (the poll says why). */
export async function fileAtStart(path: string): Promise<FileAtStart | null> {
  try {
    const st = await stat(path, { bigint: true });
    return { dev: st.dev.toString(), ino: st.ino.toString(), size: Number(st.size) };
  } catch {
    return null;
  }
}
