import { describe, expect, it } from 'vitest';
import { emptyPoll, withPart } from '../../../lib/tail/poll.js';

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
