// The prefilters that spare a ConfigMap file or a command line the full read of its names
// (lib/audit/redact-pod.ts redactPairLines, lib/audit/redact-argv.ts scrubArgv), checked against
// the name rule as docs/record.md documents it.
import { describe, expect, it } from 'vitest';
import type { JsonValue } from '../../../lib/audit/index.js';
import { redactBody } from '../../../lib/audit/index.js';

const configmaps = { resource: 'configmaps', subresource: null };
const pods = { resource: 'pods', subresource: null };

// The name rule as docs/record.md's query row documents it, written here from the text, not the code.
const WORDS = ['token', 'secret', 'pass', 'pwd', 'signature', 'auth', 'session'];
const EXACT = ['sig', 'code', 'cookie', 'setcookie'];
function documentedRule(name: string): boolean {
  const plain = name.toLowerCase().replace(/[-_.\s]/g, '');
  return WORDS.some((w) => plain.includes(w)) || plain.endsWith('key') || EXACT.includes(plain);
}

/** `word` with `sep` after its letter at `at`: `to-ken`. */
const splitAt = (word: string, at: number, sep: string) => `${word.slice(0, at)}${sep}${word.slice(at)}`;

/** The spellings: the brief's, each word split once at each place by each separator, and wholly. */
function spellings(): string[] {
  const names = [
    'DB-PASS',
    'db.password',
    'API_KEY',
    'Pass_Word',
    'client-secret',
    'apiKey',
    'x-api-key',
    'AWS_ACCESS_KEY_ID',
    'MONKEY_ID',
  ];
  for (const w of [...WORDS, 'key', ...EXACT]) {
    const around = (s: string) => (EXACT.includes(w) ? s : w === 'key' ? `API_${s}` : `DB_${s}_X`);
    for (let at = 1; at < w.length; at++) for (const sep of ['-', '_', '.']) names.push(around(splitAt(w, at, sep)));
    names.push(around([...w.toUpperCase()].join('_')));
  }
  return names;
}

describe('the prefilters admit every name the rule takes', () => {
  const cases = spellings().map((name) => [name, documentedRule(name)] as const);

  it.each(cases)('%s (a credential: %s) in a ConfigMap file line, a pod env and a command line', (name, credential) => {
    const value = 'opaque-value-1f3a';
    const expectedValue = credential ? '[REDACTED]' : value;
    // A ConfigMap key that names no credential, holding a properties file and a values file.
    const cm = redactBody(
      { kind: 'ConfigMap', data: { 'app.properties': `mode = fast\n${name} = ${value}\n`, 'values.yaml': `x:\n  ${name}: ${value}\n` } },
      configmaps,
    ) as { data: Record<string, string> };
    expect(cm.data).toEqual({
      'app.properties': `mode = fast\n${name} = ${expectedValue}\n`,
      'values.yaml': `x:\n  ${name}: ${expectedValue}\n`,
    });
    const pod = redactBody(
      { kind: 'Pod', spec: { containers: [{ name: 'c', env: [{ name, value }], args: ['serve', `--${name}=${value}`] }] } } as JsonValue,
      pods,
    ) as { spec: { containers: { env: unknown[]; args: string[] }[] } };
    expect(pod.spec.containers[0]?.env).toEqual([{ name, value: expectedValue }]);
    expect(pod.spec.containers[0]?.args).toEqual(['serve', `--${name}=${expectedValue}`]);
  });
});
