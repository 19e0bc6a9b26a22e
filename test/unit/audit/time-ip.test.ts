import { describe, expect, it } from 'vitest';
import { canonicalIp, parseAuditTimestamp } from '../../../lib/audit/index.js';

describe('parseAuditTimestamp', () => {
  it('reads the apiserver MicroTime form and the variants seen in the wild', () => {
    expect(parseAuditTimestamp('2018-10-26T13:38:34.867116Z')).toBe(Date.UTC(2018, 9, 26, 13, 38, 34, 867));
    expect(parseAuditTimestamp('2018-10-26T13:38:34Z')).toBe(Date.UTC(2018, 9, 26, 13, 38, 34));
    expect(parseAuditTimestamp('2018-10-26 13:38:34')).toBe(Date.UTC(2018, 9, 26, 13, 38, 34));
    expect(parseAuditTimestamp('2018-10-26T15:38:34.5+02:00')).toBe(Date.UTC(2018, 9, 26, 13, 38, 34, 500));
  });

  it('returns null for what is not a time', () => {
    for (const bad of ['', 'yesterday', '2018-13-01T00:00:00Z', '2018-02-30T00:00:00Z', '2018-10-26T25:00:00Z', 1540561114, null]) {
      expect(parseAuditTimestamp(bad)).toBeNull();
    }
  });
});

describe('canonicalIp', () => {
  it('writes zero-padded IPv4 octets and IPv6 in canonical form', () => {
    expect(canonicalIp('12.000.22.33')).toBe('12.0.22.33');
    expect(canonicalIp(' 10.0.0.1 ')).toBe('10.0.0.1');
    expect(canonicalIp('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
  });

  it('returns null for what is not an address', () => {
    for (const bad of ['300.1.1.1', 'localhost', '1.2.3', '::g', '']) expect(canonicalIp(bad)).toBeNull();
  });
});
