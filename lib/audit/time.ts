// RFC 3339 as the apiserver writes it (metav1.MicroTime: microseconds, `Z`), plus what
// hand-made and legacy data carries: no fraction, a numeric offset, or a space for `T`.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$/;

/** Parses an audit timestamp to epoch milliseconds, or `null` when it is not a usable time. */
export function parseAuditTimestamp(value: unknown): number | null {
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
  // Date.UTC rolls 31 February into March; a date that moved is not a real date.
  const check = new Date(Date.UTC(Number(y), month - 1, day));
  if (check.getUTCDate() !== day || !Number.isFinite(epoch)) return null;
  return epoch;
}
