// Credentials in the write shapes kubectl, Helm and controllers send that no object rule sees,
// sent through the real `serve` and read back as a user reads them (`events --json`, `--alerts`)
// and as the SQLite file holds them:
// - JSON patches (RFC 6902; `kubectl patch --type=json`, which kube-apiserver logs as sent:
//   k8s.io/apiserver endpoints/handlers/patch.go `audit.LogRequestPatch(req.Context(), patchBytes)`)
//   that set kubectl's last-applied-configuration annotation itself (`~1` for `/`, RFC 6901), the
//   annotations or the metadata holding it, of a Deployment and of a ConfigMap; one that replaces
//   a whole ConfigMap (path ""); and one word appended to a container's args (`args/-`, the shape
//   public scripts use for metrics-server's `--kubelet-insecure-tls` and the dashboard's
//   `--enable-skip-login`), here oauth2-proxy's documented `--cookie-secret`, next to a `hostPID`
//   op that makes the event high (a Detection Finding);
// - a Helm 3 release kept by its ConfigMap driver (helm/helm pkg/storage/driver/cfgmaps.go:
//   labels `owner: helm`, `name`, `status`, `version`; `data.release`, base64 of the gzipped
//   release JSON with the user's values and the rendered manifest);
// - Crossplane provider-kubernetes's example Object that copies a Secret's `data.password` into
//   the Secret it manages (examples/namespaced/object/object-sanitize-secrets.yaml), updated by the
//   provider without `--sanitize-secrets` (docs/sanitize-secrets.md: the value is then stored in
//   `spec.forProvider.manifest` and `status.atProvider.manifest`);
// - an Argo CD Application updated by `argocd app set -p` with a Helm parameter that is a password.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_STORE_FILE } from '../../lib/sinks/sqlite.js';
import { dig, LAST_APPLIED } from '../helpers/credential-events.js';
import { SECRET, tempDataDir } from '../helpers/ingest.js';
import { kubectlWriteBase } from '../helpers/k8s-events.js';
import { type ThroughServe, throughServe } from '../helpers/through-serve.js';

// Opaque values (no JWT, no credential-shaped text): none may be stored.
const MYSQL_PASSWORD = 'opaque-mysql-root-4c1d7e';
const CM_PASSWORD = 'opaque-cm-password-9a2f55';
const COOKIE_SECRET = 'opaque-cookie-secret-0b8e3a';
const HELM_PASSWORD = 'opaque-helm-values-pw-61d0c2';
const XP_PASSWORD = Buffer.from('sample-password').toString('base64');
const ARGO_PASSWORD = 'opaque-argo-param-pw-5e7a19';

// The Kubernetes documentation's MySQL tutorial Deployment (kubernetes/website, content/en/examples/
// application/mysql/mysql-deployment.yaml), as kubectl writes it into the annotation.
const deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'mysql', namespace: 'default' },
  spec: {
    selector: { matchLabels: { app: 'mysql' } },
    strategy: { type: 'Recreate' },
    template: {
      metadata: { labels: { app: 'mysql' } },
      spec: { containers: [{ image: 'mysql:5.6', name: 'mysql', env: [{ name: 'MYSQL_ROOT_PASSWORD', value: MYSQL_PASSWORD }] }] },
    },
  },
};
const deploymentText = `${JSON.stringify(deployment)}\n`;
const configMap = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'app', namespace: 'default' },
  data: { POSTGRES_PASSWORD: CM_PASSWORD },
};
const configMapText = `${JSON.stringify(configMap)}\n`;

// A Helm 3 release as its storage driver encodes it (fields of helm.sh/helm/v3 pkg/release.Release).
const release = {
  name: 'db',
  info: { status: 'deployed', description: 'Install complete' },
  chart: { metadata: { name: 'postgresql', version: '15.5.0' } },
  config: { auth: { postgresPassword: HELM_PASSWORD } },
  manifest: `---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db-postgresql\ndata:\n  postgres-password: ${Buffer.from(HELM_PASSWORD).toString('base64')}\n`,
  version: 1,
  namespace: 'default',
};
const RELEASE = gzipSync(JSON.stringify(release)).toString('base64');

const xpObject = {
  apiVersion: 'kubernetes.m.crossplane.io/v1alpha1',
  kind: 'Object',
  metadata: { name: 'foo-sanitized', namespace: 'default' },
  spec: {
    watch: true,
    references: [
      {
        patchesFrom: { apiVersion: 'v1', kind: 'Secret', name: 'bar-sanitized', namespace: 'default', fieldPath: 'data.password' },
        toFieldPath: 'data.password',
      },
    ],
    forProvider: {
      manifest: { apiVersion: 'v1', kind: 'Secret', metadata: { namespace: 'default' }, type: 'Opaque', data: { password: XP_PASSWORD } },
    },
    providerConfigRef: { kind: 'ClusterProviderConfig', name: 'kubernetes-provider' },
  },
  status: {
    atProvider: {
      manifest: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'foo-sanitized', namespace: 'default' },
        type: 'Opaque',
        data: { password: XP_PASSWORD },
      },
    },
  },
};

const base = kubectlWriteBase('2026-12-07');
const deploymentRef = { resource: 'deployments', namespace: 'default', name: 'mysql', apiGroup: 'apps', apiVersion: 'v1' };
const cmRef = { resource: 'configmaps', namespace: 'default', name: 'app', apiVersion: 'v1' };
const DEPLOY_URI = '/apis/apps/v1/namespaces/default/deployments/mysql';
const CM_URI = '/api/v1/namespaces/default/configmaps/app';
const annotationPath = `/metadata/annotations/${LAST_APPLIED.replace('/', '~1')}`;

function items(): unknown[] {
  const patch = (auditID: string, requestURI: string, objectRef: object, requestObject: unknown) => ({
    ...base,
    auditID,
    verb: 'patch',
    requestURI,
    objectRef,
    requestObject,
  });
  return [
    patch('jp-0001', DEPLOY_URI, deploymentRef, [{ op: 'replace', path: annotationPath, value: deploymentText }]),
    patch('jp-0002', DEPLOY_URI, deploymentRef, [{ op: 'add', path: '/metadata/annotations', value: { [LAST_APPLIED]: deploymentText } }]),
    patch('jp-0003', DEPLOY_URI, deploymentRef, [
      { op: 'replace', path: '/metadata', value: { name: 'mysql', annotations: { [LAST_APPLIED]: deploymentText } } },
    ]),
    patch('jp-0004', CM_URI, cmRef, [{ op: 'replace', path: annotationPath, value: configMapText }]),
    patch('jp-0005', CM_URI, cmRef, [{ op: 'replace', path: '', value: configMap }]),
    patch(
      'jp-0006',
      '/apis/apps/v1/namespaces/auth/deployments/oauth2-proxy',
      { ...deploymentRef, namespace: 'auth', name: 'oauth2-proxy' },
      [
        { op: 'add', path: '/spec/template/spec/hostPID', value: true },
        { op: 'add', path: '/spec/template/spec/containers/0/args/-', value: '--enable-skip-login' },
        { op: 'add', path: '/spec/template/spec/containers/0/args/-', value: `--cookie-secret=${COOKIE_SECRET}` },
      ],
    ),
    {
      ...base,
      auditID: 'helm-0001',
      verb: 'create',
      userAgent: 'Helm/3.15.2',
      requestURI: '/api/v1/namespaces/default/configmaps',
      objectRef: { resource: 'configmaps', namespace: 'default', name: 'sh.helm.release.v1.db.v1', apiVersion: 'v1' },
      requestObject: {
        kind: 'ConfigMap',
        apiVersion: 'v1',
        metadata: { name: 'sh.helm.release.v1.db.v1', labels: { name: 'db', owner: 'helm', status: 'deployed', version: '1' } },
        data: { release: RELEASE },
      },
      responseStatus: { metadata: {}, code: 201 },
    },
    {
      ...base,
      auditID: 'xp-0001',
      verb: 'update',
      user: { username: 'system:serviceaccount:crossplane-system:provider-kubernetes-a1b2c3' },
      userAgent: 'crossplane-provider-kubernetes/v1.0.0',
      requestURI: '/apis/kubernetes.m.crossplane.io/v1alpha1/namespaces/default/objects/foo-sanitized/status',
      objectRef: {
        resource: 'objects',
        subresource: 'status',
        namespace: 'default',
        name: 'foo-sanitized',
        apiGroup: 'kubernetes.m.crossplane.io',
        apiVersion: 'v1alpha1',
      },
      requestObject: xpObject,
      responseObject: xpObject,
    },
    {
      ...base,
      auditID: 'argo-0001',
      verb: 'update',
      user: { username: 'system:serviceaccount:argocd:argocd-server' },
      userAgent: 'argocd-server/v2.11.3',
      requestURI: '/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/db',
      objectRef: { resource: 'applications', namespace: 'argocd', name: 'db', apiGroup: 'argoproj.io', apiVersion: 'v1alpha1' },
      // What `argocd app set db -p auth.postgresPassword=…` writes (argo-cd docs/user-guide/helm.md, "Helm Parameters").
      requestObject: {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Application',
        metadata: { name: 'db', namespace: 'argocd' },
        spec: {
          project: 'default',
          source: {
            chart: 'postgresql',
            repoURL: 'registry-1.docker.io/bitnamicharts',
            targetRevision: '15.5.0',
            helm: { parameters: [{ name: 'auth.postgresPassword', value: ARGO_PASSWORD }] },
          },
          destination: { server: 'https://kubernetes.default.svc', namespace: 'db' },
        },
      },
    },
  ];
}

let out: ThroughServe;
let all: string;
let disk: string;
const tmp = tempDataDir('aisoc-write-shapes-');
beforeAll(async () => {
  out = await throughServe(tmp.dir, SECRET, 'prod', items());
  all = JSON.stringify([out.records, out.alerts]);
  const files = readdirSync(tmp.dir).filter((f) => f.startsWith(EVENT_STORE_FILE));
  disk = files.map((f) => readFileSync(join(tmp.dir, f)).toString('latin1')).join('');
}, 60_000);
afterAll(() => tmp.remove());

type Rec = { audit_id: string; raw_event: unknown; rule_ids: string[]; severity: string };
const record = (id: string): Rec => {
  const r = (out.records as unknown as Rec[]).find((x) => x.audit_id === id);
  if (r === undefined) throw new Error(`no record ${id}`);
  return r;
};
const ops = (id: string) => dig(record(id).raw_event, 'requestObject') as { path: string; value: unknown }[];
/** The value of the `i`-th operation of a stored JSON patch. */
const opValue = (id: string, i: number): unknown => ops(id)[i]?.value;

describe('credentials in write shapes, through serve', () => {
  it('accepts every item and stores none of the credentials: not in a record, a finding or the SQLite file', () => {
    expect(out.status).toBe(200);
    expect(out.answer).toMatchObject({ accepted: 9, rejected: 0 });
    expect(disk.length).toBeGreaterThan(0);
    for (const text of [all, disk]) {
      for (const value of [MYSQL_PASSWORD, CM_PASSWORD, COOKIE_SECRET, XP_PASSWORD, RELEASE.slice(0, 40), ARGO_PASSWORD])
        expect(text).not.toContain(value);
    }
  });

  it('redacts the last-applied annotation a JSON patch sets, keeping the env names', () => {
    const annotated = [
      opValue('jp-0001', 0),
      (opValue('jp-0002', 0) as Record<string, unknown>)[LAST_APPLIED],
      (dig(opValue('jp-0003', 0), 'annotations') as Record<string, unknown>)[LAST_APPLIED],
    ];
    for (const text of annotated) {
      expect(dig(JSON.parse(String(text)), 'spec.template.spec.containers.0.env')).toEqual([
        { name: 'MYSQL_ROOT_PASSWORD', value: '[REDACTED]' },
      ]);
    }
    expect(JSON.parse(String(opValue('jp-0004', 0))).data).toEqual({ POSTGRES_PASSWORD: '[REDACTED]' });
    expect(dig(opValue('jp-0005', 0), 'data')).toEqual({ POSTGRES_PASSWORD: '[REDACTED]' });
  });

  it("keeps a JSON patch's command-line words and what detections read, and the high event's finding holds no credential", () => {
    expect(ops('jp-0006').map((op) => op.value)).toEqual([true, '--enable-skip-login', '--cookie-secret=[REDACTED]']);
    expect(record('jp-0006').severity).toBe('high');
    const alert = out.alerts.find((a) => a.audit_id === 'jp-0006');
    expect(alert?.rule_ids).toContain('host-pid-or-ipc');
    expect(JSON.stringify(alert)).toContain('--cookie-secret=[REDACTED]');
  });

  it("replaces a Helm release kept in a ConfigMap, keeping Helm's labels", () => {
    const raw = record('helm-0001').raw_event;
    expect(dig(raw, 'requestObject.data')).toEqual({ release: '[REDACTED]' });
    expect(dig(raw, 'requestObject.metadata.labels')).toEqual({ name: 'db', owner: 'helm', status: 'deployed', version: '1' });
  });

  it('redacts the Secret a Crossplane Object manages, in its spec and its status, keeping the keys and references', () => {
    const raw = record('xp-0001').raw_event;
    for (const body of ['requestObject', 'responseObject']) {
      expect(dig(raw, `${body}.spec.forProvider.manifest.data`)).toEqual({ password: '[REDACTED]' });
      expect(dig(raw, `${body}.status.atProvider.manifest.data`)).toEqual({ password: '[REDACTED]' });
      expect(dig(raw, `${body}.spec.references`)).toEqual(xpObject.spec.references);
    }
  });

  it("keeps an Argo CD Application's Helm parameter names and replaces a password set as one", () => {
    expect(dig(record('argo-0001').raw_event, 'requestObject.spec.source.helm.parameters')).toEqual([
      { name: 'auth.postgresPassword', value: '[REDACTED]' },
    ]);
  });
});
