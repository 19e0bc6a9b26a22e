import { isJsonObject } from '../json.js';
import { shippedRules } from '../rules/shipped.js';
import { nonEmpty, readResponseCode } from './fields.js';
import { redactEvent, scrubJwts } from './redact.js';
import { classifySeverity, highestSeverity, refineSeverity, type SeverityInput, type SeverityResult } from './severity.js';
import type { AuditEvent, Detection } from './types.js';

/** A decided severity and the ids of the rules that fired (shared, frozen, when none did). */
export interface DetectionResult extends SeverityResult {
  ruleIds: string[];
}

const NO_RULES: string[] = Object.freeze([]) as unknown as string[];

let defaultDetection: Detection | undefined;

/** The default: the refined table and the shipped rule pack (compiled when the first event needs it). */
export function shippedDetection(): Detection {
  defaultDetection ??= {
    severity: 'default',
    rules: { match: (event) => shippedRules().match(event), describe: (id) => shippedRules().describe(id) },
  };
  return defaultDetection;
}

/**
 * The final severity of an event: the spec's table (alone with `severity: 'spec'`), else the
 * table with its routine refinements, raised to the highest rule that fires. Rules see the event
 * as the record keeps it (secret values redacted; pod specs and other bodies as sent).
 */
export function decideSeverity(event: AuditEvent, input: SeverityInput, user: string | null, detection?: Detection): DetectionResult {
  const table = classifySeverity(input);
  const d = detection ?? shippedDetection();
  if (d.severity === 'spec') return { ...table, ruleIds: NO_RULES };
  const refined = refineSeverity(input, user, table, d.rules?.routine);
  const fired = d.rules === null ? NO_RULES_FIRED : d.rules.match(event);
  if (fired.length === 0) return { ...refined, ruleIds: NO_RULES };
  const decided = highestSeverity(
    refined,
    fired.map((r) => ({ severity: r.severity, reason: `rule:${r.id}` as const })),
  );
  return { ...decided, ruleIds: fired.map((r) => r.id) };
}

const NO_RULES_FIRED: readonly { id: string; severity: never }[] = [];

/** A CSR body's `spec.signerName`: null when the body has none, undefined when there is no body. */
function csrSignerOf(body: unknown): string | null | undefined {
  if (!isJsonObject(body)) return undefined;
  const spec = body.spec;
  return isJsonObject(spec) && typeof spec.signerName === 'string' ? spec.signerName : null;
}

/**
 * The severity table's inputs read out of an event: the one reading, shared by the normaliser and
 * the tailer's alert check, so the alert path cannot drift from the records.
 */
export function severityInputOf(event: AuditEvent, auditIdReused = false): SeverityInput {
  const ref = event.objectRef ?? {};
  const rs = event.responseStatus;
  return {
    verb: nonEmpty(event.verb),
    resource: nonEmpty(ref.resource),
    subresource: nonEmpty(ref.subresource),
    namespace: nonEmpty(ref.namespace),
    responseCode: isJsonObject(rs) ? readResponseCode(rs.code) : null,
    impersonated: typeof event.impersonatedUser === 'object' && event.impersonatedUser !== null,
    // Always present (one object shape per event); read only for a CSR.
    csrSigner: ref.resource === 'certificatesigningrequests' ? csrSignerOf(event.requestObject) : undefined,
    auditIdReused,
  };
}

/**
 * An event's severity as `normaliseAuditEvent` decides it, without building the record: the same
 * inputs, rules run on the same redacted event. For callers that normalise only what is high.
 */
export function decideEventSeverity(event: AuditEvent, detection?: Detection): DetectionResult {
  const input = severityInputOf(event);
  // The event as normaliseAuditEvent keeps it: bodies' credentials and JWT signatures redacted.
  const redacted = scrubJwts(redactEvent(event, { resource: input.resource, subresource: input.subresource })).event;
  const user = event.user?.username;
  return decideSeverity(redacted, input, typeof user === 'string' ? user : null, detection);
}
