// The pods kube-controller-manager's DaemonSet controller creates from public node agents'
// DaemonSets (test/fixtures/daemonset-agents, SOURCES.md), as the apiserver audits each create.
// Shared by the steady-state hour (a node joining) and the test that sends them through `serve`.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { FIXTURES } from './fixtures.js';

type Json = Record<string, unknown>;

const DIR = join(FIXTURES, 'daemonset-agents');

/** One public agent DaemonSet: the fixture file it was read from and the object. */
export interface AgentDaemonSet {
  file: string;
  ds: Json;
}

/** The kept DaemonSets, in file order: node-exporter, Falco, Datadog, Cilium, fluent-bit. */
export function agentDaemonSets(): AgentDaemonSet[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((file) => ({ file, ds: parseYaml(readFileSync(join(DIR, file), 'utf8')) as Json }));
}

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** A DaemonSet's namespace as installed (Falco's rendered file says `default`, its chart's README `falco`). */
export function namespaceOf(ds: Json): string {
  const ns = (ds.metadata as Json).namespace;
  return typeof ns === 'string' && ns !== 'default' ? ns : 'falco';
}

/**
 * The Pod the DaemonSet controller writes for `node`: the template (util.CreatePodTemplate: its
 * labels plus `controller-revision-hash` and `pod-template-generation`, and the tolerations
 * AddOrUpdateDaemonPodTolerations adds, network-unavailable only with hostNetwork), node affinity
 * selecting the node by `metadata.name` (util.ReplaceDaemonSetPodNodeNameNodeAffinity), named
 * `<ds>-` plus a suffix (generateName), owned by its DaemonSet (metav1.NewControllerRef: apps/v1,
 * controller and blockOwnerDeletion true). kubernetes/kubernetes pkg/controller/daemon/util/daemonset_util.go,
 * pkg/controller/daemon/daemon_controller.go (syncNodes), pkg/controller/controller_utils.go (GetPodFromTemplate).
 */
export function daemonSetPod(ds: Json, node: string, owner: Json = {}): Json {
  const meta = ds.metadata as Json;
  const name = meta.name as string;
  const template = clone(((ds.spec as Json).template ?? {}) as Json);
  const tmeta = (template.metadata ?? {}) as Json;
  const spec = (template.spec ?? {}) as Json;
  const tolerations = [...((spec.tolerations as Json[] | null | undefined) ?? [])];
  const add = (key: string, effect: string) => tolerations.push({ key, operator: 'Exists', effect });
  add('node.kubernetes.io/not-ready', 'NoExecute');
  add('node.kubernetes.io/unreachable', 'NoExecute');
  add('node.kubernetes.io/disk-pressure', 'NoSchedule');
  add('node.kubernetes.io/memory-pressure', 'NoSchedule');
  add('node.kubernetes.io/unschedulable', 'NoSchedule');
  if (spec.hostNetwork === true) add('node.kubernetes.io/network-unavailable', 'NoSchedule');
  return {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: {
      generateName: `${name}-`,
      namespace: namespaceOf(ds),
      creationTimestamp: null,
      labels: { ...((tmeta.labels as Json | undefined) ?? {}), 'controller-revision-hash': '6d4b9c7f58', 'pod-template-generation': '1' },
      ...(tmeta.annotations === undefined || tmeta.annotations === null ? {} : { annotations: tmeta.annotations }),
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'DaemonSet',
          name,
          uid: '0b7d2d6c-5c1e-4c39-9d7a-3f1f2a8e4b61',
          controller: true,
          blockOwnerDeletion: true,
          ...owner,
        },
      ],
    },
    spec: {
      ...spec,
      tolerations,
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }],
          },
        },
      },
    },
    status: {},
  };
}

/** kube-controller-manager's user agent with per-controller credentials: its own, then the controller's account. */
export const KCM_USER_AGENT =
  'kube-controller-manager/v1.31.2 (linux/amd64) kubernetes/5864a46/system:serviceaccount:kube-system:daemon-set-controller';
export const DAEMONSET_CONTROLLER = 'system:serviceaccount:kube-system:daemon-set-controller';
