import { createHash, timingSafeEqual } from 'node:crypto';

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Checks the `X-AiSOC-K8s-Token` header against the installation-wide shared secret and, during
 * a rotation, the previous one. Both sides are hashed to SHA-256 first, so `timingSafeEqual`
 * always compares 32 bytes: neither a prefix nor the secret's length shows in the timing.
 */
export class SharedSecretVerifier {
  readonly #digests: Buffer[];

  constructor(current: string | null, previous: string | null = null) {
    this.#digests = current === null ? [] : [current, ...(previous === null ? [] : [previous])].map(sha256);
  }

  /** False when K8S_AUDIT_SHARED_SECRET is unset: the route stays off. */
  get configured(): boolean {
    return this.#digests.length > 0;
  }

  /** Whether a presented token equals the current or the previous secret. */
  verify(token: string | undefined): boolean {
    if (token === undefined || token === '' || this.#digests.length === 0) return false;
    const presented = sha256(token);
    let ok = false;
    // No early exit: a token matching the previous secret costs the same as one matching none.
    for (const digest of this.#digests) ok = timingSafeEqual(presented, digest) || ok;
    return ok;
  }
}

/** The SHA-256 hex of an inbox token: the only form in which a token is stored or looked up. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
