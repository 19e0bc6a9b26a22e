// The real local ingest as its own process (`aisoc-k8s-audit serve`, which runs startIngestServer
// on 127.0.0.1:0), so a test can measure the server's memory apart from its own: its resident
// set and its peak, from /proc/<pid>/status (Linux; serve-process.ts, re-exported here). Also a
// raw HTTP/1.1 client, for requests fetch would not send as they are (a lying Content-Length, a
// 1 MB header, an unnormalised path).
import { connect } from 'node:net';
import { buildCliBundle, PROJECT_CACHE } from './cli-bundle.js';

export { HAS_PROCFS, peakRssBytes, resetPeakRss, rssBytes, type ServeProcess, spawnServe } from './serve-process.js';

/** A private build of the CLI that can open the SQLite store (see `buildCliBundle`). */
export function buildServeBundle(): Promise<{ cli: string; cleanup: () => void }> {
  return buildCliBundle(PROJECT_CACHE, 'aisoc-serve-');
}

/** An HTTP answer as read off the socket. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Body bytes the client got written before the answer came (or the socket closed). */
  sent: number;
}

/**
 * Sends one HTTP/1.1 request exactly as given (`head` without the final blank line) and reads
 * the answer. The body is written as the server takes it and stops at the answer: a server that
 * refuses early is not made to read the rest. `body` may be a generator of chunks.
 */
export function rawRequest(port: number, head: string, body?: Buffer | Iterable<Buffer>): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let sent = 0;
    let done = false;
    const finish = (answer: RawAnswer | Error) => {
      if (done) return;
      done = true;
      socket.destroy();
      if (answer instanceof Error) reject(answer);
      else resolve(answer);
    };
    const parse = (final: boolean): void => {
      const end = received.indexOf('\r\n\r\n');
      if (end === -1) {
        if (final) finish(new Error(`connection closed without an answer (${received.length} bytes, sent ${sent})`));
        return;
      }
      const lines = received.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      if (status === 100) {
        // `Expect: 100-continue` answered: drop the interim answer and wait for the real one.
        received = received.subarray(end + 4);
        parse(final);
        return;
      }
      const length = headers['content-length'] === undefined ? null : Number(headers['content-length']);
      const bodyBytes = received.subarray(end + 4);
      if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
        const decoded = dechunk(bodyBytes);
        if (decoded !== null) finish({ status, headers, body: decoded.toString('utf8'), sent });
        else if (final) finish(new Error(`connection closed inside a chunked answer (status ${status})`));
        return;
      }
      if (length !== null && bodyBytes.length >= length) {
        finish({ status, headers, body: bodyBytes.subarray(0, length).toString('utf8'), sent });
      } else if (final) {
        finish({ status, headers, body: bodyBytes.toString('utf8'), sent });
      }
    };
    socket.on('data', (c: Buffer) => {
      received = Buffer.concat([received, c]);
      parse(false);
    });
    socket.on('end', () => parse(true));
    socket.on('close', () => parse(true));
    // A server that answered and hung up mid-upload resets the connection: the answer already read counts.
    socket.on('error', (err) => (received.length > 0 ? parse(true) : finish(err)));
    socket.once('connect', async () => {
      socket.write(`${head}\r\n\r\n`);
      if (body === undefined) return;
      const chunks = Buffer.isBuffer(body) ? [body] : body;
      for (const chunk of chunks) {
        if (done || socket.destroyed) return;
        sent += chunk.length;
        if (!socket.write(chunk)) {
          await new Promise<void>((r) => {
            const go = () => {
              socket.off('drain', go);
              socket.off('close', go);
              r();
            };
            socket.on('drain', go);
            socket.on('close', go);
          });
        }
      }
    });
  });
}

/** Decodes a complete chunked body (RFC 9112 §7.1); null while the last chunk has not arrived. */
function dechunk(data: Buffer): Buffer | null {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', at);
    if (eol === -1) return null;
    const size = Number.parseInt(data.subarray(at, eol).toString('latin1').split(';')[0] ?? '', 16);
    if (Number.isNaN(size)) throw new Error('malformed chunk size');
    if (size === 0) return Buffer.concat(parts);
    if (data.length < eol + 2 + size + 2) return null;
    parts.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}
