import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AuditEvent, JsonObject } from '../../../lib/audit/index.js';
import {
  DEPTH_MARKER,
  isCutForDepth,
  normaliseAuditEvent,
  parseAuditPayload,
  serialiseRecord,
  validateAuditEvent,
} from '../../../lib/audit/index.js';
import { hostileJson } from '../../helpers/arbitraries.js';
import { falcoEvent } from '../../helpers/fixtures.js';
import { ocsfErrors } from '../../helpers/ocsf.js';

// CI runs a bounded number of cases; `npm run fuzz` sets FUZZ_RUNS=100000.
const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const ctx = { tenantId: 'fuzz', clusterName: 'fuzz-cluster', receivedAt: Date.UTC(2026, 0, 1) };
const KEY_COUNT = 27;

/** Any JSON value, with the awkward keys an attacker would pick mixed into objects. */
const jsonValue = hostileJson({ maxItems: 4 });

/** An audit event whose every field may have the wrong JSON type (or be absent). */
const mangledEvent = fc.record(
  {
    kind: fc.oneof(fc.constant('Event'), jsonValue),
    apiVersion: fc.oneof(fc.constantFrom('audit.k8s.io/v1', 'audit.k8s.io/v1beta1'), jsonValue),
    auditID: fc.oneof(fc.uuid(), jsonValue),
    stage: fc.oneof(fc.constantFrom('RequestReceived', 'ResponseStarted', 'ResponseComplete', 'Panic'), jsonValue),
    verb: fc.oneof(fc.constantFrom('get', 'list', 'create', 'patch', 'delete', 'impersonate', 'deletecollection'), jsonValue),
    user: fc.oneof(
      fc.record(
        { username: fc.oneof(fc.string(), jsonValue), groups: fc.oneof(fc.array(fc.string()), jsonValue), extra: jsonValue },
        { requiredKeys: [] },
      ),
      jsonValue,
    ),
    impersonatedUser: fc.oneof(fc.record({ username: fc.string() }), jsonValue),
    sourceIPs: fc.oneof(fc.array(fc.oneof(fc.ipV4(), fc.ipV6(), fc.string())), jsonValue),
    userAgent: jsonValue,
    requestURI: jsonValue,
    objectRef: fc.oneof(
      fc.record(
        {
          resource: fc.oneof(fc.constantFrom('pods', 'secrets', 'rolebindings', 'configmaps'), jsonValue),
          subresource: fc.oneof(fc.constantFrom('exec', 'status', ''), jsonValue),
          namespace: fc.oneof(fc.constantFrom('default', 'kube-system', ''), jsonValue),
          name: jsonValue,
          apiGroup: jsonValue,
        },
        { requiredKeys: [] },
      ),
      jsonValue,
    ),
    responseStatus: fc.oneof(fc.record({ code: fc.oneof(fc.integer({ min: 0, max: 599 }), fc.string(), jsonValue) }), jsonValue),
    requestObject: jsonValue,
    responseObject: jsonValue,
    requestReceivedTimestamp: fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      jsonValue,
    ),
    stageTimestamp: jsonValue,
    annotations: jsonValue,
  },
  { requiredKeys: [] },
);

describe('parseAuditPayload under hostile input', () => {
  it('never throws on arbitrary bytes, and always says why it rejected something', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const parsed = parseAuditPayload(bytes);
        if (parsed.form === 'invalid') expect(parsed.error).toMatch(/\S/);
        for (const r of parsed.rejected) expect(r.reason).toMatch(/\S/);
      }),
      { numRuns: RUNS },
    );
  });

  it('accounts for every item of an arbitrary JSON document: an event or a rejection with a reason', () => {
    fc.assert(
      fc.property(fc.oneof(jsonValue, fc.array(fc.oneof(mangledEvent, jsonValue))), (doc) => {
        const parsed = parseAuditPayload(JSON.stringify(doc) ?? 'null');
        if (parsed.form === 'invalid') {
          expect(parsed.error).toMatch(/\S/);
          return;
        }
        expect(parsed.events.length + parsed.rejected.length).toBe(parsed.itemCount);
        for (const r of parsed.rejected) expect(r.reason).toMatch(/\S/);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('normaliseAuditEvent under hostile input', () => {
  it('normalises every event that passes validation into a full, schema-valid, serialisable record', () => {
    fc.assert(
      fc.property(mangledEvent, (candidate) => {
        const text = JSON.stringify(candidate);
        const v = validateAuditEvent(JSON.parse(text));
        if (!v.ok) {
          expect(v.reason).toMatch(/\S/);
          return;
        }
        const record = normaliseAuditEvent(v.event, ctx);
        expect(Object.keys(record)).toHaveLength(KEY_COUNT);
        expect(['high', 'medium', 'low', 'info']).toContain(record.severity);
        expect(record.k8s_response_code === null || Number.isSafeInteger(record.k8s_response_code)).toBe(true);
        expect(ocsfErrors(record.ocsf)).toEqual([]);
        const line = serialiseRecord(record);
        expect(JSON.parse(line).audit_id).toBe(v.event.auditID);
      }),
      { numRuns: RUNS },
    );
  });

  it('does not let __proto__ or constructor keys pollute prototypes', () => {
    const text = `{"auditID":"p","verb":"get","__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},
      "objectRef":{"resource":"secrets","__proto__":{"polluted":"yes"}},"requestObject":{"kind":"Secret","__proto__":{"polluted":"yes"},"data":{"__proto__":"x"}},
      "annotations":{"__proto__":{"polluted":"yes"}}}`;
    const parsed = parseAuditPayload(text);
    const record = normaliseAuditEvent(parsed.events[0] as AuditEvent, ctx);
    const line = serialiseRecord(record);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    expect(JSON.parse(line).raw_event.requestObject.data).toEqual({ ['__proto__']: '[REDACTED]' });
  });

  it('keeps an event nesting 100,000 deep that also holds a JWT: cut, flagged, the signature gone', () => {
    const depth = 100_000;
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaSJ9.c2lnbmF0dXJlLWRlZXA';
    const text = `{"auditID":"deep-jwt","verb":"create","requestURI":"/x?t=${jwt}","objectRef":{"resource":"configmaps"},"requestObject":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    const record = normaliseAuditEvent(parseAuditPayload(text).events[0] as AuditEvent, { ...ctx, ocsfBodies: true });
    const line = serialiseRecord(record);
    const out = JSON.parse(line);
    expect(line).not.toContain('c2lnbmF0dXJlLWRlZXA');
    expect(out.request_uri).toBe('/x?t=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaSJ9.[REDACTED]');
    expect(JSON.stringify(out.raw_event)).toContain(DEPTH_MARKER);
    expect((out.ocsf.metadata as JsonObject).is_truncated).toBe(true);
    expect(ocsfErrors(out.ocsf)).toEqual([]);
    // The ingest stores this record's JSON, not its raw event, which would normalise back uncut.
    expect(isCutForDepth(record)).toBe(true);
  });

  it('tells a record cut for depth from an event that arrived truncated, both flagged is_truncated', () => {
    // Falco's ClusterRoleBinding trace as the apiserver's truncate backend sends it
    // (k8s.io/apiserver/plugin/pkg/audit/truncate: bodies dropped, the annotation set).
    const { requestObject: _q, responseObject: _r, ...rest } = falcoEvent('create_clusterrolebinding.json');
    const event = { ...rest, annotations: { ...rest.annotations, 'audit.k8s.io/truncated': 'true' } } as AuditEvent;
    const record = normaliseAuditEvent(event, ctx);
    expect((record.ocsf.metadata as JsonObject).is_truncated).toBe(true);
    expect(isCutForDepth(record)).toBe(false);
  });

  it('reads numbers past 2^53 and duplicate keys without surprises', () => {
    const parsed = parseAuditPayload('{"auditID":"first","auditID":"last","verb":"get","responseStatus":{"code":18446744073709551616}}');
    const record = normaliseAuditEvent(parsed.events[0] as AuditEvent, ctx);
    expect(record.audit_id).toBe('last');
    expect(record.k8s_response_code).toBeNull();
  });

  it('keeps an event whose request body nests 100,000 deep, cut and flagged', () => {
    const depth = 100_000;
    const text = `{"auditID":"deep","verb":"create","objectRef":{"resource":"configmaps"},"requestObject":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    const parsed = parseAuditPayload(text);
    const record = normaliseAuditEvent(parsed.events[0] as AuditEvent, { ...ctx, ocsfBodies: true });
    const out = JSON.parse(serialiseRecord(record));
    expect(out.audit_id).toBe('deep');
    expect(JSON.stringify(out.raw_event)).toContain(DEPTH_MARKER);
    expect((out.ocsf.metadata as JsonObject).is_truncated).toBe(true);
    expect(ocsfErrors(out.ocsf)).toEqual([]);
  });

  it('normalises a real event carrying a 16 MiB string', () => {
    const event = { ...falcoEvent('exec_pod.json'), userAgent: 'A'.repeat(16 * 1024 * 1024) };
    const record = normaliseAuditEvent(event, ctx);
    expect(record.k8s_user_agent).toHaveLength(16 * 1024 * 1024);
    expect(record.severity).toBe('high');
  });
});
