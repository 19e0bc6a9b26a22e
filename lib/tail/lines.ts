import { isUtf8 } from 'node:buffer';
import type { AuditEvent } from '../audit/index.js';
import {
  looksLikeLegacyLine,
  NEITHER_JSON_NOR_LEGACY,
  readAuditLine,
  readLegacyLine,
  type SalvagedLine,
  salvageCutLine,
  scrubJwtText,
  validateAuditEvent,
} from '../audit/index.js';
import { isJsonObject } from '../json.js';
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
const KEY_LENGTH = AUDIT_ID_KEY.length;
const KEY_LAST = KEY_LENGTH - 1;
/**
 * Horspool's shift for each byte that ends a window: how far the key may move so that byte meets
 * its last other occurrence in the key, or the whole key length for a byte the key does not hold.
 */
const KEY_SHIFT = (() => {
  const shift = new Uint8Array(256).fill(KEY_LENGTH);
  for (let k = 0; k < KEY_LAST; k++) shift[AUDIT_ID_KEY[k] as number] = KEY_LAST - k;
  return shift;
})();

/**
 * Whether `"auditID"` starts within AUDIT_ID_WITHIN bytes of `start` and ends by `end`. A
 * Horspool search written out in JavaScript: ~10 windows for a key ~70 bytes in, where a
 * `Buffer.indexOf` per line cost ~0.2 µs of call overhead each (a fifth of a poll's splitting).
 */
function hasAuditIdKey(buf: Buffer, start: number, end: number): boolean {
  const lastStart = Math.min(start + AUDIT_ID_WITHIN, end - KEY_LENGTH);
  let at = start;
  while (at <= lastStart) {
    const tail = buf[at + KEY_LAST] as number;
    if (tail === 0x22) {
      let k = KEY_LAST - 1;
      while (k >= 0 && buf[at + k] === AUDIT_ID_KEY[k]) k--;
      if (k < 0) return true;
    }
    at += KEY_SHIFT[tail] as number;
  }
  return false;
}

/**
 * Whether a line has the shape of an apiserver audit line: one JSON object (`{` … `}`) with an
 * `"auditID"` key near its start. Such lines are shipped without parsing them here (parsing is
 * 80 % of a poll's work, and the ingest parses them anyway); a line that is not what it looks
 * like comes back as a per-item rejection or, when it is not JSON, as a 400 for its batch, and is
 * then checked and passed over (lib/tail/deliver.ts). Anything else is checked before it is sent.
 * Looks at the bytes of the line only: nothing is decoded for it.
 */
function looksLikeAuditLine(buf: Buffer, start: number, end: number): boolean {
  return buf[start] === OPEN_BRACE && buf[end - 1] === CLOSE_BRACE && !startsEventList(buf, start, end) && hasAuditIdKey(buf, start, end);
}

// How a compact EventList starts as the tools that write one order its keys: Go's encoding/json
// (kubectl, the apiserver: kind first) and a sorted writer (`jq -S`, Python's sort_keys: apiVersion,
// then items).
const EVENT_LIST_STARTS = [
  '{"kind":"EventList"',
  '{"apiVersion":"audit.k8s.io/v1","items":[',
  '{"apiVersion":"audit.k8s.io/v1beta1","items":[',
].map((p) => Buffer.from(p, 'latin1'));

function startsWith(buf: Buffer, start: number, end: number, prefix: Buffer): boolean {
  return end - start >= prefix.length && buf.compare(prefix, 0, prefix.length, start, start + prefix.length) === 0;
}

/**
 * Whether a line starts as a compact EventList does: its events are read out of it, not shipped as
 * one. An event line differs within its first bytes (`{"kind":"Event"` at byte 14; `{"annotations"`
 * or `{"apiVersion"` then `"auditID"` at byte 2 and 32), so this costs a comparison or two per line.
 * A list with its keys in another order is parsed by the ingest, which refuses it as an item.
 */
function startsEventList(buf: Buffer, start: number, end: number): boolean {
  if (buf[start + 14] === 0x4c) return startsWith(buf, start, end, EVENT_LIST_STARTS[0] as Buffer);
  if (buf[start + 3] !== 0x70) return false; // "p" of "apiVersion"
  return startsWith(buf, start, end, EVENT_LIST_STARTS[1] as Buffer) || startsWith(buf, start, end, EVENT_LIST_STARTS[2] as Buffer);
}

/**
 * A line's event; the items of an EventList or a JSON array on one line (the NDJSON reader takes
 * those too); or why it cannot be delivered (not JSON, not an audit Event).
 */
export type LineCheck =
  | { event: AuditEvent; items?: undefined }
  | { event?: undefined; items: readonly unknown[]; unreadable?: string }
  | { event?: undefined; items?: undefined; reason: string; auditID?: string };

/**
 * The items of an EventList or array on one line: each event goes out on its own, re-serialised,
 * at the line's offset; each item that is not an event is passed over with its reason, as the
 * NDJSON reader rejects it.
 */
export function listedLines(
  items: readonly unknown[],
  offset: number,
  unreadable?: string,
): { lines: OutgoingLine[]; skipped: InvalidLine[] } {
  const lines: OutgoingLine[] = [];
  const skipped: InvalidLine[] = [];
  if (unreadable !== undefined) skipped.push({ kind: 'invalid', offset, reason: unreadable });
  for (const item of items) {
    const v = validateAuditEvent(item);
    if (v.ok) lines.push({ data: JSON.stringify(item), offset, event: v.event });
    else {
      const reason = `not a valid audit event (an item of a list on the line): ${v.reason}`;
      skipped.push(v.auditID === undefined ? { kind: 'invalid', offset, reason } : { kind: 'invalid', offset, reason, auditID: v.auditID });
    }
  }
  return { lines, skipped };
}

// kube-apiserver's log backend writes each Event on a line of its own. A writer killed mid-line
// (OOM, SIGKILL) leaves that line unfinished, and its next life opens the same file to append: its
// first event then follows the cut bytes on the same line, which is no JSON. Both are read out of
// it, not passed over: the event after the cut whole, and the cut one salvaged as any cut line is
// (lib/audit `salvageCutLine`, flagged truncated; no timestamps invented, so a resend is a repeat).
// An event starts as the apiserver writes it (Go's encoding/json, struct order: kind, then
// apiVersion) or as a writer with sorted keys does (annotations first, or apiVersion when there
// are none); the first such start after the cut whose rest reads as one event is taken, trying at
// most a few (the same text also opens objects inside a body). Only a line that does not parse
// pays for the search.
const EVENT_STARTS = ['{"kind":"Event","apiVersion":"audit.k8s.io/', '{"apiVersion":"audit.k8s.io/', '{"annotations":{'];
const MAX_GLUE_TRIES = 16;

function unglued(text: string): LineCheck | null {
  let from = 1;
  for (let tries = 0; tries < MAX_GLUE_TRIES; tries++) {
    let at = -1;
    for (const start of EVENT_STARTS) {
      const i = text.indexOf(start, from);
      if (i !== -1 && (at === -1 || i < at)) at = i;
    }
    if (at === -1) return null;
    const after = readAuditLine(text.slice(at));
    if (after.kind === 'event') {
      const cut = salvageCutLine(Buffer.from(text.slice(0, at), 'utf8'), null);
      if (cut !== null) return { items: [JSON.parse(cut.text) as unknown, after.event] };
      return {
        items: [after.event],
        unreadable: 'line is not JSON: bytes a writer did not finish, with no auditID, before an event appended to them',
      };
    }
    from = at + 1;
  }
  return null;
}

/**
 * A line that is not JSON: a kube-apiserver legacy audit line (`--audit-log-format=legacy`, read
 * into an Event and shipped as JSON, lib/audit/legacy.ts), or why it is passed over: a JSON line
 * cut off, or text that is neither format. Only lines that failed JSON.parse get here, so JSON
 * files pay nothing for it.
 */
function notJson(text: string): LineCheck {
  const line = text.trim();
  if (looksLikeLegacyLine(line)) {
    const read = readLegacyLine(line);
    if (read.kind === 'event') return { items: [read.event] };
    if (read.kind === 'response') {
      return {
        reason: `a legacy response line (id ${scrubJwtText(read.auditID)}, code ${read.code}): its request line is the event`,
        auditID: scrubJwtText(read.auditID),
      };
    }
    return read.auditID === undefined ? { reason: read.reason } : { reason: read.reason, auditID: read.auditID };
  }
  return line.startsWith('{') || line.startsWith('[') ? { reason: 'line is not JSON' } : { reason: NEITHER_JSON_NOR_LEGACY };
}

/** Checks one line with lib/audit's line check, in the words the tailer logs. */
export function checkLine(text: string): LineCheck {
  const read = readAuditLine(text);
  if (read.kind === 'event') return { event: read.event };
  if (read.kind === 'not-json') return unglued(text) ?? notJson(text);
  const v = read.value;
  if (Array.isArray(v)) return { items: v };
  if (isJsonObject(v) && v.kind === 'EventList' && Array.isArray(v.items)) return { items: v.items };
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

/** A line (or an item of a list on one) passed over as not an audit event, and why. */
export type InvalidLine = { kind: 'invalid'; offset: number; reason: string; auditID?: string };

/** A complete line passed over before shipping, and why: not an audit event, or too large for any body. */
export type SkippedLine = InvalidLine | OversizeLine;

/** A line over the shipper's body cap: left out of the batches and sent on its own (lib/tail/deliver.ts). */
export type OversizeLine = { kind: 'oversize'; offset: number; bytes: number; data: EventText; auditID?: string };

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
  // Lines end at `\n`, which never falls inside a UTF-8 sequence: when the read is valid UTF-8 so
  // is every line, and one check of the whole read (~0.1 ms for 8 MiB) replaces one per line (~1 ms).
  const allUtf8 = isUtf8(buf.subarray(0, end));
  const memory = buf.buffer;
  const at = buf.byteOffset;
  let s = 0;
  while (s < end) {
    let nl = buf.indexOf(NEWLINE, s);
    if (nl === -1 || nl > end) nl = end;
    let e = nl;
    if (e > s && buf[e - 1] === CARRIAGE_RETURN) e--;
    const offset = base + s;
    let lineStart = s;
    s = nl + 1;
    // NUL bytes before a line are what a crash leaves where writes were lost (ext4 allocates the
    // blocks of an append before their data lands); the apiserver then appends after them. A UTF-8
    // byte order mark is what an editor or a copy tool may put at a file's start. Neither is the
    // line's: both are left out, as the ingest's NDJSON reader leaves out the mark.
    while (lineStart < e && buf[lineStart] === 0) lineStart++;
    if (e - lineStart >= 3 && buf[lineStart] === 0xef && buf[lineStart + 1] === 0xbb && buf[lineStart + 2] === 0xbf) lineStart += 3;
    if (e === lineStart) continue;
    const optimistic = !opts.checkAll && looksLikeAuditLine(buf, lineStart, e);
    // A plain view of the read (a Buffer view costs twice as much to make, and nothing downstream
    // needs Buffer's methods on it).
    const bytes = new Uint8Array(memory, at + lineStart, e - lineStart);
    let data: EventText = allUtf8 || isUtf8(bytes) ? bytes : eventString(bytes);
    let event: AuditEvent | undefined;
    if (!optimistic) {
      const text = typeof data === 'string' ? data : eventString(bytes);
      if (text.trim() === '') continue;
      const checked = checkLine(text);
      count++;
      if (checked.items !== undefined) {
        const listed = listedLines(checked.items, offset, checked.unreadable);
        lines.push(...listed.lines);
        skipped.push(...listed.skipped);
        continue;
      }
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
      skipped.push({ kind: 'oversize', offset, bytes: e - lineStart, data, ...(auditID === undefined ? {} : { auditID }) });
      continue;
    }
    lines.push(event === undefined ? { data, offset } : { data, offset, event });
  }
  return { lines, skipped, count };
}

/**
 * The event the first bytes of a line longer than the per-poll cap hold (`buf`: the read, all of
 * it that one line), flagged truncated. The timestamps past the cut stay missing (the ingest
 * stamps its receive time): the tailer's clock would make each resend of the line (a delivery that
 * failed, a restart before the cursor moved) another event, where the same bytes give the same
 * event and the ingest drops the repeat. Null when those bytes hold no auditID (the line is then
 * passed over). NUL bytes and a byte order mark before the line are left out, as `splitLines`
 * leaves them out.
 */
export function salvageOverCapLine(buf: Buffer): SalvagedLine | null {
  let start = 0;
  while (start < buf.length && buf[start] === 0) start++;
  if (buf.length - start >= 3 && buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf) start += 3;
  return salvageCutLine(buf.subarray(start), null);
}

/**
 * Whether the bytes after the last `\n` of a rotated file (which no longer grows) are a line its
 * writer never finished: an apiserver killed mid-write, the file then rotated. Such bytes are not
 * JSON; a final line that is (an event, or a line that is JSON but no event) is complete all the
 * same and goes the usual way, as do blank bytes. NUL bytes and a byte order mark before it are
 * left out, as `splitLines` leaves them out. Looked at once per rotated file, never per line.
 */
export function isUnfinishedLine(piece: Buffer): boolean {
  let start = 0;
  while (start < piece.length && piece[start] === 0) start++;
  if (piece.length - start >= 3 && piece[start] === 0xef && piece[start + 1] === 0xbb && piece[start + 2] === 0xbf) start += 3;
  const text = piece.toString('utf8', start);
  // A legacy line that reads whole is a complete line (lib/audit/legacy.ts), not JSON all the same.
  return text.trim() !== '' && readAuditLine(text).kind === 'not-json' && readLegacyLine(text.trim()).kind !== 'event';
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
  // The typed-array getters are read once per line (they are a fair part of this walk's cost).
  const memory = buf.buffer;
  const base = buf.byteOffset;
  /** Where in `buf` the previous line ends when it is a view of `buf`; -1 when it is not. */
  let previousEnd = -1;
  for (let k = 0; k < lines.length; k++) {
    const e = events[k] as EventText;
    if (typeof e === 'string' || e.buffer !== memory) {
      previousEnd = -1;
      continue;
    }
    const start = e.byteOffset - base;
    if (previousEnd !== -1 && start === previousEnd + 1) {
      if (buf[previousEnd] === NEWLINE) buf[previousEnd] = COMMA;
      joined[k] = buf[previousEnd] === COMMA;
    }
    previousEnd = start + e.length;
  }
  return { events, joined };
}
