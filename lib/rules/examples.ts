import { normaliseAuditEvent } from '../audit/normalise.js';
import { validateAuditEvent } from '../audit/parse.js';
import type { JsonObject } from '../audit/types.js';
import type { RuleEngine } from './engine.js';

/** One example that did not do what its rule says, with the reason a rule author can act on. */
export interface ExampleFailure {
  ruleId: string;
  file: string;
  kind: 'match' | 'no_match';
  index: number;
  reason: string;
  /**
   * Set when the condition stopped with an error other than an absent key (`ruleErrorKind`): a
   * view, a function or a pattern threw, which the ingest counts and logs as a rule error.
   */
  error?: string;
}

/** What running a pack's examples found. */
export interface ExampleReport {
  rules: number;
  examples: number;
  failures: ExampleFailure[];
}

let seq = 0;

/**
 * An example as a full audit event: the fields the apiserver always writes (kind, apiVersion,
 * level, auditID, stage, timestamps) filled in where the example leaves them out.
 */
export function exampleEvent(example: JsonObject): JsonObject {
  seq++;
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    auditID: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    stage: 'ResponseComplete',
    requestReceivedTimestamp: '2026-01-01T00:00:00.000000Z',
    stageTimestamp: '2026-01-01T00:00:00.010000Z',
    sourceIPs: ['10.0.0.10'],
    ...example,
  };
}

/**
 * Runs every rule's examples through the normaliser with `engine`: a `match` example must list
 * the rule in `rule_ids`, a `no_match` example must not.
 */
export function runExamples(engine: RuleEngine): ExampleReport {
  const failures: ExampleFailure[] = [];
  let examples = 0;
  const detection = { severity: 'default' as const, rules: engine };
  for (const rule of engine.rules) {
    for (const kind of ['match', 'no_match'] as const) {
      rule.examples[kind].forEach((example, index) => {
        examples++;
        const fail = (reason: string, error?: string) =>
          failures.push({ ruleId: rule.id, file: rule.file, kind, index, reason, ...(error === undefined ? {} : { error }) });
        const v = validateAuditEvent(exampleEvent(example));
        if (!v.ok) {
          fail(`not a valid audit event: ${v.reason}`);
          return;
        }
        const record = normaliseAuditEvent(v.event, { tenantId: null, clusterName: null, receivedAt: 0, detection });
        const fired = record.rule_ids.includes(rule.id);
        if (fired) {
          if (kind === 'no_match') fail('the rule fired');
          return;
        }
        // At ingest an absent key is "no match" and nobody sees it; here it is the author's only
        // chance to: a no_match example that passes only because the condition failed on it means
        // every event of its shape goes unscored by this rule for the same reason. Any other error
        // is not a match of either kind: the condition could not be evaluated (docs/detection-rules.md).
        const error = engine.evaluationError(rule, record.raw_event);
        if (error?.kind != null) {
          fail(`its condition raised ${error.kind} (${error.message}): a rule error, not a match or a no match`, error.kind);
          return;
        }
        const hint = 'read fields an event may lack with has() or .?';
        if (kind === 'match')
          fail(error === null ? 'the rule did not fire' : `the rule did not fire: its condition failed (${error.message}); ${hint}`);
        else if (error !== null) fail(`the rule did not fire only because its condition failed (${error.message}); ${hint}`);
      });
    }
  }
  return { rules: engine.rules.length, examples, failures };
}
