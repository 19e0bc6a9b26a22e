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
