import type { JsonValue } from './types.js';

/** What a redacted secret value is replaced with; the key stays so detections still see it. */
export const REDACTED = '[REDACTED]';

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
const SECRET_FIELDS = ['data', 'stringData'] as const;

type Obj = { [key: string]: JsonValue };

function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Sets an own property even for keys like `__proto__`, which plain assignment would swallow. */
export function setOwn(obj: Obj, key: string, value: JsonValue): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function redactValues(map: JsonValue | undefined): JsonValue | undefined {
  if (!isObject(map)) return map === undefined || map === null ? map : REDACTED;
  const out: Obj = {};
  for (const key of Object.keys(map)) setOwn(out, key, REDACTED);
  return out;
}

function redactLastApplied(value: JsonValue | undefined): JsonValue | undefined {
  if (typeof value !== 'string') return value;
  try {
    const parsed: unknown = JSON.parse(value);
    if (isObject(parsed)) return JSON.stringify(redactSecretObject(parsed, true));
  } catch {
    // Not JSON: the whole annotation may hold secret values, so it goes.
  }
  return REDACTED;
}

/**
 * Returns a copy of a Secret-shaped object with `data`/`stringData` values and the
 * last-applied-configuration annotation redacted. `force` treats the object as a Secret even
 * without `kind: Secret` (a patch body sent to the `secrets` resource has no kind).
 */
function redactSecretObject(obj: Obj, force: boolean): Obj {
  const kind = obj.kind;
  if (Array.isArray(obj.items) && (kind === 'SecretList' || kind === 'List' || force)) {
    return { ...obj, items: obj.items.map((item) => (isObject(item) ? redactSecretObject(item, kind === 'SecretList' || force) : item)) };
  }
  if (!force && kind !== 'Secret') return obj;
  const out: Obj = { ...obj };
  for (const field of SECRET_FIELDS) {
    if (field in out) out[field] = redactValues(out[field]) as JsonValue;
  }
  const metadata = out.metadata;
  if (isObject(metadata) && isObject(metadata.annotations) && LAST_APPLIED in metadata.annotations) {
    out.metadata = {
      ...metadata,
      annotations: { ...metadata.annotations, [LAST_APPLIED]: redactLastApplied(metadata.annotations[LAST_APPLIED]) as JsonValue },
    };
  }
  return out;
}

function needsRedaction(value: JsonValue | undefined, isSecretsResource: boolean): boolean {
  if (!isObject(value)) return false;
  if (isSecretsResource) return true;
  const kind = value.kind;
  if (kind === 'Secret' || kind === 'SecretList') return true;
  return kind === 'List' && Array.isArray(value.items) && value.items.some((item) => isObject(item) && item.kind === 'Secret');
}

/**
 * Redacts secret material in a request or response body: `data` and `stringData` values of
 * Secrets (single objects, list items, and the last-applied-configuration annotation). Returns
 * the input itself when there is nothing to redact, a redacted copy otherwise; never mutates.
 */
export function redactBody(value: JsonValue | undefined, isSecretsResource: boolean): JsonValue | undefined {
  if (!needsRedaction(value, isSecretsResource)) return value;
  return redactSecretObject(value as Obj, isSecretsResource);
}
