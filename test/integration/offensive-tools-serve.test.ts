// Peirates' and kube-hunter's API calls with a stolen service-account token, as kube-apiserver
// audits them (test/fixtures/offensive-tools, each action with the tool's source file), POSTed to a
// running `serve`: what each action comes out as in `events` and `events --alerts`, event by event.
// The controllers that read Secrets across namespaces as they run stay below medium beside them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from '../helpers/fixtures.js';
import { expectAlert, type Outcome, servedOnce } from '../helpers/through-serve.js';

const SECRET = 'offensive-tools-secret-0123456789abcdef';

interface Action {
  tool: string;
  action: string;
  source: string;
  events: Record<string, unknown>[];
}
const { actions } = JSON.parse(readFileSync(join(FIXTURES, 'offensive-tools', 'peirates-kube-hunter.json'), 'utf8')) as {
  actions: Action[];
};

/** Each event's severity, its severity_reason and the rules that fired, in the fixture's order. */
const SSAR: Outcome = ['medium', 'rule:workload-permission-discovery', ['workload-permission-discovery']];
const CROSS = 'workload-cross-namespace-secret-read';
// Peirates reads Secrets through its linked-in kubectl (kubectl/v0.0.0 … kubernetes/$Format).
const TOOL = 'workload-secret-read-by-http-tool';
const EXPECTED: Record<string, Outcome[]> = {
  'auth can-i before an action (set-auth-can-i on, the default)': [SSAR],
  // Its own namespace: kubectl with a service account's token (it was low, a read as the table scores reads).
  'list-secrets in its own namespace [10]': [SSAR, ['medium', `rule:${TOOL}`, [TOOL]]],
  'list-ns [2]': [SSAR, ['info', 'steady-state']],
  'switch-ns to payments, then list-secrets': [SSAR, ['medium', `rule:${CROSS}`, [CROSS, TOOL]]],
  'switch-ns to kube-system, set-auth-can-i off, then list-secrets (denied)': [['medium', 'request-denied-or-failed', [CROSS, TOOL]]],
  'secret-to-sa: a token Secret of another namespace [11]': [['medium', `rule:${CROSS}`, [CROSS, TOOL]]],
  'kubectl get secrets -A (denied)': [['high', 'cluster-wide-secrets-read', [TOOL]]],
  'list-pods [3]': [SSAR, ['info', 'steady-state']],
  'exec-via-kubelet: node addresses [22]': [SSAR, ['medium', 'request-denied-or-failed']],
  'attack-pod-hostpath-mount [20]': [
    ['info', 'steady-state'],
    // kubectl apply's get before its create (404): nothing read; the create and the exec are the signal.
    ['info', 'routine-get-not-found'],
    ['high', 'rule:sensitive-host-path', ['sensitive-host-path']],
    ['info', 'steady-state'],
    ['high', 'pod-interactive-access'],
    ['medium', 'workload-change'],
  ],
  'exec-via-api: cat the service-account token of another pod [21]': [SSAR, ['info', 'steady-state'], ['high', 'pod-interactive-access']],
  'kubectl create token for a service account of another namespace': [['high', 'sensitive-resource-change']],
  'API access without a token (AccessApiServer)': [
    ['medium', 'request-denied-or-failed'],
    ['medium', 'request-denied-or-failed'],
    ['info', 'steady-state'],
  ],
  'API access with the pod token (AccessApiServerWithToken)': [
    ['info', 'steady-state'],
    ['info', 'steady-state'],
    ['medium', 'request-denied-or-failed'],
    ['medium', 'request-denied-or-failed'],
    ['info', 'steady-state'],
  ],
  'create and delete a namespace (--active)': [
    ['info', 'steady-state'],
    ['high', 'rule:namespace-deleted', ['namespace-deleted']],
  ],
  'create, patch and delete a cluster role (--active)': [
    ['high', 'sensitive-resource-change'],
    ['high', 'sensitive-resource-change'],
    ['high', 'sensitive-resource-change'],
  ],
  'create and delete a privileged pod in a namespace it listed (--active)': [
    ['high', 'rule:privileged-container', ['privileged-container']],
    ['medium', 'workload-change'],
  ],
  'create, patch and delete a pod (--active)': [
    ['medium', 'workload-change'],
    ['medium', 'workload-change'],
    ['medium', 'workload-change'],
  ],
  'create, patch and delete a role (--active, denied)': [['high', 'sensitive-resource-change']],
};

const KUBE = 'kube-controller-manager/v1.30.2 (linux/amd64) kubernetes/3968350/system:serviceaccount:kube-system:namespace-controller';
let seq = 0;
function routine(username: string, verb: string, uri: string, namespace: string, name?: string, userAgent = 'Go-http-client/2.0') {
  seq += 1;
  const ns = username.split(':')[2] as string;
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: `c0a11e55-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    stage: 'ResponseComplete',
    requestURI: uri,
    verb,
    user: { username, groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'] },
    sourceIPs: ['10.0.2.40'],
    userAgent,
    objectRef: { resource: 'secrets', namespace, ...(name ? { name } : {}), apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: '2026-12-07T06:40:00.000000Z',
    stageTimestamp: '2026-12-07T06:40:00.010000Z',
    annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
  };
}
/** Controllers and tools reading the Secrets of other namespaces as they run: none may reach medium. */
const ROUTINE: { name: string; event: Record<string, unknown> }[] = [
  {
    name: "cert-manager reading a Certificate's Secret",
    event: routine('system:serviceaccount:cert-manager:cert-manager', 'get', '/api/v1/namespaces/web/secrets/web-tls', 'web', 'web-tls'),
  },
  {
    name: "cert-manager's cainjector reading a CA Secret",
    event: routine(
      'system:serviceaccount:cert-manager:cert-manager-cainjector',
      'get',
      '/api/v1/namespaces/web/secrets/webhook-ca',
      'web',
      'webhook-ca',
    ),
  },
  {
    name: "external-secrets reading a SecretStore's credentials",
    event: routine(
      'system:serviceaccount:external-secrets:external-secrets',
      'get',
      '/api/v1/namespaces/payments/secrets/vault-token',
      'payments',
      'vault-token',
    ),
  },
  {
    name: "Argo CD's application controller watching an application's namespace",
    event: routine(
      'system:serviceaccount:argocd:argocd-application-controller',
      'watch',
      '/api/v1/namespaces/payments/secrets?allowWatchBookmarks=true&resourceVersion=88123&watch=true',
      'payments',
    ),
  },
  {
    name: "Flux's helm-controller listing a release's Secrets (Helm's storage driver)",
    event: routine(
      'system:serviceaccount:flux-system:helm-controller',
      'list',
      '/api/v1/namespaces/payments/secrets?labelSelector=name%3Dapi%2Cowner%3Dhelm',
      'payments',
    ),
  },
  {
    name: 'a CI account running helm upgrade: its get of the release Secret',
    event: routine(
      'system:serviceaccount:ci:deployer',
      'get',
      '/api/v1/namespaces/payments/secrets/sh.helm.release.v1.api.v7',
      'payments',
      'sh.helm.release.v1.api.v7',
      'helm/v3.15.2 (linux/amd64) kubernetes/$Format',
    ),
  },
  {
    name: 'the namespace controller listing what a deleted namespace still holds',
    event: routine(
      'system:serviceaccount:kube-system:namespace-controller',
      'list',
      '/api/v1/namespaces/preview-42/secrets?limit=500',
      'preview-42',
      undefined,
      KUBE,
    ),
  },
  {
    name: "the EBS CSI controller reading a StorageClass's provisioner Secret",
    event: routine(
      'system:serviceaccount:kube-system:ebs-csi-controller-sa',
      'get',
      '/api/v1/namespaces/storage/secrets/ebs-kms',
      'storage',
      'ebs-kms',
    ),
  },
];

describe('Peirates and kube-hunter with a stolen service-account token, through serve', () => {
  const items = [...actions.flatMap((a) => a.events), ...ROUTINE.map((r) => r.event)];
  const served = servedOnce('aisoc-offensive-', SECRET, 'prod', items);

  it('accepts every event, and every action of the fixture has its expected outcome written here', () => {
    expect(served.status).toBe(200);
    expect(served.answer).toMatchObject({ accepted: items.length, rejected: 0 });
    expect(actions.map((a) => a.action).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const a of actions) {
    it(`${a.tool}: ${a.action}`, () => {
      const expected = EXPECTED[a.action] ?? [];
      const got = a.events.map((e) => {
        const r = served.records.find((x) => x.audit_id === e.auditID);
        return [r?.severity, r?.severity_reason, r?.rule_ids];
      });
      expect(got).toEqual(expected.map(([severity, reason, rules]) => [severity, reason, rules ?? []]));
      // Every high event raises one alert, a valid finding whose analytic is the rule or table row
      // that decided it, the other rules related; nothing else does.
      for (const [i, e] of a.events.entries()) expectAlert(served.alerts, String(e.auditID), expected[i] as Outcome);
    });
  }

  for (const r of ROUTINE) {
    it(`${r.name}: below medium, no rule, no alert`, () => {
      const stored = served.records.find((x) => x.audit_id === r.event.auditID);
      expect(stored?.rule_ids).toEqual([]);
      expect(stored?.severity).toBe('low');
      expect(served.alerts.find((a) => a.audit_id === r.event.auditID)).toBeUndefined();
    });
  }
});
