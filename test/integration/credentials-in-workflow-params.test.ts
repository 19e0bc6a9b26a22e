// Credentials passed as workflow and pipeline parameters, and Secrets a policy generates, as
// kube-apiserver logs them at RequestResponse level (create with both bodies, the merge patch
// kubectl and a controller send to a custom resource, a JSON patch (`kubectl patch --type=json`), get and list answers, a watch event's
// `{type, object}`, the kubectl last-applied-configuration annotation `kubectl apply` adds), read
// through `normalise` and a real `serve` (records, alerts, the SQLite file):
// - Argo Workflows' documented parameters workflow (argoproj/argo-workflows
//   docs/walk-through/parameters.md, commit f016ad89eb269d282aec06dc491c29f396a38df4, Apache-2.0),
//   its `message` parameter given the credential `argo submit -p db-password=…` sets; the copies
//   the controller keeps in `status.nodes[*].inputs.parameters`; a WorkflowTemplate's input
//   `default`; a CronWorkflow's `spec.workflowSpec.arguments`.
// - Tekton's pipelinerun-with-params (tektoncd/pipeline
//   examples/v1/pipelineruns/pipelinerun-with-params.yaml, and the object param of
//   pipeline-object-param-and-result.yaml, commit 3ee1745ae5b2d9175b11917d7c1935eaad44910c,
//   Apache-2.0), params named for credentials: a string, an array and an object value, a Task's
//   `default`, and the Pipeline's spec the run copies into `status.pipelineSpec` (docs/pipelineruns.md).
// - Kyverno's argo-cluster-generation-from-rancher-capi ClusterPolicy (kyverno/policies
//   argo/argo-cluster-generation-from-rancher-capi/argo-cluster-generation-from-rancher-capi.yaml,
//   commit b9c4317ce02256dc66118e08bb3e9345e7bfce5c, Apache-2.0): its `generate` rule creates a
//   Secret whose `data` the policy carries; here a literal `config` (a cluster's bearer token) in
//   place of its JMESPath variables, as a user writes it for one cluster.
import { describe, expect } from 'vitest';
import { applied, dig, eventOn, LAST_APPLIED, lastApplied } from '../helpers/credential-events.js';
import { kubectlWriteBase } from '../helpers/k8s-events.js';
import { credentialsNotStored } from '../helpers/through-serve.js';

// Opaque values (no JWT, no credential-shaped text): none may be stored or printed.
const DB_PASSWORD = 'opaque-argo-db-pw-51c8e2';
const DEFAULT_TOKEN = 'opaque-argo-default-tok-0a77d3';
const CRON_KEY = 'opaque-cron-api-key-93be10';
const PR_PASSWORD = 'opaque-tekton-pw-6f2a41';
const PR_ARRAY = 'opaque-tekton-array-tok-c0d5e9';
const PR_OBJECT = 'opaque-tekton-object-pw-2b9f7a';
const TASK_DEFAULT = 'opaque-tekton-default-secret-8e14c3';
const KYV_CONFIG = Buffer.from('{"bearerToken":"opaque-kyverno-cluster-token-4d1e"}').toString('base64');
const KYV_STRING = 'opaque-kyverno-string-pw-77a0b5';
const PATCH_ITEM = 'opaque-json-patch-item-pw-3c6d90';
const PATCH_FIELD = 'opaque-json-patch-field-e81f2b';
const CANARIES = [
  DB_PASSWORD,
  DEFAULT_TOKEN,
  CRON_KEY,
  PR_PASSWORD,
  PR_ARRAY,
  PR_OBJECT,
  TASK_DEFAULT,
  KYV_CONFIG,
  KYV_STRING,
  PATCH_ITEM,
  PATCH_FIELD,
];
const R = '[REDACTED]';

const workflow = {
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'Workflow',
  metadata: { name: 'hello-world-parameters-x7k2p', namespace: 'argo' },
  spec: {
    entrypoint: 'print-message',
    arguments: {
      parameters: [
        { name: 'message', value: 'hello world' },
        { name: 'db-password', value: DB_PASSWORD },
      ],
    },
    templates: [
      {
        name: 'print-message',
        inputs: { parameters: [{ name: 'message' }, { name: 'db-password', value: '{{workflow.parameters.db-password}}' }] },
        container: { image: 'busybox', command: ['echo'], args: ['{{inputs.parameters.message}}'] },
      },
    ],
  },
};
const nodes = {
  'hello-world-parameters-x7k2p': {
    id: 'hello-world-parameters-x7k2p',
    name: 'hello-world-parameters-x7k2p',
    type: 'Pod',
    templateName: 'print-message',
    phase: 'Succeeded',
    inputs: {
      parameters: [
        { name: 'message', value: 'hello world' },
        { name: 'db-password', value: DB_PASSWORD },
      ],
    },
  },
};
const workflowTemplate = {
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'WorkflowTemplate',
  metadata: { name: 'print-message', namespace: 'argo' },
  spec: {
    templates: [
      {
        name: 'print-message',
        inputs: { parameters: [{ name: 'message' }, { name: 'api-token', default: DEFAULT_TOKEN }] },
        container: { image: 'busybox', command: ['echo'], args: ['{{inputs.parameters.message}}'] },
      },
    ],
  },
};
const cronWorkflow = {
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'CronWorkflow',
  metadata: { name: 'hello-world', namespace: 'argo' },
  spec: {
    schedule: '* * * * *',
    workflowSpec: {
      entrypoint: 'print-message',
      arguments: { parameters: [{ name: 'API_KEY', value: CRON_KEY }] },
      workflowTemplateRef: { name: 'print-message' },
    },
  },
};
const pipelineRun = {
  apiVersion: 'tekton.dev/v1',
  kind: 'PipelineRun',
  metadata: { name: 'pipelinerun-with-params', namespace: 'default' },
  spec: {
    params: [
      { name: 'pl-param-x', value: '100' },
      { name: 'db-password', value: PR_PASSWORD },
      { name: 'registry-tokens', value: [PR_ARRAY] },
      { name: 'arg', value: { url: 'abc.com', password: PR_OBJECT } },
    ],
    pipelineRef: { name: 'pipeline-with-params' },
  },
};
const pipelineSpec = {
  params: [
    { name: 'pl-param-x', type: 'string', default: '1' },
    { name: 'db-password', type: 'string', default: PR_PASSWORD },
  ],
  tasks: [{ name: 'sum-params', taskRef: { name: 'sum-params' }, params: [{ name: 'a', value: '$(params.pl-param-x)' }] }],
};
const task = {
  apiVersion: 'tekton.dev/v1',
  kind: 'Task',
  metadata: { name: 'sum-params', namespace: 'default' },
  spec: {
    params: [
      { name: 'a', type: 'string', default: '1', description: 'The first integer' },
      { name: 'client-secret', type: 'string', default: TASK_DEFAULT },
    ],
    steps: [{ name: 'sum', image: 'mirror.gcr.io/bash', script: '#!/usr/bin/env bash\necho -n $(( "$(inputs.params.a)" ))\n' }],
  },
};
const clusterPolicy = {
  apiVersion: 'kyverno.io/v1',
  kind: 'ClusterPolicy',
  metadata: { name: 'argo-cluster-generation' },
  spec: {
    generateExisting: true,
    rules: [
      {
        name: 'source-rancher-non-local-cluster-and-capi-secret',
        match: { all: [{ resources: { kinds: ['v1/Secret'], names: ['*-kubeconfig'] } }] },
        generate: {
          synchronize: true,
          apiVersion: 'v1',
          kind: 'Secret',
          name: 'prod-cluster',
          namespace: 'argocd',
          data: {
            metadata: { labels: { 'argocd.argoproj.io/secret-type': 'cluster' } },
            type: 'Opaque',
            data: { name: 'cHJvZC1jbHVzdGVy', server: 'aHR0cHM6Ly9wcm9kLmV4YW1wbGU6NjQ0Mw==', config: KYV_CONFIG },
            stringData: { password: KYV_STRING },
          },
        },
      },
    ],
  },
};

const base = kubectlWriteBase('2026-12-08');
const ref = (apiGroup: string, resource: string, namespace: string | null, name?: string) => ({
  resource,
  ...(namespace === null ? {} : { namespace }),
  ...(name === undefined ? {} : { name }),
  apiGroup,
  apiVersion: apiGroup === 'tekton.dev' ? 'v1' : apiGroup === 'kyverno.io' ? 'v1' : 'v1alpha1',
});
const ARGO = '/apis/argoproj.io/v1alpha1/namespaces/argo';
const TEKTON = '/apis/tekton.dev/v1/namespaces/default';
const KYVERNO = '/apis/kyverno.io/v1/clusterpolicies';

function items(): unknown[] {
  const ev = eventOn(base);
  const wfRef = ref('argoproj.io', 'workflows', 'argo', workflow.metadata.name);
  const withStatus = { ...workflow, status: { phase: 'Succeeded', nodes } };
  const wft = applied(workflowTemplate);
  const cron = applied(cronWorkflow);
  const tsk = applied(task);
  const cpol = applied(clusterPolicy);
  return [
    ev('wf-create', 'create', `${ARGO}/workflows`, wfRef, { requestObject: workflow, responseObject: workflow }),
    // The workflow controller records its nodes: a merge patch of the status.
    ev('wf-status', 'patch', `${ARGO}/workflows/${workflow.metadata.name}`, wfRef, {
      user: { username: 'system:serviceaccount:argo:argo', groups: ['system:serviceaccounts'] },
      userAgent: 'workflow-controller/v3.6.2',
      requestObject: { status: { nodes } },
      responseObject: withStatus,
    }),
    ev('wf-get', 'get', `${ARGO}/workflows/${workflow.metadata.name}`, wfRef, { responseObject: withStatus }),
    ev('wf-list', 'list', `${ARGO}/workflows`, ref('argoproj.io', 'workflows', 'argo'), {
      responseObject: { apiVersion: 'argoproj.io/v1alpha1', kind: 'WorkflowList', metadata: { resourceVersion: '1' }, items: [withStatus] },
    }),
    ev('wf-watch', 'watch', `${ARGO}/workflows?watch=true`, ref('argoproj.io', 'workflows', 'argo'), {
      responseObject: { type: 'MODIFIED', object: withStatus },
    }),
    // `kubectl patch workflow … --type=json`: a parameter added whole, and one value replaced by index.
    ev('wf-jsonpatch', 'patch', `${ARGO}/workflows/${workflow.metadata.name}`, wfRef, {
      requestObject: [
        { op: 'add', path: '/spec/arguments/parameters/-', value: { name: 'db-password', value: PATCH_ITEM } },
        { op: 'replace', path: '/spec/arguments/parameters/0/value', value: PATCH_FIELD },
      ],
    }),
    ev('wft-create', 'create', `${ARGO}/workflowtemplates`, ref('argoproj.io', 'workflowtemplates', 'argo', 'print-message'), {
      requestObject: wft,
      responseObject: wft,
    }),
    // kubectl apply of a changed CronWorkflow: a JSON merge patch (a custom resource), with the annotation.
    ev('cron-patch', 'patch', `${ARGO}/cronworkflows/hello-world`, ref('argoproj.io', 'cronworkflows', 'argo', 'hello-world'), {
      requestObject: {
        metadata: { annotations: { [LAST_APPLIED]: `${JSON.stringify(cronWorkflow)}\n` } },
        spec: { workflowSpec: { arguments: { parameters: [{ name: 'API_KEY', value: CRON_KEY }] } } },
      },
      responseObject: cron,
    }),
    ev('pr-create', 'create', `${TEKTON}/pipelineruns`, ref('tekton.dev', 'pipelineruns', 'default', 'pipelinerun-with-params'), {
      requestObject: pipelineRun,
      responseObject: pipelineRun,
    }),
    ev(
      'pr-status',
      'update',
      `${TEKTON}/pipelineruns/pipelinerun-with-params/status`,
      { ...ref('tekton.dev', 'pipelineruns', 'default', 'pipelinerun-with-params'), subresource: 'status' },
      {
        user: { username: 'system:serviceaccount:tekton-pipelines:tekton-pipelines-controller', groups: ['system:serviceaccounts'] },
        userAgent: 'tekton-pipelines-controller/v0.65.0',
        requestObject: { ...pipelineRun, status: { pipelineSpec } },
        responseObject: { ...pipelineRun, status: { pipelineSpec } },
      },
    ),
    ev('task-create', 'create', `${TEKTON}/tasks`, ref('tekton.dev', 'tasks', 'default', 'sum-params'), {
      requestObject: tsk,
      responseObject: tsk,
    }),
    ev('cpol-create', 'create', KYVERNO, ref('kyverno.io', 'clusterpolicies', null, 'argo-cluster-generation'), {
      requestObject: cpol,
      responseObject: cpol,
    }),
    ev('cpol-list', 'list', KYVERNO, ref('kyverno.io', 'clusterpolicies', null), {
      responseObject: { apiVersion: 'kyverno.io/v1', kind: 'ClusterPolicyList', metadata: { resourceVersion: '1' }, items: [cpol] },
    }),
  ];
}

type Rec = { audit_id: string; raw_event: unknown };

const WF_ARGS = [
  { name: 'message', value: 'hello world' },
  { name: 'db-password', value: R },
];
const NODE = `status.nodes.${workflow.metadata.name}.inputs.parameters`;
const SECRET_KEPT = {
  metadata: { labels: { 'argocd.argoproj.io/secret-type': 'cluster' } },
  type: 'Opaque',
  data: { name: R, server: R, config: R },
  stringData: { password: R },
};

/** What a user reads of each stored or printed record: the same checks for `normalise` and `serve`. */
function expectKept(records: Rec[]): void {
  const byId = (id: string) => {
    const r = records.find((x) => x.audit_id === id);
    if (r === undefined) throw new Error(`no record ${id}`);
    return r.raw_event;
  };
  for (const body of ['requestObject', 'responseObject']) {
    expect(dig(byId('wf-create'), `${body}.spec.arguments.parameters`)).toEqual(WF_ARGS);
    // A reference to another parameter is no literal: it stays.
    expect(dig(byId('wf-create'), `${body}.spec.templates.0.inputs.parameters.1`)).toEqual({
      name: 'db-password',
      value: '{{workflow.parameters.db-password}}',
    });
    expect(dig(byId('wf-status'), `${body}.${NODE}`)).toEqual(WF_ARGS);
    for (const o of [dig(byId('wft-create'), body), lastApplied(byId('wft-create'), body)]) {
      expect(dig(o, 'spec.templates.0.inputs.parameters')).toEqual([{ name: 'message' }, { name: 'api-token', default: R }]);
    }
    expect(dig(byId('pr-create'), `${body}.spec.params`)).toEqual([
      { name: 'pl-param-x', value: '100' },
      { name: 'db-password', value: R },
      { name: 'registry-tokens', value: [R] },
      { name: 'arg', value: { url: 'abc.com', password: R } },
    ]);
    expect(dig(byId('pr-status'), `${body}.status.pipelineSpec.params.1`)).toEqual({ name: 'db-password', type: 'string', default: R });
    expect(dig(byId('pr-status'), `${body}.status.pipelineSpec.tasks.0.params.0`)).toEqual({ name: 'a', value: '$(params.pl-param-x)' });
    for (const o of [dig(byId('task-create'), body), lastApplied(byId('task-create'), body)]) {
      expect(dig(o, 'spec.params.0.default')).toBe('1');
      expect(dig(o, 'spec.params.1')).toEqual({ name: 'client-secret', type: 'string', default: R });
    }
    for (const o of [dig(byId('cpol-create'), body), lastApplied(byId('cpol-create'), body)]) {
      expect(dig(o, 'spec.rules.0.generate.data')).toEqual(SECRET_KEPT);
      expect(dig(o, 'spec.rules.0.generate.name')).toBe('prod-cluster');
    }
  }
  expect(dig(byId('wf-status'), 'requestObject.status.nodes')).toBeDefined();
  expect(dig(byId('wf-get'), `responseObject.${NODE}`)).toEqual(WF_ARGS);
  expect(dig(byId('wf-list'), `responseObject.items.0.${NODE}`)).toEqual(WF_ARGS);
  expect(dig(byId('wf-watch'), `responseObject.object.${NODE}`)).toEqual(WF_ARGS);
  expect(dig(byId('cron-patch'), 'requestObject.spec.workflowSpec.arguments.parameters')).toEqual([{ name: 'API_KEY', value: R }]);
  expect(dig(lastApplied(byId('cron-patch'), 'requestObject'), 'spec.workflowSpec.arguments.parameters')).toEqual([
    { name: 'API_KEY', value: R },
  ]);
  expect(dig(byId('wf-jsonpatch'), 'requestObject')).toEqual([
    { op: 'add', path: '/spec/arguments/parameters/-', value: { name: 'db-password', value: R } },
    { op: 'replace', path: '/spec/arguments/parameters/0/value', value: R },
  ]);
  expect(dig(byId('cpol-list'), 'responseObject.items.0.spec.rules.0.generate.data')).toEqual(SECRET_KEPT);
}

const expectNoCanary = (text: string) => {
  for (const value of CANARIES) expect(text).not.toContain(value);
};

describe('credentials in workflow parameters and generated Secrets', () => {
  credentialsNotStored({
    prefix: 'aisoc-params-',
    items,
    expectNoCanary,
    expectKept,
    kept: 'keeps each parameter name and reference, and the generated Secret keys',
  });
});
