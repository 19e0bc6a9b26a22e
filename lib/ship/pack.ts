import type { PackedBody } from './types.js';

/**
 * The EventList envelope the apiserver's webhook backend sends (audit.k8s.io/v1), split around
 * the items so events are packed as their original text, never re-serialised.
 */
export const EVENT_LIST_PREFIX = '{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[';
export const EVENT_LIST_SUFFIX = ']}';
const PREFIX_BYTES = Buffer.from(EVENT_LIST_PREFIX, 'utf8');
const SUFFIX_BYTES = Buffer.from(EVENT_LIST_SUFFIX, 'utf8');
const ENVELOPE_BYTES = PREFIX_BYTES.length + SUFFIX_BYTES.length;
const COMMA = 0x2c;
const COMMA_BYTES = Buffer.from(',', 'latin1');

/** One event as its original JSON text, or as that text's UTF-8 bytes. */
export type EventText = string | Uint8Array;

/** The UTF-8 size of an event, exactly as it will be sent. */
export function eventBytes(event: EventText): number {
  return typeof event === 'string' ? Buffer.byteLength(event, 'utf8') : event.length;
}

/** An event's text (for reading an auditID out of it when it fails). */
export function eventString(event: EventText): string {
  return typeof event === 'string' ? event : Buffer.from(event.buffer, event.byteOffset, event.byteLength).toString('utf8');
}

/** One step of packing: a range of events that fills one body, or an event too big for any body. */
export type PackStep = { kind: 'range'; first: number; count: number; bytes: number } | { kind: 'oversize'; index: number; bytes: number };

/** Builds the EventList body text holding `events[first .. first+count)`. */
export function eventListBody(events: readonly string[], first: number, count: number): string {
  if (count === 1) return EVENT_LIST_PREFIX + events[first] + EVENT_LIST_SUFFIX;
  return EVENT_LIST_PREFIX + events.slice(first, first + count).join(',') + EVENT_LIST_SUFFIX;
}

/**
 * Builds the same body as UTF-8 bytes, encoding each event straight into one buffer: what is
 * sent, with no intermediate joined string (that copy is a large part of a forwarder's work).
 */
export function eventListBytes(events: readonly EventText[], first: number, count: number, bytes?: number): Buffer {
  let size = bytes;
  if (size === undefined) {
    size = ENVELOPE_BYTES + count - 1;
    for (let i = first; i < first + count; i++) size += eventBytes(events[i] as EventText);
  }
  const out = Buffer.allocUnsafe(size);
  let at = PREFIX_BYTES.copy(out, 0);
  for (let i = first; i < first + count; i++) {
    if (i > first) out[at++] = COMMA;
    const e = events[i] as EventText;
    if (typeof e === 'string') at += out.write(e, at, 'utf8');
    else {
      out.set(e, at);
      at += e.length;
    }
  }
  at += SUFFIX_BYTES.copy(out, at);
  return at === size ? out : out.subarray(0, at);
}

/** A body as it is written to the socket: pieces sent one after the other, `length` bytes in all. */
export interface BodyChunks {
  chunks: Uint8Array[];
  length: number;
}

/** Bodies made of more pieces than this are copied into one buffer: each piece costs a write. */
const MAX_BODY_CHUNKS = 64;

/**
 * The same body as `eventListBytes`, byte for byte, without copying the events when they lie in
 * one buffer already separated by single commas (the tailer turns the newlines between the lines
 * of its read into commas): then the body is the envelope around views of that buffer, written
 * with one writev. Anything else is copied into one buffer by `eventListBytes`.
 */
export function eventListChunks(events: readonly EventText[], first: number, count: number, bytes?: number): BodyChunks {
  const runs: [number, number][] = [];
  let size = ENVELOPE_BYTES + count - 1;
  let runStart = first;
  // Where the previous event ends, and a view of the whole memory it lies in to read the byte
  // there (made once per buffer, not per event).
  let prevBuffer: ArrayBufferLike | null = null;
  let prevEnd = -1;
  let memory: Uint8Array | null = null;
  for (let i = first; i < first + count; i++) {
    const e = events[i] as EventText;
    if (typeof e === 'string') {
      const body = eventListBytes(events, first, count, bytes);
      return { chunks: [body], length: body.length };
    }
    const buffer = e.buffer;
    const offset = e.byteOffset;
    const length = e.length;
    size += length;
    if (i > first) {
      // This event follows the previous one with exactly one comma between them in the same
      // memory: the bytes from the previous start to this end are then what the body holds.
      let joined = false;
      if (buffer === prevBuffer && offset === prevEnd + 1) {
        if (memory === null || memory.buffer !== buffer) memory = new Uint8Array(buffer);
        joined = memory[prevEnd] === COMMA;
      }
      if (!joined) {
        runs.push([runStart, i - 1]);
        runStart = i;
        // Events that do not lie comma-joined (the forwarder's arena packs them back to back)
        // are copied: give up on views as soon as they would make too many pieces.
        if (runs.length * 2 + 1 > MAX_BODY_CHUNKS) {
          const body = eventListBytes(events, first, count, bytes);
          return { chunks: [body], length: body.length };
        }
      }
    }
    prevBuffer = buffer;
    prevEnd = offset + length;
  }
  runs.push([runStart, first + count - 1]);
  if (runs.length * 2 + 1 > MAX_BODY_CHUNKS) {
    const body = eventListBytes(events, first, count, size);
    return { chunks: [body], length: body.length };
  }
  const chunks: Uint8Array[] = [PREFIX_BYTES];
  for (const [a, b] of runs) {
    if (chunks.length > 1) chunks.push(COMMA_BYTES);
    const head = events[a] as Uint8Array;
    const tail = events[b] as Uint8Array;
    chunks.push(new Uint8Array(head.buffer, head.byteOffset, tail.byteOffset + tail.length - head.byteOffset));
  }
  chunks.push(SUFFIX_BYTES);
  return { chunks, length: size };
}

/**
 * Walks the events once and yields each range of events as soon as it fills a body, so a caller
 * can send it before the next is measured. Sizes are exact UTF-8 byte counts of what is sent:
 * the envelope, every event, and the commas.
 */
export function* iteratePackRanges(events: readonly EventText[], maxEvents: number, maxBytes: number): Generator<PackStep> {
  const limit = Math.max(1, Math.floor(maxEvents));
  let first = 0;
  let count = 0;
  let bytes = ENVELOPE_BYTES;
  const flush = (): PackStep => {
    const step: PackStep = { kind: 'range', first, count, bytes };
    count = 0;
    bytes = ENVELOPE_BYTES;
    return step;
  };
  for (let i = 0; i < events.length; i++) {
    const size = eventBytes(events[i] as EventText);
    if (ENVELOPE_BYTES + size > maxBytes) {
      // Keep bodies contiguous ranges of the input: close the open body before the gap.
      if (count > 0) yield flush();
      yield { kind: 'oversize', index: i, bytes: ENVELOPE_BYTES + size };
      continue;
    }
    if (count > 0 && (count >= limit || bytes + 1 + size > maxBytes)) yield flush();
    if (count === 0) {
      first = i;
      bytes += size;
    } else {
      bytes += size + 1;
    }
    count++;
  }
  if (count > 0) yield flush();
}

/** Packs events into audit.k8s.io/v1 EventList bodies of at most maxEvents events and maxBytes bytes (byte-exact). */
export function packEventLists(
  events: readonly string[],
  maxEvents: number,
  maxBytes: number,
): { bodies: PackedBody[]; oversize: number[] } {
  const bodies: PackedBody[] = [];
  const oversize: number[] = [];
  for (const step of iteratePackRanges(events, maxEvents, maxBytes)) {
    if (step.kind === 'range') bodies.push({ body: eventListBody(events, step.first, step.count), first: step.first, count: step.count });
    else oversize.push(step.index);
  }
  return { bodies, oversize };
}
