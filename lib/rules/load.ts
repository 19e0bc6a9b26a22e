import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { shippedDetection } from '../audit/detect.js';
import type { Detection } from '../audit/types.js';
import { type Env, EnvReader } from '../config/env.js';
import { compileRules, mergeRules, type RuleEngine } from './engine.js';
import { parseRuleFile, RulePackError } from './pack.js';
import { shippedRuleSpecs } from './shipped.js';
import type { RuleDisable, RuleSpec } from './types.js';

const RULE_FILE = /\.(ya?ml|json)$/i;

/**
 * Reads every rule file (`*.yaml`, `*.yml`, `*.json`) of an operators' directory, in name order.
 * Throws a `RulePackError` naming each file that cannot be read or holds a bad rule.
 */
export function readRulesDir(dir: string): (RuleSpec | RuleDisable)[] {
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isFile() && RULE_FILE.test(d.name))
      .map((d) => d.name)
      .sort();
  } catch (err) {
    throw new RulePackError([`${dir}: cannot read the rules directory (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  const out: (RuleSpec | RuleDisable)[] = [];
  const problems: string[] = [];
  for (const name of names) {
    const file = join(dir, name);
    try {
      out.push(...parseRuleFile(readFileSync(file, 'utf8'), file));
    } catch (err) {
      if (err instanceof RulePackError) problems.push(...err.problems);
      else problems.push(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  }
  if (problems.length > 0) throw new RulePackError(problems);
  return out;
}

/** The shipped pack with an operators' directory applied (overrides, disables, additions), compiled. */
export function compilePack(dir: string | undefined): RuleEngine {
  const specs = shippedRuleSpecs();
  return compileRules(dir === undefined ? specs : mergeRules(specs, readRulesDir(dir)));
}

/**
 * K8S_AUDIT_SEVERITY (`default`, or `spec` for the spec's table alone) and K8S_AUDIT_RULES (a
 * directory of operators' rules). Problems go to the reader, so one ConfigError names them all;
 * a rule that does not compile is one of them, with its file, id and CEL error.
 */
export function readDetection(r: EnvReader): Detection {
  const mode = r.string('K8S_AUDIT_SEVERITY')?.trim().toLowerCase() ?? 'default';
  const dir = r.string('K8S_AUDIT_RULES');
  if (mode !== 'default' && mode !== 'spec') {
    r.problems.push(`K8S_AUDIT_SEVERITY must be default or spec, got ${JSON.stringify(r.string('K8S_AUDIT_SEVERITY'))}`);
    return shippedDetection();
  }
  if (mode === 'spec') return { severity: 'spec', rules: null };
  if (dir === undefined) return shippedDetection();
  try {
    return { severity: 'default', rules: compilePack(dir) };
  } catch (err) {
    if (!(err instanceof RulePackError)) throw err;
    r.problems.push(`K8S_AUDIT_RULES: ${err.problems.join('; ')}`);
    return shippedDetection();
  }
}

/** `readDetection` on its own: throws a ConfigError naming every problem. */
export function loadDetection(env: Env): Detection {
  const r = new EnvReader(env);
  const d = readDetection(r);
  r.done();
  return d;
}
