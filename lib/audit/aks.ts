import { isJsonObject, jsonErrorReason } from '../json.js';
import { aksRowToAuditEvent, isLogAnalyticsRow } from './aks-table.js';
import { decodeUtf8, validateAuditEvent } from './parse.js';
import type { AuditEvent, AuditSource, RejectedItem } from './types.js';

/**
 * AKS sends its apiserver audit events to Azure diagnostic settings, which deliver them (to Event
 * Hubs, a storage account or Log Analytics) as resource-log records:
 * `{"records":[{"category":"kube-audit","properties":{"log":"<audit Event JSON>"},"resourceId":
 * ".../MANAGEDCLUSTERS/<name>",...}]}` (Azure Monitor's resource log schema; Falco's
 * `k8saudit-aks` plugin, falcosecurity/plugins plugins/k8saudit-aks, reads `properties.log`).
 */

/** The two audit categories of an AKS cluster's diagnostic settings; the others carry klog text. */
export const AKS_AUDIT_CATEGORIES: ReadonlySet<string> = new Set(['kube-audit', 'kube-audit-admin']);

// /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.ContainerService/managedClusters/<name>;
// diagnostic records write it in upper case, so it is matched without regard to case.
const MANAGED_CLUSTER =
  /^\/subscriptions\/([^/]+)\/resourcegroups\/[^/]+\/providers\/microsoft\.containerservice\/managedclusters\/([^/]+)$/i;

/** The cluster and subscription a record's `resourceId` names, or null when it names no AKS cluster. */
export function aksClusterOf(resourceId: unknown): { clusterName: string; subscriptionId: string } | null {
  if (typeof resourceId !== 'string') return null;
  const m = MANAGED_CLUSTER.exec(resourceId.trim());
  if (m === null) return null;
  // Azure resource names are case-insensitive and the record upper-cases them: the lower-case
  // form is the one `az aks list` shows for the usual all-lower-case cluster names.
  return { clusterName: (m[2] as string).toLowerCase(), subscriptionId: (m[1] as string).toLowerCase() };
}

/** One usable audit event of an AKS body, with the cluster and source of its record. */
export interface AksEvent {
  index: number;
  event: AuditEvent;
  clusterName: string | null;
  source: AuditSource;
}

/** What `parseAksRecords` found in a body. */
export interface AksRecords {
  events: AksEvent[];
  rejected: RejectedItem[];
  /** Records of other categories (kube-apiserver, cluster-autoscaler, ...): skipped, counted. */
  skipped: number;
  /** Reasons of the skipped records, at most one per distinct category. */
  skippedReasons: string[];
  itemCount: number;
}

/**
 * Whether a body is an Azure diagnostic-settings body: a JSON object whose first key is
 * `records`, the form Azure Monitor writes. Reads a few bytes, so an EventList never pays for it.
 */
export function looksLikeAksRecords(body: Uint8Array): boolean {
  let i = body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0;
  const skip = () => {
    while (i < body.length && (body[i] === 0x20 || body[i] === 0x0a || body[i] === 0x0d || body[i] === 0x09)) i++;
  };
  skip();
  if (body[i] !== 0x7b) return false;
  i++;
  skip();
  const key = '"records"';
  for (let k = 0; k < key.length; k++) if (body[i + k] !== key.charCodeAt(k)) return false;
  return true;
}

/**
 * Reads an Azure diagnostic-settings body: each `kube-audit` / `kube-audit-admin` record's
 * `properties.log` as an audit Event with the cluster from its `resourceId`; records of other
 * categories are skipped and counted; a broken audit record is rejected with its reason.
 * Returns a string (the reason) when the body as a whole is not such a body. Never throws.
 */
export function parseAksRecords(input: Uint8Array | string): AksRecords | string {
  let doc: unknown;
  try {
    doc = JSON.parse(decodeUtf8(input));
  } catch (err) {
    return `body is not JSON: ${jsonErrorReason(err)}`;
  }
  if (!isJsonObject(doc) || !Array.isArray(doc.records)) return 'body is not an Azure diagnostic-settings body ({"records":[...]})';
  const out: AksRecords = { events: [], rejected: [], skipped: 0, skippedReasons: [], itemCount: doc.records.length };
  const skippedReasons = new Set<string>();
  doc.records.forEach((record, index) => {
    if (!isJsonObject(record)) {
      out.rejected.push({ index, reason: 'record is not a JSON object', item: record });
      return;
    }
    // A Log Analytics data export to Event Hubs sends rows of the AKSAudit tables in the same
    // records body (lib/audit/aks-table.ts); a hub can carry both shapes, so each record says which.
    if (isLogAnalyticsRow(record)) {
      readRow(record as Record<string, unknown>, index, out, skippedReasons);
      return;
    }
    const category = typeof record.category === 'string' ? record.category : '';
    if (!AKS_AUDIT_CATEGORIES.has(category)) {
      skip(out, skippedReasons, `category ${JSON.stringify(category)} is not kube-audit or kube-audit-admin`);
      return;
    }
    const log = isJsonObject(record.properties) ? record.properties.log : undefined;
    // The diagnostic setting writes the Event as a JSON string; a record whose properties.log
    // arrives already parsed (an object) carries the same Event: Elastic's Kubernetes integration
    // keeps such a kube-audit-admin record among its test inputs (elastic/integrations,
    // packages/kubernetes/data_stream/audit_logs/_dev/test/pipeline/test-audit.log).
    if (typeof log !== 'string' && !isJsonObject(log)) {
      out.rejected.push({ index, reason: `${category} record has no properties.log (the audit Event as JSON)`, item: record });
      return;
    }
    let value: unknown = log;
    if (typeof log === 'string') {
      try {
        value = JSON.parse(log);
      } catch (err) {
        out.rejected.push({ index, reason: `${category} record's properties.log is not JSON: ${jsonErrorReason(err)}`, item: record });
        return;
      }
    }
    // `location` is optional in Azure Monitor's resource log schema ("the region of the resource").
    const region = typeof record.location === 'string' && record.location !== '' ? record.location : null;
    accept(out, index, value, record, { resourceId: record.resourceId, region, reasonPrefix: '' });
  });
  return out;
}

/** One Log Analytics row of a records body: its Event, checked like a diagnostic record's. */
function readRow(record: Record<string, unknown>, index: number, out: AksRecords, skippedReasons: Set<string>): void {
  const row = aksRowToAuditEvent(record);
  if (row.kind === 'skipped') {
    skip(out, skippedReasons, row.reason);
    return;
  }
  if (row.kind === 'rejected') {
    out.rejected.push(rejectedRecord(index, row.reason, row.auditID, record));
    return;
  }
  // A row has no location column; its _ResourceId names the cluster as a record's resourceId does.
  accept(out, index, row.event, record, { resourceId: record._ResourceId, region: null, reasonPrefix: 'AKSAudit row: ' });
}

/** Counts a skipped record or row; each distinct reason is kept, ten at the most. */
function skip(out: AksRecords, seen: Set<string>, reason: string): void {
  out.skipped++;
  if (!seen.has(reason) && seen.size < 10) {
    seen.add(reason);
    out.skippedReasons.push(reason);
  }
}

/** A record's or row's Event, checked: kept with the cluster its resource id names, or rejected with the reason. */
function accept(
  out: AksRecords,
  index: number,
  value: unknown,
  record: unknown,
  from: { resourceId: unknown; region: string | null; reasonPrefix: string },
): void {
  const checked = validateAuditEvent(value);
  if (!checked.ok) {
    out.rejected.push(rejectedRecord(index, `${from.reasonPrefix}${checked.reason}`, checked.auditID, record));
    return;
  }
  const cluster = aksClusterOf(from.resourceId);
  out.events.push({
    index,
    event: checked.event,
    clusterName: cluster?.clusterName ?? null,
    source: { platform: 'aks', accountId: cluster?.subscriptionId ?? null, region: from.region },
  });
}

/** A rejected record or row with its reason, and the auditID when one could be read. */
function rejectedRecord(index: number, reason: string, auditID: string | undefined, item: unknown): RejectedItem {
  return auditID === undefined ? { index, reason, item } : { index, reason, auditID, item };
}
