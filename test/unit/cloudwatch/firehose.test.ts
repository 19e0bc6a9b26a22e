import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { gzipMembers, splitJsonObjects } from '../../../lib/cloudwatch/firehose.js';

/** A member as the gzip command writes it: FLG.FNAME set and the file's name after the 10-byte header (RFC 1952 section 2.3.1). */
function namedMember(text: string, name: string): Buffer {
  const plain = gzipSync(text);
  const header = Buffer.from(plain.subarray(0, 10));
  header[3] = 0x08;
  return Buffer.concat([header, Buffer.from(`${name}\0`, 'latin1'), plain.subarray(10)]);
}

const inflated = (buf: Buffer) => [...gzipMembers(buf)].map((m) => ('data' in m ? m.data.toString() : `error at ${m.offset}: ${m.error}`));

describe('gzipMembers', () => {
  it('reads members with optional header fields, as `gzip a.json; cat a.json.gz b.json.gz` leaves them', () => {
    expect(inflated(Buffer.concat([namedMember('{"a":1}', 'p0.json'), gzipSync('{"b":2}'), namedMember('{"c":3}', 'p2.json')]))).toEqual([
      '{"a":1}',
      '{"b":2}',
      '{"c":3}',
    ]);
  });

  it('reports bytes after the last member that are no member, and takes zero padding as the end', () => {
    const one = gzipSync('{"a":1}');
    expect(inflated(Buffer.concat([one, Buffer.from('junk')]))).toEqual(['{"a":1}', `error at ${one.length}: not a gzip member header`]);
    expect(inflated(Buffer.concat([one, Buffer.alloc(16)]))).toEqual(['{"a":1}']);
  });

  it('reports a member whose trailer does not match what it inflated to, and goes on to the next', () => {
    const bad = Buffer.from(gzipSync('{"a":1}'));
    bad[bad.length - 8] = (bad[bad.length - 8] as number) ^ 0xff; // the CRC-32
    expect(inflated(Buffer.concat([bad, gzipSync('{"b":2}')]))).toEqual([
      'error at 0: not valid gzip: CRC or size in the trailer does not match',
      '{"b":2}',
    ]);
  });
});

describe('splitJsonObjects', () => {
  it('splits objects with no separator or whitespace between them, braces inside strings included', () => {
    const buf = Buffer.from('{"m":"}{"}{"n":1}\n{"o":[{}]}');
    expect(splitJsonObjects(buf).pieces.map((p) => ('start' in p ? buf.toString('utf8', p.start, p.end) : p.error))).toEqual([
      '{"m":"}{"}',
      '{"n":1}',
      '{"o":[{}]}',
    ]);
  });

  it('says where an object cut short at the end starts', () => {
    expect(splitJsonObjects(Buffer.from('{"a":1}{"messageType":"DATA'))).toEqual({ pieces: [{ start: 0, end: 7 }], incomplete: 7 });
  });
});
