import type { JsonValue } from './types.js';

/** Non-empty string or null: an empty namespace or subresource means "none" in audit events. */
export function nonEmpty(value: JsonValue | undefined): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/** `responseStatus.code` as an integer: numbers and numeric strings ("201") are read, junk is null. */
export function readResponseCode(value: JsonValue | undefined): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : null;
  if (typeof value === 'string' && /^\s*\d{1,6}\s*$/.test(value)) return Number(value);
  return null;
}
