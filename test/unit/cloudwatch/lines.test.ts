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

describe('checkAuditLine with the log event time: lines cut at the CloudWatch Logs event-size limit', () => {
  const AT = Date.UTC(2024, 4, 1, 10, 0, 0);

  it('never throws on a cut of the real Falco lines, and what it salvages is an audit Event of the members before the cut', () => {
    const problems: string[] = [];
    let salvaged = 0;
    for (const line of falcoLines()) {
      const id = auditIdOf(line);
      const original = JSON.parse(line);
      // Every 7th cut point: every kind of place a cut can fall (key, value, between members) is hit.
      for (let keep = 0; keep < line.length; keep += 7) {
        for (const cut of [line.slice(0, keep), `${line.slice(0, keep)}[Truncated...]`]) {
          const verdict = checkAuditLine(cut, AT);
          if (verdict.kind !== 'salvaged') continue;
          salvaged++;
          const event = JSON.parse(verdict.text);
          if (verdict.auditID !== id || event.auditID !== id) problems.push(`${id}@${keep}: auditID ${verdict.auditID}`);
          if (event.annotations['audit.k8s.io/truncated'] !== 'true') problems.push(`${id}@${keep}: not flagged`);
          for (const key of Object.keys(event)) {
            if (key === 'annotations') continue;
            // A timestamp past the cut is the log event's time.
            if (key.endsWith('Timestamp') && event[key] === new Date(AT).toISOString()) continue;
            if (JSON.stringify(event[key]) !== JSON.stringify(original[key])) problems.push(`${id}@${keep}: ${key} differs`);
          }
        }
      }
    }

    expect(problems).toEqual([]);
    expect(salvaged).toBeGreaterThan(1000);
  });

  it('takes the log event time for the timestamps the cut took', () => {
    const line = falcoLines().find((l) => l.indexOf('"auditID"') < l.indexOf('Timestamp')) as string;

    const verdict = checkAuditLine(`${line.slice(0, line.indexOf('"auditID"') + 60)}[Truncated...]`, AT);

    expect(verdict.kind).toBe('salvaged');
    const event = verdict.kind === 'salvaged' ? JSON.parse(verdict.text) : null;
    expect(event.stageTimestamp).toBe('2024-05-01T10:00:00.000Z');
  });

  it('forwards a whole event that still got the suffix, flagged, and names no text of the line as the member cut', () => {
    const line = falcoLines()[0] as string;

    const whole = checkAuditLine(`${line}[Truncated...]`, AT);
    const odd = checkAuditLine(`{"auditID":"a-2","Bearer abc.def":"x`, AT);

    expect(whole).toMatchObject({ kind: 'salvaged', auditID: auditIdOf(line), cutIn: null });
    expect(odd).toMatchObject({ kind: 'salvaged', auditID: 'a-2', cutIn: '(other)' });
  });

  it('never hands a JWT signature sent as the auditID to the log line', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJlLXNlY3JldC0xMjM0NTY3ODkw';

    const verdict = checkAuditLine(`{"kind":"Event","auditID":"${jwt}","verb":"get","user":{"username":"x`, AT);

    expect(verdict.kind).toBe('salvaged');
    expect(JSON.stringify(verdict.kind === 'salvaged' ? verdict.auditID : '')).not.toContain('c2lnbmF0dXJlLXNlY3JldC0xMjM0NTY3ODkw');
  });

  it("keeps a member named __proto__ as JSON.parse does: sent as a member, never read as the event's own fields", () => {
    const kept = checkAuditLine(
      '{"kind":"Event","__proto__":{"auditID":"p-1","verb":"delete"},"auditID":"a-9","verb":"get","user":{"username":"x',
      AT,
    );
    const only = checkAuditLine('{"kind":"Event","__proto__":{"auditID":"p-1","verb":"delete"},"verb":"get","user":{"username":"x', AT);

    expect(kept.kind).toBe('salvaged');
    const event = kept.kind === 'salvaged' ? JSON.parse(kept.text) : null;
    expect(Object.keys(event)).toEqual([
      'kind',
      '__proto__',
      'auditID',
      'verb',
      'requestReceivedTimestamp',
      'stageTimestamp',
      'annotations',
    ]);
    expect(event).toMatchObject({ auditID: 'a-9', verb: 'get' });
    // With no auditID of its own, nothing is salvaged: the one inside __proto__ is not the event's.
    expect(only.kind).not.toBe('salvaged');
  });

  it('does not salvage a line that is not a cut JSON object', () => {
    expect(checkAuditLine('I0501 10:00:00.000000 1 scheduler.go:123] scheduled pod', AT).kind).toBe('invalid');
    expect(checkAuditLine('{"kind":"Event","auditID":"a-1",,"verb":"get"', AT).kind).toBe('invalid');
    expect(checkAuditLine('{"kind":"Event","auditID":"a-1"} trailing', AT).kind).toBe('invalid');
  });
});
