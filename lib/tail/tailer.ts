import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import type { AuditEvent, NormalisedRecord } from '../audit/index.js';
import { decideEventSeverity, normaliseAuditEvent, validateAuditEvent } from '../audit/index.js';
import { type EventText, readAuditId } from '../ship/index.js';
import { readCursor, type TailCursor, writeCursor } from './cursor.js';
import { type BackupFile, listBackups } from './rotation.js';

/** The fingerprint covers the first line's start, which holds its unique auditID (~100 bytes in). */
export const HEAD_FINGERPRINT_BYTES = 1024;

/** Invalid lines logged one by one per poll; the rest only counted, so a garbage file cannot flood the log. */
const INVALID_LINES_LOGGED = 20;

/** Chunk size used while reading on to the end of a line that is longer than the cap. */
const SKIP_CHUNK_BYTES = 64 * 1024;

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
/**
 * How far into a line its `"auditID"` key is looked for. The apiserver writes it fourth, after
 * kind, apiVersion and level (~70 bytes in); a line with it further on is checked the slow way.
 */
const AUDIT_ID_WITHIN = 512;
const AUDIT_ID_KEY = Buffer.from('"auditID"', 'latin1');

/**
 * Whether a line has the shape of an apiserver audit line: one JSON object (`{` … `}`) with an
 * `"auditID"` key near its start. Such lines are shipped without parsing them here (parsing is
 * 80 % of a poll's work, and the ingest parses them anyway); a line that is not what it looks
 * like comes back as a per-item rejection or, when it is not JSON, as a 400 for its batch, and is
 * then checked and passed over here. Anything else is checked before it is sent, as always.
 *
 * Looks at the bytes of `buf[0, limit)`, lines in order: nothing is decoded for it. The key is
 * searched from a line's start to its next occurrence anywhere in the read, which is remembered:
 * lines before it need no search of their own, so a read of lines without the key is scanned once,
 * not once per line (and an audit line costs one short search, with no view made of it).
 */
function auditLineShape(buf: Buffer, limit: number): (start: number, end: number) => boolean {
  let next = -1;
  return (start, end) => {
    if (buf[start] !== OPEN_BRACE || buf[end - 1] !== CLOSE_BRACE) return false;
    if (next < start) {
      next = buf.indexOf(AUDIT_ID_KEY, start);
      if (next === -1 || next > limit) next = limit;
    }
    return next - start <= AUDIT_ID_WITHIN && next + AUDIT_ID_KEY.length <= end;
  };
}

const NEWLINE = 0x0a;
const COMMA = 0x2c;

/**
 * Overwrites the newline between two lines that go out one after the other with a comma, in the
 * poll's own read buffer (the lines' views do not cover it, and the buffer is not read again):
 * lib/ship then sends a run of such lines as one view of the buffer inside the EventList envelope
 * instead of copying every line into a new body. Nothing else changes: the body is byte for byte
 * what it would be, and a line passed over later (the 400 re-check) simply ends a run.
 */
function joinAdjacent(buf: Buffer, lines: readonly OutgoingLine[]): void {
  for (let k = 1; k < lines.length; k++) {
    const a = (lines[k - 1] as OutgoingLine).data;
    const b = (lines[k] as OutgoingLine).data;
    if (typeof a === 'string' || typeof b === 'string') continue;
    const at = a.byteOffset - buf.byteOffset + a.length;
    if (b.byteOffset - buf.byteOffset === at + 1 && buf[at] === NEWLINE) buf[at] = COMMA;
  }
}

/** A line's event, or why it cannot be delivered (not JSON, not an audit Event). */
type LineCheck = { event: AuditEvent } | { event?: undefined; reason: string; auditID?: string };

function checkLine(text: string): LineCheck {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { reason: 'line is not JSON' };
  }
  const checked = validateAuditEvent(value);
  if (checked.ok) return { event: checked.event };
  const reason = `not a valid audit event: ${checked.reason}`;
  return checked.auditID === undefined ? { reason } : { reason, auditID: checked.auditID };
}

/**
 * One line on its way out: its bytes as they are in the file (a view into the poll's read buffer,
 * never copied or decoded unless it has to be looked at), where it starts in the file, and whether
 * it was checked here.
 */
interface OutgoingLine {
  data: EventText;
  offset: number;
  checked: boolean;
}

function eventBytes(data: EventText): number {
  return typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.length;
}

function lineText(data: EventText): string {
  return typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
}

/** How far a shipment got: the first line not accepted (or all), why, and lines refused as too large on their own. */
interface Settled {
  accepted: number;
  firstReason: { reason: string; status?: number } | null;
  tooLarge: Set<number>;
  rejected: number;
}

/** What the tailer needs from the shipper: the `lib/ship` `ShipResult` fields it reads. */
export interface TailShipResult {
  delivered: number;
  failed: readonly { index: number; reason: string; status?: number; auditID?: string; retryable: boolean }[];
  /** Items of delivered batches the ingest rejected one by one (JSON, but not a usable audit Event). */
  rejected?: number;
}

/**
 * Ships events in order, stopping at the first failure. Each is one line of the file: its bytes
 * as read (valid UTF-8), or its decoded text when the bytes are not valid UTF-8.
 */
export type TailShipFn = (events: EventText[]) => Promise<TailShipResult>;

export interface TailerOptions {
  /** The audit log (`--audit-log-path` of the apiserver). */
  logPath: string;
  /** Where the byte cursor is kept (default `<logPath>.aisoc-cursor`). */
  cursorPath: string;
  /** Bytes read per poll at most (memory bound); a line longer than this is passed over. */
  maxBytes: number;
  ship: TailShipFn;
  /**
   * True for an event that can never fit one request body (the shipper's byte cap); such a line
   * is counted and passed over instead of blocking the cursor forever.
   */
  isOversize?: (line: EventText, bytes: number) => boolean;
  /** Structured log lines (never given a token: the tailer does not hold one). */
  log?: (entry: Record<string, unknown>) => void;
  now?: () => number;
  /** When set, each poll returns the high-severity events it delivered, normalised (PULL_ALERTS). */
  alerts?: { tenantId: string | null; clusterName: string | null };
}

/** Why the cursor did not simply continue where it was. */
export type CursorReset = 'missing-cursor' | 'corrupt-cursor' | 'truncated' | 'rotated' | 'rotated-old-missing';

/** What one poll did. `complete` is the `--once` exit status: every complete line read was delivered or passed over. */
export interface PollResult {
  startedAt: number;
  finishedAt: number;
  /** Files read this poll, in order (a rotated backup first, then the live file). */
  files: string[];
  bytesRead: number;
  /** Bytes the cursor moved past (delivered lines, passed-over lines). */
  bytesConsumed: number;
  /** Complete, non-empty lines read. */
  lines: number;
  delivered: number;
  /** Lines that are not JSON or not a valid audit Event: counted, logged, passed over. */
  invalid: number;
  /** Lines longer than the per-poll cap, passed over. */
  oversizeLines: number;
  /** Events too large for one request body, passed over. */
  oversizeEvents: number;
  /** Valid events the ingest did not accept: they are read again next poll. */
  undelivered: number;
  /** Bytes of a final line without `\n`, left for the next poll. */
  heldBackBytes: number;
  /** True when the poll stopped at the byte cap with more to read. */
  more: boolean;
  resets: CursorReset[];
  cursor: TailCursor | null;
  error: string | null;
  alerts: NormalisedRecord[];
  complete: boolean;
}

interface Segment {
  cursor: TailCursor;
  /** The file was read to its end (for a rotated backup: nothing more will come). */
  finished: boolean;
  /** Nothing more can be done this poll (ingest failed, budget spent). */
  stop: boolean;
}

function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

const EMPTY_HASH = sha256(Buffer.alloc(0));

function freshCursor(path: string, dev: string, ino: string): TailCursor {
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

/** Whether the open file starts with the bytes the cursor's fingerprint covers. */
async function sameHead(fh: FileHandle, c: TailCursor): Promise<boolean> {
  if (c.headBytes === 0) return false;
  return (await headHash(fh, c.headBytes)) === c.headHash;
}

/** The backup that is the cursor's file under a new device number (same inode, same first bytes), or -1. */
async function findRenumbered(backups: readonly BackupFile[], c: TailCursor): Promise<number> {
  for (let i = 0; i < backups.length; i++) {
    const b = backups[i] as BackupFile;
    if (b.ino !== c.ino) continue;
    let fh: FileHandle | undefined;
    try {
      fh = await open(b.path, 'r');
      if (await sameHead(fh, c)) return i;
    } catch {
      // Gone or unreadable: not the file.
    } finally {
      await fh?.close().catch(() => undefined);
    }
  }
  return -1;
}

async function headHash(fh: FileHandle, bytes: number): Promise<string> {
  const buf = Buffer.allocUnsafe(bytes);
  const n = await readAt(fh, buf, bytes, 0);
  return sha256(buf.subarray(0, n));
}

function errCode(err: unknown): string {
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

/**
 * Tails one audit log forward from a byte cursor, one bounded poll at a time (the connector documentation's
 * file_tail mode). The cursor only ever moves past lines the ingest accepted or that can never
 * be delivered (not JSON, not an audit Event, too long), so a crash at any point repeats
 * deliveries at worst; the ingest drops repeats by (tenant, cluster, auditID, stage).
 */
export class FileTailer {
  private readonly log: (entry: Record<string, unknown>) => void;
  private readonly now: () => number;
  /**
   * The cursor file's name is on disk for good: a usable cursor was read there this poll, or
   * written there with its directory fsynced (`writeCursor` leaves that fsync out only then).
   */
  private cursorNamed = false;

  constructor(private readonly opts: TailerOptions) {
    this.log = opts.log ?? (() => undefined);
    this.now = opts.now ?? Date.now;
  }

  /** Runs one poll: read at most `maxBytes` from the cursor, ship complete lines, save the cursor. */
  async poll(): Promise<PollResult> {
    const r: PollResult = {
      startedAt: this.now(),
      finishedAt: 0,
      files: [],
      bytesRead: 0,
      bytesConsumed: 0,
      lines: 0,
      delivered: 0,
      invalid: 0,
      oversizeLines: 0,
      oversizeEvents: 0,
      undelivered: 0,
      heldBackBytes: 0,
      more: false,
      resets: [],
      cursor: null,
      error: null,
      alerts: [],
      complete: false,
    };
    try {
      await this.pollInto(r);
    } catch (err) {
      // Anything unexpected (EIO, a full disk for the cursor) ends this poll, never the process.
      if (r.error === null) {
        r.error = `poll failed: ${errCode(err)}`;
        this.log({ level: 'error', msg: 'poll failed', error: r.error });
      }
    }
    r.finishedAt = this.now();
    r.complete = r.error === null && r.undelivered === 0;
    return r;
  }

  private async pollInto(r: PollResult): Promise<void> {
    const { logPath, cursorPath } = this.opts;
    const found = await readCursor(cursorPath);
    let saved: TailCursor | null = null;
    this.cursorNamed = found.state === 'ok';
    if (found.state === 'ok') saved = found.cursor;
    else if (found.state === 'missing') r.resets.push('missing-cursor');
    else {
      r.resets.push('corrupt-cursor');
      this.log({
        level: 'error',
        msg: 'cursor file is unusable; restarting from offset 0 (the ingest drops repeated events as duplicates)',
        cursor_path: cursorPath,
        problem: found.problem,
      });
    }
    r.cursor = saved;

    let live: FileHandle;
    try {
      live = await open(logPath, 'r');
    } catch (err) {
      r.error = describeOpenError(logPath, err);
      this.log({ level: 'error', msg: 'cannot open the audit log', error: r.error });
      return;
    }
    try {
      const st = await live.stat({ bigint: true });
      if (!st.isFile()) {
        r.error = `audit log path ${logPath} is not a regular file`;
        this.log({ level: 'error', msg: 'cannot read the audit log', error: r.error });
        return;
      }
      const dev = st.dev.toString();
      const ino = st.ino.toString();
      const budget = { left: this.opts.maxBytes };
      let cursor: TailCursor | null = saved;

      if (cursor !== null && cursor.dev !== dev && cursor.ino === ino && (await sameHead(live, cursor))) {
        // Device numbers are not stable across reboots and remounts; the inode and the first
        // bytes (with their unique auditID) still say it is the same file.
        this.log({
          level: 'info',
          msg: 'the audit log device number changed; same file by inode and first bytes',
          path: logPath,
          previous_dev: cursor.dev,
          dev,
        });
        cursor = { ...cursor, dev };
      }
      if (cursor !== null && (cursor.dev !== dev || cursor.ino !== ino)) {
        r.resets.push('rotated');
        const done = await this.finishRotated(r, cursor, budget, { dev, ino });
        if (!done) return;
        cursor = null;
      }

      let start = cursor ?? freshCursor(logPath, dev, ino);
      start = { ...start, path: logPath };
      const size = Number(st.size);
      if (start.offset > size) {
        r.resets.push('truncated');
        this.log({
          level: 'warn',
          msg: 'audit log is smaller than the cursor (truncated); reading from offset 0',
          path: logPath,
          cursor_offset: start.offset,
          size,
        });
        start = freshCursor(logPath, dev, ino);
      } else if (start.headBytes > 0 && (await headHash(live, start.headBytes)) !== start.headHash) {
        r.resets.push('truncated');
        this.log({
          level: 'warn',
          msg: 'audit log was rewritten since the last poll (first bytes differ); reading from offset 0',
          path: logPath,
          cursor_offset: start.offset,
        });
        start = freshCursor(logPath, dev, ino);
      }
      r.files.push(logPath);
      const seg = await this.drain(r, live, start, budget, false);
      await this.save(r, seg.cursor, saved);
    } finally {
      await live.close().catch(() => undefined);
    }
  }

  /**
   * The path names a new file: finish the file the cursor was on if it is still beside the path
   * under its backup name, then any later backups, oldest first. False when this poll must stop
   * there (budget spent, ingest failing); the saved cursor then still points into the backup.
   */
  private async finishRotated(
    r: PollResult,
    old: TailCursor,
    budget: { left: number },
    live: { dev: string; ino: string },
  ): Promise<boolean> {
    const backups = await listBackups(this.opts.logPath);
    let at = backups.findIndex((b) => b.dev === old.dev && b.ino === old.ino);
    if (at === -1) at = await findRenumbered(backups, old);
    if (at === -1) {
      r.resets.push('rotated-old-missing');
      this.log({
        level: 'warn',
        msg: 'audit log was rotated and the previous file is no longer beside it; starting the new file at offset 0',
        path: this.opts.logPath,
        previous_dev: old.dev,
        previous_ino: old.ino,
        previous_offset: old.offset,
      });
      return true;
    }
    this.log({
      level: 'info',
      msg: 'audit log was rotated; finishing the previous file first',
      path: this.opts.logPath,
      previous: backups[at]?.path,
      from_offset: old.offset,
    });
    let cursor: TailCursor = old;
    for (let i = at; i < backups.length; i++) {
      const b = backups[i] as BackupFile;
      // Rotated again since the live file was opened: the handle already open is this file, and
      // the live-file read below takes it from offset 0.
      if (b.dev === live.dev && b.ino === live.ino) break;
      if (i > at) cursor = freshCursor(b.path, b.dev, b.ino);
      let fh: FileHandle;
      try {
        fh = await open(b.path, 'r');
      } catch (err) {
        this.log({ level: 'warn', msg: 'rotated audit log vanished before it was read to the end', file: b.path, error: errCode(err) });
        continue;
      }
      try {
        const st = await fh.stat({ bigint: true });
        if (st.dev.toString() !== b.dev || st.ino.toString() !== b.ino) continue;
        r.files.push(b.path);
        const seg = await this.drain(r, fh, { ...cursor, path: b.path }, budget, true);
        await this.save(r, seg.cursor, old);
        if (!seg.finished || seg.stop) return false;
      } finally {
        await fh.close().catch(() => undefined);
      }
    }
    return true;
  }

  private async save(r: PollResult, next: TailCursor, previous: TailCursor | null): Promise<void> {
    r.cursor = next;
    const unchanged =
      previous !== null &&
      previous.dev === next.dev &&
      previous.ino === next.ino &&
      previous.offset === next.offset &&
      previous.skipping === next.skipping &&
      previous.headBytes === next.headBytes &&
      previous.headHash === next.headHash &&
      r.resets.length === 0;
    if (unchanged) return;
    const stamped = { ...next, updatedAt: new Date(this.now()).toISOString() };
    try {
      await writeCursor(this.opts.cursorPath, stamped, { replacing: this.cursorNamed });
      this.cursorNamed = true;
      r.cursor = stamped;
    } catch (err) {
      r.error = `cannot save the cursor to ${this.opts.cursorPath} (${errCode(err)}); delivered events will be sent again`;
      this.log({ level: 'error', msg: 'cannot save the cursor', error: r.error });
      throw Object.assign(new Error(r.error), { code: 'ECURSOR' });
    }
  }

  /**
   * Reads one file forward from `cur` within the byte budget, ships its complete lines and
   * returns the advanced cursor. `final` marks a rotated file that no longer grows: its last
   * line counts as complete even without `\n`.
   */
  private async drain(r: PollResult, fh: FileHandle, cur: TailCursor, budget: { left: number }, final: boolean): Promise<Segment> {
    const size = Number((await fh.stat()).size);
    const c: TailCursor = { ...cur };
    if (c.offset > size) return { cursor: c, finished: true, stop: false };

    if (c.skipping) {
      const found = await this.skipToNewline(fh, c.offset, size, budget);
      r.bytesRead += found.scanned;
      r.bytesConsumed += found.next - c.offset;
      c.offset = found.next;
      if (!found.found) {
        if (final && c.offset >= size) return { cursor: await this.withHead(fh, c), finished: true, stop: false };
        r.more = c.offset < size;
        return { cursor: c, finished: false, stop: true };
      }
      c.skipping = false;
      this.log({
        level: 'warn',
        msg: 'passed over a line longer than the per-poll cap',
        file: c.path,
        resumed_at: c.offset,
        cap_bytes: this.opts.maxBytes,
      });
    }

    const available = size - c.offset;
    if (available <= 0) return { cursor: await this.withHead(fh, c), finished: true, stop: false };
    const toRead = Math.min(available, budget.left);
    if (toRead <= 0) {
      r.more = true;
      return { cursor: c, finished: false, stop: true };
    }
    const buf = Buffer.allocUnsafe(toRead);
    const got = await readAt(fh, buf, toRead, c.offset);
    // Fewer bytes than stat said: the file was cut meanwhile; the next poll sees the new size.
    if (got === 0) return { cursor: c, finished: final, stop: true };
    budget.left -= got;
    r.bytesRead += got;
    const atEof = c.offset + got >= size;

    let end = buf.subarray(0, got).lastIndexOf(10) + 1;
    if (final && atEof) end = got;
    if (end === 0) {
      if (got >= this.opts.maxBytes) {
        // One line fills the whole cap: it can never be read in one poll. Pass over it (to its
        // `\n`, possibly across polls) rather than leave the cursor stuck on it forever.
        r.oversizeLines++;
        this.log({
          level: 'warn',
          msg: 'line longer than the per-poll cap; passing over it',
          file: c.path,
          offset: c.offset,
          cap_bytes: this.opts.maxBytes,
        });
        r.bytesConsumed += got;
        c.offset += got;
        c.skipping = true;
        r.more = true;
        return { cursor: await this.withHead(fh, c), finished: false, stop: true };
      }
      if (atEof) r.heldBackBytes += got;
      else r.more = true;
      return { cursor: c, finished: false, stop: true };
    }
    if (atEof) r.heldBackBytes += got - end;
    else r.more = true;

    const readFrom = c.offset;
    // The file's first bytes, for the fingerprint, taken before shipLines turns newlines into commas.
    const head = readFrom === 0 ? Buffer.from(buf.subarray(0, Math.min(end, HEAD_FINGERPRINT_BYTES))) : undefined;
    const outcome = await this.shipLines(r, buf, end, readFrom, c.path);
    r.bytesConsumed += outcome.consumed;
    c.offset += outcome.consumed;
    const next = await this.withHead(fh, c, head);
    if (outcome.failed) return { cursor: next, finished: false, stop: true };
    const finished = c.offset >= size;
    return { cursor: next, finished, stop: !finished };
  }

  /** Updates the head fingerprint while the cursor is still within the first bytes of the file. */
  private async withHead(fh: FileHandle, c: TailCursor, fromZero?: Buffer): Promise<TailCursor> {
    const want = Math.min(c.offset, HEAD_FINGERPRINT_BYTES);
    if (want <= c.headBytes) return c;
    const hash = fromZero !== undefined && fromZero.length >= want ? sha256(fromZero.subarray(0, want)) : await headHash(fh, want);
    return { ...c, headBytes: want, headHash: hash };
  }

  private async skipToNewline(
    fh: FileHandle,
    from: number,
    size: number,
    budget: { left: number },
  ): Promise<{ found: boolean; next: number; scanned: number }> {
    const chunk = Buffer.allocUnsafe(SKIP_CHUNK_BYTES);
    let pos = from;
    let scanned = 0;
    while (pos < size && budget.left > 0) {
      const want = Math.min(SKIP_CHUNK_BYTES, size - pos, budget.left);
      const got = await readAt(fh, chunk, want, pos);
      if (got === 0) break;
      budget.left -= got;
      scanned += got;
      const nl = chunk.subarray(0, got).indexOf(10);
      if (nl !== -1) return { found: true, next: pos + nl + 1, scanned };
      pos += got;
    }
    return { found: false, next: pos, scanned };
  }

  /**
   * Ships each complete line of `buf[0, end)` in order; lines that do not look like audit events
   * are checked first and passed over when unusable. Returns the bytes the cursor may move past:
   * everything up to the first event the ingest did not accept.
   */
  private async shipLines(
    r: PollResult,
    buf: Buffer,
    end: number,
    base: number,
    file: string,
  ): Promise<{ consumed: number; failed: boolean }> {
    let lines: OutgoingLine[] = [];
    const high: { line: OutgoingLine; event: AuditEvent }[] = [];
    const wantAlerts = this.opts.alerts !== undefined;
    let invalidLogged = 0;
    const passOver = (offset: number, reason: string, auditID?: string): void => {
      r.invalid++;
      if (invalidLogged++ < INVALID_LINES_LOGGED) {
        this.log({ level: 'warn', msg: 'line passed over', reason, file, offset, ...(auditID === undefined ? {} : { auditID }) });
      }
    };
    // Lines are sent as the bytes read, which is what the file says when they are valid UTF-8 (one
    // check of the whole read, the usual case). Otherwise a line that is not valid UTF-8 goes out
    // as its decoded text, with replacement characters, as the ingest would read it anyway.
    const looksLikeAuditLine = auditLineShape(buf, end);
    let s = 0;
    while (s < end) {
      let nl = buf.indexOf(10, s);
      if (nl === -1 || nl > end) nl = end;
      let e = nl;
      if (e > s && buf[e - 1] === 13) e--;
      const offset = base + s;
      const lineStart = s;
      s = nl + 1;
      if (e === lineStart) continue;
      // Alerts need each event parsed (its severity); without them, a line shaped like an audit
      // line goes out as it is and the ingest's parse is the check.
      const optimistic = !wantAlerts && looksLikeAuditLine(lineStart, e);
      const bytes = buf.subarray(lineStart, e);
      let data: EventText = isUtf8(bytes) ? bytes : bytes.toString('utf8');
      let event: AuditEvent | undefined;
      if (!optimistic) {
        const text = typeof data === 'string' ? data : bytes.toString('utf8');
        if (text.trim() === '') continue;
        const checked = checkLine(text);
        if (checked.event === undefined) {
          r.lines++;
          passOver(offset, checked.reason, checked.auditID);
          continue;
        }
        event = checked.event;
        if (typeof data === 'string') data = text;
      }
      r.lines++;
      if (this.opts.isOversize?.(data, e - lineStart)) {
        r.oversizeEvents++;
        this.log({
          level: 'warn',
          msg: 'event is larger than one request body may be; passed over',
          file,
          offset,
          auditID: event?.auditID ?? readAuditId(lineText(data)),
          bytes: e - lineStart,
        });
        continue;
      }
      const line: OutgoingLine = { data, offset, checked: !optimistic };
      if (wantAlerts && event !== undefined && decideEventSeverity(event).severity === 'high') high.push({ line, event });
      lines.push(line);
    }
    if (lines.length === 0) {
      this.logNotLogged(file, invalidLogged);
      return { consumed: end, failed: false };
    }
    joinAdjacent(buf, lines);

    let settled = await this.shipAll(lines);
    if (settled.firstReason?.status === 400 && lines.slice(settled.accepted).some((l) => !l.checked)) {
      // A 400 for a batch holding lines shipped unchecked: most likely one of them is not JSON,
      // which makes the whole EventList unreadable. Check them now, pass over the bad ones and
      // send the rest again; a second 400 is about the request itself and stops the poll.
      const from = settled.accepted;
      const rest: OutgoingLine[] = [];
      for (const line of lines.slice(from)) {
        if (!line.checked) {
          const checked = checkLine(lineText(line.data));
          if (checked.event === undefined) {
            passOver(line.offset, checked.reason, checked.auditID);
            continue;
          }
          line.checked = true;
        }
        rest.push(line);
      }
      if (rest.length < lines.length - from) {
        this.log({
          level: 'warn',
          msg: 'the ingest answered 400 for a batch holding lines that are not audit events; passed over them and sent the rest again',
          file,
          passed_over: lines.length - from - rest.length,
        });
        const again = await this.shipAll(rest);
        const tooLarge = new Set([...settled.tooLarge].filter((i) => i < from));
        for (const i of again.tooLarge) tooLarge.add(from + i);
        settled = {
          accepted: from + again.accepted,
          firstReason: again.firstReason,
          tooLarge,
          rejected: settled.rejected + again.rejected,
        };
        lines = [...lines.slice(0, from), ...rest];
      }
    }
    this.logNotLogged(file, invalidLogged);
    if (lines.length === 0) return { consumed: end, failed: false };

    const { accepted, firstReason, tooLarge } = settled;
    let refused = 0;
    for (const i of tooLarge) {
      if (i >= accepted) continue;
      refused++;
      r.oversizeEvents++;
      this.log({
        level: 'warn',
        msg: 'the ingest refused an event as too large (413); passed over',
        file,
        offset: lines[i]?.offset,
        bytes: eventBytes((lines[i] as OutgoingLine).data),
      });
    }
    // Items the ingest rejected one by one were shipped unchecked and are not usable events:
    // counted as invalid (lib/ship logged the ingest's reasons), not as delivered.
    r.invalid += settled.rejected;
    r.delivered += accepted - refused - settled.rejected;
    if (wantAlerts) {
      const skipped = new Set([...tooLarge].map((i) => lines[i]));
      const delivered = new Set(lines.slice(0, accepted));
      this.collectAlerts(
        r,
        high.filter((h) => delivered.has(h.line) && !skipped.has(h.line)).map((h) => h.event),
      );
    }
    if (accepted === lines.length) return { consumed: end, failed: false };

    r.undelivered += lines.length - accepted;
    const stoppedAt = (lines[accepted] as OutgoingLine).offset;
    r.error = `the ingest did not accept ${lines.length - accepted} event(s) from ${file} at byte ${stoppedAt}: ${firstReason?.reason ?? 'unknown'}${
      firstReason?.status === undefined ? '' : ` (HTTP ${firstReason.status})`
    }`;
    this.log({
      level: 'error',
      msg: 'delivery stopped; the cursor stays before the first event not accepted',
      file,
      offset: stoppedAt,
      error: r.error,
    });
    return { consumed: stoppedAt - base, failed: true };
  }

  private logNotLogged(file: string, invalidLogged: number): void {
    if (invalidLogged > INVALID_LINES_LOGGED) {
      this.log({ level: 'warn', msg: 'more lines passed over than logged', file, not_logged: invalidLogged - INVALID_LINES_LOGGED });
    }
  }

  /**
   * Ships the lines and reads back how far delivery got: the first line not accepted, except lines
   * the ingest refused as too large on their own (413 for a single event), which no resend can deliver.
   */
  private async shipAll(lines: readonly OutgoingLine[]): Promise<Settled> {
    let accepted = lines.length;
    let firstReason: Settled['firstReason'] = null;
    const tooLarge = new Set<number>();
    let rejected = 0;
    try {
      const res = await this.opts.ship(lines.map((l) => l.data));
      for (const f of res.failed) {
        if (f.status === 413 && f.retryable === false) {
          tooLarge.add(f.index);
          continue;
        }
        if (f.index < accepted) {
          accepted = f.index;
          firstReason = { reason: f.reason, ...(f.status === undefined ? {} : { status: f.status }) };
        }
      }
      if (res.failed.length === 0 && res.delivered < lines.length) {
        accepted = res.delivered;
        firstReason = { reason: 'the ingest did not confirm these events' };
      }
      rejected = res.rejected ?? 0;
    } catch (err) {
      accepted = 0;
      firstReason = { reason: (err as Error).message };
    }
    return { accepted, firstReason, tooLarge, rejected };
  }

  private collectAlerts(r: PollResult, delivered: readonly AuditEvent[]): void {
    const ctx = {
      ...(this.opts.alerts as { tenantId: string | null; clusterName: string | null }),
      receivedAt: this.now(),
      source: { platform: 'kubernetes' as const },
    };
    for (const event of delivered) {
      const record = normaliseAuditEvent(event, ctx);
      if (record.severity === 'high') r.alerts.push(record);
    }
  }
}
