import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';

/** A rotated audit log found beside the live one, with its identity. */
export interface BackupFile {
  path: string;
  name: string;
  dev: string;
  ino: string;
  size: number;
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
      out.push({ path, name, dev: st.dev.toString(), ino: st.ino.toString(), size: Number(st.size) });
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
        out.push({ path, name, dev: st.dev.toString(), ino: st.ino.toString(), size: Number(st.size) });
      } catch {
        // Deleted between readdir and stat: nothing to read.
      }
    }
  }
  return out;
}
