import { describe, expect, it } from 'vitest';
import { hashToken, SharedSecretVerifier } from '../../../lib/ingest/auth.js';

describe('SharedSecretVerifier', () => {
  it('is off without a secret and then accepts nothing', () => {
    const v = new SharedSecretVerifier(null);

    expect([v.configured, v.verify(''), v.verify('anything')]).toEqual([false, false, false]);
  });

  it('accepts exactly the secret', () => {
    const v = new SharedSecretVerifier('correct horse battery staple');

    expect(v.verify('correct horse battery staple')).toBe(true);
    expect(v.verify('correct horse battery stapl')).toBe(false);
    expect(v.verify('correct horse battery staple ')).toBe(false);
    expect(v.verify(undefined)).toBe(false);
  });

  it('compares tokens of any length without throwing (both sides are hashed first)', () => {
    const v = new SharedSecretVerifier('short');

    expect(() => v.verify('x'.repeat(10_000))).not.toThrow();
    expect(v.verify('x'.repeat(10_000))).toBe(false);
  });

  it('accepts the current and the previous secret during a rotation', () => {
    const v = new SharedSecretVerifier('new', 'old');

    expect([v.verify('new'), v.verify('old'), v.verify('older')]).toEqual([true, true, false]);
  });
});

describe('hashToken', () => {
  it('is the SHA-256 hex of the token', () => {
    expect(hashToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
