import {
  CLOSE_ARRAY,
  CLOSE_OBJECT,
  COLON,
  COMMA,
  OPEN_ARRAY,
  OPEN_OBJECT,
  QUOTE,
  skipString as skipJsonString,
  skipValue as skipJsonValue,
  skipWs,
} from '../audit/json-bytes.js';
import { jsonErrorReason } from '../json.js';
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

function fail(what: string, pos: number): never {
  throw new EnvelopeError(`subscription payload is not JSON of the documented shape: ${what} at byte ${pos}`);
}

/** Past the string that opens at `pos`, or the envelope error naming where it started. */
function skipString(buf: Buffer, pos: number): number {
  const end = skipJsonString(buf, pos);
  return end === -1 ? fail('unterminated string', pos) : end;
}

/** Past the JSON value that starts at `pos`, or the envelope error naming what is wrong there. */
function skipValue(buf: Buffer, pos: number): number {
  const end = skipJsonValue(buf, pos);
  if (end !== -1) return end;
  const c = buf[pos];
  return fail(
    c === QUOTE ? 'unterminated string' : c === OPEN_OBJECT || c === OPEN_ARRAY ? 'unterminated object or array' : 'value expected',
    pos,
  );
}

function parseSlice(buf: Buffer, start: number, end: number): unknown {
  try {
    return JSON.parse(buf.toString('utf8', start, end));
  } catch (err) {
    return fail(jsonErrorReason(err), start);
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
