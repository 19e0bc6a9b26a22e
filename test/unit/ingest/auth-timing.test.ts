// The shared-secret check must not leak how much of a guess is right (the connector documentation: "compared with
// constant-time equality so a partial-prefix attacker cannot brute-force it byte by byte").
// Two parts: structurally, every comparison is timingSafeEqual over two SHA-256 digests (32
// bytes, whatever the token), with no early exit across the current and previous secrets; and
// a timing test against the verifier itself (no HTTP), which must also see the leak of a naive
// early-exit comparison, so that it can fail.
import { randomBytes } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { SharedSecretVerifier } from '../../../lib/ingest/auth.js';
import { prng } from '../../helpers/prng.js';

const seen = vi.hoisted(() => ({ record: false, calls: [] as [number, number][] }));

vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  const timingSafeEqual = (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView): boolean => {
    if (seen.record) seen.calls.push([a.byteLength, b.byteLength]);
    return real.timingSafeEqual(a, b);
  };
  return { ...real, default: { ...real, timingSafeEqual }, timingSafeEqual };
});

/** A flat (sequential, not sliced or concatenated) string, so no call pays for flattening it. */
function flat(text: string): string {
  return Buffer.from(text, 'latin1').toString('latin1');
}

/** The calls to timingSafeEqual that one verify() makes, by the byte lengths compared. */
function comparisons(v: SharedSecretVerifier, token: string): { ok: boolean; calls: [number, number][] } {
  seen.calls.length = 0;
  seen.record = true;
  try {
    return { ok: v.verify(token), calls: [...seen.calls] };
  } finally {
    seen.record = false;
  }
}

describe('SharedSecretVerifier, structurally', () => {
  const secret = randomBytes(32).toString('base64');
  const previous = randomBytes(32).toString('base64');

  it.each([
    ['a 1-character token', 'x'],
    ['a token one character short of the secret', secret.slice(0, -1)],
    ['the secret with one more character', `${secret}x`],
    ['a 1 MB token starting with the secret', `${secret}${'A'.repeat(1024 * 1024)}`],
  ])('compares two 32-byte SHA-256 digests for %s', (_name, token) => {
    const { ok, calls } = comparisons(new SharedSecretVerifier(secret), token);

    expect(ok).toBe(false);
    expect(calls).toEqual([[32, 32]]);
  });

  it('compares against the current and the previous secret every time: no early exit on a match', () => {
    const v = new SharedSecretVerifier(secret, previous);

    const results = [secret, previous, 'neither'].map((token) => comparisons(v, token));

    expect(results.map((r) => r.ok)).toEqual([true, true, false]);
    for (const r of results)
      expect(r.calls).toEqual([
        [32, 32],
        [32, 32],
      ]);
  });
});

// ---- timing -----------------------------------------------------------------------------------

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))] as number;
}

interface Comparison {
  medianNear: number;
  medianFar: number;
  /** The 10th to 30th percentile of each group's times, ns per call (Crosby et al.'s "box test"). */
  boxNear: [number, number];
  boxFar: [number, number];
  /** How far apart the two boxes are (0 when they overlap), ns per call. */
  gap: number;
  /** Whether the timings tell the tokens apart: the boxes are further apart than 5 % of the faster one. */
  distinguishable: boolean;
}

/**
 * Times `check(near)` against `check(far)` in interleaved rounds, in a random order within each
 * round, so that whatever else the machine does falls on both alike; each sample is the mean of
 * `calls` calls. The verdict is the box test of Crosby, Wallach and Riedi ("Opportunities and
 * limits of remote timing attacks", ACM TISSEC 2009): compare a low percentile band of each
 * distribution, which the rounds a busy machine spoils (preempted, slower) do not reach.
 */
function compareTimings(check: (token: string) => boolean, near: string, far: string, calls: number, rounds = 301): Comparison {
  const random = prng(0x5eed);
  const sample = (token: string): number => {
    let sink = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) if (check(token)) sink++;
    const ns = Number(process.hrtime.bigint() - t0) / calls;
    if (sink !== 0) throw new Error('a wrong token was accepted');
    return ns;
  };
  for (let i = 0; i < 30; i++) {
    sample(near);
    sample(far);
  }
  const nearTimes: number[] = [];
  const farTimes: number[] = [];
  for (let r = 0; r < rounds; r++) {
    if (random() < 0.5) {
      nearTimes.push(sample(near));
      farTimes.push(sample(far));
    } else {
      farTimes.push(sample(far));
      nearTimes.push(sample(near));
    }
  }
  nearTimes.sort((a, b) => a - b);
  farTimes.sort((a, b) => a - b);
  const box = (s: number[]): [number, number] => [quantile(s, 0.1), quantile(s, 0.3)];
  const boxNear = box(nearTimes);
  const boxFar = box(farTimes);
  const gap = Math.max(0, Math.max(boxNear[0], boxFar[0]) - Math.min(boxNear[1], boxFar[1]));
  return {
    medianNear: quantile(nearTimes, 0.5),
    medianFar: quantile(farTimes, 0.5),
    boxNear,
    boxFar,
    gap,
    distinguishable: gap > 0.05 * Math.min(boxNear[0], boxFar[0]),
  };
}

function timingSummary(c: Comparison): string {
  const ns = (n: number) => `${n.toFixed(0)} ns`;
  return (
    `median ${ns(c.medianNear)} (4,095 characters right) vs ${ns(c.medianFar)} (none right); ` +
    `10th-30th percentiles ${ns(c.boxNear[0])}-${ns(c.boxNear[1])} vs ${ns(c.boxFar[0])}-${ns(c.boxFar[1])}, gap ${ns(c.gap)}`
  );
}

describe('SharedSecretVerifier, timed', () => {
  // A long secret makes a prefix leak as large as it can be: a naive comparison of a guess that
  // is right up to the last of 4,096 characters costs thousands of times more than one wrong at
  // the first.
  const secret = flat(randomBytes(3072).toString('base64'));
  const last = secret.at(-1) === 'A' ? 'B' : 'A';
  const near = flat(`${secret.slice(0, -1)}${last}`);
  let far = flat(randomBytes(3072).toString('base64'));
  if (far[0] === secret[0]) far = flat(`${secret[0] === 'A' ? 'B' : 'A'}${far.slice(1)}`);

  it('can see the leak of a naive early-exit comparison (the control)', () => {
    const naive = (token: string): boolean => {
      if (token.length !== secret.length) return false;
      for (let i = 0; i < token.length; i++) if (token.charCodeAt(i) !== secret.charCodeAt(i)) return false;
      return true;
    };

    const c = compareTimings(naive, near, far, 64);
    console.log(`[timing] naive comparison: ${timingSummary(c)}`);

    expect(near.length).toBe(secret.length);
    expect(far.length).toBe(secret.length);
    expect(c.boxNear[0], JSON.stringify(c)).toBeGreaterThan(c.boxFar[1]);
    expect(c.distinguishable, JSON.stringify(c)).toBe(true);
  });

  it('shows no meaningful difference between a wrong token sharing 4,095 characters with the secret and one sharing none', () => {
    const v = new SharedSecretVerifier(secret);

    const c = compareTimings((token) => v.verify(token), near, far, 16);
    console.log(`[timing] SharedSecretVerifier: ${timingSummary(c)}`);

    expect(c.distinguishable, JSON.stringify(c)).toBe(false);
  });
});
