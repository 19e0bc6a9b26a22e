// Every matches() a rule runs takes time linear in the field (RE2, lib/rules/re2.ts). cel-js's own
// matches() is JavaScript's backtracking RegExp: on a string of n 'a's, `.*=` took 4.8 s at
// n=100,000, `.*.*=` 10.3 s at n=4,000 and `.*.*.*=` 19.9 s at n=500, one event each. The built
// CLI runs in a process of its own, killed at the bound, so a return of the backtracking engine
// fails this test instead of blocking a test worker in synchronous code.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCliBundle, PROJECT_CACHE, runBuiltCli } from '../helpers/cli-bundle.js';
import { FALCO_DIR } from '../helpers/fixtures.js';

const PATTERNS = ['.*=', '[a-z]+-[0-9]+', '.*.*=', '.*.*.*='];

let dir: string;
let bundle: { cli: string; cleanup: () => void };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aisoc-linear-matches-'));
  bundle = await buildCliBundle(PROJECT_CACHE, 'aisoc-linear-matches-cli-');
});

afterAll(() => {
  bundle?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('matches() on a 100,000-character field a requester wrote', () => {
  it('scores events with polynomial patterns in bounded time', { timeout: 120_000 }, async () => {
    // The last pattern negated twice: a call under `!` runs on RE2 like any other.
    const rules = `rules:\n${PATTERNS.map(
      (pattern, i) => `  - id: ua-${i}
    title: t
    severity: high
    description: d
    mitre: [T1190]
    source: s
    match: { verbs: [create], resources: [configmaps] }
    condition: ${JSON.stringify(i === 3 ? `!!userAgent.matches('${pattern}')` : `userAgent.matches('${pattern}')`)}
    examples:
      match: [{ verb: create, objectRef: { resource: configmaps, namespace: web, apiVersion: v1 }, userAgent: ab-1= }]
      no_match: [{ verb: create, objectRef: { resource: configmaps, namespace: web, apiVersion: v1 }, userAgent: kubectl/v1.30.0 }]
`,
    ).join('')}`;
    const rulesDir = join(dir, 'rules');
    mkdirSync(rulesDir);
    writeFileSync(join(rulesDir, 'ua.yaml'), rules);
    // A ConfigMap create as a real apiserver logged it (Falco's trace), with a user agent the
    // requester chose: 100,000 'a's, then the same ending in '-1=' (every pattern finds it).
    const event = JSON.parse(readFileSync(join(FALCO_DIR, 'create_configmap.json'), 'utf8'));
    const input = [
      { ...event, auditID: 'ua-none', userAgent: 'a'.repeat(100_000) },
      { ...event, auditID: 'ua-all', userAgent: `${'a'.repeat(99_997)}-1=` },
    ]
      .map((e) => JSON.stringify(e))
      .join('\n');

    const r = await runBuiltCli(bundle.cli, ['normalise'], { env: { K8S_AUDIT_RULES: rulesDir }, stdin: input, timeoutMs: 60_000 });

    expect(r.stderr).toContain('normalised 2, rejected 0');
    expect(r.code).toBe(0);
    const records = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(records.map((rec) => [rec.audit_id, rec.rule_ids, rec.severity])).toEqual([
      ['ua-none', [], 'info'],
      ['ua-all', ['ua-0', 'ua-1', 'ua-2', 'ua-3'], 'high'],
    ]);
  });
});
