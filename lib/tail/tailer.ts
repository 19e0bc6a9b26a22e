import { type FileHandle, open } from 'node:fs/promises';
import { basename } from 'node:path';
import { TRUNCATED_ANNOTATION } from '../audit/index.js';
import type { EventText } from '../ship/index.js';
import { type PreparedCursor, prepareCursor, readCursor, removeStaleTemps, type TailCursor, writeCursor } from './cursor.js';
import { type AlertsContext, alertOfSent, deliverLines, deliverSalvaged, type TailShipFn } from './deliver.js';
import {
  describeOpenError,
  errCode,
  findCopy,
  findRenumbered,
  freshCursor,
  HEAD_FINGERPRINT_BYTES,
  readRange,
  sameHead,
  skipToNewline,
  withHead,
} from './file.js';
import { isUnfinishedLine, salvageOverCapLine, splitLines } from './lines.js';
import { type CursorLock, lockCursor } from './lock.js';
import { emptyPoll, type PollPart, type PollResult, withPart } from './poll.js';
import { type BackupFile, filesBeside, listBackups, rotatedAfter, startsLikeAuditLog } from './rotation.js';

// The cursor loop of file_tail mode. The pieces it drives each have a file of their own: reading
// the audit log (file.ts), splitting a read into lines (lines.ts, pure) and delivering them through
// lib/ship (deliver.ts).

export interface TailerOptions {
  /** The audit log (`--audit-log-path` of the apiserver). */
  logPath: string;
  /** Where the byte cursor is kept (default `<logPath>.aisoc-cursor`). */
  cursorPath: string;
  /** Bytes read per poll at most (memory bound); of a line longer than this only the event its first bytes hold is delivered. */
  maxBytes: number;
  ship: TailShipFn;
  /**
   * True for an event that does not fit one batch body (the shipper's byte cap): such a line is
   * left out of the batches and sent on its own (lib/tail/deliver.ts), never passed over for it.
   */
  isOversize?: (line: EventText, bytes: number) => boolean;
  /** Structured log lines (never given a token: the tailer does not hold one). */
  log?: (entry: Record<string, unknown>) => void;
  now?: () => number;
  /** When set, each poll returns the high-severity events it delivered, normalised (PULL_ALERTS). */
  alerts?: AlertsContext;
}

/** Where reading one file got to. */
interface Segment {
  cursor: TailCursor;
  /** The file was read to its end (for a rotated backup: nothing more will come). */
  finished: boolean;
  /** Nothing more can be done this poll (ingest failed, budget spent). */
  stop: boolean;
  /** Set when `cursor` is already written to its temp file, prepared while the lines were delivered (see `save`). */
  prepared?: PreparedCursor;
}

/** A poll's steps: each yields its part of the result and returns what the next step needs. */
type Steps<T> = AsyncGenerator<PollPart, T, undefined>;

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
  /**
   * The read buffer, kept from poll to poll (grown to the largest read, at most `maxBytes`): a new
   * 8 MiB buffer per poll cost its page faults on every read (~0.15 ms of a 7 ms poll) and left the
   * garbage collector 8 MiB to reclaim. Reuse is safe because nothing outlives a read's delivery:
   * lib/ship returns only once every request it started has finished, the head fingerprint is
   * copied, and alerts are normalised from parsed events.
   */
  private readBuffer: Buffer | null = null;
  /** Whether the temp files a killed predecessor left beside the cursor were cleared (first poll). */
  private tempsCleared = false;
  /** This tailer's hold on the cursor (`claim`), taken before its first read. */
  private lock: CursorLock | null = null;

  constructor(private readonly opts: TailerOptions) {
    this.log = opts.log ?? (() => undefined);
    this.now = opts.now ?? Date.now;
  }

  /**
   * Runs one poll: read at most `maxBytes` from the cursor, ship complete lines, save the cursor.
   * A poll asked for while one runs starts when it has finished: two at once would read the same
   * cursor and ship the same lines, and would share the read buffer.
   */
  poll(): Promise<PollResult> {
    const next = this.queue.then(() => this.pollOnce());
    this.queue = next.then(() => undefined);
    return next;
  }

  /**
   * Takes the cursor for this tailer (a lock file beside it naming this process): null when it
   * is ours, else the error naming the process that holds it, which must be stopped first. Every
   * poll claims it before reading; a command calls this at its start to refuse at once.
   */
  async claim(): Promise<string | null> {
    if (this.lock?.held === true) return null;
    try {
      this.lock = await lockCursor(this.opts.cursorPath);
    } catch (err) {
      // The cursor's directory is missing or read-only: saving the cursor will fail and say so;
      // a lock that cannot be written is not a reason to read nothing. Tried again next poll.
      this.lock = null;
      this.log({
        level: 'warn',
        msg: 'cannot write the cursor lock; another tailer on this cursor would go unnoticed',
        cursor_path: this.opts.cursorPath,
        error: errCode(err),
      });
      return null;
    }
    if (this.lock.held) return null;
    return `another tailer (pid ${this.lock.pid}) is reading the cursor ${this.opts.cursorPath}: one cursor has one tailer (two send each other's events again and undo each other's saves); stop pid ${this.lock.pid}, or give this tailer its own --cursor`;
  }

  /** Gives the cursor up (removes the lock), once no poll runs any more. */
  async close(): Promise<void> {
    await this.queue;
    if (this.lock?.held === true) await this.lock.release();
    this.lock = null;
  }

  /** The last poll asked for; the next one starts after it. `pollOnce` never rejects. */
  private queue: Promise<unknown> = Promise.resolve();

  private async pollOnce(): Promise<PollResult> {
    let r = emptyPoll(this.now());
    try {
      // Each part is added as soon as it is yielded, so a step that throws keeps what came before.
      for await (const part of this.steps()) r = withPart(r, part);
    } catch (err) {
      // Anything unexpected (EIO, a full disk for the cursor) ends this poll, never the process.
      if (r.error === null) {
        const error = `poll failed: ${errCode(err)}`;
        this.log({ level: 'error', msg: 'poll failed', error });
        r = withPart(r, { error });
      }
    }
    return { ...r, finishedAt: this.now(), complete: r.error === null && r.undelivered === 0 };
  }

  private async *steps(): Steps<void> {
    const { logPath, cursorPath } = this.opts;
    const refused = await this.claim();
    if (refused !== null) {
      this.log({
        level: 'error',
        msg: 'the cursor is held by another tailer; nothing read',
        cursor_path: cursorPath,
        pid: this.lock?.held === false ? this.lock.pid : undefined,
        error: refused,
      });
      yield { error: refused };
      return;
    }
    if (!this.tempsCleared) {
      this.tempsCleared = true;
      const { removed, otherWriters } = await removeStaleTemps(cursorPath);
      if (removed > 0)
        this.log({ level: 'info', msg: 'removed temp files a stopped tailer left beside the cursor', cursor_path: cursorPath, removed });
      if (otherWriters.length > 0) {
        this.log({
          level: 'error',
          msg: "another process is writing this cursor: one cursor path has one tailer (two send each other's events again and undo each other's saves); stop one, or give each its own --cursor",
          cursor_path: cursorPath,
          pids: otherWriters,
        });
      }
    }
    const found = await readCursor(cursorPath);
    const saved = found.state === 'ok' ? found.cursor : null;
    this.cursorNamed = found.state === 'ok';
    let reset = found.state !== 'ok';
    if (found.state === 'missing') yield { resets: ['missing-cursor'] };
    else if (found.state === 'corrupt') {
      this.log({
        level: 'error',
        msg: 'cursor file is unusable; restarting from offset 0 (the ingest drops repeated events as duplicates)',
        cursor_path: cursorPath,
        problem: found.problem,
      });
      yield { resets: ['corrupt-cursor'] };
    }
    yield { cursor: saved };

    let live: FileHandle;
    try {
      live = await open(logPath, 'r');
    } catch (err) {
      const error = describeOpenError(logPath, err);
      this.log({ level: 'error', msg: 'cannot open the audit log', error });
      yield { error };
      return;
    }
    try {
      const st = await live.stat({ bigint: true });
      if (!st.isFile()) {
        const error = `audit log path ${logPath} is not a regular file`;
        this.log({ level: 'error', msg: 'cannot read the audit log', error });
        yield { error };
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
        reset = true;
        yield { resets: ['rotated'] };
        const done = yield* this.finishRotated(cursor, budget, { dev, ino });
        if (!done) return;
        cursor = null;
      }

      let start = cursor ?? freshCursor(logPath, dev, ino);
      start = { ...start, path: logPath };
      const size = Number(st.size);
      const shrunk = start.offset > size;
      if (shrunk || (start.headBytes > 0 && !(await sameHead(live, start)))) {
        reset = true;
        yield { resets: ['truncated'] };
        // logrotate's copytruncate copies the file, then empties it: what was written since the
        // last poll is in the copy, which starts with the bytes the cursor's fingerprint covers.
        const beside = await this.#beside();
        const copy = await findCopy(beside, start, { dev, ino });
        if (copy !== -1) {
          const b = beside[copy] as BackupFile;
          this.log({
            level: 'info',
            msg: 'audit log was copied and truncated; finishing the copy first',
            path: logPath,
            copy: b.path,
            from_offset: start.offset,
          });
          // A copytruncate rotation more since the last poll left a newer copy too: read it before the emptied file.
          const copies = [b, ...(await this.#rotatedAfter(beside, b, { dev, ino }))];
          const done = yield* this.finishRotated({ ...start, path: b.path, dev: b.dev, ino: b.ino }, budget, { dev, ino }, copies);
          if (!done) return;
        } else {
          this.log({
            level: 'warn',
            msg: shrunk
              ? 'audit log is smaller than the cursor (truncated); reading from offset 0'
              : 'audit log was rewritten since the last poll (first bytes differ); reading from offset 0',
            path: logPath,
            cursor_offset: start.offset,
            ...(shrunk ? { size } : {}),
          });
        }
        start = freshCursor(logPath, dev, ino);
      }
      yield { files: [logPath] };
      const seg = yield* this.drain(live, start, budget, false);
      yield* this.save(seg, saved, reset);
    } finally {
      await live.close().catch(() => undefined);
    }
  }

  /**
   * The path names a new file: finish the file the cursor was on if it is still beside the path
   * under its backup name, then any later backups, oldest first. False when this poll must stop
   * there (budget spent, ingest failing); the saved cursor then still points into the backup.
   */
  private async *finishRotated(
    old: TailCursor,
    budget: { left: number },
    live: { dev: string; ino: string },
    /** The file the cursor was on and those rotated after it, when the caller found them already (copytruncate copies). */
    known?: BackupFile[],
  ): Steps<boolean> {
    const { backups, at } = known === undefined ? await this.#findPrevious(old, live) : { backups: known, at: 0 };
    if (at === -1) {
      this.log({
        level: 'warn',
        msg: 'audit log was rotated and the previous file is no longer beside it; starting the new file at offset 0',
        path: this.opts.logPath,
        previous_dev: old.dev,
        previous_ino: old.ino,
        previous_offset: old.offset,
      });
      yield { resets: ['rotated-old-missing'] };
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
        yield { files: [b.path] };
        const seg = yield* this.drain(fh, { ...cursor, path: b.path }, budget, true);
        yield* this.save(seg, old, true);
        if (!seg.finished || seg.stop) return false;
      } finally {
        await fh.close().catch(() => undefined);
      }
    }
    return true;
  }

  /** The backups beside the log, and which of them the cursor was on (-1 when none is). */
  async #findPrevious(old: TailCursor, live: { dev: string; ino: string }): Promise<{ backups: BackupFile[]; at: number }> {
    const backups = await listBackups(this.opts.logPath);
    let at = backups.findIndex((b) => b.dev === old.dev && b.ino === old.ino);
    if (at === -1) at = await findRenumbered(backups, old);
    if (at !== -1) return { backups, at };
    // Not an apiserver backup: logrotate's name for it (`audit.log.1`), a copytruncate copy, or a
    // re-pointed symlink's previous target. Found by what the cursor knows of it; the files rotated
    // after it (a second rotation between two polls) follow it, oldest first, then the live file.
    const beside = await this.#beside();
    let found = beside.findIndex((b) => b.dev === old.dev && b.ino === old.ino);
    if (found === -1) found = await findRenumbered(beside, old);
    if (found === -1) return { backups, at: -1 };
    const previous = beside[found] as BackupFile;
    return { backups: [previous, ...(await this.#rotatedAfter(beside, previous, live))], at: 0 };
  }

  /**
   * The files beside the log, without the tailer's own: its cursor (by default beside the log) and
   * the hidden temp and lock files next to it. Those are created after a rotation and can reuse the
   * inode of a deleted log, which would make one of them pass for the file the cursor was on.
   */
  async #beside(): Promise<BackupFile[]> {
    const own = basename(this.opts.cursorPath);
    return (await filesBeside(this.opts.logPath)).filter((f) => f.name !== own && !f.name.startsWith('.'));
  }

  /**
   * `rotatedAfter` for this tailer's log, leaving out its cursor file (by default it lies beside
   * the log) and files named like the log that do not start as one (`startsLikeAuditLog`).
   */
  async #rotatedAfter(beside: readonly BackupFile[], previous: BackupFile, live: { dev: string; ino: string }): Promise<BackupFile[]> {
    const after = rotatedAfter(beside, previous, this.opts.logPath, live, [basename(this.opts.cursorPath)]);
    const looks = await Promise.all(after.map((f) => startsLikeAuditLog(f.path)));
    return after.filter((_, i) => looks[i]);
  }

  /**
   * Writes the segment's cursor unless it is the one read at the start of the poll and nothing
   * was reset: put in place when `drain` prepared it while delivering, else written here. A
   * cursor that cannot be written ends the poll: the events delivered will be sent again.
   */
  private async *save(seg: Segment, previous: TailCursor | null, reset: boolean): Steps<void> {
    const { cursor: next, prepared } = seg;
    const unchanged =
      !reset &&
      previous !== null &&
      previous.dev === next.dev &&
      previous.ino === next.ino &&
      previous.offset === next.offset &&
      previous.skipping === next.skipping &&
      previous.headBytes === next.headBytes &&
      previous.headHash === next.headHash;
    if (unchanged) {
      await prepared?.abandon();
      yield { cursor: next };
      return;
    }
    const stamped = prepared?.cursor ?? { ...next, updatedAt: new Date(this.now()).toISOString() };
    try {
      if (prepared !== undefined) await prepared.commit({ replacing: this.cursorNamed });
      else await writeCursor(this.opts.cursorPath, stamped, { replacing: this.cursorNamed });
    } catch (err) {
      const error = `cannot save the cursor to ${this.opts.cursorPath} (${errCode(err)}); delivered events will be sent again`;
      this.log({ level: 'error', msg: 'cannot save the cursor', error });
      yield { cursor: next, error };
      throw Object.assign(new Error(error), { code: 'ECURSOR' });
    }
    this.cursorNamed = true;
    yield { cursor: stamped };
  }

  /**
   * The start of a line longer than the cap (`buf`, read at `c`), or the unfinished last line of a
   * rotated file (`cut` 'unfinished', `buf` all of it): the event it holds is delivered salvaged
   * (lib/audit `salvageCutLine`); with no auditID in it the line is only counted (in
   * `oversizeLines`, or for an unfinished line in `invalid`) and passed over. 'failed' when the ingest did not accept the event: the cursor stays before the
   * line and the next poll tries again (the ingest drops the repeat if this one did arrive).
   * Logs where the line is, its auditID and the bytes read of it, never its content.
   */
  private async *deliverOverCap(buf: Buffer, c: TailCursor, cut: 'over-cap' | 'unfinished' = 'over-cap'): Steps<'passed' | 'failed'> {
    const where =
      cut === 'over-cap'
        ? { file: c.path, offset: c.offset, cap_bytes: this.opts.maxBytes }
        : { file: c.path, offset: c.offset, bytes: buf.length };
    const what =
      cut === 'over-cap'
        ? 'line longer than the per-poll cap'
        : 'the rotated audit log ends in a line its writer did not finish (no newline, not JSON)';
    const salvaged = salvageOverCapLine(buf);
    if (salvaged === null) {
      this.log({ level: 'warn', msg: `${what}, with no auditID in its first bytes; passing over it`, ...where });
      // An unfinished line with no event in it is counted as the invalid lines are.
      yield cut === 'over-cap' ? { oversizeLines: 1 } : { invalid: 1 };
      return 'passed';
    }
    const about = {
      ...where,
      auditID: salvaged.auditID,
      ...(cut === 'over-cap' ? { bytes_at_least: buf.length } : {}),
      cut_in: salvaged.cutIn,
    };
    const out = await deliverSalvaged(salvaged.text, this.opts.ship);
    if (out.kind === 'failed') {
      const error = `the ingest did not accept the event salvaged from a ${cut === 'over-cap' ? 'line longer than the per-poll cap' : 'line its writer did not finish'} in ${c.path} at byte ${c.offset}: ${out.reason}${
        out.status === undefined ? '' : ` (HTTP ${out.status})`
      }`;
      this.log({ level: 'error', msg: 'delivery stopped; the cursor stays before the first event not accepted', ...about, error });
      yield { undelivered: 1, error };
      return 'failed';
    }
    if (out.kind === 'delivered') {
      this.log({
        level: 'warn',
        msg: `${what}; delivered the event its first bytes hold, annotated ${TRUNCATED_ANNOTATION}, and passing over the rest`,
        ...about,
      });
      // Its alert reaches fetch_alerts as a batched event's does, scored on what the ingest received.
      const alert = this.opts.alerts === undefined ? null : alertOfSent(out.sent, this.opts.alerts, this.now());
      yield { salvagedLines: 1, delivered: 1, ...(alert === null ? {} : { alerts: [alert] }) };
    } else {
      this.log({
        level: 'error',
        msg:
          out.kind === 'rejected'
            ? `${what}; the ingest rejected the event its first bytes hold; passing over it`
            : `${what}; the ingest would not take the event its first bytes hold even without its bodies; passing over it`,
        ...about,
        ...(out.reason === undefined ? {} : { reason: out.reason }),
      });
      yield cut === 'over-cap' ? { oversizeLines: 1 } : { invalid: 1 };
    }
    return 'passed';
  }

  /**
   * Reads one file forward from `cur` within the byte budget, ships its complete lines and
   * returns the advanced cursor. `final` marks a rotated file that no longer grows: its last
   * line counts as complete even without `\n`.
   */
  private async *drain(fh: FileHandle, cur: TailCursor, budget: { left: number }, final: boolean): Steps<Segment> {
    const size = Number((await fh.stat()).size);
    let c: TailCursor = { ...cur };
    if (c.offset > size) return { cursor: c, finished: true, stop: false };

    if (c.skipping) {
      const found = await skipToNewline(fh, c.offset, size, budget.left);
      budget.left -= found.scanned;
      yield { bytesRead: found.scanned, bytesConsumed: found.next - c.offset };
      c = { ...c, offset: found.next };
      if (!found.found) {
        if (final && c.offset >= size) return { cursor: await withHead(fh, c), finished: true, stop: false };
        yield { more: c.offset < size };
        return { cursor: c, finished: false, stop: true };
      }
      c = { ...c, skipping: false };
      this.log({
        level: 'warn',
        msg: 'passed over a line longer than the per-poll cap',
        file: c.path,
        resumed_at: c.offset,
        cap_bytes: this.opts.maxBytes,
      });
    }

    const available = size - c.offset;
    if (available <= 0) return { cursor: await withHead(fh, c), finished: true, stop: false };
    const toRead = Math.min(available, budget.left);
    if (toRead <= 0) {
      yield { more: true };
      return { cursor: c, finished: false, stop: true };
    }
    if (this.readBuffer === null || this.readBuffer.length < toRead) this.readBuffer = Buffer.allocUnsafe(toRead);
    const buf = await readRange(fh, c.offset, toRead, this.readBuffer);
    const got = buf.length;
    // Fewer bytes than stat said: the file was cut meanwhile; the next poll sees the new size.
    if (got === 0) return { cursor: c, finished: final, stop: true };
    budget.left -= got;
    yield { bytesRead: got };
    const atEof = c.offset + got >= size;

    let end = buf.lastIndexOf(10) + 1;
    // A rotated file no longer grows: its last line counts as complete without `\n`. Unless it is
    // not JSON: then its writer stopped mid-line (killed, then the file rotated), and the event its
    // bytes hold goes out salvaged as a cut line's does, after the lines before it (`unfinished`).
    let unfinished: Buffer | null = null;
    if (final && atEof && end < got) {
      if (isUnfinishedLine(buf.subarray(end, got))) unfinished = buf.subarray(end, got);
      else end = got;
    }
    if (end === 0 && unfinished === null) {
      if (got >= this.opts.maxBytes) {
        // One line fills the whole cap: it can never be read in one poll (memory stays bounded by
        // the cap). Its first bytes hold who did what to which object (the apiserver writes the
        // bodies last): that event goes out flagged truncated, then the rest of the line is passed
        // over (to its `\n`, possibly across polls) rather than leave the cursor stuck on it.
        const salvaged = yield* this.deliverOverCap(buf, c);
        if (salvaged === 'failed') return { cursor: c, finished: false, stop: true };
        yield { bytesConsumed: got, more: true };
        return { cursor: await withHead(fh, { ...c, offset: c.offset + got, skipping: true }), finished: false, stop: true };
      }
      yield atEof ? { heldBackBytes: got } : { more: true };
      return { cursor: c, finished: false, stop: true };
    }
    const through = unfinished === null ? end : got;
    yield atEof ? { heldBackBytes: got - through } : { more: true };

    // The file's first bytes, for the fingerprint, copied before the lines are joined with commas.
    const head = c.offset === 0 ? Buffer.from(buf.subarray(0, Math.min(through, HEAD_FINGERPRINT_BYTES))) : undefined;
    const split = splitLines(buf, end, c.offset, { checkAll: this.opts.alerts !== undefined, isOversize: this.opts.isOversize });
    // The cursor past every line of this read, written to its temp file while the lines go out:
    // when all are accepted (the usual case) `save` only renames it into place.
    const whole = await withHead(fh, { ...c, offset: c.offset + through }, head);
    const prepared = prepareCursor(this.opts.cursorPath, { ...whole, updatedAt: new Date(this.now()).toISOString() });
    let sent: Awaited<ReturnType<typeof deliverLines>>;
    try {
      sent = await deliverLines(split, {
        buf,
        end,
        base: c.offset,
        file: c.path,
        ship: this.opts.ship,
        log: this.log,
        alerts: this.opts.alerts,
        now: this.now,
      });
    } catch (err) {
      await prepared.abandon();
      throw err;
    }
    yield {
      lines: split.count,
      delivered: sent.delivered,
      invalid: sent.invalid,
      oversizeEvents: sent.oversizeEvents,
      truncatedEvents: sent.truncatedEvents,
      undelivered: sent.undelivered,
      bytesConsumed: sent.consumed,
      alerts: sent.alerts,
      ...(sent.error === null ? {} : { error: sent.error }),
    };
    c = { ...c, offset: c.offset + sent.consumed };
    if (!sent.failed && sent.consumed === end && unfinished !== null) {
      // Only once every line before it was accepted, so the cursor stays before it if it is not.
      if ((yield* this.deliverOverCap(unfinished, c, 'unfinished')) === 'passed') {
        c = { ...c, offset: c.offset + unfinished.length };
        yield { bytesConsumed: unfinished.length };
      }
    }
    if (sent.failed || c.offset !== whole.offset) {
      await prepared.abandon();
      const next = await withHead(fh, c, head);
      return { cursor: next, finished: false, stop: true };
    }
    const finished = c.offset >= size;
    return { cursor: prepared.cursor, prepared, finished, stop: !finished };
  }
}
