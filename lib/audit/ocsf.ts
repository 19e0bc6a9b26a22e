import { isJsonObject } from '../json.js';
import { TRUNCATED_ANNOTATION } from './fields.js';
import { canonicalIp } from './ip.js';
import { setOwn } from './redact.js';
import type { AuditEvent, AuditSource, JsonValue, OcsfApiActivity, Severity } from './types.js';

/** OCSF schema version the records validate against (`shared/schema/`). */
export const OCSF_VERSION = '1.8.0';

type Obj = { [key: string]: JsonValue };

const ACTIVITY_BY_VERB: Record<string, number> = {
  create: 1,
  get: 2,
  list: 2,
  watch: 2,
  update: 3,
  patch: 3,
  delete: 4,
  deletecollection: 4,
};
const ACTIVITY_NAMES: Record<number, string> = { 0: 'Unknown', 1: 'Create', 2: 'Read', 3: 'Update', 4: 'Delete', 99: 'Other' };
// OCSF severity_id: info → 1 Informational ... high → 4 High (5 Critical is not used).
const SEVERITY_IDS: Record<Severity, [number, string]> = {
  info: [1, 'Informational'],
  low: [2, 'Low'],
  medium: [3, 'Medium'],
  high: [4, 'High'],
};
/** OCSF `severity_id` and `severity` of a severity band. */
export function ocsfSeverity(severity: Severity): [number, string] {
  return SEVERITY_IDS[severity];
}

const HTTP_METHOD_BY_VERB: Record<string, string> = {
  get: 'GET',
  list: 'GET',
  watch: 'GET',
  create: 'POST',
  update: 'PUT',
  patch: 'PATCH',
  delete: 'DELETE',
  deletecollection: 'DELETE',
};

const FEATURE_NAMES: Record<AuditSource['platform'], string> = {
  eks: 'Elastic Kubernetes Service',
  gke: 'Google Kubernetes Engine',
  aks: 'Azure Kubernetes Service',
  kubernetes: 'Kubernetes',
};
// A GKE location is a region (us-central1) or, for a zonal cluster, a zone (us-central1-c):
// Compute Engine's naming, where a zone is its region plus a one-letter suffix.
const GCP_ZONE = /^([a-z]+-[a-z]+\d+)-[a-z]$/;

/** OCSF `cloud` for a managed cluster's source (the cloud profile requires `provider`); none for self-hosted. */
function cloudOf(source: AuditSource): Obj | undefined {
  const accountId = source.accountId ?? undefined;
  const location = source.region ?? undefined;
  switch (source.platform) {
    case 'eks':
      return compact({ provider: 'AWS', region: location, account: accountId ? { uid: accountId } : undefined });
    case 'gke': {
      const zone = location === undefined ? null : GCP_ZONE.exec(location);
      return compact({
        provider: 'GCP',
        region: zone === null ? location : zone[1],
        zone: zone === null ? undefined : location,
        // project_uid is deprecated in OCSF 1.8: the project is an account of type GCP Project.
        account: accountId ? { uid: accountId, type: 'GCP Project', type_id: 11 } : undefined,
      });
    }
    case 'aks':
      return compact({
        provider: 'Azure',
        region: location,
        account: accountId ? { uid: accountId, type: 'Azure Subscription', type_id: 13 } : undefined,
      });
    case 'kubernetes':
      return undefined;
  }
}

/** OCSF activity_id for an audit verb (create 1, read 2, update 3, delete 4, other 99). */
export function activityIdForVerb(verb: string | null): number {
  if (verb === null || verb === '') return 0;
  // Own keys only: a verb such as "toString" or "constructor" must not find Object.prototype's.
  return Object.hasOwn(ACTIVITY_BY_VERB, verb) ? (ACTIVITY_BY_VERB[verb] as number) : 99;
}

/** The values the normaliser already read out of the event, shared with the OCSF builder. */
export interface OcsfInput {
  event: AuditEvent;
  tenantId: string | null;
  clusterName: string | null;
  dedupKey: string;
  verb: string | null;
  user: string | null;
  groups: string[];
  resource: string | null;
  subresource: string | null;
  namespace: string | null;
  objectName: string | null;
  apiGroup: string | null;
  responseCode: number | null;
  decision: string | null;
  reason: string | null;
  sourceIps: string[];
  userAgent: string | null;
  requestUri: string | null;
  severity: Severity;
  /** Event time (epoch ms): stageTimestamp, else the other timestamps, else received time. */
  time: number;
  startTime: number | null;
  timeSource: 'event' | 'received';
  requestObject: JsonValue | undefined;
  responseObject: JsonValue | undefined;
  source: AuditSource | undefined;
}

function firstString(value: JsonValue | undefined): string | null {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return null;
}

function userTypeId(name: string | null): number {
  if (name === null) return 0;
  if (name.startsWith('system:serviceaccount:')) return 4;
  if (name.startsWith('system:') || name.startsWith('eks:')) return 3;
  return 1;
}

function statusOf(code: number | null, decision: string | null): [number, string] {
  if (code !== null && code > 0) return code >= 400 ? [2, 'Failure'] : [1, 'Success'];
  if (decision === 'forbid') return [2, 'Failure'];
  return [0, 'Unknown'];
}

function summary(i: OcsfInput): string {
  const target = [
    i.resource === null ? null : i.subresource === null ? i.resource : `${i.resource}/${i.subresource}`,
    i.namespace,
    i.objectName,
  ]
    .filter((p) => p !== null)
    .join(' ');
  // A request made through impersonation was authorized as the impersonated user (the 403 of a
  // `kubectl --as bob` says "User \"bob\" cannot ..."): name both, as kubectl's --as reads.
  const as = i.event.impersonatedUser?.username;
  const who = `${i.user ?? 'unknown user'}${typeof as === 'string' && as !== '' ? ` as ${as}` : ''}`;
  const what = i.verb ?? 'unknown verb';
  const code = i.responseCode === null ? '' : ` (${i.responseCode})`;
  return `${who} ${what} ${target === '' ? (i.requestUri ?? '') : target}${code}`.trim();
}

function stringOrUndefined(value: JsonValue | undefined): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

const MAPPED_ANNOTATIONS = new Set(['authorization.k8s.io/decision', 'authorization.k8s.io/reason']);

/** Annotations other than the authorization decision and reason, which have OCSF places of their own. */
function otherAnnotations(annotations: AuditEvent['annotations']): JsonValue | undefined {
  if (!isJsonObject(annotations)) return undefined;
  let out: Obj | undefined;
  for (const key in annotations) {
    const v = annotations[key];
    if (MAPPED_ANNOTATIONS.has(key) || v === undefined) continue;
    out ??= {};
    setOwn(out, key, v);
  }
  return out;
}

/** Removes keys whose value is `undefined`, so the record holds only what the source had. */
function compact(obj: { [key: string]: JsonValue | undefined }): Obj {
  const out: Obj = {};
  for (const key in obj) {
    const v = obj[key];
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/**
 * Builds the OCSF 1.8.0 API Activity (6003) record. Field placement follows Amazon Security
 * Lake's EKS mapping (ocsf/examples, `mappings/markdown/AWS/v1.1.0/EKS Audit Logs`) and adds
 * severity, status, tenant, cluster, dedup key and impersonation, which that mapping lacks.
 */
export function toOcsfApiActivity(i: OcsfInput): OcsfApiActivity {
  const e = i.event;
  const activityId = activityIdForVerb(i.verb);
  const activityName = ACTIVITY_NAMES[activityId] ?? 'Other';
  const [severityId, severityName] = SEVERITY_IDS[i.severity];
  const [statusId, statusName] = statusOf(i.responseCode, i.decision);
  const extra = e.user?.extra ?? {};
  const rs = e.responseStatus ?? {};

  const userObj = compact({
    name: i.user ?? undefined,
    uid: stringOrUndefined(e.user?.uid),
    uid_alt: firstString(extra.principalId) ?? firstString(extra['sigs.k8s.io/aws-iam-authenticator/principalId']) ?? undefined,
    groups: i.groups.length > 0 ? i.groups.map((name) => ({ name })) : undefined,
    type_id: userTypeId(i.user),
  });
  // `actor` needs a user with a name or uid (OCSF at_least_one); an event without one is rare
  // (an anonymous request still carries system:anonymous) but must still validate.
  if (userObj.name === undefined && userObj.uid === undefined) userObj.name = 'unknown';
  const session = compact({
    credential_uid: firstString(extra.accessKeyId) ?? undefined,
    issuer: firstString(extra.canonicalArn) ?? undefined,
    uid: firstString(extra.sessionName) ?? undefined,
  });
  const actor: Obj = { user: userObj };
  if (Object.keys(session).length > 0) actor.session = session;

  // The source is sourceIPs[0], as the flat src_ip says: when it is no address, the endpoint is
  // unknown rather than the next entry (a proxy's address, which would name the wrong client).
  let sourceIp: string | null = null;
  const intermediate: string[] = [];
  const badIps: string[] = [];
  for (let k = 0; k < i.sourceIps.length; k++) {
    const ip = i.sourceIps[k] as string;
    const canonical = canonicalIp(ip);
    if (canonical === null) badIps.push(ip);
    else if (k === 0) sourceIp = canonical;
    else intermediate.push(canonical);
  }
  const srcEndpoint: Obj = sourceIp !== null ? { ip: sourceIp } : { name: 'unknown' };
  if (intermediate.length > 0) srcEndpoint.intermediate_ips = intermediate;

  const response = compact({
    code: i.responseCode ?? undefined,
    message: stringOrUndefined(rs.message),
    error: stringOrUndefined(rs.reason),
    error_message: stringOrUndefined(rs.status),
    data: i.responseObject,
  });
  const api: Obj = compact({
    operation: i.verb ?? 'unknown',
    request: compact({ uid: e.auditID, data: i.requestObject }),
    response: Object.keys(response).length > 0 ? response : undefined,
    version: stringOrUndefined(e.objectRef?.apiVersion),
    group: i.apiGroup !== null && i.apiGroup !== '' ? { name: i.apiGroup } : undefined,
    service: { name: 'kube-apiserver' },
  });

  const resources: Obj[] = [];
  if (i.resource !== null) {
    const ref = e.objectRef ?? {};
    resources.push(
      compact({
        type: i.subresource === null ? i.resource : `${i.resource}/${i.subresource}`,
        // A list or create-with-generateName has no object name: the collection names it.
        name: i.objectName ?? (i.namespace === null ? i.resource : `${i.namespace}/${i.resource}`),
        namespace: i.namespace ?? undefined,
        uid: stringOrUndefined(ref.uid),
        version: stringOrUndefined(ref.resourceVersion),
        group: i.apiGroup !== null && i.apiGroup !== '' ? { name: i.apiGroup } : undefined,
      }),
    );
  }

  const observables: Obj[] = [];
  if (userObj.name !== undefined && i.user !== null)
    observables.push({ name: 'actor.user.name', type: 'User Name', type_id: 4, value: i.user });
  if (sourceIp !== null) observables.push({ name: 'src_endpoint.ip', type: 'IP Address', type_id: 2, value: sourceIp });
  if (i.requestUri !== null) observables.push({ name: 'http_request.url.path', type: 'URL String', type_id: 6, value: i.requestUri });
  if (i.objectName !== null)
    observables.push({ name: 'resources[].name', type: 'Resource Details Name', type_id: 38, value: i.objectName });

  const unmapped = compact({
    kind: e.kind,
    level: e.level,
    stage: e.stage,
    cluster_name: i.clusterName ?? undefined,
    annotations: otherAnnotations(e.annotations),
    impersonatedUser: e.impersonatedUser as JsonValue | undefined,
    source_ips_not_addresses: badIps.length > 0 ? badIps : undefined,
    event_time_source: i.timeSource === 'received' ? 'received: the event carried no usable timestamp' : undefined,
  });

  const metadata = compact({
    version: OCSF_VERSION,
    product: {
      name: 'AiSOC K8s Audit',
      vendor_name: 'AiSOC',
      feature: { name: FEATURE_NAMES[i.source?.platform ?? 'kubernetes'] },
      ...(typeof e.apiVersion === 'string' ? { version: e.apiVersion } : {}),
    },
    uid: i.dedupKey,
    correlation_uid: e.auditID,
    original_event_uid: e.auditID,
    tenant_uid: i.tenantId ?? undefined,
    log_level: stringOrUndefined(e.level),
    log_name: stringOrUndefined(e.kind),
    labels: i.clusterName !== null ? [`cluster:${i.clusterName}`] : undefined,
    profiles: i.source !== undefined && i.source.platform !== 'kubernetes' ? ['cloud'] : undefined,
    // An event shrunk by the apiserver's truncate backend (k8s.io/apiserver plugin/pkg/audit/truncate:
    // bodies dropped, this annotation set to "true"), or a cut line salvaged (salvage.ts) or sent
    // without its bodies (withoutBodies), is partial: OCSF's is_truncated ("truncated due to size
    // limitations") tells a SIEM so without it knowing Kubernetes annotations.
    is_truncated: isJsonObject(e.annotations) && e.annotations[TRUNCATED_ANNOTATION] === 'true' ? true : undefined,
  });

  const cloud = i.source === undefined ? undefined : cloudOf(i.source);

  const url: Obj | undefined = i.requestUri !== null ? { path: i.requestUri } : undefined;
  const httpRequest =
    url !== undefined || i.userAgent !== null
      ? compact({
          url,
          user_agent: i.userAgent ?? undefined,
          http_method: i.verb !== null && Object.hasOwn(HTTP_METHOD_BY_VERB, i.verb) ? HTTP_METHOD_BY_VERB[i.verb] : undefined,
        })
      : undefined;

  // Built with named stores in the output order rather than through `compact`: an object that
  // gets ~28 properties from keyed stores falls into V8's dictionary mode, and JSON.stringify of
  // a dictionary-mode object is a third slower (the OCSF part is most of a record's JSON).
  const out: Obj = {
    class_uid: 6003,
    class_name: 'API Activity',
    category_uid: 6,
    category_name: 'Application Activity',
    activity_id: activityId,
    activity_name: activityName,
    type_uid: 600300 + activityId,
    type_name: `API Activity: ${activityName}`,
    time: i.time,
  };
  if (i.startTime !== null) out.start_time = i.startTime;
  out.severity_id = severityId;
  out.severity = severityName;
  out.status_id = statusId;
  out.status = statusName;
  if (i.responseCode !== null) out.status_code = String(i.responseCode);
  // The authorization reason goes to policy.name, not here as well: one copy per record.
  const statusDetail = stringOrUndefined(rs.message) ?? stringOrUndefined(rs.reason);
  if (statusDetail !== undefined) out.status_detail = statusDetail;
  out.message = summary(i);
  out.metadata = metadata;
  out.actor = actor;
  out.api = api;
  out.src_endpoint = srcEndpoint;
  out.dst_endpoint = compact({ svc_name: 'kube-apiserver', name: i.clusterName ?? undefined });
  if (httpRequest !== undefined) out.http_request = httpRequest;
  if (resources.length > 0) out.resources = resources;
  if (i.reason !== null && i.reason !== '') out.policy = { name: i.reason };
  if (cloud !== undefined) out.cloud = cloud;
  if (observables.length > 0) out.observables = observables;
  out.unmapped = unmapped;
  return out;
}
