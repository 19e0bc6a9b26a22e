import type { LogEvent } from './types.js';

/** The envelope of a subscription payload that does not have the documented shape. */
export class EnvelopeError extends Error {
  override name = 'EnvelopeError';
}

/** A subscription payload whose log events are still byte ranges of the inflated JSON. */
export interface PayloadView {
  messageType: string;
  owner: string;
  logGroup: string;
  logStream: string;
  subscriptionFilters: string[];
  /** Number of log events. */
  count: number;
  /** Parses the i-th log event (0-based); throws EnvelopeError when it is not {id, timestamp, message}. */
  event(i: number): LogEvent;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

function isWhitespace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipWs(buf: Buffer, pos: number): number {
  while (isWhitespace(buf[pos])) pos++;
  return pos;
}

function fail(what: string, pos: number): never {
  throw new EnvelopeError(`subscription payload is not JSON of the documented shape: ${what} at byte ${pos}`);
}

/** Returns the index just past the string that starts at `pos` (on its opening quote). */
function skipString(buf: Buffer, pos: number): number {
  const end = buf.length;
  let i = pos + 1;
  while (i < end) {
    const c = buf[i];
    if (c === BACKSLASH) i += 2;
    else if (c === QUOTE) return i + 1;
    else i++;
  }
  return fail('unterminated string', pos);
}

/** Returns the index just past the object or array that starts at `pos`. */
function skipContainer(buf: Buffer, pos: number): number {
  const end = buf.length;
  let depth = 0;
  let i = pos;
  while (i < end) {
    const c = buf[i];
    if (c === QUOTE) {
      i = skipString(buf, i);
      continue;
    }
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) depth++;
    else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
  return fail('unterminated object or array', pos);
}

/** Returns the index just past the JSON value that starts at `pos`. */
function skipValue(buf: Buffer, pos: number): number {
  const c = buf[pos];
  if (c === QUOTE) return skipString(buf, pos);
  if (c === OPEN_OBJECT || c === OPEN_ARRAY) return skipContainer(buf, pos);
  let i = pos;
  while (i < buf.length) {
    const d = buf[i];
    if (d === COMMA || d === CLOSE_OBJECT || d === CLOSE_ARRAY || isWhitespace(d)) break;
    i++;
  }
  return i === pos ? fail('value expected', pos) : i;
}

function parseSlice(buf: Buffer, start: number, end: number): unknown {
  try {
    return JSON.parse(buf.toString('utf8', start, end));
  } catch (err) {
    return fail(`${(err as Error).message}`, start);
  }
}

/**
 * Reads the envelope of an inflated subscription payload without turning the whole of it into
 * one string and one object tree: the small members are parsed, and each log event is only
 * located. The forwarder then parses one event at a time, so a 10 MB payload costs its bytes
 * once, not three times over (bytes, text, parsed tree), in a 128 MB Lambda. Slicing at JSON
 * punctuation is safe for UTF-8: those bytes never occur inside a multi-byte character.
 */
export function viewSubscriptionJson(buf: Buffer): PayloadView {
  let pos = skipWs(buf, 0);
  if (buf[pos] !== OPEN_OBJECT) fail('object expected', pos);
  pos++;
  const members: Record<string, unknown> = {};
  let starts: number[] | null = null;
  let ends: number[] = [];
  for (;;) {
    pos = skipWs(buf, pos);
    if (buf[pos] === CLOSE_OBJECT) {
      pos++;
      break;
    }
    if (buf[pos] !== QUOTE) fail('member name expected', pos);
    const keyEnd = skipString(buf, pos);
    const key = parseSlice(buf, pos, keyEnd) as string;
    pos = skipWs(buf, keyEnd);
    if (buf[pos] !== COLON) fail('":" expected', pos);
    pos = skipWs(buf, pos + 1);
    if (key === 'logEvents' && buf[pos] === OPEN_ARRAY) {
      starts = [];
      ends = [];
      pos = skipWs(buf, pos + 1);
      if (buf[pos] === CLOSE_ARRAY) pos++;
      else {
        for (;;) {
          const start = pos;
          pos = skipValue(buf, pos);
          starts.push(start);
          ends.push(pos);
          pos = skipWs(buf, pos);
          if (buf[pos] === COMMA) {
            pos = skipWs(buf, pos + 1);
            continue;
          }
          if (buf[pos] !== CLOSE_ARRAY) fail('"," or "]" expected', pos);
          pos++;
          break;
        }
      }
    } else {
      const start = pos;
      pos = skipValue(buf, pos);
      members[key] = parseSlice(buf, start, pos);
    }
    pos = skipWs(buf, pos);
    if (buf[pos] === COMMA) {
      pos++;
      continue;
    }
    if (buf[pos] !== CLOSE_OBJECT) fail('"," or "}" expected', pos);
  }
  if (skipWs(buf, pos) !== buf.length) fail('unexpected data after the payload', pos);
  if (typeof members.messageType !== 'string') throw new EnvelopeError('subscription payload has no messageType');
  if (starts === null) throw new EnvelopeError('subscription payload has no logEvents array');
  const eventStarts = starts;
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  return {
    messageType: members.messageType,
    owner: str(members.owner),
    logGroup: str(members.logGroup),
    logStream: str(members.logStream),
    subscriptionFilters: Array.isArray(members.subscriptionFilters) ? members.subscriptionFilters.filter((f) => typeof f === 'string') : [],
    count: eventStarts.length,
    event(i: number): LogEvent {
      const e = parseSlice(buf, eventStarts[i] as number, ends[i] as number) as Partial<LogEvent> | null;
      if (e === null || typeof e !== 'object' || typeof e.message !== 'string')
        throw new EnvelopeError(`logEvents[${i}] has no message string`);
      return {
        id: typeof e.id === 'string' ? e.id : String(e.id ?? ''),
        timestamp: typeof e.timestamp === 'number' ? e.timestamp : 0,
        message: e.message,
      };
    },
  };
}
