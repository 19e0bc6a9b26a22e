// Real public audit events, and the ways a hostile client or an odd apiserver could bend them:
// each mutant is a real event (Falco's traces, OpenShift's cluster-logging samples, the kubectl
// creates of Bishop Fox's badPods and Kyverno's pod-security manifests) with some of its fields
// replaced by another JSON type, a JSON patch of odd paths, a body that is a list or a text.
// Shared by test/unit/audit/hostile-mutants.test.ts and test/integration/hostile-mutants-serve.test.ts.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseAllDocuments } from 'yaml';
import { hostileJson } from './arbitraries.js';
import { allFalcoEvents, FIXTURES } from './fixtures.js';
import { eventMaker } from './k8s-events.js';
import { kubectlCreates } from './kubectl-creates.js';

type Json = Record<string, unknown>;

/**
 * The OpenShift cluster-logging samples: one pretty-printed event per .json file, one per line in
 * the .log (the directory's .yaml files are manifests, not events).
 */
function openshiftEvents(): Json[] {
  const dir = join(FIXTURES, 'openshift');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json') || f.endsWith('.log'))
    .sort()
    .flatMap((f) => {
      const text = readFileSync(join(dir, f), 'utf8');
      return f.endsWith('.log')
        ? text
            .split('\n')
            .filter((l) => l.trim() !== '')
            .map((l) => JSON.parse(l) as Json)
        : [JSON.parse(text) as Json];
    });
}

/** Every manifest document under a fixture directory (yaml files, any depth). */
function manifestsUnder(dir: string): Json[] {
  const out: Json[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.yaml')) continue;
    for (const doc of parseAllDocuments(readFileSync(join(entry.parentPath, entry.name), 'utf8'))) {
      const object = doc.toJS() as Json | null;
      if (object !== null && typeof object === 'object') out.push(object);
    }
  }
  return out;
}

/** The audit events of `kubectl create`/`apply` of each badPods and Kyverno pod-security manifest. */
function manifestEvents(): Json[] {
  const event = eventMaker('0dd5ee0d', {
    user: { username: 'arn:aws:iam::123456789012:role/dev', groups: ['system:authenticated'] },
    sourceIPs: ['203.0.113.7'],
    userAgent: 'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350',
    requestReceivedTimestamp: '2026-12-07T07:10:00.000000Z',
    stageTimestamp: '2026-12-07T07:10:00.030000Z',
  });
  const out: Json[] = [];
  for (const object of [...manifestsUnder(join(FIXTURES, 'badpods')), ...manifestsUnder(join(FIXTURES, 'kyverno-pod-security'))]) {
    try {
      for (const e of kubectlCreates(event, object)) out.push(e.event);
    } catch {
      // A kind kubectl-creates does not know (a Kyverno Policy, a Service): not a pod request.
    }
  }
  return out;
}

/** The real events mutants start from: every Falco trace, OpenShift's samples, the manifests' creates. */
export function seedEvents(): Json[] {
  return [...(allFalcoEvents() as unknown as Json[]), ...openshiftEvents(), ...manifestEvents()];
}

/** Every path to a value of `value` (objects' keys, arrays' indices), down to `maxDepth`. */
export function pathsOf(value: unknown, maxDepth = 10, prefix: (string | number)[] = [], out: (string | number)[][] = []) {
  if (prefix.length >= maxDepth || typeof value !== 'object' || value === null) return out;
  const keys: (string | number)[] = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  for (const k of keys) {
    const path = [...prefix, k];
    out.push(path);
    pathsOf((value as Record<string | number, unknown>)[k], maxDepth, path, out);
  }
  return out;
}

/** A copy of `doc` with the value at `path` replaced: as an own key, as JSON.parse would make it. */
export function replaceAt(doc: unknown, path: readonly (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path as [string | number, ...(string | number)[]];
  if (Array.isArray(doc)) {
    const out = [...doc];
    out[head as number] = replaceAt(out[head as number], rest, value);
    return out;
  }
  const out: Json = {};
  for (const k of Object.keys(doc as Json))
    Object.defineProperty(out, k, { value: (doc as Json)[k], enumerable: true, writable: true, configurable: true });
  Object.defineProperty(out, head, {
    value: replaceAt(out[head as string], rest, value),
    enumerable: true,
    writable: true,
    configurable: true,
  });
  return out;
}

/** JSON pointers an attacker would write: root, empty segments, bad escapes, prototype names, huge indices, `-`. */
const ODD_PATHS = [
  '',
  '/',
  '//',
  '/~2',
  '/~',
  '/~01',
  '/a~1b',
  '/__proto__',
  '/__proto__/polluted',
  '/constructor/prototype/polluted',
  '/prototype/polluted',
  '/metadata/labels/__proto__',
  '/metadata/labels/pod-security.kubernetes.io~1enforce',
  '/spec/containers/-',
  '/spec/containers/-/securityContext/privileged',
  '/spec/containers/0/securityContext',
  '/spec/containers/0/securityContext/privileged',
  '/spec/containers/99999999999999999999/securityContext/privileged',
  '/spec/containers/1000/image',
  '/spec/containers/01/image',
  '/spec/containers/-1/image',
  '/spec/template/spec/containers/0/securityContext/privileged',
  '/spec/template/spec/hostPID',
  '/spec/hostPID',
  '/spec/volumes/-/hostPath/path',
  '/spec/containers/0/env/0/value',
];

const jsonValue = hostileJson({ maxItems: 3, maxStringLength: 20 });

/** One JSON patch operation with an odd path, op or value. */
const patchOp = fc.record(
  {
    op: fc.oneof(fc.constantFrom('add', 'replace', 'remove', 'move', 'copy', 'test', '__proto__', 'constructor'), jsonValue),
    path: fc.oneof(
      fc.constantFrom(...ODD_PATHS),
      fc
        .array(
          fc.oneof(
            fc.constantFrom('', '-', '0', '__proto__', 'constructor', 'prototype', '~', '~2', '4294967296'),
            fc.string({ maxLength: 6 }),
          ),
          { maxLength: 6 },
        )
        .map((s) => `/${s.join('/')}`),
      jsonValue,
    ),
    from: fc.oneof(fc.constantFrom(...ODD_PATHS), jsonValue),
    value: jsonValue,
  },
  { requiredKeys: ['op', 'path'] },
);

/** A JSON patch: a few odd operations, sometimes repeated into thousands. */
export const jsonPatch = fc
  .tuple(fc.array(patchOp, { minLength: 1, maxLength: 8 }), fc.constantFrom(1, 1, 1, 500))
  .map(([ops, times]) => Array.from({ length: times }, () => ops).flat());

/** Nesting `depth` deep, as arrays or objects, with a value at the bottom. */
const deep = fc
  .tuple(fc.integer({ min: 60, max: 300 }), fc.boolean())
  .map(([depth, arrays]) =>
    JSON.parse(arrays ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
  );

/** What a field may be replaced by. */
export const hostileValue = fc.oneof(
  { weight: 6, arbitrary: jsonValue },
  { weight: 1, arbitrary: fc.constantFrom(null, 0, -1, 1e308, 2 ** 53 + 1, '', [], {}, [null], ['a'], true) },
  // Objects whose own keys shadow the methods a conversion calls (String(), Number(), a template).
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      JSON.parse('{"toString":false}'),
      JSON.parse('{"valueOf":null,"toString":null}'),
      JSON.parse('{"__proto__":{"polluted":"yes"}}'),
      JSON.parse('{"constructor":{"prototype":{"polluted":"yes"}}}'),
      JSON.parse('{"hasOwnProperty":1,"length":3}'),
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 64 }).map((k) => 'A'.repeat(k * 1024)) },
  { weight: 1, arbitrary: deep },
  { weight: 1, arbitrary: jsonPatch },
);

/** A mutation of a real event: a field replaced, or one of the shapes that named bugs. */
export type Mutation =
  | { kind: 'replace'; pick: number; value: unknown }
  | { kind: 'patch-body'; ops: unknown[] }
  | { kind: 'text-body'; text: unknown }
  | { kind: 'null-security-contexts' }
  | { kind: 'labels-as-list' };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('replace' as const), pick: fc.nat(), value: hostileValue }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('patch-body' as const), ops: jsonPatch }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('text-body' as const), text: fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 3 })) }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'null-security-contexts' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'labels-as-list' as const }) },
);

/** Every path of `event` ending at `key` (a pod's securityContext, a metadata's labels). */
function pathsEndingIn(event: unknown, key: string): (string | number)[][] {
  return pathsOf(event, 12).filter((p) => p[p.length - 1] === key);
}

/** `event` with one mutation applied (the event itself is never changed). */
export function applyMutation(event: Json, m: Mutation, fixed: (path: readonly (string | number)[]) => boolean = () => false): Json {
  switch (m.kind) {
    case 'replace': {
      const paths = pathsOf(event).filter((p) => !fixed(p));
      if (paths.length === 0) return event;
      return replaceAt(event, paths[m.pick % paths.length] as (string | number)[], m.value) as Json;
    }
    case 'patch-body':
      // `kubectl patch --type=json` as the apiserver logs it: the operations are the request body.
      return { ...event, verb: 'patch', requestObject: m.ops };
    case 'text-body':
      return { ...event, requestObject: m.text };
    case 'null-security-contexts':
      return pathsEndingIn(event, 'securityContext').reduce<Json>((e, p) => replaceAt(e, p, null) as Json, event);
    case 'labels-as-list':
      return pathsEndingIn(event, 'labels').reduce<Json>(
        (e, p) => replaceAt(e, p, [{ key: 'pod-security.kubernetes.io/enforce', value: 'privileged' }, '__proto__', null]) as Json,
        event,
      );
  }
}

/** A real event and up to four mutations of it. */
/** `fixed`: the paths a `replace` leaves alone (what marks a value as a credential, for the redaction property). */
export function mutantOf(
  seeds: readonly Json[],
  maxMutations = 4,
  fixed?: (path: readonly (string | number)[]) => boolean,
): fc.Arbitrary<{ seed: number; mutations: Mutation[]; event: Json }> {
  return fc
    .tuple(fc.nat({ max: seeds.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: maxMutations }))
    .map(([seed, mutations]) => ({
      seed,
      mutations,
      event: mutations.reduce((e, m) => applyMutation(e, m, fixed), seeds[seed] as Json),
    }));
}
