// Audit events of two routine control-plane shapes, written once for the unit and the integration
// tests of the refinements that recognise them (lib/audit/severity.ts). Each call gets a fresh auditID.

let n = 0;
const next = () => (++n).toString().padStart(12, '0');

/**
 * client-go's reflector over every Secret: a list from resourceVersion 0, then a watch with
 * bookmarks and a 5-10 min timeoutSeconds (k8s.io/client-go/tools/cache/reflector.go), by
 * `username`, at Metadata level as EKS's audit policy logs Secrets. `over` replaces fields.
 */
export function secretsReflectorEvent(username: string, verb: 'list' | 'watch', over: Record<string, unknown> = {}): never {
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: `c1d2e3f4-0000-4000-8000-${next()}`,
    stage: 'ResponseComplete',
    requestURI:
      verb === 'list'
        ? '/api/v1/secrets?limit=500&resourceVersion=0'
        : '/api/v1/secrets?allowWatchBookmarks=true&resourceVersion=52817733&timeout=7m21s&timeoutSeconds=441&watch=true',
    verb,
    user: { username, groups: ['system:serviceaccounts', 'system:authenticated'] },
    sourceIPs: ['10.0.14.87'],
    userAgent: 'cert-manager-controller/v1.16.2 (linux/amd64) cert-manager/0000000',
    objectRef: { resource: 'secrets', apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: '2026-03-02T09:14:07.120000Z',
    stageTimestamp: '2026-03-02T09:14:07.180000Z',
    ...over,
  } as never;
}

/**
 * A node drain's eviction as EKS logs one: a managed node group scaling in drains its node as
 * eks:node-manager (github.com/focaaby/ironman-eks-example,
 * docs/example/ch11/managed-ng-pods-update.json: user agent, URI, body, 201), here by `username`
 * answered `code` (no responseStatus when null). `over` replaces fields.
 */
export function evictionEvent(username: string, code: number | null, over: Record<string, unknown> = {}): never {
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    auditID: `a7ba2bc3-37ae-4452-b0e8-${next()}`,
    stage: 'ResponseComplete',
    requestURI: '/api/v1/namespaces/demo/pods/nginx-demo-deployment-7d4795b8bb-klqtk/eviction?timeout=19s',
    verb: 'create',
    user: { username, groups: ['system:authenticated'] },
    sourceIPs: ['3.252.228.42'],
    userAgent: 'vpcLambda/v0.0.0 (linux/amd64) kubernetes/$Format',
    objectRef: {
      resource: 'pods',
      namespace: 'demo',
      name: 'nginx-demo-deployment-7d4795b8bb-klqtk',
      apiVersion: 'v1',
      subresource: 'eviction',
    },
    ...(code === null ? {} : { responseStatus: { metadata: {}, code } }),
    requestObject: {
      kind: 'Eviction',
      apiVersion: 'policy/v1beta1',
      metadata: { name: 'nginx-demo-deployment-7d4795b8bb-klqtk', namespace: 'demo', creationTimestamp: null },
    },
    requestReceivedTimestamp: '2023-07-09T14:58:15.223678Z',
    stageTimestamp: '2023-07-09T14:58:15.247508Z',
    ...over,
  } as never;
}

/**
 * A PodDisruptionBudget's refusal of an eviction as the audit log keeps it in `responseStatus`:
 * kubernetes/kubernetes pkg/registry/core/pod/storage/eviction.go checkAndDecrement answers
 * NewTooManyRequests with a DisruptionBudget cause, and the apiserver's audit copies status,
 * message, reason, details and code (staging/src/k8s.io/apiserver/pkg/audit/request.go
 * LogResponseObject). Pass as `over` to evictionEvent.
 */
export const PDB_REFUSAL = {
  responseStatus: {
    metadata: {},
    status: 'Failure',
    message: "Cannot evict pod as it would violate the pod's disruption budget.",
    reason: 'TooManyRequests',
    details: {
      causes: [{ reason: 'DisruptionBudget', message: 'The disruption budget nginx-demo-pdb needs 2 healthy pods and has 2 currently' }],
    },
    code: 429,
  },
} as const;

/**
 * A builder of one test's own events: each an audit Event at RequestResponse level, stage
 * ResponseComplete, allowed by RBAC (the annotations the apiserver adds), with an auditID
 * numbered after `prefix` (eight hex digits, one per test file, so its events are its own);
 * `base` then each call's fields replace what they name.
 */
export function eventMaker(prefix: string, base: Record<string, unknown>): (fields: Record<string, unknown>) => Record<string, unknown> {
  let seq = 0;
  return (fields) => {
    seq += 1;
    return {
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: 'RequestResponse',
      auditID: `${prefix}-0000-4000-8000-${String(seq).padStart(12, '0')}`,
      stage: 'ResponseComplete',
      annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
      ...base,
      ...fields,
    };
  };
}

/**
 * The fields every write of alice's kubectl shares in the credential tests (RequestResponse, the
 * answer 200, 100 ms between receipt and answer), on `day` (YYYY-MM-DD).
 */
export function kubectlWriteBase(day: string): Record<string, unknown> {
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    stage: 'ResponseComplete',
    user: { username: 'alice', groups: ['system:authenticated'] },
    sourceIPs: ['10.0.0.7'],
    userAgent: 'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350',
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: `${day}T10:00:00.000000Z`,
    stageTimestamp: `${day}T10:00:00.100000Z`,
  };
}

const sa = (ns: string, name: string) => `system:serviceaccount:${ns}:${name}`;

/**
 * The add-ons' own service accounts counted routine Secret watchers, as docs/detection-rules.md's
 * Refinements table names them: written here, not read from lib/audit/severity.ts, so the tests
 * compare the code with the documentation.
 */
export const ADDON_SECRET_WATCHER_USERS: readonly string[] = [
  sa('cert-manager', 'cert-manager'),
  sa('cert-manager', 'cert-manager-cainjector'),
  sa('ingress-nginx', 'ingress-nginx'),
  sa('kube-system', 'kube-state-metrics'),
  sa('argocd', 'argocd-application-controller'),
  sa('istio-system', 'istiod'),
  sa('external-secrets', 'external-secrets'),
  sa('monitoring', 'prometheus-operator'),
  sa('velero', 'velero'),
  sa('velero', 'velero-server'),
  sa('gatekeeper-system', 'gatekeeper-admin'),
];
