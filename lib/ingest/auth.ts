import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

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

/**
 * Optional per-tenant secrets: a tenant in the map is opened only by its own secret. The check
 * costs one 32-byte comparison whether the tenant is in the map or not (a random digest stands in),
 * so the timing shows neither the secret nor whether a tenant has one.
 */
export class TenantSecretVerifier {
  readonly #digests = new Map<string, Buffer>();
  readonly #standIn = sha256(randomBytes(32).toString('hex'));

  constructor(secrets: ReadonlyMap<string, string>) {
    for (const [tenant, secret] of secrets) this.#digests.set(tenant, sha256(secret));
  }

  /** `null` when the tenant has no secret of its own; else whether the token is that secret. */
  verify(tenant: string, token: string | undefined): boolean | null {
    const digest = this.#digests.get(tenant);
    const same = timingSafeEqual(sha256(token ?? ''), digest ?? this.#standIn);
    if (digest === undefined) return null;
    return token !== undefined && token !== '' && same;
  }

  /** Whether `tenant` has a secret of its own. */
  has(tenant: string): boolean {
    return this.#digests.has(tenant);
  }
}

/**
 * The party of every request opened by the installation-wide secret (`TenantAccess.party`): not a
 * tenant id (TENANT_ID_RULE has no space), so it is never confused with one.
 */
export const SHARED_SECRET_PARTY = 'installation-wide secret';

/**
 * Who may open a tenant's data: the tenant's own secret when it has one (the installation-wide
 * secret then does not open it), else the shared secret, current or previous. One instance, the
 * ingest service's, answers for every route a tenant's secret guards (the ingest route, the status
 * route, the console's login), so none opens a tenant another refuses. Both checks always run.
 */
export class TenantAccess {
  readonly #shared: SharedSecretVerifier;
  readonly #own: TenantSecretVerifier | null;
  /**
   * Every secret of this installation as hex SHA-256: the shared one, current and previous, each
   * tenant's own, and those that open no tenant here (the console token). Looked up by digest, so
   * the time a lookup takes says nothing of the secrets.
   */
  readonly #secrets: Set<string>;

  constructor(
    shared: string | null,
    previous: string | null,
    tenantSecrets: ReadonlyMap<string, string> | null | undefined,
    otherSecrets: readonly string[] = [],
  ) {
    this.#shared = new SharedSecretVerifier(shared, previous);
    this.#own = tenantSecrets ? new TenantSecretVerifier(tenantSecrets) : null;
    const all = [shared, previous, ...(tenantSecrets?.values() ?? []), ...otherSecrets];
    this.#secrets = new Set(all.filter((v): v is string => v !== null && v !== '').map((v) => sha256(v).toString('hex')));
  }

  /** False when neither a shared secret nor a tenant's own is set: the routes stay off. */
  get configured(): boolean {
    return this.#shared.configured || this.#own !== null;
  }

  /**
   * Whether `value` is one of this installation's secrets (the shared one, current or previous, a
   * tenant's own, the console token): a secret typed where a tenant id goes, which is then refused
   * before it can be logged, stored or counted as a tenant.
   */
  isSecret(value: string): boolean {
    return value !== '' && this.#secrets.has(sha256(value).toString('hex'));
  }

  /**
   * Whether some tenant has a secret of its own (K8S_AUDIT_TENANT_SECRETS_FILE or _ARN): a fact of
   * the installation, the same for every tenant, so an answer worded by it says nothing of which
   * tenants have their own.
   */
  get perTenant(): boolean {
    return this.#own !== null;
  }

  /**
   * Who holds the credential that opens `tenant` on the ingest route, once `opens` said it does:
   * the tenant itself when it has its own secret, else SHARED_SECRET_PARTY, the one holder of the
   * installation-wide secret, which opens every tenant without its own. Asked only of a request
   * whose token opened the tenant, so it tells no one anything they could not already write to.
   */
  party(tenant: string): string {
    return this.#own?.has(tenant) === true ? tenant : SHARED_SECRET_PARTY;
  }

  /** Whether `token` opens `tenant`. */
  opens(tenant: string, token: string | undefined): boolean {
    const viaShared = this.#shared.verify(token);
    const viaOwn = this.#own?.verify(tenant, token) ?? null;
    return viaOwn ?? viaShared;
  }
}

/** The SHA-256 hex of an inbox token: the only form in which a token is stored or looked up. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
