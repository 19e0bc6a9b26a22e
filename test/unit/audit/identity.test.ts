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
import { falcoEvent } from '../../helpers/fixtures.js';
import { reserialised, reusedAuditIdPair } from '../../helpers/ingest.js';

const ctx = { tenantId: 'acme', clusterName: 'c1', receivedAt: 0 };

describe('the identity of an event', () => {
  it('writes one canonical form for any key order and spacing', () => {
    const event = falcoEvent('create_clusterrolebinding.json');

    expect(canonicalJson(JSON.parse(reserialised(event)))).toBe(canonicalJson(event));
    expect(canonicalJson({ b: 1, a: [{ d: null, c: 'x' }], u: undefined })).toBe('{"a":[{"c":"x","d":null}],"b":1}');
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
