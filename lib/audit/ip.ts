import { isIP } from 'node:net';

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const CANONICAL_V4 = new RegExp(`^(?:${OCTET}\\.){3}${OCTET}$`);

/**
 * `address` without its IPv6 zone (`fe80::1%eth0`, RFC 6874): the zone names the sender's
 * interface, not the address. The same string, unallocated, when there is none.
 */
export function withoutZone(address: string): string {
  const zone = address.indexOf('%');
  return zone === -1 ? address : address.slice(0, zone);
}

/**
 * Returns the canonical text of an IP address for OCSF `ip_t` fields, or `null` when the value
 * is no address. Zero-padded IPv4 octets (`12.000.22.33`, as in the Security Lake EKS sample)
 * become `12.0.22.33`; IPv6 is compressed and lower-cased, without its zone.
 */
export function canonicalIp(value: string): string | null {
  // Most source addresses are already canonical IPv4: answer those without any allocation.
  if (CANONICAL_V4.test(value)) return value;
  const trimmed = value.trim();
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(trimmed)) {
    const octets = trimmed.split('.').map(Number);
    return octets.every((o) => o <= 255) ? octets.join('.') : null;
  }
  // ip_t holds the address, not the interface the sender named.
  const address = withoutZone(trimmed);
  if (address.length > 45 || isIP(address) !== 6) return null;
  try {
    const host = new URL(`http://[${address}]/`).hostname;
    return host.slice(1, -1);
  } catch {
    return null;
  }
}
