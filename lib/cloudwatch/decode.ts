import { gunzipSync } from 'node:zlib';
import { isJsonObject } from '../json.js';
import { EnvelopeError, type PayloadView, viewSubscriptionJson } from './envelope.js';
import type { EncodedPayload, ForwarderEventShape, LogEvent, SubscriptionPayload } from './types.js';

/** A subscription payload that cannot be read (bad base64, not gzip, not the documented JSON). */
export class PayloadDecodeError extends Error {
  override name = 'PayloadDecodeError';
}

/** A Lambda event that is neither a CloudWatch Logs subscription nor a Kinesis batch. */
export class UnsupportedEventError extends Error {
  override name = 'UnsupportedEventError';
}

/** Says which forwarder event this is and lists its encoded payloads, without decoding any. */
export function readForwarderEvent(event: unknown): ForwarderEventShape {
  if (isJsonObject(event) && isJsonObject(event.awslogs)) {
    const data = event.awslogs.data;
    if (typeof data !== 'string') throw new UnsupportedEventError('awslogs.data must be a base64 string');
    return { kind: 'awslogs', payloads: [{ data }] };
  }
  if (isJsonObject(event) && Array.isArray(event.Records)) {
    const payloads: EncodedPayload[] = [];
    for (const [i, record] of event.Records.entries()) {
      if (!isJsonObject(record) || !isJsonObject(record.kinesis) || typeof record.kinesis.data !== 'string') {
        throw new UnsupportedEventError(`Records[${i}] is not a Kinesis record (kinesis.data missing)`);
      }
      const p: EncodedPayload = { data: record.kinesis.data };
      if (typeof record.kinesis.sequenceNumber === 'string') p.sequenceNumber = record.kinesis.sequenceNumber;
      if (typeof record.awsRegion === 'string') p.region = record.awsRegion;
      payloads.push(p);
    }
    return { kind: 'kinesis', payloads };
  }
  throw new UnsupportedEventError(
    'event is neither a CloudWatch Logs subscription event ({"awslogs":{"data":...}}) nor a Kinesis event ({"Records":[{"kinesis":...}]})',
  );
}

/** base64 text (Lambda events) or raw bytes (Kinesis GetRecords) → the gzip (or plain) bytes. */
function payloadBytes(data: string | Uint8Array): Uint8Array {
  if (typeof data !== 'string') return data;
  const trimmed = data.trim();
  if (trimmed.length === 0 || !/^[A-Za-z0-9+/_-]+=*$/.test(trimmed)) throw new PayloadDecodeError('subscription payload is not base64');
  return Buffer.from(trimmed, 'base64');
}

/** zlib's default output chunk; also the floor of the size hint below. */
const DEFAULT_CHUNK = 64 * 1024;
/** A size hint larger than this is not trusted (the trailer is not authenticated). */
const MAX_CHUNK = 256 * 1024 * 1024;

/**
 * The output chunk size for inflating: the gzip trailer's ISIZE (RFC 1952: the uncompressed size
 * of the last member, mod 2^32) plus one byte. With one chunk big enough, zlib returns it as is,
 * instead of gathering 64 KiB chunks and copying them into one buffer at the end: that copy
 * briefly doubles the memory a large payload takes.
 */
function inflateChunkSize(bytes: Uint8Array): number {
  const n = bytes.length;
  if (n < 18) return DEFAULT_CHUNK;
  const isize =
    (bytes[n - 4] as number) | ((bytes[n - 3] as number) << 8) | ((bytes[n - 2] as number) << 16) | ((bytes[n - 1] as number) << 24);
  const size = (isize >>> 0) + 1;
  return size < DEFAULT_CHUNK || size > MAX_CHUNK ? DEFAULT_CHUNK : size;
}

/** True when the bytes start with gzip's magic number (RFC 1952). */
function isGzipped(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Inflates a subscription payload to its JSON bytes. Several concatenated gzip members are read
 * as one stream (zlib continues past the first member's end), as a plain `gunzip` would.
 */
export function inflateLogsData(data: string | Uint8Array): Buffer {
  const bytes = payloadBytes(data);
  if (!isGzipped(bytes)) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return gunzipSync(bytes, { chunkSize: inflateChunkSize(bytes) });
  } catch (err) {
    throw new PayloadDecodeError(`subscription payload is not valid gzip: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Opens a subscription payload (base64 → gunzip → UTF-8 JSON) for reading one log event at a
 * time; the text is decoded as UTF-8, since audit lines carry user-supplied names.
 */
export function openLogsData(data: string | Uint8Array): PayloadView {
  const json = inflateLogsData(data);
  try {
    return viewSubscriptionJson(json);
  } catch (err) {
    if (!(err instanceof EnvelopeError)) throw err;
    // Bytes that were not gzip were read as the decoded JSON (what `normalise` accepts); when that
    // fails too, say both, or "not JSON" hides that the gzip was missing.
    const message = isGzipped(payloadBytes(data))
      ? err.message
      : err.message.replace('subscription payload is not JSON', 'subscription payload is neither gzip nor JSON');
    throw new PayloadDecodeError(message, { cause: err });
  }
}

/** Decodes `awslogs.data` (or a Kinesis record's data) into the whole subscription payload. */
export function decodeLogsData(data: string | Uint8Array): SubscriptionPayload {
  const view = openLogsData(data);
  const logEvents: LogEvent[] = [];
  try {
    for (let i = 0; i < view.count; i++) logEvents.push(view.event(i));
  } catch (err) {
    throw new PayloadDecodeError((err as Error).message, { cause: err });
  }
  const { messageType, owner, logGroup, logStream, subscriptionFilters } = view;
  return { messageType, owner, logGroup, logStream, subscriptionFilters, logEvents };
}
