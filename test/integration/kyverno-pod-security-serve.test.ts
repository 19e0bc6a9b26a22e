// Kyverno's Pod Security Standards policies and their maintainers' test resources
// (test/fixtures/kyverno-pod-security, SOURCES.md): for each check, the pods, Deployments and
// CronJobs a policy must refuse (`pod-bad`, `podcontroller-bad`) and must admit (`-good`), in the
// shapes a pod spec can take (init containers, pod- and container-level securityContext, each
// capability spelling). Each resource goes through a running `serve` as the audit events of a
// person creating it with kubectl (create, client-side apply, server-side apply:
// test/helpers/kubectl-creates.ts), and is read back with `events` as a user reads it.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { FIXTURES } from '../helpers/fixtures.js';
import { eventMaker } from '../helpers/k8s-events.js';
import { kubectlCreates } from '../helpers/kubectl-creates.js';
import { servedOnce } from '../helpers/through-serve.js';

type Json = Record<string, unknown>;
const SECRET = 'kyverno-pss-secret-0123456789abcdef';
const DIR = join(FIXTURES, 'kyverno-pod-security');

interface Check {
  /** The rule that must name every covered bad resource, and its severity. */
  rule: string;
  severity: 'high' | 'medium';
  /** Bad resources another rule names instead (hostNetwork in disallow-host-namespaces). */
  byName?: Record<string, { rule: string; severity: 'high' | 'medium' }>;
  /** Rules that may fire beside it, on bad and good resources alike, and why. */
  alongside?: string[];
  /** Bad resources this pack does not name, and why (docs/detection-rules.md says the same). */
  uncovered?: { why: string; names: string[] };
}

const names = (prefixes: string[], numbers: string[]): string[] => prefixes.flatMap((p) => numbers.map((n) => `${p}${n}`));
const BAD = ['badpod', 'baddeployment', 'badcronjob'];

// What each Kyverno policy's bad resources must come out as. Severity "medium" is what every
// create by a person already is (the table's workload-change row); the rule must still be named.
const CHECKS: Record<string, Check> = {
  'disallow-privileged-containers': { rule: 'privileged-container', severity: 'high' },
  // A HostProcess pod must be on the host network (the API validates it), so host-network fires too.
  'disallow-host-process': { rule: 'privileged-container', severity: 'high', alongside: ['host-network'] },
  'disallow-host-namespaces': {
    rule: 'host-pid-or-ipc',
    severity: 'high',
    alongside: ['host-network'],
    byName: Object.fromEntries(
      ['badpod03', 'badpod03-new', 'baddeployment03', 'badcronjob03'].map((n) => [
        n,
        { rule: 'host-network', severity: 'medium' as const },
      ]),
    ),
  },
  'disallow-capabilities': {
    rule: 'dangerous-capabilities',
    severity: 'high',
    // PSS baseline admits only its short list; these add NET_RAW (or CAP_NET_RAW), which
    // containerd and Docker grant every container by default: adding it changes nothing there.
    uncovered: {
      why: 'NET_RAW only',
      names: [...names(BAD, ['01', '02', '03', '04', '05']), ...names(['badpod'], ['01-new', '02-new', '03-new'])],
    },
  },
  'disallow-privilege-escalation': {
    rule: 'allow-privilege-escalation',
    severity: 'medium',
    // The restricted profile also refuses the field left unset (its default is true): every
    // ordinary pod. The rule names only a container that asks for it.
    uncovered: { why: 'allowPrivilegeEscalation not set', names: names(BAD, ['01', '03', '05']) },
  },
  'disallow-cri-sock-mount': { rule: 'container-runtime-socket', severity: 'high' },
  'disallow-proc-mount': { rule: 'container-isolation-disabled', severity: 'medium' },
  'restrict-seccomp': { rule: 'container-isolation-disabled', severity: 'medium' },
  'restrict-apparmor-profiles': {
    rule: 'container-isolation-disabled',
    severity: 'medium',
    // A profile name outside runtime/default and localhost/* ("bar", "foo/bar"): the kubelet
    // refuses to start the pod; nothing runs unconfined.
    uncovered: { why: 'an invalid profile name', names: ['badpod01', 'badpod02', 'baddeployment01-new', 'badcronjob01-new'] },
  },
  'disallow-selinux': {
    rule: 'container-isolation-disabled',
    severity: 'medium',
    // A user or role, or a container type PSS baseline does not list: a policy named, not
    // confinement removed. Only spc_t and unconfined_t run unconfined.
    uncovered: {
      why: 'an SELinux user, role or confined type',
      names: [
        ...names(['badpod'], ['01-new', '02-new', '03-new', '04-new', '05-new', '06-new']),
        ...names(['baddeployment', 'badcronjob'], ['01-new', '02-new']),
        ...names(
          ['selur-badpod', 'selur-baddeployment', 'selur-badcronjob'],
          ['01', '02', '03', '04', '05', '06', '07', '08', '09', '11', '12', '13', '14', '15', '16', '17'],
        ),
      ],
    },
  },
  // Not covered at all, measured: every hostPath (these: /etc/junk, /home/junk, /etc/udev; the
  // pack names the node's sensitive paths), hostPorts and the sysctls outside PSS's safe set.
  'disallow-host-path': { rule: '', severity: 'medium', uncovered: { why: 'a hostPath outside the sensitive ones', names: [] } },
  'disallow-host-ports': { rule: '', severity: 'medium', uncovered: { why: 'a hostPort', names: [] } },
  'restrict-sysctls': { rule: '', severity: 'medium', uncovered: { why: 'an unsafe sysctl', names: [] } },
};

interface Resource {
  file: string;
  bad: boolean;
  object: Json;
  events: { how: string; event: Json }[];
}

function resources(policy: string, event: (fields: Json) => Json): Resource[] {
  const out: Resource[] = [];
  for (const file of readdirSync(join(DIR, policy)).sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(DIR, policy, file), 'utf8'))) {
      const object = doc.toJS() as Json | null;
      if (object === null) continue;
      // disallow-cri-sock-mount names its refused pods after the socket (pod-docker-sock.yaml).
      const bad = /bad|-sock\.yaml$/.test(file);
      out.push({ file, bad, object, events: kubectlCreates(event, object) });
    }
  }
  return out;
}

for (const [policy, check] of Object.entries(CHECKS)) {
  describe(`Kyverno ${policy} through serve`, () => {
    const event = eventMaker('c0ffee00', {
      user: { username: 'arn:aws:iam::123456789012:role/dev', groups: ['system:authenticated'] },
      sourceIPs: ['203.0.113.7'],
      userAgent: 'kubectl/v1.31.1 (linux/amd64) kubernetes/948afe5',
      requestReceivedTimestamp: '2026-12-07T07:10:00.000000Z',
      stageTimestamp: '2026-12-07T07:10:00.030000Z',
    });
    const all = resources(policy, event);
    const items = all.flatMap((r) => r.events.map((e) => e.event));
    const served = servedOnce('aisoc-kyverno-pss-', SECRET, 'lab', items);
    const uncovered = new Set(
      check.rule === '' ? all.map((r) => (r.object.metadata as Json).name as string) : (check.uncovered?.names ?? []),
    );

    it('accepts every event, a record each', () => {
      expect(served.status).toBe(200);
      expect(served.answer).toMatchObject({ accepted: items.length, rejected: 0 });
      expect(served.records).toHaveLength(items.length);
      expect(all.some((r) => r.bad)).toBe(true);
      expect(all.some((r) => !r.bad)).toBe(true);
      // Each name listed as not covered is one of this policy's refused resources.
      const refused = all.filter((r) => r.bad).map((r) => (r.object.metadata as Json).name);
      expect((check.uncovered?.names ?? []).filter((n) => !refused.includes(n))).toEqual([]);
    });

    for (const r of all) {
      const name = (r.object.metadata as Json).name as string;
      const kind = r.object.kind as string;
      const expected = check.byName?.[name] ?? { rule: check.rule, severity: check.severity };
      const covered = r.bad && !uncovered.has(name);
      const what = !r.bad
        ? `admitted: no pod-spec rule${check.alongside ? ` but ${check.alongside.join(', ')}` : ''}, not high`
        : covered
          ? `${expected.severity}, named by ${expected.rule}`
          : `not covered (${check.uncovered?.why}): medium, no rule`;
      it(`${r.file} ${kind} ${name}: ${what}`, () => {
        for (const { how, event: e } of r.events) {
          const got = served.records.find((x) => x.audit_id === e.auditID);
          const alert = served.alerts.find((a) => a.audit_id === e.auditID);
          const label = `${how} ${name}`;
          expect(got?.k8s_resource, label).toBe((e.objectRef as Json).resource);
          // Nothing but the check's rule (on a covered bad resource) and the rules named beside it.
          const allowed = [...(covered ? [expected.rule] : []), ...(check.alongside ?? [])];
          expect(
            (got?.rule_ids ?? []).filter((id) => !allowed.includes(id)),
            label,
          ).toEqual([]);
          if (!covered) {
            // What a person's create is without a rule: the table's workload row, no alert.
            expect([got?.severity, got?.severity_reason], label).toEqual(['medium', 'workload-change']);
            expect(alert, label).toBeUndefined();
            continue;
          }
          expect(got?.rule_ids, label).toContain(expected.rule);
          expect(got?.severity, label).toBe(expected.severity);
          if (expected.severity === 'high') {
            expect(got?.severity_reason, label).toBe(`rule:${expected.rule}`);
            expect(alert?.finding.finding_info.analytic.uid, label).toBe(expected.rule);
          } else expect(alert, label).toBeUndefined();
        }
      });
    }
  });
}
