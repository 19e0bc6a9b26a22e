import { describe, expect, it } from 'vitest';
import { emptyPoll, onceHasMore, withPart } from '../../../lib/tail/poll.js';

describe('withPart', () => {
  it('adds a step to a poll result without changing either: counts summed, lists appended, latest cursor and error stand', () => {
    const start = emptyPoll(1000);
    const cursor = { path: '/a', dev: '1', ino: '2', offset: 10, skipping: false, headBytes: 10, headHash: 'h', updatedAt: '' };

    const one = withPart(start, { files: ['/a.1'], bytesRead: 100, lines: 2, delivered: 2, resets: ['rotated'], cursor, more: true });
    const two = withPart(one, { files: ['/a'], bytesRead: 50, invalid: 1, more: false, error: 'ingest down', cursor: null });

    expect(start).toEqual(emptyPoll(1000));
    expect(one).toMatchObject({
      files: ['/a.1'],
      bytesRead: 100,
      lines: 2,
      delivered: 2,
      resets: ['rotated'],
      cursor,
      more: true,
      error: null,
    });
    expect(two).toMatchObject({
      files: ['/a.1', '/a'],
      bytesRead: 150,
      lines: 2,
      delivered: 2,
      invalid: 1,
      resets: ['rotated'],
      cursor: null,
      more: true,
      error: 'ingest down',
    });
    expect(withPart(two, {})).toEqual(two);
  });
});

describe('onceHasMore', () => {
  const at = (offset: number, ino = '2') => ({
    path: '/a',
    dev: '1',
    ino,
    offset,
    skipping: false,
    headBytes: 10,
    headHash: 'h',
    updatedAt: '',
  });
  const start = { dev: '1', ino: '2', size: 1000 };

  it('goes on while a poll stopped at the cap before the size the log had at the start, and stops there', () => {
    expect(onceHasMore(withPart(emptyPoll(0), { more: true, cursor: at(400) }), start)).toBe(true);
    // A writer appending as fast as the tailer reads cannot keep --once running past that size.
    expect(onceHasMore(withPart(emptyPoll(0), { more: true, cursor: at(1000) }), start)).toBe(false);
    // Still finishing a rotated file: the live file is ahead.
    expect(onceHasMore(withPart(emptyPoll(0), { more: true, cursor: at(5000, '9') }), start)).toBe(true);
  });

  it('stops after a poll that read everything or failed', () => {
    expect(onceHasMore(withPart(emptyPoll(0), { more: false, cursor: at(400) }), start)).toBe(false);
    expect(onceHasMore(withPart(emptyPoll(0), { more: true, cursor: at(400), error: 'ingest down' }), start)).toBe(false);
  });
});
