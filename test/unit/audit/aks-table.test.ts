import { describe, expect, it } from 'vitest';
import { aksRowToAuditEvent, queryApiRows } from '../../../lib/audit/aks-table.js';

// A Log Analytics Query API answer is a file a user hands `normalise`: its column names are the
// file's, so a hostile one must not reach the row's prototype.
describe('queryApiRows', () => {
  it('keeps a column named __proto__ as a key, never as the prototype of the row', () => {
    const answer = JSON.parse(
      '{"tables":[{"name":"PrimaryResult","columns":[{"name":"__proto__","type":"dynamic"},{"name":"Verb","type":"string"}],' +
        '"rows":[[{"Type":"AKSAudit","AuditId":"from-the-prototype"},"get"]]}]}',
    );
    const [row] = queryApiRows(answer) as Record<string, unknown>[];
    expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
    expect(Object.keys(row as object)).toEqual(['__proto__', 'Verb']);
    expect((row as Record<string, unknown>).AuditId).toBeUndefined();
    expect(aksRowToAuditEvent(row as Record<string, unknown>)).toMatchObject({ kind: 'event', event: { verb: 'get' } });
    expect((aksRowToAuditEvent(row as Record<string, unknown>) as { event: Record<string, unknown> }).event.auditID).toBeUndefined();
  });
});
