// skipUnreadBody (lib/ingest/adapters/skip-body.ts) against node's own HTTP parser on a real
// socket: a refused body is read off without reaching JavaScript, and whatever follows it on the
// connection (the next request in the same packet, or the next connection to take the parser from
// node's pool after this one closed mid-body) reads its own body whole.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { skipUnreadBody } from '../../lib/ingest/adapters/skip-body.js';
import { until } from '../helpers/until.js';

interface Seen {
  skipped: boolean[];
  /** Body bytes of refused requests that reached JavaScript. */
  refusedBytesSeen: number;
}

/** `/refuse` answers 400 at once and skips its body; `/echo` answers the length and SHA-256 of its body. */
function startServer(seen: Seen): Promise<Server> {
  const server = createServer((req: IncomingMessage, res) => {
    if (req.url === '/refuse') {
      req.on('data', (c: Buffer) => {
        seen.refusedBytesSeen += c.length;
      });
      res.end('refused');
      seen.skipped.push(skipUnreadBody(req));
      return;
    }
    const hash = createHash('sha256');
    let n = 0;
    req.on('data', (c: Buffer) => {
      hash.update(c);
      n += c.length;
    });
    req.on('end', () => res.end(`${n} ${hash.digest('hex')}`));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function head(path: string, length: number): string {
  return `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${length}\r\n\r\n`;
}

function body(bytes: number, seed: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) b[i] = (i * 31 + seed) % 251;
  return b;
}

function digest(b: Buffer): string {
  return `${b.length} ${createHash('sha256').update(b).digest('hex')}`;
}

/** A raw connection and everything it has received. */
async function open(server: Server): Promise<{ socket: Socket; text: () => string }> {
  const { port } = server.address() as { port: number };
  const socket = connect(port, '127.0.0.1');
  let text = '';
  socket.on('data', (c: Buffer) => {
    text += c.toString('latin1');
  });
  await new Promise((r) => socket.once('connect', r));
  return { socket, text: () => text };
}

describe('skipUnreadBody', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  it('reads a refused body off uncopied, and the request behind it in the same packet gets its body whole', async () => {
    const seen: Seen = { skipped: [], refusedBytesSeen: 0 };
    server = await startServer(seen);
    const c = await open(server);
    const refused = body(3 * 1024 * 1024, 1);
    const next = body(200_000, 2);
    const last = body(70_000, 3);
    // The refused head and a first part of its body; the answer comes on the head.
    c.socket.write(head('/refuse', refused.length) + refused.subarray(0, 100_000).toString('latin1'), 'latin1');
    await until(() => c.text().includes('refused'), 5000, 5);
    // The rest of it, then the next request whole, in one write: the parser meets the end of the
    // skipped body and the next request's body in the same chunk.
    c.socket.write(Buffer.concat([refused.subarray(100_000), Buffer.from(head('/echo', next.length)), next]));
    await until(() => c.text().includes(digest(next)));
    // And one more, its body in two writes.
    c.socket.write(Buffer.concat([Buffer.from(head('/echo', last.length)), last.subarray(0, 1000)]));
    c.socket.write(last.subarray(1000));
    await until(() => c.text().includes(digest(last)));
    c.socket.destroy();

    expect(seen.skipped).toEqual([true]);
    // What reached JavaScript of the 3 MiB refused body: at most what came with its head.
    expect(seen.refusedBytesSeen).toBeLessThanOrEqual(100_000);
    expect(c.text().match(/HTTP\/1\.1 \d{3} /g)).toEqual(['HTTP/1.1 200 ', 'HTTP/1.1 200 ', 'HTTP/1.1 200 ']);
  });

  it('gives the parser back whole when the connection closes mid-body: the next connection, on the same pooled parser, reads its body', async () => {
    const seen: Seen = { skipped: [], refusedBytesSeen: 0 };
    server = await startServer(seen);
    for (let round = 0; round < 3; round++) {
      const gone = await open(server);
      gone.socket.write(head('/refuse', 1_000_000) + 'x'.repeat(10_000));
      await until(() => gone.text().includes('refused'));
      gone.socket.destroy();
      await new Promise((r) => setTimeout(r, 20));
      const fresh = await open(server);
      const b = body(150_000, round);
      fresh.socket.write(Buffer.concat([Buffer.from(head('/echo', b.length)), b]));
      await until(() => fresh.text().includes(digest(b)));
      fresh.socket.destroy();
    }
    expect(seen.skipped).toEqual([true, true, true]);
  });
});
