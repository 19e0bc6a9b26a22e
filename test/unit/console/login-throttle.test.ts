import { describe, expect, it } from 'vitest';
import { clientKey } from '../../../lib/console/client-key.js';
import { LOGIN_WINDOW_MS, LoginThrottle, MAX_LOGIN_CLIENTS, MAX_LOGIN_FAILURES } from '../../../lib/console/session.js';

// Addresses in the documentation ranges (RFC 3849 2001:db8::/32, RFC 5737 192.0.2.0/24, and
// private 10.0.0.0/8 for the many), in the spellings RFC 4291 §2.2 and §2.5.5.2 define and Node's
// socket.remoteAddress gives (`::ffff:a.b.c.d` on a dual-stack socket, a `%zone` on link-local).
describe('clientKey', () => {
  it('keys an IPv6 client by its /64 whatever the spelling, IPv4 by address, IPv4-mapped IPv6 as IPv4, loopback as one', () => {
    const sameNetwork = ['2001:db8:1:2::1', '2001:DB8:1:2:ffff:ffff:ffff:fffe', '2001:0db8:0001:0002:0:0:0:9', '2001:db8:1:2:0:0:1.2.3.4'];
    expect(new Set(sameNetwork.map(clientKey))).toEqual(new Set(['2001:db8:1:2::/64']));
    expect(clientKey('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(clientKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(['192.0.2.7', '::ffff:192.0.2.7', '::FFFF:c000:207', '0:0:0:0:0:ffff:192.0.2.7'].map(clientKey)).toEqual(
      Array(4).fill('192.0.2.7'),
    );
    expect(clientKey('192.0.2.8')).toBe('192.0.2.8');
    expect(['127.0.0.1', '127.0.0.2', '127.255.0.9', '::ffff:127.0.0.3'].map(clientKey)).toEqual(Array(4).fill('127.0.0.0/8'));
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    expect(clientKey('unknown')).toBe('unknown');
  });
});

describe('LoginThrottle', () => {
  it('throttles an IPv6 client that rotates its addresses within its /64, and not another /64', () => {
    const throttle = new LoginThrottle(() => 0);
    for (let i = 1; i <= MAX_LOGIN_FAILURES; i++) {
      const address = `2001:db8:1:2:${i.toString(16)}::${i.toString(16)}`;
      expect(throttle.retryAfter(address)).toBe(0);
      throttle.fail(address);
    }
    expect(throttle.retryAfter('2001:db8:1:2:abcd:ef01:2345:6789')).toBe(LOGIN_WINDOW_MS / 1000);
    expect(throttle.retryAfter('2001:db8:1:3::1')).toBe(0);
    // And 127.0.0.2, 127.0.0.3, … are all the loopback.
    for (let i = 1; i <= MAX_LOGIN_FAILURES; i++) throttle.fail(`127.0.0.${i}`);
    expect(throttle.retryAfter('127.0.0.200')).toBeGreaterThan(0);
  });

  it('keeps a throttled client throttled when 1,000 other clients fill the table; new ones past it share one budget', () => {
    let clock = 0;
    const throttle = new LoginThrottle(() => clock);
    for (let i = 0; i < MAX_LOGIN_FAILURES; i++) throttle.fail('2001:db8:1:2::1');
    const clients = Array.from({ length: MAX_LOGIN_CLIENTS + MAX_LOGIN_FAILURES }, (_, i) => `10.0.${Math.floor(i / 250)}.${i % 250}`);
    for (const address of clients) throttle.fail(address);
    // The throttled client is still throttled: filling the table no longer clears it.
    expect(throttle.retryAfter('2001:db8:1:2::9')).toBeGreaterThan(0);
    expect(throttle.size).toBe(MAX_LOGIN_CLIENTS + 1);
    // The clients past the bound were counted under one key: 10 failures, so a new client waits too.
    expect(throttle.retryAfter('192.0.2.1')).toBeGreaterThan(0);
    expect(throttle.retryAfter(clients[0] as string)).toBe(0);
    // Once the window passes, the counts go and a new client has its own budget again.
    clock += LOGIN_WINDOW_MS + 1;
    expect(throttle.retryAfter('192.0.2.1')).toBe(0);
    throttle.fail('192.0.2.1');
    expect(throttle.size).toBe(1);
  });
});
