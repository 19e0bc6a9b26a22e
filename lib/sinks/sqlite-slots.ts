import { auditIdSlot, sha256Hex } from '../audit/index.js';

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

/** A row's slot and dedup key as the window holds them: computed once per row, read twice. */
export interface SlotEntry {
  slot: number;
  key: number;
}

/** The window's entry for a row with the given dedup key. */
export function slotEntry(r: SlotFields, dedupKey: string): SlotEntry {
  return { slot: bits52(sha256Hex(auditIdSlot(r.tenant_id, r.cluster_name, r.audit_id, r.k8s_stage))), key: bits52(dedupKey) };
}

/** Marks a slot that more than one dedup key was written to in the current transaction (keys are never negative). */
const SEVERAL = -1;

/**
 * The (tenant, cluster, auditID, stage) slots of the store's most recent events, each with the
 * dedup key of the event that holds it: finds a later event with other content in the same slot
 * (a reused auditID, see lib/audit/identity.ts) without an index on auditID, whose random
 * inserts would rewrite a page of it per event in every commit. Bounded: the oldest go first.
 */
export class SlotWindow {
  readonly #held = new Map<number, number>();
  /**
   * The current transaction's rows: per slot, the key of its first row, and SEVERAL once a
   * second key is written to it. Maps, not a list: a lookup per row, where scanning a list made
   * a 400-event batch cost 80,000 comparisons.
   */
  #pending = new Map<number, number>();
  #pendingFirst = new Map<number, number>();

  constructor(readonly capacity: number = SLOT_WINDOW_EVENTS) {}

  /** Whether another event (another dedup key) holds the entry's slot, stored or written earlier in this transaction. */
  holdsOther({ slot, key }: SlotEntry): boolean {
    const held = this.#held.get(slot);
    if (held !== undefined && held !== key) return true;
    const pending = this.#pending.get(slot);
    return pending !== undefined && pending !== key;
  }

  /** Notes a row written in the current transaction; it counts once `commit` runs. */
  add({ slot, key }: SlotEntry): void {
    const pending = this.#pending.get(slot);
    if (pending === undefined) {
      this.#pending.set(slot, key);
      this.#pendingFirst.set(slot, key);
    } else if (pending !== key) this.#pending.set(slot, SEVERAL);
  }

  /** Keeps the rows of a transaction that committed; `rollback` drops them. */
  commit(): void {
    for (const [slot, key] of this.#pendingFirst) {
      // The first event of a slot holds it; a later one (flagged) does not take it over.
      if (!this.#held.has(slot)) this.#held.set(slot, key);
    }
    this.#clearPending();
    this.#trim();
  }

  /**
   * For rows committed on another connection (the commit thread): flags and holds them now, in the
   * order they will commit, before their commit lands, so a batch sent after them is checked
   * against them. Returns, per entry, whether another event holds its slot, and what `release`
   * needs to undo the hold if that commit fails.
   */
  holdAhead(entries: readonly (SlotEntry | null)[]): { flags: boolean[]; added: SlotEntry[] } {
    const added: SlotEntry[] = [];
    const flags = entries.map((entry) => {
      if (entry === null) return false;
      const held = this.#held.get(entry.slot);
      if (held !== undefined) return held !== entry.key;
      this.#held.set(entry.slot, entry.key);
      added.push(entry);
      return false;
    });
    this.#trim();
    return { flags, added };
  }

  /** Undoes `holdAhead` for rows whose commit failed: their slots are free again. */
  release(added: readonly SlotEntry[]): void {
    for (const { slot, key } of added) if (this.#held.get(slot) === key) this.#held.delete(slot);
  }

  #trim(): void {
    for (const slot of this.#held.keys()) {
      if (this.#held.size <= this.capacity) break;
      this.#held.delete(slot);
    }
  }

  /** Drops the rows of a transaction that failed. */
  rollback(): void {
    this.#clearPending();
  }

  #clearPending(): void {
    this.#pending.clear();
    this.#pendingFirst.clear();
  }
}
