import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gkeLogEntryToAuditEvent, normaliseAuditEvent, parseAksRecords, validateAuditEvent } from '../../../lib/audit/index.js';
import { hostileJson } from '../../helpers/arbitraries.js';
import { gkeEntries } from '../../helpers/fixtures.js';
import { ocsfErrors } from '../../helpers/ocsf.js';

// CI runs a bounded number of cases; `npm run fuzz` sets FUZZ_RUNS=100000.
const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const jsonValue = hostileJson({ maxItems: 4 });
const base = [...gkeEntries().values()][0] as Record<string, unknown>;
const payload = base.protoPayload as Record<string, unknown>;

/** A real GKE entry whose every field the mapping reads may be replaced by any JSON. */
const mangledEntry = fc
  .record(
    {
      insertId: jsonValue,
      logName: fc.oneof(fc.constant(base.logName), jsonValue),
      resource: fc.oneof(fc.constant(base.resource), fc.record({ type: fc.constant('k8s_cluster'), labels: jsonValue }), jsonValue),
      labels: jsonValue,
      timestamp: jsonValue,
      operation: jsonValue,
      methodName: fc.oneof(fc.constantFrom('io.k8s.core.v1.pods.exec.create', 'io.k8s.get', ''), jsonValue),
      resourceName: fc.oneof(fc.constantFrom('core/v1/namespaces/a/pods/b/exec', 'core/v1/namespaces', '/', 'a//b'), jsonValue),
      authorizationInfo: jsonValue,
      authenticationInfo: jsonValue,
      requestMetadata: jsonValue,
      status: jsonValue,
      request: jsonValue,
      response: jsonValue,
    },
    { requiredKeys: [] },
  )
  .map(({ methodName, resourceName, authorizationInfo, authenticationInfo, requestMetadata, status, request, response, ...top }) => ({
    ...base,
    ...top,
    protoPayload: {
      ...payload,
      methodName,
      resourceName,
      authorizationInfo,
      authenticationInfo,
      requestMetadata,
      status,
      request,
      response,
    },
  }));

describe('the cloud envelopes under hostile input', () => {
  it('gkeLogEntryToAuditEvent never throws, and every event it makes validates and normalises to valid OCSF', () => {
    fc.assert(
      fc.property(fc.oneof(mangledEntry, jsonValue), (entry) => {
        const out = gkeLogEntryToAuditEvent(entry);
        if (out.kind !== 'event') return;
        const checked = validateAuditEvent(out.event);
        expect(checked.ok).toBe(true);
        if (!checked.ok) return;
        const record = normaliseAuditEvent(checked.event, {
          tenantId: 't',
          clusterName: out.origin.clusterName,
          receivedAt: 0,
          source: out.origin.source,
        });
        expect(ocsfErrors(record.ocsf)).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });

  it('parseAksRecords never throws on any JSON or bytes', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          jsonValue.map((v) => JSON.stringify({ records: [v, { category: 'kube-audit', properties: { log: JSON.stringify(v) } }] })),
          fc.string(),
        ),
        (body) => {
          const out = parseAksRecords(body);
          if (typeof out !== 'string') expect(out.events.length + out.rejected.length + out.skipped).toBe(out.itemCount);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
