import { isJsonObject } from '../json.js';
import { shippedRules } from '../rules/shipped.js';
import { nonEmpty, readResponseCode } from './fields.js';
import { redactEventBounded, scrubJwts } from './redact.js';
import {
  classifySeverity,
  highestSeverity,
  isWebhookCaInjector,
  refineSeverity,
  type SeverityInput,
  type SeverityResult,
} from './severity.js';
import type { AuditEvent, Detection, FiredRule, RoutineIdentities, RuleError, Severity } from './types.js';

/** A decided severity and the ids of the rules that fired (shared, frozen, when none did). */
export interface DetectionResult extends SeverityResult {
  ruleIds: string[];
}

const NO_RULES: string[] = Object.freeze([]) as unknown as string[];

let defaultDetection: Detection | undefined;

/** The default: the refined table and the shipped rule pack (compiled when the first event needs it). */
export function shippedDetection(): Detection {
  defaultDetection ??= {
    severity: 'default',
    rules: { match: (event, errors) => shippedRules().match(event, errors), describe: (id) => shippedRules().describe(id) },
  };
  return defaultDetection;
}

// Where a caller that does not collect rule errors has them written: matching is synchronous, so
// one list serves every call (emptied before each), and the common path allocates nothing.
const SCRATCH_ERRORS: RuleError[] = [];

/**
 * The final severity of an event: the spec's table (alone with `severity: 'spec'`), else the
 * table with its routine refinements, raised to the highest rule that fires. Rules see the event
 * as the record keeps it (secret values redacted; pod specs and other bodies as sent). A rule
 * whose condition stopped with an error (not an absent key) is added to `errors`, and the event
 * is then at least its row of the spec's table: a routine refinement or a DaemonSet copy's lift
 * lowers an event only when every rule could read it (docs/detection-rules.md, "Rule errors").
 */
export function decideSeverity(
  event: AuditEvent,
  input: SeverityInput,
  user: string | null,
  detection?: Detection,
  errors?: RuleError[],
): DetectionResult {
  const table = classifySeverity(input);
  const d = detection ?? shippedDetection();
  if (d.severity === 'spec') return { ...table, ruleIds: NO_RULES };
  // The request's receipt, before authorization, admission or any answer: its later stage (same
  // auditID) carries the outcome and is scored. Scoring the receipt too made a kubelet's routine
  // token request `high` and alerted on it, as did each controller's Secret watch, under any
  // audit policy that does not omit the stage (the AiSOC connector documentation's recommended
  // policy does not). Falco's k8saudit rules read only ResponseComplete events (falcosecurity/
  // plugins plugins/k8saudit/rules/k8s_audit_rules.yaml, macro `kevt`, list `k8s_audit_stages`).
  if (event.stage === 'RequestReceived') return { severity: 'info', reason: 'request-received-stage', ruleIds: NO_RULES };
  const refined = refineSeverity(input, user, table, d.rules?.routine);
  let sink = errors;
  if (sink === undefined) {
    sink = SCRATCH_ERRORS;
    sink.length = 0;
  }
  const before = sink.length;
  const fired = d.rules === null ? NO_RULES_FIRED : d.rules.match(event, sink);
  // A rule that could not be evaluated: the table's row is the floor (its reason when it is higher).
  const floor = sink.length > before ? table : null;
  if (fired.length === 0) return { ...(floor === null ? refined : highestSeverity(refined, [floor])), ruleIds: NO_RULES };
  const copy = isDaemonSetPodCopy(event, input, user);
  const decided = highestSeverity(
    floor === null ? refined : highestSeverity(refined, [floor]),
    fired.map((r): SeverityResult => {
      if (copy && scoresDaemonSetTemplates(r)) return daemonSetPodLift(r.severity);
      if (r.id === WEBHOOK_RULE && isRoutineCaInjection(event, input, user, d.rules?.routine)) return WEBHOOK_CA_LIFT;
      return { severity: r.severity, reason: `rule:${r.id}` };
    }),
  );
  return { ...decided, ruleIds: fired.map((r) => r.id) };
}

const NO_RULES_FIRED: readonly FiredRule[] = [];

/**
 * Who creates a DaemonSet's pods: kube-controller-manager's DaemonSet controller under its own
 * service account (--use-service-account-credentials, as EKS and kubeadm run it), or the controller
 * manager's own identity without it (kubernetes/kubernetes cmd/kube-controller-manager,
 * pkg/controller/daemon). No one else writes a pod as these users.
 */
const DAEMONSET_POD_CREATORS: ReadonlySet<string> = new Set([
  'system:serviceaccount:kube-system:daemon-set-controller',
  'system:kube-controller-manager',
]);

/**
 * A pod the DaemonSet controller made from its DaemonSet (a new node joining, a rollout): created
 * by one of its identities, not impersonated, allowed, whose one controller ownerReference is an
 * `apps/v1` DaemonSet (the controller sets `metav1.NewControllerRef(ds, apps/v1 DaemonSet)`:
 * pkg/controller/daemon/daemon_controller.go; the apiserver refuses two controller references).
 * Its spec is the DaemonSet's template (plus the tolerations and node affinity
 * pkg/controller/daemon/util adds), which the same rules scored when the DaemonSet was written.
 * Read only when a rule fired, so it costs nothing on the events no rule fires on.
 */
function isDaemonSetPodCopy(event: AuditEvent, input: SeverityInput, user: string | null): boolean {
  if (input.verb !== 'create' || input.resource !== 'pods' || input.subresource !== null || input.impersonated) return false;
  if (user === null || !DAEMONSET_POD_CREATORS.has(user)) return false;
  if (input.responseCode === null || input.responseCode >= 400) return false;
  const body = event.requestObject;
  const meta = isJsonObject(body) ? body.metadata : undefined;
  const refs = isJsonObject(meta) ? meta.ownerReferences : undefined;
  if (!Array.isArray(refs)) return false;
  const controllers = refs.filter((r) => isJsonObject(r) && r.controller === true);
  const owner = controllers.length === 1 ? controllers[0] : undefined;
  return isJsonObject(owner) && owner.apiVersion === 'apps/v1' && owner.kind === 'DaemonSet';
}

/**
 * Whether a rule was evaluated on every DaemonSet write: it admits `create` of `daemonsets` for any
 * requester (no `users`/`groups`), so the template the pod copies was scored by it, high there
 * whoever wrote it. A rule only pods admit saw nothing before the pod, and keeps its severity (which
 * is why `kube-system-pod` reads DaemonSets too).
 */
function scoresDaemonSetTemplates(rule: FiredRule): boolean {
  const m = rule.match;
  if (m === undefined || m.users !== undefined || m.groups !== undefined) return false;
  return (m.verbs.includes('create') || m.verbs.includes('*')) && (m.resources.includes('daemonsets') || m.resources.includes('*'));
}

/**
 * What such a rule gives the copy: low, kept (searchable by `severity_reason` and `rule_ids`) but not
 * read by detections that read medium and high, since one DaemonSet of a node agent makes one per
 * node join (docs/detection-rules.md, "Refinements"). A rule already low or info keeps its own.
 */
function daemonSetPodLift(severity: Severity): SeverityResult {
  return severity === 'high' || severity === 'medium'
    ? { severity: 'low', reason: 'routine-daemonset-pod' }
    : { severity, reason: 'routine-daemonset-pod' };
}

const WEBHOOK_RULE = 'admission-webhook-change';
/**
 * An add-on's own CA bundle write: low, kept and searchable (`rule_ids` still names the rule) but
 * below the detections that read medium and high, as it comes at every install, restart and CA
 * rotation (docs/detection-rules.md, "Refinements").
 */
const WEBHOOK_CA_LIFT: SeverityResult = { severity: 'low', reason: 'routine-webhook-ca-injection' };
const CA_BUNDLE_PATH = /^\/webhooks\/\d+\/clientConfig\/caBundle$/;
const SA_PREFIX = 'system:serviceaccount:';

/**
 * A webhook configuration write by an add-on's exact identity (`isWebhookCaInjector`) that sets
 * nothing but its webhooks' CA bundle, allowed and not impersonated. What the event carries decides:
 * - a `patch` is read whole: a JSON patch whose every operation sets `/webhooks/N/clientConfig/caBundle`,
 *   or a merge, strategic merge or apply body holding only kind, apiVersion, metadata.name and
 *   `webhooks[]` entries of only `name` and `clientConfig.caBundle` (cert-manager's cainjector);
 * - an `update` carries the whole new object, not the old one, so a change of rules,
 *   failurePolicy or selectors cannot be told from a CA-only update: only the target can be
 *   checked, so every webhook must call a Service in the add-on's own namespace, none a `url`
 *   (Kyverno, istiod, Gatekeeper, ingress-nginx's patch Job write so).
 * Anything else (a create, a delete, no body logged, another identity) keeps the rule's severity.
 * Read only when admission-webhook-change fired.
 */
function isRoutineCaInjection(
  event: AuditEvent,
  input: SeverityInput,
  user: string | null,
  routine: RoutineIdentities | undefined,
): boolean {
  if ((input.verb !== 'patch' && input.verb !== 'update') || input.subresource !== null || input.impersonated) return false;
  if (input.responseCode === null || input.responseCode >= 400) return false;
  if (user === null || !isWebhookCaInjector(user, routine)) return false;
  const body = event.requestObject;
  if (input.verb === 'patch') {
    if (Array.isArray(body)) {
      return (
        body.length > 0 &&
        body.every(
          (op) =>
            isJsonObject(op) && (op.op === 'replace' || op.op === 'add') && typeof op.path === 'string' && CA_BUNDLE_PATH.test(op.path),
        )
      );
    }
    return isCaBundleOnlyBody(body, event.objectRef?.name);
  }
  const ns = user.startsWith(SA_PREFIX) ? user.slice(SA_PREFIX.length).split(':')[0] : undefined;
  const webhooks = isJsonObject(body) ? body.webhooks : undefined;
  if (ns === undefined || !Array.isArray(webhooks) || webhooks.length === 0) return false;
  return webhooks.every((w) => {
    const cc = isJsonObject(w) ? w.clientConfig : undefined;
    return isJsonObject(cc) && cc.url === undefined && isJsonObject(cc.service) && cc.service.namespace === ns;
  });
}

const CA_PATCH_TOP = new Set(['kind', 'apiVersion', 'metadata', 'webhooks']);

/** A patch body that names the object and sets only each webhook's `clientConfig.caBundle`. */
function isCaBundleOnlyBody(body: unknown, name: string | undefined): boolean {
  if (!isJsonObject(body) || !Object.keys(body).every((k) => CA_PATCH_TOP.has(k))) return false;
  const meta = body.metadata;
  if (
    meta !== undefined &&
    !(isJsonObject(meta) && Object.keys(meta).every((k) => k === 'name') && (meta.name === undefined || meta.name === name))
  )
    return false;
  const webhooks = body.webhooks;
  if (!Array.isArray(webhooks) || webhooks.length === 0) return false;
  return webhooks.every((w) => {
    if (!isJsonObject(w) || typeof w.name !== 'string' || !Object.keys(w).every((k) => k === 'name' || k === 'clientConfig')) return false;
    const cc = w.clientConfig;
    return isJsonObject(cc) && Object.keys(cc).length === 1 && typeof cc.caBundle === 'string';
  });
}

/** A CSR body's `spec.signerName`: null when the body has none, undefined when there is no body. */
function csrSignerOf(body: unknown): string | null | undefined {
  if (!isJsonObject(body)) return undefined;
  const spec = body.spec;
  return isJsonObject(spec) && typeof spec.signerName === 'string' ? spec.signerName : null;
}

/**
 * The severity table's inputs read out of an event: the one reading, shared by the normaliser and
 * the tailer's alert check, so the alert path cannot drift from the records.
 */
export function severityInputOf(event: AuditEvent, auditIdReused = false): SeverityInput {
  const ref = event.objectRef ?? {};
  const rs = event.responseStatus;
  return {
    verb: nonEmpty(event.verb),
    resource: nonEmpty(ref.resource),
    subresource: nonEmpty(ref.subresource),
    namespace: nonEmpty(ref.namespace),
    responseCode: isJsonObject(rs) ? readResponseCode(rs.code) : null,
    impersonated: typeof event.impersonatedUser === 'object' && event.impersonatedUser !== null,
    // Always present (one object shape per event); read only for a CSR.
    csrSigner: ref.resource === 'certificatesigningrequests' ? csrSignerOf(event.requestObject) : undefined,
    aggregatedRole:
      ref.resource === 'clusterroles' && isJsonObject(event.responseObject) && isJsonObject(event.responseObject.aggregationRule),
    openshiftScc: isOpenShiftScc(ref.resource, ref.name),
    auditIdReused,
  };
}

const RBAC_KINDS = new Set(['roles', 'clusterroles', 'rolebindings', 'clusterrolebindings']);

/** An SCC, or a role or binding named as `oc adm policy add-scc-to-user` names them (`system:openshift:scc:<scc>`). */
function isOpenShiftScc(resource: unknown, name: unknown): boolean {
  if (resource === 'securitycontextconstraints') return true;
  return typeof resource === 'string' && RBAC_KINDS.has(resource) && typeof name === 'string' && name.startsWith('system:openshift:scc:');
}

/**
 * An event's severity as `normaliseAuditEvent` decides it, without building the record: the same
 * inputs, rules run on the same redacted event. For callers that normalise only what is high.
 */
export function decideEventSeverity(event: AuditEvent, detection?: Detection, errors?: RuleError[]): DetectionResult {
  const input = severityInputOf(event);
  // The event as normaliseAuditEvent keeps it: bodies' credentials and JWT signatures redacted.
  const redacted = scrubJwts(redactEventBounded(event, { resource: input.resource, subresource: input.subresource }).event).event;
  const user = event.user?.username;
  return decideSeverity(redacted, input, typeof user === 'string' ? user : null, detection, errors);
}
