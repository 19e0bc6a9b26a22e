import { TypeError as CelTypeError, Environment, EvaluationError } from '@marcbachmann/cel-js';
import { readResponseCode } from '../audit/fields.js';
import { withoutZone } from '../audit/ip.js';
import { setOwn } from '../audit/redact.js';
import type { AuditEvent, JsonObject, JsonValue, RoutineIdentities, RuleError } from '../audit/types.js';
import { isJsonObject } from '../json.js';
import { RulePackError } from './pack.js';
import { linearRegex, patternProblem } from './pattern.js';
import { re2jsPath } from './re2.js';
import { ROUTINE_LISTS, type RoutineEntry, type RuleDisable, type RuleSpec } from './types.js';

/** A rule: its spec and its CEL program (compiled at load, or a vetted one on first use: `compileRule`). */
export interface CompiledRule extends RuleSpec {
  /**
   * True when the condition holds on the activation, false when it does not or stops on an absent
   * key (CEL's no match); else the kind of error it stopped with (`ruleErrorKind`).
   */
  test(activation: RuleActivation): boolean | string;
  /** False when `match.users`/`match.groups` leave this requester out (the condition is then not run). */
  admitsUser(user: unknown): boolean;
  /** The error the condition stops with on the activation, or null when it evaluates (for `rules test`). */
  evaluationError(activation: RuleActivation): EvaluationFailure | null;
}

/** An error a condition stopped with: its message (first line) and `ruleErrorKind` (null: an absent key). */
export interface EvaluationFailure {
  message: string;
  kind: string | null;
}

// CEL's errors for a key or list element the event does not carry: `requestObject.spec.x` on an
// event without one (cel-js lib/registry.js `field`, `#getListField`; lib/macros.js `has`). They
// are "no match", as a ValidatingAdmissionPolicy's matchCondition error is not a match.
const ABSENT = new Set(['no_such_key', 'index_out_of_bounds']);
// A JavaScript error's class name, as the kind: never its message, which can quote the event.
const ERROR_CLASS = /^[A-Z][A-Za-z0-9]{0,40}(?:Error|Exception)$/;

/**
 * What a rule's evaluation stopped with, told apart by class (cel-js 8's EvaluationError and
 * TypeError carry a fixed `code`; anything else is a JavaScript error of the engine's views, its
 * registered functions or RE2JS): null for CEL's absent key, `cel:<code>` for CEL's other errors
 * (`cel:no_matching_overload` on a value of another type than the condition expects), else the
 * error's class (`TypeError`, `RangeError`, `RE2JSSyntaxException`; `Error` for anything else).
 * Never the message: it can quote a value of the event.
 */
export function ruleErrorKind(err: unknown): string | null {
  if (err instanceof EvaluationError || err instanceof CelTypeError) {
    const code = err.code;
    if (ABSENT.has(code)) return null;
    return /^[a-z_]{1,40}$/.test(code) ? `cel:${code}` : 'cel:error';
  }
  const name = err instanceof Error ? err.constructor.name : '';
  return ERROR_CLASS.test(name) ? name : 'Error';
}

/**
 * `v` with every object that has an own key `constructor` as a Map (its values likewise), copied
 * only along the paths that hold one; anything else as it is. cel-js picks a value's CEL type by
 * its `constructor` (lib/registry.js and lib/operators.js of @marcbachmann/cel-js 8), so such an
 * object, which JSON.parse makes of `{"constructor": null}` and a JSON merge patch carries as
 * sent, made every condition reading it throw (a TypeError, or `unsupported_type`); a Map is a
 * CEL map that cel-js reads by key.
 */
function celSafe(v: unknown): unknown {
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const safe = celSafe(v[i]);
      if (safe !== v[i]) {
        out ??= [...v];
        out[i] = safe;
      }
    }
    return out ?? v;
  }
  if (v === null || typeof v !== 'object' || v instanceof Map) return v;
  const obj = v as Record<string, unknown>;
  const ctor = Object.hasOwn(obj, 'constructor');
  let changed = ctor;
  const entries: [string, unknown][] = [];
  for (const key of Object.keys(obj)) {
    const safe = celSafe(obj[key]);
    if (safe !== obj[key]) changed = true;
    entries.push([key, safe]);
  }
  if (!changed) return v;
  if (ctor) return new Map(entries);
  const out: JsonObject = {};
  for (const [key, value] of entries) setOwn(out, key, value as JsonValue);
  return out;
}

/** The activation's variables as `celSafe` makes them, each converted once when first read. */
function celSafeActivation(activation: RuleActivation): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name] of VARIABLES) {
    let value: unknown;
    let read = false;
    Object.defineProperty(out, name, {
      enumerable: true,
      get: () => {
        if (!read) {
          value = celSafe(activation[name]);
          read = true;
        }
        return value;
      },
    });
  }
  return out;
}

/** The variables a rule's CEL condition sees (documented in docs/detection-rules.md). */
export interface RuleActivation {
  verb: string;
  stage: string;
  requestURI: string;
  userAgent: string;
  objectRef: JsonObject;
  user: JsonObject;
  impersonatedUser: JsonObject;
  sourceIPs: string[];
  responseStatus: JsonObject;
  requestObject: JsonObject;
  responseObject: JsonObject;
  annotations: JsonObject;
  podSpec: JsonObject;
  podMetadata: JsonObject;
  containers: JsonObject[];
  securityContexts: JsonObject[];
  eksAddonWorkload: boolean;
  controllerAccountPod: boolean;
  secretsController: boolean;
  created: boolean;
}

const VARIABLES: [keyof RuleActivation, string][] = [
  ['verb', 'string'],
  ['stage', 'string'],
  ['requestURI', 'string'],
  ['userAgent', 'string'],
  ['objectRef', 'map'],
  ['user', 'map'],
  ['impersonatedUser', 'map'],
  ['sourceIPs', 'list'],
  ['responseStatus', 'map'],
  ['requestObject', 'map'],
  ['responseObject', 'map'],
  ['annotations', 'map'],
  ['podSpec', 'map'],
  ['podMetadata', 'map'],
  ['containers', 'list'],
  ['securityContexts', 'list'],
  ['eksAddonWorkload', 'bool'],
  ['controllerAccountPod', 'bool'],
  ['secretsController', 'bool'],
  ['created', 'bool'],
];

/**
 * True for loopback, RFC 1918, carrier-grade NAT (100.64.0.0/10, which EKS custom networking
 * uses for pods), link-local, IPv6 unique-local and link-local addresses. Anything that does not
 * parse as an address is not private.
 */
export function isPrivateIp(address: string): boolean {
  const ip = withoutZone(address);
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4 !== null) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    if (v4.slice(1).some((o) => Number(o) > 255)) return false;
    return (
      a === 10 ||
      a === 127 ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 100 && b >= 64 && b <= 127) ||
      (a === 169 && b === 254)
    );
  }
  const lower = ip.toLowerCase();
  if (!lower.includes(':') || !/^[0-9a-f:.]+$/.test(lower)) return false;
  if (lower === '::1') return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped !== null) return isPrivateIp(mapped[1] as string);
  return /^f[cd][0-9a-f]{2}:/.test(lower) || /^fe[89ab][0-9a-f]:/.test(lower);
}

/**
 * A path as the node resolves it, for comparing with a list: repeated slashes one, `.` segments
 * and a trailing slash gone (`//etc/./` is `/etc`). The API refuses `..` in a hostPath
 * (validatePathNoBacksteps in k8s.io/kubernetes pkg/apis/core/validation), but it is resolved
 * here too, so a rule never depends on that.
 */
export function cleanPath(path: string): string {
  const parts: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  const joined = parts.join('/');
  return path.startsWith('/') ? `/${joined}` : joined === '' ? '.' : joined;
}

/**
 * The registries of the EKS add-ons' images (the VPC CNI, kube-proxy, CoreDNS, the EBS CSI node),
 * one AWS account per partition or opt-in region, from the Amazon EKS user guide, "View Amazon
 * container image registries for Amazon EKS add-ons" (awsdocs/amazon-eks-user-guide,
 * latest/ug/workloads/add-ons-images.adoc, and the live page for ap-southeast-5). Only AWS can
 * create repositories in these accounts and only AWS names hosts under amazonaws.*, so an image
 * from `<account>.dkr.ecr.<region>.amazonaws.com[.cn|.eu]/` is AWS's own.
 */
const EKS_ADDON_ACCOUNTS = new Set([
  '602401143452', // most commercial regions
  '877085696533', // af-south-1
  '800184023465', // ap-east-1
  '533267051163', // ap-east-2
  '296578399912', // ap-southeast-3
  '900889452093', // ap-south-2
  '491585149902', // ap-southeast-4
  '151610086707', // ap-southeast-5
  '333609536671', // ap-southeast-6
  '121268973566', // ap-southeast-7
  '918309763551', // cn-north-1
  '961992271922', // cn-northwest-1
  '590381155156', // eu-south-1
  '455263428931', // eu-south-2
  '900612956339', // eu-central-2
  '066635153087', // il-central-1
  '730335286997', // mx-central-1
  '558608220178', // me-south-1
  '759879836304', // me-central-1
  '761377655185', // ca-west-1
  '151742754352', // us-gov-east-1
  '013241004608', // us-gov-west-1
  '877088126301', // eusc-de-east-1
]);
/**
 * The service accounts kube-controller-manager's controllers act through, each in kube-system and
 * bound to its `system:controller:<name>` ClusterRole (kubernetes/kubernetes
 * plugin/pkg/auth/authorizer/rbac/bootstrappolicy/controller_policy.go at commit 003e3121, features
 * gated on or off alike), and the bootstrap token controllers' two (bootstrap-signer,
 * token-cleaner). No pod runs as one: kube-controller-manager uses their tokens itself
 * (--use-service-account-credentials), a self-managed one runs as a static pod with no service
 * account. Here rather than in `pod-as-controller-account`'s CEL: as 44 string literals they were
 * a twelfth of the pack's parse at init and a list rebuilt on each kube-system pod write.
 */
const CONTROLLER_ACCOUNTS = new Set([
  'attachdetach-controller',
  'bootstrap-signer',
  'certificate-controller',
  'clusterrole-aggregation-controller',
  'cronjob-controller',
  'daemon-set-controller',
  'deployment-controller',
  'device-taint-eviction-controller',
  'disruption-controller',
  'endpoint-controller',
  'endpointslice-controller',
  'endpointslicemirroring-controller',
  'ephemeral-volume-controller',
  'expand-controller',
  'generic-garbage-collector',
  'horizontal-pod-autoscaler',
  'job-controller',
  'kube-apiserver-serving-clustertrustbundle-publisher',
  'legacy-service-account-token-cleaner',
  'namespace-controller',
  'node-controller',
  'persistent-volume-binder',
  'pod-garbage-collector',
  'podcertificaterequestcleaner',
  'pv-protection-controller',
  'pvc-protection-controller',
  'replicaset-controller',
  'replication-controller',
  'resource-claim-controller',
  'resourcequota-controller',
  'root-ca-cert-publisher',
  'route-controller',
  'selinux-warning-controller',
  'service-account-controller',
  'service-cidrs-controller',
  'service-controller',
  'statefulset-controller',
  'storage-version-garbage-collector',
  'storage-version-migrator-controller',
  'token-cleaner',
  'ttl-after-finished-controller',
  'ttl-controller',
  'validatingadmissionpolicy-status-controller',
  'volumeattributesclass-protection-controller',
]);

/**
 * The controllers that read the Secrets of other namespaces by design, each named whole in the
 * namespace its chart or install manifests put it in (a name alone can be taken by anyone who can
 * make a service account): cert-manager's controller and cainjector (the Secrets of Issuers and
 * Certificates; its Helm chart, release cert-manager), external-secrets' controller (those of its
 * SecretStores; its chart), Argo CD's application controller and server (the applications it
 * deploys; its install manifests), Flux's controllers (flux2's install manifests; Elastic's
 * credential_access_kubernetes_secret_read_by_node_or_pod_service_account.toml leaves Flux out by
 * name). Here rather than in `workload-cross-namespace-secret-read`'s CEL, for the parse at init.
 */
const SECRETS_CONTROLLERS = new Set([
  'system:serviceaccount:cert-manager:cert-manager',
  'system:serviceaccount:cert-manager:cert-manager-cainjector',
  'system:serviceaccount:external-secrets:external-secrets',
  'system:serviceaccount:argocd:argocd-application-controller',
  'system:serviceaccount:argocd:argocd-server',
  'system:serviceaccount:flux-system:kustomize-controller',
  'system:serviceaccount:flux-system:helm-controller',
  'system:serviceaccount:flux-system:source-controller',
  'system:serviceaccount:flux-system:notification-controller',
]);

const ECR_HOST = /^(\d{12})\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.(?:com|com\.cn|eu)$/;

/** Whether a container image comes from an EKS add-on registry: its host matched whole, its account one of AWS's. */
export function isEksAddonImage(image: string): boolean {
  const slash = image.indexOf('/');
  if (slash === -1) return false;
  const host = ECR_HOST.exec(image.slice(0, slash));
  return host !== null && EKS_ADDON_ACCOUNTS.has(host[1] as string);
}

/** Whether `path`, as the node resolves it (`cleanPath`), is one of `dirs` or below one. */
export function pathUnder(path: string, dirs: readonly string[]): boolean {
  const clean = cleanPath(path);
  for (const dir of dirs) {
    if (clean === dir || clean.startsWith(dir === '/' ? '/' : `${dir}/`)) return true;
  }
  return false;
}

/** The path of a request URI, without its query, percent-decoded and cleaned as a server resolves it. */
export function uriPath(requestURI: string): string {
  const q = requestURI.indexOf('?');
  const raw = q === -1 ? requestURI : requestURI.slice(0, q);
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    // Not valid percent-encoding: the path as written.
  }
  return cleanPath(decoded);
}

/**
 * Whether a request URI's `labelSelector` query parameter (any of them) holds the equality
 * requirement `key=value` (or `key==value`), as the apiserver parses selectors
 * (k8s.io/apimachinery/pkg/labels, requirements separated by commas). A substring test would be
 * satisfied by the text anywhere in the query, under any parameter name.
 */
export function selectsLabel(requestURI: string, key: string, value: string): boolean {
  const q = requestURI.indexOf('?');
  if (q === -1) return false;
  for (const [name, selector] of new URLSearchParams(requestURI.slice(q + 1))) {
    if (name !== 'labelSelector') continue;
    for (const requirement of selector.split(',')) {
      const m = /^\s*([^=!\s]+)\s*==?\s*(\S*)\s*$/.exec(requirement);
      if (m !== null && m[1] === key && m[2] === value) return true;
    }
  }
  return false;
}

// The name `matches()` calls are renamed to at compile (pattern.ts says why); never written in a rule.
const LINEAR_MATCHES = 'linearMatches';

/** A CEL message as the operator wrote the condition: `matches`, not the name the engine renamed it to. */
function asWritten(message: string): string {
  return message.replaceAll(`.${LINEAR_MATCHES}(`, '.matches(');
}

// One environment for every rule: the variables above plus the functions below, optional chaining
// (`requestObject.?spec.?hostPID.orValue(false)`, as Kubernetes CEL has had since 1.29).
const ENV = (() => {
  const env = new Environment({ enableOptionalTypes: true, homogeneousAggregateLiterals: false });
  for (const [name, type] of VARIABLES) env.registerVariable(name, type);
  env.registerFunction('isPrivateIP(string): bool', (ip: string) => isPrivateIp(ip));
  env.registerFunction('cleanPath(string): string', (path: string) => cleanPath(path));
  env.registerFunction('isEksAddonImage(string): bool', (image: string) => isEksAddonImage(image));
  env.registerFunction('uriPath(string): string', (uri: string) => uriPath(uri));
  env.registerFunction('pathUnder(string, list<string>): bool', (path: string, dirs: string[]) => pathUnder(path, dirs));
  env.registerFunction('selectsLabel(string, string, string): bool', (uri: string, key: string, value: string) =>
    selectsLabel(uri, key, value),
  );
  // What every `s.matches(p)` of a rule runs (compileRule renames the calls): RE2, linear in `s`.
  // cel-js refuses a second `string.matches(string)` overload, so the linear one has its own name.
  env.registerFunction(`string.${LINEAR_MATCHES}(string): bool`, (s: string, p: string) => linearRegex(p).test(s));
  return env;
})();

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

const TEMPLATE_OWNERS = new Set(['deployments', 'daemonsets', 'statefulsets', 'replicasets', 'jobs', 'replicationcontrollers']);

/**
 * The pod a request carries, as the object holding its `metadata` and `spec`: a pod itself, or the
 * pod template of a workload (CronJobs one level deeper). Patches in merge form have the same
 * shape, so they are read the same way. `{}` when there is none.
 */
function podOf(resource: string, subresource: string, body: JsonObject): JsonObject {
  if (subresource !== '' && subresource !== 'ephemeralcontainers') return EMPTY;
  if (resource === 'pods') return body;
  const spec = body.spec;
  if (!isJsonObject(spec)) return EMPTY;
  let template: JsonValue | undefined;
  if (TEMPLATE_OWNERS.has(resource)) template = spec.template;
  else if (resource === 'cronjobs') {
    const job = spec.jobTemplate;
    const jobSpec = isJsonObject(job) ? job.spec : undefined;
    template = isJsonObject(jobSpec) ? jobSpec.template : undefined;
  }
  return isJsonObject(template) ? template : EMPTY;
}

/** A member of the pod that is an object, else `{}`. */
function podPart(pod: JsonObject, key: 'spec' | 'metadata'): JsonObject {
  const part = pod[key];
  return isJsonObject(part) ? part : EMPTY;
}

// The pod-level fields a container inherits when it does not set its own, and how: the kubelet
// takes a container's seLinuxOptions, seccompProfile and appArmorProfile whole when it sets them,
// else the pod's; it merges windowsOptions field by field; runAsUser, runAsGroup and runAsNonRoot
// are single values (kubernetes/kubernetes pkg/securitycontext/util.go,
// DetermineEffectiveSecurityContext; the API reference's PodSecurityContext: "If set in both
// SecurityContext and PodSecurityContext, the value specified in SecurityContext takes precedence").
const INHERITED_WHOLE = ['seLinuxOptions', 'seccompProfile', 'appArmorProfile', 'runAsUser', 'runAsGroup', 'runAsNonRoot'] as const;

/** A container's effective security context: its own, with what it leaves unset taken from the pod's. */
function effectiveSecurityContext(own: JsonObject, pod: JsonObject): JsonObject {
  let out: JsonObject | undefined;
  const set = (key: string, value: JsonValue) => {
    out ??= { ...own };
    out[key] = value;
  };
  for (const key of INHERITED_WHOLE) if (own[key] === undefined && pod[key] !== undefined) set(key, pod[key] as JsonValue);
  const podWin = pod.windowsOptions;
  if (isJsonObject(podWin)) {
    const ownWin = own.windowsOptions;
    set('windowsOptions', isJsonObject(ownWin) ? { ...podWin, ...ownWin } : podWin);
  }
  return out ?? own;
}

/**
 * The effective security context of each container of `containers` (same order), or, when the
 * request names no container (a patch of the pod's securityContext alone), the pod's own.
 */
function securityContextsOf(spec: JsonObject, containers: readonly JsonObject[]): JsonObject[] {
  const pod = isJsonObject(spec.securityContext) ? spec.securityContext : EMPTY;
  if (containers.length === 0) return pod === EMPTY ? [] : [pod];
  return containers.map((c) => effectiveSecurityContext(isJsonObject(c.securityContext) ? c.securityContext : EMPTY, pod));
}

function containersOf(spec: JsonObject): JsonObject[] {
  const out: JsonObject[] = [];
  for (const key of ['containers', 'initContainers', 'ephemeralContainers']) {
    const list = spec[key];
    if (Array.isArray(list)) for (const c of list) if (isJsonObject(c)) out.push(c);
  }
  return out;
}

// The most list elements a JSON patch path may address here (`/containers/3`): pod specs hold a
// handful; a hostile index must not allocate a huge array.
const MAX_PATCH_INDEX = 1000;

function isContainerValue(v: unknown): v is JsonObject | JsonValue[] {
  return typeof v === 'object' && v !== null;
}

// A node the view is about to write into may be an earlier op's value (or the responseObject's):
// objects of the event itself, which the view must not change (`add .../securityContext {}` then
// `add .../securityContext/privileged true` wrote `privileged` into the first op's value, so the
// record's raw event no longer said what was sent). Such a node is copied (shallow) the first time
// a path steps into it, and the copy is the view's own from then on (`owned`): a patch of many ops
// into one large value copies it once, not once per op.
function shallowCopy(v: JsonObject | JsonValue[]): JsonObject | JsonValue[] {
  if (Array.isArray(v)) return [...v];
  const out: JsonObject = {};
  for (const key of Object.keys(v)) setOwn(out, key, v[key] as JsonValue);
  return out;
}

/** The JSON patch operations that set a value at their path (jsonPatchView). */
const SETTING_OPS = new Set(['add', 'replace', 'copy', 'move']);

/** A JSON pointer's (RFC 6901) segments, unescaped: `/metadata/labels/a~1b` is `metadata`, `labels`, `a/b`. */
function pointerSegments(path: string): string[] {
  return path
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** A segment that may address a list element (`0`, `-`). */
const LIST_SEGMENT = /^(\d+|-)$/;

/**
 * What a JSON patch (RFC 6902, `kubectl patch --type=json`: an array of `{op, path, value}`) sets,
 * as the partial object a merge patch would be: `[{op: replace, path: /spec/type, value: NodePort}]`
 * reads as `{spec: {type: NodePort}}`. So a condition written for objects and merge patches sees
 * the same fields in a JSON patch, which it otherwise never matched (a NodePort or a privileged
 * container set by a JSON patch came out info or medium). `add` and `replace` set their value;
 * `copy` and `move` set a value the patch does not hold (the object's own enableServiceLinks,
 * defaulted true, copied into hostPID or a container's privileged), so theirs is read at the same
 * path in `result`, the object the patch left (responseObject, logged at RequestResponse), and set
 * nothing without it. `remove`, and the `from` of a `move`, read as `null`, as a merge patch says
 * a key is removed (`remove /metadata/labels/pod-security.kubernetes.io~1enforce` is kubectl
 * label's `enforce-`, which a rule reads as `null`); only at a key of an object: a path through a
 * list element (`/spec/containers/0/...`) is one a merge patch cannot say either, and a `null`
 * there would be a container of the view's making. `test` sets nothing. `/-` and numeric segments
 * address list elements. Keys are own properties (a `__proto__` segment is a key, never the
 * prototype).
 */
export function jsonPatchView(ops: readonly JsonValue[], result?: JsonObject): JsonObject {
  const root: JsonObject = {};
  const owned = new WeakSet<object>();
  const own = (child: JsonObject | JsonValue[]): JsonObject | JsonValue[] => {
    if (owned.has(child)) return child;
    const copy = shallowCopy(child);
    owned.add(copy);
    return copy;
  };
  const removed = (path: unknown): void => {
    if (typeof path !== 'string') return;
    const segments = pointerSegments(path);
    if (segments.length > 0 && !segments.some((seg) => LIST_SEGMENT.test(seg))) setAt(segments, null);
  };
  const setAt = (segments: readonly string[], value: JsonValue): void => {
    if (segments.length === 0) {
      // The whole document replaced: its value is the object.
      if (isJsonObject(value)) for (const key of Object.keys(value)) setOwn(root, key, value[key] as JsonValue);
      return;
    }
    let node: JsonObject | JsonValue[] = root;
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i] as string;
      const last = i === segments.length - 1;
      const fresh = (): JsonObject | JsonValue[] => {
        const node: JsonObject | JsonValue[] = LIST_SEGMENT.test(segments[i + 1] as string) ? [] : {};
        owned.add(node);
        return node;
      };
      if (Array.isArray(node)) {
        const index: number = seg === '-' ? node.length : /^\d+$/.test(seg) ? Number(seg) : -1;
        if (index < 0 || index > MAX_PATCH_INDEX) return;
        if (last) {
          node[index] = value;
          return;
        }
        const child: JsonValue | undefined = node[index];
        const next: JsonObject | JsonValue[] = isContainerValue(child) ? own(child) : fresh();
        node[index] = next;
        node = next;
      } else {
        if (last) {
          setOwn(node, seg, value);
          return;
        }
        const child: JsonValue | undefined = Object.hasOwn(node, seg) ? node[seg] : undefined;
        const next: JsonObject | JsonValue[] = isContainerValue(child) ? own(child) : fresh();
        setOwn(node, seg, next);
        node = next;
      }
    }
  };
  for (const op of ops) {
    if (!isJsonObject(op) || typeof op.path !== 'string') continue;
    if (op.op === 'remove') {
      removed(op.path);
      continue;
    }
    // Only these operations set a value; the path of any other is not even split.
    if (!SETTING_OPS.has(op.op as string)) continue;
    // A move is a remove of `from` then an add at `path` (RFC 6902 4.4).
    if (op.op === 'move') removed(op.from);
    const segments = pointerSegments(op.path);
    let value: JsonValue | undefined;
    if (op.op === 'add' || op.op === 'replace') value = Object.hasOwn(op, 'value') ? (op.value as JsonValue) : undefined;
    else if ((op.op === 'copy' || op.op === 'move') && result !== undefined) value = valueAt(result, segments);
    if (value === undefined) continue;
    setAt(segments, value);
  }
  return root;
}

/** The value at a JSON pointer's segments in `doc` (`-`: a list's last element, where `copy` and `move` append), or undefined. */
function valueAt(doc: JsonObject, segments: readonly string[]): JsonValue | undefined {
  let node: JsonValue = doc;
  for (const seg of segments) {
    if (Array.isArray(node)) {
      const index = seg === '-' ? node.length - 1 : /^\d+$/.test(seg) ? Number(seg) : -1;
      if (index < 0 || index >= node.length) return undefined;
      node = node[index] as JsonValue;
    } else if (isJsonObject(node) && Object.hasOwn(node, seg)) node = node[seg] as JsonValue;
    else return undefined;
  }
  return node;
}

const EMPTY: JsonObject = Object.freeze({}) as JsonObject;
const NONE: never[] = Object.freeze([]) as never[];

function withStrings(obj: JsonObject, keys: readonly string[]): JsonObject {
  for (const k of keys) if (typeof obj[k] !== 'string') return fillStrings(obj, keys);
  return obj;
}

function fillStrings(obj: JsonObject, keys: readonly string[]): JsonObject {
  const out: JsonObject = { ...obj };
  for (const k of keys) if (typeof out[k] !== 'string') out[k] = '';
  return out;
}

function userInfo(v: unknown): JsonObject {
  if (!isJsonObject(v)) return { username: '', groups: NONE };
  if (typeof v.username === 'string' && Array.isArray(v.groups)) return v;
  return { ...v, username: str(v.username), groups: Array.isArray(v.groups) ? v.groups : NONE };
}

const REF_KEYS = ['resource', 'subresource', 'namespace', 'name', 'apiGroup'] as const;

/**
 * The activation of an event: each variable always present with the type the environment
 * declares (absent strings are '', absent objects {}), so conditions need `has()` only inside
 * request bodies. Variables are computed when a condition first reads them, so a rule that looks
 * only at `user` costs only `user`. Takes the event as the record keeps it, secret values redacted.
 */
class Activation implements RuleActivation {
  #objectRef?: JsonObject;
  #user?: JsonObject;
  #requestObject?: JsonObject;
  #pod?: JsonObject;
  #podSpec?: JsonObject;
  #containers?: JsonObject[];
  #securityContexts?: JsonObject[];
  constructor(public event: AuditEvent) {}
  /** Points the activation at another event: one activation serves every event an engine matches. */
  reset(event: AuditEvent): this {
    this.event = event;
    this.#objectRef = undefined;
    this.#user = undefined;
    this.#requestObject = undefined;
    this.#pod = undefined;
    this.#podSpec = undefined;
    this.#containers = undefined;
    this.#securityContexts = undefined;
    return this;
  }
  get verb(): string {
    return str(this.event.verb);
  }
  /**
   * The request is a create: a `create` (whatever its answer: rules read the code as well), or a
   * `patch` answered 201 Created, which is how
   * `kubectl apply --server-side` creates one (kubernetes/kubernetes staging/src/k8s.io/apiserver
   * pkg/endpoints/handlers/patch.go: an apply patch of an object that does not exist creates it).
   */
  get created(): boolean {
    const verb = this.event.verb;
    return verb === 'create' || (verb === 'patch' && this.responseStatus.code === 201);
  }
  get stage(): string {
    return str(this.event.stage);
  }
  get requestURI(): string {
    return str(this.event.requestURI);
  }
  get userAgent(): string {
    return str(this.event.userAgent);
  }
  get objectRef(): JsonObject {
    this.#objectRef ??= withStrings(isJsonObject(this.event.objectRef) ? this.event.objectRef : EMPTY, REF_KEYS);
    return this.#objectRef;
  }
  get user(): JsonObject {
    this.#user ??= userInfo(this.event.user);
    return this.#user;
  }
  get impersonatedUser(): JsonObject {
    return userInfo(this.event.impersonatedUser);
  }
  get sourceIPs(): string[] {
    const ips = this.event.sourceIPs;
    return Array.isArray(ips) ? ips.filter((ip): ip is string => typeof ip === 'string') : NONE;
  }
  get responseStatus(): JsonObject {
    const rs = isJsonObject(this.event.responseStatus) ? this.event.responseStatus : EMPTY;
    // Read as the record reads it (k8s_response_code), 0 for junk. Not Number(): an object whose
    // own `toString` or `valueOf` is no function (`{"toString": false}`, an own key from the wire)
    // made it throw, so every rule reading the code or `created` failed as no match.
    return typeof rs.code === 'number' ? rs : { ...rs, code: readResponseCode(rs.code) ?? 0 };
  }
  get requestObject(): JsonObject {
    const body = this.event.requestObject;
    if (isJsonObject(body)) return body;
    // A JSON patch: the fields it sets, as a merge patch would carry them.
    if (Array.isArray(body)) {
      const result = this.event.responseObject;
      this.#requestObject ??= jsonPatchView(body, isJsonObject(result) ? result : undefined);
      return this.#requestObject;
    }
    return EMPTY;
  }
  get responseObject(): JsonObject {
    return isJsonObject(this.event.responseObject) ? this.event.responseObject : EMPTY;
  }
  get annotations(): JsonObject {
    return isJsonObject(this.event.annotations) ? (this.event.annotations as JsonObject) : EMPTY;
  }
  /** The pod or pod template the request carries (`podOf`). */
  #podObject(): JsonObject {
    if (this.#pod === undefined) {
      const ref = this.objectRef;
      this.#pod = podOf(ref.resource as string, ref.subresource as string, this.requestObject);
    }
    return this.#pod;
  }
  get podSpec(): JsonObject {
    this.#podSpec ??= podPart(this.#podObject(), 'spec');
    return this.#podSpec;
  }
  get podMetadata(): JsonObject {
    return podPart(this.#podObject(), 'metadata');
  }
  get containers(): JsonObject[] {
    this.#containers ??= containersOf(this.podSpec);
    return this.#containers;
  }
  get securityContexts(): JsonObject[] {
    this.#securityContexts ??= securityContextsOf(this.podSpec, this.containers);
    return this.#securityContexts;
  }
  /**
   * The pod or pod template runs as one of kube-controller-manager's controller service accounts
   * (`CONTROLLER_ACCOUNTS`), named by `serviceAccountName` or its deprecated alias `serviceAccount`
   * (either, as the request carries it: the API server reads the alias when the name is empty,
   * kubernetes/kubernetes pkg/apis/core/v1/conversion.go). The namespace is the rule's to check.
   */
  get controllerAccountPod(): boolean {
    const spec = this.podSpec;
    const { serviceAccountName: name, serviceAccount: alias } = spec;
    return (typeof name === 'string' && CONTROLLER_ACCOUNTS.has(name)) || (typeof alias === 'string' && CONTROLLER_ACCOUNTS.has(alias));
  }
  /** The requester is a controller that reads other namespaces' Secrets by design (`SECRETS_CONTROLLERS`). */
  get secretsController(): boolean {
    return SECRETS_CONTROLLERS.has(this.user.username as string);
  }
  /**
   * An EKS add-on's own pod or workload: in kube-system, every container's image from an EKS
   * add-on registry, written by a kube-system service account or EKS itself (`eks:…`). The
   * pod-spec rules leave these out (docs/detection-rules.md, "The shipped pack").
   */
  get eksAddonWorkload(): boolean {
    if (this.objectRef.namespace !== 'kube-system') return false;
    const containers = this.containers;
    if (containers.length === 0 || !containers.every((c) => isEksAddonImage(typeof c.image === 'string' ? c.image : ''))) return false;
    const user = this.user.username as string;
    return user.startsWith('system:serviceaccount:kube-system:') || user.startsWith('eks:');
  }
}

/** The variables a rule's condition sees for an event (computed as they are read). */
export function ruleActivation(event: AuditEvent): RuleActivation {
  return new Activation(event);
}

/** User or group names a rule admits: exact names in a set, `prefix*` patterns as prefixes. */
interface NamePatterns {
  admits(name: string): boolean;
}

function namePatterns(patterns: string[] | undefined): NamePatterns | null {
  if (patterns === undefined) return null;
  const exact = new Set(patterns.filter((p) => !p.endsWith('*')));
  const prefixes = patterns.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1));
  return {
    admits(name) {
      if (exact.has(name)) return true;
      for (const p of prefixes) if (name.startsWith(p)) return true;
      return false;
    },
  };
}

// The CEL macros that run their predicate once per element of the list (or map) they are called on.
const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

/** A cel-js AST node as `parse` returns it (`{op, args}`); the shape is read, never built. */
interface CelNode {
  op: string;
  args: unknown;
  start?: number;
  end?: number;
}

function isCelNode(v: unknown): v is CelNode {
  return typeof v === 'object' && v !== null && typeof (v as CelNode).op === 'string';
}

/**
 * Walks a cel-js AST depth first, each node before its arguments, for the checks at compile.
 * `visit` answers for a node: a problem (the walk stops and returns it), null (the node is dealt
 * with: its arguments are not walked), or undefined (walk on into its arguments). A node's
 * arguments are a list, or, for a unary operator (`!_`, `-_`), the operand node itself.
 */
function walkCel(node: unknown, visit: (node: CelNode) => string | null | undefined): string | null {
  if (Array.isArray(node)) {
    for (const n of node) {
      const found = walkCel(n, visit);
      if (found !== null) return found;
    }
    return null;
  }
  if (!isCelNode(node)) return null;
  const verdict = visit(node);
  if (verdict !== undefined) return verdict;
  return isCelNode(node.args) || Array.isArray(node.args) ? walkCel(node.args, visit) : null;
}

/**
 * What a comprehension's range is read from: the variable at the root of its member chain
 * (`c.securityContext.capabilities.add`, `x.?items.orValue([])`, `xs.filter(...)` read back to
 * `c`, `x`, `xs`), `[literal]` for a list written in the condition, or null when neither.
 */
function rangeRoot(node: unknown): string | null {
  if (!isCelNode(node)) return null;
  const args = node.args as unknown[];
  switch (node.op) {
    case 'id':
      return node.args as string;
    case 'list':
      return '[literal]';
    case '.':
    case '.?':
    case '[]':
    case '[?]':
      return rangeRoot(args[0]);
    case 'rcall':
      return rangeRoot(args[1]);
    default:
      return null;
  }
}

/**
 * Refuses a comprehension nested in another whose range is not part of the innermost enclosing element (or a
 * literal list): `a.exists(x, b.exists(y, ...))` runs |a| x |b| times, sizes the request controls
 * (a body can carry thousands of items), and cel-js has no runtime cost limit, so one such rule
 * stalls the ingest on one crafted request. Ranging over the outer element (`containers.exists(c,
 * c.ports.exists(...))`) visits each part of the body once. Kubernetes refuses such CEL for the
 * same reason: its cost estimate multiplies the lengths of nested lists, and a CRD rule nesting
 * two lists without maxItems fails with "estimated rule cost exceeds budget" (Kubernetes docs,
 * tasks/extend-kubernetes/custom-resources/custom-resource-definitions, "Validation rules").
 */
function crossProduct(condition: string, node: unknown, scope: readonly string[]): string | null {
  return walkCel(node, (n) => {
    const args = n.args;
    if (!(n.op === 'rcall' && Array.isArray(args) && COMPREHENSIONS.has(args[0] as string) && Array.isArray(args[2]))) return undefined;
    const [, receiver, macroArgs] = args as [string, unknown, unknown[]];
    const iter = macroArgs[0];
    if (scope.length > 0) {
      const root = rangeRoot(receiver);
      // The innermost element, not any enclosing one: `a.exists(x, x.l.exists(y, x.l.exists(z, ...)))`
      // pairs x.l with itself.
      if (root !== '[literal]' && root !== scope.at(-1)) {
        const text = (c: unknown) => (isCelNode(c) && c.start !== undefined ? condition.slice(c.start, c.end) : '?');
        const outer = scope.at(-1) as string;
        return `${args[0]}() over ${text(receiver)} inside the ${outer} comprehension runs once per pair of elements of two lists the request sizes (a cross product, unbounded cost); range it over part of ${outer} (${outer}.field) or a literal list`;
      }
    }
    const inner = isCelNode(iter) && iter.op === 'id' ? [...scope, iter.args as string] : scope;
    return crossProduct(condition, receiver, scope) ?? crossProduct(condition, macroArgs.slice(1), inner);
  });
}

/**
 * Refuses a `matches()` whose pattern is not a string literal (the event would choose the regular
 * expression) or is one `patternProblem` refuses (beyond RE2, or a shape that backtracks
 * exponentially in cel-js's own matches()).
 */
function unsafeMatches(condition: string, node: unknown): string | null {
  return walkCel(node, (n) => {
    const args = n.args;
    if (!Array.isArray(args)) return undefined;
    // `s.matches(p)` is rcall [name, receiver, [p]]; the global `matches(s, p)` is call [name, [s, p]].
    const pattern =
      n.op === 'rcall' && args[0] === 'matches' && Array.isArray(args[2])
        ? (args[2] as unknown[])[0]
        : n.op === 'call' && args[0] === 'matches' && Array.isArray(args[1])
          ? (args[1] as unknown[])[1]
          : undefined;
    if (pattern === undefined) return undefined;
    const text = isCelNode(pattern) && pattern.start !== undefined ? condition.slice(pattern.start, pattern.end) : '?';
    if (!isCelNode(pattern) || pattern.op !== 'value' || typeof pattern.args !== 'string') {
      return `matches(${text}): the pattern is not a string literal, so the event would choose the regular expression; write it in the condition as a literal (matches('^system:'))`;
    }
    const problem = patternProblem(pattern.args);
    return problem === null ? undefined : `matches(${text}) ${problem}`;
  });
}

/**
 * Points every `s.matches(p)` call of a parsed condition at the linear-time function, in place,
 * before the check resolves its overload (the check binds each call to its handler, so the AST is
 * renamed first). Refuses a condition that writes the internal name itself.
 */
function linearMatches(node: unknown): void {
  walkCel(node, (n) => {
    const args = n.args;
    if (Array.isArray(args) && (n.op === 'rcall' || n.op === 'call')) {
      if (args[0] === LINEAR_MATCHES) throw new Error(`${LINEAR_MATCHES}() is not a function rules can call; write matches()`);
      if (n.op === 'rcall' && args[0] === 'matches') args[0] = LINEAR_MATCHES;
    }
    return undefined;
  });
}

// The shipped pack's specs (shipped.ts marks them): the build (scripts/check-rules.mjs) and CI
// (test/unit/rules/engine.test.ts) load the pack unmarked, through every check below, so the
// ingest's init does none of them and compiles each condition on first use (compileRule): RE2 cost
// about 15 ms of cold code for four patterns (each is compiled the first time a condition runs it),
// the patterns' shapes and the cross-product walk 3 ms (CPU profile of the import, 7 December), the
// conditions' parse and type check 18-22 ms. Only RE2's presence is checked, so a bundle without it
// fails its start.
const VETTED = new WeakSet<RuleSpec>();

/** Marks specs whose conditions are known to pass the load's checks (the shipped pack's); returns them. */
export function vetted<T extends RuleSpec>(specs: T[]): T[] {
  for (const s of specs) VETTED.add(s);
  return specs;
}

/** Compiles one condition to its program; throws with the CEL error (and its position) when it does not check. */
function compileCondition(spec: RuleSpec, isVetted: boolean): ReturnType<typeof ENV.parse> {
  // One parse: the program's own check types the AST it evaluates, so the first event does not type it again.
  const program = ENV.parse(spec.condition);
  const ast = (program as unknown as { ast: unknown }).ast;
  // Before the rename, which would hide the calls from it; it also compiles each pattern with RE2.
  const regex = isVetted ? null : unsafeMatches(spec.condition, ast);
  linearMatches(ast);
  const checked = program.check();
  if (!checked.valid) throw new Error(asWritten(checked.error?.message ?? 'does not type-check'));
  if (checked.type !== 'bool' && checked.type !== 'dyn') throw new Error(`the condition yields ${checked.type}, not bool`);
  const cross = isVetted ? null : crossProduct(spec.condition, ast, []);
  if (cross !== null) throw new Error(cross);
  if (regex !== null) throw new Error(regex);
  return program;
}

/**
 * One rule: an operator's condition compiled now, so a rule that does not compile fails the load
 * with its CEL error; a vetted (shipped) one the first time a request reaches it (its verbs,
 * resources and requesters admit the event), so an execution environment compiles only the rules
 * its traffic reaches: cel-js's parse and check of the 46 shipped conditions were 18-22 ms of the
 * ingest's cold start (docs/performance.md, "Cold start").
 */
function compileRule(spec: RuleSpec): CompiledRule {
  const isVetted = VETTED.has(spec);
  // At load even when the condition waits: a bundle without RE2JS fails its start.
  if (isVetted && spec.condition.includes('matches(')) re2jsPath();
  // A vetted condition cannot fail to compile on first use: the build compiles every shipped
  // condition through every check of an operator's load and stops on the first that fails
  // (scripts/check-rules.mjs), so a bundle carries only conditions that compile; the compile runs
  // outside test()'s catch, so if one ever did not, the request would fail loudly rather than the
  // rule be counted as an evaluation error or read as no match.
  let compiled = isVetted ? undefined : compileCondition(spec, false);
  const programOf = () => {
    compiled ??= compileCondition(spec, true);
    return compiled;
  };
  const users = namePatterns(spec.match.users);
  const groups = namePatterns(spec.match.groups);
  // The second try of a condition that stopped with an error other than an absent key: on the
  // event with objects keyed `constructor` read as maps (celSafe). Its value, or the error it stops with.
  const retry = (program: ReturnType<typeof programOf>, activation: RuleActivation): { value: unknown } | { error: unknown } => {
    try {
      return { value: program(celSafeActivation(activation)) };
    } catch (error) {
      return { error };
    }
  };
  return {
    ...spec,
    admitsUser:
      users === null && groups === null
        ? () => true
        : (user) => {
            // Runs on every request a who-asks rule indexes (`*` verbs and resources): plain loops,
            // nothing allocated per event.
            const info = isJsonObject(user) ? user : EMPTY;
            if (users?.admits(str(info.username))) return true;
            if (groups === null || !Array.isArray(info.groups)) return false;
            for (const g of info.groups) if (typeof g === 'string' && groups.admits(g)) return true;
            return false;
          },
    test(activation) {
      const program = programOf();
      try {
        return program(activation as unknown as Record<string, unknown>) === true;
      } catch (err) {
        // Classified only here, off the matching path: an absent key is no match; any other error
        // is tried once more on the event as cel-js can read it (celSafe), then named to the caller.
        if (ruleErrorKind(err) === null) return false;
        const again = retry(program, activation);
        return 'value' in again ? again.value === true : (ruleErrorKind(again.error) ?? false);
      }
    },
    evaluationError(activation) {
      const program = programOf();
      try {
        program(activation as unknown as Record<string, unknown>);
        return null;
      } catch (first) {
        // The error the ingest would see: after test()'s second try, when the first was not an absent key.
        let err = first;
        if (ruleErrorKind(first) !== null) {
          const again = retry(program, activation);
          if ('value' in again) return null;
          err = again.error;
        }
        const message = asWritten((err instanceof Error ? err.message : String(err)).trim().split('\n')[0] ?? 'evaluation error');
        return { message, kind: ruleErrorKind(err) };
      }
    },
  };
}

function matchesResource(pattern: string, resource: string, subresource: string): boolean {
  if (pattern === '*') return true;
  if (resource === '') return false;
  const slash = pattern.indexOf('/');
  if (slash === -1) return subresource === '' && pattern === resource;
  const base = pattern.slice(0, slash);
  const sub = pattern.slice(slash + 1);
  return base === resource && subresource !== '' && (sub === '*' || sub === subresource);
}

// Candidates per (verb, resource, subresource) are memoised in nested maps (no key string built
// per event); verbs and resources come from the request, so the memo is bounded: past this many
// entries the lookup is computed and not kept.
const MAX_MEMO = 4096;

/** A compiled pack, indexed by verb and resource like Falco indexes rules by event type. */
export class RuleEngine {
  readonly #memo = new Map<string, Map<string, Map<string, CompiledRule[]>>>();
  // Matching is synchronous and CEL programs do not keep their activation, so one is reused.
  readonly #activation = new Activation({} as AuditEvent);
  #memoSize = 0;
  /** The operators' routine identities as `refineSeverity` reads them; undefined when none are declared. */
  readonly routine: RoutineIdentities | undefined;

  /** `declared`: the routine identities of the operators' files (`routine:`), for this deployment. */
  constructor(
    readonly rules: readonly CompiledRule[],
    readonly declared: readonly RoutineEntry[] = [],
  ) {
    const sets = { secretWatchers: new Set<string>(), nodeDrainers: new Set<string>(), webhookCaInjectors: new Set<string>() };
    for (const e of declared) sets[ROUTINE_LISTS[e.list]].add(e.user);
    this.routine = declared.length === 0 ? undefined : sets;
  }

  /** A rule of the pack by id. */
  describe(id: string): CompiledRule | undefined {
    return this.rules.find((r) => r.id === id);
  }

  /** The rules whose verbs and resources admit this request, in pack order. */
  candidates(verb: string, resource: string, subresource: string): CompiledRule[] {
    let byResource = this.#memo.get(verb);
    let bySub = byResource?.get(resource);
    let list = bySub?.get(subresource);
    if (list === undefined) {
      list = this.rules.filter(
        (r) =>
          (r.match.verbs.includes('*') || r.match.verbs.includes(verb)) &&
          r.match.resources.some((p) => matchesResource(p, resource, subresource)),
      );
      if (this.#memoSize < MAX_MEMO) {
        if (byResource === undefined) {
          byResource = new Map();
          this.#memo.set(verb, byResource);
        }
        if (bySub === undefined) {
          bySub = new Map();
          byResource.set(resource, bySub);
        }
        bySub.set(subresource, list);
        this.#memoSize++;
      }
    }
    return list;
  }

  /**
   * The error `rule`'s condition stops with on an event (the record's redacted form), or null when
   * it evaluates: `rules test` names it with its message, which the ingest never logs.
   */
  evaluationError(rule: CompiledRule, event: AuditEvent): EvaluationFailure | null {
    // Only where the ingest would run the condition at all: its verbs, resources and requesters.
    const ref = isJsonObject(event.objectRef) ? event.objectRef : EMPTY;
    if (!this.candidates(str(event.verb), str(ref.resource), str(ref.subresource)).includes(rule)) return null;
    if (!rule.admitsUser(event.user)) return null;
    return rule.evaluationError(new Activation({} as AuditEvent).reset(event));
  }

  /**
   * The rules that fire on an event (the record's redacted form), in pack order. A rule whose
   * condition stops with an error other than an absent key does not fire and is added to `errors`.
   */
  match(event: AuditEvent, errors?: RuleError[]): CompiledRule[] {
    const ref = isJsonObject(event.objectRef) ? event.objectRef : EMPTY;
    const candidates = this.candidates(str(event.verb), str(ref.resource), str(ref.subresource));
    if (candidates.length === 0) return candidates;
    let activation: RuleActivation | undefined;
    let fired: CompiledRule[] | undefined;
    for (const rule of candidates) {
      if (!rule.admitsUser(event.user)) continue;
      activation ??= this.#activation.reset(event);
      const outcome = rule.test(activation);
      if (outcome !== true) {
        if (outcome !== false) errors?.push({ rule: rule.id, kind: outcome });
        continue;
      }
      fired ??= [];
      fired.push(rule);
    }
    return fired ?? NONE;
  }
}

/**
 * Applies operators' entries over the shipped specs: same id replaces, `disabled: true` drops,
 * a new id is added. Order: shipped rules first, then new ones.
 */
export function mergeRules(base: readonly RuleSpec[], extra: readonly (RuleSpec | RuleDisable)[]): RuleSpec[] {
  const { rules, problems } = mergeRulesAll(base, extra);
  if (problems.length > 0) throw new RulePackError(problems);
  return rules;
}

/**
 * `mergeRules`, with its problems returned instead of thrown, so a caller can name them with the
 * other stages' (`compilePack`). An id the operators' entries name twice (in one file or two: an
 * override, a disable or a new rule) is a problem: which of the two would win is not theirs to guess.
 */
export function mergeRulesAll(
  base: readonly RuleSpec[],
  extra: readonly (RuleSpec | RuleDisable)[],
): { rules: RuleSpec[]; problems: string[] } {
  const byId = new Map(base.map((r) => [r.id, r] as const));
  const problems: string[] = [];
  const named = new Map<string, string>();
  for (const e of extra) {
    const first = named.get(e.id);
    if (first !== undefined) {
      problems.push(`${e.file}: ${e.id}: the id is also in ${first}; name each id once in the operators' rules`);
      continue;
    }
    named.set(e.id, e.file);
    if ('disabled' in e) {
      if (!byId.delete(e.id)) problems.push(`${e.file}: ${e.id}: disables a rule that does not exist`);
    } else byId.set(e.id, e);
  }
  return { rules: [...byId.values()], problems };
}

/** Compiles every rule once; a rule that does not compile fails with its file, id and CEL error. */
export function compileRules(specs: readonly RuleSpec[]): RuleEngine {
  const { engine, problems } = compileRulesAll(specs);
  if (engine === null) throw new RulePackError(problems);
  return engine;
}

/**
 * `compileRules`, with every rule's problem returned (the engine only when there is none).
 * `declared`: the operators' routine identities, given to the one engine built.
 */
export function compileRulesAll(
  specs: readonly RuleSpec[],
  declared: readonly RoutineEntry[] = [],
): { engine: RuleEngine | null; problems: string[] } {
  const problems: string[] = [];
  const seen = new Set<string>();
  const compiled: CompiledRule[] = [];
  for (const spec of specs) {
    if (seen.has(spec.id)) problems.push(`${spec.file}: ${spec.id}: the id is used twice`);
    seen.add(spec.id);
    try {
      compiled.push(compileRule(spec));
    } catch (err) {
      const msg = (err instanceof Error ? err.message : String(err)).trim().replace(/\n+/g, ' | ');
      problems.push(`${spec.file}: ${spec.id}: condition does not compile: ${msg}`);
    }
  }
  return { engine: problems.length > 0 ? null : new RuleEngine(compiled, declared), problems };
}
