import type Database from 'better-sqlite3';
import { LAST_HOUR_MS, LastHourCounts } from '../metrics/last-hour.js';
import type { ClusterStatus, TenantStatus } from './api-types.js';

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

/**
 * Rejects per (tenant, cluster) over the last hour (lib/metrics/last-hour.ts), kept in memory by
 * the server that answered them: the store keeps only what it accepted, so the count starts when
 * the server does.
 */
export class RejectCounter implements RejectSource {
  readonly #counts = new LastHourCounts();

  /** Counts `n` rejects for a tenant and cluster at `now`. */
  add(tenant: string, cluster: string | null, n: number, now: number): void {
    this.#counts.add(JSON.stringify([tenant, cluster]), n, now);
  }

  lastHour(tenant: string, now: number): Map<string | null, number> {
    const out = new Map<string | null, number>();
    for (const [key, n] of this.#counts.entries(now)) {
      const [t, cluster] = JSON.parse(key) as [string, string | null];
      if (t === tenant) out.set(cluster, n);
    }
    return out;
  }
}
