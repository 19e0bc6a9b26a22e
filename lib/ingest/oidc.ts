import type { JWTVerifyGetKey } from 'jose';
import type { GkePushConfig } from '../config/ingest.js';
import { RETRY_AFTER_SECONDS, ServiceUnavailableError, UnauthorizedError } from './errors.js';

/**
 * The issuers of the OIDC tokens Pub/Sub push signs (Pub/Sub "Authenticate push subscriptions":
 * `iss` is `https://accounts.google.com` or `accounts.google.com`).
 */
export const GOOGLE_ISSUERS = ['https://accounts.google.com', 'accounts.google.com'] as const;
/** Google signs ID tokens with RS256 only; no other algorithm is accepted (no `none`, no HMAC). */
const ALGORITHMS = ['RS256'];
/** Clock skew allowed on `exp`, `iat` and `nbf`: Google's tokens live an hour, a few seconds of drift is normal. */
const CLOCK_TOLERANCE_SECONDS = 30;
/**
 * How long fetched keys are used before they are fetched again. Google rotates its signing keys
 * about every two weeks and publishes new ones well before use; an unknown `kid` triggers a
 * refetch anyway (at most once per cooldown), so an hour only bounds how long a removed key stays.
 */
const JWKS_CACHE_MAX_AGE_MS = 60 * 60 * 1000;
/** At most one refetch per this interval when tokens name unknown keys: forged tokens cannot hammer Google. */
const JWKS_COOLDOWN_MS = 30_000;
/** A JWKS fetch slower than this fails the request with 503 (Pub/Sub retries), not 401. */
const JWKS_TIMEOUT_MS = 5_000;

// jose error codes that mean "this token is not acceptable" (401). Any other failure (the keys
// could not be fetched or read) is ours to fix and answers 503, so Pub/Sub delivers again later.
const TOKEN_ERRORS = new Set([
  'ERR_JWT_EXPIRED',
  'ERR_JWT_CLAIM_VALIDATION_FAILED',
  'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
  'ERR_JWS_INVALID',
  'ERR_JWT_INVALID',
  'ERR_JOSE_ALG_NOT_ALLOWED',
  'ERR_JOSE_NOT_SUPPORTED',
  'ERR_JWKS_NO_MATCHING_KEY',
  'ERR_JWKS_MULTIPLE_MATCHING_KEYS',
]);

/** Who a verified push token says sent the request. */
export interface PushIdentity {
  readonly tenant: string;
  readonly serviceAccount: string;
}

const NOT_FOR_TENANT = 'the Pub/Sub push token is not valid for this tenant (check the subscription audience and service account)';

/**
 * Verifies the OIDC token Pub/Sub push puts in `Authorization: Bearer`, as Google documents:
 * signed by Google (keys fetched from the JWKS URL and cached), `iss` Google, `aud` the tenant's
 * configured audience, `email` the tenant's push service account with `email_verified`, not
 * expired. `jose` is loaded on first use, so deployments without the GKE route never pay for it.
 */
export class PubSubPushVerifier {
  readonly #config: GkePushConfig;
  #keys: Promise<JWTVerifyGetKey> | undefined;

  constructor(config: GkePushConfig) {
    this.#config = config;
  }

  /** False when K8S_AUDIT_GKE_PUSH names no tenant: the route stays off. */
  get configured(): boolean {
    return this.#config.tenants.size > 0;
  }

  /** Checks the `Authorization` header for a tenant; throws `UnauthorizedError` (401) or `ServiceUnavailableError` (503). */
  async verify(tenant: string, authorization: string | undefined): Promise<PushIdentity> {
    const match = authorization === undefined ? null : /^Bearer[ \t]+([A-Za-z0-9._~+/=-]+)[ \t]*$/i.exec(authorization);
    if (match === null) {
      throw new UnauthorizedError(
        authorization === undefined
          ? 'missing Authorization header; create the push subscription with --push-auth-service-account'
          : 'Authorization must be "Bearer <Pub/Sub push OIDC token>"',
      );
    }
    const expected = this.#config.tenants.get(tenant);
    // An unknown tenant's token goes through every check and fails where a wrong audience does:
    // refused before the token was looked at, it answered "not valid for this tenant" where a
    // configured tenant answered "not signed by Google" or "expired" (or 503, Google's keys out of
    // reach), which told a prober which tenants have a subscription.
    const { jwtVerify } = await import('jose');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(match[1] as string, await this.#getKeys(), {
        issuer: [...GOOGLE_ISSUERS],
        // The audience is checked below with the other claims that bind a token to a tenant, not
        // here: jose checks it before the expiry, so an expired token for a configured audience
        // answered "expired" where the same token for an unconfigured tenant did not.
        algorithms: ALGORITHMS,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp', 'iat'],
      }));
    } catch (err) {
      throw tokenError(err);
    }
    const email = typeof payload.email === 'string' ? payload.email : '';
    const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (
      expected === undefined ||
      !audiences.includes(expected.audience) ||
      email.toLowerCase() !== expected.serviceAccount.toLowerCase() ||
      payload.email_verified !== true
    ) {
      throw new UnauthorizedError(NOT_FOR_TENANT);
    }
    return { tenant, serviceAccount: email };
  }

  #getKeys(): Promise<JWTVerifyGetKey> {
    this.#keys ??= import('jose').then(({ createRemoteJWKSet }) =>
      createRemoteJWKSet(new URL(this.#config.jwksUrl), {
        cacheMaxAge: JWKS_CACHE_MAX_AGE_MS,
        cooldownDuration: JWKS_COOLDOWN_MS,
        timeoutDuration: JWKS_TIMEOUT_MS,
      }),
    );
    return this.#keys;
  }
}

/** A jose failure as the answer it deserves: 401 for the token, 503 for the keys. Never shows the token. */
function tokenError(err: unknown): UnauthorizedError | ServiceUnavailableError {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (typeof code === 'string' && TOKEN_ERRORS.has(code)) {
    if (code === 'ERR_JWT_EXPIRED') return new UnauthorizedError('the Pub/Sub push token has expired');
    if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') {
      const claim = (err as { claim?: unknown }).claim;
      if (claim === 'aud') return new UnauthorizedError(NOT_FOR_TENANT);
      return new UnauthorizedError(`the Pub/Sub push token's ${typeof claim === 'string' ? claim : 'claims'} claim is not acceptable`);
    }
    return new UnauthorizedError("the Pub/Sub push token is not a token signed by Google's published keys");
  }
  return new ServiceUnavailableError("Google's token signing keys could not be fetched; retry later", RETRY_AFTER_SECONDS, { cause: err });
}
