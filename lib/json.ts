/**
 * JSON as `JSON.parse` returns it, and the one test for "a JSON object" (not null, not an array)
 * that every reader of untrusted JSON uses. Pure and dependency-free: lib/config may import it.
 */

/** A JSON value as `JSON.parse` returns it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
/** A JSON object as `JSON.parse` returns it. */
export type JsonObject = { [key: string]: JsonValue };

/** Whether a parsed value is a JSON object: an object that is neither null nor an array. */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Each element through `fn`; the same array when none changed (a copy-on-write map for the redaction walks). */
export function mapSame<T>(list: T[], fn: (v: T) => T): T[] {
  let out: T[] | undefined;
  for (let i = 0; i < list.length; i++) {
    const v = list[i] as T;
    const c = fn(v);
    if (c !== v) {
      out ??= list.slice();
      out[i] = c;
    }
  }
  return out ?? list;
}

/**
 * Why `JSON.parse` refused a text, without the text: V8 quotes up to about twenty characters of
 * the input around an unexpected token (`Unexpected token 'S', "S3cr3t-wal"... is not valid JSON`),
 * and a body sent to the wrong place may be a credential. Only its messages that name a position
 * and no content are kept as they are.
 */
export function jsonErrorReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const contentFree = / at position \d+$/.test(message) || message === 'Unexpected end of JSON input';
  return contentFree ? message : 'the text is not valid JSON';
}
