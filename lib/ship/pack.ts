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
