import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAuditTimestamp } from '../../../lib/audit/index.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);

// The parser as it was before the apiserver's own form got its path without the regular
// expression: the reference that path must agree with, digit for digit.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$/;
function reference(value: unknown): number | null {
  if (typeof value !== 'string' || value.length > 40) return null;
  const m = RFC3339.exec(value);
  if (m === null) return null;
  const [, y, mo, d, h, mi, s, frac, , sign, oh, om] = m;
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  const ms = frac === undefined ? 0 : Math.floor(Number(`0.${frac}`) * 1000);
  let epoch = Date.UTC(Number(y), month - 1, day, hour, minute, second, ms);
  if (sign !== undefined) {
    const offset = (Number(oh) * 60 + Number(om)) * 60_000;
    epoch += sign === '+' ? -offset : offset;
  }
  const check = new Date(Date.UTC(Number(y), month - 1, day));
  if (check.getUTCDate() !== day || !Number.isFinite(epoch)) return null;
  return epoch;
}

const digits = (n: number) => fc.array(fc.constantFrom(...'0123456789'), { minLength: n, maxLength: n }).map((a) => a.join(''));

describe('parseAuditTimestamp on the apiserver MicroTime form', () => {
  it('agrees with the regular-expression parser on every 27-character MicroTime, real dates or not', () => {
    const micro = fc
      .tuple(digits(4), digits(2), digits(2), digits(2), digits(2), digits(2), digits(6))
      .map(([y, mo, d, h, mi, s, f]) => `${y}-${mo}-${d}T${h}:${mi}:${s}.${f}Z`);
    fc.assert(
      fc.property(micro, (t) => {
        expect(parseAuditTimestamp(t)).toBe(reference(t));
      }),
      { numRuns: RUNS },
    );
  });

  it('agrees on near misses of the form, which take the regular expression', () => {
    const base = '2024-02-29T23:59:60.999999Z';
    const mutated = fc
      .tuple(fc.nat({ max: base.length - 1 }), fc.constantFrom('t', 'z', ' ', '+', 'x', '9', '0', ''))
      .map(([at, ch]) => base.slice(0, at) + ch + base.slice(at + 1));
    fc.assert(
      fc.property(mutated, (t) => {
        expect(parseAuditTimestamp(t)).toBe(reference(t));
      }),
      { numRuns: RUNS },
    );
    for (const t of [
      '2023-02-29T00:00:00.000000Z',
      '2024-02-29T00:00:00.000000Z',
      '0000-02-29T00:00:00.000000Z',
      '2024-04-31T00:00:00.000000Z',
    ]) {
      expect(parseAuditTimestamp(t)).toBe(reference(t));
    }
  });
});
