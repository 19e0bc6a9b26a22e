import { isJsonObject } from '../json.js';
import { limitDepth } from './depth.js';
import { decideSeverity, severityInputOf } from './detect.js';
import { nonEmpty, readResponseCode } from './fields.js';
import { canonicalJson, canonicalJsonWhole, dedupKey, sha256Hex } from './identity.js';
import { ocsfSeverity, toOcsfApiActivity } from './ocsf.js';
import { mayHoldJwt, redactEventBounded, scrubJwts } from './redact.js';
import { withReusedAuditId } from './severity.js';
import { parseAuditTimestamp } from './time.js';
import type { AuditEvent, JsonValue, NormaliseContext, NormalisedRecord } from './types.js';

const DECISION = 'authorization.k8s.io/decision';
const REASON = 'authorization.k8s.io/reason';

function str(value: JsonValue | undefined): string | null {
  return typeof value === 'string' ? value : null;
}

/**
 * The stage time of a legacy event (one with `timestamp`): its `metadata.creationTimestamp`, where
 * audit.k8s.io/v1beta1 carries stageTimestamp; null for any other event.
 */
function legacyStageTime(event: AuditEvent): number | null {
  if (event.timestamp === undefined) return null;
  const meta = event.metadata;
  return typeof meta === 'object' && meta !== null
    ? parseAuditTimestamp((meta as { creationTimestamp?: unknown }).creationTimestamp)
    : null;
}

function toIso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * The event as the record keeps it, and its content digest (lib/audit/identity.ts): the bodies'
 * credentials and the request URI's query credentials redacted (`redactEventBounded`), then the
 * signature of any JWT elsewhere. The event itself when neither
 * changed anything. The JWT walk runs only when the canonical text the digest needs anyway holds
 * the text every JWT holds (`mayHoldJwt`), so it costs an event without one two substring searches.
 */
function recordedEvent(input: AuditEvent): { event: AuditEvent; digest: string; cut: boolean } {
  const ref = isJsonObject(input.objectRef) ? input.objectRef : {};
  const redacted = redactEventBounded(input, { resource: nonEmpty(ref.resource), subresource: nonEmpty(ref.subresource) });
  let event = redacted.event;
  let cut = redacted.cut;
  let whole = canonicalJsonWhole(event);
  let canonical = whole ?? canonicalJson(event);
  if (mayHoldJwt(canonical)) {
    const scrubbed = scrubJwts(event);
    if (scrubbed.event !== event) {
      event = scrubbed.event;
      cut ||= scrubbed.cut;
      whole = canonicalJsonWhole(event);
      canonical = whole ?? canonicalJson(event);
    }
  }
  if (whole !== null && !cut) RECORDED_TEXT.set(event, whole);
  return { event, digest: sha256Hex(canonical), cut };
}

/**
 * The JSON text of each recorded event (a record's `raw_event`), written once for its digest:
 * the record's writers use it instead of writing the event again. It is the event as parsed and
 * redacted, never the source text: a source can hold what the parsed event does not (a key given
 * twice, whose first value JSON.parse drops: a Secret's data hidden before a second
 * `responseObject`), and the stored bytes must be exactly what was analysed and redacted.
 */
const RECORDED_TEXT = new WeakMap<AuditEvent, string>();

/** The JSON text of a record's `raw_event`, when the normaliser wrote it (keys sorted); else undefined. */
export function recordedText(rawEvent: AuditEvent): string | undefined {
  return RECORDED_TEXT.get(rawEvent);
}

/**
 * Normalises one validated audit event: the connector documentation's flat fields, a severity (the connector documentation's table,
 * refined, raised by the detection rules that fire; `ctx.detection`), a dedup key and an OCSF 1.8.0 API Activity record. Secret values are redacted in
 * `raw_event` and `ocsf`, and JWT signatures in every field; the input object is never mutated. Never throws on a validated event.
 */
export function normaliseAuditEvent(input: AuditEvent, ctx: NormaliseContext): NormalisedRecord {
  // Every field is read from the event as the record keeps it: a JWT's signature scrubbed from the
  // raw event is scrubbed from the flat fields and the OCSF record too (a requestURI query).
  const { event, digest, cut } = recordedEvent(input);
  const ref = event.objectRef ?? {};
  const user = event.user ?? {};
  const annotations = isJsonObject(event.annotations) ? event.annotations : {};
  const verb = nonEmpty(event.verb);
  const resource = nonEmpty(ref.resource);
  const subresource = nonEmpty(ref.subresource);
  const namespace = nonEmpty(ref.namespace);
  const stage = nonEmpty(event.stage);
  const rs = event.responseStatus;
  const responseCode = isJsonObject(rs) ? readResponseCode(rs.code) : null;
  const impersonatedUser = str(event.impersonatedUser?.username);
  const sourceIps = Array.isArray(event.sourceIPs) ? event.sourceIPs : [];
  const groups = Array.isArray(user.groups) ? user.groups : [];

  const { requestObject, responseObject } = event;

  let objectName = nonEmpty(ref.name);
  if (objectName === null && isJsonObject(event.responseObject)) {
    // create with generateName: the name exists only in the response (as Panther reads it).
    const meta = event.responseObject.metadata;
    if (isJsonObject(meta)) objectName = nonEmpty(meta.name);
  }

  // An audit.k8s.io/v1beta1 (and v1alpha1) event has no requestReceivedTimestamp or stageTimestamp:
  // kube-apiserver writes the request's receipt as `timestamp` and the stage's time as
  // `metadata.creationTimestamp` (kubernetes/kubernetes
  // staging/src/k8s.io/apiserver/pkg/apis/audit/v1beta1/conversion.go, Convert_audit_Event_To_v1beta1_Event).
  // Read only when the newer field is absent, so a v1 event costs no more parsing.
  const received = parseAuditTimestamp(event.requestReceivedTimestamp) ?? parseAuditTimestamp(event.timestamp);
  const staged = parseAuditTimestamp(event.stageTimestamp) ?? legacyStageTime(event);
  const eventMs = received ?? staged;
  const timeSource = eventMs === null ? 'received' : 'event';
  const eventTime = eventMs ?? ctx.receivedAt;

  const k8sUser = str(user.username);
  const severityInput = severityInputOf(event, ctx.auditIdReused === true);
  // Rules see the event as the record keeps it: a rule can never read a secret value.
  const decided = decideSeverity(event, severityInput, k8sUser, ctx.detection, ctx.ruleErrors);
  // A reused auditID is named whatever the table, its refinements or a rule decided (at least medium).
  const { severity, reason: severityReason } = ctx.auditIdReused === true ? withReusedAuditId(decided) : decided;
  const { ruleIds } = decided;
  // The identity is the stored (redacted) event's content: see lib/audit/identity.ts.
  const key = dedupKey(ctx.tenantId, ctx.clusterName, event.auditID, stage, digest);
  const apiGroup = str(ref.apiGroup);
  const decision = str(annotations[DECISION]);
  const reason = str(annotations[REASON]);
  const userAgent = str(event.userAgent);
  const requestUri = str(event.requestURI);

  const ocsf = toOcsfApiActivity({
    event,
    tenantId: ctx.tenantId,
    clusterName: ctx.clusterName,
    dedupKey: key,
    verb,
    user: k8sUser,
    groups,
    resource,
    subresource,
    namespace,
    objectName,
    apiGroup,
    responseCode,
    decision,
    reason,
    sourceIps,
    userAgent,
    requestUri,
    severity,
    time: staged ?? eventTime,
    startTime: received,
    timeSource,
    requestObject: ctx.ocsfBodies === true ? requestObject : undefined,
    responseObject: ctx.ocsfBodies === true ? responseObject : undefined,
    source: ctx.source,
  });

  const record: NormalisedRecord = {
    tenant_id: ctx.tenantId,
    cluster_name: ctx.clusterName,
    audit_id: event.auditID,
    k8s_stage: stage,
    event_time: toIso(eventTime),
    k8s_user: k8sUser,
    k8s_user_groups: groups,
    k8s_impersonated_user: impersonatedUser,
    k8s_verb: verb,
    k8s_api_group: apiGroup,
    k8s_resource: resource,
    k8s_subresource: subresource,
    k8s_namespace: namespace,
    k8s_object_name: objectName,
    k8s_response_code: responseCode,
    k8s_decision: decision,
    k8s_reason: reason,
    src_ip: sourceIps[0] ?? null,
    source_ips: sourceIps,
    k8s_user_agent: userAgent,
    request_uri: requestUri,
    severity,
    severity_reason: severityReason,
    rule_ids: ruleIds,
    dedup_key: key,
    raw_event: event,
    ocsf,
  };
  // The JWT walk cut an event nested too deep for it: flagged as serialising it would have.
  return cut ? cutDeepRecord(record) : record;
}

/**
 * The record flagged as the later of two different events in one auditID and stage: severity at
 * least medium, `severity_reason` `reused-audit-id`, in the flat fields and the OCSF record alike.
 * The same as normalising with `auditIdReused` set; returns a copy.
 */
export function flagReusedAuditId(record: NormalisedRecord): NormalisedRecord {
  if (record.severity_reason === 'reused-audit-id') return record;
  const { severity, reason } = withReusedAuditId({ severity: record.severity, reason: record.severity_reason });
  const [severityId, severityName] = ocsfSeverity(severity);
  return { ...record, severity, severity_reason: reason, ocsf: { ...record.ocsf, severity_id: severityId, severity: severityName } };
}

const RAW_MARKER = ',"raw_event":0,"ocsf":';

/**
 * Serialises a record as one JSON line. `raw_event` is the text the normaliser wrote for the
 * event's digest (`recordedText`: keys sorted, no whitespace), not written a second time.
 */
export function serialiseRecord(record: NormalisedRecord): string {
  try {
    return serialiseFast(record);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return JSON.stringify(cutDeepRecord(record));
  }
}

/**
 * The raw events `cutDeepRecord` made. `ocsf.metadata.is_truncated` cannot say "cut for depth":
 * it is also set for an event that arrived truncated (the audit.k8s.io/truncated annotation),
 * which is whole as the record keeps it and normalises again to the same record.
 */
const CUT_FOR_DEPTH = new WeakSet<AuditEvent>();

/** Whether the record's raw event is one `cutDeepRecord` cut: normalising it again would not give the record back. */
export function isCutForDepth(record: NormalisedRecord): boolean {
  return CUT_FOR_DEPTH.has(record.raw_event);
}

/**
 * A record whose event nests too deep to serialise (JSON.stringify overflows the stack), with the
 * deep parts cut and the cut flagged in `ocsf.metadata.is_truncated`: kept, never lost.
 */
export function cutDeepRecord(record: NormalisedRecord): NormalisedRecord {
  const raw = limitDepth(record.raw_event);
  CUT_FOR_DEPTH.add(raw.value as AuditEvent);
  const ocsf = limitDepth(record.ocsf);
  const cutOcsf = ocsf.value as NormalisedRecord['ocsf'];
  const metadata = cutOcsf.metadata;
  if (isJsonObject(metadata)) {
    cutOcsf.metadata = { ...metadata, is_truncated: true };
  }
  return { ...record, raw_event: raw.value as AuditEvent, ocsf: cutOcsf };
}

function serialiseFast(record: NormalisedRecord): string {
  const raw = recordedText(record.raw_event);
  if (raw === undefined) return JSON.stringify(record);
  const json = JSON.stringify({ ...record, raw_event: 0 });
  // Every value before raw_event is a flat field whose quotes JSON escapes, so the first match of
  // the marker is the raw_event key itself.
  const at = json.indexOf(RAW_MARKER);
  if (at === -1) return JSON.stringify(record);
  return `${json.slice(0, at)},"raw_event":${raw},"ocsf":${json.slice(at + RAW_MARKER.length)}`;
}
