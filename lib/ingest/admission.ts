import type { AdmissionLimits } from '../config/ingest.js';

/** A request's hold on the server's admission budget; release it once the request is answered. */
export interface AdmissionTicket {
  /** Sets the bytes this request holds (its body's real size once read; it was charged the declared or largest size). */
  resize(bytes: number): void;
  /** Marks the request's body as read: from now on it waits for the server, and its wait counts toward `maxQueueWaitMs`. */
  received(): void;
  /** Gives the request's share back; safe to call twice. */
  release(): void;
}

/** Why the gate refused a request: which bound it would have passed. */
export type AdmissionRefusal = 'requests' | 'bytes' | 'wait';

/** Requests and body bytes kept beyond the shared bounds for tenants that hold nothing (see AdmissionGate). */
export interface TenantReserve {
  readonly requests: number;
  readonly bytes: number;
}

/**
 * The reserve of a server with `limits`: a quarter of its requests (at least one) and a quarter of
 * its bytes, but at least one largest body (`maxWireBytes`), so a request that declares no length
 * (charged the body cap) still fits in it. A quarter lets four tenants at once past one that holds
 * every shared slot, and adds at most a quarter to what the server may hold.
 */
export function tenantReserve(limits: Pick<AdmissionLimits, 'maxRequests' | 'maxBytes'>, maxWireBytes: number): TenantReserve {
  return {
    requests: Math.max(1, Math.ceil(limits.maxRequests / 4)),
    bytes: Math.max(maxWireBytes, Math.ceil(limits.maxBytes / 4)),
  };
}

/**
 * The local server's admission control: at most `maxRequests` requests admitted and not yet
 * answered, holding at most `maxBytes` of body between them, and none admitted while the oldest
 * request whose body has arrived has waited longer than `maxQueueWaitMs` for its answer. A request
 * is charged before its body is read (its Content-Length, or the largest body allowed when it
 * declares none), so a server past its bound refuses at once, with nothing read, instead of
 * queueing work its clients will time out on and resend. The wait bound sizes the queue from what
 * the server does now (Little's law: requests held ≈ wait × throughput), so a server slowed by a
 * busy machine or a slow disk holds fewer requests instead of answering them all late. A lone
 * request is always admitted, whatever its size.
 *
 * Those bounds are one tenant's share: a tenant that fills them (a burst, or requests whose bodies
 * stall) would otherwise get every other tenant 429 meanwhile. So beyond them the gate keeps a
 * `reserve` of requests and bytes, and a request refused by the shared bounds is admitted from the
 * reserve when its tenant holds no request at all, in either: each tenant the server is not
 * serving gets one request in at a time, and a tenant that holds any (the one filling the shared
 * bounds) never enters the reserve. A server that sees one tenant behaves as without a reserve.
 *
 * A tenant id is a party only where its own credential opens it (a tenant's own secret, an inbox
 * token, a GKE subscription): the installation-wide secret opens every tenant without its own, so
 * its holder could take the whole reserve by sending under invented tenant ids, and leave nothing
 * for the tenants that hold their own secrets. So a request also names its `party` (who holds the
 * credential that let it in) and enters the reserve only while its party holds no other request
 * from it: the holder of the installation-wide secret gets one reserved request at a time, whatever
 * tenant ids it writes under, and a tenant with its own secret (its party is its tenant id) the
 * same one as before.
 */
export class AdmissionGate {
  #requests = 0;
  #bytes = 0;
  #reserveRequests = 0;
  #reserveBytes = 0;
  /** Requests held per tenant, in either pool; a tenant holding none is not in the map. */
  readonly #tenants = new Map<string, number>();
  /** Requests held from the reserve per party; a party holding none there is not in the map. */
  readonly #reservedParties = new Map<string, number>();
  /** When each request that has its body began to wait; insertion order is time order, so the first is the oldest. */
  readonly #waiting = new Map<object, number>();

  constructor(
    readonly limits: AdmissionLimits,
    private readonly now: () => number = () => performance.now(),
    readonly reserve: TenantReserve = { requests: 0, bytes: 0 },
  ) {}

  /** Requests and bytes held now (the reserve's included), and how long the oldest request with its body has waited (ms). */
  get held(): { requests: number; bytes: number; oldestWaitMs: number } {
    return {
      requests: this.#requests + this.#reserveRequests,
      bytes: this.#bytes + this.#reserveBytes,
      oldestWaitMs: this.#oldestWait(),
    };
  }

  /** Requests and bytes held from the reserve now. */
  get reserveHeld(): { requests: number; bytes: number } {
    return { requests: this.#reserveRequests, bytes: this.#reserveBytes };
  }

  #oldestWait(): number {
    for (const since of this.#waiting.values()) return Math.max(0, this.now() - since);
    return 0;
  }

  /** Which shared bound admitting a request of `bytes` would pass now, or null when it may enter them. */
  #sharedRefusal(bytes: number): AdmissionRefusal | null {
    if (this.#requests + this.#reserveRequests === 0) return null;
    if (this.#requests >= this.limits.maxRequests) return 'requests';
    if (this.#bytes + bytes > this.limits.maxBytes) return 'bytes';
    if (this.#oldestWait() > this.limits.maxQueueWaitMs) return 'wait';
    return null;
  }

  /**
   * Whether a request of `tenant`, `party` and `bytes` may be admitted from the reserve: its tenant
   * holds no request, its party none from the reserve, and the reserve has a request and the bytes left. The wait bound does not apply: a
   * reserved request waits behind at most the shared bound's requests, and its queue deadline
   * still answers it in time.
   */
  #reserveFits(bytes: number, tenant: string, party: string): boolean {
    return (
      !this.#tenants.has(tenant) &&
      !this.#reservedParties.has(party) &&
      this.#reserveRequests < this.reserve.requests &&
      this.#reserveBytes + bytes <= this.reserve.bytes
    );
  }

  /** Which bound admitting a request of `bytes` for `tenant` (and `party`) would pass now, or null when it may enter. */
  refusal(bytes: number, tenant = '', party = tenant): AdmissionRefusal | null {
    const shared = this.#sharedRefusal(bytes);
    if (shared === null || this.#reserveFits(bytes, tenant, party)) return null;
    return shared;
  }

  /**
   * Admits a request of `bytes` for `tenant`, let in by `party`'s credential (the tenant's own,
   * by default), or returns null when that would pass a bound.
   */
  enter(bytes: number, tenant = '', party = tenant): AdmissionTicket | null {
    let reserved: boolean;
    if (this.#sharedRefusal(bytes) === null) reserved = false;
    else if (this.#reserveFits(bytes, tenant, party)) reserved = true;
    else return null;
    const count = (delta: number, bytesDelta: number) => {
      if (reserved) {
        this.#reserveRequests += delta;
        this.#reserveBytes += bytesDelta;
      } else {
        this.#requests += delta;
        this.#bytes += bytesDelta;
      }
    };
    count(1, bytes);
    this.#tenants.set(tenant, (this.#tenants.get(tenant) ?? 0) + 1);
    if (reserved) this.#reservedParties.set(party, (this.#reservedParties.get(party) ?? 0) + 1);
    let held = bytes;
    let released = false;
    const key = {};
    return {
      resize: (next: number) => {
        if (released) return;
        count(0, next - held);
        held = next;
      },
      received: () => {
        if (!released && !this.#waiting.has(key)) this.#waiting.set(key, this.now());
      },
      release: () => {
        if (released) return;
        released = true;
        count(-1, -held);
        const left = (this.#tenants.get(tenant) ?? 1) - 1;
        if (left > 0) this.#tenants.set(tenant, left);
        else this.#tenants.delete(tenant);
        if (reserved) {
          const partyLeft = (this.#reservedParties.get(party) ?? 1) - 1;
          if (partyLeft > 0) this.#reservedParties.set(party, partyLeft);
          else this.#reservedParties.delete(party);
        }
        this.#waiting.delete(key);
      },
    };
  }
}
