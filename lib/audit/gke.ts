import { isJsonObject } from '../json.js';
import { setOwn } from './redact.js';
import type { AuditEvent, AuditObjectRef, AuditSource, JsonObject, JsonValue } from './types.js';

/**
 * GKE writes its clusters' apiserver audit events to Cloud Logging as `LogEntry`s whose
 * `protoPayload` is a Cloud Audit Logs `AuditLog`. This file turns one such entry back into an
 * `audit.k8s.io/v1` Event, so the one normaliser sees the same shape from every cloud. Sources,
 * named per rule below: Google's "GKE audit logging information" page (the entry's fields),
 * the Cloud Logging `LogEntry` and `AuditLog` references, and Falco's `k8saudit-gke` plugin
 * (falcosecurity/plugins, plugins/k8saudit-gke/pkg/k8sauditgke/convert.go and source.go).
 */

/** The audit logs a GKE sink carries; Falco's `isValidLogEntry` accepts the same two. */
const AUDIT_LOG_SUFFIXES = ['cloudaudit.googleapis.com%2Factivity', 'cloudaudit.googleapis.com%2Fdata_access'] as const;
const AUDIT_LOG_TYPE = 'type.googleapis.com/google.cloud.audit.AuditLog';
/** The annotation that says which Cloud Audit Logs log the entry came from (`activity` or `data_access`). */
export const GKE_LOG_ANNOTATION = 'logging.googleapis.com/log';

/** Why a Pub/Sub push message is rejected whose data is no JSON (its decoded text is kept); `rejected --replay` reads it. */
export const GKE_DATA_NOT_JSON = 'message data is not base64 of a JSON LogEntry';
const DECISION = 'authorization.k8s.io/decision';
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

/**
 * `google.rpc.Code` → HTTP status, as google/rpc/code.proto documents each code's HTTP mapping.
 * Used when the entry has a non-OK `status` but no Kubernetes `Status` object in `response`.
 */
const HTTP_BY_RPC_CODE: Readonly<Record<number, number>> = {
  1: 499,
  2: 500,
  3: 400,
  4: 504,
  5: 404,
  6: 409,
  7: 403,
  8: 429,
  9: 400,
  10: 409,
  11: 400,
  12: 501,
  13: 500,
  14: 503,
  15: 500,
  16: 401,
};

/** Where a GKE entry came from: the cluster and the OCSF cloud fields. */
export interface GkeEntryOrigin {
  clusterName: string | null;
  source: AuditSource;
}

/** What `gkeLogEntryToAuditEvent` makes of one entry. */
export type GkeConversion =
  | { kind: 'event'; event: AuditEvent; origin: GkeEntryOrigin }
  /** Not a GKE Kubernetes audit entry: skipped and counted, never an error (a sink's filter may be wide). */
  | { kind: 'skipped'; reason: string }
  /** A GKE Kubernetes audit entry that cannot be used, with the reason. */
  | { kind: 'rejected'; reason: string; auditID?: string };

function str(value: JsonValue | undefined): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Parses `resourceName` (`<group>/<version>/namespaces/<ns>/<resource>/<name>/<subresource>`, or
 * `<group>/<version>/<resource>/<name>/<subresource>` when cluster-scoped; GKE audit logging
 * page) into an objectRef. The cases follow Falco's `getObjectReference`, plus the one it leaves
 * out: `<group>/<version>/<resource>`, a list across the cluster (`core/v1/namespaces`, `core/v1/pods`).
 * The group `core` is the apiserver's empty core group, which audit events leave out.
 */
export function gkeObjectRef(resourceName: string): AuditObjectRef | null {
  const parts = resourceName.split('/');
  if (parts.length < 3 || parts.some((p) => p === '')) return null;
  const [group, version] = parts as [string, string];
  const ref: AuditObjectRef = {};
  // The apiserver's own reading of a path (k8s.io/apiserver, endpoints/request/requestinfo.go):
  // after namespaces/<ns> comes a resource, unless it is a namespace subresource (status,
  // finalize); a namespace object has its own name as its namespace.
  const namespaced = parts[2] === 'namespaces' && parts.length >= 4;
  if (namespaced) ref.namespace = parts[3] as string;
  const inside = namespaced && parts.length >= 5 && !NAMESPACE_SUBRESOURCES.has(parts[4] as string);
  const rest = parts.slice(inside ? 4 : 2);
  ref.resource = rest[0] as string;
  if (rest[1] !== undefined) ref.name = rest[1];
  if (rest[2] !== undefined) ref.subresource = rest.slice(2).join('/');
  if (group !== 'core') ref.apiGroup = group;
  ref.apiVersion = version;
  return ref;
}

/**
 * The path of a request for no API object (`/readyz`, `/version`): GKE's resourceName with the one
 * leading slash a request path has. A resourceName may already be the path (`/readyz`: the GKE
 * health check of panther-labs/panther-analysis rules/kubernetes_rules/k8s_system_principal_public_ip.yml);
 * `//readyz` is no path an apiserver serves, and the rules that leave out the public health
 * endpoints would not know it.
 */
function nonResourcePath(resourceName: string | undefined): string {
  return `/${(resourceName ?? '').replace(/^\/+/, '')}`;
}

/**
 * The request path the apiserver served, rebuilt from the objectRef with the Kubernetes API's
 * path layout (`/api/v1/...` for the core group, `/apis/<group>/<version>/...` otherwise). GKE
 * logs no query string, so an exec's `?command=` is not in it. Falco's plugin uses
 * `/<resourceName>`, which no apiserver serves.
 */
function requestPath(ref: AuditObjectRef, toCollection: boolean): string {
  const base = ref.apiGroup === undefined ? `/api/${ref.apiVersion}` : `/apis/${ref.apiGroup}/${ref.apiVersion}`;
  const segments = [base];
  if (ref.namespace !== undefined && ref.resource !== 'namespaces') segments.push('namespaces', ref.namespace);
  if (ref.resource !== undefined) segments.push(ref.resource);
  if (ref.name !== undefined && !toCollection) segments.push(ref.name);
  if (ref.subresource !== undefined) segments.push(ref.subresource);
  return segments.join('/');
}

/** A request or response body without the `@type` GKE adds (the apiserver's object has `apiVersion`/`kind`). */
function body(value: JsonValue | undefined): JsonValue | undefined {
  if (!isJsonObject(value)) return value;
  if (!('@type' in value)) return value;
  const { '@type': _type, ...rest } = value;
  return rest;
}

/**
 * The response status: the Kubernetes `Status` GKE keeps in `response` when the request failed
 * (it has the real code), else the entry's `google.rpc.Status` mapped to HTTP, else success. GKE
 * does not log the code of a successful request: Falco's plugin infers 201 for create and 200
 * otherwise, and 101 for exec and attach, which upgrade the connection; so does this, and for
 * portforward, which upgrades it too.
 */
function responseStatus(payload: JsonObject, verb: string | undefined, streaming: boolean): JsonObject {
  const response = payload.response;
  if (isJsonObject(response) && response.kind === 'Status' && typeof response.code === 'number') {
    const out: JsonObject = { metadata: {}, code: response.code };
    for (const key of ['status', 'message', 'reason'] as const) {
      const v = str(response[key]);
      if (v !== undefined) out[key] = v;
    }
    return out;
  }
  const status = isJsonObject(payload.status) ? payload.status : {};
  const rpc = typeof status.code === 'number' ? status.code : 0;
  if (rpc !== 0) {
    const out: JsonObject = { metadata: {}, status: 'Failure', code: HTTP_BY_RPC_CODE[rpc] ?? 500 };
    const message = str(status.message);
    if (message !== undefined) out.message = message;
    return out;
  }
  return { metadata: {}, code: streaming ? 101 : verb === 'create' ? 201 : 200 };
}

/** The audit level the entry's content shows (GKE's own policy chooses it; the entry does not name it). */
function levelOf(payload: JsonObject): string {
  if (payload.response !== undefined && payload.response !== null) return 'RequestResponse';
  if (payload.request !== undefined && payload.request !== null) return 'Request';
  return 'Metadata';
}

/**
 * The authorization decision when the entry's labels lack it: GKE's `authorizationInfo` lists
 * each permission checked with `granted`; any refusal is a forbid.
 */
function decisionOf(payload: JsonObject): string | undefined {
  const info = payload.authorizationInfo;
  if (!Array.isArray(info) || info.length === 0) return undefined;
  const granted = info.map((i) => (isJsonObject(i) ? i.granted : undefined));
  if (granted.some((g) => g === false)) return 'forbid';
  if (granted.every((g) => g === true)) return 'allow';
  return undefined;
}

/**
 * Turns one Cloud Logging `LogEntry` (as JSON, the way a log sink publishes it to Pub/Sub) into
 * an `audit.k8s.io/v1` Event and where it came from, or says why it is skipped or rejected.
 * Pure: the input is never mutated. Never throws.
 */
export function gkeLogEntryToAuditEvent(entry: unknown): GkeConversion {
  if (!isJsonObject(entry)) return { kind: 'skipped', reason: 'message data is not a JSON object (a Cloud Logging LogEntry)' };
  // Falco source.go `isValidLogEntry`: the Admin Activity or Data Access audit log, resource k8s_cluster.
  const logName = str(entry.logName) ?? '';
  const log = AUDIT_LOG_SUFFIXES.find((suffix) => logName.endsWith(`/logs/${suffix}`));
  if (log === undefined) {
    return { kind: 'skipped', reason: `logName ${JSON.stringify(logName)} is not a Cloud Audit Logs activity or data_access log` };
  }
  const resource = isJsonObject(entry.resource) ? entry.resource : {};
  if (resource.type !== 'k8s_cluster') {
    return { kind: 'skipped', reason: `resource.type ${JSON.stringify(resource.type ?? null)} is not k8s_cluster (a GKE cluster)` };
  }
  const payload = entry.protoPayload;
  // Falco source.go: the payload must be an AuditLog of the service k8s.io (the apiserver's own;
  // container.googleapis.com entries are GKE's control plane API, not Kubernetes audit events).
  if (!isJsonObject(payload) || payload['@type'] !== AUDIT_LOG_TYPE) {
    return { kind: 'skipped', reason: 'protoPayload is not a google.cloud.audit.AuditLog' };
  }
  if (payload.serviceName !== 'k8s.io') {
    return { kind: 'skipped', reason: `protoPayload.serviceName ${JSON.stringify(payload.serviceName ?? null)} is not k8s.io` };
  }

  // Falco convert.go uses insertId as the auditID; the GKE page says operation.id holds the same value.
  const operation = isJsonObject(entry.operation) ? entry.operation : {};
  const auditID = str(entry.insertId) ?? str(operation.id);
  if (auditID === undefined) return { kind: 'rejected', reason: 'GKE audit entry has no insertId (its audit ID)' };
  const methodName = str(payload.methodName);
  if (methodName === undefined) return { kind: 'rejected', reason: 'GKE audit entry has no protoPayload.methodName', auditID };

  // methodName is io.k8s.<group>.<version>.<resource>[.<subresource>].<verb> (GKE page; Falco getVerb).
  const verb = methodName.slice(methodName.lastIndexOf('.') + 1);
  const authz = Array.isArray(payload.authorizationInfo) ? payload.authorizationInfo : [];
  const resourceName = str(payload.resourceName) ?? str(isJsonObject(authz[0]) ? authz[0].resource : undefined);
  const objectRef = resourceName === undefined ? null : gkeObjectRef(resourceName);
  // GKE names the created object in resourceName, but a create is a POST to the collection: the
  // apiserver's path has no name, and a new namespace is not yet anyone's namespace (requestinfo.go).
  const toCollection = verb === 'create' && objectRef !== null && objectRef.subresource === undefined;
  if (toCollection && objectRef.resource === 'namespaces') delete objectRef.namespace;
  // Falco convert.go: exec and attach hold the connection open; their one event is ResponseStarted.
  // A port-forward upgrades the connection as they do (the apiserver answers it 101 too).
  const streaming = objectRef?.subresource === 'exec' || objectRef?.subresource === 'attach' || objectRef?.subresource === 'portforward';
  const metadata = isJsonObject(payload.requestMetadata) ? payload.requestMetadata : {};
  const auth = isJsonObject(payload.authenticationInfo) ? payload.authenticationInfo : {};
  // LogEntry.timestamp is when the request happened; receiveTimestamp, which Falco uses, is when
  // Cloud Logging got the entry (seconds later): the fallback only.
  const time = str(entry.timestamp) ?? str(entry.receiveTimestamp);

  // Falco convert.go copies the entry's labels into the annotations: GKE writes the apiserver's
  // audit annotations (authorization.k8s.io/decision and /reason, admission webhooks) there.
  const annotations: JsonObject = {};
  if (isJsonObject(entry.labels)) {
    for (const [key, value] of Object.entries(entry.labels)) if (typeof value === 'string') setOwn(annotations, key, value);
  }
  if (annotations[DECISION] === undefined) {
    const decision = decisionOf(payload);
    if (decision !== undefined) annotations[DECISION] = decision;
  }
  annotations[GKE_LOG_ANNOTATION] = log === AUDIT_LOG_SUFFIXES[0] ? 'activity' : 'data_access';

  const event: AuditEvent = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: levelOf(payload),
    auditID,
    stage: streaming ? 'ResponseStarted' : 'ResponseComplete',
    requestURI: objectRef === null ? nonResourcePath(resourceName) : requestPath(objectRef, toCollection),
    verb,
    // Falco convert.go: principalEmail is the Kubernetes username (a Google account, a Google
    // service account, or system:serviceaccount:<ns>:<name>); GKE logs no groups.
    user: str(auth.principalEmail) === undefined ? {} : { username: str(auth.principalEmail) as string },
  };
  const callerIp = str(metadata.callerIp);
  if (callerIp !== undefined) event.sourceIPs = [callerIp];
  const userAgent = str(metadata.callerSuppliedUserAgent);
  if (userAgent !== undefined) event.userAgent = userAgent;
  if (objectRef !== null) event.objectRef = objectRef;
  event.responseStatus = responseStatus(payload, verb, streaming);
  const request = body(payload.request);
  if (request !== undefined && request !== null) event.requestObject = request;
  const response = body(payload.response);
  if (response !== undefined && response !== null) event.responseObject = response;
  if (time !== undefined) {
    event.requestReceivedTimestamp = time;
    event.stageTimestamp = time;
  }
  event.annotations = annotations;

  const labels = isJsonObject(resource.labels) ? resource.labels : {};
  return {
    kind: 'event',
    event,
    origin: {
      clusterName: str(labels.cluster_name) ?? null,
      source: { platform: 'gke', accountId: str(labels.project_id) ?? null, region: str(labels.location) ?? null },
    },
  };
}
