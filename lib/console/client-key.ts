import { isIPv4, isIPv6 } from 'node:net';

/**
 * The key a client's failed logins are counted under: one per party that can cheaply hold many
 * addresses. An IPv6 client is keyed by its /64: a /64 is the smallest block a network is handed,
 * and every host on it may pick any of its 2^64 addresses, so counting per address limited nobody
 * (the default of express-rate-limit since v8, issue #502 "Limit IPv6 by /64 subnet instead of
 * per-IP", and of better-auth's ipv6Subnet, do the same). An IPv4 client is keyed by its address,
 * an IPv4-mapped IPv6 address (a dual-stack socket's `::ffff:a.b.c.d`) as that IPv4 address, and
 * all of 127.0.0.0/8 as one: every loopback address is this same host. Anything else (no address
 * known) is its own key, as given.
 */
export function clientKey(address: string): string {
  const bare = address.split('%')[0] ?? address; // a zone (fe80::1%eth0) names the interface, not the client
  if (isIPv4(bare)) return ipv4Key(bare);
  if (!isIPv6(bare)) return address;
  const groups = ipv6Groups(bare);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi = 0, lo = 0] = groups.slice(6);
    return ipv4Key(`${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`);
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

function ipv4Key(address: string): string {
  return address.startsWith('127.') ? '127.0.0.0/8' : address;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a trailing dotted quad read as two groups). */
function ipv6Groups(address: string): number[] {
  let text = address.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16)));
  const first = parse(head);
  const last = tail === undefined ? [] : parse(tail);
  return [...first, ...Array<number>(8 - first.length - last.length).fill(0), ...last];
}
