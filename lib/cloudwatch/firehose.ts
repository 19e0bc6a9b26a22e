import { crc32, inflateRawSync } from 'node:zlib';
import { OPEN_OBJECT, skipValue, skipWs } from '../audit/json-bytes.js';

/**
 * What Amazon Data Firehose writes to S3 when a CloudWatch Logs subscription feeds it (CloudWatch
 * Logs User Guide, "Using CloudWatch Logs subscription filters", the Firehose example; Firehose
 * Developer Guide, "Decompress CloudWatch Logs" and API Reference, Processor: Decompression,
 * CloudWatchLogProcessing, AppendDelimiterToRecord):
 * - without decompression, each record is the subscription payload as CloudWatch Logs sends it
 *   (gzip of the JSON), and Firehose concatenates records as they are: the object is a series of
 *   gzip members (RFC 1952 section 2.2, "a gzip file consists of a series of members"), one
 *   payload each;
 * - with decompression, the payloads' JSON one after another, with no separator (`}{`) or with
 *   the newline delimiter;
 * - with message extraction, the log messages alone (an audit event a line: JSON lines).
 * Each member and each payload is read on its own, so one that is corrupt or cut short costs
 * only itself, and the object is never inflated into one buffer.
 */

/** One gzip member of a multi-member object: its inflated bytes, or why it could not be read. */
export type GzipMember = { index: number; offset: number; data: Buffer } | { index: number; offset: number; error: string };

// RFC 1952 section 2.3.1: ID1 ID2 CM(8 = deflate) FLG MTIME(4) XFL OS, then the optional fields FLG names.
const FTEXT_RESERVED = 0xe0;
const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;

/** Where the deflate data of the member whose header starts at `at` begins; -1 when no valid header is there. */
function headerEnd(buf: Buffer, at: number): number {
  if (buf[at] !== 0x1f || buf[at + 1] !== 0x8b || buf[at + 2] !== 8) return -1;
  const flags = buf[at + 3] as number;
  if ((flags & FTEXT_RESERVED) !== 0) return -1;
  let pos = at + 10;
  if (flags & FEXTRA) {
    if (pos + 2 > buf.length) return -1;
    pos += 2 + buf.readUInt16LE(pos);
  }
  for (const flag of [FNAME, FCOMMENT]) {
    if (!(flags & flag)) continue;
    const nul = buf.indexOf(0, pos);
    if (nul === -1) return -1;
    pos = nul + 1;
  }
  if (flags & FHCRC) pos += 2;
  return pos <= buf.length ? pos : -1;
}

/** Inflates the member whose header starts at `at`: its bytes and where the next member starts, or what is wrong. */
function inflateMember(buf: Buffer, at: number): { data: Buffer; next: number } | { error: string } {
  const body = headerEnd(buf, at);
  if (body === -1) return { error: 'not a gzip member header' };
  let data: Buffer;
  let used: number;
  try {
    // inflateRaw stops at the end of the deflate stream; bytesWritten is the input it consumed.
    const out = inflateRawSync(buf.subarray(body), { info: true }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    data = out.buffer;
    used = out.engine.bytesWritten;
  } catch (err) {
    const message = (err as Error).message;
    return { error: message === 'unexpected end of file' ? 'cut short (unexpected end of file)' : `not valid gzip: ${message}` };
  }
  const trailer = body + used;
  if (trailer + 8 > buf.length) return { error: 'cut short (the gzip trailer is missing)' };
  // The trailer (RFC 1952 section 2.3.1): CRC-32 and size mod 2^32 of the inflated bytes.
  if (buf.readUInt32LE(trailer) !== crc32(data) || buf.readUInt32LE(trailer + 4) !== data.length % 2 ** 32) {
    return { error: 'not valid gzip: CRC or size in the trailer does not match' };
  }
  return { data, next: trailer + 8 };
}

/** The next offset after `from` where a gzip member header starts, or -1. */
function nextHeader(buf: Buffer, from: number): number {
  for (let at = buf.indexOf(0x1f, from); at !== -1; at = buf.indexOf(0x1f, at + 1)) {
    if (headerEnd(buf, at) !== -1) return at;
  }
  return -1;
}

/**
 * The members of a gzip object, one at a time. A member that does not inflate is reported with its
 * offset; reading then resumes at the next offset where a member inflates, so the members after a
 * corrupt one are still read. Bytes after the last member that are no member are reported too.
 */
export function* gzipMembers(buf: Buffer): Generator<GzipMember> {
  let at = 0;
  let index = 0;
  while (at < buf.length) {
    const read = inflateMember(buf, at);
    if ('data' in read) {
      yield { index: index++, offset: at, data: read.data };
      at = read.next;
      continue;
    }
    if (at > 0 && buf.subarray(at).every((b) => b === 0)) return; // zero padding after the last member
    yield { index: index++, offset: at, error: read.error };
    // Resume at the next header that inflates; one that only looks like a header is passed over.
    let resume = nextHeader(buf, at + 1);
    while (resume !== -1 && 'error' in inflateMember(buf, resume)) resume = nextHeader(buf, resume + 1);
    if (resume === -1) return;
    at = resume;
  }
}

/** True when `buf` holds more than one gzip member (a lone member is read as one payload, as before). */
export function hasSeveralGzipMembers(buf: Buffer): boolean {
  const first = inflateMember(buf, 0);
  return 'data' in first ? first.next < buf.length && headerEnd(buf, first.next) !== -1 : nextHeader(buf, 1) !== -1;
}

// A subscription payload's first member, as CloudWatch Logs writes it (messageType first); any
// other envelope key is accepted too, so a payload with its keys reordered still starts one.
const PAYLOAD_START = /^\{\s*"(?:messageType|owner|logGroup|logStream|subscriptionFilters|logEvents)"\s*:/;

/** True when the bytes at `pos` open a subscription payload. */
export function startsPayload(buf: Buffer, pos: number): boolean {
  return buf[pos] === OPEN_OBJECT && PAYLOAD_START.test(buf.toString('latin1', pos, pos + 64));
}

// How CloudWatch Logs starts every payload. Inside a JSON string its quotes would be escaped, so
// these bytes only ever start a payload.
const PAYLOAD_KEY = '{"messageType"';

/** One JSON document of a run of concatenated payloads: its byte range, or what is wrong at a byte. */
export type JsonPiece = { start: number; end: number } | { at: number; error: string };

/**
 * Splits JSON objects written one after another, with no separator or with whitespace (newlines)
 * between them, into their byte ranges, without parsing them. An object cut short at the end is
 * reported as `incomplete`; bytes that open no object are reported, and reading resumes at the
 * next payload start, so what follows is not lost.
 */
export function splitJsonObjects(buf: Buffer): { pieces: JsonPiece[]; incomplete?: number } {
  const pieces: JsonPiece[] = [];
  let pos = skipWs(buf, 0);
  while (pos < buf.length) {
    if (buf[pos] === OPEN_OBJECT) {
      // skipValue only fails on an object when it is not closed before the end: cut short.
      const end = skipValue(buf, pos);
      if (end === -1) {
        // Cut short before the next payload (whose own brackets then never balance it) or at the end.
        const next = buf.indexOf(PAYLOAD_KEY, pos + 1);
        if (next === -1) return { pieces, incomplete: pos };
        pieces.push({ at: pos, error: 'payload cut short (not closed before the next one starts)' });
        pos = next;
        continue;
      }
      pieces.push({ start: pos, end });
      pos = skipWs(buf, end);
      continue;
    }
    pieces.push({ at: pos, error: 'data that is not a JSON object' });
    let next = buf.indexOf(PAYLOAD_KEY, pos + 1);
    if (next === -1) next = buf.length;
    pos = next;
  }
  return { pieces };
}
