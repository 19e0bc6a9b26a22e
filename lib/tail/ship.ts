import { DEFAULT_TAIL_BATCH_EVENTS, DEFAULT_TAIL_CONCURRENCY } from '../config/defaults.js';
import type { ShipTls } from '../config/tls.js';
import {
  DEFAULT_SHIP_MAX_BODY_BYTES,
  EVENT_LIST_PREFIX,
  EVENT_LIST_SUFFIX,
  type EventText,
  eventBytes,
  shipEvents,
} from '../ship/index.js';
import type { TailShipFn } from './deliver.js';

const ENVELOPE_BYTES = Buffer.byteLength(EVENT_LIST_PREFIX) + Buffer.byteLength(EVENT_LIST_SUFFIX);
/**
 * A line that is not valid UTF-8 is sent as its decoded text, where each invalid byte became U+FFFD
 * (3 bytes): for such a line the raw length is only a hint. A line sent as its bytes is exact.
 */
const UTF8_SLACK = 4096;

/** Retries of one poll may use the whole interval, but at least this long (an outage of the ingest). */
export const MIN_POLL_RETRY_BUDGET_MS = 30_000;

/**
 * How long the retries of one poll may go on (docs/configuration.md, "The tailer's retries"): the
 * poll interval, at least 30 s, from the poll's start; none once a stop was asked for (SIGTERM), so
 * the poll ends, the cursor is saved and the process exits within the pod's grace period. `tail` and
 * `connector run` both bound their polls with one, so the two give up on an ingest alike.
 */
export class PollRetryBudget {
  private deadline = 0;
  private stopped = false;
  readonly #stop = new AbortController();
  /** Aborted by `stop()`: ends the shipper's backoff wait (a Retry-After of up to 30 s) at once. */
  readonly signal: AbortSignal = this.#stop.signal;
  private readonly budgetMs: number;

  constructor(
    intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.budgetMs = Math.max(MIN_POLL_RETRY_BUDGET_MS, intervalMs);
  }

  /** A poll starts: its retries may run until the budget from now is spent. */
  startPoll(): void {
    this.deadline = this.now() + this.budgetMs;
  }

  /** No new retry starts, in this poll or any later one. */
  stop(): void {
    this.stopped = true;
    this.#stop.abort();
  }

  /** Time left for retries in the current poll (`remainingTimeMs` of the shipper). */
  readonly remainingTimeMs = (): number => (this.stopped ? 0 : Math.max(0, this.deadline - this.now()));
}

/** Where and how the tailer delivers. */
export interface TailShipSettings {
  url: string;
  /** Sent as X-AiSOC-K8s-Token; never logged. */
  token: string;
  clusterName: string | null;
  /** A private CA, a client certificate, plain http allowed (lib/ship's defaults when absent). */
  tls?: ShipTls | null;
  maxBodyBytes?: number;
  /** Events per body at most (default DEFAULT_TAIL_BATCH_EVENTS: the byte cap closes a body first). */
  maxEventsPerBatch?: number;
  /** Batches in flight at once (default DEFAULT_TAIL_CONCURRENCY). */
  concurrency?: number;
  gzip?: boolean;
  requestTimeoutMs?: number;
  /** Time left for retries in this poll; 0 once a stop was asked for, so no new retry starts. */
  remainingTimeMs?: () => number;
  /** Aborted when a stop is asked for: a backoff wait in progress ends at once (PollRetryBudget.signal). */
  signal?: AbortSignal;
  /** Attempts per batch and backoff base (lib/ship defaults: 8 and 200 ms). */
  maxAttempts?: number;
  backoffBaseMs?: number;
  fetch?: typeof fetch;
  log?: (entry: Record<string, unknown>) => void;
}

/**
 * Binds `lib/ship` for the tailer: `stopOnFailure`, so no batch starts after one that failed and
 * the cursor can stop at the first event not accepted (batches in flight past it are sent again
 * next poll, and dropped by the ingest as repeats); and the matching oversize test, so an event
 * that does not fit one batch body is left out of the batches and sent alone (`{ alone: true }`).
 */
export function tailShipper(s: TailShipSettings): { ship: TailShipFn; isOversize: (line: EventText, bytes: number) => boolean } {
  const maxBodyBytes = s.maxBodyBytes ?? DEFAULT_SHIP_MAX_BODY_BYTES;
  const ship: TailShipFn = (events, how) =>
    shipEvents(events, {
      url: s.url,
      token: s.token,
      clusterName: s.clusterName,
      tls: s.tls ?? null,
      // One event over the cap goes out alone in a body of its own size: the cap is the tailer's
      // batching choice, not the ingest's limit (16 MiB on serve), which answers 413 itself.
      maxBodyBytes:
        how?.alone === true ? Math.max(maxBodyBytes, ENVELOPE_BYTES + events.events.reduce((n, e) => n + eventBytes(e), 0)) : maxBodyBytes,
      maxEventsPerBatch: s.maxEventsPerBatch ?? DEFAULT_TAIL_BATCH_EVENTS,
      stopOnFailure: true,
      concurrency: s.concurrency ?? DEFAULT_TAIL_CONCURRENCY,
      ...(s.gzip === undefined ? {} : { gzip: s.gzip }),
      ...(s.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: s.requestTimeoutMs }),
      ...(s.remainingTimeMs === undefined ? {} : { remainingTimeMs: s.remainingTimeMs, safetyMarginMs: 0 }),
      ...(s.signal === undefined ? {} : { signal: s.signal }),
      ...(s.maxAttempts === undefined ? {} : { maxAttempts: s.maxAttempts }),
      ...(s.backoffBaseMs === undefined ? {} : { backoffBaseMs: s.backoffBaseMs }),
      ...(s.fetch === undefined ? {} : { fetch: s.fetch }),
      ...(s.log === undefined ? {} : { log: s.log }),
    });
  const isOversize = (line: EventText, bytes: number): boolean => {
    if (typeof line !== 'string') return ENVELOPE_BYTES + line.length > maxBodyBytes;
    if (ENVELOPE_BYTES + bytes + UTF8_SLACK <= maxBodyBytes) return false;
    return ENVELOPE_BYTES + Buffer.byteLength(line, 'utf8') > maxBodyBytes;
  };
  return { ship, isOversize };
}
