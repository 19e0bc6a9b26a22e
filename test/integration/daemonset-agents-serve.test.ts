// Node agents security teams run (kube-prometheus's node-exporter, Falco, the Datadog agent,
// Cilium, fluent-bit: test/fixtures/daemonset-agents, SOURCES.md) as a node joins: the
// DaemonSet controller creates one pod per DaemonSet on it, the template plus what
// pkg/controller/daemon adds (test/helpers/daemonset-pods.ts). Each pod, and the same pod written
// by anyone else or owned by another kind, POSTed to a running `serve` and read back with `events`.
import { describe, expect, it } from 'vitest';
import { normaliseAuditEvent, validateAuditEvent } from '../../lib/audit/index.js';
import { agentDaemonSets, daemonSetPod, KCM_USER_AGENT, namespaceOf } from '../helpers/daemonset-pods.js';
import { eventMaker } from '../helpers/k8s-events.js';
import { servedOnce } from '../helpers/through-serve.js';

type Json = Record<string, unknown>;
const SECRET = 'daemonset-agents-secret-0123456789';
const NODE = 'ip-10-0-3-41.ec2.internal';
const PERSON = { username: 'arn:aws:iam::123456789012:role/sre-alice', groups: ['system:authenticated'] };
const KUBECTL = 'kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46';
const sa = (ns: string, name: string) => ({
  username: `system:serviceaccount:${ns}:${name}`,
  groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'],
});

// What each agent's pod fires, measured on the pack before the refinement (rules/workloads.yaml):
// a person creating it is high (an alert), and so was every node's copy. fluent-bit's /var/log
// fires only the medium host-log-mount (KubeHound's CE_VAR_LOG_SYMLINK precondition), the medium
// case: no alert, the table's row named where it is medium too. A person creating a pod in
// kube-system is kube-system-workload's too.
const AGENTS: Record<string, { rules: string[]; kubeSystem: boolean; medium?: true }> = {
  'cilium__quick-install-daemonset.yaml': {
    rules: ['privileged-container', 'host-network', 'dangerous-capabilities', 'kube-system-pod'],
    kubeSystem: true,
  },
  'datadog-agent__agent-only-daemonset.yaml': { rules: ['sensitive-host-path', 'container-runtime-socket'], kubeSystem: false },
  'falco-deploy-kubernetes__daemonset.yaml': {
    rules: ['privileged-container', 'sensitive-host-path', 'container-runtime-socket'],
    kubeSystem: false,
  },
  'fluent-bit-kubernetes-logging__fluent-bit-ds.yaml': { rules: ['host-log-mount'], kubeSystem: false, medium: true },
  'kube-prometheus__nodeExporter-daemonset.yaml': { rules: ['host-pid-or-ipc', 'host-network', 'sensitive-host-path'], kubeSystem: false },
};

const event = eventMaker('d5e7a9c1', {
  sourceIPs: ['10.0.100.5'],
  requestReceivedTimestamp: '2026-12-07T09:00:01.000000Z',
  stageTimestamp: '2026-12-07T09:00:01.020000Z',
});

function podCreate(user: Json, userAgent: string, pod: Json): Json {
  const ns = (pod.metadata as Json).namespace as string;
  return event({
    requestURI: `/api/v1/namespaces/${ns}/pods`,
    verb: 'create',
    user,
    userAgent,
    objectRef: { resource: 'pods', namespace: ns, apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 201 },
    requestObject: pod,
  });
}

interface Case {
  agent: string;
  who: string;
  event: Json;
  /** True: the DaemonSet controller's copy of its template; false: today's result must stand. */
  copy: boolean;
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const { file, ds } of agentDaemonSets()) {
    const pod = daemonSetPod(ds, NODE);
    const add = (who: string, copy: boolean, e: Json) => out.push({ agent: file, who, event: e, copy });
    add('the daemon-set-controller', true, podCreate(sa('kube-system', 'daemon-set-controller'), KCM_USER_AGENT, pod));
    add(
      'kube-controller-manager without per-controller credentials',
      true,
      podCreate(
        { username: 'system:kube-controller-manager', groups: ['system:authenticated'] },
        KCM_USER_AGENT.split('/system:')[0] as string,
        pod,
      ),
    );
    // The same pod, its DaemonSet ownerReference forged, by a person and by a workload's account.
    add('a person (forged ownerReference)', false, podCreate(PERSON, KUBECTL, pod));
    add('a CI service account (forged ownerReference)', false, podCreate(sa('ci', 'deployer'), KUBECTL, pod));
    // The same spec in pods of other controllers, by each controller's own identity.
    for (const [controller, kind] of [
      ['replicaset-controller', 'ReplicaSet'],
      ['statefulset-controller', 'StatefulSet'],
      ['job-controller', 'Job'],
    ] as const) {
      const owned = daemonSetPod(ds, NODE, { kind, apiVersion: kind === 'Job' ? 'batch/v1' : 'apps/v1' });
      add(`the ${controller} (${kind} owner)`, false, podCreate(sa('kube-system', controller), KCM_USER_AGENT, owned));
    }
    // The DaemonSet controller's identity with no controller reference, or an old group's DaemonSet.
    const loose = daemonSetPod(ds, NODE, { controller: false });
    add(
      'the daemon-set-controller (ownerReference not a controller)',
      false,
      podCreate(sa('kube-system', 'daemon-set-controller'), KCM_USER_AGENT, loose),
    );
    const old = daemonSetPod(ds, NODE, { apiVersion: 'extensions/v1beta1' });
    add(
      'the daemon-set-controller (extensions/v1beta1 owner)',
      false,
      podCreate(sa('kube-system', 'daemon-set-controller'), KCM_USER_AGENT, old),
    );
  }
  return out;
}

/** Each DaemonSet as Helm writes it (a person's `helm install`: a create of the DaemonSet). */
function daemonSetWrites(): { agent: string; event: Json }[] {
  return agentDaemonSets().map(({ file, ds }) => {
    const ns = namespaceOf(ds);
    const object = { ...ds, metadata: { ...(ds.metadata as Json), namespace: ns } };
    return {
      agent: file,
      event: event({
        requestURI: `/apis/apps/v1/namespaces/${ns}/daemonsets`,
        verb: 'create',
        user: PERSON,
        userAgent: 'Helm/3.16.2',
        objectRef: { resource: 'daemonsets', namespace: ns, apiGroup: 'apps', apiVersion: 'v1' },
        responseStatus: { metadata: {}, code: 201 },
        requestObject: object,
      }),
    };
  });
}

describe("public node agents' DaemonSet pods through serve", () => {
  const all = cases();
  const writes = daemonSetWrites();
  const served = servedOnce(
    'aisoc-daemonset-agents-',
    SECRET,
    'prod',
    [...writes, ...all].map((c) => c.event),
  );

  it('accepts every event', () => {
    expect(served.status).toBe(200);
    expect(served.records).toHaveLength(writes.length + all.length);
  });

  it('each DaemonSet write is scored by the same rules, high, an alert (the template the copies come from)', () => {
    for (const w of writes) {
      const { rules, kubeSystem, medium } = AGENTS[w.agent] as { rules: string[]; kubeSystem: boolean; medium?: true };
      const r = served.records.find((x) => x.audit_id === w.event.auditID);
      const alert = served.alerts.find((a) => a.audit_id === w.event.auditID);
      // A person's workload in kube-system is kube-system-workload's too (before kube-system-pod, in pack order).
      const expected = kubeSystem ? [...rules.slice(0, -1), 'kube-system-workload', ...rules.slice(-1)] : rules;
      expect(r?.rule_ids, w.agent).toEqual(expected);
      if (medium) {
        // A medium rule level with row 6: the row stays named.
        expect([r?.severity, r?.severity_reason, alert], w.agent).toEqual(['medium', 'workload-change', undefined]);
      } else if (rules.length === 0) {
        expect([r?.severity, r?.severity_reason, alert], w.agent).toEqual(['medium', 'workload-change', undefined]);
      } else {
        expect(r?.severity, w.agent).toBe('high');
        expect(alert?.finding.finding_info.analytic.uid, w.agent).toBe(r?.severity_reason.slice(5));
      }
    }
  });

  for (const c of all) {
    const { rules, kubeSystem, medium } = AGENTS[c.agent] as { rules: string[]; kubeSystem: boolean; medium?: true };
    it(`${c.agent}: pod created by ${c.who}`, () => {
      const r = served.records.find((x) => x.audit_id === c.event.auditID);
      const alert = served.alerts.find((a) => a.audit_id === c.event.auditID);
      const person = c.who.startsWith('a person');
      expect(r?.rule_ids).toEqual(person && kubeSystem ? [...rules.slice(0, -1), 'kube-system-workload', ...rules.slice(-1)] : rules);
      if (rules.length === 0) {
        // Nothing fires: the table's row, as before (the controllers' creates are routine).
        expect(r?.severity).toBe(c.who.includes('controller') ? 'info' : 'medium');
        expect(alert).toBeUndefined();
      } else if (c.copy) {
        // Scored when the DaemonSet was written; the copy is kept, low, its rules named, no alert.
        // kube-system-pod reads DaemonSets too, so Cilium's agent in kube-system is no exception.
        expect([r?.severity, r?.severity_reason]).toEqual(['low', 'routine-daemonset-pod']);
        expect(alert).toBeUndefined();
      } else if (medium) {
        // Medium, no alert: row 6 named where the table says medium too (anyone but a controller),
        // the rule where the controllers' creates are routine (info).
        const reason = c.who.includes('controller') ? 'rule:host-log-mount' : 'workload-change';
        expect([r?.severity, r?.severity_reason, alert]).toEqual(['medium', reason, undefined]);
      } else {
        expect(r?.severity).toBe('high');
        expect(r?.severity_reason).toMatch(/^rule:/);
        expect(alert?.finding.finding_info.analytic.uid).toBe(r?.severity_reason.slice(5));
      }
    });
  }

  it('K8S_AUDIT_SEVERITY=spec scores the copies as before: row 6, workload-change, no rules', () => {
    for (const c of all.filter((x) => x.copy)) {
      const v = validateAuditEvent(c.event);
      if (!v.ok) throw new Error(v.reason);
      const rec = normaliseAuditEvent(v.event, {
        tenantId: 'acme',
        clusterName: 'prod',
        receivedAt: 0,
        detection: { severity: 'spec', rules: null },
      });
      expect([rec.severity, rec.severity_reason, rec.rule_ids]).toEqual(['medium', 'workload-change', []]);
    }
  });

  it('every agent pod lands in the namespace its install gives', () => {
    expect(agentDaemonSets().map(({ ds }) => namespaceOf(ds))).toEqual(['kube-system', 'datadog', 'falco', 'logging', 'monitoring']);
  });
});
