import { MAX_RECORD_DEPTH } from './depth.js';
import {
  BACKSLASH,
  CLOSE_ARRAY,
  CLOSE_OBJECT,
  COLON,
  COMMA,
  type DepthOut,
  OPEN_ARRAY,
  OPEN_OBJECT,
  QUOTE,
  skipContainer,
  skipString,
  skipValue,
  skipWs,
} from './json-bytes.js';

// In unicode mode a surrogate pair is one code point above the range: this finds lone ones only.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * The source text of each item of an EventList's top-level `items` array, for a document
 * `JSON.parse` already accepted as text, so a record can carry an event's text instead of
 * serialising the event again (a third of the cost of serialising a record). `count` is the
 * length of the parsed `items`. An item nested deeper than `maxDepth` gets `undefined`, so it
 * takes the path that cuts what JSON.stringify cannot write. Returns null whenever the texts
 * cannot be vouched for (see `eventListLayout`; also a text with a lone surrogate, which has no
 * UTF-8 form, or a count that differs from the parsed one).
 */
export function eventListItemTexts(text: string, count: number, maxDepth = MAX_RECORD_DEPTH): (string | undefined)[] | null {
  if (LONE_SURROGATE.test(text)) return null;
  const bytes = Buffer.from(text, 'utf8');
  const layout = eventListLayout(bytes, 0, maxDepth);
  if (layout === null || layout.deep.length !== count) return null;
  const { ranges, deep } = layout;
  return deep.map((d, k) => (d ? undefined : bytes.toString('utf8', ranges[2 * k], ranges[2 * k + 1])));
}

/**
 * Whether a JSON text (one `JSON.parse` accepted) nests objects and arrays deeper than `maxDepth`:
 * such a document is serialised through the path that cuts it, never copied as its text.
 */
export function nestsDeeperThan(text: string, maxDepth = MAX_RECORD_DEPTH): boolean {
  const n = text.length;
  let depth = 0;
  let pos = 0;
  while (pos < n) {
    const quote = text.indexOf('"', pos);
    const stop = quote === -1 ? n : quote;
    for (let j = pos; j < stop; j++) {
      const c = text.charCodeAt(j);
      if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        if (++depth > maxDepth) return true;
      } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) depth--;
    }
    if (quote === -1) break;
    let end = quote + 1;
    for (;;) {
      end = text.indexOf('"', end);
      if (end === -1) return false;
      let slashes = 0;
      while (text.charCodeAt(end - 1 - slashes) === BACKSLASH) slashes++;
      if (slashes % 2 === 0) break;
      end++;
    }
    pos = end + 1;
  }
  return false;
}

/** Where an EventList's `items` sit in its bytes: the array's brackets and each item's range. */
export interface EventListLayout {
  /** Offset of the `[` that opens `items`, and of the `]` that closes it. */
  open: number;
  close: number;
  /** `[start, end)` byte offsets of each item, two numbers an item. */
  ranges: number[];
  /** Items nested deeper than the depth limit (by position). */
  deep: boolean[];
}

/**
 * The layout of an EventList read straight from its bytes, so the ingest never builds the whole
 * body as one string: decoding 757 KiB at once costs more than parsing it (a fresh large-object
 * allocation, every page of it faulted in), where each item's few KiB come from the young
 * generation. It vouches only for the structure it sees: the top level is one object followed by
 * whitespace, whose keys are written without escapes, with exactly one `items` key holding an
 * array of objects separated by single commas. Anything else gives null, and the caller takes
 * the path that decodes and parses the whole document (same answers, same error messages).
 * Whether each item and the rest of the envelope are JSON is for the caller's `JSON.parse` of
 * each range.
 */
export function eventListLayout(bytes: Uint8Array, start: number, maxDepth = MAX_RECORD_DEPTH): EventListLayout | null {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = skipWs(buf, start);
  if (buf[pos] !== OPEN_OBJECT) return null;
  pos = skipWs(buf, pos + 1);
  let open = -1;
  let close = -1;
  const ranges: number[] = [];
  const deep: boolean[] = [];
  const depth: DepthOut = { maxDepth: 0 };
  if (buf[pos] === CLOSE_OBJECT) return null;
  for (;;) {
    if (buf[pos] !== QUOTE) return null;
    const keyEnd = skipString(buf, pos);
    if (keyEnd === -1) return null;
    const key = buf.toString('latin1', pos + 1, keyEnd - 1);
    if (key.includes('\\')) return null;
    pos = skipWs(buf, keyEnd);
    if (buf[pos] !== COLON) return null;
    pos = skipWs(buf, pos + 1);
    if (key === 'items' && buf[pos] === OPEN_ARRAY) {
      // A second `items`: JSON.parse keeps the last; leave that to it.
      if (open !== -1) return null;
      open = pos;
      pos = skipWs(buf, pos + 1);
      if (buf[pos] !== CLOSE_ARRAY) {
        for (;;) {
          if (buf[pos] !== OPEN_OBJECT) return null; // a scalar, string or array as an item
          const end = skipContainer(buf, pos, depth);
          if (end === -1) return null;
          ranges.push(pos, end);
          deep.push(depth.maxDepth > maxDepth);
          pos = skipWs(buf, end);
          if (buf[pos] === CLOSE_ARRAY) break;
          if (buf[pos] !== COMMA) return null;
          pos = skipWs(buf, pos + 1);
        }
      }
      close = pos;
      pos++;
    } else {
      pos = skipValue(buf, pos);
      if (pos === -1) return null;
    }
    pos = skipWs(buf, pos);
    if (buf[pos] === CLOSE_OBJECT) break;
    if (buf[pos] !== COMMA) return null;
    pos = skipWs(buf, pos + 1);
  }
  if (open === -1 || skipWs(buf, pos + 1) !== buf.length) return null;
  return { open, close, ranges, deep };
}
