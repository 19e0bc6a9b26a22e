import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  auditIdSlot,
  canonicalJson,
  classifySeverity,
  contentDigest,
  dedupKey,
  flagReusedAuditId,
  normaliseAuditEvent,
  withReusedAuditId,
} from '../../../lib/audit/index.js';
import { hostileJson } from '../../helpers/arbitraries.js';
import { allFalcoEvents, eksRawEvent, falcoEvent } from '../../helpers/fixtures.js';
import { FUZZ_RUNS } from '../../helpers/fuzz.js';
import { reserialised, reusedAuditIdPair } from '../../helpers/ingest.js';

const ctx = { tenantId: 'acme', clusterName: 'c1', receivedAt: 0 };

describe('the identity of an event', () => {
  it('writes one canonical form for any key order and spacing', () => {
    const event = falcoEvent('create_clusterrolebinding.json');

    expect(canonicalJson(JSON.parse(reserialised(event)))).toBe(canonicalJson(event));
    expect(canonicalJson({ b: 1, a: [{ d: null, c: 'x' }], u: undefined })).toBe('{"a":[{"c":"x","d":null}],"b":1}');
  });

  // The definition of the canonical form, written the plain way: canonicalJson takes shortcuts
  // (native JSON.stringify on subtrees already in key order) and must write these bytes exactly,
  // or every stored dedup key would change.
  const reference = (value: unknown): string => {
    if (value === null || typeof value !== 'object') return value === undefined ? 'null' : JSON.stringify(value);
    if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
    const obj = value as Record<string, unknown>;
    const members = Object.keys(obj)
      .sort()
      .filter((k) => obj[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${reference(obj[k])}`);
    return `{${members.join(',')}}`;
  };

  it('writes the reference canonical bytes for real events in any key order', () => {
    const reversed = (v: unknown): unknown => {
      if (v === null || typeof v !== 'object') return v;
      if (Array.isArray(v)) return v.map(reversed);
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v).reverse())
        Object.defineProperty(out, k, { value: reversed((v as Record<string, unknown>)[k]), enumerable: true });
      return out;
    };
    for (const event of [...allFalcoEvents(), eksRawEvent()]) {
      expect(canonicalJson(event)).toBe(reference(event));
      expect(canonicalJson(reversed(event))).toBe(reference(event));
    }
    // Keys V8 enumerates first (array indices), a __proto__ key, a map in order holding a struct out of order.
    const odd = JSON.parse('{"b":1,"10":2,"9":3,"__proto__":{"z":1,"a":2},"a":{"k":{"y":1,"x":[{"q":1,"p":2}]}}}');
    expect(canonicalJson(odd)).toBe(reference(odd));
    expect(canonicalJson(odd)).toBe('{"10":2,"9":3,"__proto__":{"a":2,"z":1},"a":{"k":{"x":[{"p":2,"q":1}],"y":1}},"b":1}');
  });

  it('writes the reference canonical bytes for any JSON value', () => {
    const numericKeys = fc.dictionary(fc.constantFrom('0', '1', '9', '10', '01', '4294967295', 'a', 'B', '__proto__'), fc.integer(), {
      maxKeys: 6,
    });
    fc.assert(
      fc.property(fc.oneof(hostileJson({ maxItems: 6, maxStringLength: 8 }), numericKeys), (value) => {
        const parsed: unknown = JSON.parse(JSON.stringify(value) ?? 'null');
        expect(canonicalJson(parsed)).toBe(reference(parsed));
        expect(canonicalJson(value)).toBe(reference(value));
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it('gives a resend the same dedup key and another event in the same auditID and stage another one', () => {
    const [list, binding] = reusedAuditIdPair();
    const a = normaliseAuditEvent(list, ctx);
    const resent = normaliseAuditEvent(JSON.parse(reserialised(list)), { ...ctx, receivedAt: 99 });
    const other = normaliseAuditEvent(binding, ctx);

    expect(resent.dedup_key).toBe(a.dedup_key);
    expect(other.dedup_key).not.toBe(a.dedup_key);
    expect(auditIdSlot('acme', 'c1', list.auditID, 'ResponseComplete')).toBe(
      auditIdSlot('acme', 'c1', binding.auditID, 'ResponseComplete'),
    );
    expect(a.dedup_key).toBe(dedupKey('acme', 'c1', list.auditID, 'ResponseComplete', contentDigest(list)));
  });

  it('hashes the redacted event, so two events that differ only in a secret value share a key', () => {
    const secret = falcoEvent('create_secret.json');
    const a = normaliseAuditEvent({ ...secret, requestObject: { kind: 'Secret', data: { password: 'aHVudGVyMg==' } } }, ctx);
    const b = normaliseAuditEvent({ ...secret, requestObject: { kind: 'Secret', data: { password: 'c3VwZXJzZWNyZXQ=' } } }, ctx);

    expect(a.dedup_key).toBe(b.dedup_key);
  });

  it('flags a reused auditID at least medium, naming it, in the flat fields and OCSF alike', () => {
    const [list, binding] = reusedAuditIdPair();

    const low = flagReusedAuditId(normaliseAuditEvent(list, ctx));
    const high = flagReusedAuditId(normaliseAuditEvent(binding, ctx));

    expect([low.severity, low.severity_reason, low.ocsf.severity_id, low.ocsf.severity]).toEqual([
      'medium',
      'reused-audit-id',
      3,
      'Medium',
    ]);
    expect([high.severity, high.severity_reason, high.ocsf.severity_id]).toEqual(['high', 'reused-audit-id', 4]);
    expect(normaliseAuditEvent(list, { ...ctx, auditIdReused: true })).toEqual(low);
    expect(withReusedAuditId({ severity: 'low', reason: 'sensitive-read' })).toEqual({ severity: 'medium', reason: 'reused-audit-id' });
    const input = { verb: 'get', resource: 'pods', subresource: null, namespace: 'default', responseCode: 200, impersonated: false };
    expect(classifySeverity({ ...input, auditIdReused: true })).toEqual({ severity: 'medium', reason: 'reused-audit-id' });
    expect(classifySeverity(input)).toEqual({ severity: 'info', reason: 'steady-state' });
  });
});
