import { deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeContent, isJsonContentType } from '../../../lib/ingest/body.js';
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../../../lib/ingest/errors.js';

describe('decodeContent', () => {
  const text = Buffer.from('{"kind":"EventList","items":[]}');

  it.each([undefined, '', 'identity'])('passes the body through for Content-Encoding %s', async (encoding) => {
    expect(await decodeContent(text, encoding, 100)).toBe(text);
  });

  it.each([
    ['gzip', gzipSync(text)],
    ['x-gzip', gzipSync(text)],
    ['GZIP', gzipSync(text)],
    ['deflate', deflateSync(text)],
  ])('inflates %s', async (encoding, data) => {
    expect((await decodeContent(data, encoding, 100)).toString()).toBe(text.toString());
  });

  it('stops inflating at the cap', async () => {
    await expect(decodeContent(gzipSync(Buffer.alloc(1_000_000)), 'gzip', 1000)).rejects.toBeInstanceOf(PayloadTooLargeError);
  });

  it('takes a body of exactly the cap', async () => {
    expect((await decodeContent(gzipSync(Buffer.alloc(1000)), 'gzip', 1000)).length).toBe(1000);
  });

  it('refuses truncated or corrupt gzip with 400', async () => {
    await expect(decodeContent(gzipSync(text).subarray(0, 15), 'gzip', 100)).rejects.toBeInstanceOf(BadRequestError);
    await expect(decodeContent(text, 'gzip', 100)).rejects.toBeInstanceOf(BadRequestError);
  });

  it.each(['br', 'zstd', 'gzip, gzip'])('refuses Content-Encoding %s with 415', async (encoding) => {
    await expect(decodeContent(text, encoding, 100)).rejects.toBeInstanceOf(UnsupportedMediaTypeError);
  });
});

describe('isJsonContentType', () => {
  it.each([
    [undefined, true],
    ['', true],
    ['application/json', true],
    ['application/json; charset=utf-8', true],
    ['APPLICATION/JSON', true],
    ['application/vnd.api+json', true],
    ['text/json', false],
    ['text/plain', false],
    ['application/x-ndjson', false],
    ['multipart/form-data; boundary=x', false],
  ])('%s → %s', (type, ok) => {
    expect(isJsonContentType(type)).toBe(ok);
  });
});
