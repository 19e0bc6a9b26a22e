import type Database from 'better-sqlite3';
import type { ClusterStatus, TenantStatus } from './api-types.js';

export type { ClusterStatus, TenantStatus } from './api-types.js';

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

/** Rejects per tenant and cluster over the last hour, as the server counted them (see `RejectCounter`). */
export interface RejectSource {
  /** Rejects of the tenant per cluster (`null` key: no cluster) in the hour before `now`. */
  lastHour(tenant: string, now: number): Map<string | null, number>;
}

/**
 * The per-cluster status of one tenant, computed from the store and the reject counts: each
 * cluster's last event (from the (tenant, cluster, time) index alone), and the last hour's events
 * and alerts (a range of the (tenant, time) indexes: bounded by an hour's volume, not the store's).
 */
export function clusterStatus(db: Database.Database, tenant: string, now: number, rejects?: RejectSource): TenantStatus {
  const hourAgo = new Date(now - HOUR_MS).toISOString();
  const clusters = new Map<string | null, ClusterStatus>();
  const row = (name: string | null): ClusterStatus => {
    let s = clusters.get(name);
    if (s === undefined) {
      s = { cluster_name: name, last_event: null, events_last_hour: 0, alerts_last_hour: 0, rejects_last_hour: 0 };
      clusters.set(name, s);
    }
    return s;
  };
  const last = db
    .prepare('SELECT cluster_name, max(event_time) AS t FROM events WHERE tenant_id = ? GROUP BY cluster_name')
    .all(tenant) as { cluster_name: string | null; t: string }[];
  for (const r of last) row(r.cluster_name).last_event = r.t;
  const events = db
    .prepare('SELECT cluster_name, count(*) AS n FROM events WHERE tenant_id = ? AND event_time >= ? GROUP BY cluster_name')
    .all(tenant, hourAgo) as { cluster_name: string | null; n: number }[];
  for (const r of events) row(r.cluster_name).events_last_hour = r.n;
  const alerts = db
    .prepare('SELECT cluster_name, count(*) AS n FROM alerts WHERE tenant_id = ? AND event_time >= ? GROUP BY cluster_name')
    .all(tenant, hourAgo) as { cluster_name: string | null; n: number }[];
  for (const r of alerts) row(r.cluster_name).alerts_last_hour = r.n;
  for (const [name, n] of rejects?.lastHour(tenant, now) ?? []) row(name).rejects_last_hour = n;
  // Named clusters, the most recently heard first; the events without a cluster last.
  const list = [...clusters.values()].sort(
    (a, b) =>
      Number(a.cluster_name === null) - Number(b.cluster_name === null) ||
      (b.last_event ?? '').localeCompare(a.last_event ?? '') ||
      (a.cluster_name ?? '').localeCompare(b.cluster_name ?? ''),
  );
  return {
    tenant,
    generated_at: new Date(now).toISOString(),
    clusters: list,
    events_without_cluster_last_hour: clusters.get(null)?.events_last_hour ?? 0,
  };
}

/** Most (tenant, cluster) pairs the counter tracks: a sender inventing cluster names cannot grow it further. */
export const MAX_REJECT_KEYS = 10_000;

/**
 * Rejects per (tenant, cluster) in one-minute buckets over the last hour, kept in memory by the
 * server that answered them: the store keeps only what it accepted, so the count starts when
 * the server does.
 */
export class RejectCounter implements RejectSource {
  // key: JSON of [tenant, cluster] → minute number → count
  readonly #buckets = new Map<string, Map<number, number>>();

  /** Counts `n` rejects for a tenant and cluster at `now`. */
  add(tenant: string, cluster: string | null, n: number, now: number): void {
    if (n <= 0) return;
    const key = JSON.stringify([tenant, cluster]);
    let minutes = this.#buckets.get(key);
    if (minutes === undefined) {
      if (this.#buckets.size >= MAX_REJECT_KEYS) this.#prune(now);
      if (this.#buckets.size >= MAX_REJECT_KEYS) return;
      minutes = new Map();
      this.#buckets.set(key, minutes);
    }
    const minute = Math.floor(now / MINUTE_MS);
    minutes.set(minute, (minutes.get(minute) ?? 0) + n);
    // Keep at most the last hour of buckets per key.
    for (const m of minutes.keys()) if (m <= minute - 60) minutes.delete(m);
  }

  lastHour(tenant: string, now: number): Map<string | null, number> {
    const out = new Map<string | null, number>();
    const from = Math.floor((now - HOUR_MS) / MINUTE_MS);
    for (const [key, minutes] of this.#buckets) {
      const [t, cluster] = JSON.parse(key) as [string, string | null];
      if (t !== tenant) continue;
      let n = 0;
      for (const [m, count] of minutes) if (m > from) n += count;
      if (n > 0) out.set(cluster, n);
    }
    return out;
  }

  #prune(now: number): void {
    const from = Math.floor((now - HOUR_MS) / MINUTE_MS);
    for (const [key, minutes] of this.#buckets) {
      for (const m of minutes.keys()) if (m <= from) minutes.delete(m);
      if (minutes.size === 0) this.#buckets.delete(key);
    }
  }
}
