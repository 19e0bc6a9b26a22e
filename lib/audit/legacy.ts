// kube-apiserver's legacy text audit format (`--audit-log-format=legacy`): one line per event,
// `<time> AUDIT: key="value" ...`, as k8s.io/apiserver pkg/audit/format.go `EventString` prints it
// (kubernetes/kubernetes 2e0908106e4420a601e50d6edfd41475de87a3e1):
//
//   %s AUDIT: id=%q stage=%q ip=%q method=%q user=%q groups=%q as=%q asgroups=%q user-agent=%q namespace=%q uri=%q response="%s"
//
// Every value is Go `%q` quoted; groups and asgroups are themselves `%q`-quoted names joined by
// commas, quoted again. Placeholders: user `<none>` (no username; groups then `<none>` too), as
// `<self>` (no impersonation), asgroups `<lookup>` (impersonated groups not given), ip `<unknown>`,
// namespace `<none>`, response `<deferred>` (no status yet: RequestReceived). Earlier releases
// print fewer keys: no user-agent (before 1.11), no stage (1.7-1.9: plugin/pkg/audit/log
// backend.go), and before 1.7 (pkg/apiserver/audit.go WithAudit) the HTTP method (`GET`) and
// two lines per request, the second `id=%q response="%d"` alone. So keys are read by name, any
// subset, unknown ones passed over. Pure: no I/O.

import { readAuditLine } from './parse.js';
import { scrubJwtText } from './redact.js';
import type { AuditEvent, AuditObjectRef, AuditUserInfo } from './types.js';

/** What one legacy line is: an event, a pre-1.7 response line (id and code only), or why it is neither. */
export type LegacyLine =
  | { kind: 'event'; event: AuditEvent }
  | { kind: 'response'; auditID: string; code: number }
  | { kind: 'invalid'; reason: string; auditID?: string };

// `<RFC 3339 time> AUDIT: ` and the key-value pairs after it.
const LEGACY_HEAD = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})) AUDIT: /;

/** Whether a line starts as a legacy audit line does (its time, then ` AUDIT: `). */
export function looksLikeLegacyLine(line: string): boolean {
  return LEGACY_HEAD.test(line);
}

const SIMPLE_ESCAPES: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 0x5c, '"': 0x22, "'": 0x27 };

/**
 * Reads one Go-quoted string (strconv.Quote, what `%q` prints) starting at `text[at]` (a `"`): the
 * bytes it stands for, decoded as UTF-8 (`\xNN` escapes a byte that is not), and where it ends.
 */
function readQuoted(text: string, at: number): { value: string; end: number } | { error: string } {
  const bytes: number[] = [];
  const hex = (from: number, n: number): number | null => {
    const digits = text.slice(from, from + n);
    return digits.length === n && /^[0-9a-fA-F]+$/.test(digits) ? Number.parseInt(digits, 16) : null;
  };
  let i = at + 1;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === '"') return { value: Buffer.from(bytes).toString('utf8'), end: i + 1 };
    if (c !== '\\') {
      const cp = text.codePointAt(i) as number;
      for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) bytes.push(b);
      i += cp > 0xffff ? 2 : 1;
      continue;
    }
    const e = text[i + 1];
    if (e === undefined) break;
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      bytes.push(simple);
      i += 2;
    } else if (e === 'x') {
      const b = hex(i + 2, 2);
      if (b === null) return { error: `bad \\x escape at column ${i + 1}` };
      bytes.push(b);
      i += 4;
    } else if (e === 'u' || e === 'U') {
      const n = e === 'u' ? 4 : 8;
      const cp = hex(i + 2, n);
      if (cp === null || cp > 0x10ffff) return { error: `bad \\${e} escape at column ${i + 1}` };
      for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) bytes.push(b);
      i += 2 + n;
    } else if (e >= '0' && e <= '7' && /^[0-7]{3}$/.test(text.slice(i + 1, i + 4))) {
      bytes.push(Number.parseInt(text.slice(i + 1, i + 4), 8) & 0xff);
      i += 4;
    } else {
      return { error: `unknown escape \\${e} at column ${i + 1}` };
    }
  }
  return { error: `a quoted value starting at column ${at + 1} is not closed` };
}

/** The `key="value"` pairs after ` AUDIT: `, or why they cannot be read. */
function readPairs(text: string, from: number): Map<string, string> | { error: string; pairs: Map<string, string> } {
  const pairs = new Map<string, string>();
  let i = from;
  while (i < text.length) {
    if (text[i] === ' ') {
      i++;
      continue;
    }
    const eq = text.indexOf('=', i);
    const key = eq === -1 ? '' : text.slice(i, eq);
    if (!/^[a-z][a-z-]*$/.test(key)) return { error: `expected key="value" at column ${i + 1}`, pairs };
    if (text[eq + 1] !== '"') return { error: `the value of ${key} at column ${eq + 2} is not quoted`, pairs };
    const q = readQuoted(text, eq + 1);
    if ('error' in q) return { error: `${key}: ${q.error}`, pairs };
    pairs.set(key, q.value);
    i = q.end;
  }
  return pairs;
}

/** The names of a groups value: `%q`-quoted names joined by commas (`", "` in some pre-1.7 builds). */
function readGroups(value: string): string[] | null {
  const groups: string[] = [];
  let i = 0;
  while (i < value.length) {
    if (value[i] !== '"') return null;
    const q = readQuoted(value, i);
    if ('error' in q) return null;
    groups.push(q.value);
    i = q.end;
    if (i < value.length) {
      if (value[i] !== ',') return null;
      i++;
      while (value[i] === ' ') i++;
    }
  }
  return groups;
}

const HTTP_VERBS: Record<string, string> = { POST: 'create', GET: 'get', HEAD: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

/**
 * The objectRef and verb a request URI stands for, as the apiserver's RequestInfoFactory reads it
 * (k8s.io/apiserver pkg/endpoints/request/requestinfo.go, kubernetes/kubernetes
 * 01bb682e31036fd3ec8e7a158455aa3da9f51a41): `/api/<version>/...` (core group) or
 * `/apis/<group>/<version>/...`; a `watch` (or `proxy`) segment first is the verb; then
 * `namespaces/<ns>`, unless followed by `status` or `finalize` (a namespace's own subresources);
 * then `<resource>/<name>/<subresource>`. A path with fewer parts (`/healthz`, `/apis`) is no
 * resource request. `httpVerb` is the pre-1.7 line's HTTP method: it becomes the Kubernetes verb
 * the same way (GET without a name is list, or watch with `?watch=` other than false/0; DELETE
 * without a name is deletecollection). lib/audit/gke.ts's gkeObjectRef reads GKE's resourceName,
 * which has no prefix, no watch segment and no query; hence this one.
 */
export function requestInfo(uri: string, httpVerb?: string): { objectRef?: AuditObjectRef; verb?: string } {
  const q = uri.indexOf('?');
  const path = q === -1 ? uri : uri.slice(0, q);
  const query = new URLSearchParams(q === -1 ? '' : uri.slice(q + 1));
  let verb = httpVerb === undefined ? undefined : HTTP_VERBS[httpVerb];
  const nonResource = httpVerb === undefined ? {} : { verb: httpVerb.toLowerCase() };
  let parts = path.replace(/^\/+|\/+$/g, '').split('/');
  if (parts.length < 3 || (parts[0] !== 'api' && parts[0] !== 'apis')) return nonResource;
  const ref: AuditObjectRef = {};
  if (parts[0] === 'apis') {
    if (parts.length < 4) return nonResource;
    ref.apiGroup = parts[1] as string;
    parts = parts.slice(1);
  }
  ref.apiVersion = parts[1] as string;
  parts = parts.slice(2);
  const special = parts[0] === 'watch' || parts[0] === 'proxy' ? parts[0] : undefined;
  if (special !== undefined) {
    if (parts.length < 2) return { objectRef: ref, ...(verb === undefined ? {} : { verb: special }) };
    if (httpVerb !== undefined) verb = special;
    parts = parts.slice(1);
  }
  if (parts[0] === 'namespaces' && parts.length > 1) {
    ref.namespace = parts[1] as string;
    if (parts.length > 2 && !['status', 'finalize'].includes(parts[2] as string)) parts = parts.slice(2);
  }
  if (parts[0] !== undefined && parts[0] !== '') ref.resource = parts[0];
  if (parts[1] !== undefined) ref.name = parts[1];
  if (parts[2] !== undefined && special !== 'proxy') ref.subresource = parts[2];
  if (ref.name === undefined && verb === 'get') {
    const watch = query.get('watch');
    verb = watch === null || ['false', '0'].includes(watch.toLowerCase()) ? 'list' : 'watch';
  }
  if (ref.name === undefined && verb === 'delete') verb = 'deletecollection';
  return verb === undefined ? { objectRef: ref } : { objectRef: ref, verb };
}

/** A user (or the impersonated one) with its groups value read, when given; null when that value is no list of quoted names. */
function userWithGroups(username: string, groups: string | undefined): AuditUserInfo | null {
  const user: AuditUserInfo = { username };
  if (groups === undefined) return user;
  const names = readGroups(groups);
  if (names === null) return null;
  user.groups = names;
  return user;
}

/** A placeholder EventString prints for an absent value, or the value. */
function present(value: string | undefined, placeholder: string): string | undefined {
  return value === undefined || value === '' || value === placeholder ? undefined : value;
}

/**
 * Reads one legacy audit line into an audit.k8s.io/v1 Event. The line has no level (the record's
 * raw_event has none), no bodies, no stageTimestamp and one source IP; what it does have maps to
 * the Event's own fields: id → auditID, the time → requestReceivedTimestamp, method → verb (an
 * HTTP method, pre-1.7, becomes the verb the apiserver would give it), user/groups, as/asgroups →
 * impersonatedUser, ip → sourceIPs, user-agent → userAgent, uri → requestURI and objectRef,
 * namespace → objectRef.namespace, response → responseStatus.code.
 */
export function readLegacyLine(line: string): LegacyLine {
  const head = LEGACY_HEAD.exec(line);
  if (head === null) return { kind: 'invalid', reason: 'not a kube-apiserver legacy audit line (<time> AUDIT: key="value" ...)' };
  const pairs = readPairs(line, head[0].length);
  if (!(pairs instanceof Map)) {
    // The id comes first: a line cut or mangled after it still names its event.
    const id = present(pairs.pairs.get('id'), '');
    const reason = `legacy audit line: ${pairs.error}`;
    return id === undefined ? { kind: 'invalid', reason } : { kind: 'invalid', reason, auditID: scrubJwtText(id) };
  }
  const auditID = present(pairs.get('id'), '');
  if (auditID === undefined) return { kind: 'invalid', reason: 'legacy audit line has no id' };
  // Reasons go to logs and stderr: they name the field, never its value, and the id as every
  // rejection does (a token sent as one loses its signature).
  const fail = (reason: string): LegacyLine => ({
    kind: 'invalid',
    reason: `legacy audit line: ${reason}`,
    auditID: scrubJwtText(auditID),
  });
  const response = present(pairs.get('response'), '<deferred>');
  if (response !== undefined && !/^\d{1,3}$/.test(response)) return fail('response is not a status code');
  const code = response === undefined ? undefined : Number(response);
  // Before 1.7 the response went on a line of its own, after the request's.
  if (!pairs.has('method') && !pairs.has('uri') && !pairs.has('user') && code !== undefined) return { kind: 'response', auditID, code };

  const event: AuditEvent = { kind: 'Event', apiVersion: 'audit.k8s.io/v1', auditID, requestReceivedTimestamp: head[1] as string };
  const stage = present(pairs.get('stage'), '');
  if (stage !== undefined) event.stage = stage;
  const uri = present(pairs.get('uri'), '');
  const method = present(pairs.get('method'), '');
  const httpVerb = method !== undefined && /^[A-Z]+$/.test(method) ? method : undefined;
  const info = uri === undefined ? {} : requestInfo(uri, httpVerb);
  if (uri !== undefined) event.requestURI = uri;
  const verb = httpVerb === undefined ? method : (info.verb ?? method?.toLowerCase());
  if (verb !== undefined) event.verb = verb;
  const username = present(pairs.get('user'), '<none>');
  if (username !== undefined) {
    const user = userWithGroups(username, present(pairs.get('groups'), '<none>'));
    if (user === null) return fail('groups is not a list of quoted names');
    event.user = user;
  }
  const as = pairs.get('as');
  if (as !== undefined && as !== '<self>') {
    const impersonated = userWithGroups(as, present(pairs.get('asgroups'), '<lookup>'));
    if (impersonated === null) return fail('asgroups is not a list of quoted names');
    event.impersonatedUser = impersonated;
  }
  const ip = present(pairs.get('ip'), '<unknown>');
  if (ip !== undefined) event.sourceIPs = [ip];
  const userAgent = present(pairs.get('user-agent'), '');
  if (userAgent !== undefined) event.userAgent = userAgent;
  const namespace = present(pairs.get('namespace'), '<none>');
  const objectRef = info.objectRef ?? (namespace === undefined ? undefined : {});
  if (objectRef !== undefined) {
    if (namespace !== undefined) objectRef.namespace = namespace;
    event.objectRef = objectRef;
  }
  if (code !== undefined) event.responseStatus = { metadata: {}, code };
  return { kind: 'event', event };
}

/** The events of a text of legacy lines (JSON lines mixed in are read too), and what was not usable. */
export interface LegacyText {
  /** Each event with its 1-based line and its index among the text's items. */
  events: { event: AuditEvent; line: number; index: number }[];
  rejected: { index: number; line: number; reason: string; auditID?: string }[];
  /** Pre-1.7 response lines with no request line before them: nothing to read into an event. */
  skipped: { index: number; line: number; reason: string }[];
  /** Legacy lines read (events and response lines). */
  legacyLines: number;
  /** JSON lines among them (events or not). */
  jsonLines: number;
}

/**
 * Reads a whole text line by line, each line on its own: a legacy line, or a JSON Event (an
 * apiserver switched from one format to the other appends to the same file), else rejected as
 * neither. A pre-1.7 response line gives its status code to the request line with its id before
 * it (WithAudit wrote the two around the request); one with none before it is skipped.
 */
export function readLegacyText(text: string): LegacyText {
  const out: LegacyText = { events: [], rejected: [], skipped: [], legacyLines: 0, jsonLines: 0 };
  const byId = new Map<string, AuditEvent>();
  const lines = text.split('\n');
  let index = 0;
  for (let k = 0; k < lines.length; k++) {
    const line = (lines[k] as string).replace(/\r$/, '').replace(/^\uFEFF/, '');
    if (line.trim() === '') continue;
    const at = { index: index++, line: k + 1 };
    if (looksLikeLegacyLine(line)) {
      const read = readLegacyLine(line);
      if (read.kind === 'invalid') {
        out.rejected.push({ ...at, reason: read.reason, ...(read.auditID === undefined ? {} : { auditID: read.auditID }) });
        continue;
      }
      out.legacyLines++;
      if (read.kind === 'event') {
        out.events.push({ ...at, event: read.event });
        byId.set(read.event.auditID, read.event);
        continue;
      }
      const request = byId.get(read.auditID);
      if (request !== undefined && request.responseStatus === undefined) request.responseStatus = { metadata: {}, code: read.code };
      else
        out.skipped.push({
          ...at,
          reason: `a legacy response line (id ${scrubJwtText(read.auditID)}, code ${read.code}) with no request line before it`,
        });
      continue;
    }
    if (line.trimStart().startsWith('{')) {
      out.jsonLines++;
      const read = readAuditLine(line);
      if (read.kind === 'event') out.events.push({ ...at, event: read.event });
      else {
        const reason = read.kind === 'not-json' ? `line is not JSON: ${read.error}` : `not a valid audit event: ${read.reason}`;
        out.rejected.push({ ...at, reason, ...(read.kind === 'invalid' && read.auditID !== undefined ? { auditID: read.auditID } : {}) });
      }
      continue;
    }
    out.rejected.push({ ...at, reason: NEITHER_JSON_NOR_LEGACY });
  }
  return out;
}

/** Why a line of a legacy log is not read: it is neither format the apiserver writes. */
export const NEITHER_JSON_NOR_LEGACY = 'line is neither JSON nor a kube-apiserver legacy audit line (<time> AUDIT: id="..." ...)';
