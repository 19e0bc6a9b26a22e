// A rule whose condition stops with an error: CEL's absent key stays "no match", anything else (a
// CEL type error on a value of another type, a JavaScript error in cel-js, the engine's views or
// functions) is told apart by class and reported, and the event is scored at least by its row of
// the severity table. The events are Falco's public k8saudit traces (test/fixtures/falco).
import { EvaluationError } from '@marcbachmann/cel-js';
import { describe, expect, it } from 'vitest';
import { normaliseAuditEvent } from '../../../lib/audit/index.js';
import type { AuditEvent, RuleError } from '../../../lib/audit/types.js';
import { compileRules, ruleErrorKind } from '../../../lib/rules/engine.js';
import { falcoEvent } from '../../helpers/fixtures.js';

const ctx = { tenantId: 'acme', clusterName: 'prod', receivedAt: 0 };

/**
 * Falco's trace of the ReplicaSet controller creating a pod whose container is privileged, with
 * `constructor: null` beside `privileged: true` in that container's securityContext. cel-js picks a
 * value's type by its `constructor` (lib/registry.js, lib/operators.js), so an own key of that name
 * makes every condition that reads the object throw a JavaScript TypeError. A JSON merge patch is
 * logged as sent, unknown keys and all; a hostile sender to the webhook can send anything.
 */
function privilegedPodWithConstructorKey(): AuditEvent {
  const event = structuredClone(falcoEvent('create_nginx_pod_privileged.json'));
  const body = event.requestObject as { spec: { containers: { securityContext: unknown }[] } };
  // Parsed as the ingest parses a body: the key is the object's own.
  (body.spec.containers[0] as { securityContext: unknown }).securityContext = JSON.parse('{"privileged":true,"constructor":null}');
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

  it("a privileged pod that makes the rules throw is scored by the table's row, not lowered to info, and the rule is named", () => {
    const errors: RuleError[] = [];
    const record = normaliseAuditEvent(privilegedPodWithConstructorKey(), { ...ctx, ruleErrors: errors });
    // The same event without the key is high (privileged-container); with it, the rule cannot be
    // evaluated. The ReplicaSet controller's pod write is `info` by the routine refinement, but
    // that refinement holds only when every rule could read the pod: row 6 (workload-change) stands.
    expect(normaliseAuditEvent(falcoEvent('create_nginx_pod_privileged.json'), ctx)).toMatchObject({
      severity: 'high',
      rule_ids: ['privileged-container'],
    });
    expect(record).toMatchObject({ severity: 'medium', severity_reason: 'workload-change', rule_ids: [] });
    expect(errors).toContainEqual({ rule: 'privileged-container', kind: 'TypeError' });
    expect(errors.every((e) => !JSON.stringify(e).includes('nginx'))).toBe(true);
  });
});
