import type { AuditEvent, JsonValue } from './types.js';

/**
 * The annotation kube-apiserver's truncate backend (k8s.io/apiserver/plugin/pkg/audit/truncate)
 * sets on an event it shrank. Every event this project makes smaller says the same, so a consumer
 * has one flag to read for "this event is incomplete": a record shrunk to fit a sink, and a line
 * cut at the CloudWatch Logs event-size limit.
 */
export const TRUNCATED_ANNOTATION = 'audit.k8s.io/truncated';

/** Non-empty string or null: an empty namespace or subresource means "none" in audit events. */
export function nonEmpty(value: JsonValue | undefined): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/** `responseStatus.code` as an integer: numbers and numeric strings ("201") are read, junk is null. */
export function readResponseCode(value: JsonValue | undefined): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : null;
  if (typeof value === 'string' && /^\s*\d{1,6}\s*$/.test(value)) return Number(value);
  return null;
}

/**
 * The event without `requestObject` and `responseObject`, flagged `TRUNCATED_ANNOTATION`: what the
 * apiserver's truncating backend sends for an event over its size limit (k8s.io/apiserver
 * plugin/pkg/audit/truncate), keeping who did what to which object. Used wherever an event is too
 * large to be taken whole: a record shrunk to fit a sink, an event the tailer cannot deliver whole.
 */
export function withoutBodies(event: AuditEvent): AuditEvent {
  const { requestObject: _request, responseObject: _response, ...rest } = event;
  const annotations =
    typeof event.annotations === 'object' && event.annotations !== null && !Array.isArray(event.annotations) ? event.annotations : {};
  return { ...rest, annotations: { ...annotations, [TRUNCATED_ANNOTATION]: 'true' } } as AuditEvent;
}
