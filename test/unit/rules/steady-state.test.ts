import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type NormalisedRecord, normaliseAuditEvent, validateAuditEvent } from '../../../lib/audit/index.js';
import { shippedRuleSpecs } from '../../../lib/rules/shipped.js';
import { FIXTURES } from '../../helpers/fixtures.js';
import { STEADY_STATE, steadyStateHour } from '../../helpers/steady-state.js';

const ctx = { tenantId: 'acme', clusterName: 'prod', receivedAt: 0 };

const HOUR = steadyStateHour(1);

function score(detection?: 'spec'): NormalisedRecord[] {
  return HOUR.map((e) => {
    const v = validateAuditEvent(e);
    if (!v.ok) throw new Error(v.reason);
    return normaliseAuditEvent(v.event, detection === 'spec' ? { ...ctx, detection: { severity: 'spec', rules: null } } : ctx);
  });
}

function tally(records: NormalisedRecord[], key: (r: NormalisedRecord) => string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records) for (const k of key(r)) out[k] = (out[k] ?? 0) + 1;
  return out;
}

describe(`steady state: one hour of a ${STEADY_STATE.nodes}-node, ${STEADY_STATE.pods}-pod EKS cluster`, () => {
  const ours = score();
  const spec = score('spec');
  const bySeverity = tally(ours, (r) => [r.severity]);
  const specBySeverity = tally(spec, (r) => [r.severity]);
  // Rules fire on the hour only on the node agents' pods the DaemonSet controller creates
  // (routine-daemonset-pod, low) and on the add-ons' own webhook CA bundle writes
  // (routine-webhook-ca-injection, low); every other event is scored by the refined table alone.
  const LIFTED = new Set(['routine-daemonset-pod', 'routine-webhook-ca-injection']);
  const byRule = tally(
    ours.filter((r) => !LIFTED.has(r.severity_reason)),
    (r) => r.rule_ids,
  );
  const caWrites = ours.filter((r) => r.severity_reason === 'routine-webhook-ca-injection');
  const agentPods = ours.filter((r) => r.severity_reason === 'routine-daemonset-pod');
  const byReason = tally(ours, (r) => [r.severity_reason]);
  const specByReason = tally(spec, (r) => [r.severity_reason]);

  it('is the same hour for the same seed, and a different one for another', () => {
    // Who did what when: enough to tell two hours apart without serialising 30 MB three times.
    const digest = (events: Record<string, unknown>[]) =>
      events.map((e) => `${e.requestReceivedTimestamp} ${(e.user as { username: string }).username} ${e.verb} ${e.requestURI}`).join('\n');
    const again = digest(steadyStateHour(1));
    expect(again).toBe(digest(HOUR));
    expect(again).not.toBe(digest(steadyStateHour(2)));
  });

  it('stays quiet: fewer than 1 high per 10,000 routine events (the spec table alone is far louder)', () => {
    // The figures the README reports (docs/detection-rules.md, "Noise").
    console.log(
      `[steady-state] ${ours.length} events/hour; default: ${JSON.stringify(bySeverity)}; spec: ${JSON.stringify(specBySeverity)}; ` +
        `rules: ${JSON.stringify(byRule)}; reasons: ${JSON.stringify(byReason)}; spec reasons: ${JSON.stringify(specByReason)}`,
    );
    expect(ours.length).toBeGreaterThan(30_000);
    expect(((bySeverity.high ?? 0) / ours.length) * 10_000).toBeLessThan(1);
    expect(specBySeverity.high ?? 0).toBeGreaterThan(1_000);
  });

  it("docs/detection-rules.md's noise table and the README report this hour's figures", () => {
    // A change to the generator or the refinements that moves a figure must move the docs with it.
    const root = join(FIXTURES, '..', '..');
    const doc = readFileSync(join(root, 'docs', 'detection-rules.md'), 'utf8');
    const readme = readFileSync(join(root, 'README.md'), 'utf8').replace(/\s+/g, ' ');
    const f = (n: number | undefined) => (n ?? 0).toLocaleString('en-US');
    const per10k = Math.round(((specBySeverity.high ?? 0) / spec.length) * 10_000);
    // Every event is a ResponseComplete stage of its own request: each high one is an alert.
    expect(doc).toContain(
      `| \`K8S_AUDIT_SEVERITY=spec\` (the table alone) | ${f(spec.length)} | ${f(specBySeverity.high)} (${per10k} per 10,000) | ` +
        `${f(specBySeverity.medium)} | ${f(specBySeverity.low)} | ${f(specBySeverity.info)} | ${f(specBySeverity.high)} |`,
    );
    expect(doc).toContain(
      `| default (refinements + rule pack) | ${f(ours.length)} | **${f(bySeverity.high)}** | **${f(bySeverity.medium)}** | ` +
        `${f(bySeverity.low)} | ${f(bySeverity.info)} | **${f(bySeverity.high)}** |`,
    );
    expect(byRule).toEqual({});
    expect(doc.replace(/\s+/g, ' ')).toContain(
      `the rule pack fires on nothing else (firing count 0 for each of the ${shippedRuleSpecs().length} rules on the other ${f(ours.length - agentPods.length - caWrites.length)} events)`,
    );
    expect(doc.replace(/\s+/g, ' ')).toContain(
      `the ${f(agentPods.length)} node agents' pods the DaemonSet controller creates on the 4 nodes that join`,
    );
    expect(readme).toContain(
      `EKS cluster (${f(ours.length)} events) the table alone gives ${f(specBySeverity.high)} high, the default ${f(bySeverity.high)}`,
    );
  });

  it('the refinements cover the routine token requests and controller writes; nothing routine is medium', () => {
    expect(byReason['routine-node-pod-token']).toBeGreaterThan(1_500);
    expect(byReason['routine-controller-reconcile']).toBeGreaterThan(50);
    expect(byReason['routine-node-pod-delete']).toBeGreaterThan(50);
    // cluster-autoscaler's drain of the node it scales down and the termination handler's of a
    // spot node: one eviction per pod, and the retries a PodDisruptionBudget refuses (429).
    expect(byReason['routine-node-drain-eviction']).toBeGreaterThanOrEqual(60);
    expect(specByReason['workload-change']).toBeGreaterThan(byReason['routine-node-drain-eviction'] ?? 0);
    const refused = HOUR.filter(
      (e) => (e.objectRef as { subresource?: string }).subresource === 'eviction' && (e.responseStatus as { code: number }).code === 429,
    );
    expect(refused.length).toBeGreaterThanOrEqual(13);
    // Argo CD's gets of the objects a sync is about to create (404).
    expect(byReason['routine-get-not-found']).toBeGreaterThanOrEqual(4);
    // The add-ons' cluster-wide Secret informers: high under the spec's table, low by default.
    expect(byReason['routine-addon-secrets-watch']).toBeGreaterThanOrEqual(40);
    expect(specByReason['cluster-wide-secrets-read']).toBe(
      (byReason['routine-addon-secrets-watch'] ?? 0) + (byReason['routine-controller-secrets-watch'] ?? 0),
    );
    expect(bySeverity.medium ?? 0).toBe(0);
    // The node agents' pods on the 4 nodes that join (node-exporter, Falco, the Datadog agent: high by
    // their rules before the refinement; fluent-bit's /var/log: medium), low and named now.
    expect(agentPods).toHaveLength(16);
    expect(new Set(agentPods.map((r) => r.severity))).toEqual(new Set(['low']));
    expect(tally(agentPods, (r) => r.rule_ids)).toEqual({
      'host-pid-or-ipc': 4,
      'host-network': 4,
      'sensitive-host-path': 12,
      'privileged-container': 4,
      'container-runtime-socket': 8,
      'host-log-mount': 4,
    });
  });

  it("the add-ons' own webhook CA bundle writes are low, admission-webhook-change named (each was high, an alert)", () => {
    // cert-manager's cainjector (two), Kyverno, istiod, Gatekeeper's rotator (two).
    expect(caWrites).toHaveLength(6);
    expect(new Set(caWrites.map((r) => `${r.severity} ${r.rule_ids.join(',')}`))).toEqual(new Set(['low admission-webhook-change']));
    // The spec's table alone: a webhook configuration is no row of it (info).
    const ids = new Set(caWrites.map((r) => r.audit_id));
    expect(new Set(spec.filter((r) => ids.has(r.audit_id)).map((r) => r.severity_reason))).toEqual(new Set(['steady-state']));
  });

  it('is as quiet with Karpenter removing the node instead of cluster-autoscaler', () => {
    // The same hour with Karpenter's consolidation (its NodeClaim and Node deleted, the node
    // drained with a budget's refusals retried, the finalizers removed): no high, no medium.
    const hour = steadyStateHour(1, { nodeLifecycle: 'karpenter' });
    const records = hour.map((e) => {
      const v = validateAuditEvent(e);
      if (!v.ok) throw new Error(v.reason);
      return normaliseAuditEvent(v.event, ctx);
    });
    const karpenter = 'system:serviceaccount:kube-system:karpenter';
    const byKarpenter = records.filter((r) => r.k8s_user === karpenter);
    expect(byKarpenter.filter((r) => r.k8s_subresource === 'eviction' && r.k8s_response_code === 429).length).toBeGreaterThanOrEqual(8);
    expect(byKarpenter.some((r) => r.k8s_resource === 'nodeclaims' && r.k8s_verb === 'delete')).toBe(true);
    expect(hour.some((e) => (e.user as { username: string }).username.endsWith(':cluster-autoscaler'))).toBe(false);
    const severities = tally(records, (r) => [r.severity]);
    expect([severities.high ?? 0, severities.medium ?? 0]).toEqual([0, 0]);
    expect(
      tally(
        records.filter((r) => !LIFTED.has(r.severity_reason)),
        (r) => r.rule_ids,
      ),
    ).toEqual({});
  });
});
