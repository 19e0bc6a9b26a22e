import access from '../../rules/access.yaml';
import controlPlane from '../../rules/control-plane.yaml';
import eks from '../../rules/eks.yaml';
import rbac from '../../rules/rbac.yaml';
import workloads from '../../rules/workloads.yaml';
import { type CompiledRule, compileRules, type RuleEngine, vetted } from './engine.js';
import { readRuleDocument } from './pack.js';
import type { RuleSpec } from './types.js';

/** The shipped pack's files, parsed at build time, by their path in the repository. */
export const SHIPPED_RULE_FILES: Readonly<Record<string, unknown>> = {
  'rules/access.yaml': access,
  'rules/control-plane.yaml': controlPlane,
  'rules/eks.yaml': eks,
  'rules/rbac.yaml': rbac,
  'rules/workloads.yaml': workloads,
};

/** The shipped pack's rule specs, in file order (a disabling entry has no place in it). */
export function shippedRuleSpecs(): RuleSpec[] {
  const out: RuleSpec[] = [];
  for (const [file, doc] of Object.entries(SHIPPED_RULE_FILES)) {
    for (const rule of readRuleDocument(doc, file)) if (!('disabled' in rule)) out.push(rule);
  }
  // Their patterns compile with RE2 (CI checks it), so the load does not compile them.
  return vetted(out);
}

let shipped: RuleEngine | undefined;

/** The shipped pack, loaded on first call (each condition compiled when a request first reaches it) and kept for the life of the process. */
export function shippedRules(): RuleEngine {
  shipped ??= compileRules(shippedRuleSpecs());
  return shipped;
}

export type { CompiledRule };
