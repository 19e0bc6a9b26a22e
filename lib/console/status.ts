import type Database from 'better-sqlite3';
import { LAST_HOUR_MS, LastHourCounts, MAX_COUNTED_KEYS } from '../metrics/last-hour.js';
import type { ClusterStatus, TenantStatus } from './api-types.js';
import { holdingMost } from './most.js';

export type { ClusterStatus, TenantStatus } from './api-types.js';

/** Rejects per tenant and cluster over the last hour, as the server counted them (see `RejectCounter`). */
export interface RejectSource {
  /** Rejects of the tenant per cluster (`null` key: no cluster) in the hour before `now`. */
  lastHour(tenant: string, now: number): Map<string | null, number>;
}

/**
 * The per-cluster status of one tenant, computed from the store and the reject counts: each
 * cluster's last event (from the (tenant, cluster, time) index alone), and the last hour's events
 * and alerts (a range of the (tenant, time) indexes: bounded by an hour's volume, not the store's).
 * The console's hour is by the events' own time (what happened in the cluster in the last hour);
 * the ingest's status route (lib/ingest/status.ts) counts by receive time (is data flowing now).
 */
export function clusterStatus(db: Database.Database, tenant: string, now: number, rejects?: RejectSource): TenantStatus {
  const hourAgo = new Date(now - LAST_HOUR_MS).toISOString();
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

/** Most clusters counted for one tenant: a sender inventing cluster names fills its own tenant's share only. */
export const MAX_CLUSTERS_PER_TENANT = 1_000;

/**
 * Rejects per (tenant, cluster) over the last hour (lib/metrics/last-hour.ts), kept in memory by
 * the server that answered them: the store keeps only what it accepted, so the count starts when
 * the server does. Bounded per tenant (MAX_CLUSTERS_PER_TENANT) and in all (MAX_COUNTED_KEYS): past
 * its own bound a tenant's new cluster drops one of that tenant's, past the overall one a cluster
 * of the tenant holding the most goes. One counter for all tenants let a sender inventing cluster
 * names in its own tenant push every other tenant's rejects out of their status.
 */
export class RejectCounter implements RejectSource {
  readonly #tenants = new Map<string, LastHourCounts>();
  #keys = 0;

  constructor(
    readonly maxKeys: number = MAX_COUNTED_KEYS,
    readonly maxPerTenant: number = MAX_CLUSTERS_PER_TENANT,
  ) {}

  /** Counts `n` rejects for a tenant and cluster at `now`. */
  add(tenant: string, cluster: string | null, n: number, now: number): void {
    if (n <= 0) return;
    const key = JSON.stringify(cluster);
    let counts = this.#tenants.get(tenant);
    if (counts === undefined) {
      counts = new LastHourCounts(now, this.maxPerTenant);
      this.#tenants.set(tenant, counts);
    }
    if (!counts.has(key) && counts.size < this.maxPerTenant && this.#keys >= this.maxKeys) {
      const most = holdingMost<[string, LastHourCounts]>(this.#tenants, (entry) => entry[1].size, [tenant, counts]);
      const before = most[1].size;
      most[1].evictOne(now);
      this.#keys -= before - most[1].size;
      if (most[1].size === 0 && most[0] !== tenant) this.#tenants.delete(most[0]);
    }
    // The tenant's own counter drops one of its keys (idle ones first) when it is at its bound.
    const before = counts.size;
    counts.add(key, n, now);
    this.#keys += counts.size - before;
  }

  lastHour(tenant: string, now: number): Map<string | null, number> {
    const out = new Map<string | null, number>();
    for (const [key, n] of this.#tenants.get(tenant)?.entries(now) ?? []) out.set(JSON.parse(key) as string | null, n);
    return out;
  }
}
