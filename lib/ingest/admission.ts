import type { AdmissionLimits } from '../config/ingest.js';

/** A request's hold on the server's admission budget; release it once the request is answered. */
export interface AdmissionTicket {
  /** Sets the bytes this request holds (its body's real size once read; it was charged the declared or largest size). */
  resize(bytes: number): void;
  /** Gives the request's share back; safe to call twice. */
  release(): void;
}

/**
 * The local server's admission control: at most `maxRequests` requests admitted and not yet
 * answered, holding at most `maxBytes` of body between them. A request is charged before its
 * body is read (its Content-Length, or the largest body allowed when it declares none), so a
 * server past its bound refuses at once, with nothing read, instead of queueing work its clients
 * will time out on and resend. A lone request is always admitted, whatever its size.
 */
export class AdmissionGate {
  #requests = 0;
  #bytes = 0;

  constructor(readonly limits: AdmissionLimits) {}

  /** Requests and bytes held now. */
  get held(): { requests: number; bytes: number } {
    return { requests: this.#requests, bytes: this.#bytes };
  }

  /** Admits a request of `bytes`, or returns null when that would pass a bound. */
  enter(bytes: number): AdmissionTicket | null {
    if (this.#requests >= this.limits.maxRequests) return null;
    if (this.#requests > 0 && this.#bytes + bytes > this.limits.maxBytes) return null;
    this.#requests++;
    this.#bytes += bytes;
    let held = bytes;
    let released = false;
    return {
      resize: (next: number) => {
        if (released) return;
        this.#bytes += next - held;
        held = next;
      },
      release: () => {
        if (released) return;
        released = true;
        this.#requests--;
        this.#bytes -= held;
      },
    };
  }
}
