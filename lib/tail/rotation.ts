import { lstat, open, readdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { looksLikeLegacyLine } from '../audit/index.js';

/** A rotated audit log found beside the live one, with its identity. */
export interface BackupFile {
  path: string;
  name: string;
  dev: string;
  ino: string;
  size: number;
  /** Last modification in nanoseconds: when a rotated file stopped being written. */
  mtimeNs: bigint;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The name pattern of the apiserver's rotated audit logs. kube-apiserver rotates with
 * gopkg.in/natefinch/lumberjack.v2, which renames `<stem><ext>` to
 * `<stem>-<2006-01-02T15-04-05.000><ext>` (its `backupTimeFormat`), e.g.
 * `audit-2026-11-26T01-02-03.456.log`. Compressed backups (`--audit-log-compress`, `.gz`) are a
 * new file with a new inode and cannot continue a byte cursor, so they are not matched.
 */
export function backupNamePattern(logPath: string): RegExp {
  const ext = extname(logPath);
  const stem = basename(logPath, ext);
  return new RegExp(`^${escapeRegExp(stem)}-\\d{4}-\\d{2}-\\d{2}T\\d{2}-\\d{2}-\\d{2}\\.\\d{3}${escapeRegExp(ext)}$`);
}

/**
 * Lists the rotated backups of `logPath` in its directory, oldest first. The timestamp in the
 * name is the rotation time in a fixed-width format, so name order is rotation order.
 */
export async function listBackups(logPath: string): Promise<BackupFile[]> {
  const dir = dirname(logPath);
  const pattern = backupNamePattern(logPath);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const matching = names.filter((n) => pattern.test(n)).sort();
  const out: BackupFile[] = [];
  for (const name of matching) {
    const path = join(dir, name);
    try {
      const st = await stat(path, { bigint: true });
      if (!st.isFile()) continue;
      out.push({ path, name, dev: st.dev.toString(), ino: st.ino.toString(), size: Number(st.size), mtimeNs: st.mtimeNs });
    } catch {
      // Deleted between readdir and stat (lumberjack's maxbackup clean-up): nothing to read.
    }
  }
  return out;
}

/**
 * Every regular file beside the live log: in its directory and, when the path is a symlink, in
 * its target's directory. Where logrotate leaves the previous file (`create`: renamed to
 * `audit.log.1` or `audit.log-20261207`; `copytruncate`: a copy under such a name) and where a
 * re-pointed symlink's previous target stays. Read only when the cursor's file is not among the
 * apiserver's own backups (`listBackups`), so the stat of each entry is paid at such a rotation.
 */
export async function filesBeside(logPath: string): Promise<BackupFile[]> {
  const dirs = new Set([dirname(logPath)]);
  try {
    if ((await lstat(logPath)).isSymbolicLink()) dirs.add(dirname(await realpath(logPath)));
  } catch {
    // Gone meanwhile: its directory is still the place to look.
  }
  const out: BackupFile[] = [];
  const seen = new Set<string>();
  for (const dir of dirs) {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      continue;
    }
    for (const name of names.sort()) {
      const path = join(dir, name);
      try {
        const st = await stat(path, { bigint: true });
        const id = `${st.dev}:${st.ino}`;
        if (!st.isFile() || seen.has(id)) continue;
        seen.add(id);
        out.push({ path, name, dev: st.dev.toString(), ino: st.ino.toString(), size: Number(st.size), mtimeNs: st.mtimeNs });
      } catch {
        // Deleted between readdir and stat: nothing to read.
      }
    }
  }
  return out;
}

/** Compressed rotations (logrotate `compress`, `--audit-log-compress`): a new file whose bytes no cursor can continue. */
const COMPRESSED = /\.(gz|bz2|xz|zst|lz4|lzo|z|zip)$/i;

/** A name's part before its first dot: `audit` for `audit.log`, `audit.log.1` and `audit.log-20261207`. */
function stemOf(name: string): string {
  const dot = name.indexOf('.');
  return dot <= 0 ? name : name.slice(0, dot);
}

/** logrotate's numbered names: `<base>.<n>`, where a higher n is an older rotation. */
const NUMBERED = /^(.*)\.(\d+)$/;

/**
 * Rotation order of two files: the one last written earlier first. Timestamps come from the
 * kernel's coarse clock (a few ms), so two rotations in a row can leave the same mtime; then the
 * names decide: `audit.log.2` before `audit.log.1` (logrotate's numbering counts up with age),
 * otherwise name order (`-<dateext>` and the apiserver's timestamps sort as they were written).
 */
function rotationOrder(a: BackupFile, b: BackupFile): number {
  if (a.mtimeNs !== b.mtimeNs) return a.mtimeNs < b.mtimeNs ? -1 : 1;
  const na = NUMBERED.exec(a.name);
  const nb = NUMBERED.exec(b.name);
  if (na !== null && nb !== null && na[1] === nb[1]) return Number(nb[2]) - Number(na[2]);
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * The files rotated after `previous` (the file the cursor was on) and before the live file,
 * oldest first: what a log rotated more than once between two polls holds besides the file the
 * cursor was on. logrotate `create` turns `audit.log` into `audit.log.1` and then `audit.log.2`;
 * `copytruncate` leaves one copy per rotation; a re-pointed symlink leaves each earlier target.
 * Their names give no reliable order, but each stopped being written when it was rotated, so
 * `previous` and the files after it are ordered by their last modification (`rotationOrder`).
 * Only files named like the log or `previous` (same stem: `audit.log.1`, `audit.log-20261207`,
 * `audit-2.log`) are candidates; never the live file, the cursor and its temp files
 * (`skipNames`, hidden names), or a compressed rotation.
 */
export function rotatedAfter(
  beside: readonly BackupFile[],
  previous: BackupFile,
  logPath: string,
  live: { dev: string; ino: string },
  skipNames: readonly string[],
): BackupFile[] {
  const stems = new Set([stemOf(basename(logPath)), stemOf(previous.name)]);
  const candidates = beside.filter(
    (f) =>
      !(f.dev === live.dev && f.ino === live.ino) &&
      !(f.dev === previous.dev && f.ino === previous.ino) &&
      !f.name.startsWith('.') &&
      !skipNames.includes(f.name) &&
      !COMPRESSED.test(f.name) &&
      stems.has(stemOf(f.name)) &&
      rotationOrder(previous, f) < 0,
  );
  return candidates.sort(rotationOrder);
}

// What an audit log's first bytes are: a JSON object's `{` (or a legacy line's time), after what the tailer passes over at a
// line's start (a UTF-8 byte order mark, the NUL bytes a crash leaves, blank lines). A file named
// like the log that starts with anything else is not a rotation of it: logrotate's own state
// (`logrotate state -- version 2`) or configuration kept beside the log under its name
// (`audit.logrotate.state`), which logrotate writes after each rotation, so by its time it would
// count as rotated after the cursor's file and its lines be read and passed over.
const HEAD_BYTES = 4096;

/** Whether a file starts as an audit log does (see above); an empty or blank head cannot tell, and counts. */
export async function startsLikeAuditLog(path: string): Promise<boolean> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(path, 'r');
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
    let i = buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
    while (i < bytesRead && (buf[i] === 0 || buf[i] === 0x20 || buf[i] === 0x09 || buf[i] === 0x0a || buf[i] === 0x0d)) i++;
    if (i >= bytesRead || buf[i] === 0x7b) return true;
    // Or a kube-apiserver legacy audit line (`<time> AUDIT: `, lib/audit/legacy.ts): the apiserver
    // with --audit-log-format=legacy rotates its log the same way.
    const nl = buf.indexOf(0x0a, i);
    return looksLikeLegacyLine(buf.toString('utf8', i, nl === -1 || nl > bytesRead ? bytesRead : nl));
  } catch {
    // Gone or unreadable: the read that follows says so, as it would have.
    return true;
  } finally {
    await fh?.close().catch(() => undefined);
  }
}
