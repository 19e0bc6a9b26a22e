import type { Severity } from '../audit/types.js';

// The shapes the console's JSON API answers with: one definition for the server (lib/console)
// and the page (web/console), which imports these types only (nothing of it is bundled).

/** The flat fields a list row shows, in the order of the events table's columns. */
export const SUMMARY_FIELDS = [
  'id',
  'event_time',
  'cluster_name',
  'audit_id',
  'severity',
  'severity_reason',
  'k8s_user',
  'k8s_verb',
  'k8s_resource',
  'k8s_subresource',
  'k8s_namespace',
  'k8s_object_name',
  'k8s_response_code',
  'src_ip',
] as const;

/** One event as a list shows it: the flat fields a row holds, no JSON parsed. */
export interface EventSummary {
  id: number;
  event_time: string;
  cluster_name: string | null;
  audit_id: string;
  severity: Severity;
  severity_reason: string;
  k8s_user: string | null;
  k8s_verb: string | null;
  k8s_resource: string | null;
  k8s_subresource: string | null;
  k8s_namespace: string | null;
  k8s_object_name: string | null;
  k8s_response_code: number | null;
  src_ip: string | null;
}

/** One alert as the alerts list shows it: the record's flat fields, the rules that raised it and their ATT&CK technique. */
export interface AlertSummary extends EventSummary {
  /** The event's id in the events table, when it is stored there (the detail view opens it). */
  event_id: number | null;
  /** The detection rule ids on the record; `[severity_reason]` for records written before rules existed. */
  rule_ids: string[];
  /** The MITRE ATT&CK techniques of those rules (`T1609`, `T1552.007`, ...); empty when none is known. */
  attack_techniques: string[];
}

/** One bucket of the timeline: its start (ISO 8601 UTC) and the count per severity. */
export interface TimelineBucket {
  start: string;
  high: number;
  medium: number;
  low: number;
  info: number;
}

/** The timeline over a range, in buckets of `bucketMs`. Empty buckets are left out. */
export interface Timeline {
  since: string;
  until: string;
  bucketMs: number;
  buckets: TimelineBucket[];
}

/** A page as the API sends it: the items and the opaque cursor of the next page. */
export interface ApiPage<T> {
  items: T[];
  next: string | null;
  /** The events search only: the scan stopped at this time before a page of matches was found. */
  scanned_to?: string | null;
}

/** One cluster of a tenant as the status view shows it; `cluster_name` null gathers the events sent without one. */
export interface ClusterStatus {
  cluster_name: string | null;
  /** The newest `event_time` stored for the cluster (ISO 8601), or null when only rejects were seen. */
  last_event: string | null;
  events_last_hour: number;
  alerts_last_hour: number;
  /** Items refused in the last hour (rejected items of accepted batches, and whole batches refused with a 4xx). */
  rejects_last_hour: number;
}

/** A tenant's status: one row per cluster, and how many of the last hour's events named no cluster. */
export interface TenantStatus {
  tenant: string;
  generated_at: string;
  clusters: ClusterStatus[];
  events_without_cluster_last_hour: number;
}
