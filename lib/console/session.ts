import { randomBytes } from 'node:crypto';
import { clientKey } from './client-key.js';
import { holdingMost } from './most.js';

/** A logged-in browser: the tenant it may read, and when it logged in and was last seen (epoch ms). */
export interface Session {
  readonly id: string;
  readonly tenant: string;
  readonly created: number;
  lastSeen: number;
}

/** A session ends after this long without a request, and this long after login whatever happens. */
export const SESSION_IDLE_MS = 8 * 3_600_000;
export const SESSION_MAX_MS = 24 * 3_600_000;
/** Most live sessions (memory stays bounded). */
export const MAX_SESSIONS = 1000;
/**
 * Most live sessions of one tenant: a login past it ends that tenant's oldest session. Below
 * MAX_SESSIONS, so one tenant's logins (a script logging in in a loop) cannot fill the store and
 * push another tenant's users out.
 */
export const MAX_SESSIONS_PER_TENANT = 100;

/**
 * Console sessions, in memory: a restart logs everyone out, which is what a local console wants
 * (no session secret to keep on disk). The id is 256 random bits, sent only in the cookie.
 */
export class SessionStore {
  readonly #sessions = new Map<string, Session>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Starts a session for a tenant. Past a bound, a session of the tenant holding the most goes
   * (the oldest of them): the tenant logging in when it is at its own bound, so a tenant's logins
   * end only its own sessions, never another tenant's (the oldest session of all went before, so
   * 1,000 logins of one tenant logged every other tenant out).
   */
  create(tenant: string): Session {
    const counts = new Map<string, number>();
    for (const s of this.#sessions.values()) counts.set(s.tenant, (counts.get(s.tenant) ?? 0) + 1);
    let evict: string | undefined;
    if ((counts.get(tenant) ?? 0) >= MAX_SESSIONS_PER_TENANT) evict = tenant;
    else if (this.#sessions.size >= MAX_SESSIONS) evict = holdingMost(counts, ([, n]) => n)?.[0];
    if (evict !== undefined) {
      // Map iteration is insertion order: the first match is that tenant's oldest login.
      for (const [id, s] of this.#sessions) {
        if (s.tenant === evict) {
          this.#sessions.delete(id);
          break;
        }
      }
    }
    const t = this.now();
    const session: Session = { id: randomBytes(32).toString('base64url'), tenant, created: t, lastSeen: t };
    this.#sessions.set(session.id, session);
    return session;
  }

  /** The live session with this id, touched; undefined when unknown or expired (and then forgotten). */
  get(id: string | undefined): Session | undefined {
    const s = this.peek(id);
    if (s !== undefined) s.lastSeen = this.now();
    return s;
  }

  /**
   * The live session with this id, not touched: for the server's own checks (an open event
   * stream's keep-alive), which are not the user's requests and must not keep an idle session
   * alive. Undefined when unknown or expired (and then forgotten).
   */
  peek(id: string | undefined): Session | undefined {
    if (id === undefined) return undefined;
    const s = this.#sessions.get(id);
    if (s === undefined) return undefined;
    const t = this.now();
    if (t - s.lastSeen > SESSION_IDLE_MS || t - s.created > SESSION_MAX_MS) {
      this.#sessions.delete(id);
      return undefined;
    }
    return s;
  }

  /** Ends a session. */
  delete(id: string): void {
    this.#sessions.delete(id);
  }

  /** How many sessions are held (expired ones included until looked up). */
  get size(): number {
    return this.#sessions.size;
  }
}

/** Failed logins a client (see clientKey) may make per window before it gets 429s. */
export const MAX_LOGIN_FAILURES = 10;
export const LOGIN_WINDOW_MS = 5 * 60_000;
/** Most clients whose failed logins are counted apart (memory stays bounded). */
export const MAX_LOGIN_CLIENTS = 1000;
/** The key the clients past MAX_LOGIN_CLIENTS share (not an address, so no client has it). */
export const OVERFLOW_KEY = 'overflow';

/**
 * Counts failed logins per client over a sliding window, so the console's login cannot be used to
 * guess the shared secret at the speed of the loopback (the secret is 256 bits when made as
 * documented; a human-chosen one is the case this guards). A client is its clientKey: an IPv6
 * client's /64, not each of its addresses. A successful login does not clear the count: with
 * per-tenant secrets, the holder of one tenant's secret could otherwise log in to it between
 * guesses at another tenant's and guess without end.
 *
 * The table is bounded, and a count still in its window is never dropped to make room: the oldest
 * entry used to be evicted, so 1,000 failed logins from fresh addresses cleared a throttled one.
 * Past the bound (once counts whose window passed are gone), a new client is counted under one
 * shared key instead, with the same budget: the guesses of a party holding many clients stay
 * bounded by how many it holds, at the cost that, while the table is full of live counts, a new
 * client may share that key's 429.
 */
export class LoginThrottle {
  readonly #failures = new Map<string, number[]>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Seconds until this address may try again, or 0 when it may now. */
  retryAfter(address: string): number {
    const list = this.#recent(this.#key(address));
    if (list.length < MAX_LOGIN_FAILURES) return 0;
    return Math.max(1, Math.ceil(((list[0] as number) + LOGIN_WINDOW_MS - this.now()) / 1000));
  }

  /** Counts a failed login. */
  fail(address: string): void {
    const key = this.#key(address);
    const list = this.#recent(key);
    list.push(this.now());
    this.#failures.set(key, list);
  }

  /** How many clients are counted apart (the overflow key included). */
  get size(): number {
    return this.#failures.size;
  }

  /**
   * The key this address is counted under: its client's, or the overflow's when the table is full
   * of counts still in their window without it (those whose window passed go first).
   */
  #key(address: string): string {
    const key = clientKey(address);
    if (this.#failures.has(key)) return key;
    if (this.#failures.size >= MAX_LOGIN_CLIENTS) {
      for (const k of [...this.#failures.keys()]) if (this.#recent(k).length === 0) this.#failures.delete(k);
    }
    return this.#failures.size < MAX_LOGIN_CLIENTS ? key : OVERFLOW_KEY;
  }

  #recent(key: string): number[] {
    const from = this.now() - LOGIN_WINDOW_MS;
    return (this.#failures.get(key) ?? []).filter((t) => t > from);
  }
}
