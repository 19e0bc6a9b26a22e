import { Environment } from '@marcbachmann/cel-js';
import type { AuditEvent, JsonObject, JsonValue } from '../audit/types.js';
import { RulePackError } from './pack.js';
import type { RuleDisable, RuleSpec } from './types.js';

/** A rule compiled once at init: its spec and the CEL program. */
export interface CompiledRule extends RuleSpec {
  /** True when the condition holds on the activation; an evaluation error counts as no match. */
  test(activation: RuleActivation): boolean;
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
  containers: JsonObject[];
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
  ['containers', 'list'],
];

/**
 * True for loopback, RFC 1918, carrier-grade NAT (100.64.0.0/10, which EKS custom networking
 * uses for pods), link-local, IPv6 unique-local and link-local addresses. Anything that does not
 * parse as an address is not private.
 */
export function isPrivateIp(ip: string): boolean {
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

// One environment for every rule: the variables above plus isPrivateIP, optional chaining
// (`requestObject.?spec.?hostPID.orValue(false)`, as Kubernetes CEL has had since 1.29).
const ENV = (() => {
  const env = new Environment({ enableOptionalTypes: true, homogeneousAggregateLiterals: false });
  for (const [name, type] of VARIABLES) env.registerVariable(name, type);
  env.registerFunction('isPrivateIP(string): bool', (ip: string) => isPrivateIp(ip));
  return env;
})();

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

const TEMPLATE_OWNERS = new Set(['deployments', 'daemonsets', 'statefulsets', 'replicasets', 'jobs', 'replicationcontrollers']);

/**
 * The pod spec a request carries: a pod's own spec, or the pod template of a workload (CronJobs
 * one level deeper). Patches in merge form have the same shape, so they are read the same way.
 */
function podSpecOf(resource: string, subresource: string, body: JsonObject): JsonObject {
  if (subresource !== '' && subresource !== 'ephemeralcontainers') return {};
  const spec = body.spec;
  if (!isObject(spec)) return {};
  if (resource === 'pods') return spec;
  let template: JsonValue | undefined;
  if (TEMPLATE_OWNERS.has(resource)) template = spec.template;
  else if (resource === 'cronjobs') {
    const job = spec.jobTemplate;
    const jobSpec = isObject(job) ? job.spec : undefined;
    template = isObject(jobSpec) ? jobSpec.template : undefined;
  }
  const podSpec = isObject(template) ? template.spec : undefined;
  return isObject(podSpec) ? podSpec : {};
}

function containersOf(spec: JsonObject): JsonObject[] {
  const out: JsonObject[] = [];
  for (const key of ['containers', 'initContainers', 'ephemeralContainers']) {
    const list = spec[key];
    if (Array.isArray(list)) for (const c of list) if (isObject(c)) out.push(c);
  }
  return out;
}

/**
 * The activation of an event: each variable always present with the type the environment
 * declares (absent strings are '', absent objects {}), so conditions need `has()` only inside
 * request bodies. Takes the event as the record keeps it, secret values already redacted.
 */
export function ruleActivation(event: AuditEvent): RuleActivation {
  const ref = isObject(event.objectRef) ? event.objectRef : {};
  const resource = str(ref.resource);
  const subresource = str(ref.subresource);
  const user = isObject(event.user) ? event.user : {};
  const imp = isObject(event.impersonatedUser) ? event.impersonatedUser : {};
  const rs = isObject(event.responseStatus) ? event.responseStatus : {};
  const body = isObject(event.requestObject) ? event.requestObject : {};
  const podSpec = podSpecOf(resource, subresource, body);
  return {
    verb: str(event.verb),
    stage: str(event.stage),
    requestURI: str(event.requestURI),
    userAgent: str(event.userAgent),
    objectRef: {
      ...ref,
      resource,
      subresource,
      namespace: str(ref.namespace),
      name: str(ref.name),
      apiGroup: str(ref.apiGroup),
    },
    user: { ...user, username: str(user.username), groups: Array.isArray(user.groups) ? user.groups : [] },
    impersonatedUser: { ...imp, username: str(imp.username), groups: Array.isArray(imp.groups) ? imp.groups : [] },
    sourceIPs: Array.isArray(event.sourceIPs) ? event.sourceIPs.filter((ip): ip is string => typeof ip === 'string') : [],
    responseStatus: { ...rs, code: typeof rs.code === 'number' ? rs.code : Number(rs.code) || 0 },
    requestObject: body,
    responseObject: isObject(event.responseObject) ? event.responseObject : {},
    annotations: isObject(event.annotations) ? (event.annotations as JsonObject) : {},
    podSpec,
    containers: containersOf(podSpec),
  };
}

/** Compiles one rule; throws with the CEL error (and its position) when it does not check. */
function compileRule(spec: RuleSpec): CompiledRule {
  const checked = ENV.check(spec.condition);
  if (!checked.valid) throw new Error(checked.error?.message ?? 'does not type-check');
  if (checked.type !== 'bool' && checked.type !== 'dyn') throw new Error(`the condition yields ${checked.type}, not bool`);
  const program = ENV.parse(spec.condition);
  return {
    ...spec,
    test(activation) {
      try {
        return program(activation as unknown as Record<string, unknown>) === true;
      } catch {
        // A missing key deep in a body (a field the event does not carry) is "no match", as a
        // ValidatingAdmissionPolicy's matchCondition error is not a match either.
        return false;
      }
    },
  };
}

function resourceKey(resource: string, subresource: string): string {
  return subresource === '' ? resource : `${resource}/${subresource}`;
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

// Candidates per (verb, resource key) are memoised; verbs and resources come from the request,
// so the memo is bounded: past this many keys the lookup is computed and not kept.
const MAX_MEMO = 4096;

/** A compiled pack, indexed by verb and resource like Falco indexes rules by event type. */
export class RuleEngine {
  readonly #memo = new Map<string, CompiledRule[]>();
  constructor(readonly rules: readonly CompiledRule[]) {}

  /** The rules whose verbs and resources admit this request, in pack order. */
  candidates(verb: string, resource: string, subresource: string): CompiledRule[] {
    const key = `${verb}\u0000${resourceKey(resource, subresource)}`;
    let list = this.#memo.get(key);
    if (list === undefined) {
      list = this.rules.filter(
        (r) =>
          (r.match.verbs.includes('*') || r.match.verbs.includes(verb)) &&
          r.match.resources.some((p) => matchesResource(p, resource, subresource)),
      );
      if (this.#memo.size < MAX_MEMO) this.#memo.set(key, list);
    }
    return list;
  }

  /** The rules that fire on an event (the record's redacted form), in pack order. */
  match(event: AuditEvent): CompiledRule[] {
    const ref = isObject(event.objectRef) ? event.objectRef : {};
    const candidates = this.candidates(str(event.verb), str(ref.resource), str(ref.subresource));
    if (candidates.length === 0) return candidates;
    const activation = ruleActivation(event);
    const fired: CompiledRule[] = [];
    for (const rule of candidates) if (rule.test(activation)) fired.push(rule);
    return fired;
  }
}

/**
 * Applies operators' entries over the shipped specs: same id replaces, `disabled: true` drops,
 * a new id is added. Order: shipped rules first, then new ones.
 */
export function mergeRules(base: readonly RuleSpec[], extra: readonly (RuleSpec | RuleDisable)[]): RuleSpec[] {
  const byId = new Map(base.map((r) => [r.id, r] as const));
  const problems: string[] = [];
  for (const e of extra) {
    if ('disabled' in e) {
      if (!byId.delete(e.id)) problems.push(`${e.file}: ${e.id}: disables a rule that does not exist`);
    } else byId.set(e.id, e);
  }
  if (problems.length > 0) throw new RulePackError(problems);
  return [...byId.values()];
}

/** Compiles every rule once; a rule that does not compile fails with its file, id and CEL error. */
export function compileRules(specs: readonly RuleSpec[]): RuleEngine {
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
  if (problems.length > 0) throw new RulePackError(problems);
  return new RuleEngine(compiled);
}
