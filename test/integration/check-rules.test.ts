import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// The build's check of the shipped pack (scripts/build.mjs calls shippedRuleProblems): the
// ingest compiles shipped conditions on first use, so this is where one that does not compile
// must stop the build, naming its file, id and CEL error.
const ROOT = resolve(__dirname, '..', '..');
const SCRIPT = join(ROOT, 'scripts', 'check-rules.mjs');
const dir = mkdtempSync(join(tmpdir(), 'aisoc-check-rules-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function check(rulesDir: string) {
  return spawnSync(process.execPath, [SCRIPT, rulesDir], { cwd: ROOT, encoding: 'utf8' });
}

describe('the build check of the shipped rule pack', () => {
  it('passes the shipped pack', () => {
    const r = check(join(ROOT, 'rules'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('fails on a shipped-style rule whose condition does not compile, with its file, id and CEL error', () => {
    const broken = join(dir, 'broken');
    cpSync(join(ROOT, 'rules'), broken, { recursive: true });
    // A typo in a variable's name, in the first rule of rbac.yaml.
    const file = join(broken, 'rbac.yaml');
    const text = readFileSync(file, 'utf8');
    const typo = text.replace(
      'has(requestObject.rules) && requestObject.rules.exists(',
      'has(requestObject.rules) && requestObjct.rules.exists(',
    );
    expect(typo).not.toBe(text);
    writeFileSync(file, typo);
    const r = check(broken);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${file}: rbac-escalation-verbs-or-wildcards: condition does not compile: Unknown variable: requestObjct`);
    expect(r.stderr).toContain('the rule pack does not load (1 problem)');
  });

  it('runs every check of an operator load: a pattern beyond RE2 fails too', () => {
    const bad = join(dir, 'pattern');
    cpSync(join(ROOT, 'rules'), bad, { recursive: true });
    const file = join(bad, 'extra.yaml');
    writeFileSync(
      file,
      [
        'rules:',
        '  - id: backref-pattern',
        '    title: A pattern RE2 refuses',
        '    severity: medium',
        '    description: A back-reference, which RE2 does not have.',
        '    mitre: [T1078]',
        '    source: this test',
        '    match: { verbs: [get], resources: [secrets] }',
        '    condition: "objectRef.name.matches(\'(a)\\\\\\\\1\')"',
        '    examples:',
        '      match: [{ verb: get, objectRef: { resource: secrets, namespace: default, name: aa } }]',
        '      no_match: [{ verb: get, objectRef: { resource: secrets, namespace: default, name: ab } }]',
        '',
      ].join('\n'),
    );
    const r = check(bad);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${file}: backref-pattern: condition does not compile: matches(`);
  });
});
