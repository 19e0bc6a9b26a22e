// Microsoft's Defender for Cloud attack simulation for Kubernetes
// (test/fixtures/offensive-tools/defender-attack-simulation.json: every request its simulation.py,
// its Helm chart and its attack scripts make to the API server, as kube-apiserver audits them),
// POSTed to a running `serve`: what each event comes out as in `events` and `events --alerts`.
// Its one attack that reaches the API server is the reconnaissance's SelfSubjectAccessReview,
// sent with the victim pod's token through the web shell; the rest is the operator installing,
// watching and removing the simulation, scored as the connector documentation's table scores a
// person's requests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from '../helpers/fixtures.js';
import { type Outcome, servedActions } from '../helpers/through-serve.js';

const SECRET = 'defender-simulation-secret-0123456789abcdef';

interface Action {
  tool: string;
  action: string;
  source: string;
  identity: 'operator' | 'victim pod';
  events: Record<string, unknown>[];
}
const { actions } = JSON.parse(readFileSync(join(FIXTURES, 'offensive-tools', 'defender-attack-simulation.json'), 'utf8')) as {
  actions: Action[];
};

/** Each event's severity, its severity_reason and the rules that fired, in the fixture's order. */
// The connector documentation's table, row by row, for a person's requests: a write of a Secret or a
// ServiceAccount is high, a pod write medium, any answer >= 400 medium (a person's 404 keeps the
// row: only a service account's get of a missing object is a deployer's routine check), a read of
// Secrets low (Helm's own release selector names no other rule).
const SENSITIVE_WRITE: Outcome = ['high', 'sensitive-resource-change'];
const POD_WRITE: Outcome = ['medium', 'workload-change'];
const NOT_FOUND: Outcome = ['medium', 'request-denied-or-failed'];
const HELM_HISTORY: Outcome = ['low', 'sensitive-read'];
const INFO: Outcome = ['info', 'steady-state'];
const EXPECTED: Record<string, Outcome[]> = {
  'simulation.py: kubectl get pod mdc-simulation-attacker -n mdc-simulation (first run: none)': [NOT_FOUND],
  'helm upgrade --install mdc-simulation oci://ghcr.io/microsoft/defender-for-cloud/attacksimulation/mdc-simulation --set env.name=mdc-simulation --set scenario=all':
    [
      // `upgrade --install` reads the release's history, then install reads it again (its name check).
      HELM_HISTORY,
      HELM_HISTORY,
      // existingResourceConflict: a get of each object of the chart, 404 on a first install.
      NOT_FOUND,
      NOT_FOUND,
      NOT_FOUND,
      NOT_FOUND,
      NOT_FOUND,
      // The release Secret, then the pre-install hook's Namespace (a namespace created is info,
      // as Falco's "K8s Namespace Created" is informational), then the chart in install order.
      SENSITIVE_WRITE,
      INFO,
      SENSITIVE_WRITE,
      INFO,
      INFO,
      POD_WRITE,
      POD_WRITE,
      SENSITIVE_WRITE,
    ],
  'simulation.py: kubectl get pod -o jsonpath (status), kubectl logs -f, kubectl logs --tail=1': [INFO, INFO, INFO, INFO],
  // Defender for Containers' "Suspicious Kubernetes service account operation detected".
  'Reconnaissance (recon.sh, all-scenarios.sh) via the victim\'s web shell: curl -A "kubectl" POST selfsubjectaccessreviews (get pods in default)':
    [['medium', 'rule:workload-permission-discovery', ['workload-permission-discovery']]],
  'delete_resources: helm uninstall mdc-simulation': [
    HELM_HISTORY,
    SENSITIVE_WRITE,
    POD_WRITE,
    POD_WRITE,
    INFO,
    INFO,
    SENSITIVE_WRITE,
    SENSITIVE_WRITE,
  ],
  // Removing a whole namespace (and all it holds) is high by whoever: the simulation's own cleanup too.
  'delete_resources: kubectl delete namespace mdc-simulation': [['high', 'rule:namespace-deleted', ['namespace-deleted']]],
};

// The same request on an AKS cluster with a public API server (`az aks get-credentials`, the
// tool's README, gives one by default): pods reach it from the load balancer's outbound address, a
// public one (docs/aks.md, "Service accounts from public addresses"), until the operator declares it.
const recon = actions.find((a) => a.identity === 'victim pod')?.events[0] as Record<string, unknown>;
const PUBLIC_ENDPOINT = { ...recon, auditID: 'd3fe4d00-0000-4000-8000-0000000000ff', sourceIPs: ['20.61.37.120'] };

describe("Microsoft's Defender for Cloud attack simulation (Kubernetes), through serve", () => {
  const served = servedActions(
    'aisoc-mdc-sim-',
    SECRET,
    'aks-prod',
    actions.map((a) => ({ key: a.action, title: `${a.identity}: ${a.action}`, events: a.events })),
    EXPECTED,
    [PUBLIC_ENDPOINT],
  );

  it("every request the victim pod's token makes comes out medium or high, with its rule named", () => {
    const attack = actions.filter((a) => a.identity === 'victim pod').flatMap((a) => a.events);
    expect(attack.length).toBe(1);
    for (const e of attack) {
      const r = served.records.find((x) => x.audit_id === e.auditID);
      expect(['medium', 'high'], String(e.auditID)).toContain(r?.severity);
      expect(r?.rule_ids.length, String(e.auditID)).toBeGreaterThan(0);
    }
  });

  it("on a public AKS endpoint the reconnaissance names both rules, the public address's first", () => {
    served.check(PUBLIC_ENDPOINT, [
      'medium',
      'rule:service-account-from-public-address',
      ['service-account-from-public-address', 'workload-permission-discovery'],
    ]);
  });

  it('the simulation pods the operator installs run nothing the pod-spec rules flag', () => {
    const pods = actions
      .flatMap((a) => a.events)
      .filter((e) => e.verb === 'create' && (e.objectRef as { resource?: string }).resource === 'pods');
    expect(pods.length).toBe(2);
    for (const e of pods) expect(served.records.find((x) => x.audit_id === e.auditID)?.rule_ids).toEqual([]);
  });
});
