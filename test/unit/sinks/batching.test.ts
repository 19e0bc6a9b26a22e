import { describe, expect, it } from 'vitest';
import { chunkBy, isRetryableError, sendWithRetry } from '../../../lib/sinks/batching.js';
import { SinkUnavailableError } from '../../../lib/sinks/types.js';

describe('chunkBy', () => {
  it('splits by count and by bytes; an item over the byte cap goes alone', () => {
    expect(chunkBy([1, 2, 3, 4, 5], 2, 100, () => 1)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunkBy([4, 4, 4, 9, 1], 10, 8, (n) => n)).toEqual([[4, 4], [4], [9], [1]]);
    expect(chunkBy([], 10, 10, () => 1)).toEqual([]);
  });
});

describe('isRetryableError', () => {
  it.each([
    [{ name: 'ThrottlingException' }, true],
    [{ name: 'ProvisionedThroughputExceededException' }, true],
    [{ $fault: 'server', name: 'InternalFailure' }, true],
    [{ code: 'ECONNRESET', name: 'Error' }, true],
    [{ $retryable: {}, name: 'X' }, true],
    [{ $fault: 'client', name: 'ResourceNotFoundException' }, false],
    [{ $fault: 'client', name: 'AccessDeniedException' }, false],
  ])('%o → %s', (err, retryable) => {
    expect(isRetryableError(err)).toBe(retryable);
  });
});

describe('sendWithRetry', () => {
  const noSleep = async () => {};

  it('resends only what failed until everything is taken', async () => {
    const sent: string[][] = [];
    let round = 0;

    await sendWithRetry(
      'test',
      ['a', 'b', 'c'],
      async (items) => {
        sent.push([...items]);
        round++;
        return items.map((i) => (round === 1 && i !== 'b' ? 'Throttled' : null));
      },
      { maxAttempts: 3, sleep: noSleep },
    );

    expect(sent).toEqual([
      ['a', 'b', 'c'],
      ['a', 'c'],
    ]);
  });

  it('backs off between tries with growing, capped delays', async () => {
    const delays: number[] = [];

    await expect(
      sendWithRetry('test', ['a'], async () => ['Throttled'], {
        maxAttempts: 4,
        baseDelayMs: 100,
        sleep: async (ms) => {
          delays.push(ms);
        },
      }),
    ).rejects.toBeInstanceOf(SinkUnavailableError);

    expect(delays).toHaveLength(3);
    expect(delays[0]).toBeLessThanOrEqual(100);
    expect(delays[2]).toBeLessThanOrEqual(400);
  });

  it('returns permanent refusals without retrying them', async () => {
    let calls = 0;

    const refused = await sendWithRetry(
      'test',
      ['a', 'b'],
      async (items) => {
        calls++;
        return items.map((i) => (i === 'a' ? { permanent: 'malformed' } : null));
      },
      { maxAttempts: 3, sleep: noSleep },
    );

    expect([calls, [...refused.entries()]]).toEqual([1, [['a', 'malformed']]]);
  });

  it('retries a thrown retryable error and stops at a non-retryable one', async () => {
    let calls = 0;
    const throttled = Object.assign(new Error('slow'), { name: 'ThrottlingException' });

    await sendWithRetry(
      'test',
      ['a'],
      async (items) => {
        calls++;
        if (calls === 1) throw throttled;
        return items.map(() => null);
      },
      { maxAttempts: 3, sleep: noSleep },
    );
    const denied = Object.assign(new Error('no'), { name: 'AccessDeniedException', $fault: 'client' });
    const err = await sendWithRetry(
      'test',
      ['a'],
      async () => {
        calls++;
        throw denied;
      },
      { maxAttempts: 3, sleep: noSleep },
    ).catch((e: unknown) => e);

    expect(calls).toBe(3);
    expect(err).toBeInstanceOf(SinkUnavailableError);
  });
});
