import { createServer, request } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What the front does with one request: forward it, answer with a status (at once or later), hang up, or never answer. */
export type FrontFault = 'pass' | number | { status: number; afterMs: number } | 'reset' | 'stall';

/** A running front. */
export interface Front {
  url: string;
  /** Requests seen so far (the n passed to `decide`). */
  requests(): number;
  /** The most requests it held at once (received, not yet answered). */
  maxInFlight(): number;
  close(): Promise<void>;
}

/**
 * A loopback front for a real ingest: each request is forwarded to `target` as it is, unless
 * `decide(n)` (n counts requests from 1) says to fail it, as a load balancer or a failing ingest
 * would: a status with a JSON error body (and `Retry-After: 0`, so retries do not slow the test),
 * at once or after a while, a reset connection, or no answer at all.
 */
export async function startFront(target: string, decide: (n: number) => FrontFault): Promise<Front> {
  const to = new URL(target);
  let count = 0;
  const sockets = new Set<Socket>();
  let inFlight = 0;
  let maxInFlight = 0;
  const server = createServer((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.once('close', () => inFlight--);
    const fault = decide(++count);
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault === 'stall') {
      req.resume();
      return;
    }
    if (fault !== 'pass') {
      req.resume();
      const [code, afterMs] = typeof fault === 'number' ? [fault, 0] : [fault.status, fault.afterMs];
      const answer = () => res.writeHead(code, { 'content-type': 'application/json', 'retry-after': '0' }).end('{"error":"injected"}');
      if (afterMs > 0) setTimeout(answer, afterMs);
      else answer();
      return;
    }
    const upstream = request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    req.pipe(upstream);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => count,
    maxInFlight: () => maxInFlight,
    close: async () => {
      // Stalled requests hold their sockets open: cut them, or close() waits for ever.
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
