import { MAX_RECORD_DEPTH } from './depth.js';
import {
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
