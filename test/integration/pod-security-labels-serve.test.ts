// Every way kubectl changes a namespace's Pod Security Admission labels, as the apiserver audits
// each request at RequestResponse (the level EKS's and GKE's policies log writes of core objects
// at): the body as kubectl sends it (kubernetes/kubectl pkg/cmd: label's merge patch, patch's
// three types, edit's and client-side apply's strategic merge patches, server-side apply's whole
// object, replace's update) and the namespace the request left. The namespace is ControlPlane's
// simulator PSS Misconfiguration's (test/fixtures/simulator), after the walkthrough's remedy
// (enforce raised to restricted). POSTed to a running `serve` and read back with `events`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { FIXTURES } from '../helpers/fixtures.js';
import { eventMaker } from '../helpers/k8s-events.js';
import { requester } from '../helpers/pod-requests.js';
import { type Outcome, type ScenarioStep, servedScenarios } from '../helpers/through-serve.js';

type Json = Record<string, unknown>;
type Labels = Record<string, string>;

const OPERATOR = { username: 'kubernetes-admin', groups: ['kubeadm:cluster-admins', 'system:authenticated'] };
const KUBECTL = 'kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46';
const IP = '10.0.1.10';
const request = requester(
  eventMaker('95a1abe1', {
    requestReceivedTimestamp: '2026-12-07T11:00:00.000000Z',
    stageTimestamp: '2026-12-07T11:00:00.031000Z',
  }),
);

const ENFORCE = 'pod-security.kubernetes.io/enforce';
const SCENARIO = parseAllDocuments(readFileSync(join(FIXTURES, 'simulator', 'pss-misconfiguration', '01-scenario.yaml'), 'utf8')).map(
  (d) => d.toJS() as Json,
);
const NAMESPACE = SCENARIO.find((o) => o.kind === 'Namespace') as { metadata: { name: string; labels: Labels } };
const NS = NAMESPACE.metadata.name;
// The scenario installs dev-app-factory enforcing privileged; the remedy raised it to restricted.
const INSTALLED: Labels = NAMESPACE.metadata.labels;
const REMEDIED: Labels = { ...INSTALLED, [ENFORCE]: 'restricted' };

const LOWERED: Outcome = ['medium', 'rule:pod-security-enforce-lowered', ['pod-security-enforce-lowered']];
const INFO: Outcome = ['info', 'steady-state'];

/** The namespace as the apiserver answers with it: its labels, and the name label the apiserver adds. */
function stored(labels: Labels, annotations?: Labels): Json {
  return {
    kind: 'Namespace',
    apiVersion: 'v1',
    metadata: {
      name: NS,
      uid: '3d6f0a8e-5b7c-4e1d-8f2a-9c0b1d2e3f40',
      resourceVersion: '48213',
      labels: { ...labels, 'kubernetes.io/metadata.name': NS },
      ...(annotations === undefined ? {} : { annotations }),
    },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
}

function without(labels: Labels, key: string): Labels {
  const out = { ...labels };
  delete out[key];
  return out;
}

/** One request of `kubectl <verb>` against dev-app-factory: its field manager, body and the namespace left. */
function kubectl(verb: 'patch' | 'update', query: string, body: unknown, after: Json, code = 200): Json {
  return request(OPERATOR, KUBECTL, IP, verb, `/api/v1/namespaces/${NS}?${query}`, { resource: 'namespaces', name: NS }, code, {
    requestObject: body,
    responseObject: after,
  });
}

/** The manifest a person keeps for the namespace, as `kubectl apply` records it (kubectl.kubernetes.io/last-applied-configuration). */
function lastApplied(labels: Labels): string {
  return `${JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { annotations: {}, labels, name: NS } })}\n`;
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
const LABEL_FM = 'fieldManager=kubectl-label';
const PATCH_FM = 'fieldManager=kubectl-patch';

const STEPS: ScenarioStep[] = [
  {
    scenario: 'kubectl label',
    step: `kubectl label namespace ${NS} ${ENFORCE}-`,
    event: kubectl('patch', LABEL_FM, { metadata: { labels: { [ENFORCE]: null } } }, stored(without(REMEDIED, ENFORCE))),
    outcome: LOWERED,
  },
  {
    scenario: 'kubectl label',
    step: `kubectl label namespace ${NS} ${ENFORCE}=baseline --overwrite`,
    // Baseline still refuses privileged, host namespaces and hostPath; the request does not say
    // whether it came from restricted or privileged.
    event: kubectl('patch', LABEL_FM, { metadata: { labels: { [ENFORCE]: 'baseline' } } }, stored({ ...REMEDIED, [ENFORCE]: 'baseline' })),
    outcome: INFO,
  },
  {
    scenario: 'kubectl label',
    step: `kubectl label namespace ${NS} ${ENFORCE}-version=v1.22`,
    event: kubectl(
      'patch',
      LABEL_FM,
      { metadata: { labels: { [`${ENFORCE}-version`]: 'v1.22' } } },
      stored({ ...REMEDIED, [`${ENFORCE}-version`]: 'v1.22' }),
    ),
    outcome: INFO,
  },
  {
    scenario: 'kubectl patch --type=json',
    step: `kubectl patch namespace ${NS} --type=json -p '[{"op":"remove","path":"/metadata/labels/pod-security.kubernetes.io~1enforce"}]'`,
    event: kubectl(
      'patch',
      PATCH_FM,
      [{ op: 'remove', path: '/metadata/labels/pod-security.kubernetes.io~1enforce' }],
      stored(without(REMEDIED, ENFORCE)),
    ),
    outcome: LOWERED,
  },
  {
    scenario: 'kubectl patch --type=json',
    step: `kubectl patch namespace ${NS} --type=json -p '[{"op":"replace","path":"/metadata/labels/pod-security.kubernetes.io~1enforce","value":"privileged"}]'`,
    event: kubectl(
      'patch',
      PATCH_FM,
      [{ op: 'replace', path: '/metadata/labels/pod-security.kubernetes.io~1enforce', value: 'privileged' }],
      stored({ ...REMEDIED, [ENFORCE]: 'privileged' }),
    ),
    outcome: LOWERED,
  },
  {
    scenario: 'kubectl patch --type=json',
    step: `kubectl patch namespace ${NS} --type=json -p '[{"op":"move","from":"/metadata/labels/pod-security.kubernetes.io~1enforce","path":"/metadata/labels/enforce-was"}]'`,
    event: kubectl(
      'patch',
      PATCH_FM,
      [{ op: 'move', from: '/metadata/labels/pod-security.kubernetes.io~1enforce', path: '/metadata/labels/enforce-was' }],
      stored({ ...without(REMEDIED, ENFORCE), 'enforce-was': 'restricted' }),
    ),
    outcome: LOWERED,
  },
  {
    scenario: 'kubectl patch --type=json',
    step: `kubectl patch namespace ${NS} --type=json -p '[{"op":"remove","path":"/metadata/labels"}]'`,
    event: kubectl('patch', PATCH_FM, [{ op: 'remove', path: '/metadata/labels' }], stored({})),
    outcome: LOWERED,
  },
  {
    scenario: 'kubectl patch --type=merge',
    step: `kubectl patch namespace ${NS} --type=merge -p '{"metadata":{"labels":null}}'`,
    event: kubectl('patch', PATCH_FM, { metadata: { labels: null } }, stored({})),
    outcome: LOWERED,
  },
  {
    scenario: 'kubectl patch (strategic)',
    step: `kubectl patch namespace ${NS} -p '{"metadata":{"labels":{"$patch":"delete"}}}'`,
    event: kubectl('patch', PATCH_FM, { metadata: { labels: { $patch: 'delete' } } }, stored({})),
    outcome: LOWERED,
  },
  {
    scenario: 'kubectl edit',
    step: `kubectl edit namespace ${NS} (the enforce line deleted)`,
    event: kubectl(
      'patch',
      'fieldManager=kubectl-edit&fieldValidation=Strict',
      { metadata: { labels: { [ENFORCE]: null } } },
      stored(without(REMEDIED, ENFORCE)),
    ),
    outcome: LOWERED,
  },
  {
    scenario: 'kubectl apply',
    step: `kubectl apply -f ns.yaml (enforce taken out of the file it was applied from)`,
    // Client-side apply's three-way strategic merge patch: what the last applied file had and the
    // new one has not is null; the new file is recorded in the annotation.
    event: kubectl(
      'patch',
      'fieldManager=kubectl-client-side-apply&fieldValidation=Strict',
      {
        metadata: {
          annotations: { [LAST_APPLIED]: lastApplied(without(REMEDIED, ENFORCE)) },
          labels: { [ENFORCE]: null },
        },
      },
      stored(without(REMEDIED, ENFORCE), { [LAST_APPLIED]: lastApplied(without(REMEDIED, ENFORCE)) }),
    ),
    outcome: LOWERED,
  },
  {
    scenario: 'kubectl apply',
    step: `kubectl apply -f ns.yaml (enforce: privileged in the file)`,
    event: kubectl(
      'patch',
      'fieldManager=kubectl-client-side-apply&fieldValidation=Strict',
      {
        metadata: {
          annotations: { [LAST_APPLIED]: lastApplied({ ...REMEDIED, [ENFORCE]: 'privileged' }) },
          labels: { [ENFORCE]: 'privileged' },
        },
      },
      stored({ ...REMEDIED, [ENFORCE]: 'privileged' }, { [LAST_APPLIED]: lastApplied({ ...REMEDIED, [ENFORCE]: 'privileged' }) }),
    ),
    outcome: LOWERED,
  },
  {
    scenario: 'kubectl apply --server-side',
    step: `kubectl apply --server-side -f ns.yaml (enforce: privileged in the file)`,
    event: kubectl(
      'patch',
      'fieldManager=kubectl&fieldValidation=Strict&force=false',
      { apiVersion: 'v1', kind: 'Namespace', metadata: { labels: { ...REMEDIED, [ENFORCE]: 'privileged' }, name: NS } },
      stored({ ...REMEDIED, [ENFORCE]: 'privileged' }),
    ),
    outcome: LOWERED,
  },
  {
    scenario: 'kubectl apply --server-side',
    step: `kubectl apply --server-side -f ns.yaml (enforce taken out of the file; kubectl's field manager owned it)`,
    // The label goes, but the applied object reads the same as one for a namespace that never had
    // it (the previous object is in no event): not seen.
    event: kubectl(
      'patch',
      'fieldManager=kubectl&fieldValidation=Strict&force=false',
      { apiVersion: 'v1', kind: 'Namespace', metadata: { labels: without(REMEDIED, ENFORCE), name: NS } },
      stored(without(REMEDIED, ENFORCE)),
    ),
    outcome: INFO,
  },
  {
    scenario: 'kubectl replace',
    step: `kubectl replace -f ns.yaml (enforce: privileged)`,
    event: kubectl(
      'update',
      'fieldManager=kubectl-replace&fieldValidation=Strict',
      { apiVersion: 'v1', kind: 'Namespace', metadata: { labels: { ...REMEDIED, [ENFORCE]: 'privileged' }, name: NS } },
      stored({ ...REMEDIED, [ENFORCE]: 'privileged' }),
    ),
    outcome: LOWERED,
  },
  {
    scenario: 'kubectl replace',
    step: `kubectl replace -f ns.yaml (enforce taken out)`,
    // An update carries every label: the same body as a namespace that never had it. Not seen.
    event: kubectl(
      'update',
      'fieldManager=kubectl-replace&fieldValidation=Strict',
      { apiVersion: 'v1', kind: 'Namespace', metadata: { labels: without(REMEDIED, ENFORCE), name: NS } },
      stored(without(REMEDIED, ENFORCE)),
    ),
    outcome: INFO,
  },
];

describe('Pod Security Admission labels changed by every kubectl command, through serve', () => {
  const served = servedScenarios('aisoc-psa-labels-', 'psa-labels-secret-0123456789abcdef', 'psa', [], [], STEPS);

  it('keeps each JSON patch as sent in the record a user reads', () => {
    for (const s of STEPS.filter((x) => Array.isArray(x.event.requestObject))) {
      const record = served.records.find((r) => r.audit_id === s.event.auditID) as unknown as { raw_event: Json };
      expect(record.raw_event.requestObject, s.step).toEqual(s.event.requestObject);
    }
  });
});
