/**
 * Steps over JSON in its UTF-8 bytes, for the two scanners that find where the parts of a large
 * document lie before anything of it is decoded: the EventList items the ingest receives
 * (`eventListLayout`) and the log events of a CloudWatch Logs subscription payload the forwarder
 * inflates (`viewSubscriptionJson`). Structural bytes are ASCII, and no byte of a multi-byte UTF-8
 * sequence is ASCII, so stepping over bytes finds the same boundaries as stepping over the text.
 *
 * These only find boundaries: whether what lies between them is JSON is for `JSON.parse` of each
 * part. Each function returns the position just past what it stepped over, or -1 when the input
 * ends first.
 */

export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const OPEN_OBJECT = 0x7b;
export const CLOSE_OBJECT = 0x7d;
export const OPEN_ARRAY = 0x5b;
export const CLOSE_ARRAY = 0x5d;
export const COMMA = 0x2c;
export const COLON = 0x3a;

function isWhitespace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** The first position at or after `pos` that is not JSON whitespace. */
export function skipWs(buf: Uint8Array, pos: number): number {
  while (isWhitespace(buf[pos])) pos++;
  return pos;
}

/** Past the string whose opening quote is at `pos`; -1 when it is not closed. */
export function skipString(buf: Buffer, pos: number): number {
  let i = pos + 1;
  for (;;) {
    // indexOf runs natively over the string's bytes; only a quote after backslashes needs a look.
    const q = buf.indexOf(QUOTE, i);
    if (q === -1) return -1;
    let slashes = 0;
    while (buf[q - 1 - slashes] === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return q + 1;
    i = q + 1;
  }
}

/** How deep the last `skipContainer` call nested (1 for `{}` or `[]` holding only scalars). */
export interface DepthOut {
  maxDepth: number;
}

/**
 * Past the object or array that opens at `pos`; -1 when it is not closed. When `out` is given it
 * receives the deepest nesting seen (the caller's one object, so a scan allocates nothing per call).
 */
export function skipContainer(buf: Buffer, pos: number, out?: DepthOut): number {
  const end = buf.length;
  let depth = 0;
  let maxDepth = 0;
  let i = pos;
  while (i < end) {
    const c = buf[i];
    if (c === QUOTE) {
      i = skipString(buf, i);
      if (i === -1) return -1;
      continue;
    }
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      depth++;
      if (depth > maxDepth) maxDepth = depth;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--;
      if (depth === 0) {
        if (out !== undefined) out.maxDepth = maxDepth;
        return i + 1;
      }
    }
    i++;
  }
  return -1;
}

/** Past the JSON value that starts at `pos` (a string, object, array or scalar); -1 when there is none. */
export function skipValue(buf: Buffer, pos: number): number {
  const c = buf[pos];
  if (c === QUOTE) return skipString(buf, pos);
  if (c === OPEN_OBJECT || c === OPEN_ARRAY) return skipContainer(buf, pos);
  let i = pos;
  while (i < buf.length) {
    const d = buf[i];
    if (d === COMMA || d === CLOSE_OBJECT || d === CLOSE_ARRAY || isWhitespace(d)) break;
    i++;
  }
  return i === pos ? -1 : i;
}
