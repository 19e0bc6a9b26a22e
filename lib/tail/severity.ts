import type { AuditEvent, Detection, JsonValue } from '../audit/index.js';
import { decideSeverity, readResponseCode, redactEvent } from '../audit/index.js';

function nonEmpty(value: JsonValue | undefined): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/**
 * True when the event's severity is high (the table, its refinements and the rule pack, as
 * `normaliseAuditEvent` decides it). Reads the same inputs, so the tailer normalises only the
 * events it returns as alerts instead of every line of an 8 MiB poll.
 */
export function isHighSeverity(event: AuditEvent, detection?: Detection): boolean {
  const ref = event.objectRef ?? {};
  const rs = event.responseStatus;
  const impersonated = event.impersonatedUser;
  const resource = nonEmpty(ref.resource);
  // Rules see what the record keeps: secret bodies redacted (normaliseAuditEvent does the same).
  const redacted = redactEvent(event, { resource, subresource: nonEmpty(ref.subresource) });
  return (
    decideSeverity(
      redacted,
      {
        verb: nonEmpty(event.verb),
        resource,
        subresource: nonEmpty(ref.subresource),
        namespace: nonEmpty(ref.namespace),
        responseCode: typeof rs === 'object' && rs !== null && !Array.isArray(rs) ? readResponseCode(rs.code) : null,
        impersonated: typeof impersonated === 'object' && impersonated !== null,
      },
      nonEmpty(event.user?.username),
      detection,
    ).severity === 'high'
  );
}
