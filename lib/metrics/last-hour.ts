// Counts over the last hour, in one-minute buckets, in memory: what `serve` refused or rejected
// is not in the store (the store keeps only what it accepted), so the status route of the ingest
// and the console's status view both count it here, with the same buckets and the same bound.
// The counts restart with the process; each status answer says since when it counted.

/** The window: the last hour. */
export const LAST_HOUR_MS = 60 * 60 * 1000;
const MINUTE_MS = 60 * 1000;
const MINUTES = LAST_HOUR_MS / MINUTE_MS;

/** Most keys counted at once: a sender inventing cluster names cannot grow the counter further. */
export const MAX_COUNTED_KEYS = 10_000;

/**
 * Counts per key over the hour before `now`. Keys are strings the caller builds (a tenant and a
 * cluster, a tenant and a count's name). Past `maxKeys`, keys idle for an hour are dropped
 * first, then the least recently counted one.
 */
export class LastHourCounts {
  readonly startedAt: number;
  readonly #maxKeys: number;
  // key → minute number → count; a key is moved to the end of the map each time it is counted.
  readonly #keys = new Map<string, Map<number, number>>();
  // The minute of the last sweep for idle keys: at most one sweep a minute, so a sender that
  // invents a key per request cannot make each request walk every key.
  #sweptAt = Number.NEGATIVE_INFINITY;

  constructor(now: number = Date.now(), maxKeys: number = MAX_COUNTED_KEYS) {
    this.startedAt = now;
    this.#maxKeys = maxKeys;
  }

  /** Adds `n` to `key` at time `now`. */
  add(key: string, n: number, now: number): void {
    if (n <= 0) return;
    const minute = Math.floor(now / MINUTE_MS);
    let minutes = this.#keys.get(key);
    if (minutes === undefined) {
      if (this.#keys.size >= this.#maxKeys && this.#sweptAt !== minute) this.#prune(minute);
      if (this.#keys.size >= this.#maxKeys) this.#keys.delete(this.#keys.keys().next().value as string);
      minutes = new Map();
    } else {
      this.#keys.delete(key);
    }
    this.#keys.set(key, minutes);
    minutes.set(minute, (minutes.get(minute) ?? 0) + n);
    for (const m of minutes.keys()) if (m <= minute - MINUTES) minutes.delete(m);
  }

  /** How many keys are held. */
  get size(): number {
    return this.#keys.size;
  }

  /** Whether `key` is held. */
  has(key: string): boolean {
    return this.#keys.has(key);
  }

  /** Drops one key to make room: an idle one if any (at most one sweep a minute), else the least recently counted. */
  evictOne(now: number): void {
    const minute = Math.floor(now / MINUTE_MS);
    const before = this.#keys.size;
    if (this.#sweptAt !== minute) this.#prune(minute);
    if (this.#keys.size === before && before > 0) this.#keys.delete(this.#keys.keys().next().value as string);
  }

  /** The count of `key` over the hour before `now`. */
  total(key: string, now: number): number {
    return sumHour(this.#keys.get(key), Math.floor(now / MINUTE_MS));
  }

  /** Every key counted in the hour before `now`, with its count (keys whose count is 0 left out). */
  *entries(now: number): IterableIterator<[string, number]> {
    const minute = Math.floor(now / MINUTE_MS);
    for (const [key, minutes] of this.#keys) {
      const n = sumHour(minutes, minute);
      if (n > 0) yield [key, n];
    }
  }

  #prune(minute: number): void {
    this.#sweptAt = minute;
    for (const [key, minutes] of this.#keys) if (sumHour(minutes, minute) === 0) this.#keys.delete(key);
  }
}

function sumHour(minutes: Map<number, number> | undefined, minute: number): number {
  let n = 0;
  for (const [m, count] of minutes ?? []) if (m > minute - MINUTES && m <= minute) n += count;
  return n;
}
