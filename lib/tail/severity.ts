import type { AuditEvent, JsonValue } from '../audit/index.js';
import { classifySeverity, readResponseCode } from '../audit/index.js';

function nonEmpty(value: JsonValue | undefined): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/**
 * True when the seed's severity table puts the event in the high band. Reads the same inputs
 * as `normaliseAuditEvent`, so the tailer normalises only the events it returns as alerts
 * instead of every line of an 8 MiB poll.
 */
export function isHighSeverity(event: AuditEvent): boolean {
  const ref = event.objectRef ?? {};
  const rs = event.responseStatus;
  const impersonated = event.impersonatedUser;
  return (
    classifySeverity({
      verb: nonEmpty(event.verb),
      resource: nonEmpty(ref.resource),
      subresource: nonEmpty(ref.subresource),
      namespace: nonEmpty(ref.namespace),
      responseCode: typeof rs === 'object' && rs !== null && !Array.isArray(rs) ? readResponseCode(rs.code) : null,
      impersonated: typeof impersonated === 'object' && impersonated !== null,
    }).severity === 'high'
  );
}
