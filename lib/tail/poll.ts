import type { NormalisedRecord } from '../audit/index.js';
import type { TailCursor } from './cursor.js';

// What one poll of the tailer did, and how its steps' parts add up to it.

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
  /** Lines longer than the per-poll cap passed over with nothing delivered (no auditID in their first bytes, or refused by the ingest). */
  oversizeLines: number;
  /**
   * Lines longer than the per-poll cap whose first bytes' event was delivered flagged truncated,
   * the rest passed over, and unfinished last lines of rotated files delivered the same way
   * (counted in `delivered` too).
   */
  salvagedLines: number;
  /** Events the ingest would not take whole (over the body cap, or its 413) and that could not be delivered even without their bodies: passed over. */
  oversizeEvents: number;
  /** Events the ingest would not take whole, delivered without their request and response bodies (counted in `delivered` too). */
  truncatedEvents: number;
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

/**
 * What one step of a poll adds to its result: counts are summed, lists appended, `more` once true
 * stays true, and the latest cursor and error stand. Each step yields its own; only `poll` adds.
 */
export type PollPart = Partial<Omit<PollResult, 'startedAt' | 'finishedAt' | 'complete'>>;

const SUMMED = [
  'bytesRead',
  'bytesConsumed',
  'lines',
  'delivered',
  'invalid',
  'oversizeLines',
  'salvagedLines',
  'oversizeEvents',
  'truncatedEvents',
  'undelivered',
  'heldBackBytes',
] as const;

/** The result of a poll that has done nothing yet. */
export function emptyPoll(startedAt: number): PollResult {
  return {
    startedAt,
    finishedAt: 0,
    files: [],
    bytesRead: 0,
    bytesConsumed: 0,
    lines: 0,
    delivered: 0,
    invalid: 0,
    oversizeLines: 0,
    salvagedLines: 0,
    oversizeEvents: 0,
    truncatedEvents: 0,
    undelivered: 0,
    heldBackBytes: 0,
    more: false,
    resets: [],
    cursor: null,
    error: null,
    alerts: [],
    complete: false,
  };
}

/** The poll result with one step's part added (a new object; neither argument changes). */
export function withPart(r: PollResult, p: PollPart): PollResult {
  const next: PollResult = {
    ...r,
    files: p.files === undefined ? r.files : [...r.files, ...p.files],
    resets: p.resets === undefined ? r.resets : [...r.resets, ...p.resets],
    alerts: p.alerts === undefined || p.alerts.length === 0 ? r.alerts : [...r.alerts, ...p.alerts],
    more: r.more || p.more === true,
    cursor: p.cursor === undefined ? r.cursor : p.cursor,
    error: p.error ?? r.error,
  };
  for (const key of SUMMED) next[key] = r[key] + (p[key] ?? 0);
  return next;
}

/** The audit log as `tail --once` found it at its start: what it has to read before it exits. */
export interface FileAtStart {
  dev: string;
  ino: string;
  size: number;
}

/**
 * Whether `tail --once` goes on with another poll after `r`: the poll stopped at the byte cap
 * with more to read (a log over the cap, or a line longer than it followed by more lines), and
 * what the file held at the start is not read yet. Bounded by that size, so a writer appending
 * as fast as the tailer reads cannot keep `--once` running; a cursor on another file (a rotated
 * one being finished) has the live file still ahead of it.
 */
export function onceHasMore(r: PollResult, start: FileAtStart | null): boolean {
  if (!r.more || r.error !== null) return false;
  if (start === null || r.cursor === null) return true;
  return !(r.cursor.dev === start.dev && r.cursor.ino === start.ino && r.cursor.offset >= start.size);
}
