// CDK's Kubernetes exploits (test/fixtures/offensive-tools/cdk.json: the API calls each exploit's
// Go code makes from a compromised pod, as kube-apiserver audits them) and CVE-2020-8554's
// load-balancer variant, POSTed to a running `serve`: what each event comes out as in `events` and
// `events --alerts`, each high one's alert a valid OCSF 2004 finding naming its rule or table row.
// The controllers that write services/status as they run stay below medium beside them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from '../helpers/fixtures.js';
import { eventMaker } from '../helpers/k8s-events.js';
import { type Outcome, servedActions } from '../helpers/through-serve.js';

const SECRET = 'cdk-serve-secret-0123456789abcdef';

interface Action {
  tool: string;
  action: string;
  source: string;
  events: Record<string, unknown>[];
}
const { actions } = JSON.parse(readFileSync(join(FIXTURES, 'offensive-tools', 'cdk.json'), 'utf8')) as { actions: Action[] };

/** Each event's severity, its severity_reason and the rules that fired, in the fixture's order. */
const DENIED: Outcome = ['medium', 'request-denied-or-failed'];
// Reads a cluster's own controllers and dashboards make all day: below medium on purpose
// (docs/detection-rules.md, "Left below medium on purpose"); the exploit's writes are the signal.
const RECON: Outcome = ['info', 'steady-state'];
const POD_ESCAPE = ['privileged-container', 'host-pid-or-ipc', 'host-network', 'sensitive-host-path', 'dangerous-capabilities'];
const EXPECTED: Record<string, Outcome[]> = {
  // Anonymous GET / (denied), then /apis and a list of namespaces with the pod's token.
  'cdk evaluate: K8s anonymous login and service-account checks': [DENIED, RECON, RECON],
  // Anonymous first (refused), then the pod's token with Go's bare net/http over HTTP/1.1:
  // workload-secret-read-by-http-tool named beside the row (Splunk's unusual user agent).
  'cdk run k8s-secret-dump auto': [
    ['high', 'cluster-wide-secrets-read'],
    ['high', 'cluster-wide-secrets-read', ['workload-secret-read-by-http-tool']],
  ],
  // A list of every ConfigMap: kube-state-metrics, istiod and others list them cluster-wide as they run.
  'cdk run k8s-configmap-dump auto': [DENIED, RECON],
  'cdk run k8s-psp-dump auto': [DENIED, DENIED, ['high', 'rule:privileged-container', POD_ESCAPE]],
  'cdk run k8s-backdoor-daemonset default ubuntu "<reverse shell>"': [
    // GET /version without a token: system:public-info-viewer, every cluster's default.
    RECON,
    // A DaemonSet in kube-system from ubuntu: kube-system-pod reads its template too.
    ['high', 'rule:privileged-container', [...POD_ESCAPE, 'kube-system-pod', 'reverse-shell-command']],
  ],
  'cdk run k8s-cronjob default min alpine "<download and run>" (Kubernetes 1.25 and later)': [['medium', 'workload-change']],
  'cdk run k8s-cronjob default min alpine "<download and run>" (before Kubernetes 1.25)': [['medium', 'workload-change']],
  'cdk run k8s-shadow-apiserver default (kubeadm control plane)': [
    RECON,
    RECON,
    ['high', 'rule:sensitive-host-path', ['host-network', 'sensitive-host-path', 'kube-system-pod']],
  ],
  'cdk run k8s-mitm-clusterip default mitmproxy/mitmproxy:10.4.2 203.0.113.50 443': [
    ['medium', 'workload-change'],
    // CVE-2020-8554: was info (steady-state).
    ['high', 'rule:service-external-ip', ['service-external-ip']],
  ],
  'cdk run k8s-get-sa-token default clusterrole-aggregation-controller 203.0.113.7 4444': [
    ['high', 'rule:pod-as-controller-account', ['pod-as-controller-account', 'host-network', 'kube-system-pod']],
  ],
};

// CVE-2020-8554's second way in (kubernetes/kubernetes#97076): a services/status patch setting
// status.loadBalancer.ingress[].ip, which kube-proxy then routes to the Service's pods, by anyone
// but the controllers that publish load-balancer addresses; and those controllers as they run,
// each with the identity its code or chart gives it (rules/control-plane.yaml names the sources).
const event = eventMaker('cdc5a700', {
  sourceIPs: ['10.0.2.73'],
  requestReceivedTimestamp: '2026-12-07T09:10:00.000000Z',
  stageTimestamp: '2026-12-07T09:10:00.015000Z',
  responseStatus: { metadata: {}, code: 200 },
});
const SA = (ns: string, name: string) => ({
  username: `system:serviceaccount:${ns}:${name}`,
  groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'],
});
const statusPatch = (user: Record<string, unknown>, userAgent: string, ingress: Record<string, unknown>[], verb = 'patch') =>
  event({
    verb,
    user,
    userAgent,
    requestURI: '/api/v1/namespaces/shop/services/checkout/status',
    objectRef: { resource: 'services', subresource: 'status', namespace: 'shop', name: 'checkout', apiVersion: 'v1' },
    requestObject: { status: { loadBalancer: { ingress } } },
  });
const KCM = 'kube-controller-manager/v1.30.2 (linux/amd64) kubernetes/3968350';
const STATUS: { name: string; event: Record<string, unknown>; outcome: Outcome }[] = [
  {
    name: "a pod's token setting a load-balancer IP (kubectl patch --subresource=status)",
    event: statusPatch(SA('shop', 'frontend'), 'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350', [{ ip: '10.0.40.12' }]),
    outcome: ['high', 'rule:service-external-ip', ['service-external-ip']],
  },
  {
    name: 'the service controller of kube-controller-manager (--use-service-account-credentials)',
    event: statusPatch(SA('kube-system', 'service-controller'), `${KCM}/system:serviceaccount:kube-system:service-controller`, [
      { ip: '34.117.52.10' },
    ]),
    outcome: ['info', 'steady-state'],
  },
  {
    name: "the service controller on its manager's own credentials",
    event: statusPatch({ username: 'system:kube-controller-manager', groups: ['system:authenticated'] }, KCM, [{ ip: '34.117.52.10' }]),
    outcome: ['info', 'steady-state'],
  },
  {
    name: "EKS's cloud-controller-manager publishing a Classic Load Balancer",
    event: statusPatch(
      { username: 'eks:cloud-controller-manager', groups: ['system:authenticated'] },
      'aws-cloud-controller-manager/v1.30.3 (linux/amd64) kubernetes/$Format',
      [{ hostname: 'a1b2c3d4e5f60718293a4b5c6d7e8f90-1234567890.us-east-1.elb.amazonaws.com' }],
    ),
    outcome: ['info', 'steady-state'],
  },
  {
    name: 'the AWS Load Balancer Controller publishing an NLB',
    event: statusPatch(SA('kube-system', 'aws-load-balancer-controller'), 'controller/v0.0.0 (linux/amd64) kubernetes/$Format', [
      { hostname: 'k8s-shop-checkout-0a1b2c3d4e-0123456789abcdef.elb.us-east-1.amazonaws.com' },
    ]),
    outcome: ['info', 'steady-state'],
  },
  {
    name: "MetalLB's controller assigning an address from its pool",
    event: statusPatch(
      SA('metallb-system', 'controller'),
      'controller/v0.0.0 (linux/amd64) kubernetes/$Format',
      [{ ip: '192.168.10.240', ipMode: 'VIP' }],
      'update',
    ),
    outcome: ['info', 'steady-state'],
  },
];

// CDK's anonymous mode hides its address behind an X-Forwarded-For of 100 pod-range addresses
// (pkg/tool/kubectl/common.go ServerAccountRequest), which kube-apiserver lists before the peer's:
// "All but the last IP can be arbitrarily set by the client" (audit.k8s.io/v1 Event, sourceIPs).
// The pod's token taken out of the cluster and sent the same way must still read as from outside.
const SPOOFED = event({
  verb: 'list',
  user: SA('shop', 'frontend'),
  userAgent: 'Go-http-client/1.1',
  sourceIPs: ['10.0.2.73', '198.51.100.23'],
  requestURI: '/api/v1/namespaces/shop/secrets',
  objectRef: { resource: 'secrets', namespace: 'shop', apiVersion: 'v1' },
  level: 'Metadata',
});

describe("CDK's Kubernetes exploits and CVE-2020-8554, through serve", () => {
  const served = servedActions(
    'aisoc-cdk-',
    SECRET,
    'prod',
    actions.map((a) => ({ key: a.action, title: `CDK ${a.action}`, events: a.events })),
    EXPECTED,
    [...STATUS.map((s) => s.event), SPOOFED],
  );

  it('every write an exploit makes comes out medium or high', () => {
    const writes = actions.flatMap((a) => a.events).filter((e) => ['create', 'update', 'patch', 'delete'].includes(String(e.verb)));
    expect(writes.length).toBe(8);
    for (const e of writes)
      expect(['medium', 'high'], String(e.auditID)).toContain(served.records.find((r) => r.audit_id === e.auditID)?.severity);
  });

  it('the CVE-2020-8554 alert names T1557 Adversary-in-the-Middle', () => {
    const mitm = actions.find((a) => a.action.startsWith('cdk run k8s-mitm-clusterip'))?.events[1];
    const alert = served.alerts.find((a) => a.audit_id === mitm?.auditID) as unknown as {
      finding: { finding_info: { attacks?: { technique?: { uid?: string } }[] } };
    };
    expect(alert.finding.finding_info.attacks?.map((x) => x.technique?.uid)).toContain('T1557');
  });

  it("a pod's token used from outside behind a spoofed X-Forwarded-For of a pod address is still from a public address", () => {
    // CDK's Go-http-client/1.1 reading Secrets names workload-secret-read-by-http-tool first (pack order).
    served.check(SPOOFED, [
      'medium',
      'rule:workload-secret-read-by-http-tool',
      ['workload-secret-read-by-http-tool', 'service-account-from-public-address'],
    ]);
  });

  for (const s of STATUS) {
    it(`services/status: ${s.name}`, () => served.check(s.event, s.outcome));
  }
});
