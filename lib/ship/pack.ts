import { MIN_INGEST_MAX_BODY_BYTES } from '../config/defaults.js';
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

/**
 * What a sender does when the ingest answers 413 to a body of `count` events and `bytes` bytes,
 * the one rule of every sender (lib/ship's shipEvents, the AKS forwarder): the ingest's caps (body
 * bytes, batch size) may be lower than ours, so a body of several events is split in halves
 * (`halve`, the first half holding `firstHalf(count)`) until it fits; one event refused alone is
 * too large for the ingest (`oversize`), unless its body is no larger than the smallest cap any
 * AiSOC ingest takes: then something in front of the ingest (a proxy's or a WAF's body limit)
 * refuses everything (`front-limit`), and passing events over as too large would lose them all.
 */
export type TooLargeStep = 'halve' | 'oversize' | 'front-limit';

/** The step for a 413 to a body of `count` events and `bytes` bytes (see TooLargeStep). */
export function tooLargeStep(count: number, bytes: number): TooLargeStep {
  if (count > 1) return 'halve';
  return bytes > MIN_INGEST_MAX_BODY_BYTES ? 'oversize' : 'front-limit';
}

/** How many of a 413's `count` events the first half holds. */
export function firstHalf(count: number): number {
  return Math.ceil(count / 2);
}

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

/**
 * Events on their way to lib/ship, and how they lie in memory. `joined[i]` (i ≥ 1) claims that
 * `events[i - 1]` and `events[i]` are views of one buffer with a single comma byte between them,
 * written there by the producer (the tailer overwrites the newline between two lines of its own
 * read buffer: `joinLines` in lib/tail/lines.ts). A run of such events is sent as one view of
 * that buffer inside the EventList envelope, with no copy. Each claim is checked (same memory,
 * one byte apart, a comma there) and a claim that does not hold ends the run, so a wrong claim
 * costs a copy, never a wrong body. A plain array of events is read as having no joins.
 */
export interface JoinedLines {
  readonly events: readonly EventText[];
  readonly joined: readonly boolean[];
}

/** Events given as a plain array: no joins claimed, every event is copied into its body. */
export function withoutJoins(events: readonly EventText[]): JoinedLines {
  return { events, joined: [] };
}

/** Bodies made of more pieces than this are copied into one buffer: each piece costs a write. */
const MAX_BODY_CHUNKS = 64;

/**
 * The same body as `eventListBytes`, byte for byte. Runs of events the input joins (see
 * `JoinedLines`) are views of their buffer inside the envelope, written with one writev; without
 * joins, or when they would make too many pieces, the events are copied into one buffer.
 */
export function eventListChunks(lines: JoinedLines, first: number, count: number, bytes?: number): BodyChunks {
  const { events, joined } = lines;
  const copied = (): BodyChunks => {
    const body = eventListBytes(events, first, count, bytes);
    return { chunks: [body], length: body.length };
  };
  if (joined.length === 0) return copied();
  const runs: [number, number][] = [];
  let size = ENVELOPE_BYTES + count - 1;
  let runStart = first;
  // A view of the whole memory the previous event lies in, to read the byte after it (made once
  // per buffer, not per event).
  let memory: Uint8Array | null = null;
  let memoryBuffer: ArrayBufferLike | null = null;
  // The previous event's memory and where it ends there (the typed-array getters are read once
  // per event: they are a fair part of this walk's cost).
  let prevBuffer: ArrayBufferLike | null = null;
  let gap = 0;
  for (let i = first; i < first + count; i++) {
    const e = events[i] as EventText;
    if (typeof e === 'string') return copied();
    const length = e.length;
    const buffer = e.buffer;
    const offset = e.byteOffset;
    size += length;
    if (prevBuffer !== null) {
      // The claim holds when this event starts one byte after the previous one ends, in the same
      // memory, and that byte is a comma: the bytes from the run's start to this end are then what
      // the body holds.
      let holds = false;
      if (joined[i] === true && buffer === prevBuffer && offset === gap + 1) {
        if (memory === null || memoryBuffer !== buffer) {
          memory = new Uint8Array(buffer);
          memoryBuffer = buffer;
        }
        holds = memory[gap] === COMMA;
      }
      if (!holds) {
        runs.push([runStart, i - 1]);
        runStart = i;
        if (runs.length * 2 + 1 > MAX_BODY_CHUNKS) return copied();
      }
    }
    prevBuffer = buffer;
    gap = offset + length;
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
