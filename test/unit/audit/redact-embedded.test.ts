// Credentials in a file of pairs (lib/audit/redact-pod.ts redactPairLines: Helm values text, a
// ConfigMap's file): YAML values on the lines below their key and in flow style, as YAML 1.2 writes
// them (yaml.org/spec/1.2.2, 8.1 "Block Scalar Styles", 7.4 "Flow Collection Styles"); the
// manifests a Crossplane Object holds (lib/audit/redact.ts redactManifestHolder); the Helm values
// the last-applied annotation copies; and the prefilters that spare a file or a command line the
// full read of its names (redactPairLines, lib/audit/redact-argv.ts scrubArgv), checked against
// the name rule as docs/record.md documents it.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { JsonValue } from '../../../lib/audit/index.js';
import { redactBody } from '../../../lib/audit/index.js';

const configmaps = { resource: 'configmaps', subresource: null };
const pods = { resource: 'pods', subresource: null };
const objects = { resource: 'objects', subresource: null };

/** A ConfigMap's file value as kept. */
function keptFile(text: string): string {
  const out = redactBody({ kind: 'ConfigMap', data: { 'values.yaml': text } }, configmaps) as { data: { 'values.yaml': string } };
  return out.data['values.yaml'];
}

describe('YAML values below their key, in a file of pairs', () => {
  it.each([
    [
      'a literal block',
      'db:\n  password: |\n    line-one\n    line-two\n  user: app\n',
      'db:\n  password: |\n    [REDACTED]\n  user: app\n',
    ],
    ['folded, stripped', 'password: >-\n  s3cr3t\nnext: 1\n', 'password: >-\n  [REDACTED]\nnext: 1\n'],
    // Indentation and chomping indicators in either order, a comment after the header, a blank line inside.
    [
      'indicators and a comment',
      'tls:\n  privateKey: |2- # PEM\n     -----BEGIN-----\n\n     abc\n  crt: x\n',
      'tls:\n  privateKey: |2- # PEM\n     [REDACTED]\n  crt: x\n',
    ],
    ['keep chomping, last in the file', 'apiToken: |+\n  t0k3n\n\n', 'apiToken: |+\n  [REDACTED]\n\n'],
    [
      'a sequence item',
      'users:\n  - name: a\n    password: |\n      pw\n  - name: b\n',
      'users:\n  - name: a\n    password: |\n      [REDACTED]\n  - name: b\n',
    ],
    ['a compact item', '- password: |\n    pw\n  user: u\n', '- password: |\n    [REDACTED]\n  user: u\n'],
    ['a plain scalar on the next line', 'auth:\n  password:\n    s3cr3t\n  user: u\n', 'auth:\n  password:\n    [REDACTED]\n  user: u\n'],
    ['a list of scalars', 'tokens:\n  - t1\n  - t2\nother: 1\n', 'tokens:\n  - [REDACTED]\nother: 1\n'],
    ['a compact list of scalars', 'tokens:\n- t1\n- t2\nother: 1\n', 'tokens:\n- [REDACTED]\nother: 1\n'],
    [
      'a flow mapping',
      'redis: {auth: {enabled: true, password: s3cr3t}, port: 6379}\n',
      'redis: {auth: {enabled: true, password: [REDACTED]}, port: 6379}\n',
    ],
    ['a quoted flow value with a comma', 'db: {password: "a,b", user: "x"}\n', 'db: {password: [REDACTED], user: "x"}\n'],
    ['two documents', 'a: 1\n---\nsecret: |\n  s\n---\nb: 2\n', 'a: 1\n---\nsecret: |\n  [REDACTED]\n---\nb: 2\n'],
  ])('%s', (_name, text, expected) => {
    const kept = keptFile(text);
    expect(kept).toBe(expected);
    // Still YAML, each key where it was.
    expect(() => parse(kept.split('\n---\n').join('\n'))).not.toThrow();
  });

  it.each([
    ['a mapping under a credential name', 'auth:\n  enabled: true\n  username: app\n'],
    ['a list of mappings under one', 'secrets:\n  - name: a\n    mountPath: /x\n'],
    ['a reference to a Secret', 'auth:\n  existingSecret: |\n    db-creds\n'],
    ['a block under another name', 'script: |\n  echo password\n  exit 0\n'],
    ['a properties line whose value is a bar', 'password = |\n'],
  ])('keeps %s as it is', (_name, text) => {
    expect(keptFile(text)).toBe(text);
  });
});

describe('manifests a Crossplane Object holds', () => {
  it('a Deployment and a ConfigMap as the objects themselves; a kindless manifest of data as a Secret', () => {
    const env = [{ name: 'DB_PASSWORD', value: 'pw-env' }];
    const body = {
      kind: 'Object',
      apiVersion: 'kubernetes.crossplane.io/v1alpha2',
      spec: {
        forProvider: {
          manifest: { kind: 'Pod', apiVersion: 'v1', spec: { containers: [{ name: 'c', env, command: ['app', '--api-key', 'pw-flag'] }] } },
        },
      },
      status: { atProvider: { manifest: { kind: 'ConfigMap', apiVersion: 'v1', data: { API_TOKEN: 'pw-cm', mode: 'fast' } } } },
    };
    const out = redactBody(body, objects) as typeof body;
    expect(out.spec.forProvider.manifest.spec.containers[0]).toEqual({
      name: 'c',
      env: [{ name: 'DB_PASSWORD', value: '[REDACTED]' }],
      command: ['app', '--api-key', '[REDACTED]'],
    });
    expect(out.status.atProvider.manifest.data).toEqual({ API_TOKEN: '[REDACTED]', mode: 'fast' });
    expect(body.spec.forProvider.manifest.spec.containers[0]?.env).toBe(env); // the input is not mutated
    const patch = { spec: { forProvider: { manifest: { stringData: { anything: 'pw-patch' } } } } };
    expect(redactBody(patch, objects)).toEqual({ spec: { forProvider: { manifest: { stringData: { anything: '[REDACTED]' } } } } });
  });

  it("the Object's last-applied annotation (kubectl apply, Argo CD's sync) as the Object", () => {
    const LAST = 'kubectl.kubernetes.io/last-applied-configuration';
    const object = {
      apiVersion: 'kubernetes.m.crossplane.io/v1alpha1',
      kind: 'Object',
      metadata: { name: 'foo' },
      spec: { forProvider: { manifest: { apiVersion: 'v1', kind: 'Secret', stringData: { password: 'pw-annotated' } } } },
    };
    const body = { ...object, metadata: { name: 'foo', annotations: { [LAST]: JSON.stringify(object) } } };
    const out = redactBody(body, objects) as typeof body;
    expect(JSON.parse(out.metadata.annotations[LAST]).spec.forProvider.manifest.stringData).toEqual({ password: '[REDACTED]' });
    expect(out.spec.forProvider.manifest.stringData).toEqual({ password: '[REDACTED]' });
  });
});

// `kubectl apply` (and Argo CD's client-side apply) copies the object it applies into this
// annotation: an Application's or HelmRelease's Helm values with it.
describe("the last-applied annotation of Argo CD's and Flux's resources", () => {
  const LAST = 'kubectl.kubernetes.io/last-applied-configuration';
  const annotated = <T extends { metadata: object }>(obj: T) => ({
    ...obj,
    metadata: { ...obj.metadata, annotations: { [LAST]: `${JSON.stringify(obj)}\n` } },
  });
  it.each([
    [
      'applications',
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Application',
        metadata: { name: 'db' },
        spec: { source: { helm: { parameters: [{ name: 'auth.password', value: 'pw-p' }], values: 'auth:\n  password: pw-v\n' } } },
      },
      'spec.source.helm',
      { parameters: [{ name: 'auth.password', value: '[REDACTED]' }], values: 'auth:\n  password: [REDACTED]\n' },
    ],
    [
      'helmreleases',
      {
        apiVersion: 'helm.toolkit.fluxcd.io/v2',
        kind: 'HelmRelease',
        metadata: { name: 'r' },
        spec: { values: { redis: { password: 'pw-f' } } },
      },
      'spec.values',
      { redis: { password: '[REDACTED]' } },
    ],
  ])('%s: the copy loses what the object loses', (resource, object, path, expected) => {
    const out = redactBody(annotated(object) as JsonValue, { resource, subresource: null }) as {
      metadata: { annotations: Record<string, string> };
    };
    const copy = JSON.parse(out.metadata.annotations[LAST] as string) as unknown;
    const at = (v: unknown) => path.split('.').reduce<unknown>((x, k) => (x as Record<string, unknown>)[k], v);
    expect(at(copy)).toEqual(expected);
    expect(at(out)).toEqual(expected);
  });
});

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
