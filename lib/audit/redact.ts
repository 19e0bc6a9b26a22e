import { isJsonObject, mapSame } from '../json.js';
import { limitDepth } from './depth.js';
import { scrubArgv, scrubCommandQuery } from './redact-argv.js';
import { isOpenShiftTarget, redactOpenShiftEvent } from './redact-openshift.js';
import { redactParamPatch, redactParamValues } from './redact-params.js';
import { keptValue, redactGitOpsValues, redactPodBody } from './redact-pod.js';
import { scrubTextUrls, scrubUriCredentials } from './redact-uri.js';
import type { AuditEvent, JsonValue } from './types.js';

/** What a redacted secret value is replaced with; the key stays so detections still see it. */
export const REDACTED = '[REDACTED]';

// Which credentials an audit event can carry at Request / RequestResponse level, from the
// Kubernetes API reference (the README's redaction table lists them, and why the rest are safe):
// - Secret `data` / `stringData` (core/v1 Secret): in create, update, get, list, delete and watch
//   bodies, the rows of a Table (meta.k8s.io/v1, `kubectl get`), in every patch form sent to
//   `secrets`, and in the Secret's own
//   `kubectl.kubernetes.io/last-applied-configuration` annotation;
// - TokenRequest `status.token` (authentication.k8s.io/v1, `serviceaccounts/token`): a live
//   bearer token in the response;
// - TokenReview `spec.token` (authentication.k8s.io/v1, `tokenreviews`): the bearer token under
//   review, in the request and echoed in the response.
export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
const SECRET_FIELDS = ['data', 'stringData'] as const;
// Top-level JSON patch paths of a Secret whose values are never credentials.
const SAFE_PATCH_FIELDS = new Set(['type', 'immutable', 'kind', 'apiVersion']);

type Obj = { [key: string]: JsonValue };

/** Sets an own property even for keys like `__proto__`, which plain assignment would swallow. */
export function setOwn(obj: Obj, key: string, value: JsonValue): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Keys stay, every value becomes the marker; a value that is not a map becomes the marker (null stays null: nothing to hide). */
function redactValues(map: JsonValue | undefined): JsonValue | undefined {
  if (!isJsonObject(map)) return map === undefined || map === null ? map : REDACTED;
  const out: Obj = {};
  for (const key of Object.keys(map)) setOwn(out, key, REDACTED);
  return out;
}

/** A shallow copy of `obj` with own properties only (`__proto__` stays a key, never a prototype). */
export function copyObj(obj: Obj): Obj {
  const out: Obj = {};
  for (const key of Object.keys(obj)) setOwn(out, key, obj[key] as JsonValue);
  return out;
}

function redactLastApplied(value: JsonValue | undefined): JsonValue | undefined {
  if (typeof value !== 'string') return value === undefined || value === null ? value : REDACTED;
  try {
    const parsed: unknown = JSON.parse(value);
    if (isJsonObject(parsed)) return JSON.stringify(redactSecretObject(parsed, true));
  } catch {
    // Not JSON: the whole annotation may hold secret values, so it goes.
  }
  return REDACTED;
}

/** `metadata` with the last-applied-configuration annotation redacted (the rest as it was). */
function redactMetadata(metadata: JsonValue | undefined): JsonValue | undefined {
  if (!isJsonObject(metadata) || !isJsonObject(metadata.annotations) || !Object.hasOwn(metadata.annotations, LAST_APPLIED)) return metadata;
  const annotations = copyObj(metadata.annotations);
  setOwn(annotations, LAST_APPLIED, redactLastApplied(metadata.annotations[LAST_APPLIED]) as JsonValue);
  const out = copyObj(metadata);
  setOwn(out, 'annotations', annotations);
  return out;
}

/**
 * A copy of a Secret-shaped object with `data`/`stringData` values and the last-applied-configuration
 * annotation redacted. `force` treats the object as a Secret without `kind: Secret` (a merge or
 * strategic-merge patch sent to `secrets` has no kind). List forms (SecretList, List) redact their
 * items; a WatchEvent its `object`.
 */
function redactSecretObject(obj: Obj, force: boolean): Obj {
  const kind = obj.kind;
  if (Array.isArray(obj.items) && (kind === 'SecretList' || kind === 'List' || force)) {
    const out = copyObj(obj);
    setOwn(
      out,
      'items',
      obj.items.map((item) => (isJsonObject(item) ? redactSecretObject(item, kind === 'SecretList' || force) : item)),
    );
    return out;
  }
  // A Table (meta.k8s.io/v1, what `kubectl get` asks for: server-side printing): each row's
  // `object` is the object itself (includeObject=Object) or its PartialObjectMetadata (the
  // default), whose last-applied-configuration annotation is a copy of the Secret. The cells are
  // the printed columns (name, type, the number of data keys, age): no values.
  if (Array.isArray(obj.rows) && (kind === 'Table' || force)) {
    const out = copyObj(obj);
    setOwn(
      out,
      'rows',
      obj.rows.map((row) => {
        if (!isJsonObject(row) || !isJsonObject(row.object)) return row;
        const rowOut = copyObj(row);
        setOwn(rowOut, 'object', redactSecretObject(row.object, force));
        return rowOut;
      }),
    );
    return out;
  }
  // A watch event (`{type, object}`; the kind is often left out on the wire).
  if ((kind === 'WatchEvent' || force) && isJsonObject(obj.object)) {
    const out = copyObj(obj);
    setOwn(out, 'object', redactSecretObject(obj.object, force));
    return out;
  }
  if (kind === 'TokenRequest') return redactAt(obj, 'status', 'token');
  if (kind === 'TokenReview') return redactAt(obj, 'spec', 'token');
  if (!force && kind !== 'Secret') return obj;
  const out = copyObj(obj);
  for (const field of SECRET_FIELDS) {
    if (Object.hasOwn(out, field)) setOwn(out, field, redactValues(out[field]) as JsonValue);
  }
  if (Object.hasOwn(out, 'metadata')) setOwn(out, 'metadata', redactMetadata(out.metadata) as JsonValue);
  return out;
}

/** A copy of a Secret's body (or of a patch of one) with its values and its last-applied copy redacted: what a Secret sent to `secrets` keeps. */
export function redactAsSecret(obj: Obj): Obj {
  return redactSecretObject(obj, true);
}

/** A copy with `obj[outer][inner]` replaced by the marker, when it is there. */
function redactAt(obj: Obj, outer: string, inner: string): Obj {
  const part = obj[outer];
  if (!isJsonObject(part) || !Object.hasOwn(part, inner) || part[inner] === null) return obj;
  const partOut = copyObj(part);
  setOwn(partOut, inner, REDACTED);
  const out = copyObj(obj);
  setOwn(out, outer, partOut);
  return out;
}

/** The first segment of a JSON pointer (RFC 6901), unescaped. */
function firstSegment(path: string): string {
  const seg = path.split('/')[1] ?? '';
  return seg.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** The `value` of a JSON patch operation (RFC 6902) on a Secret, redacted by where it goes. */
function redactPatchValue(path: JsonValue | undefined, value: JsonValue): JsonValue {
  // No usable path: nothing says where the value goes, so it may be secret.
  if (typeof path !== 'string') return isJsonObject(value) ? redactSecretObject(value, true) : REDACTED;
  if (path === '' || path === '/') return isJsonObject(value) ? redactSecretObject(value, true) : REDACTED;
  const field = firstSegment(path);
  if (SAFE_PATCH_FIELDS.has(field)) return value;
  if (field === 'metadata') {
    if (path.includes('last-applied-configuration')) return redactLastApplied(value) as JsonValue;
    if (path === '/metadata') return redactMetadata(value) as JsonValue;
    if (path === '/metadata/annotations' && isJsonObject(value)) {
      const metadata = redactMetadata({ annotations: value });
      return isJsonObject(metadata) ? (metadata.annotations as JsonValue) : value;
    }
    return value;
  }
  // `data`, `stringData`, and any other field: keys stay, values go.
  return isJsonObject(value) ? (redactValues(value) as JsonValue) : value === null ? null : REDACTED;
}

/** A JSON patch (an array of operations) sent to `secrets`, with every value that can be secret redacted. */
function redactJsonPatch(ops: JsonValue[]): JsonValue[] {
  return ops.map((op) => {
    if (!isJsonObject(op)) return op === null ? op : REDACTED;
    if (!Object.hasOwn(op, 'value')) return op;
    const out = copyObj(op);
    setOwn(out, 'value', redactPatchValue(op.path, op.value as JsonValue));
    return out;
  });
}

/** Where a body was sent: the fields of `objectRef` that decide what it can hold. */
export interface BodyTarget {
  resource: string | null;
  subresource: string | null;
}

function hasCredentialKind(value: Obj): boolean {
  const kind = value.kind;
  if (kind === 'Secret' || kind === 'SecretList' || kind === 'TokenRequest' || kind === 'TokenReview') return true;
  if (kind === 'WatchEvent') return isJsonObject(value.object) && hasCredentialKind(value.object);
  if (kind === 'Table')
    return (
      Array.isArray(value.rows) && value.rows.some((row) => isJsonObject(row) && isJsonObject(row.object) && hasCredentialKind(row.object))
    );
  return kind === 'List' && Array.isArray(value.items) && value.items.some((item) => isJsonObject(item) && hasCredentialKind(item));
}

/**
 * Redacts every credential a request or response body can carry: Secret `data` / `stringData`
 * (objects, lists, watch events, every patch form sent to `secrets`, the last-applied-configuration
 * annotation), TokenRequest `status.token` and TokenReview `spec.token`. Returns the input itself
 * when there is nothing to redact, a redacted copy otherwise; never mutates.
 */
export function redactBody(value: JsonValue | undefined, target: BodyTarget): JsonValue | undefined {
  if (value === undefined || value === null) return value;
  if (target.resource === 'secrets') {
    // A JSON patch is an array of operations; a patch or body the apiserver logged as text
    // (not JSON) cannot be read, so all of it goes.
    if (Array.isArray(value)) return redactJsonPatch(value);
    if (!isJsonObject(value)) return REDACTED;
    return redactSecretObject(value, true);
  }
  // A JSON patch sent elsewhere: its operations' values by where they go in a pod spec.
  if (Array.isArray(value)) return redactPodBody(redactParamPatch(value, target.resource), target.resource === 'configmaps');
  if (!isJsonObject(value)) return value;
  if (target.resource === 'serviceaccounts' && target.subresource === 'token') return redactAt(value, 'status', 'token');
  if (target.resource === 'tokenreviews') return redactAt(value, 'spec', 'token');
  const embedding = target.resource === 'objects' ? redactManifestHolder(value) : redactGitOpsValues(value, target.resource);
  // Workflow and pipeline parameters, Secrets a policy generates (lib/audit/redact-params.ts).
  const params = redactParamValues(embedding, target.resource);
  const kept = hasCredentialKind(params) ? redactSecretObject(params, false) : params;
  // Pod specs' literal credentials (lib/audit/redact-pod.ts); a failed request's Status answer quotes the error text.
  return redactStatusText(redactPodBody(kept, target.resource === 'configmaps') as Obj);
}

// Crossplane's provider-kubernetes `Object` (kubernetes.crossplane.io, kubernetes.m.crossplane.io;
// resource `objects`) carries the manifest it applies in `spec.forProvider.manifest` and the object
// it observed in `status.atProvider.manifest`. By default a value it copies from a Secret
// (`spec.references[].patchesFrom`) is stored in both, "readable by anyone who can read Objects",
// and a Secret written there directly always is (crossplane-contrib/provider-kubernetes,
// docs/sanitize-secrets.md). A manifest of kind Secret is redacted as a Secret is; any other as
// the object itself would be (redactPodBody): a Deployment's or Pod's env and command lines, a
// ConfigMap's data (the provider's own examples manage both: examples/namespaced/object/
// object-ssa-deployment.yaml, references/patches-from-resource.yaml).
const MANIFEST_PLACES = [
  ['spec', 'forProvider'],
  ['status', 'atProvider'],
] as const;

/**
 * Whether a manifest is a Secret's, or may be: a merge patch of an `Object` (what kubectl and
 * Argo CD send to a custom resource) carries only what changed, often the manifest's `data`
 * without its `kind`; a ConfigMap's cannot be told from a Secret's there, so both go as a Secret's.
 */
function holdsSecret(manifest: Obj): boolean {
  if (manifest.kind === 'Secret') return true;
  return manifest.kind === undefined && (Object.hasOwn(manifest, 'data') || Object.hasOwn(manifest, 'stringData'));
}

/** Whether `obj` is a Crossplane provider-kubernetes `Object` by its own apiVersion and kind (a copy in an annotation). */
export function isManifestHolder(obj: Obj): boolean {
  const api = obj.apiVersion;
  return obj.kind === 'Object' && typeof api === 'string' && /^kubernetes(?:\.m)?\.crossplane\.io\//.test(api);
}

/** An `Object` (or its list, or watch event) with each manifest it holds redacted; the same value when it holds none. */
export function redactManifestHolder(obj: Obj): Obj {
  if (Array.isArray(obj.items)) {
    const items = mapSame(obj.items, (item) => (isJsonObject(item) ? redactManifestHolder(item) : item));
    if (items === obj.items) return obj;
    const out = copyObj(obj);
    setOwn(out, 'items', items);
    return out;
  }
  if (isJsonObject(obj.object) && !isJsonObject(obj.spec)) {
    const inner = redactManifestHolder(obj.object);
    if (inner === obj.object) return obj;
    const out = copyObj(obj);
    setOwn(out, 'object', inner);
    return out;
  }
  let out = obj;
  for (const [outer, inner] of MANIFEST_PLACES) {
    const part = out[outer];
    if (!isJsonObject(part) || !isJsonObject(part[inner])) continue;
    const place = part[inner] as Obj;
    const manifest = place.manifest;
    if (!isJsonObject(manifest)) continue;
    const kept = holdsSecret(manifest) ? redactSecretObject(manifest, true) : (redactPodBody(manifest, false) as Obj);
    if (kept === manifest) continue;
    const placeOut = copyObj(place);
    setOwn(placeOut, 'manifest', kept);
    const partOut = copyObj(part);
    setOwn(partOut, inner, placeOut);
    if (out === obj) out = copyObj(obj);
    setOwn(out, outer, partOut);
  }
  return out;
}

/** A Status (`responseStatus`, or a failed request's answer) with the URLs its messages quote scrubbed (scrubTextUrls). */
function redactStatusText(status: Obj): Obj {
  const message = status.message;
  let out = status;
  if (typeof message === 'string') {
    const kept = scrubTextUrls(message);
    if (kept !== message) {
      out = copyObj(status);
      setOwn(out, 'message', kept);
    }
  }
  const details = status.details;
  if (!isJsonObject(details) || !Array.isArray(details.causes)) return out;
  let changed = false;
  const causes = details.causes.map((cause) => {
    if (!isJsonObject(cause) || typeof cause.message !== 'string') return cause;
    const kept = scrubTextUrls(cause.message);
    if (kept === cause.message) return cause;
    changed = true;
    const c = copyObj(cause);
    setOwn(c, 'message', kept);
    return c;
  });
  if (!changed) return out;
  const detailsOut = copyObj(details);
  setOwn(detailsOut, 'causes', causes);
  if (out === status) out = copyObj(status);
  setOwn(out, 'details', detailsOut);
  return out;
}

/** Annotations with the URLs their values quote scrubbed (a policy's audit annotation, a webhook's). */
function redactAnnotationText(annotations: Obj): Obj {
  let out: Obj | undefined;
  for (const key of Object.keys(annotations)) {
    const value = annotations[key];
    if (typeof value !== 'string') continue;
    const kept = scrubTextUrls(value);
    if (kept !== value) {
      out ??= copyObj(annotations);
      setOwn(out, key, kept);
    }
  }
  return out ?? annotations;
}

/** Where a credential's value starts in JSON text, by its key (`"data":`, `"token":`, ...), or -1. */
function firstCredentialKey(text: string): number {
  let first = -1;
  for (const key of CREDENTIAL_KEYS_AS_TEXT) {
    const at = text.indexOf(key);
    if (at !== -1 && (first === -1 || at < first)) first = at;
  }
  return first;
}

/**
 * A string of a rejected item that may be an event's JSON text (an AKS record's `properties.log`,
 * a Pub/Sub message's data): when it parses, its value is redacted as an item is and written back;
 * when it does not (cut short, or not quite JSON), it is cut where the first credential field
 * starts, since a value there cannot be told from its surroundings. Other text loses JWT signatures.
 */
function redactRejectedText(text: string): string {
  const start = text.trimStart().charCodeAt(0);
  if (start !== 0x7b && start !== 0x5b) return scrubJwtText(text);
  try {
    return JSON.stringify(redactRejectedItem(JSON.parse(text)));
  } catch {
    const at = firstCredentialKey(text);
    return at === -1 ? scrubJwtText(text) : `${scrubJwtText(text.slice(0, at))}${REDACTED}`;
  }
}

const REJECT_SECRET_MAPS = new Set(['data', 'stringData']);
const REJECT_SECRET_VALUES = new Set(['token', LAST_APPLIED]);
/** The keys a rejected item's credentials sit under, as JSON text writes them (`"data"`). */
const CREDENTIAL_KEYS_AS_TEXT = [...REJECT_SECRET_MAPS, ...REJECT_SECRET_VALUES].map((k) => JSON.stringify(k));
const REJECT_BODIES = new Set(['requestObject', 'responseObject']);

/**
 * Redacts an item the ingest rejected, which is not a valid event and may hold anything: every
 * `data` / `stringData` map (keys kept), every `token` and last-applied-configuration value, every
 * JSON patch `value` and any body given as text, wherever they are, the query credentials of a
 * `requestURI` (`scrubUriCredentials`), a `{name, value}` pair's value by the env rule and a
 * `command` or `args` list by the command-line rule (redact-pod.ts, redact-argv.ts), and every JWT's signature
 * (`scrubJwtText`). Conservative by design: the item is kept so a person can fix and replay it,
 * not for detections. Never mutates.
 */
export function redactRejectedItem(value: unknown): JsonValue {
  // Cut first: a hostile item may nest deeper than the walk's stack.
  return redactRejectedValue(limitDepth(value).value, null);
}

function redactRejectedValue(value: unknown, key: string | null): JsonValue {
  if (value === null || value === undefined) return null;
  if (key !== null) {
    if (REJECT_SECRET_MAPS.has(key)) return isJsonObject(value) ? (redactValues(value) as JsonValue) : REDACTED;
    if (REJECT_SECRET_VALUES.has(key)) return REDACTED;
    if (REJECT_BODIES.has(key) && typeof value === 'string') return REDACTED;
  }
  if (Array.isArray(value)) {
    // A JSON patch under a body: every operation's value goes.
    const patch = key !== null && REJECT_BODIES.has(key);
    const out = value.map((v) => redactRejectedValue(v, patch && isJsonObject(v) ? '\u0000patch-op' : null));
    // A container's command line, wherever the item has one, by the command-line rule.
    return (key === 'command' || key === 'args') && out.every((v) => typeof v === 'string') ? [...scrubArgv(out as string[])] : out;
  }
  if (typeof value === 'string') return redactRejectedText(key === 'requestURI' ? scrubCommandQuery(scrubUriCredentials(value)) : value);
  if (typeof value !== 'object') return value as JsonValue;
  const obj = value as Obj;
  const out: Obj = {};
  const isPatchOp = key === '\u0000patch-op';
  for (const k of Object.keys(obj)) {
    const v = obj[k];
    setOwn(out, scrubJwtText(k), isPatchOp && k === 'value' ? REDACTED : redactRejectedValue(v, k));
  }
  // A name and its value (a container's env entry, wherever the item has one), by the env rule.
  if (!isPatchOp && typeof obj.name === 'string' && typeof out.value === 'string') setOwn(out, 'value', keptValue(obj.name, out.value));
  return out;
}

// A JSON Web Token is a bearer credential wherever it appears: a service account's token (what
// every pod mounts and TokenRequest returns), an OIDC ID token, a cloud identity token. The API's
// own places for one are redacted above; anywhere else (a requestURI query sent through
// services/proxy, a ConfigMap holding a kubeconfig, a container's env or args, an annotation) it
// is text the API cannot tell apart, but its shape can: three base64url segments, the first two
// encoding JSON objects (RFC 7515's compact serialization, RFC 7519). The signature is what makes
// it usable, so only the signature goes: the header and claims (issuer, subject, expiry, token id)
// stay as evidence of which token leaked, and are no credential.
//
// Found without a regular expression, in time linear in the text: a JSON object's base64url starts
// with "e" and then "y" ('{"', '{ ') or "w" ('{' and a line break or tab), so each ".ey" or ".ew"
// is where claims may start; the claims are the base64url run after it, the signature the run
// after the next dot, and the header the end of the run before it. The header need not start
// where that run does: in `?auth=Bearer%20eyJ…` or `token=xeyJ…` the run is "20eyJ…" or
// "xeyJ…", so the header is the run's first suffix (from an "e") that starts a JSON object.
// Only the last HEADER_SCAN characters of the run are tried, and at most HEADER_TRIES starts: a
// header is a few hundred characters, and a hostile run of "eyeyey…" costs a bounded number of
// decodes per claims segment, never the run's length squared.

/** How far back from the claims a header may start, and how many starts are tried. */
const HEADER_SCAN = 4096;
const HEADER_TRIES = 16;

function isBase64Url(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 95;
}

/** Whether text[from, to) is base64url of a JSON object: `{…}`, whitespace around allowed. */
function isJsonObjectB64(text: string, from: number, to: number): boolean {
  const decoded = Buffer.from(text.slice(from, to), 'base64url').toString('latin1').trim();
  return decoded.startsWith('{') && decoded.endsWith('}');
}

/**
 * Whether text[from, to) starts a JWT segment: '{"' (base64url "eyJ", what every issuer writes),
 * or any other start of a JSON object ('{ "', '{' and a line break) when the whole run decodes to one.
 */
function isObjectStart(text: string, from: number, to: number): boolean {
  return text.startsWith('eyJ', from) || isJsonObjectB64(text, from, to);
}

/** Where the header of the claims after text[dot] starts, or -1 when the run before the dot holds none. */
function headerStart(text: string, dot: number): number {
  let start = dot;
  const floor = Math.max(0, dot - HEADER_SCAN);
  while (start > floor && isBase64Url(text.charCodeAt(start - 1))) start--;
  let tries = 0;
  for (let p = start; p < dot - 1 && tries < HEADER_TRIES; p++) {
    if (text.charCodeAt(p) !== 101) continue; // "e"
    const next = text.charCodeAt(p + 1);
    if (next !== 121 && next !== 119) continue; // "y", "w"
    tries++;
    if (isObjectStart(text, p, dot)) return p;
  }
  return -1;
}

function runEnd(text: string, from: number): number {
  let i = from;
  while (i < text.length && isBase64Url(text.charCodeAt(i))) i++;
  return i;
}

/** Whether `text` may hold a JWT (the dot before its claims): a string without ".ey" or ".ew" holds none. */
export function mayHoldJwt(text: string): boolean {
  return text.includes('.ey') || text.includes('.ew');
}

/** `text` with the signature of every JWT in it replaced by the marker (the same string when it holds none). */
export function scrubJwtText(text: string): string {
  if (!mayHoldJwt(text)) return text;
  let out = '';
  let copied = 0;
  let from = 0;
  for (;;) {
    const dot = text.indexOf('.e', from);
    if (dot === -1) break;
    const kind = text.charCodeAt(dot + 2);
    if (kind !== 121 && kind !== 119) {
      from = dot + 1;
      continue;
    }
    const claimsEnd = runEnd(text, dot + 1);
    const signatureEnd = text.charCodeAt(claimsEnd) === 46 ? runEnd(text, claimsEnd + 1) : claimsEnd;
    if (signatureEnd === claimsEnd || signatureEnd === claimsEnd + 1) {
      from = claimsEnd;
      continue;
    }
    if (headerStart(text, dot) === -1 || !isObjectStart(text, dot + 1, claimsEnd)) {
      from = claimsEnd;
      continue;
    }
    out += `${text.slice(copied, claimsEnd + 1)}${REDACTED}`;
    copied = signatureEnd;
    from = signatureEnd;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

function scrubWalk(value: JsonValue): JsonValue {
  if (typeof value === 'string') return scrubJwtText(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return mapSame(value, scrubWalk);
  let out: Obj | undefined;
  const keys = Object.keys(value);
  for (const key of keys) {
    const v = value[key] as JsonValue;
    const c = scrubWalk(v);
    // A JWT can be a key too (a ConfigMap's data keyed by token): the key loses its signature.
    const k = scrubJwtText(key);
    if (k !== key) return scrubKeys(value, keys);
    if (c !== v) {
      out ??= copyObj(value);
      setOwn(out, key, c);
    }
  }
  return out ?? value;
}

/** An object some of whose keys hold a JWT: rebuilt in key order, keys and values scrubbed. */
function scrubKeys(value: Obj, keys: readonly string[]): Obj {
  const out: Obj = {};
  for (const key of keys) setOwn(out, scrubJwtText(key), scrubWalk(value[key] as JsonValue));
  return out;
}

/**
 * The event with the signature of every JWT in its string values redacted (see JWT above). The
 * event itself when it holds none, a copy otherwise; never mutates. An event nested too deep for
 * the walk is cut first, as the stored record is (lib/audit/depth.ts), and `cut` says so.
 */
export function scrubJwts(event: AuditEvent): { event: AuditEvent; cut: boolean } {
  try {
    return { event: scrubWalk(event as unknown as JsonValue) as unknown as AuditEvent, cut: false };
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return { event: scrubWalk(limitDepth(event).value as JsonValue) as unknown as AuditEvent, cut: true };
  }
}

/**
 * `redactEvent`, for an event nested deeper than the walks' stack (a hostile body, `[[[[…]]]]`
 * tens of thousands deep, which JSON.parse reads): the event is cut first, as the stored record
 * is (lib/audit/depth.ts), and `cut` says so. Any other event costs nothing more.
 */
export function redactEventBounded(event: AuditEvent, target: BodyTarget): { event: AuditEvent; cut: boolean } {
  try {
    return { event: redactEvent(event, target), cut: false };
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return { event: redactEvent(limitDepth(event).value as AuditEvent, target), cut: true };
  }
}

/**
 * The event as a record keeps it: its request and response bodies through `redactBody` for the
 * event's target, and its `requestURI` through `scrubUriCredentials` (a query's credentials). The
 * event itself when nothing was redacted, a copy otherwise; never mutates. The record also loses
 * its JWTs' signatures (`scrubJwts`, applied by the normaliser).
 */
export function redactEvent(event: AuditEvent, target: BodyTarget): AuditEvent {
  const requestObject = redactBody(event.requestObject, target);
  const responseObject = redactBody(event.responseObject, target);
  const uri = event.requestURI;
  const requestURI = typeof uri === 'string' ? scrubCommandQuery(scrubUriCredentials(uri)) : uri;
  const status = event.responseStatus;
  const responseStatus = isJsonObject(status) ? redactStatusText(status) : status;
  const notes = event.annotations;
  const annotations = isJsonObject(notes) ? redactAnnotationText(notes) : notes;
  if (
    requestObject === event.requestObject &&
    responseObject === event.responseObject &&
    requestURI === uri &&
    responseStatus === status &&
    annotations === notes
  )
    return isOpenShiftTarget(target.resource) ? redactOpenShiftEvent(event, target) : event;
  const out: AuditEvent = { ...event };
  if (requestObject !== undefined) out.requestObject = requestObject;
  if (responseObject !== undefined) out.responseObject = responseObject;
  if (requestURI !== uri) out.requestURI = requestURI;
  if (responseStatus !== status) out.responseStatus = responseStatus;
  if (annotations !== notes) out.annotations = annotations;
  // OpenShift's own credentials (Route keys, OAuthClient secrets, token names, ...): one Set
  // lookup for every other event (redact-openshift.ts).
  return isOpenShiftTarget(target.resource) ? redactOpenShiftEvent(out, target) : out;
}
