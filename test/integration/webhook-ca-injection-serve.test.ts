// Add-ons writing their own admission webhooks' CA bundle (cert-manager's cainjector, Kyverno,
// istiod, Gatekeeper's cert rotator, ingress-nginx's admission patch Job), as each one's code sends
// the write (test/helpers/webhook-ca-writes.ts names file and commit), beside the same identities
// doing more than that and other identities doing the same, POSTed to a running `serve` and read
// back with `events`. Before the refinement every one of them was high, an alert.
import { describe, expect, it } from 'vitest';
import { normaliseAuditEvent, validateAuditEvent } from '../../lib/audit/index.js';
import type { Outcome } from '../helpers/through-serve.js';
import { servedOnce } from '../helpers/through-serve.js';
import {
  CA_BUNDLE,
  CONFIGS,
  cainjectorApplyBody,
  INJECTORS,
  publishedConfigurations,
  routineCaWrites,
  webhookWrite,
  withCaBundle,
} from '../helpers/webhook-ca-writes.js';

type Json = Record<string, unknown>;
const SECRET = 'webhook-ca-injection-secret-0123456789';
const RULE = 'admission-webhook-change';
const ROUTINE: Outcome = ['low', 'routine-webhook-ca-injection', [RULE]];
const ALERT: Outcome = ['high', `rule:${RULE}`, [RULE]];
const PERSON = 'arn:aws:iam::123456789012:role/sre-alice';
const V = 'ValidatingWebhookConfiguration';
const M = 'MutatingWebhookConfiguration';

const pub = publishedConfigurations();
const gatekeeper = pub['gatekeeper-validating-webhook-configuration'] as Json;
const nginx = pub['ingress-nginx-admission'] as Json;
/** The object with its first webhook changed by `f`, and every CA bundle set. */
const changed = (cfg: Json, f: (w: Json) => Json): Json => {
  const obj = withCaBundle(cfg);
  const [first, ...rest] = obj.webhooks as Json[];
  return { ...obj, webhooks: [f(first as Json), ...rest] };
};
const caOnly = (name: string, webhooks: string[]) => cainjectorApplyBody(V, name, webhooks);
const update = (user: string, obj: Json) => webhookWrite(user, 'update', obj.kind as never, (obj.metadata as Json).name as string, obj);

const routine: { what: string; event: Json }[] = [
  ...routineCaWrites().map(({ addon, event }) => ({ what: addon, event })),
  {
    what: 'cert-manager cainjector: a JSON patch of /webhooks/0/clientConfig/caBundle',
    event: webhookWrite(INJECTORS.certManager, 'patch', V, 'cert-manager-webhook', [
      { op: 'replace', path: '/webhooks/0/clientConfig/caBundle', value: CA_BUNDLE },
    ]),
  },
  {
    what: 'istiod: a strategic merge patch of the webhooks caBundle alone',
    event: webhookWrite(INJECTORS.istiod, 'patch', M, 'istio-sidecar-injector', {
      webhooks: [{ name: 'namespace.sidecar-injector.istio.io', clientConfig: { caBundle: CA_BUNDLE } }],
    }),
  },
];

const kept: { what: string; event: Json; outcome?: Outcome }[] = [
  // Other identities writing exactly what the add-ons write.
  {
    what: "a person's CA-only patch",
    event: webhookWrite(PERSON, 'patch', V, 'cert-manager-webhook', caOnly('cert-manager-webhook', ['webhook.cert-manager.io'])),
  },
  {
    what: 'cainjector look-alike in default',
    event: webhookWrite(
      'system:serviceaccount:default:cert-manager-cainjector',
      'patch',
      V,
      'cert-manager-webhook',
      caOnly('cert-manager-webhook', ['webhook.cert-manager.io']),
    ),
  },
  { what: "a CI account's update of Gatekeeper's object", event: update('system:serviceaccount:ci:deployer', withCaBundle(gatekeeper)) },
  // The add-ons' own identities doing more than the CA bundle.
  {
    what: 'cainjector patch pointing the webhook at a URL',
    event: webhookWrite(INJECTORS.certManager, 'patch', V, 'cert-manager-webhook', {
      ...caOnly('cert-manager-webhook', []),
      webhooks: [{ name: 'webhook.cert-manager.io', clientConfig: { caBundle: CA_BUNDLE, url: 'https://203.0.113.9/validate' } }],
    }),
  },
  {
    what: 'cainjector patch setting failurePolicy Ignore',
    event: webhookWrite(INJECTORS.certManager, 'patch', V, 'cert-manager-webhook', {
      webhooks: [{ name: 'webhook.cert-manager.io', failurePolicy: 'Ignore', clientConfig: { caBundle: CA_BUNDLE } }],
    }),
  },
  {
    what: "Gatekeeper's account: JSON patch of caBundle and failurePolicy",
    event: webhookWrite(INJECTORS.gatekeeper, 'patch', V, 'gatekeeper-validating-webhook-configuration', [
      { op: 'replace', path: '/webhooks/0/clientConfig/caBundle', value: CA_BUNDLE },
      { op: 'replace', path: '/webhooks/1/failurePolicy', value: 'Ignore' },
    ]),
  },
  {
    what: "istiod's account: JSON patch removing the namespaceSelector",
    event: webhookWrite(INJECTORS.istiod, 'patch', M, 'istio-sidecar-injector', [{ op: 'remove', path: '/webhooks/0/namespaceSelector' }]),
  },
  {
    what: "Kyverno's account: patch of rules and objectSelector beside the CA",
    event: webhookWrite(INJECTORS.kyverno, 'patch', V, 'kyverno-resource-validating-webhook-cfg', {
      webhooks: [{ name: 'validate.kyverno.svc-fail', clientConfig: { caBundle: CA_BUNDLE }, rules: [], objectSelector: {} }],
    }),
  },
  {
    what: "Kyverno's account: update pointing a webhook at a URL",
    event: update(
      INJECTORS.kyverno,
      changed(CONFIGS.kyverno(), (w) => ({ ...w, clientConfig: { url: 'https://203.0.113.9/validate', caBundle: CA_BUNDLE } })),
    ),
  },
  {
    what: "ingress-nginx's Job account: update pointing the webhook at a Service in another namespace",
    event: update(
      INJECTORS.ingressNginx,
      changed(nginx, (w) => ({
        ...w,
        clientConfig: { caBundle: CA_BUNDLE, service: { name: 'collector', namespace: 'web', path: '/x', port: 443 } },
      })),
    ),
  },
  {
    what: "Kyverno's account creating a new webhook configuration",
    event: webhookWrite(INJECTORS.kyverno, 'create', M, 'kyverno-extra', withCaBundle({ ...CONFIGS.kyverno(), kind: M })),
  },
  {
    what: "Gatekeeper's account deleting its configuration",
    event: webhookWrite(INJECTORS.gatekeeper, 'delete', V, 'gatekeeper-validating-webhook-configuration', undefined),
  },
  {
    what: 'cainjector patch logged at Metadata (no body: cannot tell what it set)',
    event: { ...webhookWrite(INJECTORS.certManager, 'patch', V, 'cert-manager-webhook', undefined), level: 'Metadata' },
  },
  {
    what: 'cainjector CA-only patch, impersonating',
    event: webhookWrite(
      INJECTORS.certManager,
      'patch',
      V,
      'cert-manager-webhook',
      caOnly('cert-manager-webhook', ['webhook.cert-manager.io']),
      {
        impersonatedUser: { username: 'system:admin' },
      },
    ),
    outcome: ['high', 'impersonation', [RULE]],
  },
];

describe("add-ons' own webhook CA bundle writes through serve", () => {
  const served = servedOnce(
    'aisoc-webhook-ca-',
    SECRET,
    'prod',
    [...routine, ...kept].map((c) => c.event),
  );

  it('accepts every event', () => {
    expect(served.status).toBe(200);
    expect(served.records).toHaveLength(routine.length + kept.length);
  });

  for (const c of routine) {
    it(`${c.what}: low, routine-webhook-ca-injection, the rule named, no alert`, () => served.check(c.event, ROUTINE));
  }
  for (const c of kept) {
    it(`${c.what}: high, an alert`, () => served.check(c.event, c.outcome ?? ALERT));
  }

  it('K8S_AUDIT_SEVERITY=spec scores the routine writes by the table alone, as before (info, no rules)', () => {
    for (const c of routine) {
      const v = validateAuditEvent(c.event);
      if (!v.ok) throw new Error(v.reason);
      const rec = normaliseAuditEvent(v.event, {
        tenantId: 'acme',
        clusterName: 'prod',
        receivedAt: 0,
        detection: { severity: 'spec', rules: null },
      });
      expect([rec.severity, rec.severity_reason, rec.rule_ids], c.what).toEqual(['info', 'steady-state', []]);
    }
  });
});
