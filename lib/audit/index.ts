/** The shared normaliser: parsing, normalising, severity, OCSF and redaction. Pure: no I/O. */

export type { AksEvent, AksRecords } from './aks.js';
export { AKS_AUDIT_CATEGORIES, aksClusterOf, looksLikeAksRecords, parseAksRecords } from './aks.js';
export { AKS_AUDIT_TABLES, isLogAnalyticsRow, queryApiRows, SKIPPED_TOO_BIG } from './aks-table.js';
export { DEPTH_MARKER, limitDepth, MAX_RECORD_DEPTH } from './depth.js';
export type { DetectionResult } from './detect.js';
export { decideEventSeverity, decideSeverity, severityInputOf, shippedDetection } from './detect.js';
export { nonEmpty, readResponseCode, TRUNCATED_ANNOTATION, withoutBodies } from './fields.js';
export type { RuleInfo, RuleLookup } from './finding.js';
export { toDetectionFinding } from './finding.js';
export type { GkeConversion, GkeEntryOrigin } from './gke.js';
export { GKE_DATA_NOT_JSON, GKE_LOG_ANNOTATION, gkeLogEntryToAuditEvent, gkeObjectRef } from './gke.js';
export { alertKey, auditIdSlot, canonicalJson, contentDigest, dedupKey, recordSlot, sha256Hex } from './identity.js';
export { canonicalIp } from './ip.js';
export type { LegacyLine, LegacyText } from './legacy.js';
export { looksLikeLegacyLine, NEITHER_JSON_NOR_LEGACY, readLegacyLine, readLegacyText, requestInfo } from './legacy.js';
export { cutDeepRecord, flagReusedAuditId, isCutForDepth, normaliseAuditEvent, recordedText, serialiseRecord } from './normalise.js';
export { activityIdForVerb, OCSF_VERSION, toOcsfApiActivity } from './ocsf.js';
export type { AuditLineCheck, ValidationResult } from './parse.js';
export { decodeUtf8, parseAuditPayload, readAuditLine, validateAuditEvent } from './parse.js';
export type { BodyTarget } from './redact.js';
export { REDACTED, redactBody, redactEvent, redactRejectedItem, scrubJwtText } from './redact.js';
export type { SalvagedLine } from './salvage.js';
export { salvageCutLine } from './salvage.js';
export type { SeverityInput, SeverityResult } from './severity.js';
export { classifySeverity, highestSeverity, refineSeverity, withReusedAuditId } from './severity.js';
export { parseAuditTimestamp } from './time.js';
export type * from './types.js';
