import { isUtf8 } from 'node:buffer';
import type { AuditEvent } from '../audit/index.js';
import { readAuditLine } from '../audit/index.js';
import { type EventText, eventString, type JoinedLines, readAuditId } from '../ship/index.js';

// Line splitting: pure functions over the bytes of one read (no files, no network), and the one
// place that writes into the read buffer (`joinLines`).

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const COMMA = 0x2c;
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
 * then checked and passed over (lib/tail/deliver.ts). Anything else is checked before it is sent.
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

/** A line's event, or why it cannot be delivered (not JSON, not an audit Event). */
export type LineCheck = { event: AuditEvent } | { event?: undefined; reason: string; auditID?: string };

/** Checks one line with lib/audit's line check, in the words the tailer logs. */
export function checkLine(text: string): LineCheck {
  const read = readAuditLine(text);
  if (read.kind === 'event') return { event: read.event };
  if (read.kind === 'not-json') return { reason: 'line is not JSON' };
  const reason = `not a valid audit event: ${read.reason}`;
  return read.auditID === undefined ? { reason } : { reason, auditID: read.auditID };
}

/**
 * One line on its way out: its bytes as they are in the file (a view into the poll's read buffer,
 * never copied or decoded unless it has to be looked at), where it starts in the file, and its
 * event when it was checked here (unchecked lines are left to the ingest's parse).
 */
export interface OutgoingLine {
  readonly data: EventText;
  readonly offset: number;
  readonly event?: AuditEvent;
}

/** A complete line passed over before shipping, and why: not an audit event, or too large for any body. */
export type SkippedLine =
  | { kind: 'invalid'; offset: number; reason: string; auditID?: string }
  | { kind: 'oversize'; offset: number; bytes: number; auditID?: string };

/** The complete lines of one read: those to ship and those passed over, each in file order. */
export interface SplitLines {
  lines: OutgoingLine[];
  skipped: SkippedLine[];
  /** Complete, non-empty lines (shipped or passed over). */
  count: number;
}

/** How to split: whether every line is checked here (alerts need each event), and the shipper's byte cap. */
export interface SplitOptions {
  checkAll: boolean;
  isOversize?: ((line: EventText, bytes: number) => boolean) | undefined;
}

/**
 * Splits `buf[0, end)` (whole lines read at file offset `base`) into lines: `\n` ends a line and
 * a `\r` before it is dropped; blank lines are skipped. Lines are the bytes read, which is what
 * the file says when they are valid UTF-8; a line that is not goes out as its decoded text, with
 * replacement characters, as the ingest would read it anyway. Lines shaped like audit lines are
 * not parsed unless `checkAll`; the others are checked and passed over when unusable.
 */
export function splitLines(buf: Buffer, end: number, base: number, opts: SplitOptions): SplitLines {
  const lines: OutgoingLine[] = [];
  const skipped: SkippedLine[] = [];
  let count = 0;
  const looksLikeAuditLine = auditLineShape(buf, end);
  let s = 0;
  while (s < end) {
    let nl = buf.indexOf(NEWLINE, s);
    if (nl === -1 || nl > end) nl = end;
    let e = nl;
    if (e > s && buf[e - 1] === CARRIAGE_RETURN) e--;
    const offset = base + s;
    const lineStart = s;
    s = nl + 1;
    if (e === lineStart) continue;
    const optimistic = !opts.checkAll && looksLikeAuditLine(lineStart, e);
    const bytes = buf.subarray(lineStart, e);
    let data: EventText = isUtf8(bytes) ? bytes : bytes.toString('utf8');
    let event: AuditEvent | undefined;
    if (!optimistic) {
      const text = typeof data === 'string' ? data : bytes.toString('utf8');
      if (text.trim() === '') continue;
      const checked = checkLine(text);
      count++;
      if (checked.event === undefined) {
        skipped.push({
          kind: 'invalid',
          offset,
          reason: checked.reason,
          ...(checked.auditID === undefined ? {} : { auditID: checked.auditID }),
        });
        continue;
      }
      event = checked.event;
      if (typeof data === 'string') data = text;
    } else count++;
    if (opts.isOversize?.(data, e - lineStart)) {
      const auditID = event?.auditID ?? readAuditId(eventString(data));
      skipped.push({ kind: 'oversize', offset, bytes: e - lineStart, ...(auditID === undefined ? {} : { auditID }) });
      continue;
    }
    lines.push(event === undefined ? { data, offset } : { data, offset, event });
  }
  return { lines, skipped, count };
}

/**
 * The lines as one `JoinedLines` for lib/ship. Where two lines that go out one after the other lie
 * one newline apart in `buf`, that newline is overwritten with a comma and the join is claimed:
 * lib/ship then sends the run as one view of `buf` inside the EventList envelope, byte for byte
 * the body it would build, instead of copying every line. This is the one write into the read
 * buffer, which is the poll's own: the lines' views do not cover the separators, and a caller that
 * still needs the bytes between lines (the head fingerprint) copies them first. Called again on
 * fewer lines (those left after the 400 re-check), it claims only the joins still adjacent.
 */
export function joinLines(buf: Buffer, lines: readonly OutgoingLine[]): JoinedLines {
  const events = lines.map((l) => l.data);
  const joined = new Array<boolean>(lines.length).fill(false);
  for (let k = 1; k < lines.length; k++) {
    const a = events[k - 1] as EventText;
    const b = events[k] as EventText;
    if (typeof a === 'string' || typeof b === 'string' || a.buffer !== buf.buffer || b.buffer !== buf.buffer) continue;
    const at = a.byteOffset - buf.byteOffset + a.length;
    if (b.byteOffset - buf.byteOffset !== at + 1) continue;
    if (buf[at] === NEWLINE) buf[at] = COMMA;
    joined[k] = buf[at] === COMMA;
  }
  return { events, joined };
}
