import { describe, expect, it } from 'vitest';
import { runExamples } from '../../../lib/rules/examples.js';
import { shippedRules } from '../../../lib/rules/shipped.js';

describe('the shipped rule pack', () => {
  it('compiles, and every rule has matching and non-matching examples that behave', () => {
    const engine = shippedRules();
    const report = runExamples(engine);
    expect(report.failures).toEqual([]);
    expect(report.rules).toBe(engine.rules.length);
    for (const rule of engine.rules) {
      expect(rule.examples.match.length, rule.id).toBeGreaterThan(0);
      expect(rule.examples.no_match.length, rule.id).toBeGreaterThan(0);
    }
  });
});
