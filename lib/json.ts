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
