// Attacks reported in the wild against Kubernetes clusters (test/fixtures/offensive-tools/
// attacks-in-the-wild.json: each API call a published report says the attackers made, as
// kube-apiserver audits it, with the identity the report names, and routine counterparts),
// POSTed to a running `serve`: what each step comes out as in `events` and `events --alerts`.
// docs/detection-rules.md, "Attacks reported in the wild", says why the steps below high are so.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from '../helpers/fixtures.js';
import { type Outcome, servedActions } from '../helpers/through-serve.js';

const SECRET = 'attacks-in-the-wild-secret-0123456789abcdef';

interface Action {
  report?: string;
  id: string;
  action: string;
  events: Record<string, unknown>[];
}
const fixture = JSON.parse(readFileSync(join(FIXTURES, 'offensive-tools', 'attacks-in-the-wild.json'), 'utf8')) as {
  reports: { id: string; title: string; publisher: string; date: string; url: string }[];
  actions: Action[];
  routine: Action[];
};

// Anything system:anonymous is allowed to do beyond /version and the health endpoints.
const ANON: Outcome = ['high', 'rule:anonymous-request-allowed', ['anonymous-request-allowed']];

/** Each event's severity, its severity_reason and the rules that fired, in the fixture's order. */
const EXPECTED: Record<string, Outcome[]> = {
  // Aqua Nautilus, RBAC Buster: every step anonymous, so every step high.
  'rbac-buster-secrets': [ANON],
  'rbac-buster-competitors': [ANON, ANON],
  'rbac-buster-backdoor': [
    ['high', 'sensitive-resource-change', ['anonymous-request-allowed', 'rbac-escalation-verbs-or-wildcards']],
    ['high', 'sensitive-resource-change', ['anonymous-request-allowed']],
    ['high', 'rbac-binding-change', ['anonymous-request-allowed']],
  ],
  // The miner's typosquatted image names cryptominer-workload too (was not named).
  'rbac-buster-daemonset': [
    ['high', 'rule:anonymous-request-allowed', ['anonymous-request-allowed', 'kube-system-pod', 'cryptominer-workload']],
  ],
  // CrowdStrike, Dero: the DaemonSet by the anonymous user, its image pwswrd/amco named too.
  'dero-daemonset': [['high', 'rule:anonymous-request-allowed', ['anonymous-request-allowed', 'cryptominer-workload']]],
  // Microsoft 2019: the dashboard's account creating a Deployment is what its every user's deploy
  // form makes (routine-dashboard-deployment): medium, row 6, as any workload write.
  'dashboard-deployment': [['medium', 'workload-change']],
  // Microsoft 2020: the Jupyter web app's Notebook of ddsfdfsaadfs/dfsdf:99, XMRig (was info,
  // steady-state: the same account and request as routine-notebook).
  'kubeflow-notebook': [['high', 'rule:cryptominer-workload', ['cryptominer-workload']]],
  // Microsoft 2021: an Argo Workflow of TensorFlow's own images, as every pipeline run's
  // (routine-pipeline): no rule tells the miner from a model by the request alone.
  'kubeflow-pipeline': [['info', 'steady-state']],
  // Routine counterparts.
  // EKS's own add-on manager (eks:addon-manager): low, seen without an alert (routine-eks-addon-manager).
  'routine-addon-daemonset': [['low', 'routine-eks-addon-manager']],
  'routine-notebook': [['info', 'steady-state']],
  'routine-pipeline': [['info', 'steady-state']],
  'routine-dashboard-deployment': [['medium', 'workload-change']],
};

describe('attacks reported in the wild, step by step through serve', () => {
  const all = [...fixture.actions, ...fixture.routine];
  const served = servedActions(
    'aisoc-in-the-wild-',
    SECRET,
    'prod',
    all.map((a) => ({ key: a.id, title: `${a.report ?? 'routine'} ${a.id}: ${a.action}`, events: a.events })),
    EXPECTED,
  );

  it('names each report with its title, publisher, date and address, and every step names its report', () => {
    expect(fixture.reports.length).toBeGreaterThanOrEqual(5);
    for (const r of fixture.reports) {
      expect(r.title.length, r.id).toBeGreaterThan(10);
      expect(r.date, r.id).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(r.url, r.id).toMatch(/^https:\/\//);
    }
    for (const a of fixture.actions) expect(fixture.reports.map((r) => r.id)).toContain(a.report);
  });

  it('every anonymous write of a report comes out high with a Detection Finding', () => {
    const anonymousWrites = fixture.actions
      .flatMap((a) => a.events)
      .filter((e) => (e.user as { username: string }).username === 'system:anonymous' && ['create', 'delete'].includes(String(e.verb)));
    expect(anonymousWrites.length).toBe(6);
    for (const e of anonymousWrites) {
      expect(served.records.find((r) => r.audit_id === e.auditID)?.severity, String(e.auditID)).toBe('high');
      expect(served.alerts.map((a) => a.audit_id)).toContain(e.auditID);
    }
  });
});
