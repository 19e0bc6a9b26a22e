import type { AuditEvent, AuditSource, ParsedPayload, RejectedItem } from '../audit/index.js';
import {
  decodeUtf8,
  GKE_DATA_NOT_JSON,
  gkeLogEntryToAuditEvent,
  isLogAnalyticsRow,
  looksLikeAksRecords,
  parseAksRecords,
  queryApiRows,
} from '../audit/index.js';
import { isJsonObject, jsonErrorReason } from '../json.js';

/** Where one event of a cloud input came from: its cluster and the OCSF cloud fields. */
export interface CloudOrigin {
  clusterName: string | null;
  source: AuditSource;
}

/** Items passed over as the ingest passes them over: one GKE entry, or the AKS records of some categories. */
export interface SkippedItems {
  /** The item's index, for one item. */
  index?: number;
  line?: number;
  count: number;
  reason: string;
}

/** The audit events of a saved GKE or AKS input, each with its own origin, and what the input was. */
export interface CloudFileContents {
  parsed: ParsedPayload;
  /** Same length as `parsed.events`: a records body or a log export holds several clusters. */
  perEvent: CloudOrigin[];
  /** Items that are not Kubernetes audit entries (other GKE logs, other AKS categories), with their reason. */
  skipped: SkippedItems[];
  shape: string;
}

function plural(n: number, one: string): string {
  return `${n} ${one}${n === 1 ? '' : 's'}`;
}

/** A GKE LogEntry as Cloud Logging writes it: an AuditLog payload (protoPayload). */
function isLogEntry(value: unknown): boolean {
  return isJsonObject(value) && isJsonObject(value.protoPayload);
}

/** A Pub/Sub push delivery (what the GKE push route receives): `{"message":{"data":...},"subscription":...}`. */
function isPushBody(value: unknown): value is { message: { data?: unknown } } {
  return isJsonObject(value) && isJsonObject(value.message) && 'data' in value.message && 'subscription' in value;
}

/** An AKS diagnostic-settings record on its own (not in a records body): a category and properties. */
function isAksRecord(value: unknown): boolean {
  return isJsonObject(value) && typeof value.category === 'string' && isJsonObject(value.properties);
}

/**
 * The first key of a document, for a cheap look before a full parse. An AKS record's keys come in
 * no fixed order: Sysdig's AKS sample starts with operationName, a 2020 record Elastic keeps
 * (elastic/integrations, packages/azure/data_stream/platformlogs/_dev/test/pipeline/
 * test-platformlogs-kube.log) with `Cloud`, then `Environment`; the other keys are those of Azure
 * Monitor's common schema for resource logs. A document that only starts like one is still
 * checked whole (`isAksRecord`, `isLogEntry`) before it is read as one. The PascalCase names are
 * the AKSAudit table's columns (lib/audit/aks-table.ts), in any order: `az monitor log-analytics
 * query -o json` sorts them, a data export writes them as the table has them; `tables` starts a
 * Log Analytics Query API answer. An audit Event's own keys are camelCase, so none is taken for them.
 */
const CLOUD_SNIFF =
  /^\s*\[?\s*\{\s*"(?:records|protoPayload|insertId|logName|message|resource|labels|timestamp|severity|category|operationName|operationVersion|time|resourceId|tenantId|location|Level|properties|ccpNamespace|Cloud|Environment|UnderlayClass|UnderlayName|tables|Annotations|AuditId|ObjectRef|PodName|RequestObject|RequestReceivedTime|RequestUri|ResponseObject|ResponseStatus|SourceIps|SourceSystem|Stage|StageReceivedTime|TableName|TenantId|TimeGenerated|Type|User|UserAgent|Verb|_BilledSize|_IsBillable|_ResourceId|_SubscriptionId)"/;

/**
 * Reads what the ingest's GKE and AKS paths take, saved to a file: an AKS diagnostic-settings body
 * (`{"records":[...]}`, docs/aks.md); a GKE LogEntry, a Pub/Sub push delivery of one (docs/gke.md),
 * a JSON array of LogEntries (`gcloud logging read --format=json`) or JSON lines of them (what a
 * Cloud Storage log sink writes). Each entry goes through the same mapping as on the ingest, with
 * its own cluster and cloud fields. Returns null for anything else (read as audit Events then).
 * Never throws.
 */
export function readCloudFile(bytes: Uint8Array): CloudFileContents | null {
  if (looksLikeAksRecords(bytes)) return readAks(bytes);
  const text = decodeUtf8(bytes).replace(/^\uFEFF/, '');
  if (!CLOUD_SNIFF.test(text.slice(0, 512))) return null;
  let docs: { value: unknown; line?: number }[];
  let form: 'one' | 'array' | 'lines';
  try {
    const whole: unknown = JSON.parse(text);
    if (Array.isArray(whole)) {
      docs = whole.map((value) => ({ value }));
      form = 'array';
    } else {
      docs = [{ value: whole }];
      form = 'one';
    }
  } catch {
    docs = [];
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = (lines[i] as string).trim();
      if (line === '') continue;
      try {
        docs.push({ value: JSON.parse(line), line: i + 1 });
      } catch (err) {
        // Only JSON lines whose first document is a GKE entry are read here; the rest is the audit parser's.
        if (docs.length === 0) return null;
        docs.push({ value: { notJson: jsonErrorReason(err) }, line: i + 1 });
      }
    }
    form = 'lines';
  }
  // A Log Analytics Query API answer: its rows, as the array `az ... query -o json` would print.
  const apiRows = form === 'one' ? queryApiRows(docs[0]?.value) : null;
  if (apiRows !== null)
    return readAksRecordDocs(
      apiRows.map((value) => ({ value })),
      'array',
      'query',
    );
  const first = docs[0]?.value;
  // Records one per line, without the records body: how a diagnostic setting archives them to a
  // storage account (Azure Monitor resource logs, "Send to Azure Storage": PT1H.json blobs, a
  // record a line), or one record saved alone. Read as the records body they came in.
  if (isAksRecord(first)) return readAksRecordDocs(docs, form, 'record');
  // AKSAudit rows: a storage account's data export (PT05M.json, a row a line), `az monitor
  // log-analytics query -o json` (an array of rows), or one row. Read as the records body a data
  // export to Event Hubs sends them in.
  if (isLogAnalyticsRow(first)) return readAksRecordDocs(docs, form, 'row');
  if (!isLogEntry(first) && !isPushBody(first)) return null;

  const out: CloudFileContents = {
    parsed: { form: 'array', events: [], indexes: [], rejected: [], itemCount: docs.length },
    perEvent: [],
    skipped: [],
    shape: '',
  };
  docs.forEach(({ value, line }, index) => {
    const at = line === undefined ? {} : { line };
    let entry: unknown = value;
    if (isJsonObject(value) && typeof value.notJson === 'string' && Object.keys(value).length === 1) {
      out.parsed.rejected.push({ index, ...at, reason: `line is not JSON: ${value.notJson}` });
      return;
    }
    if (isPushBody(value)) {
      const data = value.message.data;
      if (typeof data !== 'string' || data === '') {
        out.skipped.push({ index, ...at, count: 1, reason: 'the push delivery has no message data' });
        return;
      }
      const decoded = Buffer.from(data, 'base64').toString('utf8');
      try {
        entry = JSON.parse(decoded);
      } catch (err) {
        out.parsed.rejected.push({ index, ...at, reason: `${GKE_DATA_NOT_JSON}: ${jsonErrorReason(err)}` });
        return;
      }
    }
    const converted = gkeLogEntryToAuditEvent(entry);
    if (converted.kind === 'skipped') {
      out.skipped.push({ index, ...at, count: 1, reason: converted.reason });
      return;
    }
    if (converted.kind === 'rejected') {
      const item: RejectedItem = { index, ...at, reason: converted.reason, item: entry };
      if (converted.auditID !== undefined) item.auditID = converted.auditID;
      out.parsed.rejected.push(item);
      return;
    }
    out.parsed.events.push(converted.event as AuditEvent);
    out.parsed.indexes.push(index);
    out.perEvent.push({ clusterName: converted.origin.clusterName, source: converted.origin.source });
  });
  const what = form === 'one' ? (isPushBody(first) ? 'a Pub/Sub push delivery of a GKE LogEntry' : 'a GKE LogEntry') : '';
  out.shape =
    form === 'one'
      ? what
      : form === 'array'
        ? `a JSON array of GKE LogEntries (${plural(docs.length, 'item')})`
        : `JSON lines of GKE LogEntries (${plural(docs.length, 'item')})`;
  return out;
}

/** An AKS diagnostic-settings body, read as the ingest reads it (lib/audit/aks.ts). */
function readAks(bytes: Uint8Array): CloudFileContents | null {
  const aks = parseAksRecords(bytes);
  // Not JSON after all, or records not an array: the audit parser says what it is.
  if (typeof aks === 'string') return null;
  return {
    parsed: {
      form: 'array',
      events: aks.events.map((e) => e.event),
      indexes: aks.events.map((e) => e.index),
      rejected: aks.rejected,
      itemCount: aks.itemCount,
    },
    perEvent: aks.events.map((e) => ({ clusterName: e.clusterName, source: e.source })),
    // parseAksRecords keeps one reason per category (klog text, not events); the count is the whole.
    skipped: aks.skipped === 0 ? [] : [{ count: aks.skipped, reason: aks.skippedReasons.join('; ') }],
    shape: `an AKS diagnostic-settings body (${plural(aks.itemCount, 'record')})`,
  };
}

/** The stand-in for a JSON line that did not parse, as readCloudFile makes it. */
function notJsonReason(value: unknown): string | null {
  return isJsonObject(value) && typeof value.notJson === 'string' && Object.keys(value).length === 1 ? value.notJson : null;
}

/** AKS records that came one per line (or alone), read as one records body, each kept at its line. */
function readAksRecordDocs(
  docs: { value: unknown; line?: number }[],
  form: 'one' | 'array' | 'lines',
  what: 'record' | 'row' | 'query',
): CloudFileContents | null {
  // A line that is not JSON goes in as null (parseAksRecords rejects it), then is named for what it was.
  const records = docs.map((d) => (notJsonReason(d.value) === null ? d.value : null));
  const read = readAks(Buffer.from(JSON.stringify({ records }), 'utf8'));
  if (read === null) return null;
  read.parsed.rejected = read.parsed.rejected.map((r) => {
    const line = docs[r.index]?.line;
    const notJson = notJsonReason(docs[r.index]?.value);
    return { ...r, ...(line === undefined ? {} : { line }), ...(notJson === null ? {} : { reason: `line is not JSON: ${notJson}` }) };
  });
  const n = docs.length;
  if (what === 'query') {
    read.shape = `a Log Analytics Query API answer (${plural(n, 'row')})`;
    return read;
  }
  const one = what === 'record' ? 'an AKS diagnostic-settings record' : 'a Log Analytics row (AKSAudit)';
  const many = what === 'record' ? `AKS diagnostic-settings records (${plural(n, 'record')})` : `Log Analytics rows (${plural(n, 'row')})`;
  read.shape = form === 'one' ? one : form === 'array' ? `a JSON array of ${many}` : `JSON lines of ${many}`;
  return read;
}
