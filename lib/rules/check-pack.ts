import { compileRulesAll } from './engine.js';
import { RulePackError, readRuleDocument } from './pack.js';
import type { RuleSpec } from './types.js';

/**
 * Every problem of a pack's parsed files (by path) loaded as an operator's rules are: each file
 * read, ids once, and each condition compiled through every check of the load (CEL's parse and
 * type check, the patterns with RE2, the cross-product walk). The build runs it on the shipped
 * pack (scripts/check-rules.mjs), which the ingest then compiles rule by rule on first use.
 */
export function packProblems(files: Readonly<Record<string, unknown>>): string[] {
  const problems: string[] = [];
  const specs: RuleSpec[] = [];
  for (const [file, doc] of Object.entries(files)) {
    try {
      for (const rule of readRuleDocument(doc, file)) if (!('disabled' in rule)) specs.push(rule);
    } catch (err) {
      if (!(err instanceof RulePackError)) throw err;
      problems.push(...err.problems);
    }
  }
  return [...problems, ...compileRulesAll(specs).problems];
}
