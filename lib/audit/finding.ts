import { isJsonObject } from '../json.js';
import { CONNECTOR_VERSION } from '../version.js';
import { attacksOf } from './attack.js';
import { TRUNCATED_ANNOTATION } from './fields.js';
import { classifySeverity } from './severity.js';
import type { JsonValue, NormalisedRecord, Severity, SeverityReason } from './types.js';

type Obj = { [key: string]: JsonValue };

/** What a finding says about a detection rule: from the pack (lib/rules), by id. */
export interface RuleInfo {
  id: string;
  title: string;
  description: string;
  severity: Severity;
  mitre: readonly string[];
  source: string;
}

/** Looks a rule up by id (the running pack's); undefined for an id it does not know. */
export type RuleLookup = (id: string) => RuleInfo | undefined;

// The spec table's high rows as analytics: a title, why, and the ATT&CK technique each row is
// about (MITRE ATT&CK for Containers).
const TABLE_ROWS: Partial<Record<SeverityReason, { title: string; desc: string; mitre: string[] }>> = {
  impersonation: {
    title: 'Request made through impersonation',
    desc: 'An impersonate request, or a request made as another user: who acted is hidden.',
    mitre: ['T1078'],
  },
  'rbac-binding-change': {
    title: 'RBAC binding changed',
    desc: 'A (Cluster)RoleBinding was written: granting a role is the last step of privilege escalation.',
    mitre: ['T1098.006'],
  },
  'sensitive-resource-change': {
    title: 'Credential or permission object changed',
    desc: 'A Secret, ServiceAccount (or its token), Role, ClusterRole or CertificateSigningRequest was written.',
    mitre: ['T1098', 'T1528'],
  },
  'pod-interactive-access': {
    title: 'Interactive access to a pod',
    desc: 'exec, attach, port-forward or proxy into a running pod.',
    mitre: ['T1609'],
  },
  'cluster-wide-secrets-read': {
    title: 'Every secret of the cluster read',
    desc: 'A list or watch of secrets across all namespaces.',
    mitre: ['T1552.007'],
  },
};

// A reused auditID is no table row: it says how the event arrived, not what the request did.
const REUSED = {
  title: 'Audit ID reused by another event',
  desc:
    "Another event with other content was stored under this event's auditID and stage. kube-apiserver " +
    "takes auditID from the client's Audit-ID header, so a client chose it: one request may be hidden behind another.",
};

/**
 * What decided the severity of a record flagged `reused-audit-id` before the flag replaced its
 * reason (docs/record.md, "A reused auditID"): the first rule that fired at that severity, else the
 * severity table's row when it gives that severity; null when neither does.
 */
function beforeReuse(record: NormalisedRecord, rules: readonly RuleInfo[]): string | null {
  const rule = rules.find((r) => r.severity === record.severity);
  if (rule !== undefined) return `rule:${rule.id}`;
  const row = classifySeverity({
    verb: record.k8s_verb,
    resource: record.k8s_resource,
    subresource: record.k8s_subresource,
    namespace: record.k8s_namespace,
    responseCode: record.k8s_response_code,
    impersonated: record.k8s_impersonated_user !== null,
  });
  return row.severity === record.severity ? row.reason : null;
}

/** The API Activity record's observables, renamed to their place in the finding: under `evidences[]`, but `resources[]` at the top. */
function findingObservables(observables: JsonValue | undefined): Obj[] {
  if (!Array.isArray(observables)) return [];
  return observables.filter(isJsonObject).map((o) => {
    const name = typeof o.name === 'string' && !o.name.startsWith('resources[]') ? `evidences[].${o.name}` : o.name;
    return name === undefined ? o : { ...o, name };
  });
}

const SEVERITY_IDS: Record<Severity, [number, string]> = {
  info: [1, 'Informational'],
  low: [2, 'Low'],
  medium: [3, 'Medium'],
  high: [4, 'High'],
};

/**
 * The OCSF 1.8.0 Detection Finding (class 2004) of an alert: the rule that decided its severity
 * (or came level with the spec table's row; else the row) as the analytic, the severity, the ATT&CK techniques of every rule that
 * fired, and the API Activity (6003) record as evidence.
 */
export function toDetectionFinding(record: NormalisedRecord, describe: RuleLookup = () => undefined): Obj {
  const rules = record.rule_ids.map(
    (id) => describe(id) ?? { id, title: id, description: '', severity: record.severity, mitre: [], source: '' },
  );
  // A reused auditID is the analytic, but the request's own rule or row says what happened: its
  // title, description and techniques are the finding's, as they were for the first event.
  const reused = record.severity_reason === 'reused-audit-id';
  const reason = reused ? (beforeReuse(record, rules) ?? record.severity_reason) : record.severity_reason;
  // A rule that fired as high as the table's row names the alert (docs/record.md, `severity_reason`):
  // the row kept the reason, as the first of equals, but the rule says what the request did (a
  // binding to cluster-admin, not any binding change); the row stays beside it as a related analytic.
  const tiedRow = !reason.startsWith('rule:') && !reused ? rules.find((r) => r.severity === record.severity) : undefined;
  const decidingRule = reason.startsWith('rule:') ? reason.slice(5) : (tiedRow?.id ?? null);
  const row = tiedRow === undefined ? TABLE_ROWS[reason as SeverityReason] : undefined;
  const decided = decidingRule === null ? undefined : rules.find((r) => r.id === decidingRule);
  const ownTitle = decided?.title ?? row?.title;
  const ownDesc = decided?.description || row?.desc;
  const title = reused
    ? ownTitle === undefined
      ? REUSED.title
      : `${ownTitle} (${REUSED.title.charAt(0).toLowerCase()}${REUSED.title.slice(1)})`
    : (ownTitle ?? `Severity table: ${reason}`);
  const desc = reused ? (ownDesc ? `${REUSED.desc} ${ownDesc}` : REUSED.desc) : ownDesc;
  const rowMitre = reason.startsWith('rule:') ? [] : (TABLE_ROWS[reason as SeverityReason]?.mitre ?? []);
  const techniques = new Set<string>([...rowMitre, ...rules.flatMap((r) => r.mitre)]);
  const ocsf = record.ocsf;
  const [severityId, severityName] = SEVERITY_IDS[record.severity];
  const activityMetadata: Obj = isJsonObject(ocsf.metadata)
    ? ocsf.metadata
    : { version: '1.8.0', product: { name: 'AiSOC K8s Audit', vendor_name: 'AiSOC' } };
  // The finding's product is the detector, this connector: its version is the connector's. The
  // 6003 record's product.version is the audit API version (audit.k8s.io/v1, where Security Lake's
  // EKS mapping puts it), which on a finding would read as the detector's; it stays in the evidence.
  const { version: _auditApiVersion, ...product } = isJsonObject(activityMetadata.product) ? activityMetadata.product : {};
  if (CONNECTOR_VERSION !== undefined) product.version = CONNECTOR_VERSION;
  const metadata: Obj = { ...activityMetadata, product, uid: `finding:${record.dedup_key}` };
  // An event the apiserver shrank, or a line cut at a size limit and salvaged, arrives flagged
  // audit.k8s.io/truncated: its bodies are gone, and with them what a rule reading them would have
  // found. OCSF's metadata.is_truncated says exactly that; the message says it to the analyst.
  const annotations = isJsonObject(record.raw_event) ? record.raw_event.annotations : undefined;
  const truncated = isJsonObject(annotations) && annotations[TRUNCATED_ANNOTATION] === 'true';
  if (truncated) metadata.is_truncated = true;
  // The activity's times as the API Activity record has them (`time` the stage's, `start_time` the
  // request's receipt): the finding's time, and first and last seen, which Security Hub's findings
  // in OCSF (ocsf/examples) carry apart from `time` and a SIEM shows as "first observed". No
  // created_time: the record does not keep when the ingest made the alert, and a time taken here
  // would differ on every read of a stored one.
  const seen = typeof ocsf.time === 'number' ? ocsf.time : Date.parse(record.event_time);
  const findingInfo: Obj = {
    uid: record.dedup_key,
    first_seen_time: typeof ocsf.start_time === 'number' ? Math.min(ocsf.start_time, seen) : seen,
    last_seen_time: seen,
    title,
    analytic: reused
      ? { uid: 'reused-audit-id', name: 'reused audit ID', type_id: 1, type: 'Rule' }
      : {
          uid: decidingRule ?? reason,
          name: decidingRule ?? `severity table: ${reason}`,
          type_id: 1,
          type: 'Rule',
          ...(decided?.source ? { desc: `after ${decided.source}` } : {}),
        },
    types: ['Kubernetes Audit'],
    data_sources: ['Kubernetes audit log'],
    related_events: [{ uid: record.audit_id, type_uid: typeof ocsf.type_uid === 'number' ? ocsf.type_uid : 600300 }],
  };
  // The other analytics behind the alert: the request's own rule or row of a reused auditID, the
  // table's row a rule came level with, and every rule that fired without deciding.
  const related: Obj[] = [];
  if (reused && reason !== record.severity_reason)
    related.push({ uid: decidingRule ?? reason, name: decidingRule ?? `severity table: ${reason}`, type_id: 1, type: 'Rule' });
  if (tiedRow !== undefined) related.push({ uid: reason, name: `severity table: ${reason}`, type_id: 1, type: 'Rule' });
  for (const r of rules) {
    if (r.id === decidingRule) continue;
    related.push({ uid: r.id, name: r.id, type_id: 1, type: 'Rule', ...(r.source ? { desc: `after ${r.source}` } : {}) });
  }
  if (related.length > 0) findingInfo.related_analytics = related;
  if (desc) findingInfo.desc = desc;
  if (techniques.size > 0) findingInfo.attacks = attacksOf(techniques);
  const evidence: Obj = { data: { api_activity: ocsf } };
  for (const key of ['api', 'actor', 'src_endpoint', 'http_request', 'resources'] as const)
    if (ocsf[key] !== undefined) evidence[key] = ocsf[key] as JsonValue;
  const out: Obj = {
    class_uid: 2004,
    class_name: 'Detection Finding',
    category_uid: 2,
    category_name: 'Findings',
    activity_id: 1,
    activity_name: 'Create',
    type_uid: 200401,
    type_name: 'Detection Finding: Create',
    time: seen,
    severity_id: severityId,
    severity: severityName,
    status_id: 1,
    status: 'New',
    is_alert: true,
    message: `${title}: ${typeof ocsf.message === 'string' ? ocsf.message : record.audit_id}${truncated ? ` [event truncated (${TRUNCATED_ANNOTATION}): bodies missing]` : ''}`,
    metadata,
    finding_info: findingInfo,
    evidences: [evidence],
  };
  // The affected objects and the observables at the top, where a finding's reader looks for them
  // (OCSF recommends both for 2004; Security Hub's GuardDuty finding in ocsf/examples carries
  // them there): a SIEM pivots from an alert to the user, the source address or the object only
  // through these. Each observable is named by where it sits in this finding.
  if (Array.isArray(ocsf.resources)) out.resources = ocsf.resources;
  const observables = findingObservables(ocsf.observables);
  if (observables.length > 0) out.observables = observables;
  if (isJsonObject(ocsf.cloud)) out.cloud = ocsf.cloud;
  if (record.rule_ids.length > 0) out.unmapped = { rule_ids: record.rule_ids };
  return out;
}
