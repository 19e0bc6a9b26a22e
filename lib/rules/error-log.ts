import type { RuleError } from '../audit/types.js';
import type { RuleErrorCount } from '../metrics/names.js';

/** A rule's evaluation errors are logged at most once per this many ms: a flood of hostile events moves a counter, not the log. */
export const RULE_ERROR_LOG_MS = 60_000;

/** A batch's rule errors by rule and kind, in the order first seen. */
export function countRuleErrors(errors: readonly RuleError[]): RuleErrorCount[] {
  const counts = new Map<string, RuleErrorCount>();
  for (const e of errors) {
    const key = `${e.rule}\u0000${e.kind}`;
    const c = counts.get(key);
    if (c === undefined) counts.set(key, { rule: e.rule, kind: e.kind, count: 1 });
    else c.count++;
  }
  return [...counts.values()];
}

/**
 * The `rule could not be evaluated` line the ingest and the file_tail connector log
 * (docs/detection-rules.md, "Rule errors"): the rule id, the error's kind and how many events,
 * never the event or the error's message (which can quote a value of the event).
 */
export function ruleErrorLine(tenant: string | null, c: RuleErrorCount, hint: string): Record<string, unknown> {
  return { level: 'warn', msg: 'rule could not be evaluated', tenant, rule: c.rule, kind: c.kind, events: c.count, hint };
}

/** Which rules' errors are due a log line: each rule at most once per RULE_ERROR_LOG_MS. */
export class RuleErrorLog {
  readonly #logged = new Map<string, number>();

  due(counts: readonly RuleErrorCount[], now: number): RuleErrorCount[] {
    return counts.filter((c) => {
      const last = this.#logged.get(c.rule);
      if (last !== undefined && now - last < RULE_ERROR_LOG_MS) return false;
      this.#logged.set(c.rule, now);
      return true;
    });
  }
}
