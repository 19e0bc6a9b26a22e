/**
 * Types for Kubernetes audit events (audit.k8s.io/v1, also read from v1beta1) and for the
 * normalised record every transport produces. Field names follow the upstream Go types in
 * k8s.io/apiserver/pkg/apis/audit/v1/types.go.
 */

import type { JsonObject, JsonValue } from '../json.js';

export type { JsonObject, JsonValue } from '../json.js';

/** `user` / `impersonatedUser` of an audit event (authentication.k8s.io UserInfo). */
export interface AuditUserInfo {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, JsonValue>;
  [key: string]: JsonValue | undefined;
}

/** `objectRef` of an audit event: the target of the request. */
export interface AuditObjectRef {
  resource?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  apiGroup?: string;
  apiVersion?: string;
  resourceVersion?: string;
  subresource?: string;
  [key: string]: JsonValue | undefined;
}

/** One audit.k8s.io Event, after `validateAuditEvent` has checked the fields we read. */
export interface AuditEvent {
  kind?: string;
  apiVersion?: string;
  level?: string;
  auditID: string;
  stage?: string;
  requestURI?: string;
  verb?: string;
  user?: AuditUserInfo;
  impersonatedUser?: AuditUserInfo;
  sourceIPs?: string[];
  userAgent?: string;
  objectRef?: AuditObjectRef;
  responseStatus?: JsonObject;
  requestObject?: JsonValue;
  responseObject?: JsonValue;
  requestReceivedTimestamp?: string;
  stageTimestamp?: string;
  /** Legacy (audit.k8s.io/v1alpha1, v1beta1) event time. */
  timestamp?: string;
  annotations?: Record<string, JsonValue>;
  [key: string]: unknown;
}

/** An item of a payload that could not be used, with the reason a user can act on. */
export interface RejectedItem {
  /** Position of the item in the payload (0-based, across all lines for NDJSON). */
  index: number;
  /** 1-based line number, for NDJSON input. */
  line?: number;
  /** The item's auditID when one could be read. */
  auditID?: string;
  reason: string;
  /** The item as parsed, when it was JSON: kept (redacted, cut) by the ingest's rejects sink. */
  item?: unknown;
}

/** The shape the whole payload had. `invalid` means it was none of the accepted forms. */
export type PayloadForm = 'EventList' | 'Event' | 'array' | 'ndjson' | 'invalid';

/** What `parseAuditPayload` returns: the usable events, the rejected items, and the form. */
export interface ParsedPayload {
  form: PayloadForm;
  /** Set when `form` is `invalid`: why the payload as a whole could not be read. */
  error?: string;
  events: AuditEvent[];
  /** The payload index of each entry of `events` (same length as `events`). */
  indexes: number[];
  rejected: RejectedItem[];
  /** Number of items found (events + rejected). */
  itemCount: number;
}

/** The connector documentation's four-tier severity ladder. */
export type Severity = 'high' | 'medium' | 'low' | 'info';

/** Which severity row matched, named as in the README's severity table. */
export type SeverityReason =
  | 'impersonation'
  | 'rbac-binding-change'
  | 'sensitive-resource-change'
  | 'pod-interactive-access'
  | 'cluster-wide-secrets-read'
  | 'workload-change'
  | 'request-denied-or-failed'
  | 'sensitive-read'
  | 'steady-state'
  // Refinements of the table for routine control-plane traffic (not with K8S_AUDIT_SEVERITY=spec).
  | 'routine-node-pod-token'
  | 'routine-controller-token'
  | 'routine-node-pod-delete'
  | 'routine-node-drain-eviction'
  | 'routine-node-csr'
  | 'routine-controller-reconcile'
  | 'routine-controller-secrets-watch'
  | 'routine-addon-secrets-watch'
  | 'routine-not-found-or-conflict'
  | 'routine-get-not-found'
  | 'routine-eks-addon-manager'
  | 'eviction-refused'
  // The RequestReceived stage: its request's later stage is scored (lib/audit/detect.ts).
  | 'request-received-stage'
  // A pod-spec rule fired on a pod the DaemonSet controller made from its DaemonSet (lib/audit/detect.ts).
  | 'routine-daemonset-pod'
  // admission-webhook-change fired on an add-on's own write of only its webhooks' CA bundle (lib/audit/detect.ts).
  | 'routine-webhook-ca-injection'
  // A detection rule decided the severity: `rule:<rule id>`.
  | `rule:${string}`
  // Another event with other content already holds this auditID and stage (lib/audit/identity.ts).
  | 'reused-audit-id';

/** Where the events came from; fills OCSF `cloud` and `metadata.product.feature`. */
export interface AuditSource {
  platform: 'eks' | 'gke' | 'aks' | 'kubernetes';
  /**
   * The cloud account: the AWS account id (from the CloudWatch Logs payload's `owner`), the GCP
   * project id (the LogEntry's `resource.labels.project_id`) or the Azure subscription id (from
   * the diagnostic record's `resourceId`).
   */
  accountId?: string | null;
  /** The AWS region, or the GKE cluster's location (a region, or a zone for a zonal cluster). */
  region?: string | null;
}

/** Everything the normaliser needs besides the event itself. */
export interface NormaliseContext {
  tenantId: string | null;
  clusterName: string | null;
  /** When the event reached us: used as `event_time` when the event has no usable time. */
  receivedAt: number;
  source?: AuditSource;
  /**
   * Copy request/response bodies into `ocsf.api.request.data` / `api.response.data` as well.
   * Off by default: the bodies are already in `raw_event` (redacted), and a second copy would
   * double the size of every stored record.
   */
  ocsfBodies?: boolean;
  /**
   * How severity is decided: the spec's table alone, or (the default) the table with its
   * routine-traffic refinements and a compiled rule pack (the shipped one when not given).
   */
  detection?: Detection;
  /** Another event with other content already holds this event's auditID and stage (see `lib/audit/identity.ts`). */
  auditIdReused?: boolean;
  /** Where the rules that stopped with an error (not an absent key) are added, for the caller's count and log. */
  ruleErrors?: RuleError[];
}

/** The severity configuration: `K8S_AUDIT_SEVERITY` and the rule pack it runs with. */
export interface Detection {
  /** `spec`: the documented table alone, unchanged; `default`: refinements and rules on top. */
  severity: 'spec' | 'default';
  /** The compiled pack (ignored with `spec`); null runs the refined table without rules. */
  rules: DetectionRules | null;
}

/** A rule that fired, as the normaliser reads it: `match` tells whether it also scores DaemonSet templates. */
export interface FiredRule {
  id: string;
  severity: Severity;
  match?: { verbs: readonly string[]; resources: readonly string[]; users?: readonly string[]; groups?: readonly string[] };
}

/**
 * A rule whose condition stopped on an event with an error other than an absent key, and the
 * error's kind (`cel:<code>`, or a JavaScript error's class: lib/rules `ruleErrorKind`).
 */
export interface RuleError {
  rule: string;
  kind: string;
}

/** What the normaliser needs of a compiled rule pack (lib/rules `RuleEngine`). */
export interface DetectionRules {
  /** The rules that fire; those whose condition stopped with an error are added to `errors`. */
  match(event: AuditEvent, errors?: RuleError[]): readonly FiredRule[];
  /** A rule of the pack by id, for the Detection Finding of an alert it decided. */
  describe?(
    id: string,
  ): { id: string; title: string; description: string; severity: Severity; mitre: readonly string[]; source: string } | undefined;
  /** The cluster's own routine identities the operators' files declare; absent when none do. */
  routine?: RoutineIdentities;
}

/**
 * Exact user names an operator declares routine for their cluster (the `routine` section of their
 * rule files), added to the built-in add-on identities of `refineSeverity` for that deployment.
 */
export interface RoutineIdentities {
  /** Add-ons whose cluster-wide Secret list/watch is routine (`routine-addon-secrets-watch`). */
  secretWatchers: ReadonlySet<string>;
  /** Identities whose pod evictions are node drains (`routine-node-drain-eviction`). */
  nodeDrainers: ReadonlySet<string>;
  /** Add-ons whose write of only their webhooks' CA bundle is routine (`routine-webhook-ca-injection`). */
  webhookCaInjectors: ReadonlySet<string>;
}

/** The OCSF 1.8.0 API Activity (class 6003) record; validated by the schema in tests. */
export type OcsfApiActivity = { [key: string]: JsonValue };

/** One normalised audit event: the connector documentation's flat fields, severity, dedup key and OCSF record. */
export interface NormalisedRecord {
  tenant_id: string | null;
  cluster_name: string | null;
  audit_id: string;
  k8s_stage: string | null;
  event_time: string;
  k8s_user: string | null;
  k8s_user_groups: string[];
  k8s_impersonated_user: string | null;
  k8s_verb: string | null;
  k8s_api_group: string | null;
  k8s_resource: string | null;
  k8s_subresource: string | null;
  k8s_namespace: string | null;
  k8s_object_name: string | null;
  k8s_response_code: number | null;
  k8s_decision: string | null;
  k8s_reason: string | null;
  src_ip: string | null;
  source_ips: string[];
  k8s_user_agent: string | null;
  request_uri: string | null;
  severity: Severity;
  severity_reason: SeverityReason;
  /** Ids of the detection rules that fired on the event, in pack order (empty when none did). */
  rule_ids: string[];
  dedup_key: string;
  raw_event: AuditEvent;
  ocsf: OcsfApiActivity;
}
