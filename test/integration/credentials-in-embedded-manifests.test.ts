// Credentials a user writes into an object that carries another object's text or manifest, as
// kube-apiserver logs them at RequestResponse level (create and update with both bodies, the merge
// patch kubectl and Argo CD send to a custom resource, a list answer, the kubectl
// last-applied-configuration annotation `kubectl apply` and Argo CD's client-side apply add), read
// through `normalise` and a real `serve` (`events --json`, `--alerts`, the SQLite file):
// - An Argo CD Application installing Argo CD's own chart with the values argo-helm documents for
//   repository credentials (argoproj/argo-helm charts/argo-cd/values.yaml, `configs.credentialTemplates`
//   and `configs.repositories`, commit af0a9310bacbaa4636018dfe22c801a6d33a5c43, Apache-2.0), as
//   `spec.source.helm.values` text: `githubAppPrivateKey: |` and `sshPrivateKey: |` are block
//   scalars whose key lines follow; `password: my-password` a plain line. The ApplicationSet's
//   template carries the same values folded (`>-`) and in flow style (`{password: …}`).
// - Crossplane provider-kubernetes Objects (crossplane-contrib/provider-kubernetes, commit
//   350ef9acf911654b9d54d62a4ca4d7f0d0b13341, Apache-2.0): examples/namespaced/object/
//   object-ssa-deployment.yaml (a Deployment), its container given the Kubernetes documentation's
//   MySQL env (kubernetes/website content/en/examples/application/mysql/mysql-deployment.yaml,
//   `MYSQL_ROOT_PASSWORD` as a literal) and a `--db-password` flag; and
//   examples/namespaced/object/references/patches-from-resource.yaml (a ConfigMap), its manifest the
//   ConfigMap of Falco's trace create_configmap_sensitive_values (test/fixtures/falco), whose
//   `access.properties` holds `aws_secret_access_key = …`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { applied, dig, eventOn, LAST_APPLIED, lastApplied } from '../helpers/credential-events.js';
import { kubectlWriteBase } from '../helpers/k8s-events.js';
import { credentialsNotStored } from '../helpers/through-serve.js';

// Opaque values (no JWT, no credential-shaped text): none may be stored or printed.
const APP_KEY = 'opaque-github-app-key-b7e1d4';
const SSH_KEY = 'opaque-ssh-private-key-3f9a0c';
const REPO_PASSWORD = 'opaque-repo-password-c2d8e5';
const FOLDED = 'opaque-folded-password-91be07';
const FLOW = 'opaque-flow-password-5a3d62';
const MYSQL_PASSWORD = 'opaque-mysql-root-e40b19';
const FLAG_PASSWORD = 'opaque-db-flag-pw-7c21fa';
const FALCO_KEY = 'MY-KEY'; // the trace's own value of aws_secret_access_key
const PATCH_PASSWORD = Buffer.from('opaque-patch-secret-0d6e').toString('base64');
const CANARIES = [APP_KEY, SSH_KEY, REPO_PASSWORD, FOLDED, FLOW, MYSQL_PASSWORD, FLAG_PASSWORD, PATCH_PASSWORD];

// argo-helm's commented example, uncommented under `configs:` (its place in the chart's values),
// each key's `...` body given a value.
const argoValues = (key1: string, key2: string, password: string) => `configs:
  credentialTemplates:
    github-enterprise-creds-1:
      url: https://github.com/argoproj
      githubAppID: 1
      githubAppInstallationID: 2
      githubAppEnterpriseBaseUrl: https://ghe.example.com/api/v3
      githubAppPrivateKey: |
        -----BEGIN OPENSSH PRIVATE KEY-----
        ${key1}
        -----END OPENSSH PRIVATE KEY-----
    https-creds:
      url: https://github.com/argoproj
      password: ${password}
      username: my-username
    ssh-creds:
     url: git@github.com:argoproj-labs
     sshPrivateKey: |
       -----BEGIN OPENSSH PRIVATE KEY-----
       ${key2}
       -----END OPENSSH PRIVATE KEY-----
  repositories:
    private-helm-repo:
      url: https://my-private-chart-repo.internal
      name: private-repo
      type: helm
`;
const VALUES = argoValues(APP_KEY, SSH_KEY, REPO_PASSWORD);
const VALUES_KEPT = argoValues('@', '@', '[REDACTED]').replace(
  /( +)-----BEGIN OPENSSH PRIVATE KEY-----\n +@\n +-----END OPENSSH PRIVATE KEY-----/g,
  '$1[REDACTED]',
);
const SET_VALUES = `redis:\n  auth:\n    password: >-\n      ${FOLDED}\n  master: {persistence: {size: 8Gi}, password: ${FLOW}}\n`;
const SET_VALUES_KEPT = 'redis:\n  auth:\n    password: >-\n      [REDACTED]\n  master: {persistence: {size: 8Gi}, password: [REDACTED]}\n';

const application = {
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'Application',
  metadata: { name: 'argo-cd', namespace: 'argocd' },
  spec: {
    project: 'default',
    source: { chart: 'argo-cd', repoURL: 'https://argoproj.github.io/argo-helm', targetRevision: '7.3.4', helm: { values: VALUES } },
    destination: { server: 'https://kubernetes.default.svc', namespace: 'argocd' },
  },
};
const applicationSet = {
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'ApplicationSet',
  metadata: { name: 'redis', namespace: 'argocd' },
  spec: {
    generators: [{ list: { elements: [{ cluster: 'in-cluster', url: 'https://kubernetes.default.svc' }] } }],
    template: {
      metadata: { name: '{{cluster}}-redis' },
      spec: {
        project: 'default',
        source: { chart: 'redis', repoURL: 'registry-1.docker.io/bitnamicharts', targetRevision: '19.6.0', helm: { values: SET_VALUES } },
        destination: { server: '{{url}}', namespace: 'redis' },
      },
    },
  },
};

const deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'nginx-deployment', namespace: 'default', labels: { app: 'nginx' } },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: 'nginx' } },
    template: {
      metadata: { labels: { app: 'nginx' } },
      spec: {
        containers: [
          {
            name: 'nginx',
            image: 'nginx:1.14.2',
            ports: [{ containerPort: 80 }],
            args: [`--db-password=${FLAG_PASSWORD}`],
            env: [
              { name: 'MY_NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
              { name: 'MYSQL_ROOT_PASSWORD', value: MYSQL_PASSWORD },
            ],
          },
        ],
      },
    },
  },
};
const xpDeployment = {
  apiVersion: 'kubernetes.m.crossplane.io/v1alpha1',
  kind: 'Object',
  metadata: { name: 'sample-deployment-owner', namespace: 'default' },
  spec: { forProvider: { manifest: deployment }, providerConfigRef: { kind: 'ClusterProviderConfig', name: 'kubernetes-provider' } },
};
const falcoConfigMap = (
  JSON.parse(
    readFileSync(join(import.meta.dirname, '../fixtures/falco/create_configmap_sensitive_values.json'), 'utf8').split('\n')[0] as string,
  ) as { requestObject: { data: Record<string, string> } }
).requestObject;
const xpConfigMap = {
  apiVersion: 'kubernetes.m.crossplane.io/v1alpha1',
  kind: 'Object',
  metadata: { name: 'foo', namespace: 'default' },
  spec: {
    references: [
      {
        patchesFrom: { apiVersion: 'v1', kind: 'ConfigMap', name: 'bar', namespace: 'default', fieldPath: 'data.sample-key' },
        toFieldPath: 'data.sample-key-from-bar',
      },
    ],
    forProvider: { manifest: falcoConfigMap },
    providerConfigRef: { kind: 'ClusterProviderConfig', name: 'kubernetes-provider' },
  },
  status: { atProvider: { manifest: falcoConfigMap } },
};

const base = kubectlWriteBase('2026-12-08');
const argoRef = (resource: string, name: string) => ({
  resource,
  namespace: 'argocd',
  name,
  apiGroup: 'argoproj.io',
  apiVersion: 'v1alpha1',
});
const xpRef = (name: string, subresource?: string) => ({
  resource: 'objects',
  ...(subresource === undefined ? {} : { subresource }),
  namespace: 'default',
  name,
  apiGroup: 'kubernetes.m.crossplane.io',
  apiVersion: 'v1alpha1',
});
const ARGO = '/apis/argoproj.io/v1alpha1/namespaces/argocd';
const XP = '/apis/kubernetes.m.crossplane.io/v1alpha1/namespaces/default/objects';

function items(): unknown[] {
  const ev = eventOn(base);
  const app = applied(application);
  const set = applied(applicationSet);
  const xpd = applied(xpDeployment);
  return [
    ev('app-create', 'create', `${ARGO}/applications`, argoRef('applications', 'argo-cd'), { requestObject: app, responseObject: app }),
    // kubectl apply of a changed Application: a JSON merge patch (a custom resource), with the annotation.
    ev('app-patch', 'patch', `${ARGO}/applications/argo-cd`, argoRef('applications', 'argo-cd'), {
      requestObject: {
        metadata: { annotations: { [LAST_APPLIED]: `${JSON.stringify(application)}\n` } },
        spec: { source: { helm: { values: VALUES } } },
      },
      responseObject: app,
    }),
    ev(
      'app-list',
      'list',
      `${ARGO}/applications`,
      { resource: 'applications', namespace: 'argocd', apiGroup: 'argoproj.io', apiVersion: 'v1alpha1' },
      {
        responseObject: { apiVersion: 'argoproj.io/v1alpha1', kind: 'ApplicationList', metadata: { resourceVersion: '1' }, items: [app] },
      },
    ),
    ev('set-create', 'create', `${ARGO}/applicationsets`, argoRef('applicationsets', 'redis'), { requestObject: set, responseObject: set }),
    ev('xp-create', 'create', XP, xpRef('sample-deployment-owner'), { requestObject: xpd, responseObject: xpd }),
    ev('xp-get', 'get', `${XP}/sample-deployment-owner`, xpRef('sample-deployment-owner'), {
      responseObject: { ...xpDeployment, status: { atProvider: { manifest: deployment } } },
    }),
    ev('xp-cm-status', 'update', `${XP}/foo/status`, xpRef('foo', 'status'), {
      user: { username: 'system:serviceaccount:crossplane-system:provider-kubernetes-a1b2c3' },
      userAgent: 'crossplane-provider-kubernetes/v1.0.0',
      requestObject: xpConfigMap,
      responseObject: xpConfigMap,
    }),
    // A merge patch of the managed manifest's data alone: no kind says whose data it is.
    ev('xp-patch', 'patch', `${XP}/foo`, xpRef('foo'), {
      requestObject: { spec: { forProvider: { manifest: { data: { password: PATCH_PASSWORD } } } } },
    }),
  ];
}

type Rec = { audit_id: string; raw_event: unknown };

/** What a user reads of each stored or printed record: the same checks for `normalise` and `serve`. */
function expectKept(records: Rec[]): void {
  const byId = (id: string) => {
    const r = records.find((x) => x.audit_id === id);
    if (r === undefined) throw new Error(`no record ${id}`);
    return r.raw_event;
  };
  const helm = 'spec.source.helm.values';
  for (const body of ['requestObject', 'responseObject']) {
    expect(dig(byId('app-create'), `${body}.${helm}`)).toBe(VALUES_KEPT);
    expect(dig(lastApplied(byId('app-create'), body), helm)).toBe(VALUES_KEPT);
    expect(dig(byId('set-create'), `${body}.spec.template.${helm}`)).toBe(SET_VALUES_KEPT);
    expect(dig(lastApplied(byId('set-create'), body), `spec.template.${helm}`)).toBe(SET_VALUES_KEPT);
    const container = (o: unknown) => dig(o, 'spec.forProvider.manifest.spec.template.spec.containers.0');
    for (const o of [dig(byId('xp-create'), body), lastApplied(byId('xp-create'), body)]) {
      expect(container(o)).toMatchObject({
        args: ['--db-password=[REDACTED]'],
        env: [
          { name: 'MY_NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
          { name: 'MYSQL_ROOT_PASSWORD', value: '[REDACTED]' },
        ],
      });
    }
    for (const place of ['spec.forProvider', 'status.atProvider']) {
      expect(dig(byId('xp-cm-status'), `${body}.${place}.manifest.data`)).toEqual({
        'access.properties': 'aws_access_key_id = MY-ID\naws_secret_access_key = [REDACTED]\n',
        'ui.properties': falcoConfigMap.data['ui.properties'],
      });
    }
  }
  expect(dig(byId('app-patch'), `requestObject.${helm}`)).toBe(VALUES_KEPT);
  expect(dig(lastApplied(byId('app-patch'), 'requestObject'), helm)).toBe(VALUES_KEPT);
  expect(dig(byId('app-list'), `responseObject.items.0.${helm}`)).toBe(VALUES_KEPT);
  expect(dig(byId('xp-get'), 'responseObject.status.atProvider.manifest.spec.template.spec.containers.0.env.1')).toEqual({
    name: 'MYSQL_ROOT_PASSWORD',
    value: '[REDACTED]',
  });
  expect(dig(byId('xp-patch'), 'requestObject.spec.forProvider.manifest.data')).toEqual({ password: '[REDACTED]' });
}

const expectNoCanary = (text: string) => {
  for (const value of [...CANARIES, `= ${FALCO_KEY}`]) expect(text).not.toContain(value);
};

describe('credentials in embedded values and manifests', () => {
  credentialsNotStored({
    prefix: 'aisoc-embedded-',
    items,
    expectNoCanary,
    expectKept,
    kept: 'keeps every key and the structure: a block scalar becomes one marker line, a flow pair its marker',
  });
});
