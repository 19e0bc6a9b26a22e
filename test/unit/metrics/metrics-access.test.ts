import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { metricsAccess, metricsRefusal } from '../../../lib/metrics/prometheus.js';

/** The parts of a request the rule reads: the peer's address and the Authorization header. */
function request(remoteAddress: string, authorization?: string): IncomingMessage {
  return { socket: { remoteAddress }, headers: authorization === undefined ? {} : { authorization } } as unknown as IncomingMessage;
}

describe('metricsRefusal', () => {
  it('without a token, answers a loopback peer (IPv4, IPv6, IPv4-mapped) and refuses any other with 403', () => {
    const open = metricsAccess(undefined);
    for (const peer of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) expect(metricsRefusal(open, request(peer)), peer).toBeNull();
    for (const peer of ['10.0.0.5', '192.168.1.20', '::ffff:10.0.0.5', 'fd00::1', '']) {
      expect(metricsRefusal(open, request(peer))?.status, peer).toBe(403);
    }
    expect(metricsAccess('   ').tokenDigest).toBeNull();
  });

  it('with a token, asks every peer (loopback too: a TLS proxy on this machine) for it as a bearer token', () => {
    const access = metricsAccess('metrics-token-0123456789');
    for (const peer of ['127.0.0.1', '10.0.0.5']) {
      expect(metricsRefusal(access, request(peer))?.status).toBe(401);
      expect(metricsRefusal(access, request(peer, 'Bearer wrong-token'))?.status).toBe(401);
      expect(metricsRefusal(access, request(peer, 'Basic bWV0cmljcy10b2tlbi0wMTIzNDU2Nzg5'))?.status).toBe(401);
      expect(metricsRefusal(access, request(peer, 'Bearer metrics-token-0123456789'))).toBeNull();
      expect(metricsRefusal(access, request(peer, 'bearer metrics-token-0123456789'))).toBeNull();
    }
    expect(JSON.stringify(access)).not.toContain('metrics-token');
    expect(metricsRefusal(access, request('10.0.0.5', 'Bearer wrong-token'))?.error).not.toContain('wrong-token');
  });
});
