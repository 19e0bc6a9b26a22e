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
 */
export class AdmissionGate {
  #requests = 0;
  #bytes = 0;
  /** When each request that has its body began to wait; insertion order is time order, so the first is the oldest. */
  readonly #waiting = new Map<object, number>();

  constructor(
    readonly limits: AdmissionLimits,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Requests and bytes held now, and how long the oldest request with its body has waited (ms). */
  get held(): { requests: number; bytes: number; oldestWaitMs: number } {
    return { requests: this.#requests, bytes: this.#bytes, oldestWaitMs: this.#oldestWait() };
  }

  #oldestWait(): number {
    for (const since of this.#waiting.values()) return Math.max(0, this.now() - since);
    return 0;
  }

  /** Which bound admitting a request of `bytes` would pass now, or null when it may enter. */
  refusal(bytes: number): AdmissionRefusal | null {
    if (this.#requests === 0) return null;
    if (this.#requests >= this.limits.maxRequests) return 'requests';
    if (this.#bytes + bytes > this.limits.maxBytes) return 'bytes';
    if (this.#oldestWait() > this.limits.maxQueueWaitMs) return 'wait';
    return null;
  }

  /** Admits a request of `bytes`, or returns null when that would pass a bound. */
  enter(bytes: number): AdmissionTicket | null {
    if (this.refusal(bytes) !== null) return null;
    this.#requests++;
    this.#bytes += bytes;
    let held = bytes;
    let released = false;
    const key = {};
    return {
      resize: (next: number) => {
        if (released) return;
        this.#bytes += next - held;
        held = next;
      },
      received: () => {
        if (!released && !this.#waiting.has(key)) this.#waiting.set(key, this.now());
      },
      release: () => {
        if (released) return;
        released = true;
        this.#requests--;
        this.#bytes -= held;
        this.#waiting.delete(key);
      },
    };
  }
}
