// Bishop Fox's badPods (test/fixtures/badpods, SOURCES.md): the public pod manifests that each
// open a way from a pod to its node, as a person puts them on a new cluster, POSTed to a running
// `serve` as the apiserver audits the requests, then read back with `events` as a user reads them.
// Each manifest goes in three ways: `kubectl create -f`, `kubectl apply -f` (client-side, the first
// time: a create) and `kubectl apply --server-side -f` (a patch answered 201). Then the later
// patches that add the dangerous field to a workload that did not have it, in the shapes kubectl
// sends: strategic merge (`kubectl patch`, `kubectl apply` of an edited file), JSON merge
// (`--type=merge`) and JSON patch (`--type=json`).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { FIXTURES } from '../helpers/fixtures.js';
import { eventMaker } from '../helpers/k8s-events.js';
import { defaulted, kubectlCreates, podSpec, where } from '../helpers/kubectl-creates.js';
import { servedOnce } from '../helpers/through-serve.js';

type Json = Record<string, unknown>;
const SECRET = 'badpods-secret-0123456789abcdef';
const KUBECTL = 'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350';
const PERSON = { username: 'arn:aws:iam::123456789012:role/dev', groups: ['system:authenticated'] };
const DIR = join(FIXTURES, 'badpods');

// What each badPods class must come out as, and the rules that must name it.
const CLASSES: Record<string, { rules: string[]; high: boolean }> = {
  'everything-allowed': { rules: ['privileged-container', 'host-pid-or-ipc', 'host-network', 'sensitive-host-path'], high: true },
  'priv-and-hostpid': { rules: ['privileged-container', 'host-pid-or-ipc'], high: true },
  priv: { rules: ['privileged-container'], high: true },
  hostpath: { rules: ['sensitive-host-path'], high: true },
  hostpid: { rules: ['host-pid-or-ipc'], high: false },
  hostipc: { rules: ['host-pid-or-ipc'], high: false },
  hostnetwork: { rules: ['host-network'], high: false },
  'nothing-allowed': { rules: [], high: false },
};

interface Manifest {
  cls: string;
  dir: string;
  object: Json;
}

/** Every document of every kept manifest (a StatefulSet's file also holds its headless Service). */
function manifests(): Manifest[] {
  const out: Manifest[] = [];
  for (const cls of readdirSync(DIR, { withFileTypes: true }).filter((d) => d.isDirectory())) {
    for (const dir of readdirSync(join(DIR, cls.name))) {
      for (const file of readdirSync(join(DIR, cls.name, dir))) {
        for (const doc of parseAllDocuments(readFileSync(join(DIR, cls.name, dir, file), 'utf8'))) {
          const object = doc.toJS() as Json;
          // The CronJobs say batch/v1beta1, which Kubernetes stopped serving in 1.25: on a new
          // cluster kubectl refuses the file (no matches for kind "CronJob") until the line says batch/v1.
          if (object.apiVersion === 'batch/v1beta1') object.apiVersion = 'batch/v1';
          out.push({ cls: cls.name, dir, object });
        }
      }
    }
  }
  return out;
}

const event = eventMaker('badb0d00', {
  user: PERSON,
  sourceIPs: ['203.0.113.7'],
  userAgent: KUBECTL,
  requestReceivedTimestamp: '2026-12-07T07:10:00.000000Z',
  stageTimestamp: '2026-12-07T07:10:00.030000Z',
});

const ALL = manifests();
const nothing = (kind: string): Json => ALL.find((m) => m.cls === 'nothing-allowed' && m.object.kind === kind)?.object ?? ({} as Json);

/** A later patch of a nothing-allowed workload: its body as sent, the object it leaves (responseObject). */
function patch(name: string, kind: string, requestObject: unknown, change: (spec: Json) => void, fieldManager = 'kubectl-patch') {
  const before = nothing(kind);
  const { base, ref } = where(before);
  const after = defaulted(before);
  change(podSpec(after)?.spec as Json);
  return {
    name,
    event: event({
      verb: 'patch',
      requestURI: `${base}/${ref.name}?fieldManager=${fieldManager}`,
      objectRef: ref,
      requestObject,
      responseObject: after,
      responseStatus: { metadata: {}, code: 200 },
    }),
  };
}

const containerName = (kind: string): string => {
  const spec = podSpec(nothing(kind))?.spec as Json | undefined;
  return (spec?.containers as Json[] | undefined)?.[0]?.name as string;
};
const HOST_ROOT = { name: 'noderoot', hostPath: { path: '/' } };

const PATCHES: { name: string; rule: string; severity: 'high' | 'medium'; event: Json }[] = [
  {
    rule: 'privileged-container',
    severity: 'high',
    // kubectl patch deployment NAME -p '{"spec":{"template":{"spec":{"containers":[{"name":...,"securityContext":{"privileged":true}}]}}}}'
    ...patch(
      'strategic merge patch: a Deployment container made privileged',
      'Deployment',
      { spec: { template: { spec: { containers: [{ name: containerName('Deployment'), securityContext: { privileged: true } }] } } } },
      (s) => {
        ((s.containers as Json[])[0] as Json).securityContext = { privileged: true };
      },
    ),
  },
  {
    rule: 'sensitive-host-path',
    severity: 'high',
    // `kubectl apply -f` of the StatefulSet's file with the node's root mounted: kubectl's
    // three-way strategic merge patch, with its $setElementOrder directives and the new annotation.
    ...patch(
      'kubectl apply of an edited file: the node root mounted into a StatefulSet',
      'StatefulSet',
      {
        metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"apiVersion":"apps/v1"}\n' } },
        spec: {
          template: {
            spec: {
              '$setElementOrder/containers': [{ name: containerName('StatefulSet') }],
              '$setElementOrder/volumes': [{ name: 'noderoot' }],
              containers: [{ name: containerName('StatefulSet'), volumeMounts: [{ mountPath: '/host', name: 'noderoot' }] }],
              volumes: [HOST_ROOT],
            },
          },
        },
      },
      (s) => {
        s.volumes = [{ ...HOST_ROOT, hostPath: { path: '/', type: '' } }];
      },
      'kubectl-client-side-apply',
    ),
  },
  {
    rule: 'host-pid-or-ipc',
    severity: 'high',
    // kubectl patch daemonset NAME --type=json -p '[{"op":"add","path":"/spec/template/spec/hostPID","value":true}]'
    ...patch(
      'JSON patch: hostPID added to a DaemonSet',
      'DaemonSet',
      [{ op: 'add', path: '/spec/template/spec/hostPID', value: true }],
      (s) => {
        s.hostPID = true;
      },
    ),
  },
  {
    rule: 'sensitive-host-path',
    severity: 'high',
    // kubectl patch cronjob NAME --type=json: a volume of the node's root, and its mount.
    ...patch(
      'JSON patch: the node root mounted into a CronJob',
      'CronJob',
      [
        { op: 'add', path: '/spec/jobTemplate/spec/template/spec/volumes', value: [HOST_ROOT] },
        {
          op: 'add',
          path: '/spec/jobTemplate/spec/template/spec/containers/0/volumeMounts',
          value: [{ mountPath: '/host', name: 'noderoot' }],
        },
      ],
      (s) => {
        s.volumes = [{ ...HOST_ROOT, hostPath: { path: '/', type: '' } }];
      },
    ),
  },
  {
    rule: 'privileged-container',
    severity: 'high',
    ...patch(
      'JSON patch: a ReplicaSet container made privileged',
      'ReplicaSet',
      [{ op: 'add', path: '/spec/template/spec/containers/0/securityContext', value: { privileged: true } }],
      (s) => {
        ((s.containers as Json[])[0] as Json).securityContext = { privileged: true };
      },
    ),
  },
  {
    rule: 'host-pid-or-ipc',
    severity: 'high',
    // A JSON patch `copy` writes a value the body does not hold: here the pod spec's own
    // enableServiceLinks, which the apiserver defaults to true, copied into hostPID. Only the
    // object the patch left (responseObject, logged at RequestResponse) shows what it set.
    ...patch(
      'JSON patch copy: hostPID set from enableServiceLinks in a Deployment',
      'Deployment',
      [{ op: 'copy', from: '/spec/template/spec/enableServiceLinks', path: '/spec/template/spec/hostPID' }],
      (s) => {
        s.hostPID = true;
      },
    ),
  },
  {
    rule: 'privileged-container',
    severity: 'high',
    ...patch(
      'JSON patch copy: a Job container made privileged from enableServiceLinks',
      'Job',
      [
        { op: 'add', path: '/spec/template/spec/containers/0/securityContext', value: {} },
        { op: 'copy', from: '/spec/template/spec/enableServiceLinks', path: '/spec/template/spec/containers/0/securityContext/privileged' },
      ],
      (s) => {
        ((s.containers as Json[])[0] as Json).securityContext = { privileged: true };
      },
    ),
  },
  {
    rule: 'host-network',
    severity: 'medium',
    // kubectl patch rc NAME --type=merge -p '{"spec":{"template":{"spec":{"hostNetwork":true}}}}'
    ...patch(
      'JSON merge patch: a ReplicationController put on the host network',
      'ReplicationController',
      { spec: { template: { spec: { hostNetwork: true } } } },
      (s) => {
        s.hostNetwork = true;
      },
    ),
  },
];

const CREATES = ALL.map((m) => ({ ...m, events: kubectlCreates(event, m.object) }));

describe("Bishop Fox's badPods through serve", () => {
  const items = [...CREATES.flatMap((m) => m.events.map((e) => e.event)), ...PATCHES.map((p) => p.event)];
  const served = servedOnce('aisoc-badpods-', SECRET, 'lab', items);

  it('accepts every event and keeps the 8 classes of 8 kinds', () => {
    expect(served.status).toBe(200);
    expect(served.answer).toMatchObject({ accepted: items.length, rejected: 0 });
    expect(new Set(ALL.filter((m) => m.object.kind !== 'Service').map((m) => `${m.cls}/${m.object.kind}`)).size).toBe(64);
    expect(served.records).toHaveLength(items.length);
  });

  for (const m of CREATES) {
    const expected = CLASSES[m.cls] as { rules: string[]; high: boolean };
    const kind = m.object.kind as string;
    // The headless Service beside each StatefulSet opens nothing.
    const harmless = m.cls === 'nothing-allowed' || kind === 'Service';
    const what = harmless
      ? 'not high, no rule, no alert'
      : `${expected.high ? 'high with an alert' : 'medium or high'}, named by ${expected.rules.join(', ')}`;
    it(`${m.cls} ${kind} (${m.dir}/): ${what}`, () => {
      for (const { how, event: e } of m.events) {
        const r = served.records.find((x) => x.audit_id === e.auditID);
        const alert = served.alerts.find((a) => a.audit_id === e.auditID);
        expect(r?.k8s_resource, how).toBe((e.objectRef as Json).resource);
        if (harmless) {
          // A person making a workload is the table's workload row, whatever its kind: a
          // ReplicationController runs pods from a template as a ReplicaSet does.
          if (kind !== 'Service') expect([r?.severity, r?.severity_reason], how).toEqual(['medium', 'workload-change']);
          expect(r?.severity, how).not.toBe('high');
          expect(r?.rule_ids, how).toEqual([]);
          expect(alert, how).toBeUndefined();
          continue;
        }
        expect(r?.rule_ids, how).toEqual(expect.arrayContaining(expected.rules));
        expect(['medium', 'high'], how).toContain(r?.severity);
        if (expected.high) expect(r?.severity, how).toBe('high');
        if (r?.severity === 'high') {
          expect(
            expected.rules.map((id) => `rule:${id}`),
            how,
          ).toContain(r.severity_reason);
          expect(expected.rules, how).toContain(alert?.finding.finding_info.analytic.uid);
        } else expect(alert, how).toBeUndefined();
      }
    });
  }

  for (const p of PATCHES) {
    it(`${p.name}: ${p.severity}, named by ${p.rule}`, () => {
      const r = served.records.find((x) => x.audit_id === p.event.auditID);
      expect(r?.rule_ids).toContain(p.rule);
      expect(r?.severity).toBe(p.severity);
      const alert = served.alerts.find((a) => a.audit_id === p.event.auditID);
      if (p.severity === 'high') {
        expect(r?.severity_reason).toBe(`rule:${p.rule}`);
        expect(alert?.finding.finding_info.analytic.uid).toBe(p.rule);
      } else expect(alert).toBeUndefined();
    });
  }
});
