import { describe, expect, it } from 'vitest';
import { decideEventSeverity, normaliseAuditEvent } from '../../../lib/audit/index.js';
import { allFalcoEvents, eksRawEvent } from '../../helpers/fixtures.js';

// The tailer decides which lines are alerts with decideEventSeverity, without building records;
// it must agree with the normaliser on every event, or the alert path drifts from the records.
describe('decideEventSeverity', () => {
  const ctx = { tenantId: 'acme', clusterName: 'prod', receivedAt: Date.UTC(2026, 11, 4) };
  const events = [...allFalcoEvents(), eksRawEvent()];

  it('gives every real audit event the severity, reason and rules its normalised record has', () => {
    expect(events.length).toBeGreaterThan(50);
    for (const event of events) {
      const record = normaliseAuditEvent(event, ctx);
      const decided = decideEventSeverity(event);
      expect([event.auditID, decided.severity, decided.reason, decided.ruleIds]).toEqual([
        event.auditID,
        record.severity,
        record.severity_reason,
        record.rule_ids,
      ]);
    }
  });

  it('agrees on the spec table alone as well', () => {
    const detection = { severity: 'spec' as const, rules: null };
    for (const event of events) {
      expect(decideEventSeverity(event, detection).severity).toBe(normaliseAuditEvent(event, { ...ctx, detection }).severity);
    }
  });
});
