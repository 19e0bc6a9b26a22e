// Public attack tools' API calls, as kube-apiserver audits them, POSTed to a running `serve`:
// each technique comes out of the store at medium or high with the rule named, its routine
// counterpart stays below medium and raises no alert. The requests are read from the tools' code
// (named at each event); the bodies are the API objects the Kubernetes API reference documents.
import { describe, expect, it } from 'vitest';
import { eventMaker } from '../helpers/k8s-events.js';
import { servedOnce } from '../helpers/through-serve.js';

const SECRET = 'techniques-secret-0123456789abcdef';
const KUBECTL = 'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350';
const PERSON = { username: 'arn:aws:iam::123456789012:role/dev', groups: ['system:authenticated'] };
const serviceAccount = (ns: string, name: string) => ({
  username: `system:serviceaccount:${ns}:${name}`,
  groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'],
});

const event = eventMaker('7ec40000', {
  sourceIPs: ['10.0.3.17'],
  requestReceivedTimestamp: '2026-12-07T06:30:00.000000Z',
  stageTimestamp: '2026-12-07T06:30:00.020000Z',
});

/** Each technique's events, the rule that must name them and the severity it must reach. */
const TECHNIQUES: { name: string; events: Record<string, unknown>[]; rule: string; severity: 'medium' | 'high' }[] = [
  {
    // Peirates, kubectl_wrappers.go kubectlAuthCanI: from a pod, with the pod's token, before each
    // action; Go's net/http default user agent (DoKubernetesAPIRequest sets none), over HTTP/1.1:
    // its http.Transport has its own TLS config, which turns Go's HTTP/2 off.
    name: 'Peirates permission check (SelfSubjectAccessReview)',
    rule: 'workload-permission-discovery',
    severity: 'medium',
    events: [
      event({
        verb: 'create',
        user: serviceAccount('default', 'default'),
        userAgent: 'Go-http-client/1.1',
        requestURI: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
        objectRef: { resource: 'selfsubjectaccessreviews', apiGroup: 'authorization.k8s.io', apiVersion: 'v1' },
        requestObject: {
          kind: 'SelfSubjectAccessReview',
          apiVersion: 'authorization.k8s.io/v1',
          spec: { resourceAttributes: { namespace: 'default', verb: 'list', resource: 'secrets' } },
        },
        responseObject: {
          kind: 'SelfSubjectAccessReview',
          apiVersion: 'authorization.k8s.io/v1',
          metadata: { creationTimestamp: null },
          spec: { resourceAttributes: { namespace: 'default', verb: 'list', resource: 'secrets' } },
          status: { allowed: true },
        },
        responseStatus: { metadata: {}, code: 201 },
      }),
    ],
  },
  {
    // `kubectl auth can-i --list` run inside a pod (kubectl's SelfSubjectRulesReview).
    name: 'kubectl auth can-i --list with a pod token (SelfSubjectRulesReview)',
    rule: 'workload-permission-discovery',
    severity: 'medium',
    events: [
      event({
        verb: 'create',
        user: serviceAccount('web', 'api'),
        userAgent: KUBECTL,
        requestURI: '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews',
        objectRef: { resource: 'selfsubjectrulesreviews', apiGroup: 'authorization.k8s.io', apiVersion: 'v1' },
        requestObject: { kind: 'SelfSubjectRulesReview', apiVersion: 'authorization.k8s.io/v1', spec: { namespace: 'web' } },
        responseStatus: { metadata: {}, code: 201 },
      }),
    ],
  },
  {
    // Microsoft Threat Matrix for Kubernetes, "CoreDNS poisoning": `kubectl -n kube-system edit
    // configmap coredns` (a strategic merge patch of the Corefile) sending a service's name elsewhere.
    name: 'CoreDNS poisoning (Microsoft threat matrix)',
    rule: 'cluster-dns-config-change',
    severity: 'high',
    events: [
      event({
        verb: 'patch',
        user: PERSON,
        userAgent: KUBECTL,
        requestURI: '/api/v1/namespaces/kube-system/configmaps/coredns?fieldManager=kubectl-edit',
        objectRef: { resource: 'configmaps', namespace: 'kube-system', name: 'coredns', apiVersion: 'v1' },
        requestObject: {
          data: {
            Corefile:
              '.:53 {\n    errors\n    health\n    rewrite name api.demo.svc.cluster.local attacker-svc.evil.svc.cluster.local\n    kubernetes cluster.local in-addr.arpa ip6.arpa {\n      pods insecure\n      fallthrough in-addr.arpa ip6.arpa\n    }\n    forward . /etc/resolv.conf\n    cache 30\n}\n',
          },
        },
        responseStatus: { metadata: {}, code: 200 },
      }),
    ],
  },
  {
    // Microsoft Threat Matrix for Kubernetes, "Writable hostPath mount", by way of a
    // PersistentVolume: the node's root as a hostPath volume (the Kubernetes API reference's
    // PersistentVolumeSpec), so the pod that claims it names only its claim.
    name: 'hostPath mount through a PersistentVolume',
    rule: 'sensitive-host-path-volume',
    severity: 'high',
    events: [
      event({
        verb: 'create',
        user: PERSON,
        userAgent: KUBECTL,
        requestURI: '/api/v1/persistentvolumes?fieldManager=kubectl-client-side-apply&fieldValidation=Strict',
        objectRef: { resource: 'persistentvolumes', name: 'host-root', apiVersion: 'v1' },
        requestObject: {
          kind: 'PersistentVolume',
          apiVersion: 'v1',
          metadata: { name: 'host-root' },
          spec: {
            capacity: { storage: '1Gi' },
            accessModes: ['ReadWriteOnce'],
            persistentVolumeReclaimPolicy: 'Retain',
            storageClassName: 'manual',
            hostPath: { path: '/', type: 'Directory' },
          },
        },
        responseStatus: { metadata: {}, code: 201 },
      }),
    ],
  },
  {
    // Kubernetes API reference, ValidatingAdmissionPolicyBinding (admissionregistration.k8s.io/v1):
    // validationActions [Audit] keeps the policy evaluating and refuses nothing.
    name: 'admission policy binding switched to audit only',
    rule: 'admission-policy-change',
    severity: 'high',
    events: [
      event({
        verb: 'patch',
        user: PERSON,
        userAgent: KUBECTL,
        requestURI:
          '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/deny-privileged-binding?fieldManager=kubectl-patch',
        objectRef: {
          resource: 'validatingadmissionpolicybindings',
          name: 'deny-privileged-binding',
          apiGroup: 'admissionregistration.k8s.io',
          apiVersion: 'v1',
        },
        requestObject: { spec: { validationActions: ['Audit'] } },
        responseStatus: { metadata: {}, code: 200 },
      }),
      event({
        verb: 'delete',
        user: PERSON,
        userAgent: KUBECTL,
        requestURI: '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/deny-privileged',
        objectRef: {
          resource: 'validatingadmissionpolicies',
          name: 'deny-privileged',
          apiGroup: 'admissionregistration.k8s.io',
          apiVersion: 'v1',
        },
        responseStatus: { metadata: {}, code: 200 },
      }),
    ],
  },
  {
    // metrics.k8s.io repointed at a Service of the attacker's: the APIService of metrics-server's
    // own manifest (kubernetes-sigs/metrics-server components.yaml) with another service, so
    // `kubectl top` and every HPA's metric reads reach it with the caller's identity.
    name: 'aggregated API repointed at an attacker Service (APIService)',
    rule: 'aggregated-api-registered',
    severity: 'high',
    events: [
      event({
        verb: 'update',
        user: serviceAccount('web', 'default'),
        userAgent: 'Go-http-client/2.0',
        requestURI: '/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io',
        objectRef: { resource: 'apiservices', name: 'v1beta1.metrics.k8s.io', apiGroup: 'apiregistration.k8s.io', apiVersion: 'v1' },
        requestObject: {
          kind: 'APIService',
          apiVersion: 'apiregistration.k8s.io/v1',
          metadata: { name: 'v1beta1.metrics.k8s.io' },
          spec: {
            group: 'metrics.k8s.io',
            version: 'v1beta1',
            service: { name: 'metrics-proxy', namespace: 'web' },
            insecureSkipTLSVerify: true,
            groupPriorityMinimum: 100,
            versionPriority: 100,
          },
        },
        responseStatus: { metadata: {}, code: 200 },
      }),
    ],
  },
  {
    // A pod's token removing its namespace's default-deny egress policy (the Kubernetes API
    // reference's NetworkPolicy, networking.k8s.io/v1), opening the way out.
    name: 'network policy deleted with a pod token',
    rule: 'network-policy-deleted',
    severity: 'medium',
    events: [
      event({
        verb: 'delete',
        user: serviceAccount('web', 'default'),
        userAgent: 'Go-http-client/2.0',
        requestURI: '/apis/networking.k8s.io/v1/namespaces/web/networkpolicies/default-deny-egress',
        objectRef: {
          resource: 'networkpolicies',
          namespace: 'web',
          name: 'default-deny-egress',
          apiGroup: 'networking.k8s.io',
          apiVersion: 'v1',
        },
        responseStatus: { metadata: {}, status: 'Success', code: 200 },
      }),
    ],
  },
  {
    // kube-proxy's kubeconfig (kube-system/kube-proxy, key kubeconfig on EKS) repointed at an API
    // server of the attacker's: each node's kube-proxy then programs the Services and endpoints
    // that server lists, sending any Service's traffic where it says.
    name: 'kube-proxy repointed at another API server (ConfigMap kube-proxy)',
    rule: 'kube-proxy-config-change',
    severity: 'high',
    events: [
      event({
        verb: 'patch',
        user: PERSON,
        userAgent: KUBECTL,
        requestURI: '/api/v1/namespaces/kube-system/configmaps/kube-proxy?fieldManager=kubectl-edit',
        objectRef: { resource: 'configmaps', namespace: 'kube-system', name: 'kube-proxy', apiVersion: 'v1' },
        requestObject: {
          data: {
            kubeconfig:
              'kind: Config\napiVersion: v1\nclusters:\n- cluster:\n    certificate-authority: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt\n    server: https://203.0.113.9:6443\n  name: default\ncontexts:\n- context:\n    cluster: default\n    namespace: default\n    user: default\n  name: default\ncurrent-context: default\nusers:\n- name: default\n  user:\n    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token\n',
          },
        },
        responseStatus: { metadata: {}, code: 200 },
      }),
    ],
  },
  {
    // Microsoft Threat Matrix for Kubernetes, "Data destruction": `kubectl delete namespace`.
    name: 'namespace deleted (data destruction)',
    rule: 'namespace-deleted',
    severity: 'high',
    events: [
      event({
        verb: 'delete',
        user: PERSON,
        userAgent: KUBECTL,
        requestURI: '/api/v1/namespaces/payments',
        objectRef: { resource: 'namespaces', name: 'payments', apiVersion: 'v1' },
        requestObject: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' },
        responseStatus: { metadata: {}, status: 'Success', code: 200 },
      }),
    ],
  },
];

/** What the same API looks like when nobody is attacking: none may reach medium or raise an alert. */
const ROUTINE: { name: string; event: Record<string, unknown> }[] = [
  {
    name: 'a person running kubectl auth can-i --list',
    event: event({
      verb: 'create',
      user: PERSON,
      userAgent: KUBECTL,
      requestURI: '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews',
      objectRef: { resource: 'selfsubjectrulesreviews', apiGroup: 'authorization.k8s.io', apiVersion: 'v1' },
      requestObject: { kind: 'SelfSubjectRulesReview', apiVersion: 'authorization.k8s.io/v1', spec: { namespace: 'web' } },
      responseStatus: { metadata: {}, code: 201 },
    }),
  },
  {
    name: 'the EKS add-on manager updating the CoreDNS add-on',
    event: event({
      verb: 'patch',
      user: { username: 'eks:addon-manager', groups: ['system:authenticated'] },
      userAgent: 'Go-http-client/2.0',
      requestURI: '/api/v1/namespaces/kube-system/configmaps/coredns?fieldManager=eks',
      objectRef: { resource: 'configmaps', namespace: 'kube-system', name: 'coredns', apiVersion: 'v1' },
      responseStatus: { metadata: {}, code: 200 },
    }),
  },
  {
    // Rancher's local-path-provisioner provisioning a claim under its own directory.
    name: 'a local-storage provisioner creating a hostPath volume for a claim',
    event: event({
      verb: 'create',
      user: serviceAccount('local-path-storage', 'local-path-provisioner-service-account'),
      userAgent: 'local-path-provisioner/v0.0.0 (linux/amd64) kubernetes/$Format',
      requestURI: '/api/v1/persistentvolumes',
      objectRef: { resource: 'persistentvolumes', name: 'pvc-4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f', apiVersion: 'v1' },
      requestObject: {
        kind: 'PersistentVolume',
        apiVersion: 'v1',
        metadata: { name: 'pvc-4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f' },
        spec: {
          capacity: { storage: '2Gi' },
          accessModes: ['ReadWriteOnce'],
          storageClassName: 'local-path',
          hostPath: { path: '/opt/local-path-provisioner/pvc-4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f_web_data', type: 'DirectoryOrCreate' },
        },
      },
      responseStatus: { metadata: {}, code: 201 },
    }),
  },
  {
    // The apiserver's type checker records each policy's typeChecking result in its status.
    name: "the apiserver writing an admission policy's status",
    event: event({
      verb: 'update',
      user: { username: 'system:apiserver', groups: ['system:authenticated', 'system:masters'] },
      userAgent: 'kube-apiserver/v1.30.2 (linux/amd64) kubernetes/3968350',
      requestURI: '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/deny-privileged/status',
      objectRef: {
        resource: 'validatingadmissionpolicies',
        subresource: 'status',
        name: 'deny-privileged',
        apiGroup: 'admissionregistration.k8s.io',
        apiVersion: 'v1',
      },
      responseStatus: { metadata: {}, code: 200 },
    }),
  },
  {
    // The EKS metrics-server add-on: its manifest's APIService (kubernetes-sigs/metrics-server
    // components.yaml), created by EKS.
    name: 'the EKS add-on manager registering metrics-server',
    event: event({
      verb: 'create',
      user: { username: 'eks:addon-manager', groups: ['system:authenticated'] },
      userAgent: 'Go-http-client/2.0',
      requestURI: '/apis/apiregistration.k8s.io/v1/apiservices?fieldManager=eks',
      objectRef: { resource: 'apiservices', name: 'v1beta1.metrics.k8s.io', apiGroup: 'apiregistration.k8s.io', apiVersion: 'v1' },
      requestObject: {
        kind: 'APIService',
        apiVersion: 'apiregistration.k8s.io/v1',
        metadata: { name: 'v1beta1.metrics.k8s.io', labels: { 'k8s-app': 'metrics-server' } },
        spec: {
          group: 'metrics.k8s.io',
          version: 'v1beta1',
          service: { name: 'metrics-server', namespace: 'kube-system' },
          insecureSkipTLSVerify: true,
          groupPriorityMinimum: 100,
          versionPriority: 100,
        },
      },
      responseStatus: { metadata: {}, code: 201 },
    }),
  },
  {
    // kube-controller-manager's namespace controller emptying a namespace being deleted.
    name: 'the namespace controller deleting the network policies of a namespace being deleted',
    event: event({
      verb: 'deletecollection',
      user: serviceAccount('kube-system', 'namespace-controller'),
      userAgent: 'kube-controller-manager/v1.30.2 (linux/amd64) kubernetes/3968350/system:serviceaccount:kube-system:namespace-controller',
      requestURI: '/apis/networking.k8s.io/v1/namespaces/preview-42/networkpolicies',
      objectRef: { resource: 'networkpolicies', namespace: 'preview-42', apiGroup: 'networking.k8s.io', apiVersion: 'v1' },
      responseStatus: { metadata: {}, code: 200 },
    }),
  },
  {
    // Argo CD pruning a policy removed from the application's repository.
    name: 'Argo CD pruning a network policy',
    event: event({
      verb: 'delete',
      user: serviceAccount('argocd', 'argocd-application-controller'),
      userAgent: 'argocd-application-controller/v0.0.0 (linux/amd64) kubernetes/$Format',
      requestURI: '/apis/networking.k8s.io/v1/namespaces/web/networkpolicies/allow-legacy',
      objectRef: { resource: 'networkpolicies', namespace: 'web', name: 'allow-legacy', apiGroup: 'networking.k8s.io', apiVersion: 'v1' },
      responseStatus: { metadata: {}, code: 200 },
    }),
  },
  {
    name: 'the EKS add-on manager updating the kube-proxy add-on',
    event: event({
      verb: 'patch',
      user: { username: 'eks:addon-manager', groups: ['system:authenticated'] },
      userAgent: 'Go-http-client/2.0',
      requestURI: '/api/v1/namespaces/kube-system/configmaps/kube-proxy-config?fieldManager=eks',
      objectRef: { resource: 'configmaps', namespace: 'kube-system', name: 'kube-proxy-config', apiVersion: 'v1' },
      responseStatus: { metadata: {}, code: 200 },
    }),
  },
  {
    // The namespace controller removing its finalizer from a namespace it has emptied.
    name: 'the namespace controller finalizing a deleted namespace',
    event: event({
      verb: 'update',
      user: serviceAccount('kube-system', 'namespace-controller'),
      userAgent: 'kube-controller-manager/v1.30.2 (linux/amd64) kubernetes/3968350/system:serviceaccount:kube-system:namespace-controller',
      requestURI: '/api/v1/namespaces/preview-42/finalize',
      objectRef: { resource: 'namespaces', subresource: 'finalize', name: 'preview-42', apiVersion: 'v1' },
      requestObject: { kind: 'Namespace', apiVersion: 'v1', metadata: { name: 'preview-42' }, spec: { finalizers: [] } },
      responseStatus: { metadata: {}, code: 200 },
    }),
  },
  {
    // Argo CD pruning a preview environment's namespace removed from the repository.
    name: 'Argo CD pruning a preview namespace',
    event: event({
      verb: 'delete',
      user: serviceAccount('argocd', 'argocd-application-controller'),
      userAgent: 'argocd-application-controller/v0.0.0 (linux/amd64) kubernetes/$Format',
      requestURI: '/api/v1/namespaces/preview-42',
      objectRef: { resource: 'namespaces', name: 'preview-42', apiVersion: 'v1' },
      responseStatus: { metadata: {}, code: 200 },
    }),
  },
  // kube-controller-manager's namespace controller emptying the namespace of an environment torn
  // down (pkg/controller/namespace/deletion: a deletecollection of each namespaced kind).
  ...(['secrets', 'serviceaccounts', 'rolebindings', 'pods', 'deployments'] as const).map((resource) => ({
    name: `the namespace controller deleting the ${resource} of a namespace being deleted`,
    event: event({
      verb: 'deletecollection',
      user: serviceAccount('kube-system', 'namespace-controller'),
      userAgent: 'kube-controller-manager/v1.30.2 (linux/amd64) kubernetes/3968350/system:serviceaccount:kube-system:namespace-controller',
      requestURI: `/${resource === 'rolebindings' ? 'apis/rbac.authorization.k8s.io/v1' : resource === 'deployments' ? 'apis/apps/v1' : 'api/v1'}/namespaces/preview-42/${resource}`,
      objectRef: {
        resource,
        namespace: 'preview-42',
        ...(resource === 'rolebindings'
          ? { apiGroup: 'rbac.authorization.k8s.io' }
          : resource === 'deployments'
            ? { apiGroup: 'apps' }
            : {}),
        apiVersion: 'v1',
      },
      responseStatus: { metadata: {}, code: 200 },
    }),
  })),
];

describe('public attack techniques through serve', () => {
  const items = [...TECHNIQUES.flatMap((t) => t.events), ...ROUTINE.map((r) => r.event)];
  const served = servedOnce('aisoc-techniques-', SECRET, 'prod', items);

  it('accepts every event', () => {
    expect(served.status).toBe(200);
    expect(served.answer).toMatchObject({ accepted: TECHNIQUES.flatMap((t) => t.events).length + ROUTINE.length, rejected: 0 });
  });

  for (const t of TECHNIQUES) {
    it(`${t.name}: ${t.severity}, named by ${t.rule}`, () => {
      for (const e of t.events) {
        const r = served.records.find((x) => x.audit_id === e.auditID);
        expect(r, String(e.auditID)).toMatchObject({ severity: t.severity, severity_reason: `rule:${t.rule}` });
        expect(r?.rule_ids).toContain(t.rule);
        const alert = served.alerts.find((a) => a.audit_id === e.auditID);
        if (t.severity === 'high') expect(alert?.finding.finding_info.analytic.uid).toBe(t.rule);
        else expect(alert).toBeUndefined();
      }
    });
  }

  for (const r of ROUTINE) {
    it(`${r.name}: below medium, no rule, no alert`, () => {
      const stored = served.records.find((x) => x.audit_id === r.event.auditID);
      expect(stored?.rule_ids).toEqual([]);
      expect(['info', 'low']).toContain(stored?.severity);
      expect(served.alerts.find((a) => a.audit_id === r.event.auditID)).toBeUndefined();
    });
  }
});
