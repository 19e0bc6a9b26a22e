// A rule whose condition stops with an error: CEL's absent key stays "no match", anything else (a
// CEL type error on a value of another type, a JavaScript error in cel-js, the engine's views or
// functions) is told apart by class and reported, and the event is scored at least by its row of
// the severity table; an object cel-js cannot type (an own key `constructor`) is read as a map.
// The pods are Falco's public k8saudit traces (test/fixtures/falco).
import { EvaluationError } from '@marcbachmann/cel-js';
import { describe, expect, it } from 'vitest';
import { normaliseAuditEvent } from '../../../lib/audit/index.js';
import type { AuditEvent, RuleError } from '../../../lib/audit/types.js';
import { compileRules, ruleErrorKind } from '../../../lib/rules/engine.js';
import { falcoEvent } from '../../helpers/fixtures.js';

const ctx = { tenantId: 'acme', clusterName: 'prod', receivedAt: 0 };

/**
 * Falco's trace of the ReplicaSet controller creating a pod whose container is privileged, with
 * its container's securityContext replaced by `json` (parsed as the ingest parses a body).
 */
function replicaSetPodWith(securityContext: string): AuditEvent {
  const event = structuredClone(falcoEvent('create_nginx_pod_privileged.json'));
  const body = event.requestObject as { spec: { containers: { securityContext: unknown }[] } };
  (body.spec.containers[0] as { securityContext: unknown }).securityContext = JSON.parse(securityContext);
  return event;
}

function pack(condition: string) {
  return compileRules([
    {
      id: 'under-test',
      title: 't',
      severity: 'high',
      description: 'd',
      mitre: ['T1610'],
      source: 's',
      match: { verbs: ['create'], resources: ['pods'] },
      condition,
      examples: { match: [], no_match: [] },
      file: 'test.yaml',
    },
  ]);
}

describe('rule errors', () => {
  it('tells errors apart by class: an absent key is null, CEL errors by code, JavaScript errors by class, never by message', () => {
    expect(ruleErrorKind(new EvaluationError({ code: 'no_such_key', message: 'No such key: spec' }))).toBeNull();
    expect(ruleErrorKind(new EvaluationError({ code: 'index_out_of_bounds', message: 'No such key: index out of bounds' }))).toBeNull();
    expect(ruleErrorKind(new EvaluationError({ code: 'no_such_overload', message: 'No such key: x' }))).toBe('cel:no_such_overload');
    expect(ruleErrorKind(new TypeError("Cannot read properties of null (reading 'name')"))).toBe('TypeError');
    expect(ruleErrorKind(new RangeError('Maximum call stack size exceeded'))).toBe('RangeError');
    expect(ruleErrorKind('a string thrown')).toBe('Error');
    class HostileNamed extends Error {}
    Object.defineProperty(HostileNamed, 'name', { value: 'secret-value from the event' });
    expect(ruleErrorKind(new HostileNamed('x'))).toBe('Error');
  });

  it('an absent key is no match and reported nowhere; a value of another type is a CEL error named by its code', () => {
    const event = falcoEvent('create_nginx_pod_privileged.json');
    const errors: RuleError[] = [];
    expect(pack('requestObject.spec.notThere == true').match(event, errors)).toEqual([]);
    expect(errors).toEqual([]);
    // A container's image is a string, which CEL does not compare with a number.
    expect(pack('requestObject.spec.containers.exists(c, c.image > 3)').match(event, errors)).toEqual([]);
    expect(errors).toEqual([{ rule: 'under-test', kind: 'cel:no_such_overload' }]);
  });

  it("a pod a rule cannot read is scored by the table's row, not lowered to info by the routine refinement", () => {
    // `capabilities.add` as a string, not a list (the YAML slip `add: SYS_ADMIN`): exists() has no
    // list to range over. The ReplicaSet controller's pod create is `info` by the routine
    // refinement, which holds only when every rule could read the pod: row 6 (workload-change) stands.
    const errors: RuleError[] = [];
    const record = normaliseAuditEvent(replicaSetPodWith('{"capabilities":{"add":"SYS_ADMIN"}}'), { ...ctx, ruleErrors: errors });
    expect(record).toMatchObject({ severity: 'medium', severity_reason: 'workload-change', rule_ids: [] });
    expect(errors).toEqual([{ rule: 'dangerous-capabilities', kind: 'cel:invalid_comprehension_range' }]);
    // The same pod with the capability as a list is the rule's, and nothing errs.
    const listed: RuleError[] = [];
    expect(normaliseAuditEvent(replicaSetPodWith('{"capabilities":{"add":["SYS_ADMIN"]}}'), { ...ctx, ruleErrors: listed })).toMatchObject({
      severity: 'high',
      rule_ids: ['dangerous-capabilities'],
    });
    expect(listed).toEqual([]);
  });

  it('an object with an own key `constructor` is read as any other: the privileged pod is high, no rule errs', () => {
    // cel-js picks a value's type by its `constructor` (lib/registry.js, lib/operators.js), so
    // `{"privileged": true, "constructor": null}` made every rule reading the securityContext throw a
    // TypeError and this pod came out info. A JSON merge patch is logged as sent, unknown keys too.
    const errors: RuleError[] = [];
    const record = normaliseAuditEvent(replicaSetPodWith('{"privileged":true,"constructor":null}'), { ...ctx, ruleErrors: errors });
    expect(record).toMatchObject({ severity: 'high', severity_reason: 'rule:privileged-container', rule_ids: ['privileged-container'] });
    expect(errors).toEqual([]);
  });

  it('a namespace label named constructor does not hide the Pod Security enforce level set to privileged', () => {
    // `kubectl label ns team-a constructor=x pod-security.kubernetes.io/enforce=privileged --overwrite`:
    // kubectl label's merge patch carries both labels (`constructor` is a valid label key).
    const event = {
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: 'RequestResponse',
      auditID: '5b0c6a51-0000-4000-8000-000000000001',
      stage: 'ResponseComplete',
      requestURI: '/api/v1/namespaces/team-a',
      verb: 'patch',
      user: { username: 'arn:aws:iam::123456789012:role/dev', groups: ['system:authenticated'] },
      sourceIPs: ['203.0.113.7'],
      userAgent: 'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350',
      objectRef: { resource: 'namespaces', name: 'team-a', apiVersion: 'v1' },
      responseStatus: { metadata: {}, code: 200 },
      requestObject: JSON.parse('{"metadata":{"labels":{"constructor":"x","pod-security.kubernetes.io/enforce":"privileged"}}}'),
      requestReceivedTimestamp: '2026-12-07T10:00:00.000000Z',
      stageTimestamp: '2026-12-07T10:00:00.010000Z',
    } as AuditEvent;
    const errors: RuleError[] = [];
    expect(normaliseAuditEvent(event, { ...ctx, ruleErrors: errors }).rule_ids).toEqual(['pod-security-enforce-lowered']);
    expect(errors).toEqual([]);
  });
});
