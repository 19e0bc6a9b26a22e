import { isJsonObject, jsonErrorReason } from '../json.js';
import { TRUNCATED_ANNOTATION } from './fields.js';
import { setOwn } from './redact.js';
import type { JsonObject, JsonValue } from './types.js';

/**
 * AKS audit events as rows of the Log Analytics tables a *resource-specific* diagnostic setting
 * writes (`AKSAudit`: every request; `AKSAuditAdmin`: all but get and list), one column per audit
 * Event field instead of the Event's JSON text. Columns: the Azure Monitor Logs reference for
 * AKSAudit (MicrosoftDocs/azure-reference-other, azure-monitor-ref/tables/includes/aksaudit-include.md,
 * CC BY 4.0). A row reaches us as a Log Analytics *data export* writes it (Event Hubs: a
 * `{"records":[row,...]}` body, as observIQ/stanza's Log Analytics input reads it,
 * operator/builtin/input/azure/loganalytics/parse.go; storage: one row a line, "JSON lines, no
 * outer records array", MicrosoftDocs/azure-monitor-docs articles/azure-monitor/logs/logs-data-export.md),
 * as `az monitor log-analytics query -o json` prints it (an array of row objects, every value a
 * string: dynamic columns as their JSON text, plus `"TableName":"PrimaryResult"`), or as the Query
 * API answers (`{"tables":[{"name","columns","rows"}]}`).
 */

/** The two audit tables of an AKS cluster's resource-specific diagnostic setting. */
export const AKS_AUDIT_TABLES: ReadonlySet<string> = new Set(['AKSAudit', 'AKSAuditAdmin']);

/**
 * The literal AKS writes in RequestObject / ResponseObject for a body it did not keep (reference:
 * "Kubernetes API object ... in object format or the string \"skipped-too-big-size-object\"").
 */
export const SKIPPED_TOO_BIG = 'skipped-too-big-size-object';

/**
 * Whether a value is a Log Analytics row (of any table): it has `Type` (every table's "name of the
 * table" column) or, for a query that projected Type away, the AKSAudit `AuditId` column. An audit
 * Event's keys are camelCase (`auditID`), a diagnostic record has `category`: neither matches.
 */
export function isLogAnalyticsRow(value: unknown): boolean {
  if (!isJsonObject(value) || 'category' in value) return false;
  return typeof value.Type === 'string' || typeof value.AuditId === 'string';
}

/** One row read: an audit Event, a row of another table (passed over), or a broken audit row. */
export type AksRowResult =
  | { kind: 'event'; event: Record<string, unknown> }
  | { kind: 'skipped'; reason: string }
  | { kind: 'rejected'; reason: string; auditID?: string };

// Column → audit.k8s.io/v1 Event field (the reference's descriptions are the Event's).
const STRING_COLUMNS: readonly (readonly [string, string])[] = [
  ['Level', 'level'],
  ['AuditId', 'auditID'],
  ['Stage', 'stage'],
  ['RequestUri', 'requestURI'],
  ['Verb', 'verb'],
  ['UserAgent', 'userAgent'],
  ['RequestReceivedTime', 'requestReceivedTimestamp'],
  ['StageReceivedTime', 'stageTimestamp'],
];
const DYNAMIC_COLUMNS: readonly (readonly [string, string])[] = [
  ['User', 'user'],
  ['SourceIps', 'sourceIPs'],
  ['ObjectRef', 'objectRef'],
  ['ResponseStatus', 'responseStatus'],
  ['Annotations', 'annotations'],
  ['RequestObject', 'requestObject'],
  ['ResponseObject', 'responseObject'],
];

/**
 * A dynamic column's value: the object itself (export, Query API) or its JSON text (`az ... -o
 * json` prints every cell as a string). Empty text and null are an empty cell: absent.
 */
function dynamicValue(value: unknown): { ok: true; value: unknown } | { ok: false; reason: string } {
  if (value === undefined || value === null || value === '') return { ok: true, value: undefined };
  if (typeof value !== 'string') return { ok: true, value };
  const head = value.trimStart()[0];
  if (head !== '{' && head !== '[') return { ok: true, value };
  try {
    return { ok: true, value: JSON.parse(value) };
  } catch (err) {
    return { ok: false, reason: jsonErrorReason(err) };
  }
}

/**
 * The audit Event one AKSAudit / AKSAuditAdmin row holds. A row of another table is skipped with
 * its name; a dynamic column whose text is not JSON rejects the row. A body AKS did not log
 * (`skipped-too-big-size-object`) is left out and the Event flagged `audit.k8s.io/truncated: "true"`,
 * as the apiserver's truncating backend flags an event whose bodies it dropped: the record then
 * says `ocsf.metadata.is_truncated: true`. The Event is checked afterwards like any other.
 */
export function aksRowToAuditEvent(row: Record<string, unknown>): AksRowResult {
  const table = row.Type;
  if (typeof table === 'string' && table !== '' && !AKS_AUDIT_TABLES.has(table)) {
    return { kind: 'skipped', reason: `table ${JSON.stringify(table)} is not AKSAudit or AKSAuditAdmin` };
  }
  const event: Record<string, unknown> = { kind: 'Event', apiVersion: 'audit.k8s.io/v1' };
  for (const [column, field] of STRING_COLUMNS) {
    const v = row[column];
    if (v !== undefined && v !== null && v !== '') event[field] = v;
  }
  // A query that projected StageReceivedTime away still has TimeGenerated ("event generation time").
  if (event.stageTimestamp === undefined && typeof row.TimeGenerated === 'string' && row.TimeGenerated !== '') {
    event.stageTimestamp = row.TimeGenerated;
  }
  const auditID = typeof event.auditID === 'string' ? event.auditID : undefined;
  let skippedBody = false;
  for (const [column, field] of DYNAMIC_COLUMNS) {
    const read = dynamicValue(row[column]);
    if (!read.ok) {
      const reason = `AKSAudit row's ${column} is not JSON: ${read.reason}`;
      return auditID === undefined ? { kind: 'rejected', reason } : { kind: 'rejected', reason, auditID };
    }
    if (read.value === undefined) continue;
    if (read.value === SKIPPED_TOO_BIG && (field === 'requestObject' || field === 'responseObject')) {
      skippedBody = true;
      continue;
    }
    event[field] = read.value;
  }
  if (skippedBody) {
    const annotations = isJsonObject(event.annotations) ? event.annotations : {};
    event.annotations = { ...annotations, [TRUNCATED_ANNOTATION]: 'true' };
  }
  return { kind: 'event', event };
}

/**
 * The rows of a Log Analytics Query API answer (`{"tables":[{"name","columns":[{"name","type"}],
 * "rows":[[...]]}]}`, Log Analytics REST API "Query - Execute"), as objects keyed by column name;
 * null when the value is not such an answer.
 */
export function queryApiRows(doc: unknown): unknown[] | null {
  if (!isJsonObject(doc) || !Array.isArray(doc.tables)) return null;
  const out: unknown[] = [];
  for (const table of doc.tables) {
    if (!isJsonObject(table) || !Array.isArray(table.columns) || !Array.isArray(table.rows)) return null;
    const names = table.columns.map((c) => (isJsonObject(c) && typeof c.name === 'string' ? c.name : ''));
    for (const row of table.rows) {
      if (!Array.isArray(row)) {
        out.push(row);
        continue;
      }
      const obj: JsonObject = {};
      // Defined, not assigned: a column a file names `__proto__` becomes a key, never the row's prototype.
      names.forEach((name, i) => {
        if (name !== '') setOwn(obj, name, row[i] as JsonValue);
      });
      out.push(obj);
    }
  }
  return out;
}
