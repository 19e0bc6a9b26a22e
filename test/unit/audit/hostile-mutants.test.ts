// Property tests that start from real public events (test/helpers/mutants.ts: Falco's traces,
// OpenShift's samples, the kubectl creates of badPods and Kyverno's pod-security manifests) and
// bend them as a hostile client or an odd apiserver could. The normaliser and the rule engine's
// views are on every event's path: none of these may crash, lose, pollute or leak.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { JsonObject, JsonValue } from '../../../lib/audit/index.js';
import {
  decideEventSeverity,
  normaliseAuditEvent,
  parseAuditPayload,
  serialiseRecord,
  shippedDetection,
  toDetectionFinding,
} from '../../../lib/audit/index.js';
import { jsonPatchView, ruleActivation } from '../../../lib/rules/engine.js';
import { hostileJson } from '../../helpers/arbitraries.js';
import { falcoEvent } from '../../helpers/fixtures.js';
import { FUZZ_RUNS, fuzzTimeout } from '../../helpers/fuzz.js';
import { jsonPatch, mutantOf, seedEvents } from '../../helpers/mutants.js';
import { findingErrors, ocsfErrors } from '../../helpers/ocsf.js';

// Seeded, so a failure names a counterexample that replays; bounded so the file runs in seconds.
// FUZZ_RUNS raises the count (half of it: each case normalises twice), FUZZ_SEED tries other
// mutants (docs/reliability.md, "Test knobs").
const SEED = Number(process.env.FUZZ_SEED ?? 20261207);
const RUNS = Math.max(1, Math.round(FUZZ_RUNS / 2));
const ctx = { tenantId: 'fuzz', clusterName: 'fuzz-cluster', receivedAt: Date.UTC(2026, 0, 1) };
const describeRule = (id: string) => shippedDetection().rules?.describe?.(id);
const SEEDS = seedEvents();

/** Whatever a run may have written onto the shared prototypes. */
function polluted(): string[] {
  const probe = {} as Record<string, unknown>;
  const out: string[] = [];
  for (const key of ['polluted', 'privileged', 'a', '0', '-', '', 'value', 'spec']) {
    if (probe[key] !== undefined || ([] as unknown as Record<string, unknown>)[key] !== undefined) out.push(key);
  }
  for (const proto of [Object.prototype, Array.prototype]) {
    for (const key of Object.getOwnPropertyNames(proto)) if (!BASELINE.get(proto)?.has(key)) out.push(key);
  }
  return out;
}
const BASELINE = new Map<object, Set<string>>([
  [Object.prototype, new Set(Object.getOwnPropertyNames(Object.prototype))],
  [Array.prototype, new Set(Object.getOwnPropertyNames(Array.prototype))],
]);

afterEach(() => {
  expect(polluted()).toEqual([]);
});

/** Everything one batch text comes out as: each item an event normalised, or a rejection with a reason. */
function normaliseText(text: string) {
  const parsed = parseAuditPayload(text);
  return { parsed, records: parsed.events.map((e) => ({ event: e, record: normaliseAuditEvent(e, ctx) })) };
}

describe('real events bent by a hostile client, through the normaliser and the rules', () => {
  it(
    'never throws; each is a record or a rejection with a reason; the record is valid 6003, a high one a valid 2004; same event, same record; the input untouched; no prototype polluted',
    () => {
      fc.assert(
        fc.property(mutantOf(SEEDS), ({ event }) => {
          const text = JSON.stringify(event);
          const { parsed, records } = normaliseText(text);
          expect(parsed.itemCount).toBe(1);
          expect(parsed.events.length + parsed.rejected.length).toBe(1);
          for (const r of parsed.rejected) expect(r.reason).toMatch(/\S/);
          for (const { event: e, record } of records) {
            const before = JSON.stringify(e);
            expect(ocsfErrors(record.ocsf)).toEqual([]);
            expect(['high', 'medium', 'low', 'info']).toContain(record.severity);
            if (record.severity === 'high') expect(findingErrors(toDetectionFinding(record, describeRule))).toEqual([]);
            // The alert path (decideEventSeverity) decides as the records do.
            const decided = decideEventSeverity(e);
            expect([decided.severity, decided.reason, decided.ruleIds]).toEqual([record.severity, record.severity_reason, record.rule_ids]);
            // Deterministic: the same text normalises to the same bytes.
            const again = normaliseText(text).records[0]?.record;
            expect(again && serialiseRecord(again)).toBe(serialiseRecord(record));
            expect(JSON.stringify(e)).toBe(before);
          }
          expect(polluted()).toEqual([]);
        }),
        { numRuns: RUNS, seed: SEED },
      );
    },
    fuzzTimeout(40),
  );

  it(
    "the rules' views (requestObject, podSpec, podMetadata, containers, securityContexts, created, eksAddonWorkload) never throw and keep their declared types",
    () => {
      fc.assert(
        fc.property(mutantOf(SEEDS), ({ event }) => {
          const parsed = parseAuditPayload(JSON.stringify(event));
          for (const e of parsed.events) {
            const act = ruleActivation(e) as unknown as Record<string, unknown>;
            for (const key of [
              'requestObject',
              'responseObject',
              'objectRef',
              'user',
              'impersonatedUser',
              'annotations',
              'podSpec',
              'podMetadata',
              'responseStatus',
            ]) {
              const v = act[key];
              expect(typeof v === 'object' && v !== null && !Array.isArray(v), key).toBe(true);
            }
            for (const key of ['containers', 'securityContexts']) {
              const v = act[key] as unknown[];
              expect(Array.isArray(v), key).toBe(true);
              for (const c of v) expect(typeof c === 'object' && c !== null && !Array.isArray(c), key).toBe(true);
            }
            expect(typeof act.created).toBe('boolean');
            expect(typeof act.eksAddonWorkload).toBe('boolean');
            expect(typeof (act.responseStatus as JsonObject).code).toBe('number');
            for (const key of ['verb', 'stage', 'requestURI', 'userAgent']) expect(typeof act[key], key).toBe('string');
            for (const ip of act.sourceIPs as unknown[]) expect(typeof ip).toBe('string');
          }
        }),
        { numRuns: RUNS, seed: SEED },
      );
    },
    fuzzTimeout(20),
  );
});

/** Every array anywhere in a value, and whether every object in it is a plain own-keyed one. */
function walk(v: unknown, visit: (node: object) => void, seen = new Set<object>()): void {
  if (typeof v !== 'object' || v === null || seen.has(v)) return;
  seen.add(v);
  visit(v);
  for (const k of Object.keys(v)) walk((v as Record<string, unknown>)[k], visit, seen);
}

describe('jsonPatchView on patches of odd paths', () => {
  it(
    'never throws, pollutes nothing, changes neither the patch nor the result, and builds no list past its bound',
    () => {
      const result = hostileJson({ maxItems: 3, maxStringLength: 10 }).filter(
        (v): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v),
      );
      fc.assert(
        fc.property(
          jsonPatch,
          fc.option(fc.oneof(result, fc.constant(falcoEvent('create_nginx_pod_privileged.json').requestObject as JsonObject))),
          (ops, res) => {
            const opsText = JSON.stringify(ops);
            const resText = JSON.stringify(res);
            // As the ingest sees it: parsed from the wire, so `__proto__` is an own key.
            const wireOps = JSON.parse(opsText) as JsonValue[];
            const wireRes = res === null ? undefined : (JSON.parse(resText) as JsonObject);
            const view = jsonPatchView(wireOps, wireRes);
            walk(view, (node) => {
              expect([Object.prototype, Array.prototype]).toContain(Object.getPrototypeOf(node));
              if (Array.isArray(node)) expect(node.length).toBeLessThanOrEqual(1001);
            });
            expect(JSON.stringify(wireOps)).toBe(opsText);
            expect(JSON.stringify(wireRes ?? null)).toBe(resText);
            expect(polluted()).toEqual([]);
          },
        ),
        { numRuns: RUNS, seed: SEED },
      );
    },
    fuzzTimeout(20),
  );
});

// Values a credential can hold, placed where docs/record.md's redaction table says one travels.
const SECRET_DATA = 'aHVudGVyMi1zZWNyZXQtZGF0YQ=='; // a Secret's data value (base64)
const SECRET_STRING = 'hunter2-string-data-value'; // stringData
const QUERY_TOKEN = 'opaque-query-token-4f1c9e'; // ?access_token= of a request URI
const ENV_PASSWORD = 'env-password-5b7d2a'; // a container's DB_PASSWORD env value
const JWT_SIGNATURE = 'c2lnbmF0dXJlLW11dGFudA'; // a JWT's signature in an annotation
const JWT = `eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtdXRhbnQifQ.${JWT_SIGNATURE}`;
const CONFIGMAP_PASSWORD = 'configmap-password-8e3f1d'; // a ConfigMap's POSTGRES_PASSWORD
const PATCHED_DATA = 'cGF0Y2hlZC1zZWNyZXQtZGF0YQ=='; // kubectl patch secret --type=json, /data/password
const PATCHED_ENV = 'patched-env-literal-2c9a7e'; // kubectl patch pod --type=json, .../env/0/value
const ALL_SECRETS = [SECRET_DATA, SECRET_STRING, QUERY_TOKEN, ENV_PASSWORD, JWT_SIGNATURE, CONFIGMAP_PASSWORD, PATCHED_DATA, PATCHED_ENV];

/** Falco's Secret, pod and ConfigMap creates, and JSON patches of them, carrying a credential in each place one travels. */
function secretCarriers(): Record<string, unknown>[] {
  const secret = falcoEvent('create_secret.json') as unknown as Record<string, unknown>;
  const body = secret.requestObject as Record<string, unknown>;
  const pod = falcoEvent('create_nginx_pod_privileged.json') as unknown as Record<string, unknown>;
  const podBody = pod.requestObject as Record<string, unknown>;
  const spec = podBody.spec as Record<string, unknown>;
  const [first, ...rest] = spec.containers as Record<string, unknown>[];
  const configMap = falcoEvent('create_configmap_sensitive_values.json') as unknown as Record<string, unknown>;
  const cmBody = configMap.requestObject as Record<string, unknown>;
  return [
    {
      ...secret,
      requestURI: `${String(secret.requestURI)}?access_token=${QUERY_TOKEN}`,
      requestObject: { ...body, data: { password: SECRET_DATA }, stringData: { token: SECRET_STRING } },
      responseObject: { ...body, data: { password: SECRET_DATA } },
    },
    {
      ...pod,
      requestObject: {
        ...podBody,
        metadata: { ...(podBody.metadata as object), annotations: { 'example.com/token': `Bearer ${JWT}` } },
        spec: { ...spec, containers: [{ ...first, env: [{ name: 'DB_PASSWORD', value: ENV_PASSWORD }] }, ...rest] },
      },
    },
    {
      ...configMap,
      requestObject: { ...cmBody, data: { POSTGRES_PASSWORD: CONFIGMAP_PASSWORD } },
      responseObject: { ...(configMap.responseObject as object), data: { POSTGRES_PASSWORD: CONFIGMAP_PASSWORD } },
    },
    {
      ...secret,
      verb: 'patch',
      requestObject: [
        { op: 'add', path: '/data/password', value: PATCHED_DATA },
        { op: 'replace', path: '/stringData', value: { token: SECRET_STRING } },
      ],
      responseObject: { ...body, data: { password: PATCHED_DATA } },
    },
    { ...pod, verb: 'patch', requestObject: [{ op: 'add', path: '/spec/containers/0/env/0/value', value: PATCHED_ENV }] },
  ];
}

/**
 * What says a value is a credential: the env variable's name, the body's kind and the objectRef's
 * resource (a Secret by either), a JSON patch operation's op and path. A mutant that changes these holds no credential by the docs' rules
 * (a value under an env name that is an object is no named credential), so they stay.
 */
function marksCredential(path: readonly (string | number)[]): boolean {
  const key = path.at(-1);
  if (path.length === 1) return key === 'objectRef';
  if (key === 'name' && path.at(-3) === 'env') return true;
  if (path.length === 2 && (key === 'kind' || key === 'resource')) return true;
  // A JSON patch operation's op and path say where its value goes.
  if (path[0] === 'requestObject' && path.length === 3 && (key === 'op' || key === 'path')) return true;
  return false;
}

describe('credentials in bent events', () => {
  it(
    'a credential placed where one travels never reaches the record, whatever else the event holds',
    () => {
      const carriers = secretCarriers();
      const sent = JSON.stringify(carriers);
      for (const s of ALL_SECRETS) expect(sent).toContain(s);
      fc.assert(
        fc.property(mutantOf(carriers, 3, marksCredential), ({ event }) => {
          for (const { record } of normaliseText(JSON.stringify(event)).records) {
            const line = serialiseRecord(record);
            for (const s of ALL_SECRETS) expect(line, s).not.toContain(s);
          }
        }),
        { numRuns: RUNS, seed: SEED },
      );
    },
    fuzzTimeout(20),
  );
});

// Counterexamples these properties found are kept as plain tests beside the code they fixed:
// test/unit/rules/engine.test.ts, "reads a responseStatus.code whose own keys shadow toString or valueOf".
