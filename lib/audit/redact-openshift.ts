import { createHash } from 'node:crypto';
import { isJsonObject, mapSame } from '../json.js';
import { LAST_APPLIED, REDACTED, setOwn } from './redact.js';
import { keptValue, withKey } from './redact-pod.js';
import type { AuditEvent, JsonValue } from './types.js';

// Credentials OpenShift keeps in its own API objects, in clear, from the types in openshift/api
// (commit 2a3d73913b5a7caec4c57d5c3d04f51106ec4da3, Apache-2.0):
// - Route (route.openshift.io/v1, `routes`; route/v1/types.go TLSConfig): `spec.tls.key` is the
//   PEM private key of the route's certificate ("key provides key file contents"). Its
//   `certificate`, `caCertificate` and `destinationCACertificate` are certificates: public, kept;
// - OAuthClient (oauth.openshift.io/v1, `oauthclients`; oauth/v1/types.go): `secret` and
//   `additionalSecrets` (the client's secret and the ones kept while it is rotated);
// - BuildConfig (build.openshift.io/v1, `buildconfigs`; build/v1/types.go WebHookTrigger): each
//   trigger's `github`, `generic`, `gitlab` and `bitbucket` webhook `secret`, the value anyone
//   who knows it can start a build with (deprecated for `secretReference`, still served);
// - Template (template.openshift.io/v1, `templates` and `processedtemplates`; template/v1/types.go
//   Parameter): each parameter's `value` by its `name`, read as a container's env entry is
//   (redact-pod.ts keptValue: `DATABASE_PASSWORD` goes, `DATABASE_USER` stays). A parameter
//   with `generate: expression` has no value until processed; the processed answer holds it.
// Each is redacted in an object, a list's items, a watch event's object, a Table row's object,
// a merge or strategic-merge patch (the object's shape), a JSON patch (by the op's path) and the
// kubectl last-applied-configuration annotation.

/** A path to a credential in an object: keys, `*` for every element of an array. */
type FieldPath = readonly string[];

const WEBHOOK_KINDS = ['github', 'generic', 'gitlab', 'bitbucket'] as const;

/** The credential paths of each OpenShift resource that holds some, by `objectRef.resource`. */
const PATHS: Readonly<Record<string, readonly FieldPath[]>> = {
  routes: [['spec', 'tls', 'key']],
  oauthclients: [['secret'], ['additionalSecrets']],
  buildconfigs: WEBHOOK_KINDS.map((k) => ['spec', 'triggers', '*', k, 'secret']),
};
/** The kinds those resources' objects have, for a body whose target says nothing (a `List`). */
const KIND_RESOURCE: Readonly<Record<string, string>> = {
  Route: 'routes',
  OAuthClient: 'oauthclients',
  BuildConfig: 'buildconfigs',
  Template: 'templates',
};
const TEMPLATE_RESOURCES = new Set(['templates', 'processedtemplates']);

type Obj = { [key: string]: JsonValue };

/** Whether `resource` is one whose bodies this file reads. */
function holdsOpenShiftCredentials(resource: string): boolean {
  return Object.hasOwn(PATHS, resource) || TEMPLATE_RESOURCES.has(resource);
}

/** A value at the end of a credential path: a string or number becomes the marker, an array each of its elements. */
function markValue(value: JsonValue): JsonValue {
  if (value === null) return null;
  if (Array.isArray(value)) return value.map(markValue);
  return isJsonObject(value) ? mapObjectValues(value) : REDACTED;
}

function mapObjectValues(obj: Obj): Obj {
  const out: Obj = {};
  for (const k of Object.keys(obj)) setOwn(out, k, markValue(obj[k] as JsonValue));
  return out;
}

/** `value` with what lies at `path` marked; the same value when nothing is there. */
function redactPath(value: JsonValue, path: FieldPath, at: number): JsonValue {
  if (at === path.length) return markValue(value);
  const step = path[at] as string;
  if (step === '*') return Array.isArray(value) ? mapSame(value, (v) => redactPath(v, path, at + 1)) : value;
  if (!isJsonObject(value) || !Object.hasOwn(value, step)) return value;
  const inner = value[step] as JsonValue;
  const kept = redactPath(inner, path, at + 1);
  return kept === inner ? value : withKey(value, step, kept);
}

/** A Template's `parameters` with each value kept or redacted by its name, as an env entry's. */
function redactParameters(obj: Obj): Obj {
  const params = obj.parameters;
  if (!Array.isArray(params)) return obj;
  const kept = mapSame(params, (p) => {
    if (!isJsonObject(p) || typeof p.name !== 'string' || typeof p.value !== 'string') return p;
    const value = keptValue(p.name, p.value);
    return value === p.value ? p : withKey(p, 'value', value);
  });
  return kept === params ? obj : withKey(obj, 'parameters', kept);
}

/** One object of `resource` as a record keeps it: its credential paths and last-applied annotation redacted. */
function redactObject(obj: Obj, resource: string): Obj {
  let out = TEMPLATE_RESOURCES.has(resource) ? redactParameters(obj) : obj;
  for (const path of PATHS[resource] ?? []) out = redactPath(out, path, 0) as Obj;
  const metadata = out.metadata;
  if (isJsonObject(metadata) && isJsonObject(metadata.annotations) && typeof metadata.annotations[LAST_APPLIED] === 'string') {
    const text = metadata.annotations[LAST_APPLIED] as string;
    const kept = redactLastApplied(text, resource);
    if (kept !== text) out = withKey(out, 'metadata', withKey(metadata, 'annotations', withKey(metadata.annotations, LAST_APPLIED, kept)));
  }
  return out;
}

/** The kubectl annotation (a JSON copy of the object as applied), redacted as the object; replaced whole when it is not JSON. */
function redactLastApplied(text: string, resource: string): string {
  try {
    const parsed: unknown = JSON.parse(text);
    if (!isJsonObject(parsed)) return REDACTED;
    const kept = redactObject(parsed, resource);
    return kept === parsed ? text : JSON.stringify(kept);
  } catch {
    return REDACTED;
  }
}

/** A body of any form: a list's items, a watch event's object, a Table's rows, or the object (a merge patch too). */
function redactForm(value: Obj, resource: string): Obj {
  if (Array.isArray(value.items)) {
    const items = mapSame(value.items, (item) => (isJsonObject(item) ? redactForm(item, resourceOf(item, resource)) : item));
    return items === value.items ? value : withKey(value, 'items', items);
  }
  if (Array.isArray(value.rows)) {
    const rows = mapSame(value.rows, (row) => {
      if (!isJsonObject(row) || !isJsonObject(row.object)) return row;
      const kept = redactForm(row.object, resource);
      return kept === row.object ? row : withKey(row, 'object', kept);
    });
    return rows === value.rows ? value : withKey(value, 'rows', rows);
  }
  if (isJsonObject(value.object) && typeof value.type === 'string' && !isJsonObject(value.spec)) {
    const kept = redactForm(value.object, resource);
    return kept === value.object ? value : withKey(value, 'object', kept);
  }
  return redactObject(value, resource);
}

function resourceOf(item: Obj, fallback: string): string {
  return typeof item.kind === 'string' ? (KIND_RESOURCE[item.kind] ?? fallback) : fallback;
}

/** RFC 6901 segments of a JSON pointer, unescaped. */
function segments(pointer: string): string[] {
  return pointer === ''
    ? []
    : pointer
        .split('/')
        .slice(1)
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function stepMatches(step: string, segment: string): boolean {
  return step === '*' ? /^(\d+|-)$/.test(segment) : step === segment;
}

/** A JSON patch operation's value by where it goes: below, at or above a credential path. */
function redactPatchValue(pointer: string, value: JsonValue, resource: string): JsonValue {
  const segs = segments(pointer);
  if (segs[0] === 'metadata') {
    const annotation = segs.length === 3 && segs[1] === 'annotations' && segs[2] === LAST_APPLIED;
    return annotation && typeof value === 'string' ? redactLastApplied(value, resource) : value;
  }
  if (segs.length === 0) return isJsonObject(value) ? redactObject(value, resource) : value;
  if (TEMPLATE_RESOURCES.has(resource) && segs[0] === 'parameters') {
    // One parameter (`/parameters/3`), the list, or one parameter's value (no name to read: it goes).
    if (segs.length === 1 && Array.isArray(value)) return redactParameters({ parameters: value }).parameters as JsonValue;
    if (segs.length === 2 && isJsonObject(value)) {
      const kept = redactParameters({ parameters: [value] }).parameters;
      return Array.isArray(kept) ? (kept[0] as JsonValue) : value;
    }
    if (segs.length === 3 && segs[2] === 'value') return value === null ? null : REDACTED;
    return value;
  }
  let out = value;
  for (const path of PATHS[resource] ?? []) {
    let i = 0;
    while (i < segs.length && i < path.length && stepMatches(path[i] as string, segs[i] as string)) i++;
    if (i < segs.length && i < path.length) continue; // elsewhere
    out = i === path.length ? markValue(out) : redactPath(out, path, i);
  }
  return out;
}

/**
 * A request or response body sent to an OpenShift resource that holds credentials, with them
 * redacted; the same value when it holds none. Call only when `holdsOpenShiftCredentials`.
 */
function redactOpenShiftBody(value: JsonValue, resource: string): JsonValue {
  if (Array.isArray(value)) {
    return mapSame(value, (op) => {
      if (!isJsonObject(op) || !Object.hasOwn(op, 'value')) return op;
      const v = op.value as JsonValue;
      const kept = typeof op.path === 'string' ? redactPatchValue(op.path, v, resource) : markValue(v);
      return kept === v ? op : withKey(op, 'value', kept);
    });
  }
  if (typeof value === 'string') return REDACTED; // a patch logged as text: it may set any field
  return isJsonObject(value) ? redactForm(value, resource) : value;
}

// A BuildConfig's webhook is called at
// `/apis/build.openshift.io/v1/namespaces/<ns>/buildconfigs/<name>/webhooks/<secret>/<type>`
// (OpenShift documentation, "Triggering and modifying builds": the secret is a path segment, as
// GitHub or GitLab sends it), so the request URI of every webhook call carries the trigger's secret.
const WEBHOOKS_SEGMENT = '/webhooks/';

/** A webhook call's URI with the secret segment after `/webhooks/` replaced by the marker; the same string otherwise. */
function redactWebhookUri(uri: string): string {
  const at = uri.indexOf(WEBHOOKS_SEGMENT);
  if (at === -1) return uri;
  const from = at + WEBHOOKS_SEGMENT.length;
  let end = from;
  while (end < uri.length && uri[end] !== '/' && uri[end] !== '?') end++;
  return end === from ? uri : `${uri.slice(0, from)}${REDACTED}${uri.slice(end)}`;
}

// OAuth tokens as objects (oauth.openshift.io/v1): OAuthAccessToken, OAuthAuthorizeToken and the
// per-user view of access tokens (`useroauthaccesstokens`). Before OpenShift 4.6 an object's name
// was the token itself; since 4.6 it is `sha256~` and the unpadded base64url of the token's
// SHA-256 (openshift/api oauth/v1/types.go, OAuthAccessToken's comment: "The name of a token must
// be prefixed with a `sha256~` string"). A request that names an older token (`oc get
// oauthaccesstokens <name>`, `oc delete` of one, a list or watch answer) carries the bearer token
// in objectRef.name, the request URI's path, the bodies' metadata.name and a Status's text.
const TOKEN_RESOURCES = new Set(['oauthaccesstokens', 'oauthauthorizetokens', 'useroauthaccesstokens']);
const HASHED_NAME = 'sha256~';
// The API refuses a token name shorter than 32 characters (the same types.go comment; its
// validation since OpenShift 3), so a shorter name is no token, and is not searched for in the
// event's text, where a short word would match everywhere.
const MIN_TOKEN_LENGTH = 32;

/**
 * What a token name becomes: the marker and the unpadded base64url of its SHA-256, in the form
 * OpenShift 4.6+ names tokens (`[REDACTED:sha256~…]`), so the same token reads the same in every
 * record (and two requests for two tokens differ, for dedup) while no record holds it: a hash of
 * a random 256-bit token gives nothing back.
 */
export function tokenNameMarker(name: string): string {
  return `[REDACTED:${HASHED_NAME}${createHash('sha256').update(name).digest('base64url')}]`;
}

/** The token names an event carries that are tokens (not `sha256~…`, not already marked). */
function tokenNames(event: AuditEvent): Set<string> {
  const names = new Set<string>();
  const add = (name: unknown) => {
    if (typeof name === 'string' && name.length >= MIN_TOKEN_LENGTH && !name.startsWith(HASHED_NAME) && !name.startsWith('[REDACTED'))
      names.add(name);
  };
  const fromBody = (body: unknown) => {
    if (!isJsonObject(body)) return;
    if (isJsonObject(body.metadata)) add(body.metadata.name);
    if (isJsonObject(body.object)) fromBody(body.object);
    if (isJsonObject(body.details)) add(body.details.name); // a delete's Status
    for (const item of Array.isArray(body.items) ? body.items : []) fromBody(item);
    for (const row of Array.isArray(body.rows) ? body.rows : []) {
      if (isJsonObject(row)) {
        fromBody(row.object);
        if (Array.isArray(row.cells)) add(row.cells[0]);
      }
    }
  };
  add(event.objectRef?.name);
  fromBody(event.requestObject);
  fromBody(event.responseObject);
  if (isJsonObject(event.responseStatus) && isJsonObject(event.responseStatus.details)) add(event.responseStatus.details.name);
  return names;
}

/** Every string of `value` (keys too) with each name replaced by its marker; the same value when none holds one. */
function replaceNames(value: JsonValue, names: ReadonlyMap<string, string>): JsonValue {
  if (typeof value === 'string') {
    let out = value;
    for (const [name, marker] of names) if (out.includes(name)) out = out.split(name).join(marker);
    return out;
  }
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return mapSame(value, (v) => replaceNames(v, names));
  let out: Obj | undefined;
  const keys = Object.keys(value);
  for (const key of keys) {
    const v = value[key] as JsonValue;
    const k = replaceNames(key, names) as string;
    const c = replaceNames(v, names);
    if (k !== key || c !== v) {
      if (out === undefined) {
        out = {};
        for (const before of keys.slice(0, keys.indexOf(key))) setOwn(out, before, value[before] as JsonValue);
      }
    }
    if (out !== undefined) setOwn(out, k, c);
  }
  return out ?? value;
}

/**
 * An event on OAuth token objects with every token that names one (a pre-4.6 name) replaced by
 * `tokenNameMarker` wherever it appears: objectRef.name, the request URI, the bodies, the
 * Status. The event itself when it names none; never mutates.
 */
function redactOAuthTokenNames(event: AuditEvent): AuditEvent {
  const names = tokenNames(event);
  if (names.size === 0) return event;
  const markers = new Map([...names].map((n) => [n, tokenNameMarker(n)] as const));
  return replaceNames(event as unknown as JsonValue, markers) as unknown as AuditEvent;
}

/** Every resource this file reads an event of; any other event costs `isOpenShiftTarget`'s one lookup. */
const OPENSHIFT_RESOURCES = new Set([...Object.keys(PATHS), ...TEMPLATE_RESOURCES, ...TOKEN_RESOURCES]);

/** Whether an event of `resource` may hold one of OpenShift's credentials (call `redactOpenShiftEvent` then). */
export function isOpenShiftTarget(resource: string | null): boolean {
  return resource !== null && OPENSHIFT_RESOURCES.has(resource);
}

/**
 * An event of an OpenShift resource with its credentials redacted: the bodies' fields (PATHS,
 * Template parameters), a BuildConfig webhook call's URI, OAuth token names. The event itself
 * when it holds none; never mutates.
 */
export function redactOpenShiftEvent(event: AuditEvent, target: { resource: string | null; subresource: string | null }): AuditEvent {
  const resource = target.resource;
  if (resource === null) return event;
  if (TOKEN_RESOURCES.has(resource)) return redactOAuthTokenNames(event);
  let out = event;
  if (holdsOpenShiftCredentials(resource)) {
    const req = event.requestObject;
    const res = event.responseObject;
    const reqKept = req === undefined || req === null ? req : redactOpenShiftBody(req, resource);
    const resKept = res === undefined || res === null ? res : redactOpenShiftBody(res, resource);
    if (reqKept !== req || resKept !== res) {
      out = { ...event };
      if (reqKept !== undefined) out.requestObject = reqKept;
      if (resKept !== undefined) out.responseObject = resKept;
    }
  }
  if (resource === 'buildconfigs' && target.subresource === 'webhooks' && typeof out.requestURI === 'string') {
    const uri = redactWebhookUri(out.requestURI);
    if (uri !== out.requestURI) out = { ...out, requestURI: uri };
  }
  return out;
}
