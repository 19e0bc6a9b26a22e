// A refused request's body still arrives (HTTP/1.1 without `Expect: 100-continue`, which Go's
// client does not send), and on a kept connection node discards it as it is read. Discarding is
// not free: node's HTTP parser copies every body chunk into a new Buffer before JavaScript can
// ignore it (`Parser::on_body` in node's src/node_http_parser.cc calls `Buffer::Copy`, then the
// parser's `kOnBody` callback, and skips both when that slot holds no function). Under twice the
// server's capacity those copies were 140-430 MB/s of garbage: measured with `perf` on a server
// refusing 757 KiB bodies, the copy was 15 % of its CPU and the major collections the copies'
// external memory brought on about 20 %, and glibc kept the freed chunks as resident memory.
//
// `skipUnreadBody` empties the parser's `kOnBody` slot until that request's message ends, so the
// parser counts the bytes off without copying them; the next request on the connection, which
// may follow in the same chunk, gets its slot back before its first body byte is parsed, since
// `kOnMessageComplete` runs first. The slots are node internals (`_http_common`'s HTTPParser
// constants and `socket.parser`): when they are not as expected, nothing is changed and node
// discards the body itself, as before.

import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';

type Slot = ((...args: unknown[]) => unknown) | undefined;
type Parser = Record<number, Slot>;

const slots: { body: number; complete: number } | null = (() => {
  try {
    const { HTTPParser } = createRequire(import.meta.url)('_http_common') as {
      HTTPParser?: { kOnBody?: unknown; kOnMessageComplete?: unknown };
    };
    const body = HTTPParser?.kOnBody;
    const complete = HTTPParser?.kOnMessageComplete;
    return typeof body === 'number' && typeof complete === 'number' ? { body, complete } : null;
  } catch {
    return null;
  }
})();

/**
 * Lets node's parser read the rest of `req`'s body without handing it to JavaScript. Call it once
 * the answer is sent and the body will never be read. Returns whether it could (false: node
 * discards the body the usual way).
 */
export function skipUnreadBody(req: IncomingMessage): boolean {
  const parser = (req.socket as unknown as { parser?: Parser | null }).parser;
  if (slots === null || parser == null || req.complete) return false;
  const onBody = parser[slots.body];
  const onComplete = parser[slots.complete];
  if (typeof onBody !== 'function' || typeof onComplete !== 'function') return false;
  const completeMessage = onComplete;
  const restore = () => {
    if (parser[slots.body] === undefined) parser[slots.body] = onBody;
    if (parser[slots.complete] === complete) parser[slots.complete] = onComplete;
    req.socket.off('close', restore);
  };
  function complete(this: unknown, ...args: unknown[]): unknown {
    restore();
    return completeMessage.apply(this, args);
  }
  parser[slots.body] = undefined;
  parser[slots.complete] = complete;
  // A connection closed mid-body frees its parser to node's pool for the next connection: it must
  // go back whole. 'close' runs before a new connection can take it.
  req.socket.on('close', restore);
  return true;
}
