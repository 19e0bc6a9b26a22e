// A public manifest as the audit events a person's kubectl leaves when it creates the object:
// `kubectl create -f`, `kubectl apply -f` (client side, the first time: a create) and
// `kubectl apply --server-side -f` (a patch answered 201). Written for the badPods manifests
// (test/integration/badpods-serve.test.ts) and shared with Kyverno's test resources
// (test/integration/kyverno-rbac-access-serve.test.ts, kyverno-pod-security-serve.test.ts).

type Json = Record<string, unknown>;

// Each kind's resource, API group and whether it lives in a namespace (the Kubernetes API reference).
const KINDS: Record<string, [resource: string, group: string, namespaced: boolean]> = {
  Namespace: ['namespaces', '', false],
  Pod: ['pods', '', true],
  Service: ['services', '', true],
  ServiceAccount: ['serviceaccounts', '', true],
  Secret: ['secrets', '', true],
  ConfigMap: ['configmaps', '', true],
  ReplicationController: ['replicationcontrollers', '', true],
  Deployment: ['deployments', 'apps', true],
  DaemonSet: ['daemonsets', 'apps', true],
  StatefulSet: ['statefulsets', 'apps', true],
  ReplicaSet: ['replicasets', 'apps', true],
  Job: ['jobs', 'batch', true],
  CronJob: ['cronjobs', 'batch', true],
  Role: ['roles', 'rbac.authorization.k8s.io', true],
  RoleBinding: ['rolebindings', 'rbac.authorization.k8s.io', true],
  ClusterRole: ['clusterroles', 'rbac.authorization.k8s.io', false],
  ClusterRoleBinding: ['clusterrolebindings', 'rbac.authorization.k8s.io', false],
  NetworkPolicy: ['networkpolicies', 'networking.k8s.io', true],
  Ingress: ['ingresses', 'networking.k8s.io', true],
};

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** The pod spec holder of a Pod (its spec), of a workload (its template), or of a CronJob (its job template's template). */
export function podSpec(object: Json): Json | undefined {
  const spec = object.spec as Json | undefined;
  if (object.kind === 'Pod') return spec;
  if (object.kind === 'CronJob') return ((spec?.jobTemplate as Json)?.spec as Json)?.template as Json;
  return spec?.template as Json | undefined;
}

/**
 * A created object as the apiserver logs it at RequestResponse: decoded and defaulted before the
 * audit records it. The defaults are the Kubernetes API reference's, in the shape of a real create
 * (test/fixtures/falco/create_nginx_pod_privileged.json: resources {}, terminationMessagePath, ...)
 * for every container list a pod spec has;
 * a Service's (type ClusterIP, sessionAffinity None, each port's protocol TCP and targetPort its
 * port) and an RBAC subject's (apiGroup rbac.authorization.k8s.io for a User or a Group, "" for a
 * ServiceAccount: k8s.io/kubernetes pkg/apis/rbac/v1/defaults.go SetDefaults_Subject) too.
 */
export function defaulted(object: Json): Json {
  const out = clone(object);
  const meta = (out.metadata ?? {}) as Json;
  out.metadata = meta;
  meta.creationTimestamp = null;
  const holder = podSpec(out);
  const spec = (out.kind === 'Pod' ? holder : holder?.spec) as Json | undefined;
  if (spec !== undefined) {
    spec.restartPolicy ??= 'Always';
    spec.terminationGracePeriodSeconds ??= 30;
    spec.dnsPolicy ??= 'ClusterFirst';
    spec.securityContext ??= {};
    spec.schedulerName ??= 'default-scheduler';
    spec.enableServiceLinks ??= true;
    for (const key of ['containers', 'initContainers', 'ephemeralContainers']) {
      for (const c of (spec[key] as Json[] | undefined) ?? []) {
        c.resources ??= {};
        c.terminationMessagePath ??= '/dev/termination-log';
        c.terminationMessagePolicy ??= 'File';
        // The API reference: Always for an image with no tag or :latest, IfNotPresent otherwise.
        const image = typeof c.image === 'string' ? c.image : '';
        c.imagePullPolicy ??= /:[^/:]+$/.test(image) && !image.endsWith(':latest') ? 'IfNotPresent' : 'Always';
      }
    }
    for (const v of (spec.volumes as Json[] | undefined) ?? []) if (v.hostPath !== undefined) (v.hostPath as Json).type ??= '';
  }
  // The API reference: policyTypes defaults to Ingress, plus Egress when the policy has egress rules.
  if (out.kind === 'NetworkPolicy') {
    const s = out.spec as Json;
    s.policyTypes ??= s.egress === undefined ? ['Ingress'] : ['Ingress', 'Egress'];
  }
  if (out.kind === 'Pod') out.status = {};
  if (out.kind === 'Ingress') out.status = { loadBalancer: {} };
  if (out.kind === 'Service') {
    const s = out.spec as Json;
    s.type ??= 'ClusterIP';
    s.sessionAffinity ??= 'None';
    for (const p of (s.ports as Json[] | undefined) ?? []) {
      p.protocol ??= 'TCP';
      p.targetPort ??= p.port;
    }
    out.status = { loadBalancer: {} };
  }
  for (const s of (out.subjects as Json[] | undefined) ?? []) s.apiGroup ??= s.kind === 'ServiceAccount' ? '' : 'rbac.authorization.k8s.io';
  if (out.kind === 'Secret') {
    // The request object is logged as decoded: stringData merged into data (base64), which the
    // v1 conversion does, and the type defaulted to Opaque (pkg/apis/core/v1 SetDefaults_Secret).
    out.type ??= 'Opaque';
    const plain = out.stringData as Record<string, string> | undefined;
    if (plain !== undefined) {
      const data = (out.data ?? {}) as Record<string, string>;
      for (const [k, v] of Object.entries(plain)) data[k] = Buffer.from(v, 'utf8').toString('base64');
      out.data = data;
      delete out.stringData;
    }
  }
  return out;
}

/** Where kubectl sends `object`: the collection's path, the audit's objectRef (in `namespace` when the kind has one). */
export function where(object: Json, namespace = 'default'): { base: string; ref: Json } {
  const [resource, group, namespaced] = KINDS[object.kind as string] as [string, string, boolean];
  const name = (object.metadata as Json).name as string;
  const ref: Json = {
    resource,
    ...(namespaced ? { namespace } : {}),
    name,
    apiVersion: 'v1',
    ...(group === '' ? {} : { apiGroup: group }),
  };
  const root = group === '' ? '/api/v1' : `/apis/${group}/v1`;
  return { base: `${root}${namespaced ? `/namespaces/${namespace}` : ''}/${resource}`, ref };
}

/** The three audit events of a person creating `object`, one per kubectl command, each made by `event`. */
export function kubectlCreates(event: (fields: Json) => Json, object: Json, namespace = 'default'): { how: string; event: Json }[] {
  const { base, ref } = where(object, namespace);
  const name = ref.name as string;
  const created = defaulted(object);
  const applied = defaulted(object);
  // kubectl apply keeps the file, as JSON, in this annotation on the object it creates.
  const meta = applied.metadata as Json;
  meta.annotations = {
    ...((meta.annotations as Json | undefined) ?? {}),
    'kubectl.kubernetes.io/last-applied-configuration': `${JSON.stringify(object)}\n`,
  };
  return [
    {
      how: 'kubectl create',
      event: event({
        verb: 'create',
        requestURI: `${base}?fieldManager=kubectl-create&fieldValidation=Strict`,
        objectRef: ref,
        requestObject: created,
        responseObject: created,
        responseStatus: { metadata: {}, code: 201 },
      }),
    },
    {
      how: 'kubectl apply',
      event: event({
        verb: 'create',
        requestURI: `${base}?fieldManager=kubectl-client-side-apply&fieldValidation=Strict`,
        objectRef: ref,
        requestObject: applied,
        responseObject: applied,
        responseStatus: { metadata: {}, code: 201 },
      }),
    },
    {
      // Server-side apply is a PATCH (application/apply-patch+yaml) of the file as kubectl sends
      // it; the audit logs the patch body as sent and the apiserver answers 201 for a new object.
      how: 'kubectl apply --server-side',
      event: event({
        verb: 'patch',
        requestURI: `${base}/${name}?fieldManager=kubectl&fieldValidation=Strict&force=false`,
        objectRef: ref,
        requestObject: object,
        responseObject: created,
        responseStatus: { metadata: {}, code: 201 },
      }),
    },
  ];
}
