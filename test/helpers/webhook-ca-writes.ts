// Add-ons writing their own admission webhooks' CA bundle, as kube-apiserver audits each write
// (`audit.k8s.io/v1` Event, ResponseComplete, RequestResponse as the AiSOC connector
// documentation's policy logs webhook configurations). What each add-on sends, by which identity,
// from its own source (files and commits: WEBHOOK_CA_INJECTORS in lib/audit/severity.ts):
// - cert-manager's cainjector: a server-side apply `patch` (`?fieldManager=cert-manager-cainjector
//   &force=true`) holding only metadata.name and each webhook's name and clientConfig.caBundle
//   (pkg/controller/cainjector/injectables.go AsApplyObject), into every configuration annotated
//   cert-manager.io/inject-ca-from(-secret), its own `cert-manager-webhook` among them
//   (deploy/charts/cert-manager/templates/webhook-validating-webhook.yaml);
// - Kyverno's admission controller: an `update` of the whole configuration it builds
//   (pkg/controllers/webhook/controller.go; names pkg/config/config.go), its Service `kyverno-svc`;
// - istiod: an `update` of the whole istio-sidecar-injector with each webhook's caBundle replaced
//   (pkg/webhooks/webhookpatch.go; webhooks as manifests/charts/istio-control/istio-discovery/
//   templates/mutatingwebhook.yaml renders them, Service `istiod`);
// - OPA Gatekeeper's cert rotator: an `update` of each configuration with caBundle set
//   (open-policy-agent/cert-controller pkg/rotator/rotator.go); the objects are deploy/gatekeeper.yaml's
//   (test/fixtures/webhook-configurations);
// - ingress-nginx's admission patch Job (`kube-webhook-certgen patch`): an `update` of the whole
//   ingress-nginx-admission with caBundle and the chart's failurePolicy (images/kube-webhook-certgen/
//   rootfs/pkg/k8s/k8s.go patchValidating); the object is deploy/static/provider/cloud/deploy.yaml's.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { FIXTURES } from './fixtures.js';

type Json = Record<string, unknown>;

const DIR = join(FIXTURES, 'webhook-configurations');
const GROUP = 'admissionregistration.k8s.io';
// A PEM CA certificate as base64, as client-go sends []byte (any bytes: the apiserver stores them).
export const CA_BUNDLE = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIBdzCCAR2gAwIBAgIQ\n-----END CERTIFICATE-----\n').toString('base64');

const sa = (ns: string, name: string) => `system:serviceaccount:${ns}:${name}`;
export const INJECTORS = {
  certManager: sa('cert-manager', 'cert-manager-cainjector'),
  kyverno: sa('kyverno', 'kyverno-admission-controller'),
  istiod: sa('istio-system', 'istiod'),
  gatekeeper: sa('gatekeeper-system', 'gatekeeper-admin'),
  ingressNginx: sa('ingress-nginx', 'ingress-nginx-admission'),
} as const;

const USER_AGENTS: Record<string, string> = {
  [INJECTORS.certManager]: 'cert-manager-cainjector/v1.16.2 (linux/amd64) cert-manager/0000000',
  [INJECTORS.kyverno]: 'kyverno/v1.13.2 (linux/amd64) kubernetes/0000000',
  [INJECTORS.istiod]: 'pilot-discovery/1.24.1',
  [INJECTORS.gatekeeper]: 'manager/v0.0.0 (linux/amd64) kubernetes/$Format',
  [INJECTORS.ingressNginx]: 'kube-webhook-certgen/v1.4.4 (linux/amd64) kubernetes/$Format',
};

function fixture(file: string): Json[] {
  return parseAllDocuments(readFileSync(join(DIR, file), 'utf8'))
    .map((d) => d.toJS() as Json | null)
    .filter((d): d is Json => d !== null);
}

/** The public manifests' configurations: ingress-nginx's and Gatekeeper's two. */
export function publishedConfigurations(): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const doc of [
    ...fixture('ingress-nginx__deploy-cloud__validatingwebhookconfiguration.yaml'),
    ...fixture('gatekeeper__deploy__webhookconfigurations.yaml'),
  ]) {
    out[(doc.metadata as Json).name as string] = doc;
  }
  return out;
}

const webhook = (name: string, ns: string, service: string, path: string, over: Json = {}): Json => ({
  name,
  admissionReviewVersions: ['v1'],
  clientConfig: { service: { name: service, namespace: ns, path, port: 443 } },
  failurePolicy: 'Fail',
  matchPolicy: 'Equivalent',
  sideEffects: 'None',
  timeoutSeconds: 10,
  ...over,
});

/** Kyverno's resource validating configuration as its controller builds it for one policy's kinds. */
function kyvernoConfiguration(): Json {
  return {
    apiVersion: `${GROUP}/v1`,
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: 'kyverno-resource-validating-webhook-cfg', labels: { 'webhook.kyverno.io/managed-by': 'kyverno' } },
    webhooks: [
      webhook('validate.kyverno.svc-fail', 'kyverno', 'kyverno-svc', '/validate/fail', {
        sideEffects: 'NoneOnDryRun',
        rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'], scope: '*' }],
        namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kyverno'] }] },
      }),
    ],
  };
}

/** istiod's sidecar injector as Istio's chart renders it (default revision). */
function istioConfiguration(): Json {
  const hook = (prefix: string, selector: Json) =>
    webhook(`${prefix}sidecar-injector.istio.io`, 'istio-system', 'istiod', '/inject', {
      rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
      namespaceSelector: selector,
      reinvocationPolicy: 'Never',
    });
  return {
    apiVersion: `${GROUP}/v1`,
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: 'istio-sidecar-injector', labels: { app: 'sidecar-injector', 'app.kubernetes.io/name': 'istiod' } },
    webhooks: [
      hook('namespace.', { matchExpressions: [{ key: 'istio-injection', operator: 'In', values: ['enabled'] }] }),
      hook('object.', { matchExpressions: [{ key: 'istio-injection', operator: 'DoesNotExist' }] }),
    ],
  };
}

/** The object with each webhook's caBundle set, as the add-on sends it in its update, and as stored. */
export function withCaBundle(config: Json, caBundle = CA_BUNDLE): Json {
  const webhooks = (config.webhooks as Json[]).map((w) => ({
    ...w,
    clientConfig: { ...(w.clientConfig as Json), caBundle },
  }));
  return {
    ...config,
    metadata: { ...(config.metadata as Json), uid: 'f3b0c1d2-5e6f-4a7b-8c9d-0e1f2a3b4c5d', resourceVersion: '5128841', generation: 7 },
    webhooks,
  };
}

let n = 0;

/** One write of a webhook configuration, as kube-apiserver audits it. `body` is the request body. */
export function webhookWrite(
  user: string,
  verb: 'create' | 'update' | 'patch' | 'delete',
  kind: 'MutatingWebhookConfiguration' | 'ValidatingWebhookConfiguration',
  name: string,
  body: unknown,
  over: Json = {},
): Json {
  n++;
  const resource = `${kind.toLowerCase()}s`;
  const ns = user.startsWith('system:serviceaccount:') ? user.split(':')[2] : undefined;
  // The cainjector's apply names its field manager and forces ownership (reconciler.go).
  const query =
    verb === 'patch' && user === INJECTORS.certManager && !Array.isArray(body) ? '?fieldManager=cert-manager-cainjector&force=true' : '';
  const code = verb === 'create' ? 201 : 200;
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    auditID: `9e4b7a10-2c3d-4e5f-8a6b-${n.toString(16).padStart(12, '0')}`,
    stage: 'ResponseComplete',
    requestURI: `/apis/${GROUP}/v1/${resource}${verb === 'create' ? '' : `/${name}`}${query}`,
    verb,
    user: {
      username: user,
      groups:
        ns === undefined ? ['system:authenticated'] : ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'],
    },
    sourceIPs: ['10.0.21.34'],
    userAgent: USER_AGENTS[user] ?? 'kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46',
    objectRef: { resource, name, apiGroup: GROUP, apiVersion: 'v1' },
    responseStatus: { metadata: {}, code },
    ...(body === undefined ? {} : { requestObject: body }),
    ...(verb === 'delete' || isJsonObjectLike(body) === false ? {} : { responseObject: body }),
    requestReceivedTimestamp: '2026-12-07T09:30:00.101000Z',
    stageTimestamp: '2026-12-07T09:30:00.121000Z',
    ...over,
  };
}

const isJsonObjectLike = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);

/** cert-manager's cainjector's server-side apply body for a configuration (AsApplyObject). */
export function cainjectorApplyBody(kind: string, name: string, webhookNames: string[], caBundle = CA_BUNDLE): Json {
  return {
    kind,
    apiVersion: `${GROUP}/v1`,
    metadata: { name },
    webhooks: webhookNames.map((w) => ({ name: w, clientConfig: { caBundle } })),
  };
}

/** Each add-on's routine CA bundle write, as its code sends it. */
export function routineCaWrites(caBundle = CA_BUNDLE): { addon: string; event: Json }[] {
  const pub = publishedConfigurations();
  const nginx = pub['ingress-nginx-admission'] as Json;
  const gkV = pub['gatekeeper-validating-webhook-configuration'] as Json;
  const gkM = pub['gatekeeper-mutating-webhook-configuration'] as Json;
  const upd = (user: string, cfg: Json) => {
    const obj = withCaBundle(cfg, caBundle);
    return webhookWrite(user, 'update', obj.kind as never, (obj.metadata as Json).name as string, obj);
  };
  return [
    {
      addon: 'cert-manager cainjector (its own webhook, validating)',
      event: webhookWrite(
        INJECTORS.certManager,
        'patch',
        'ValidatingWebhookConfiguration',
        'cert-manager-webhook',
        cainjectorApplyBody('ValidatingWebhookConfiguration', 'cert-manager-webhook', ['webhook.cert-manager.io'], caBundle),
      ),
    },
    {
      addon: 'cert-manager cainjector (an annotated webhook of another add-on)',
      event: webhookWrite(
        INJECTORS.certManager,
        'patch',
        'MutatingWebhookConfiguration',
        'aws-load-balancer-webhook',
        cainjectorApplyBody(
          'MutatingWebhookConfiguration',
          'aws-load-balancer-webhook',
          ['mpod.elbv2.k8s.aws', 'mservice.elbv2.k8s.aws', 'mtargetgroupbinding.elbv2.k8s.aws'],
          caBundle,
        ),
      ),
    },
    { addon: 'Kyverno admission controller', event: upd(INJECTORS.kyverno, kyvernoConfiguration()) },
    { addon: 'istiod', event: upd(INJECTORS.istiod, istioConfiguration()) },
    { addon: 'Gatekeeper cert rotator (validating)', event: upd(INJECTORS.gatekeeper, gkV) },
    { addon: 'Gatekeeper cert rotator (mutating)', event: upd(INJECTORS.gatekeeper, gkM) },
    { addon: 'ingress-nginx admission patch Job', event: upd(INJECTORS.ingressNginx, nginx) },
  ];
}

export const CONFIGS = { kyverno: kyvernoConfiguration, istio: istioConfiguration };
