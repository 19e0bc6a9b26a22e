// Past a bound of all tenants, the console's per-tenant holdings (sessions, event streams, the
// counted reject keys) give up one of the tenant holding the most, so a tenant filling its own
// share never pushes another tenant out. One function picks that tenant for all three.

/**
 * The first of `items` with the greatest `size`, starting from `first` when given: a later item
 * must hold strictly more, so a tie goes to the earlier one (in a Map, the older entry).
 * Undefined only when there is nothing to pick from.
 */
export function holdingMost<T>(items: Iterable<T>, size: (item: T) => number, first: T): T;
export function holdingMost<T>(items: Iterable<T>, size: (item: T) => number): T | undefined;
export function holdingMost<T>(items: Iterable<T>, size: (item: T) => number, first?: T): T | undefined {
  let most = first;
  let mostSize = first === undefined ? Number.NEGATIVE_INFINITY : size(first);
  for (const item of items) {
    const n = size(item);
    if (n > mostSize) {
      most = item;
      mostSize = n;
    }
  }
  return most;
}
