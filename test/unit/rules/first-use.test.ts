import { Environment } from '@marcbachmann/cel-js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { normaliseAuditEvent, validateAuditEvent } from '../../../lib/audit/index.js';
import type { AuditEvent, RuleError } from '../../../lib/audit/types.js';
import { compileRules, type RuleEngine } from '../../../lib/rules/engine.js';
import { exampleEvent } from '../../../lib/rules/examples.js';
import { shippedRuleSpecs } from '../../../lib/rules/shipped.js';
import { allFalcoEvents } from '../../helpers/fixtures.js';

// The shipped pack's conditions are compiled the first time a request reaches each rule
// (lib/rules/engine.ts, compileRule); an operator's rule, or a copy of a shipped one (not marked
// vetted), is compiled at load. Both must score every event alike.

function scored(engine: RuleEngine, event: AuditEvent) {
  const errors: RuleError[] = [];
  const record = normaliseAuditEvent(event, {
    tenantId: null,
    clusterName: null,
    receivedAt: 0,
    detection: {
      severity: 'default',
      rules: { match: (e, sink) => engine.match(e, sink ?? errors), describe: (id) => engine.describe(id), routine: engine.routine },
    },
  });
  return { rule_ids: record.rule_ids, severity: record.severity, reason: record.severity_reason, errors };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('a shipped rule compiled on first use', () => {
  it('gives the same matches, severity and reason as compiled at load, on every example of the pack and every Falco trace event', () => {
    const atFirstUse = compileRules(shippedRuleSpecs());
    const atLoad = compileRules(shippedRuleSpecs().map((s) => ({ ...s })));
    const events: AuditEvent[] = [];
    for (const rule of atLoad.rules) {
      for (const example of [...rule.examples.match, ...rule.examples.no_match]) {
        const v = validateAuditEvent(exampleEvent(example));
        if (!v.ok) throw new Error(v.reason);
        events.push(v.event);
      }
    }
    for (const e of allFalcoEvents()) {
      const v = validateAuditEvent(e);
      if (v.ok) events.push(v.event);
    }
    expect(events.length).toBeGreaterThan(300);
    let fired = 0;
    for (const event of events) {
      const lazy = scored(atFirstUse, event);
      expect(lazy, JSON.stringify(event).slice(0, 200)).toEqual(scored(atLoad, event));
      fired += lazy.rule_ids.length;
    }
    // Every rule fires on its own match examples at least.
    expect(fired).toBeGreaterThanOrEqual(atLoad.rules.length);
  });

  it('is compiled only when a request reaches it: loading the pack parses no condition, an event parses only its candidates', () => {
    const parse = vi.spyOn(Environment.prototype, 'parse');
    const engine = compileRules(shippedRuleSpecs());
    expect(parse).not.toHaveBeenCalled();
    // A kubelet's Lease renewal, the commonest event of a cluster (every node, every 10 s).
    const lease = {
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: 'Metadata',
      auditID: '6f1c2b1e-2b1a-4a59-9a57-1d1f3f1e2a10',
      stage: 'ResponseComplete',
      requestURI: '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/ip-10-0-1-7',
      verb: 'update',
      user: { username: 'system:node:ip-10-0-1-7', groups: ['system:nodes', 'system:authenticated'] },
      sourceIPs: ['10.0.1.7'],
      objectRef: {
        resource: 'leases',
        namespace: 'kube-node-lease',
        name: 'ip-10-0-1-7',
        apiGroup: 'coordination.k8s.io',
        apiVersion: 'v1',
      },
      responseStatus: { metadata: {}, code: 200 },
      requestReceivedTimestamp: '2026-01-01T00:00:00.000000Z',
      stageTimestamp: '2026-01-01T00:00:00.004000Z',
    } as unknown as AuditEvent;
    // No shipped rule indexes a Lease update: nothing compiled.
    expect(engine.candidates('update', 'leases', '').filter((r) => r.admitsUser(lease.user))).toEqual([]);
    engine.match(lease);
    expect(parse).not.toHaveBeenCalled();
    // The kubelet's projected token for a pod (create serviceaccounts/token, 1.25 per pod an hour).
    const token = {
      ...lease,
      auditID: '0a4f3c9e-7d21-4c43-8d0e-5b7e9f1a2c33',
      requestURI: '/api/v1/namespaces/web/serviceaccounts/default/token',
      verb: 'create',
      objectRef: { resource: 'serviceaccounts', subresource: 'token', namespace: 'web', name: 'default', apiVersion: 'v1' },
      responseStatus: { metadata: {}, code: 201 },
    } as unknown as AuditEvent;
    const reached = engine.candidates('create', 'serviceaccounts', 'token').filter((r) => r.admitsUser(token.user)).length;
    expect(reached).toBeGreaterThan(0);
    expect(reached).toBeLessThan(engine.rules.length);
    engine.match(token);
    expect(parse).toHaveBeenCalledTimes(reached);
    // Once compiled, a rule is not compiled again.
    engine.match(token);
    expect(parse).toHaveBeenCalledTimes(reached);
  });

  it('an operator-style rule (not vetted) is still compiled at load', () => {
    const parse = vi.spyOn(Environment.prototype, 'parse');
    compileRules(shippedRuleSpecs().map((s) => ({ ...s })));
    expect(parse).toHaveBeenCalledTimes(shippedRuleSpecs().length);
  });
});
