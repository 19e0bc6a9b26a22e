// Kyverno's RBAC, service and access policies (test/fixtures/kyverno-rbac-access, SOURCES.md): the
// test resources their maintainers wrote for each policy, the ones it must refuse (`*bad*`,
// `violating-*`) and the ones it must let through (`*good*`, `non-violating-*`), each created by a
// person's kubectl in the three ways kubectl creates (test/helpers/kubectl-creates.ts), POSTed to a
// running `serve` and read back with `events` as a user reads them.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { FIXTURES } from '../helpers/fixtures.js';
import { eventMaker } from '../helpers/k8s-events.js';
import { kubectlCreates } from '../helpers/kubectl-creates.js';
import { type Outcome, servedOnce } from '../helpers/through-serve.js';

type Json = Record<string, unknown>;
const SECRET = 'kyverno-rbac-secret-0123456789abcdef';
const DIR = join(FIXTURES, 'kyverno-rbac-access');

const event = eventMaker('c7e20000', {
  user: { username: 'arn:aws:iam::123456789012:role/platform-admin', groups: ['system:authenticated'] },
  sourceIPs: ['203.0.113.24'],
  userAgent: 'kubectl/v1.31.4 (linux/amd64) kubernetes/a78aa47',
  requestReceivedTimestamp: '2026-12-07T08:20:00.000000Z',
  stageTimestamp: '2026-12-07T08:20:00.025000Z',
});

// A person writing any RBAC binding is table row 2, any Role, ClusterRole or ServiceAccount row 3:
// high whatever it grants. The rules say why: each Kyverno policy's bad resources must be named
// by the rule of the pack that covers the policy.
const BINDING: Outcome = ['high', 'rbac-binding-change'];
const SENSITIVE: Outcome = ['high', 'sensitive-resource-change'];
const WILDCARDS = 'rbac-escalation-verbs-or-wildcards';
const GRANT = 'rbac-node-proxy-csr-or-webhook-grant';
const SYSTEM_GROUP = 'rbac-binding-to-system-group';
const TOKEN_SECRET = 'service-account-token-secret';

/** What each policy's resources come out as: the bad ones, then the good ones (by name where they differ). */
const POLICIES: Record<string, { bad: Outcome; good: Outcome; goodExceptions?: Record<string, Outcome> }> = {
  'restrict-binding-clusteradmin': { bad: ['high', 'rbac-binding-change', ['cluster-admin-binding']], good: BINDING },
  // Was: the row alone, no rule naming the group.
  'restrict-binding-system-groups': { bad: ['high', 'rbac-binding-change', [SYSTEM_GROUP]], good: BINDING },
  'restrict-escalation-verbs-roles': { bad: ['high', 'sensitive-resource-change', [WILDCARDS]], good: SENSITIVE },
  'restrict-wildcard-verbs': {
    bad: ['high', 'sensitive-resource-change', [WILDCARDS]],
    good: SENSITIVE,
    // goodcr04 is `*` resources of apps (create, update, patch): no wildcard verb, but the
    // wildcard resource Kyverno's restrict-wildcard-resources refuses.
    goodExceptions: { goodcr04: ['high', 'sensitive-resource-change', [WILDCARDS]] },
  },
  'restrict-wildcard-resources': {
    bad: ['high', 'sensitive-resource-change', [WILDCARDS]],
    good: SENSITIVE,
    // goodcr04 is every verb (`*`) on secrets: no wildcard resource, but the wildcard verb
    // Kyverno's restrict-wildcard-verbs refuses.
    goodExceptions: { goodcr04: ['high', 'sensitive-resource-change', [WILDCARDS]] },
  },
  // Was: the row alone for all three.
  'restrict-clusterrole-nodesproxy': { bad: ['high', 'sensitive-resource-change', [GRANT]], good: SENSITIVE },
  'restrict-clusterrole-csr': { bad: ['high', 'sensitive-resource-change', [GRANT]], good: SENSITIVE },
  'restrict-clusterrole-mutating-validating-admission-webhooks': { bad: ['high', 'sensitive-resource-change', [GRANT]], good: SENSITIVE },
  // Not a rule (docs/detection-rules.md, "Kyverno's RBAC, service and access policies"): reading
  // Secrets is what most charts' roles grant; the row keeps every such write high.
  'restrict-secret-role-verbs': { bad: SENSITIVE, good: SENSITIVE },
  'restrict-service-external-ips': { bad: ['high', 'rule:service-external-ip', ['service-external-ip']], good: ['info', 'steady-state'] },
  'restrict-node-port': {
    bad: ['medium', 'rule:nodeport-service', ['nodeport-service']],
    good: ['info', 'steady-state'],
  },
  // Not a rule: a LoadBalancer Service is how every EKS ingress is exposed. Kyverno's good
  // resource here is a NodePort, which restrict-node-port refuses and the pack names.
  'restrict-loadbalancer': { bad: ['info', 'steady-state'], good: ['medium', 'rule:nodeport-service', ['nodeport-service']] },
  // Not a rule: a token mounted is Kubernetes' default; a person's ServiceAccount is row 3.
  'restrict-sa-automount-sa-token': { bad: SENSITIVE, good: SENSITIVE },
  // Not a rule: toleration of the control plane's taint; EKS has no schedulable control-plane node.
  'restrict-controlplane-scheduling': { bad: ['medium', 'workload-change'], good: ['medium', 'workload-change'] },
  // A person's Secret is row 3 whatever it holds. Was: the row alone for the minted token too.
  'deny-secret-service-account-token-type': { bad: ['high', 'sensitive-resource-change', [TOKEN_SECRET]], good: SENSITIVE },
};

interface Resource {
  policy: string;
  file: string;
  bad: boolean;
  object: Json;
  events: { how: string; event: Json }[];
}

function resources(): Resource[] {
  const out: Resource[] = [];
  for (const policy of readdirSync(DIR, { withFileTypes: true }).filter((d) => d.isDirectory())) {
    for (const file of readdirSync(join(DIR, policy.name)).sort()) {
      // Kyverno's chainsaw tests name the refused files `*bad*` or `violating-*`, the admitted `*good*` or `non-violating-*`.
      const bad = /bad/.test(file) || file.startsWith('violating-');
      for (const doc of parseAllDocuments(readFileSync(join(DIR, policy.name, file), 'utf8'))) {
        const object = doc.toJS() as Json;
        // RoleBindings and Roles are created in the namespace their subjects name (foo) where there is one.
        const namespace = ((object.metadata as Json).namespace as string | undefined) ?? 'default';
        out.push({ policy: policy.name, file, bad, object, events: kubectlCreates(event, object, namespace) });
      }
    }
  }
  return out;
}

const ALL = resources();

describe("Kyverno's RBAC, service and access policies' test resources through serve", () => {
  const items = ALL.flatMap((r) => r.events.map((e) => e.event));
  const served = servedOnce('aisoc-kyverno-rbac-', SECRET, 'lab', items);

  it('accepts every event; every policy kept has resources it refuses and resources it admits', () => {
    expect(served.status).toBe(200);
    expect(served.answer).toMatchObject({ accepted: items.length, rejected: 0 });
    expect(served.records).toHaveLength(items.length);
    expect(new Set(ALL.map((r) => r.policy))).toEqual(new Set(Object.keys(POLICIES)));
    for (const policy of Object.keys(POLICIES)) {
      expect(
        ALL.some((r) => r.policy === policy && r.bad),
        policy,
      ).toBe(true);
      expect(
        ALL.some((r) => r.policy === policy && !r.bad),
        policy,
      ).toBe(true);
    }
  });

  for (const r of ALL) {
    const name = (r.object.metadata as Json).name as string;
    const p = POLICIES[r.policy] as (typeof POLICIES)[string];
    const outcome = r.bad ? p.bad : (p.goodExceptions?.[name] ?? p.good);
    it(`${r.policy}/${r.file} ${r.object.kind} ${name}: ${outcome[0]}, ${outcome[1]}${outcome[2] ? ` (${outcome[2].join(', ')})` : ''}`, () => {
      for (const { how, event: e } of r.events) {
        const got = served.records.find((x) => x.audit_id === e.auditID);
        expect(got?.k8s_resource, how).toBe((e.objectRef as Json).resource);
        served.check(e, outcome);
      }
    });
  }

  it("no rule of the pack names a good resource of the policy it covers (the exceptions are another Kyverno policy's bad ones)", () => {
    const covering: Record<string, string> = {
      'restrict-binding-clusteradmin': 'cluster-admin-binding',
      'restrict-binding-system-groups': SYSTEM_GROUP,
      'restrict-escalation-verbs-roles': WILDCARDS,
      'restrict-clusterrole-nodesproxy': GRANT,
      'restrict-clusterrole-csr': GRANT,
      'restrict-clusterrole-mutating-validating-admission-webhooks': GRANT,
      'restrict-service-external-ips': 'service-external-ip',
      'restrict-node-port': 'nodeport-service',
      'deny-secret-service-account-token-type': TOKEN_SECRET,
    };
    for (const r of ALL.filter((x) => !x.bad && covering[x.policy] !== undefined)) {
      for (const { how, event: e } of r.events) {
        const got = served.records.find((x) => x.audit_id === e.auditID);
        expect(got?.rule_ids, `${r.policy}/${r.file} ${how}`).not.toContain(covering[r.policy]);
      }
    }
  });
});
