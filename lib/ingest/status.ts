import { LAST_HOUR_MS, LastHourCounts } from '../metrics/last-hour.js';
import type { EventStore } from '../sinks/sqlite.js';

/** What the ingest counts per tenant as requests come and go (nothing of it is in the store). */
export interface RecentCountNames {
  /** Items of accepted batches that were rejected (not an Event, refused by a sink). */
  rejected_items: number;
  /** Whole requests answered 4xx for this tenant (bad body, too large, no cluster name when required). */
  refused_requests: number;
  /** Requests refused because they named no cluster while K8S_AUDIT_REQUIRE_CLUSTER is on. */
  refused_without_cluster: number;
}
type CountName = keyof RecentCountNames;
const COUNT_NAMES: readonly CountName[] = ['rejected_items', 'refused_requests', 'refused_without_cluster'];

/**
 * Per-tenant counts over the last hour (lib/metrics/last-hour.ts), in memory: they restart with
 * the process, which the status answer says (`counted_since`).
 */
export class RecentCounts {
  readonly #counts: LastHourCounts;

  constructor(now: number = Date.now()) {
    this.#counts = new LastHourCounts(now);
  }

  get startedAt(): number {
    return this.#counts.startedAt;
  }

  /** Adds `n` to a tenant's count at time `now`. */
  add(tenant: string, name: CountName, n: number, now: number): void {
    this.#counts.add(JSON.stringify([tenant, name]), n, now);
  }

  /** A tenant's counts over the hour before `now`. */
  sum(tenant: string, now: number): RecentCountNames {
    return Object.fromEntries(
      COUNT_NAMES.map((name) => [name, this.#counts.total(JSON.stringify([tenant, name]), now)]),
    ) as unknown as RecentCountNames;
  }
}

/** One cluster a tenant's events came from. */
export interface ClusterStatus {
  /** `null` for events that arrived without a cluster name. */
  cluster_name: string | null;
  /** The newest event's own time (ISO 8601). */
  last_event_time: string;
  /** When the newest of its events was stored. */
  last_received_at: string;
  events: number;
  events_last_hour: number;
}

/** A tenant's status, as `GET /v1/status/k8s-audit/{tenant}` answers and `aisoc-k8s-audit status` prints. */
export interface TenantStatus {
  tenant: string;
  generated_at: string;
  /** The start of the hour the `*_last_hour` fields count (by receive time). */
  window_start: string;
  clusters: ClusterStatus[];
  events_last_hour: number;
  alerts_last_hour: number;
  /** Stored events of the hour without a cluster name. */
  events_without_cluster_last_hour: number;
  /** Counted by this process since `counted_since` (in memory; the store keeps no rejects). */
  rejected_items_last_hour: number | null;
  refused_requests_last_hour: number | null;
  refused_without_cluster_last_hour: number | null;
  counted_since: string | null;
}

/** At most this many clusters are listed, the most recently heard from first. */
export const MAX_LISTED_CLUSTERS = 1000;

/**
 * A tenant's status from the embedded store (clusters seen, the last event of each, events and
 * alerts of the last hour) and, when given, the ingest's in-memory counts of rejects.
 */
export function tenantStatus(store: EventStore, tenant: string, now: number, recent?: RecentCounts): TenantStatus {
  // The hour is by receive time (stored_at): "is data flowing now", whatever the events' own
  // times (a backfill stores last week's events now).
  const since = new Date(now - LAST_HOUR_MS).toISOString();
  const rows = store.db
    .prepare(
      `SELECT cluster_name, MAX(event_time) AS last_event_time, MAX(stored_at) AS last_received_at, count(*) AS events,
              SUM(stored_at >= ?) AS events_last_hour
         FROM events WHERE tenant_id = ? GROUP BY cluster_name ORDER BY last_received_at DESC, last_event_time DESC LIMIT ?`,
    )
    .all(since, tenant, MAX_LISTED_CLUSTERS) as ClusterStatus[];
  const clusters = rows.map((r) => ({ ...r, events_last_hour: Number(r.events_last_hour ?? 0) }));
  const alerts = store.db.prepare('SELECT count(*) AS n FROM alerts WHERE tenant_id = ? AND stored_at >= ?').get(tenant, since) as {
    n: number;
  };
  const counts = recent?.sum(tenant, now);
  return {
    tenant,
    generated_at: new Date(now).toISOString(),
    window_start: since,
    clusters,
    events_last_hour: clusters.reduce((n, c) => n + c.events_last_hour, 0),
    alerts_last_hour: alerts.n,
    events_without_cluster_last_hour: clusters.find((c) => c.cluster_name === null)?.events_last_hour ?? 0,
    rejected_items_last_hour: counts?.rejected_items ?? null,
    refused_requests_last_hour: counts?.refused_requests ?? null,
    refused_without_cluster_last_hour: counts?.refused_without_cluster ?? null,
    counted_since: recent === undefined ? null : new Date(Math.max(recent.startedAt, now - LAST_HOUR_MS)).toISOString(),
  };
}
