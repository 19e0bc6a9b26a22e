import { readAuditLine } from '../audit/parse.js';
import { salvageCutLine } from '../audit/salvage.js';
import { readAuditId } from '../ship/index.js';
import { TRUNCATED_SUFFIX } from './eks.js';

/**
 * What one log line is: an audit event to forward as is, a cut line made whole from what it still
 * holds (`salvaged`: forward `text`), a cut line with nothing usable left, or not an audit event.
 */
export type LineVerdict =
  | { kind: 'event' }
  | { kind: 'salvaged'; text: string; auditID: string; cutIn: string | null }
  | { kind: 'truncated'; auditID?: string }
  | { kind: 'invalid'; reason: string; auditID?: string };

function withId<T extends object>(verdict: T, auditID: string | undefined): T & { auditID?: string } {
  return auditID === undefined ? verdict : { ...verdict, auditID };
}

/**
 * Checks one CloudWatch Logs message: EKS's `[Truncated...]` cut first, then lib/audit's line check
 * (parsed once to validate it, then dropped, so the caller forwards the original text). Given the
 * log event's time, a line cut at CloudWatch Logs' event-size limit (with EKS's suffix or without)
 * is salvaged when its members before the cut still make an audit Event (`salvageCutLine`).
 * Never throws.
 */
export function checkAuditLine(message: string, logEventTimestampMs?: number): LineVerdict {
  const salvage = (): LineVerdict | null => {
    if (logEventTimestampMs === undefined) return null;
    let text = message.trimEnd();
    if (text.endsWith(TRUNCATED_SUFFIX)) text = text.slice(0, -TRUNCATED_SUFFIX.length);
    const s = salvageCutLine(Buffer.from(text, 'utf8'), logEventTimestampMs);
    return s === null ? null : { kind: 'salvaged', ...s };
  };
  const end = message.trimEnd();
  if (end.endsWith(TRUNCATED_SUFFIX)) return salvage() ?? withId({ kind: 'truncated' as const }, readAuditId(message));
  const read = readAuditLine(message);
  if (read.kind === 'event') return { kind: 'event' };
  if (read.kind === 'not-json') {
    return salvage() ?? withId({ kind: 'invalid' as const, reason: `line is not JSON: ${read.error}` }, readAuditId(message));
  }
  return withId({ kind: 'invalid' as const, reason: read.reason }, read.auditID);
}

/**
 * Counts and logs a line that cannot be forwarded: cut by EKS (`[Truncated...]`) or not a valid
 * audit event. Never silent: the log line carries the auditID when one could be read, and where
 * the line was (`where`: log group, stream, event id, time, length).
 */
export function reportUnforwardable(
  verdict: Exclude<LineVerdict, { kind: 'event' } | { kind: 'salvaged' }>,
  where: Record<string, unknown>,
  counts: { truncated: number; invalid: number },
  log: (entry: Record<string, unknown>) => void,
): void {
  if (verdict.kind === 'truncated') {
    counts.truncated++;
    log({
      level: 'warn',
      msg: 'audit line truncated by EKS ([Truncated...]): not forwardable, lower the audit policy level for this resource',
      auditID: verdict.auditID ?? null,
      ...where,
    });
    return;
  }
  counts.invalid++;
  log({ level: 'warn', msg: 'log line is not a valid audit event', reason: verdict.reason, auditID: verdict.auditID ?? null, ...where });
}

/**
 * Counts and logs a cut line that goes out salvaged: the operator learns which event lost its
 * tail, and the record carries `audit.k8s.io/truncated`.
 */
export function reportSalvaged(
  verdict: Extract<LineVerdict, { kind: 'salvaged' }>,
  where: Record<string, unknown>,
  counts: { salvaged: number },
  log: (entry: Record<string, unknown>) => void,
): void {
  counts.salvaged++;
  log({
    level: 'warn',
    msg: 'audit line cut at the CloudWatch Logs event-size limit: forwarded with the members before the cut, flagged audit.k8s.io/truncated; lower the audit policy level for this resource to keep it whole',
    auditID: verdict.auditID,
    cutIn: verdict.cutIn,
    ...where,
  });
}
