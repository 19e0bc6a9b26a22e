import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { skipContainer, skipString, skipValue, skipWs } from '../../../lib/audit/json-bytes.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 500);
const b = (s: string) => Buffer.from(s, 'utf8');

describe('stepping over JSON in its bytes', () => {
  it('steps over strings with escaped quotes and backslashes, and multi-byte characters', () => {
    expect(skipString(b('"a\\"b" x'), 0)).toBe(6);
    expect(skipString(b('"a\\\\" x'), 0)).toBe(5);
    expect(skipString(b('"ünï🚀" x'), 0)).toBe(b('"ünï🚀"').length);
    expect(skipString(b('"never closed\\"'), 0)).toBe(-1);
  });

  it('steps over any JSON value exactly, whatever it holds, and reports how deep it nests', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.constantFrom(0, 2), (value, indent) => {
        const text = JSON.stringify(value, null, indent);
        const buf = b(`${text} ,`);

        expect(skipValue(buf, 0)).toBe(b(text).length);
        if (typeof value === 'object' && value !== null) {
          const out = { maxDepth: 0 };
          expect(skipContainer(buf, 0, out)).toBe(b(text).length);
          const depth = (v: unknown): number =>
            typeof v === 'object' && v !== null ? 1 + Math.max(0, ...Object.values(v as object).map(depth)) : 0;
          expect(out.maxDepth).toBe(depth(value));
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('says when a value is cut off or missing', () => {
    expect(skipContainer(b('{"a":[1,2}'), 0)).toBe(-1);
    expect(skipContainer(b('{"a":"]}'), 0)).toBe(-1);
    expect(skipValue(b(',1'), 0)).toBe(-1);
    expect(skipWs(b(' \t\r\n x'), 0)).toBe(5);
  });
});
