import { isAscii, isUtf8 } from 'node:buffer';
import { isJsonObject, jsonErrorReason } from '../json.js';
import { GKE_PREFIX } from '../protocol.js';
import { eventListLayout } from './items.js';
import { scrubJwtText } from './redact.js';
import type { AuditEvent, JsonValue, ParsedPayload, PayloadForm, RejectedItem } from './types.js';

/** Result of checking one candidate item. */
export type ValidationResult = { ok: true; event: AuditEvent } | { ok: false; reason: string; auditID?: string };

const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: false });

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function checkOptionalString(obj: Record<string, JsonValue>, key: string, path: string): string | null {
  const v = obj[key];
  if (v === undefined || v === null || typeof v === 'string') return null;
  return `${path} must be a string, got ${typeName(v)}`;
}

function checkStringArray(value: JsonValue | undefined, path: string): string | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value)) return `${path} must be an array of strings, got ${typeName(value)}`;
  for (let i = 0; i < value.length; i++) {
    if (typeof value[i] !== 'string') return `${path}[${i}] must be a string, got ${typeName(value[i])}`;
  }
  return null;
}

function checkUser(value: JsonValue | undefined, path: string): string | null {
  if (value === undefined || value === null) return null;
  if (!isJsonObject(value)) return `${path} must be an object, got ${typeName(value)}`;
  return (
    checkOptionalString(value, 'username', `${path}.username`) ??
    checkOptionalString(value, 'uid', `${path}.uid`) ??
    checkStringArray(value.groups, `${path}.groups`) ??
    (value.extra !== undefined && value.extra !== null && !isJsonObject(value.extra)
      ? `${path}.extra must be an object, got ${typeName(value.extra)}`
      : null)
  );
}

const OBJECT_REF_STRING_FIELDS = [
  'resource',
  'subresource',
  'namespace',
  'name',
  'uid',
  'apiGroup',
  'apiVersion',
  'resourceVersion',
] as const;

/**
 * Checks that a value is a usable audit Event: an object with an `auditID`, and the fields the
 * normaliser reads (verb, user, objectRef, sourceIPs, ...) of the right JSON type. Returns the
 * value typed, or the reason it cannot be used. Never throws.
 */
export function validateAuditEvent(value: unknown): ValidationResult {
  if (!isJsonObject(value)) return { ok: false, reason: `item is not a JSON object (got ${typeName(value)})` };
  const rawId = value.auditID;
  // Echoed in the item's error (the answer, a log line, the rejects table): a token sent as the
  // auditID loses its signature there as it does in the record.
  const auditID = typeof rawId === 'string' && rawId.length > 0 ? scrubJwtText(rawId) : undefined;
  const fail = (reason: string): ValidationResult => (auditID === undefined ? { ok: false, reason } : { ok: false, reason, auditID });

  // Envelopes of other clouds' audit pipelines: say what they are, and the path that reads them
  // (docs/gke.md, docs/aks.md), instead of "no auditID". A GKE customer cannot export the
  // apiserver's own log: the push route is the way in.
  if ('protoPayload' in value) {
    return fail(
      `item is a GKE Cloud Audit Logs entry (protoPayload), not a Kubernetes audit Event; GKE entries go to POST ${GKE_PREFIX}<tenant_id> through a Pub/Sub push subscription`,
    );
  }
  if (isJsonObject(value.properties) && 'log' in value.properties) {
    return fail(
      'item is an AKS diagnostic log record (properties.log), not a Kubernetes audit Event; send the diagnostic setting\'s body as it is ({"records":[...]}), or the Event in properties.log',
    );
  }
  const kind = value.kind;
  if (kind !== undefined && kind !== 'Event') {
    return fail(`kind must be "Event", got ${typeof kind === 'string' ? JSON.stringify(kind) : typeName(kind)}`);
  }
  const apiVersion = value.apiVersion;
  if (apiVersion !== undefined && apiVersion !== null) {
    if (typeof apiVersion !== 'string') return fail(`apiVersion must be a string, got ${typeName(apiVersion)}`);
    if (!apiVersion.startsWith('audit.k8s.io/')) {
      return fail(`apiVersion ${JSON.stringify(apiVersion)} is not an audit.k8s.io version`);
    }
  }
  if (rawId === undefined || rawId === null) return fail('item has no auditID');
  if (typeof rawId !== 'string') return fail(`auditID must be a string, got ${typeName(rawId)}`);
  if (rawId.length === 0) return fail('auditID is empty');

  const problem =
    checkOptionalString(value, 'verb', 'verb') ??
    checkOptionalString(value, 'stage', 'stage') ??
    checkUser(value.user, 'user') ??
    checkUser(value.impersonatedUser, 'impersonatedUser') ??
    checkStringArray(value.sourceIPs, 'sourceIPs') ??
    checkObjectRef(value.objectRef);
  if (problem !== null) return fail(problem);
  return { ok: true, event: value as unknown as AuditEvent };
}

function checkObjectRef(value: JsonValue | undefined): string | null {
  if (value === undefined || value === null) return null;
  if (!isJsonObject(value)) return `objectRef must be an object, got ${typeName(value)}`;
  for (const key of OBJECT_REF_STRING_FIELDS) {
    const problem = checkOptionalString(value, key, `objectRef.${key}`);
    if (problem !== null) return problem;
  }
  return null;
}

/**
 * What one line of text is: `event`, a usable audit Event; `not-json`, not one JSON value
 * (`error` is the parser's message); `invalid`, JSON but not a usable audit Event (`reason` and
 * `auditID` as `validateAuditEvent` gives them; `value` is the parsed JSON, for a reader that also
 * takes an EventList or an array on one line).
 */
export type AuditLineCheck =
  | { kind: 'event'; event: AuditEvent }
  | { kind: 'not-json'; error: string }
  | { kind: 'invalid'; reason: string; auditID?: string; value: unknown };

/**
 * Whether one line is an apiserver audit Event: the one definition the file tailer, the CloudWatch
 * forwarder and the NDJSON parser share, so a line is accepted or refused the same way on every
 * path. Framing (line ends, blank lines, EKS's `[Truncated...]`) is the caller's. Never throws.
 */
export function readAuditLine(line: string): AuditLineCheck {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return { kind: 'not-json', error: jsonErrorReason(err) };
  }
  const checked = validateAuditEvent(value);
  if (checked.ok) return { kind: 'event', event: checked.event };
  return checked.auditID === undefined
    ? { kind: 'invalid', reason: checked.reason, value }
    : { kind: 'invalid', reason: checked.reason, auditID: checked.auditID, value };
}

/** Turns bytes into text: UTF-8 (invalid sequences become U+FFFD), BOM dropped. */
export function decodeUtf8(input: string | Uint8Array): string {
  const text = typeof input === 'string' ? input : decoder.decode(input);
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

class Collector {
  readonly events: AuditEvent[] = [];
  readonly indexes: number[] = [];
  readonly rejected: RejectedItem[] = [];
  next = 0;

  add(value: unknown, line?: number): void {
    const result = validateAuditEvent(value);
    if (result.ok) {
      this.accept(result.event);
      return;
    }
    const item: RejectedItem = { index: this.next++, reason: result.reason, item: value };
    if (line !== undefined) item.line = line;
    if (result.auditID !== undefined) item.auditID = result.auditID;
    this.rejected.push(item);
  }

  /** Adds an item already checked to be an audit Event. */
  accept(event: AuditEvent): void {
    this.indexes.push(this.next++);
    this.events.push(event);
  }

  reject(reason: string, line?: number): void {
    const item: RejectedItem = { index: this.next++, reason };
    if (line !== undefined) item.line = line;
    this.rejected.push(item);
  }

  /** Adds a top-level document: an EventList's items, an array's entries, or one item. */
  addDocument(doc: unknown, line?: number): PayloadForm | { error: string } {
    if (Array.isArray(doc)) {
      for (const item of doc) this.add(item, line);
      return 'array';
    }
    if (isJsonObject(doc) && doc.kind === 'EventList') {
      const items = doc.items;
      if (items === undefined || items === null) return 'EventList';
      if (!Array.isArray(items)) return { error: `EventList.items must be an array, got ${typeName(items)}` };
      for (const item of items) this.add(item, line);
      return 'EventList';
    }
    if (isJsonObject(doc)) {
      this.add(doc, line);
      return 'Event';
    }
    return { error: `expected an EventList, an Event or an array of Events, got ${typeName(doc)}` };
  }

  result(form: PayloadForm, error?: string): ParsedPayload {
    const out: ParsedPayload = {
      form,
      events: this.events,
      indexes: this.indexes,
      rejected: this.rejected,
      itemCount: this.next,
    };
    if (error !== undefined) out.error = error;
    return out;
  }
}

/**
 * Reads an audit payload: an `EventList`, a single `Event`, a JSON array of Events, or NDJSON
 * (one Event or EventList per line; blank lines, CRLF and a BOM are fine). Item-level problems
 * become `rejected` entries and never fail the other items; only a payload that is none of these
 * forms comes back as `form: 'invalid'` with an `error`. Never throws.
 */
export function parseAuditPayload(input: string | Uint8Array): ParsedPayload {
  if (typeof input !== 'string') {
    const fast = parseEventListBytes(input);
    if (fast !== null) return fast;
  }
  const text = decodeUtf8(input);
  let whole: unknown;
  let wholeError: unknown;
  try {
    whole = JSON.parse(text);
  } catch (err) {
    wholeError = err;
  }
  if (wholeError === undefined) {
    const c = new Collector();
    const form = c.addDocument(whole);
    return typeof form === 'string' ? c.result(form) : c.result('invalid', form.error);
  }
  if (text.trim().length === 0) return new Collector().result('invalid', 'body is empty');
  return parseNdjson(text, wholeError);
}

/**
 * An EventList read item by item from its bytes: the envelope (with `items` left empty) and each
 * item are decoded and parsed on their own, and each item's text is its own small string. That
 * is what the ingest receives from an apiserver, and decoding a whole 757 KiB batch as one
 * string costs more than parsing it (see `eventListLayout`). Null when the bytes are not plainly
 * an EventList of objects in valid UTF-8: the caller then reads the whole document, with the
 * same results and the error messages of the general path.
 */
function parseEventListBytes(input: Uint8Array): ParsedPayload | null {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  // Invalid UTF-8 is decoded with replacement characters by the general path; only valid
  // UTF-8 decodes the same whether read whole or in pieces.
  if (!isUtf8(buf)) return null;
  const start = buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
  const layout = eventListLayout(buf, start);
  if (layout === null) return null;
  const encoding = isAscii(buf) ? 'latin1' : 'utf8';
  let envelope: unknown;
  try {
    envelope = JSON.parse(buf.toString(encoding, start, layout.open + 1) + buf.toString(encoding, layout.close, buf.length));
  } catch {
    return null;
  }
  if (!isJsonObject(envelope) || envelope.kind !== 'EventList') return null;
  const c = new Collector();
  const { ranges, deep } = layout;
  for (let k = 0; k < deep.length; k++) {
    const text = buf.toString(encoding, ranges[2 * k], ranges[2 * k + 1]);
    let item: unknown;
    try {
      item = JSON.parse(text);
    } catch {
      return null;
    }
    c.add(item);
  }
  return c.result('EventList');
}

function parseNdjson(text: string, wholeError: unknown): ParsedPayload {
  const c = new Collector();
  let parsedLines = 0;
  let lineNo = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    lineNo++;
    let line = text.slice(start, end);
    start = end + 1;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim().length === 0) continue;
    const read = readAuditLine(line);
    if (read.kind === 'not-json') {
      c.reject(`line ${lineNo} is not valid JSON: ${read.error}`, lineNo);
      continue;
    }
    parsedLines++;
    if (read.kind === 'event') {
      c.accept(read.event);
      continue;
    }
    // JSON but not one Event: an EventList or an array of Events on one line, or an item to reject.
    const form = c.addDocument(read.value, lineNo);
    if (typeof form !== 'string') c.reject(`line ${lineNo}: ${form.error}`, lineNo);
  }
  if (parsedLines === 0) return new Collector().result('invalid', `body is not JSON: ${jsonErrorReason(wholeError)}`);
  return c.result('ndjson');
}
