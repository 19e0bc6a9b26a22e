import { isJsonObject } from '../json.js';
import { TRUNCATED_ANNOTATION } from './fields.js';
import { CLOSE_OBJECT, COLON, COMMA, OPEN_OBJECT, QUOTE, skipString, skipValue, skipWs } from './json-bytes.js';
import { validateAuditEvent } from './parse.js';
import { scrubJwtText } from './redact.js';

/** A cut audit line made whole again from the members it still holds. */
export interface SalvagedLine {
  /** The event as JSON: the complete members before the cut, flagged truncated. */
  text: string;
  /** For the log line: a JWT's signature in it scrubbed, as validateAuditEvent echoes an auditID. */
  auditID: string;
  /** The member the cut went through (null when it fell between members). */
  cutIn: string | null;
}

/**
 * What is left of an audit line that was cut, given as the bytes that arrived: the top-level
 * members that arrived whole, as an Event the ingest can normalise and score, instead of nothing.
 * Lines are cut in two places: at CloudWatch Logs' event-size limit (the forwarder; EKS appends
 * `[Truncated...]`, falcosecurity/plugins#297, which the caller strips first) and at the tailer's
 * per-poll read cap (a line longer than `AISOC_TAIL_MAX_BYTES`: a RequestResponse `list` carries
 * the whole list in responseObject, and the apiserver's log backend does not truncate by default,
 * `--audit-log-truncate-enabled=false`). kube-apiserver writes the metadata first (kind, level,
 * auditID, stage, requestURI, verb, user, sourceIPs, userAgent, objectRef, responseStatus;
 * k8s.io/apiserver/pkg/apis/audit Event's field order) and the bodies after, so the cut nearly
 * always falls in requestObject or responseObject and who did what to which object survives.
 * The timestamps and annotations come last: a missing `requestReceivedTimestamp`/`stageTimestamp`
 * is taken from `receivedAtMs` when there is one (the log event's time in CloudWatch Logs, within
 * moments of the stage); without it they stay missing and the ingest stamps the time it received
 * the event. It must be the same on every resend of the line, or a resend is another event. The
 * event is flagged
 * with `audit.k8s.io/truncated: "true"` as the apiserver flags one it shrank. Reads only `bytes`
 * (never past them); trailing whitespace is ignored. Null when they are not a cut JSON object or
 * what is left has no auditID.
 */
export function salvageCutLine(bytes: Buffer, receivedAtMs: number | null): SalvagedLine | null {
  let last = bytes.length;
  while (last > 0 && isTrailingSpace(bytes[last - 1] as number)) last--;
  const buf = last === bytes.length ? bytes : bytes.subarray(0, last);
  let pos = skipWs(buf, 0);
  if (buf[pos] !== OPEN_OBJECT) return null;
  pos++;
  const event: Record<string, unknown> = {};
  let cutIn: string | null = null;
  for (;;) {
    pos = skipWs(buf, pos);
    if (pos >= buf.length) break;
    // A complete object is not a cut line: the caller's JSON check already said what is wrong.
    if (buf[pos] !== QUOTE) return null;
    const keyEnd = skipString(buf, pos);
    if (keyEnd === -1) break;
    const key = JSON.parse(buf.toString('utf8', pos, keyEnd)) as string;
    pos = skipWs(buf, keyEnd);
    if (pos >= buf.length) {
      cutIn = key;
      break;
    }
    if (buf[pos] !== COLON) return null;
    const start = skipWs(buf, pos + 1);
    const end = start >= buf.length ? -1 : skipValue(buf, start);
    let value: unknown;
    try {
      if (end === -1 || end >= buf.length) throw new Error('cut');
      value = JSON.parse(buf.toString('utf8', start, end));
    } catch {
      // Cut inside this member's value (a scalar at the very end may be cut too: `tru`), or text
      // that is not JSON at all before the end: only the former is a cut line.
      if (end !== -1 && end < buf.length) return null;
      cutIn = key;
      break;
    }
    // As JSON.parse keeps it: an own member, even one named __proto__ (assigning that name would
    // set the object's prototype, and a member given there would be read but never sent).
    Object.defineProperty(event, key, { value, enumerable: true, writable: true, configurable: true });
    pos = skipWs(buf, end);
    if (pos >= buf.length) break;
    // Whole after all (the suffix on a line that just fit): the event, flagged as EKS flagged it.
    if (buf[pos] === CLOSE_OBJECT && skipWs(buf, pos + 1) >= buf.length) break;
    if (buf[pos] !== COMMA) return null;
    pos++;
  }
  const stamp = new Date(receivedAtMs ?? Number.NaN);
  if (!Number.isNaN(stamp.getTime())) {
    event.requestReceivedTimestamp ??= stamp.toISOString();
    event.stageTimestamp ??= stamp.toISOString();
  }
  event.annotations = { ...(isJsonObject(event.annotations) ? event.annotations : {}), [TRUNCATED_ANNOTATION]: 'true' };
  const checked = validateAuditEvent(event);
  if (!checked.ok) return null;
  // Both go into a log line: the auditID without a JWT's signature (as validateAuditEvent echoes
  // it), the member name only when it is a plain name (every Event member is one).
  return {
    text: JSON.stringify(event),
    auditID: scrubJwtText(event.auditID as string),
    cutIn: cutIn !== null && !/^[A-Za-z]{1,40}$/.test(cutIn) ? '(other)' : cutIn,
  };
}

/** The whitespace `String.prototype.trimEnd` drops that can end UTF-8 JSON text in ASCII: space, tab, CR, LF, VT, FF. */
function isTrailingSpace(b: number): boolean {
  return b === 0x20 || (b >= 0x09 && b <= 0x0d);
}
