import { MAX_RECORD_DEPTH } from './depth.js';

const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const SPACE = 0x20;
const QUOTE = 0x22;
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
      if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (++depth > maxDepth) return true;
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
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
 * generation. Structural bytes are ASCII and never occur inside a multi-byte UTF-8 sequence, so
 * the scan is exact on bytes. It vouches only for the structure it sees: the top level is one
 * object followed by whitespace, whose keys are written without escapes, with exactly one
 * `items` key holding an array of objects separated by single commas. Anything else gives null,
 * and the caller takes the path that decodes and parses the whole document (same answers,
 * same error messages). Whether each item and the rest of the envelope are JSON is for the
 * caller's `JSON.parse` of each range.
 */
export function eventListLayout(bytes: Uint8Array, start: number, maxDepth = MAX_RECORD_DEPTH): EventListLayout | null {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = buf.length;
  let depth = 0;
  let expectKey = false;
  let key = '';
  let open = -1;
  let close = -1;
  let inItems = false;
  // In `items`: whether an item or a comma came last (an item must follow `[` or a comma).
  let afterItem = false;
  let itemStart = -1;
  let itemDeep = false;
  let done = false;
  const ranges: number[] = [];
  const deep: boolean[] = [];
  let pos = start;
  while (pos < n) {
    const quote = buf.indexOf(QUOTE, pos);
    const stop = quote === -1 ? n : quote;
    for (let j = pos; j < stop; j++) {
      const c = buf[j] as number;
      if (c === SPACE || c === 0x0a || c === 0x0d || c === 0x09) continue;
      if (done) return null; // something after the top-level object
      if (depth === 0 && c !== OPEN_BRACE) return null;
      if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (inItems && depth === 2) {
          if (c !== OPEN_BRACE || afterItem) return null;
          itemStart = j;
        } else if (depth === 1 && c === OPEN_BRACKET && !expectKey && key === 'items') {
          if (open !== -1) return null; // a second `items`: leave it to JSON.parse's rules
          open = j;
          inItems = true;
          afterItem = false;
        }
        depth++;
        if (depth === 1) expectKey = true;
        else if (itemStart !== -1 && depth - 2 > maxDepth) itemDeep = true;
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        depth--;
        if (inItems && depth === 2 && itemStart !== -1) {
          ranges.push(itemStart, j + 1);
          deep.push(itemDeep);
          itemStart = -1;
          itemDeep = false;
          afterItem = true;
        } else if (inItems && depth === 1) {
          if (!afterItem && ranges.length > 0) return null; // a trailing comma
          close = j;
          inItems = false;
        } else if (depth === 0) done = true;
        else if (depth < 0) return null;
      } else if (c === COMMA) {
        if (depth === 1) expectKey = true;
        else if (inItems && depth === 2) {
          if (!afterItem) return null;
          afterItem = false;
        }
      } else if (inItems && depth === 2) {
        return null; // a number, true, false or null as an item
      }
    }
    if (quote === -1) break;
    if (done || depth === 0) return null;
    let end = quote + 1;
    for (;;) {
      end = buf.indexOf(QUOTE, end);
      if (end === -1) return null;
      let slashes = 0;
      while (buf[end - 1 - slashes] === BACKSLASH) slashes++;
      if (slashes % 2 === 0) break;
      end++;
    }
    if (inItems && depth === 2) return null; // a string as an item
    if (depth === 1 && expectKey) {
      key = buf.toString('latin1', quote + 1, end);
      if (key.includes('\\')) return null;
      expectKey = false;
    }
    pos = end + 1;
  }
  if (!done || open === -1 || close === -1) return null;
  return { open, close, ranges, deep };
}
