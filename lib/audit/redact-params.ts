import { isJsonObject, mapSame } from '../json.js';
import { copyObj, REDACTED, redactAsSecret, setOwn } from './redact.js';
import { keptValue } from './redact-pod.js';
import type { JsonValue } from './types.js';

// Credentials passed as a workflow's or a pipeline's parameters, and Secrets a policy generates,
// in the custom resources that carry them in clear:
// - Argo Workflows (argoproj.io: `workflows`, `workflowtemplates`, `clusterworkflowtemplates`,
//   `cronworkflows`): `{name, value}` parameters in `spec.arguments.parameters` (what
//   `argo submit -p db-password=…` sets: argo-workflows docs/walk-through/parameters.md), each
//   template's `inputs.parameters` (`value`, `default`), a step's or task's `arguments`, and the
//   copies the controller keeps in `status.nodes[*].inputs/outputs.parameters`.
// - Tekton (tekton.dev: `pipelineruns`, `taskruns`, `pipelines`, `tasks`): `params` `{name,
//   value}` (a string, an array or an object) and a param spec's `default`, wherever a run or a
//   spec has them, including the full spec a run copies into its status (`status.pipelineSpec`,
//   `status.taskSpec`: tektoncd/pipeline docs/pipelineruns.md, docs/taskruns.md).
// - Kyverno (kyverno.io: `clusterpolicies`, `policies`): a `generate` rule (or each of its
//   `foreach` entries) whose resource is a Secret (`kind: Secret` on the rule or in its `data`)
//   carries the Secret's body in `data`: redacted as a Secret is (kyverno/policies
//   argo/argo-cluster-generation-from-rancher-capi generates a cluster Secret so).
// A parameter's value goes by its name, by the env rule (keptValue): the name stays. The walk
// reads the whole body, so lists, watch events, Table rows and merge patches (no kind) are read
// too. Only these resources pay for it: any other costs one Map lookup.

type Obj = { [key: string]: JsonValue };
type Redactor = (value: JsonValue) => JsonValue;

// A value that is one reference to another parameter, no literal: Argo's `{{inputs.parameters.x}}`
// or `{{workflow.parameters.x}}`, Tekton's `$(params.x)` (their docs' substitution syntax). It says
// where the value comes from, which is what a person reads; the value itself is redacted there.
const SUBSTITUTION = /^(?:\{\{ ?[\w.\-[\]'"]+ ?\}\}|\$\([\w.\-[\]'"*]+\))$/;

/** A parameter's value as kept under `name`: a string by keptValue, a number likewise, an array's or object's strings each. */
function keptParamValue(name: string, value: JsonValue): JsonValue {
  if (typeof value === 'string') return value === '' || SUBSTITUTION.test(value) ? value : keptValue(name, value);
  if (typeof value === 'number') return keptValue(name, String(value)) === String(value) ? value : REDACTED;
  if (Array.isArray(value)) return mapSame(value, (v) => keptParamValue(name, v));
  if (!isJsonObject(value)) return value;
  // A Tekton object param (`{url: …, password: …}`): each property by the param's name, then its own.
  let out: Obj | undefined;
  for (const key of Object.keys(value)) {
    const v = value[key] as JsonValue;
    const first = keptParamValue(name, v);
    const kept = first === v ? keptParamValue(key, v) : first;
    if (kept !== v) {
      out ??= copyObj(value);
      setOwn(out, key, kept);
    }
  }
  return out ?? value;
}

const PARAM_VALUE_KEYS = ['value', 'default'] as const;

/** One `{name, value}` or `{name, default}` entry as kept. */
function redactParam(entry: JsonValue): JsonValue {
  if (!isJsonObject(entry) || typeof entry.name !== 'string') return entry;
  let out = entry;
  for (const key of PARAM_VALUE_KEYS) {
    if (!Object.hasOwn(entry, key)) continue;
    const v = entry[key] as JsonValue;
    const kept = keptParamValue(entry.name, v);
    if (kept !== v) {
      if (out === entry) out = copyObj(entry);
      setOwn(out, key, kept);
    }
  }
  return out;
}

/** `value` with every list under `listKey` (anywhere) read as parameters; the same value when none is a credential. */
function redactParamLists(value: JsonValue, listKey: string): JsonValue {
  if (Array.isArray(value)) return mapSame(value, (v) => redactParamLists(v, listKey));
  if (!isJsonObject(value)) return value;
  let out: Obj | undefined;
  for (const key of Object.keys(value)) {
    const v = value[key] as JsonValue;
    const kept =
      key === listKey && Array.isArray(v) ? mapSame(v, (p) => redactParamLists(redactParam(p), listKey)) : redactParamLists(v, listKey);
    if (kept !== v) {
      out ??= copyObj(value);
      setOwn(out, key, kept);
    }
  }
  return out ?? value;
}

/** One Kyverno `generate` block (or `foreach` entry) as kept: its `data` as a Secret's when it generates one. */
function redactGenerate(generate: Obj): Obj {
  let out = generate;
  const data = generate.data;
  if (isJsonObject(data) && (generate.kind === 'Secret' || data.kind === 'Secret')) {
    out = copyObj(generate);
    setOwn(out, 'data', redactAsSecret(data));
  }
  const each = generate.foreach;
  if (Array.isArray(each)) {
    const kept = mapSame(each, (e) => (isJsonObject(e) ? redactGenerate(e) : e));
    if (kept !== each) {
      if (out === generate) out = copyObj(generate);
      setOwn(out, 'foreach', kept);
    }
  }
  return out;
}

/** Every `generate` block anywhere in a Kyverno body (a policy, its list, a watch event, a patch), as kept. */
function redactGenerateBlocks(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return mapSame(value, redactGenerateBlocks);
  if (!isJsonObject(value)) return value;
  let out: Obj | undefined;
  for (const key of Object.keys(value)) {
    const v = value[key] as JsonValue;
    const kept = key === 'generate' && isJsonObject(v) ? redactGenerate(v) : redactGenerateBlocks(v);
    if (kept !== v) {
      out ??= copyObj(value);
      setOwn(out, key, kept);
    }
  }
  return out ?? value;
}

const argoParams: Redactor = (v) => redactParamLists(v, 'parameters');
const tektonParams: Redactor = (v) => redactParamLists(v, 'params');

/** The resources whose bodies carry these values, and how each is read. */
const BY_RESOURCE = new Map<string, Redactor>([
  ['workflows', argoParams],
  ['workflowtemplates', argoParams],
  ['clusterworkflowtemplates', argoParams],
  ['cronworkflows', argoParams],
  ['pipelineruns', tektonParams],
  ['taskruns', tektonParams],
  ['pipelines', tektonParams],
  ['tasks', tektonParams],
  ['clusterpolicies', redactGenerateBlocks],
  ['policies', redactGenerateBlocks],
]);

/** A body sent to one of the resources above, as kept (see above); any other body as it came. */
export function redactParamValues(value: Obj, resource: string | null): Obj {
  const redact = resource === null ? undefined : BY_RESOURCE.get(resource);
  return redact === undefined ? value : (redact(value) as Obj);
}

const ARGO_KINDS = new Map([
  ['Workflow', 'workflows'],
  ['WorkflowTemplate', 'workflowtemplates'],
  ['ClusterWorkflowTemplate', 'clusterworkflowtemplates'],
  ['CronWorkflow', 'cronworkflows'],
]);
const TEKTON_KINDS = new Map([
  ['PipelineRun', 'pipelineruns'],
  ['TaskRun', 'taskruns'],
  ['Pipeline', 'pipelines'],
  ['Task', 'tasks'],
]);
const KYVERNO_KINDS = new Map([
  ['ClusterPolicy', 'clusterpolicies'],
  ['Policy', 'policies'],
]);

/** The resource an object of the kinds above is kept under, by its own apiVersion and kind (a copy in an annotation); null for any other. */
export function paramResourceOf(obj: Obj): string | null {
  const api = obj.apiVersion;
  const kind = obj.kind;
  if (typeof api !== 'string' || typeof kind !== 'string') return null;
  const group = api.slice(0, api.indexOf('/'));
  const kinds =
    group === 'argoproj.io' ? ARGO_KINDS : group === 'tekton.dev' ? TEKTON_KINDS : group === 'kyverno.io' ? KYVERNO_KINDS : null;
  return kinds?.get(kind) ?? null;
}

// A JSON patch (RFC 6902, `kubectl patch --type=json`) sent to one of the resources above: an
// operation's value is read as if it stood at its path. A value set at
// `…/parameters/<n>/value` (or `default`, or Tekton's `…/params/<n>/value`) cannot name its
// parameter (the name is in the object, not the patch), so a literal there goes, as an env value
// set by a JSON patch does (redact-pod.ts); a reference to another parameter stays.
const PARAM_FIELD = /\/(?:parameters|params)\/(?:\d+|-)\/(?:value|default)$/;
// One parameter (`…/parameters/-`, `…/params/0`): read by its own name.
const PARAM_ITEM = /\/(?:parameters|params)\/(?:\d+|-)$/;

/** A value whose name is unknown, as kept: each literal becomes the marker, the shape stays. */
function unnamedValue(value: JsonValue): JsonValue {
  if (typeof value === 'string') return value === '' || SUBSTITUTION.test(value) ? value : REDACTED;
  if (typeof value === 'number') return REDACTED;
  if (Array.isArray(value)) return mapSame(value, unnamedValue);
  if (!isJsonObject(value)) return value;
  const out: Obj = {};
  for (const key of Object.keys(value)) setOwn(out, key, unnamedValue(value[key] as JsonValue));
  return out;
}

/** The last segment of a JSON pointer (RFC 6901), unescaped. */
function lastSegment(path: string): string {
  return path
    .slice(path.lastIndexOf('/') + 1)
    .replace(/~1/g, '/')
    .replace(/~0/g, '~');
}

function redactParamOp(op: JsonValue, redact: Redactor): JsonValue {
  if (!isJsonObject(op) || typeof op.path !== 'string' || !Object.hasOwn(op, 'value')) return op;
  const value = op.value as JsonValue;
  let kept: JsonValue;
  if (PARAM_FIELD.test(op.path)) kept = unnamedValue(value);
  else if (value === null || typeof value !== 'object') return op;
  else if (op.path === '') kept = redact(value);
  else if (PARAM_ITEM.test(op.path)) kept = redactParam(value);
  else {
    // The value placed under its own key: a `parameters` list, a `generate` block, a rule.
    const key = lastSegment(op.path);
    const wrapped: Obj = {};
    setOwn(wrapped, key, value);
    kept = (redact(wrapped) as Obj)[key] as JsonValue;
  }
  if (kept === value) return op;
  const out = copyObj(op);
  setOwn(out, 'value', kept);
  return out;
}

/** A JSON patch sent to one of the resources above, as kept; any other patch as it came. */
export function redactParamPatch(ops: JsonValue[], resource: string | null): JsonValue[] {
  const redact = resource === null ? undefined : BY_RESOURCE.get(resource);
  return redact === undefined ? ops : mapSame(ops, (op) => redactParamOp(op, redact));
}
