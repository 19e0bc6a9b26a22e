import * as crypto from 'node:crypto';
import { limitDepth } from './depth.js';
import type { AuditEvent } from './types.js';

// The identity of an event, defined here once for every sink and transport.
//
// kube-apiserver takes `auditID` from the client's `Audit-ID` request header when one is sent
// (k8s.io/apiserver/pkg/endpoints/filters/audit_init.go), so a client chooses it: auditID and
// stage alone do not name one event. A duplicate is a resend of the same event (the apiserver's
// webhook retrying a batch, the forwarder retrying, `backfill` or `redrive` replaying), and a
// resend carries the same content. So an event is (tenant, cluster, auditID, stage, content),
// where content is the stored event (after redaction) in canonical JSON: keys sorted, no
// whitespace, so a resend re-serialised with another key order or spacing is still the same
// event. Two events with the same auditID and stage and different content are two events, both
// stored; the later one is flagged (`reused-audit-id`), since a real apiserver never writes two.
// The content is hashed after redaction, so the key cannot be used to guess a redacted value.

// One-shot crypto.hash (Node ≥ 20.12, and the nodejs22.x Lambda runtime) is about twice as fast
// as createHash for short inputs; the fallback keeps older runtimes working.
const oneShot = (crypto as unknown as { hash?: (alg: string, data: string) => string }).hash;
/** SHA-256 of a string's UTF-8, in hex. */
export const sha256Hex: (data: string) => string =
  typeof oneShot === 'function' ? (data) => oneShot('sha256', data) : (data) => crypto.createHash('sha256').update(data).digest('hex');

// The canonical form is written by one native JSON.stringify over a copy of the value whose
// objects hold their keys in sorted order: JSON.stringify writes an object's keys in their order
// of insertion, so a copy built in sorted order is written in canonical form, several times faster
// than assembling the string here. Only what is out of order is copied: an object whose keys are
// already sorted at every depth (what Go's encoding/json writes for every map: labels,
// annotations, Secret data, ...) is used as it is, and each node is visited once. JSON.stringify
// and the canonical form agree on every other point: undefined members dropped, undefined in
// arrays and non-finite numbers written as null, and data parsed from JSON has no toJSON function.
//
// Two kinds of key defeat insertion order, and send the value to the plain, slower writer
// (`assembled`): array-index keys ("0", "42"), which every JavaScript object enumerates first in
// numeric order, when the keys around them are out of order; `__proto__` is stored as an own
// property (defineProperty), since assigning it would set the copy's prototype instead.

/** Set by `sortedCopy` when a key's place cannot be fixed by insertion order. */
let needsAssembly = false;

function isIndexLike(key: string): boolean {
  const c = key.charCodeAt(0);
  return c >= 48 && c <= 57;
}

function put(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

/** `value` with every object's keys in sorted (UTF-16 code unit) order: the input itself where it already is. */
function sortedCopy(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      const c = sortedCopy(v);
      if (c !== v) {
        out ??= value.slice();
        out[i] = c;
      }
    }
    return out ?? value;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  let sorted = true;
  for (let i = 1; i < keys.length; i++) {
    if (!((keys[i - 1] as string) < (keys[i] as string))) {
      sorted = false;
      break;
    }
  }
  if (sorted) {
    // Copied only from the first member whose value changed; the members before it as they are.
    let out: Record<string, unknown> | undefined;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const v = obj[key];
      const c = sortedCopy(v);
      if (c !== v && out === undefined) {
        out = {};
        for (let j = 0; j < i; j++) put(out, keys[j] as string, obj[keys[j] as string]);
      }
      if (out !== undefined) put(out, key, c);
    }
    return out ?? obj;
  }
  keys.sort();
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    if (isIndexLike(key)) needsAssembly = true;
    put(out, key, sortedCopy(obj[key]));
  }
  return out;
}

/** The canonical form assembled member by member: the definition, for values `sortedCopy` cannot order. */
function assembled(value: unknown): string {
  if (value === null || typeof value !== 'object') return value === undefined ? 'null' : JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + assembled(value[i]);
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  let out = '{';
  let first = true;
  for (const key of Object.keys(obj).sort()) {
    const v = obj[key];
    // JSON.stringify drops undefined members; so does the canonical form.
    if (v === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(key)}:${assembled(v)}`;
    first = false;
  }
  return `${out}}`;
}

function canonical(value: unknown): string {
  needsAssembly = false;
  const copy = sortedCopy(value);
  if (needsAssembly) return assembled(value);
  return JSON.stringify(copy) ?? 'null';
}

/** `canonicalJson` of the whole value; null when it nests too deep to be written whole. */
export function canonicalJsonWhole(value: unknown): string | null {
  try {
    return canonical(value);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return null;
  }
}

/** A JSON value in canonical form (object keys sorted, no whitespace): equal for equal content. */
export function canonicalJson(value: unknown): string {
  // Nested too deep for the stack: the same cut the stored record gets.
  return canonicalJsonWhole(value) ?? canonical(limitDepth(value).value);
}

/** SHA-256 (hex) of an event's content in canonical form: the same for a resend, whatever its spacing or key order. */
export function contentDigest(event: AuditEvent): string {
  return sha256Hex(canonicalJson(event));
}

/**
 * The key of the (tenant, cluster, auditID, stage) slot: one event per request per stage from a
 * real apiserver. Two different events in one slot mean the auditID was reused.
 */
export function auditIdSlot(tenantId: string | null, clusterName: string | null, auditID: string, stage: string | null): string {
  return JSON.stringify([tenantId, clusterName, auditID, stage]);
}

/**
 * The record's dedup key: SHA-256 over (tenant, cluster, auditID, stage, content digest). Equal
 * for a resend of the same event, different for another event in the same auditID and stage.
 */
export function dedupKey(
  tenantId: string | null,
  clusterName: string | null,
  auditID: string,
  stage: string | null,
  digest: string,
): string {
  return sha256Hex(`${tenantId ?? ''}\u0000${clusterName ?? ''}\u0000${auditID}\u0000${stage ?? ''}\u0000${digest}`);
}

/**
 * The key of a record's alert: one alert per request (tenant, cluster, auditID), from the first
 * stage that makes it high, so one exec is one alert and not one per stage. A record flagged
 * `reused-audit-id` is another event than the one that holds the auditID: it keeps an alert of
 * its own (its dedup key), or a client could hide a high event behind an earlier one.
 */
export function alertKey(record: {
  tenant_id: string | null;
  cluster_name: string | null;
  audit_id: string;
  severity_reason: string;
  dedup_key: string;
}): string {
  if (record.severity_reason === 'reused-audit-id') return record.dedup_key;
  return sha256Hex(`alert\u0000${record.tenant_id ?? ''}\u0000${record.cluster_name ?? ''}\u0000${record.audit_id}`);
}

/** The slot key of a normalised record (its tenant, cluster, auditID and stage). */
export function recordSlot(record: {
  tenant_id: string | null;
  cluster_name: string | null;
  audit_id: string;
  k8s_stage: string | null;
}): string {
  return auditIdSlot(record.tenant_id, record.cluster_name, record.audit_id, record.k8s_stage);
}
