import type { AuditEvent, NormalisedRecord } from '../../lib/audit/index.js';

/** A Pub/Sub push delivery of one LogEntry, as a push subscription POSTs it (Pub/Sub "Receive messages using push"). */
export function pushBody(
  entry: unknown,
  messageId = '2070443601311540',
  subscription = 'projects/acme-audit/subscriptions/aisoc-gke-audit',
): string {
  return JSON.stringify({
    message: {
      data: Buffer.from(JSON.stringify(entry), 'utf8').toString('base64'),
      attributes: { 'logging.googleapis.com/timestamp': '2024-01-01T01:00:00Z' },
      messageId,
      message_id: messageId,
      publishTime: '2024-01-01T01:00:01.123Z',
      publish_time: '2024-01-01T01:00:01.123Z',
    },
    subscription,
  });
}

/** An AKS cluster's resourceId as diagnostic records write it (upper case). */
export function aksResourceId(cluster: string, subscription = '00000000-1111-2222-3333-444444444444', group = 'rg-prod'): string {
  return `/SUBSCRIPTIONS/${subscription}/RESOURCEGROUPS/${group}/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/${cluster}`.toUpperCase();
}

/** One diagnostic-settings record carrying an audit event (Azure Monitor's resource log schema, AKS categories). */
export function aksRecord(event: AuditEvent | string, cluster = 'prod-aks', category = 'kube-audit'): Record<string, unknown> {
  return {
    operationName: 'Microsoft.ContainerService/managedClusters/diagnosticLogs/Read',
    category,
    ccpNamespace: '5f2d1c0e9a7b4c3d2e1f0a9b',
    resourceId: aksResourceId(cluster),
    properties: { log: typeof event === 'string' ? event : JSON.stringify(event), stream: 'stdout', pod: 'kube-apiserver-7c9d8b6f5-x2x4q' },
    time: '2024-05-01T12:00:00.0000000Z',
    Cloud: 'AzureCloud',
    Environment: 'prod',
  };
}

/** An Event Hubs body of diagnostic records. */
export function aksBody(records: unknown[]): string {
  return JSON.stringify({ records });
}

/** A record without the fields that say which cloud it came through (OCSF cloud, product feature, profiles). */
export function withoutCloud(record: NormalisedRecord): unknown {
  const { cloud: _cloud, metadata, ...ocsf } = record.ocsf as Record<string, unknown>;
  const { product, profiles: _profiles, ...meta } = metadata as Record<string, unknown>;
  const { feature: _feature, ...prod } = product as Record<string, unknown>;
  return { ...record, ocsf: { ...ocsf, metadata: { ...meta, product: prod } } };
}

/**
 * An audit Event as a row of the AKSAudit Log Analytics table, column for field as the Azure
 * Monitor Logs reference names them (MicrosoftDocs/azure-reference-other,
 * azure-monitor-ref/tables/includes/aksaudit-include.md). `text`: every cell a string, dynamic
 * columns as their JSON text, as `az monitor log-analytics query -o json` prints them (with its
 * `TableName`); otherwise the objects a Log Analytics data export writes.
 */
export function aksRow(event: AuditEvent, cluster = 'prod-aks', opts: { text?: boolean; table?: string } = {}): Record<string, unknown> {
  const e = event as unknown as Record<string, unknown>;
  const dyn = (v: unknown) => (v === undefined ? undefined : opts.text === true ? JSON.stringify(v) : v);
  const row: Record<string, unknown> = {
    TenantId: '8c5f99a3-b05f-4598-8ef9-29f7510d32f7',
    TimeGenerated: e.stageTimestamp,
    Level: e.level,
    AuditId: e.auditID,
    Stage: e.stage,
    RequestUri: e.requestURI,
    Verb: e.verb,
    User: dyn(e.user),
    SourceIps: dyn(e.sourceIPs),
    UserAgent: e.userAgent,
    ObjectRef: dyn(e.objectRef),
    ResponseStatus: dyn(e.responseStatus),
    RequestObject: dyn(e.requestObject),
    ResponseObject: dyn(e.responseObject),
    RequestReceivedTime: e.requestReceivedTimestamp,
    StageReceivedTime: e.stageTimestamp,
    Annotations: dyn(e.annotations),
    PodName: 'kube-apiserver-6d7fc956fd-s68ss',
    Type: opts.table ?? 'AKSAudit',
    _ResourceId: aksResourceId(cluster).toLowerCase(),
  };
  if (opts.text === true) row.TableName = 'PrimaryResult';
  // Log Analytics leaves an empty string column out of an export; the CLI prints it as "".
  for (const [k, v] of Object.entries(row)) {
    if (v !== undefined) continue;
    if (opts.text === true) row[k] = '';
    else delete row[k];
  }
  return row;
}

/**
 * A real AKSAudit row, `kubectl get cm` on a 2025 AKS cluster (Kubernetes 1.31) as the Log
 * Analytics portal showed it: published in a public AKS troubleshooting notes file on GitHub
 * ("kube-audit.configmap.list"); subscription already redacted there. Dynamic columns as objects,
 * the form a data export writes them in.
 */
export const PUBLISHED_AKSAUDIT_ROW: Readonly<Record<string, unknown>> = {
  TenantId: '8c5f99a3-b05f-4598-8ef9-29f7510d32f7',
  TimeGenerated: '2025-05-30T18:02:52.4298698Z',
  Level: 'Metadata',
  AuditId: '43af2d39-6ad2-4266-9196-c144db8cf714',
  Stage: 'ResponseComplete',
  RequestUri: '/api/v1/namespaces/default/configmaps?limit=500',
  Verb: 'list',
  User: { username: 'masterclient', groups: ['system:masters', 'system:authenticated'] },
  SourceIps: ['1.2.3.4', '172.31.22.97'],
  UserAgent: 'kubectl/v1.31.0 (linux/amd64) kubernetes/9edcffc',
  ObjectRef: { resource: 'configmaps', apiVersion: 'v1', namespace: 'default' },
  ResponseStatus: { metadata: {}, code: 200 },
  RequestReceivedTime: '2025-05-30T18:02:52.425513Z',
  StageReceivedTime: '2025-05-30T18:02:52.429672Z',
  Annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
  PodName: 'kube-apiserver-6d7fc956fd-s68ss',
  Type: 'AKSAudit',
  _ResourceId:
    '/subscriptions/redacts-1111-1111-1111-111111111111/resourcegroups/rg/providers/microsoft.containerservice/managedclusters/aks',
};

/** The audit Event an AKSAudit row carries, written back as the apiserver writes it (for the diagnostics shape). */
export function eventOfPublishedRow(): AuditEvent {
  const r = PUBLISHED_AKSAUDIT_ROW;
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: r.Level,
    auditID: r.AuditId,
    stage: r.Stage,
    requestURI: r.RequestUri,
    verb: r.Verb,
    user: r.User,
    sourceIPs: r.SourceIps,
    userAgent: r.UserAgent,
    objectRef: r.ObjectRef,
    responseStatus: r.ResponseStatus,
    requestReceivedTimestamp: r.RequestReceivedTime,
    stageTimestamp: r.StageReceivedTime,
    annotations: r.Annotations,
  } as unknown as AuditEvent;
}
