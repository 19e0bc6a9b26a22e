import * as crypto from 'node:crypto';
import { auditIdSlot } from '../audit/index.js';

/** How many recent events the SQLite store remembers to find a reused auditID across batches. */
export const SLOT_WINDOW_EVENTS = 100_000;

/** The identity fields of a stored row. */
interface SlotFields {
  tenant_id: string | null;
  cluster_name: string | null;
  audit_id: string;
  k8s_stage: string | null;
}

// 52 bits of a SHA-256 as a number: a Map of numbers holds 100,000 entries in a few MB, a Map of
// the slot strings and dedup keys would take ~25 MB. A false hit needs two 52-bit collisions.
function bits52(hex: string): number {
  return Number.parseInt(hex.slice(0, 13), 16);
}

function slotBits(r: SlotFields): number {
  return bits52(
    crypto
      .createHash('sha256')
      .update(auditIdSlot(r.tenant_id, r.cluster_name, r.audit_id, r.k8s_stage))
      .digest('hex'),
  );
}

/**
 * The (tenant, cluster, auditID, stage) slots of the store's most recent events, each with the
 * dedup key of the event that holds it: finds a later event with other content in the same slot
 * (a reused auditID, see lib/audit/identity.ts) without an index on auditID, whose random
 * inserts would rewrite a page of it per event in every commit. Bounded: the oldest go first.
 */
export class SlotWindow {
  readonly #held = new Map<number, number>();
  #pending: [number, number][] = [];

  constructor(readonly capacity: number = SLOT_WINDOW_EVENTS) {}

  /** Whether another event (another dedup key) holds the row's slot, stored or written earlier in this transaction. */
  holdsOther(r: SlotFields, dedupKey: string): boolean {
    const slot = slotBits(r);
    const key = bits52(dedupKey);
    const held = this.#held.get(slot);
    if (held !== undefined && held !== key) return true;
    return this.#pending.some(([s, k]) => s === slot && k !== key);
  }

  /** Notes a row written in the current transaction; it counts once `commit` runs. */
  add(r: SlotFields, dedupKey: string): void {
    this.#pending.push([slotBits(r), bits52(dedupKey)]);
  }

  /** Keeps the rows of a transaction that committed; `rollback` drops them. */
  commit(): void {
    for (const [slot, key] of this.#pending) {
      // The first event of a slot holds it; a later one (flagged) does not take it over.
      if (!this.#held.has(slot)) this.#held.set(slot, key);
    }
    this.#pending = [];
    for (const slot of this.#held.keys()) {
      if (this.#held.size <= this.capacity) break;
      this.#held.delete(slot);
    }
  }

  /** Drops the rows of a transaction that failed. */
  rollback(): void {
    this.#pending = [];
  }
}
