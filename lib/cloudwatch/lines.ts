import { validateAuditEvent } from '../audit/index.js';
import { readAuditId } from '../ship/index.js';
import { TRUNCATED_SUFFIX } from './eks.js';

/** What one log line is: an audit event to forward as is, a line EKS cut short, or not an audit event. */
export type LineVerdict =
  | { kind: 'event' }
  | { kind: 'truncated'; auditID?: string }
  | { kind: 'invalid'; reason: string; auditID?: string };

function withId<T extends object>(verdict: T, auditID: string | undefined): T & { auditID?: string } {
  return auditID === undefined ? verdict : { ...verdict, auditID };
}

/**
 * Checks one CloudWatch Logs message: parsed once to validate it, then dropped, so the caller
 * forwards the original text. Never throws.
 */
export function checkAuditLine(message: string): LineVerdict {
  const end = message.trimEnd();
  if (end.endsWith(TRUNCATED_SUFFIX)) return withId({ kind: 'truncated' as const }, readAuditId(message));
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch (err) {
    return withId({ kind: 'invalid' as const, reason: `line is not JSON: ${(err as Error).message}` }, readAuditId(message));
  }
  const checked = validateAuditEvent(value);
  if (checked.ok) return { kind: 'event' };
  return withId({ kind: 'invalid' as const, reason: checked.reason }, checked.auditID);
}
