// RFC 3339 as the apiserver writes it (metav1.MicroTime: microseconds, `Z`), plus what
// hand-made and legacy data carries: no fraction, a numeric offset, or a space for `T`.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$/;

// Where the digits are in the apiserver's own form, `2006-01-02T15:04:05.000000Z` (27 characters).
const MICRO_TIME_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22, 23, 24, 25];
const MICRO_TIME_SEPARATORS: [number, number][] = [
  [4, 0x2d],
  [7, 0x2d],
  [10, 0x54],
  [13, 0x3a],
  [16, 0x3a],
  [19, 0x2e],
  [26, 0x5a],
];

/** The fields of a timestamp in the apiserver's own form, read without the regular expression, or null. */
function microTimeFields(v: string): [string, string, string, string, string, string, string] | null {
  if (v.length !== 27) return null;
  for (const [at, code] of MICRO_TIME_SEPARATORS) if (v.charCodeAt(at) !== code) return null;
  for (const at of MICRO_TIME_DIGITS) {
    const c = v.charCodeAt(at);
    if (c < 0x30 || c > 0x39) return null;
  }
  return [v.slice(0, 4), v.slice(5, 7), v.slice(8, 10), v.slice(11, 13), v.slice(14, 16), v.slice(17, 19), v.slice(20, 26)];
}

/** Parses an audit timestamp to epoch milliseconds, or `null` when it is not a usable time. */
export function parseAuditTimestamp(value: unknown): number | null {
  if (typeof value !== 'string' || value.length > 40) return null;
  // Every event carries two or three of these, all in the same form: that form skips the regex
  // (a tenth of the normaliser's time), everything else takes it. Both compute the same way.
  const micro = microTimeFields(value);
  let y: string | undefined;
  let mo: string | undefined;
  let d: string | undefined;
  let h: string | undefined;
  let mi: string | undefined;
  let s: string | undefined;
  let frac: string | undefined;
  let sign: string | undefined;
  let oh: string | undefined;
  let om: string | undefined;
  if (micro !== null) [y, mo, d, h, mi, s, frac] = micro;
  else {
    const m = RFC3339.exec(value);
    if (m === null) return null;
    [, y, mo, d, h, mi, s, frac, , sign, oh, om] = m;
  }
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
  if (!Number.isFinite(epoch)) return null;
  // Date.UTC rolls 31 February into March; a date that moved is not a real date. Every month has
  // a 28th, so only later days need the check.
  if (day > 28 && new Date(Date.UTC(Number(y), month - 1, day)).getUTCDate() !== day) return null;
  return epoch;
}
