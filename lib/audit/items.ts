import { MAX_RECORD_DEPTH } from './depth.js';

const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const SPACE = 0x20;

/**
 * The source text of each item of an EventList's top-level `items` array, found by one scan of
 * the text `JSON.parse` already accepted, so a record can carry an event's text instead of
 * serialising the event again (a third of the cost of serialising a record). `count` is the
 * length of the parsed `items`. An item nested deeper than `maxDepth` gets `undefined`, so it
 * takes the path that cuts what JSON.stringify cannot write. Returns null whenever the texts
 * cannot be vouched for: an item that is not an object, a top-level key written with escapes
 * (`"\u0069tems"` is `items` to JSON.parse but not to a literal match), or a count that differs
 * from the parsed one.
 */
export function eventListItemTexts(text: string, count: number, maxDepth = MAX_RECORD_DEPTH): (string | undefined)[] | null {
  const n = text.length;
  let depth = 0;
  // At depth 1 (the EventList object): whether the next string is a key, and the last key read.
  let expectKey = false;
  let key = '';
  // The items of an `items` array being read (JSON.parse keeps the last of duplicate keys; so
  // does this), and where the item being read started.
  let reading: (string | undefined)[] | null = null;
  let found: (string | undefined)[] | null = null;
  let itemStart = -1;
  let itemDeep = false;
  let pos = 0;
  while (pos < n) {
    const quote = text.indexOf('"', pos);
    const stop = quote === -1 ? n : quote;
    // Between strings: structure, whitespace and scalars only.
    for (let j = pos; j < stop; j++) {
      const c = text.charCodeAt(j);
      if (c <= SPACE) continue;
      if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (reading !== null && depth === 2) {
          if (c !== OPEN_BRACE) return null;
          itemStart = j;
        } else if (depth === 1 && c === OPEN_BRACKET && !expectKey && key === 'items') {
          reading = [];
        }
        depth++;
        if (depth === 1) expectKey = true;
        else if (itemStart !== -1 && depth - 2 > maxDepth) itemDeep = true;
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        depth--;
        if (reading !== null && depth === 2 && itemStart !== -1) {
          reading.push(itemDeep ? undefined : text.slice(itemStart, j + 1));
          itemStart = -1;
          itemDeep = false;
        } else if (reading !== null && depth === 1) {
          found = reading;
          reading = null;
        }
      } else if (c === COMMA) {
        if (depth === 1) expectKey = true;
      } else if (reading !== null && depth === 2) {
        // A number, true, false or null as an item.
        return null;
      }
    }
    if (quote === -1) break;
    let end = quote + 1;
    for (;;) {
      end = text.indexOf('"', end);
      if (end === -1) return null;
      let slashes = 0;
      while (text.charCodeAt(end - 1 - slashes) === BACKSLASH) slashes++;
      if (slashes % 2 === 0) break;
      end++;
    }
    if (reading !== null && depth === 2) return null; // a string as an item
    if (depth === 1 && expectKey) {
      key = text.slice(quote + 1, end);
      if (key.includes('\\')) return null;
      expectKey = false;
    }
    pos = end + 1;
  }
  if (found === null || found.length !== count) return null;
  return found;
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
