// lib/ship's own transport (node:http, no fetch injected) against a real server on loopback:
// what arrives, how answers, redirects, timeouts and unsendable requests are reported.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { shipEvents } from '../../lib/ship/index.js';

interface Seen {
  headers: IncomingHttpHeaders;
  body: string;
}

let server: Server;
let base: string;
let seen: Seen[];
let reply: (res: import('node:http').ServerResponse) => void;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      reply(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/ingest/k8s-audit/acme`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  seen = [];
  reply = (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"accepted":2,"rejected":0,"duplicates":0,"errors":[]}');
  };
});

const EVENTS = ['{"kind":"Event","auditID":"a-1","verb":"get","userAgent":"jürgen/名前"}', '{"kind":"Event","auditID":"a-2"}'];

describe('shipEvents over node:http', () => {
  it('delivers the EventList byte for byte with its length, token and cluster headers', async () => {
    const result = await shipEvents(EVENTS, { url: base, token: 's3cret', clusterName: 'prod' });

    expect(result).toMatchObject({ delivered: 2, accepted: 2, batches: 1, failed: [] });
    expect(seen).toHaveLength(1);
    const [req] = seen;
    expect(JSON.parse(req?.body ?? '')).toEqual({
      kind: 'EventList',
      apiVersion: 'audit.k8s.io/v1',
      metadata: {},
      items: EVENTS.map((e) => JSON.parse(e)),
    });
    expect(req?.headers['content-length']).toBe(String(Buffer.byteLength(req?.body ?? '')));
    expect(req?.headers['x-aisoc-k8s-token']).toBe('s3cret');
    expect(req?.headers['x-aisoc-cluster-name']).toBe('prod');
  });

  it('does not follow a redirect: a configuration error that names the URL, sent once', async () => {
    reply = (res) => {
      res.writeHead(308, { location: 'https://elsewhere.example/v1/ingest/k8s-audit/acme' });
      res.end();
    };

    const result = await shipEvents(EVENTS, { url: base, token: 't', maxAttempts: 3 });

    expect(seen).toHaveLength(1);
    expect(result.failed.map((f) => [f.kind, f.status, f.retryable])).toEqual([
      ['config', 308, false],
      ['config', 308, false],
    ]);
    expect(result.failed[0]?.reason).toContain('set AISOC_INGEST_URL to the final URL');
  });

  it('reports an ingest that does not answer in time as a timeout, and retries it', async () => {
    reply = () => {
      // Never answers.
    };

    const result = await shipEvents(EVENTS, { url: base, token: 't', requestTimeoutMs: 100, maxAttempts: 2, sleep: async () => {} });

    expect(seen).toHaveLength(2);
    expect(result.failed[0]).toMatchObject({ kind: 'gave-up', retryable: true });
    expect(result.failed[0]?.reason).toContain('TIMEOUT');
  });

  it('sends nothing for a request that cannot be built, and says what to check', async () => {
    const result = await shipEvents(EVENTS, { url: base, token: 'bad\ntoken' });

    expect(seen).toHaveLength(0);
    expect(result.failed[0]).toMatchObject({ kind: 'config', retryable: false });
    expect(result.failed[0]?.reason).toContain('the request cannot be built');
    expect(result.failed[0]?.reason).not.toContain('bad\ntoken');
  });
});
