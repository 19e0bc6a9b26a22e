import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkAuditLine } from '../../../lib/cloudwatch/index.js';
import { truncateLine } from '../../helpers/envelopes.js';
import { auditIdOf, falcoLines } from '../../helpers/ship.js';

describe('checkAuditLine', () => {
  it('accepts every real audit event of the Falco traces', () => {
    const lines = falcoLines();

    expect(lines.length).toBeGreaterThan(40);
    for (const line of lines) expect(checkAuditLine(line)).toEqual({ kind: 'event' });
  });

  it('flags a line EKS cut with [Truncated...] and still reads its auditID', () => {
    const line = falcoLines()[0] as string;

    expect(checkAuditLine(truncateLine(line))).toEqual({ kind: 'truncated', auditID: auditIdOf(line) });
  });

  it('flags a line cut before its auditID without one', () => {
    expect(checkAuditLine(truncateLine(falcoLines()[0] as string, 20))).toEqual({ kind: 'truncated' });
  });

  it('reports a line that is not JSON, with the auditID when it can be read', () => {
    const line = falcoLines()[1] as string;

    const verdict = checkAuditLine(line.slice(0, -5));

    expect(verdict).toMatchObject({ kind: 'invalid', auditID: auditIdOf(line) });
    expect(verdict.kind === 'invalid' && verdict.reason).toMatch(/^line is not JSON/);
  });

  it('rejects the Falco security-audit regression input {"kind": 0}', () => {
    const line = readFileSync(join(import.meta.dirname, '../../fixtures/falco/fal_01_003.json'), 'utf8');

    expect(checkAuditLine(line)).toEqual({ kind: 'invalid', reason: 'kind must be "Event", got number' });
  });

  it('rejects JSON that is not an audit event', () => {
    expect(checkAuditLine('{"level":"INFO","message":"Hello"}')).toMatchObject({ kind: 'invalid', reason: 'item has no auditID' });
  });
});
