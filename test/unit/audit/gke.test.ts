import { describe, expect, it } from 'vitest';
import type { AuditEvent, GkeConversion } from '../../../lib/audit/index.js';
import {
  GKE_LOG_ANNOTATION,
  gkeLogEntryToAuditEvent,
  gkeObjectRef,
  normaliseAuditEvent,
  validateAuditEvent,
} from '../../../lib/audit/index.js';
import { allFalcoEvents, gkeEntries } from '../../helpers/fixtures.js';
import { ocsfErrors } from '../../helpers/ocsf.js';

const RECEIVED = Date.parse('2024-05-01T12:00:00Z');

function converted(entry: unknown): Extract<GkeConversion, { kind: 'event' }> {
  const out = gkeLogEntryToAuditEvent(entry);
  if (out.kind !== 'event') throw new Error(`expected an event, got ${out.kind}: ${out.reason}`);
  return out;
}

function entry(file: string): Record<string, unknown> {
  const e = gkeEntries().get(file);
  if (e === undefined) throw new Error(`no fixture ${file}`);
  return e;
}

/**
 * A real audit event as GKE writes it to Cloud Logging, from the fields Google's "GKE audit
 * logging information" page documents: methodName io.k8s.<group>.<version>.<resource>[.<sub>].<verb>,
 * resourceName <group>/<version>[/namespaces/<ns>]/<resource>[/<name>[/<sub>]], principalEmail, callerIp.
 */
function asGkeEntry(e: AuditEvent): Record<string, unknown> {
  const ref = e.objectRef ?? {};
  const group = ref.apiGroup === undefined || ref.apiGroup === '' ? 'core' : ref.apiGroup;
  const version = ref.apiVersion ?? 'v1';
  const resource = ref.resource as string;
  const path = [group, version];
  if (ref.namespace !== undefined && ref.namespace !== '' && resource !== 'namespaces') path.push('namespaces', ref.namespace);
  path.push(resource);
  if (ref.name !== undefined && ref.name !== '') path.push(ref.name);
  if (ref.subresource !== undefined && ref.subresource !== '') path.push(ref.subresource);
  return {
    insertId: e.auditID,
    logName: `projects/acme-prod/logs/cloudaudit.googleapis.com%2F${e.verb === 'get' || e.verb === 'list' || e.verb === 'watch' ? 'data_access' : 'activity'}`,
    operation: { id: e.auditID, producer: 'k8s.io', first: true, last: true },
    protoPayload: {
      '@type': 'type.googleapis.com/google.cloud.audit.AuditLog',
      authenticationInfo: { principalEmail: e.user?.username },
      methodName: `io.k8s.${group}.${version}.${resource}${ref.subresource ? `.${ref.subresource}` : ''}.${e.verb}`,
      requestMetadata: { callerIp: e.sourceIPs?.[0], callerSuppliedUserAgent: e.userAgent },
      resourceName: path.join('/'),
      serviceName: 'k8s.io',
      status: {},
    },
    resource: { type: 'k8s_cluster', labels: { cluster_name: 'prod-gke', project_id: 'acme-prod', location: 'europe-west1' } },
    timestamp: e.requestReceivedTimestamp ?? e.timestamp,
    receiveTimestamp: '2024-05-01T12:00:00.123456789Z',
  };
}

describe('gkeLogEntryToAuditEvent', () => {
  it('reads a real GKE pod create (Google KHI test log) as the audit event the apiserver logged', () => {
    const { event, origin } = converted(entry('khi__container_recorder_test_1_1.yaml'));
    expect(validateAuditEvent(event).ok).toBe(true);
    expect(event).toMatchObject({
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: 'RequestResponse',
      auditID: '85371f7c-2383-4041-96e8-dad63d2d1990',
      stage: 'ResponseComplete',
      verb: 'create',
      // A create is a POST to the collection; the name is the object's.
      requestURI: '/api/v1/namespaces/1-2-deployment-update/pods',
      user: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      sourceIPs: ['172.16.0.3'],
      objectRef: {
        resource: 'pods',
        namespace: '1-2-deployment-update',
        name: 'nginx-deployment-surge-8655b4b8c5-xf5f4',
        apiVersion: 'v1',
      },
      responseStatus: { code: 201 },
      requestReceivedTimestamp: '2024-01-01T01:00:00Z',
    });
    expect(event.objectRef).not.toHaveProperty('apiGroup');
    expect(event.annotations).toMatchObject({ 'authorization.k8s.io/decision': 'allow', [GKE_LOG_ANNOTATION]: 'activity' });
    // The request and response bodies are the objects, without the @type GKE adds.
    expect(event.requestObject).toMatchObject({ kind: 'Pod', apiVersion: 'v1' });
    expect(event.requestObject).not.toHaveProperty('@type');
    expect(event.responseObject).not.toHaveProperty('@type');
    expect(origin).toEqual({
      clusterName: 'sample-cluster',
      source: { platform: 'gke', accountId: 'sample-project', region: 'us-central1-a' },
    });
  });

  it('reads the real GKE pod status patches (kubelet) with their subresource', () => {
    for (const file of ['khi__container_recorder_test_1_2.yaml', 'khi__container_recorder_test_1_3.yaml']) {
      const { event } = converted(entry(file));
      expect(event).toMatchObject({
        verb: 'patch',
        level: 'Request',
        objectRef: { resource: 'pods', subresource: 'status', namespace: '1-2-deployment-update' },
        user: { username: 'system:node:gke-sample-cluster-default-abcdefgh-abcd' },
        sourceIPs: ['10.146.0.7'],
        responseStatus: { code: 200 },
      });
    }
  });

  it('normalises every real GKE entry to a record with GCP cloud fields that validates as OCSF 1.8.0', () => {
    for (const [file, e] of gkeEntries()) {
      const { event, origin } = converted(e);
      const record = normaliseAuditEvent(event, {
        tenantId: 'acme',
        clusterName: origin.clusterName,
        receivedAt: RECEIVED,
        source: origin.source,
      });
      expect(ocsfErrors(record.ocsf), file).toEqual([]);
      expect(record.cluster_name).toBe('sample-cluster');
      expect(record.event_time).toBe('2024-01-01T01:00:00.000Z');
      expect(record.ocsf.cloud).toEqual({
        provider: 'GCP',
        region: 'us-central1',
        zone: 'us-central1-a',
        account: { uid: 'sample-project', type: 'GCP Project', type_id: 11 },
      });
      expect(record.ocsf.metadata).toMatchObject({ product: { feature: { name: 'Google Kubernetes Engine' } }, profiles: ['cloud'] });
    }
  });

  it('gives back the verb, target, user, address and agent of every real Falco event written as GKE writes it', () => {
    const events = allFalcoEvents().filter((e) => typeof e.objectRef?.resource === 'string' && typeof e.verb === 'string');
    expect(events.length).toBeGreaterThan(30);
    for (const original of events) {
      const { event } = converted(asGkeEntry(original));
      const ref = original.objectRef ?? {};
      const mine = normaliseAuditEvent(event, { tenantId: 't', clusterName: 'c', receivedAt: RECEIVED });
      const theirs = normaliseAuditEvent(original, { tenantId: 't', clusterName: 'c', receivedAt: RECEIVED });
      const fields = [
        'k8s_verb',
        'k8s_resource',
        'k8s_subresource',
        'k8s_namespace',
        'k8s_user',
        'src_ip',
        'k8s_user_agent',
        'audit_id',
      ] as const;
      for (const f of fields) expect(mine[f], `${original.auditID} ${f}`).toEqual(theirs[f]);
      expect(mine.k8s_object_name, original.auditID).toBe(ref.name === undefined || ref.name === '' ? null : ref.name);
      expect(mine.k8s_api_group ?? '', original.auditID).toBe(ref.apiGroup ?? '');
      // The path the apiserver served, rebuilt from the entry (GKE logs no query string).
      expect(mine.request_uri, original.auditID).toBe(theirs.request_uri?.split('?')[0]);
      expect(ocsfErrors(mine.ocsf)).toEqual([]);
    }
  });

  it('takes the failure code from the Kubernetes Status in the response, else from the google.rpc status', () => {
    const base = entry('khi__container_recorder_test_1_1.yaml');
    const payload = base.protoPayload as Record<string, unknown>;
    const forbidden = {
      ...base,
      protoPayload: {
        ...payload,
        response: {
          '@type': 'core.k8s.io/v1.Status',
          kind: 'Status',
          apiVersion: 'v1',
          code: 403,
          reason: 'Forbidden',
          status: 'Failure',
          message: 'pods "x" is forbidden',
        },
        status: { code: 7, message: 'pods "x" is forbidden' },
      },
    };
    expect(converted(forbidden).event.responseStatus).toEqual({
      metadata: {},
      code: 403,
      status: 'Failure',
      message: 'pods "x" is forbidden',
      reason: 'Forbidden',
    });
    const { response: _r, ...noResponse } = payload;
    const notFound = { ...base, protoPayload: { ...noResponse, status: { code: 5, message: 'not found' } } };
    expect(converted(notFound).event.responseStatus).toEqual({ metadata: {}, status: 'Failure', code: 404, message: 'not found' });
    const record = normaliseAuditEvent(converted(notFound).event, { tenantId: 't', clusterName: 'c', receivedAt: RECEIVED });
    expect(record.k8s_response_code).toBe(404);
    expect(record.ocsf).toMatchObject({ status_id: 2, status: 'Failure' });
  });

  it('marks exec, and a port-forward, as a started stream (code 101) so the interactive-access rules see it', () => {
    const streamed = (subresource: string, n: number) =>
      asGkeEntry({
        auditID: `e0c8f0c3-0000-4000-8000-00000000000${n}`,
        verb: 'create',
        user: { username: 'alice@example.com' },
        sourceIPs: ['203.0.113.7'],
        objectRef: { resource: 'pods', namespace: 'default', name: 'web-0', subresource, apiVersion: 'v1' },
        requestReceivedTimestamp: '2024-05-01T11:59:59.000000Z',
      });
    const { event } = converted(streamed('exec', 1));
    expect(event).toMatchObject({
      stage: 'ResponseStarted',
      responseStatus: { code: 101 },
      requestURI: '/api/v1/namespaces/default/pods/web-0/exec',
    });
    const record = normaliseAuditEvent(event, { tenantId: 't', clusterName: 'c', receivedAt: RECEIVED });
    expect(record).toMatchObject({ severity: 'high', severity_reason: 'pod-interactive-access' });
    // A port-forward upgrades the connection as exec does.
    expect(converted(streamed('portforward', 2)).event).toMatchObject({ stage: 'ResponseStarted', responseStatus: { code: 101 } });
  });

  it('gives a request for no API object its path with one leading slash, however GKE wrote its resourceName', () => {
    // Panther's GKE health check (panther-labs/panther-analysis, k8s_system_principal_public_ip.yml)
    // names the path itself, `/readyz`; the GKE page's resource paths have no leading slash.
    const health = (resourceName: string, n: number) => ({
      insertId: `3c2a9d1e-0000-4000-8000-00000000000${n}`,
      logName: 'projects/acme-prod/logs/cloudaudit.googleapis.com%2Fdata_access',
      protoPayload: {
        '@type': 'type.googleapis.com/google.cloud.audit.AuditLog',
        authenticationInfo: { principalEmail: 'system:anonymous' },
        methodName: 'io.k8s.readyz',
        requestMetadata: { callerIp: '108.177.75.65', callerSuppliedUserAgent: 'GoogleHC/1.0' },
        resourceName,
        serviceName: 'k8s.io',
        status: {},
      },
      resource: { type: 'k8s_cluster', labels: { cluster_name: 'prod-gke', project_id: 'acme-prod', location: 'europe-west1' } },
      timestamp: '2024-05-01T11:59:59.000000Z',
    });
    expect(converted(health('/readyz', 1)).event.requestURI).toBe('/readyz');
    expect(converted(health('readyz', 2)).event.requestURI).toBe('/readyz');
  });

  it('derives a forbid decision from authorizationInfo when the labels lack one, and names the data_access log', () => {
    const base = entry('khi__container_recorder_test_1_2.yaml');
    const denied = {
      ...base,
      labels: {},
      logName: 'projects/sample-project/logs/cloudaudit.googleapis.com%2Fdata_access',
      protoPayload: {
        ...(base.protoPayload as object),
        authorizationInfo: [{ granted: false, permission: 'io.k8s.core.v1.pods.status.patch' }],
      },
    };
    const { event } = converted(denied);
    expect(event.annotations).toEqual({ 'authorization.k8s.io/decision': 'forbid', [GKE_LOG_ANNOTATION]: 'data_access' });
  });

  it('skips entries that are not GKE Kubernetes audit entries, saying why', () => {
    const base = entry('khi__container_recorder_test_1_2.yaml');
    const cases: [unknown, RegExp][] = [
      ['text', /not a JSON object/],
      [{ ...base, logName: 'projects/p/logs/container-runtime' }, /not a Cloud Audit Logs/],
      [{ ...base, resource: { type: 'gke_cluster', labels: {} } }, /not k8s_cluster/],
      [{ ...base, protoPayload: { ...(base.protoPayload as object), serviceName: 'container.googleapis.com' } }, /not k8s.io/],
      [{ ...base, protoPayload: { '@type': 'type.googleapis.com/google.cloud.audit.SomethingElse' } }, /not a google.cloud.audit.AuditLog/],
    ];
    for (const [input, reason] of cases) {
      const out = gkeLogEntryToAuditEvent(input);
      expect(out.kind).toBe('skipped');
      expect(out.kind === 'skipped' ? out.reason : '').toMatch(reason);
    }
  });

  it('rejects a Kubernetes audit entry without an insertId, naming the field', () => {
    const base = entry('khi__container_recorder_test_1_2.yaml');
    const { insertId: _i, operation: _o, ...noId } = base;
    expect(gkeLogEntryToAuditEvent(noId)).toEqual({ kind: 'rejected', reason: 'GKE audit entry has no insertId (its audit ID)' });
  });
});

describe('gkeObjectRef', () => {
  it('reads every documented resourceName form', () => {
    expect(gkeObjectRef('core/v1/namespaces/foo/configmaps/my-configmap')).toEqual({
      namespace: 'foo',
      resource: 'configmaps',
      name: 'my-configmap',
      apiVersion: 'v1',
    });
    expect(gkeObjectRef('rbac.authorization.k8s.io/v1/clusterrolebindings/admin')).toEqual({
      resource: 'clusterrolebindings',
      name: 'admin',
      apiGroup: 'rbac.authorization.k8s.io',
      apiVersion: 'v1',
    });
    expect(gkeObjectRef('core/v1/namespaces')).toEqual({ resource: 'namespaces', apiVersion: 'v1' });
    expect(gkeObjectRef('core/v1/namespaces/kube-system')).toEqual({
      namespace: 'kube-system',
      resource: 'namespaces',
      name: 'kube-system',
      apiVersion: 'v1',
    });
    expect(gkeObjectRef('core/v1/namespaces/kube-system/status')).toEqual({
      namespace: 'kube-system',
      resource: 'namespaces',
      name: 'kube-system',
      subresource: 'status',
      apiVersion: 'v1',
    });
    expect(gkeObjectRef('core/v1/namespaces/default/pods')).toEqual({ namespace: 'default', resource: 'pods', apiVersion: 'v1' });
    expect(gkeObjectRef('core/v1/nodes/node-1/proxy')).toEqual({
      resource: 'nodes',
      name: 'node-1',
      subresource: 'proxy',
      apiVersion: 'v1',
    });
    expect(gkeObjectRef('healthz')).toBeNull();
    expect(gkeObjectRef('core//pods')).toBeNull();
  });
});
