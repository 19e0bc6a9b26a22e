import { isJsonObject, mapSame } from '../json.js';
import { copyObj, isManifestHolder, LAST_APPLIED, REDACTED, redactManifestHolder, setOwn } from './redact.js';
import { scrubArgv } from './redact-argv.js';
import { paramResourceOf, redactParamValues } from './redact-params.js';
import { CREDENTIAL_NAME_PATTERN, isCredentialParamName, redactedValue, scrubTextUrls } from './redact-uri.js';
import type { JsonValue } from './types.js';

// Credentials written as literals into a pod spec. The Kubernetes documentation ("Secrets",
// "Define Environment Variables for a Container") tells users to keep them in a Secret and
// reference it (`valueFrom.secretKeyRef`, `envFrom.secretRef`); a literal `env[].value` is in
// every audit body that carries the spec: the Pod, and the pod template of a Deployment,
// DaemonSet, StatefulSet, ReplicaSet, ReplicationController, Job, CronJob and PodTemplate (or any
// custom resource shaped so: `spec.template.spec`), in requests, answers, lists, watch events,
// patches and kubectl's last-applied-configuration annotation of each.
// - `env[].value` under a name that names a credential, by the rule of a query parameter's name
//   (redact-uri.ts: `DB_PASSWORD`, `AWS_SECRET_ACCESS_KEY`, `API_TOKEN`, `GITHUB_TOKEN`; not
//   `AWS_ACCESS_KEY_ID`, an identifier): the value becomes the marker, the name stays (that a
//   credential was put in plain env is what a detection or a person wants to know). Any other
//   env value loses the password and credential query of a URL it holds (`DATABASE_URL`).
//   `valueFrom` is a reference and stays.
// - `command` and `args`: the command-line rule (redact-argv.ts), flags and names kept.
// - A ConfigMap's `data` and `binaryData` value under a key named so (`DB_PASSWORD`): the
//   documentation's "ConfigMap does not provide secrecy", and `envFrom.configMapRef` makes each key
//   an env variable of that name, so the same rule holds. The keys every cluster writes
//   (`ca.crt`, `Corefile`, `config.conf`, `kubeconfig`, `mapRoles`, `client-ca-file`) name none.
//   Any other value loses a URL's credentials (a twelve-factor `DATABASE_URL`); a kubeconfig or
//   registry config pasted under another key is content no name marks, and keeps all but its
//   JWTs' signatures (redact.ts).
// Detections read securityContext, volumes, host namespaces, images: none of that changes.

type Obj = { [key: string]: JsonValue };

/** `obj` with `obj[key]` replaced by `value` (a copy), or `obj` itself when the value is the same. */
export function withKey(obj: Obj, key: string, value: JsonValue | undefined): Obj {
  if (value === obj[key] || value === undefined) return obj;
  const out = copyObj(obj);
  setOwn(out, key, value);
  return out;
}

// Values a credential's name can hold that are no credential, kept whole: a switch
// (`AUTH_ENABLED=true`), and the path of a file a credential is read from, under a name that ends
// in FILE, PATH or DIR: Docker's `_FILE` convention (`POSTGRES_PASSWORD_FILE=/run/secrets/db`),
// and what EKS injects into every pod it gives AWS credentials, IRSA's
// `AWS_WEB_IDENTITY_TOKEN_FILE=/var/run/secrets/eks.amazonaws.com/serviceaccount/token`
// (aws/amazon-eks-pod-identity-webhook, README) and Pod Identity's
// `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (EKS user guide, "EKS Pod Identity"). A URL under a
// name ending in URL, URI or ENDPOINT (`OAUTH_TOKEN_URL`) loses only its own credentials. And a
// quantity (a number, with a unit of time or size) under a name that says it counts or measures
// something (`SESSION_TIMEOUT=3600`, `TOKEN_TTL=15m`, `AUTH_MAX_RETRIES=5`): a password or key is
// no such name's value.
const QUANTITY = /^\d+(?:\.\d+)?(?:ms|s|m|h|d|k|ki|mi|gi|kb|mb|gb)?$/i;
const QUANTITY_WORDS = new Set(
  'timeout ttl interval expiry expires expiration duration period age max min size length len port count retries limit seconds secs ms'.split(
    ' ',
  ),
);

/** Whether one of the name's words (split at separators and camelCase) says it counts or measures: not `ADMIN` for `min`. */
function namesQuantity(name: string): boolean {
  for (const word of name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[-_.\s]+/))
    if (QUANTITY_WORDS.has(word)) return true;
  return false;
}
const SWITCH = /^(?:true|false|yes|no|on|off|enabled|disabled)$/i;
const PATH_NAME = /(?:file|path|dir)$/;
const URL_NAME = /(?:url|uri|endpoint)$/;
const ABSOLUTE_PATH = /^\/[\w./@:+-]*$/;

/** A value as kept under `name` (an env variable's, a ConfigMap key's). */
export function keptValue(name: string, value: string): string {
  if (!isCredentialParamName(name) || SWITCH.test(value)) return scrubTextUrls(value);
  const plain = name.toLowerCase().replace(/[-_.\s]/g, '');
  if (PATH_NAME.test(plain) && ABSOLUTE_PATH.test(value)) return value;
  if (QUANTITY.test(value) && namesQuantity(name)) return value;
  if (URL_NAME.test(plain)) return scrubTextUrls(value);
  return redactedValue(value);
}

/** One `env` entry as kept. */
function redactEnvVar(entry: JsonValue): JsonValue {
  if (!isJsonObject(entry)) return entry;
  const value = entry.value;
  if (typeof value !== 'string' || value === '') return entry;
  const name = entry.name;
  return withKey(entry, 'value', typeof name === 'string' ? keptValue(name, value) : scrubTextUrls(value));
}

function redactEnvList(env: JsonValue | undefined): JsonValue | undefined {
  return Array.isArray(env) ? mapSame(env, redactEnvVar) : env;
}

function redactArgList(list: JsonValue | undefined): JsonValue | undefined {
  if (!Array.isArray(list) || !list.every((v) => typeof v === 'string')) return list;
  const scrubbed = scrubArgv(list as string[]);
  return scrubbed === list ? list : (scrubbed as JsonValue[]);
}

/** A container as kept: its env values, command and args (see above). */
function redactContainer(container: JsonValue): JsonValue {
  if (!isJsonObject(container)) return container;
  let out = withKey(container, 'env', redactEnvList(container.env));
  // command and args are one command line: a flag at the end of command takes args' first word.
  const command = container.command;
  const args = container.args;
  if (
    Array.isArray(command) &&
    Array.isArray(args) &&
    command.every((v) => typeof v === 'string') &&
    args.every((v) => typeof v === 'string')
  ) {
    const whole = [...(command as string[]), ...(args as string[])];
    const scrubbed = scrubArgv(whole);
    if (scrubbed !== whole) {
      out = withKey(out, 'command', scrubbed.slice(0, command.length) as JsonValue[]);
      out = withKey(out, 'args', scrubbed.slice(command.length) as JsonValue[]);
    }
    return out;
  }
  out = withKey(out, 'command', redactArgList(command));
  return withKey(out, 'args', redactArgList(args));
}

const CONTAINER_LISTS = ['containers', 'initContainers', 'ephemeralContainers'] as const;

/** A PodSpec (or a patch of one) as kept. */
function redactPodSpec(spec: JsonValue | undefined): JsonValue | undefined {
  if (!isJsonObject(spec)) return spec;
  let out = spec;
  for (const key of CONTAINER_LISTS) {
    const list = spec[key];
    if (Array.isArray(list)) out = withKey(out, key, mapSame(list, redactContainer));
  }
  return out;
}

/** A `{spec: PodSpec}`-shaped template (PodTemplateSpec) as kept. */
function redactTemplate(template: JsonValue | undefined): JsonValue | undefined {
  return isJsonObject(template) ? withKey(template, 'spec', redactPodSpec(template.spec)) : template;
}

/**
 * An object as kept when it is, or holds at a known place, a pod spec: a Pod (`spec`), a
 * workload (`spec.template`), a CronJob (`spec.jobTemplate.spec.template`), a PodTemplate
 * (`template`); the same object when there is nothing to redact.
 */
function redactWorkload(obj: Obj, configMap: boolean): Obj {
  let out = obj;
  if (configMap || obj.kind === 'ConfigMap') {
    out = withKey(out, 'data', isHelmRelease(obj.metadata) ? redactHelmRelease(obj.data) : redactNamedValues(obj.data));
    out = withKey(out, 'binaryData', redactNamedValues(obj.binaryData));
  }
  const spec = obj.spec;
  if (isJsonObject(spec)) {
    let specOut = redactPodSpec(spec) as Obj;
    specOut = withKey(specOut, 'template', redactTemplate(spec.template));
    const job = spec.jobTemplate;
    if (isJsonObject(job) && isJsonObject(job.spec)) {
      specOut = withKey(specOut, 'jobTemplate', withKey(job, 'spec', withKey(job.spec, 'template', redactTemplate(job.spec.template))));
    }
    out = withKey(out, 'spec', specOut);
  }
  out = withKey(out, 'template', redactTemplate(obj.template));
  return withKey(out, 'metadata', redactLastApplied(obj.metadata));
}

// Helm's ConfigMap storage driver (`HELM_DRIVER=configmap`; Helm 2's Tiller by default) keeps each
// release revision in a ConfigMap as `data.release`: base64 of the gzipped release, which holds the
// values the user gave (`--set db.password=…`) and the rendered manifest, Secrets included. Helm
// labels it `owner: helm` (Helm 3, helm/helm pkg/storage/driver/cfgmaps.go, newConfigMapsObject) or
// `OWNER: TILLER` (Helm 2, same file). Its Secret driver (the default) is a Secret, redacted as one.
// No detection reads the compressed release, so it goes whole.
function isHelmRelease(metadata: JsonValue | undefined): boolean {
  if (!isJsonObject(metadata) || !isJsonObject(metadata.labels)) return false;
  return metadata.labels.owner === 'helm' || metadata.labels.OWNER === 'TILLER';
}

/** A Helm release ConfigMap's data: `release` becomes the marker, any other key by its name. */
function redactHelmRelease(map: JsonValue | undefined): JsonValue | undefined {
  const kept = redactNamedValues(map);
  if (!isJsonObject(kept) || typeof kept.release !== 'string' || kept.release === '') return kept;
  return withKey(kept, 'release', REDACTED);
}

/** A ConfigMap's data: the value of each key named for a credential becomes the marker; any other loses a URL's credentials and the values of its lines naming one. */
function redactNamedValues(map: JsonValue | undefined): JsonValue | undefined {
  if (!isJsonObject(map)) return map;
  let out: Obj | undefined;
  for (const key of Object.keys(map)) {
    const value = map[key];
    if (typeof value !== 'string' || value === '') continue;
    // A value under a credential's name goes whole; any other may be a file of pairs (redactPairLines).
    let kept = keptValue(key, value);
    if (!isCredentialParamName(key)) kept = redactPairLines(kept);
    if (kept !== value) {
      out ??= copyObj(map);
      setOwn(out, key, kept);
    }
  }
  return out ?? map;
}

// What a last-applied copy holding a credential the rows read must contain: a pod spec's or a
// ConfigMap's or Secret manifest's field, or an Argo CD, Argo Workflows, Flux or Tekton apiVersion
// (Helm values, parameters; a Kyverno policy's generated Secret has `"data"`). Not
// `"values"` alone: every node affinity's `matchExpressions` has one.
const LAST_APPLIED_MAY_HOLD = /"(?:env|args|command|data|binaryData|stringData)"|argoproj\.io\/|helm\.toolkit\.fluxcd\.io\/|tekton\.dev\//;

/** `metadata` whose last-applied-configuration (a JSON copy of the object kubectl applied) holds env or a command line, redacted. */
function redactLastApplied(metadata: JsonValue | undefined): JsonValue | undefined {
  if (!isJsonObject(metadata) || !isJsonObject(metadata.annotations)) return metadata;
  const text = metadata.annotations[LAST_APPLIED];
  if (typeof text !== 'string' || !LAST_APPLIED_MAY_HOLD.test(text)) return metadata;
  let kept: string;
  try {
    const parsed: unknown = JSON.parse(text);
    if (!isJsonObject(parsed)) return metadata;
    // An object applied by kubectl or Argo CD is copied here whole: a Crossplane Object's manifest
    // (redact.ts) and an Argo CD or Flux resource's Helm values (below) go as in the object.
    const embedding = isManifestHolder(parsed) ? redactManifestHolder(parsed) : redactGitOpsValues(parsed, gitOpsResourceOf(parsed));
    const withParams = redactParamValues(embedding, paramResourceOf(parsed));
    const redacted = redactPodBody(withParams, false);
    if (redacted === parsed) return metadata;
    kept = JSON.stringify(redacted);
  } catch {
    // Not JSON: nothing says where its values are, and the object's own fields are redacted.
    kept = REDACTED;
  }
  return withKey(metadata, 'annotations', withKey(metadata.annotations, LAST_APPLIED, kept));
}

// A JSON patch (RFC 6902) may set kubectl's last-applied-configuration annotation of any object,
// which copies the object (its env, its ConfigMap data): as the annotation itself
// (`/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration`, `/` escaped `~1` by
// RFC 6901), inside the annotations (`/metadata/annotations`) or inside the metadata (`/metadata`).
// Its value is redacted as the annotation is in a whole object (redactLastApplied).
const LAST_APPLIED_PATH = '/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration';

/** A JSON patch value under `/metadata` as kept, or undefined when the path is elsewhere. */
function redactMetadataPatchValue(path: string, value: JsonValue): JsonValue | undefined {
  if (path === '/metadata') return redactLastApplied(value);
  if (path === '/metadata/annotations') return isJsonObject(value) ? (redactLastApplied({ annotations: value }) as Obj).annotations : value;
  if (path === LAST_APPLIED_PATH) {
    const annotations: Obj = {};
    setOwn(annotations, LAST_APPLIED, value);
    return ((redactLastApplied({ annotations }) as Obj).annotations as Obj)[LAST_APPLIED];
  }
  return undefined;
}

/** A JSON patch operation's value as kept, by where it goes (`/spec/template/spec/containers/0/env/-`, …). */
function redactPatchOp(op: JsonValue): JsonValue {
  if (!isJsonObject(op) || !Object.hasOwn(op, 'value') || typeof op.path !== 'string') return op;
  const path = op.path;
  const value = op.value as JsonValue;
  let kept: JsonValue | undefined = redactMetadataPatchValue(path, value) ?? value;
  if (path.startsWith('/metadata')) {
    // Handled above: the metadata holds no pod spec.
  } else if (/\/(args|command)\/(\d+|-)$/.test(path)) {
    // One word of a command line: a `--db-password=…` in it goes by the command-line rule. A bare
    // word cannot be told from a file name or an address without its neighbours, which the patch
    // does not carry, and detections read these words (reverse-shell-command): it stays.
    kept = typeof value === 'string' ? (scrubArgv([value])[0] as string) : value;
  } else if (/\/env\/(\d+|-)\/value$/.test(path)) {
    // The entry's name is in the object, not the patch: a literal set there may be a credential.
    kept = typeof value === 'string' && value !== '' ? REDACTED : value;
  } else if (/\/env\/(\d+|-)$/.test(path)) kept = redactEnvVar(value);
  else if (path.endsWith('/env')) kept = redactEnvList(value);
  else if (/\/(args|command)$/.test(path)) kept = redactArgList(value);
  else if (/\/(containers|initContainers|ephemeralContainers)\/(\d+|-)$/.test(path)) kept = redactContainer(value);
  else if (/\/(containers|initContainers|ephemeralContainers)$/.test(path))
    kept = Array.isArray(value) ? mapSame(value, redactContainer) : value;
  else if (isJsonObject(value))
    kept =
      path.endsWith('/spec') && !path.endsWith('/template/spec')
        ? redactWorkload({ spec: value }, false).spec
        : redactPodBodyOrSpec(value, path);
  return withKey(op, 'value', kept);
}

function redactPodBodyOrSpec(value: Obj, path: string): JsonValue {
  if (path.endsWith('/template/spec')) return redactPodSpec(value) as JsonValue;
  if (path.endsWith('/template')) return redactTemplate(value) as JsonValue;
  return redactPodBody(value, false);
}

/**
 * A request or response body with the credentials of every pod spec in it redacted (see above):
 * the object, each item of a list, a watch event's object, a Table row's object, each operation
 * of a JSON patch. The same value when there is nothing to redact; never mutates.
 */
export function redactPodBody(value: JsonValue, configMap: boolean): JsonValue {
  if (Array.isArray(value)) return mapSame(value, configMap ? redactConfigMapPatchOp : redactPatchOp);
  if (!isJsonObject(value)) return value;
  // A list's items and a watch event's object carry no kind on the wire: where it was sent says.
  let out = redactWorkload(value, configMap && !Array.isArray(value.items) && !isJsonObject(value.object));
  const inner = (v: JsonValue) => redactPodBody(v, configMap);
  if (Array.isArray(value.items)) out = withKey(out, 'items', mapSame(value.items, inner));
  if (isJsonObject(value.object)) out = withKey(out, 'object', inner(value.object));
  if (Array.isArray(value.rows)) {
    out = withKey(
      out,
      'rows',
      mapSame(value.rows, (row) => (isJsonObject(row) && isJsonObject(row.object) ? withKey(row, 'object', inner(row.object)) : row)),
    );
  }
  return out;
}

/** A JSON patch operation sent to `configmaps`: `/data/<key>` by the key's name, `/data` by each. */
function redactConfigMapPatchOp(op: JsonValue): JsonValue {
  if (!isJsonObject(op) || !Object.hasOwn(op, 'value') || typeof op.path !== 'string') return op;
  const value = op.value as JsonValue;
  const metadata = redactMetadataPatchValue(op.path, value);
  if (metadata !== undefined) return withKey(op, 'value', metadata);
  // The whole document (RFC 6901: "" is the root): a ConfigMap, as sent to `configmaps`.
  if (op.path === '' && isJsonObject(value)) return withKey(op, 'value', redactPodBody(value, true));
  const m = /^\/(data|binaryData)(?:\/(.*))?$/.exec(op.path);
  if (m === null) return op;
  if (m[2] === undefined) return withKey(op, 'value', redactNamedValues(value));
  const key = m[2].replace(/~1/g, '/').replace(/~0/g, '~');
  return typeof value === 'string' && value !== '' ? withKey(op, 'value', keptValue(key, value)) : op;
}

// Helm values written into a GitOps controller's custom resource, in clear: Argo CD's Application
// and ApplicationSet carry them in every `helm` block of a source (`spec.source.helm`,
// `spec.sources[].helm`, the template's, and the copies Argo CD keeps in `status`:
// `sync.comparedTo`, `history[]`, `operationState`), as `parameters` (`{name, value}`, what
// `argocd app set -p auth.password=…` writes), `valuesObject` (a map) and `values` (the text of a
// values.yaml) (argo-cd docs/user-guide/helm.md, "Helm Parameters", "Values"); Flux's HelmRelease
// in `spec.values` (helm.toolkit.fluxcd.io, docs "HelmRelease": "Values holds the values for this
// Helm release"). A value goes by the name it is set under, as an env value does (keptValue):
// a parameter's `name` (`postgresql.auth.password`), a map's key at any depth (`postgresPassword`),
// a `key: value` line of the text; a `{name, value}` pair in the values (a chart's `extraEnv`)
// by its name. Other values stay (they are what a person reads to see what was deployed). A
// source's config management plugin gets `plugin.env` (`{name, value}`, the same docs'
// operator-manual/application.yaml): by the env rule. The text's values below their key (a block
// scalar, `password: |`) and in flow style are read too (redactPairLines). Not read: values Helm
// reads from a file (`valueFiles`, `valuesFrom`): references, not values.

// A key that names a reference to a Secret, not a value: Kubernetes' own `secretName` (a TLS
// block of an Ingress, a volume), `secretRef`, and the `existingSecret` charts take instead of a
// password (Bitnami's convention, `auth.existingSecret`). Argo CD's documented Application sets
// `tls[].secretName: mydomain-tls`.
function namesReference(key: string): boolean {
  const plain = key.toLowerCase().replace(/[-_.\s]/g, '');
  return plain.endsWith('name') || plain.endsWith('ref') || plain.startsWith('existing');
}

/** A value set under `key` in Helm values, as kept: by keptValue unless the key names a reference. */
function keptHelmValue(key: string, value: string): string {
  return namesReference(key) ? scrubTextUrls(value) : keptValue(key, value);
}

/** A values map (Helm's values.yaml as JSON) with each value under a credential's name redacted, at any depth. */
function redactValuesTree(value: JsonValue, key: string | null): JsonValue {
  if (typeof value === 'string') return key === null || value === '' ? value : keptHelmValue(key, value);
  // A number under a credential's name (`apiKey: 123456` in YAML) goes unless the name measures something.
  if (typeof value === 'number') return key === null || keptHelmValue(key, String(value)) === String(value) ? value : REDACTED;
  if (Array.isArray(value)) return mapSame(value, (v) => redactValuesTree(v, key));
  if (!isJsonObject(value)) return value;
  let out: Obj | undefined;
  for (const k of Object.keys(value)) {
    const v = value[k] as JsonValue;
    const kept = redactValuesTree(v, k);
    if (kept !== v) {
      out ??= copyObj(value);
      setOwn(out, k, kept);
    }
  }
  const result = out ?? value;
  // A name and its value (an env entry in the values): by the name.
  if (typeof value.name === 'string' && typeof result.value === 'string' && result.value !== '') {
    return withKey(result, 'value', keptHelmValue(value.name, result.value));
  }
  return result;
}

/**
 * A `key: value` line of YAML text (a block mapping's entry, or a sequence item's first one), or a
 * `key = value` line of a properties, INI or env file (`export KEY=value` too): the indentation,
 * an optional `- ` or `export `, the key, the separator, the value. A colon separates only when a
 * space follows it, as in YAML, so `http://…` and `host:port` are no pairs. Each part is bounded
 * by a character the next cannot start with, so a hostile line costs time linear in its length.
 */
const TEXT_PAIR = /^([ \t]*(?:-[ \t]+|export[ \t]+)?["']?)([\w.-]+)(["']?[ \t]*(?::[ \t]+|=[ \t]*))(\S.*)$/;
/**
 * Whether a text may hold a key the credential rule takes (redact-uri.ts): one of its words, in
 * any case, split or not by the separators the rule drops. A text without one has no pair to redact.
 */
const MAY_NAME_CREDENTIAL = new RegExp(CREDENTIAL_NAME_PATTERN, 'iu');
// A YAML key whose value starts on the next line: `password:` alone (a comment may follow).
const KEY_ALONE = /^([ \t]*(?:-[ \t]+)?["']?)([\w.-]+)["']?[ \t]*:[ \t]*(?:#.*)?$/;
// A block scalar's header (YAML 1.2, 8.1.1): `|` or `>`, a chomping and an indentation
// indicator in either order (`|-`, `>+`, `|2-`), then a comment; its text is the lines after.
const BLOCK_HEADER = /^[|>](?:[1-9]?[-+]?|[-+][1-9])(?:[ \t]+#.*)?$/;
// One `key: value` of a flow mapping (`{password: x, user: y}`), after its `{` or `,`: a value
// up to the next `,`, `}` or `]`, or quoted. The quoted forms come first so a comma inside the
// quotes stays in the value.
const FLOW_PAIR = /([{,][ \t]*["']?)([\w.-]+)(["']?[ \t]*:[ \t]+)("[^"]*"|'[^']*'|[^\s,{}[\]"'][^,{}[\]]*?)(?=[ \t]*[,}\]])/g;
const SEQUENCE_ITEM = /^([ \t]*-[ \t]+)(\S.*)$/;

/** The number of spaces or tabs `line` starts with. */
function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}

/** A flow mapping's text with the value of each pair under a credential's name as kept, at any depth. */
function redactFlowPairs(value: string): string {
  if (!value.includes('{')) return value;
  return value.replace(FLOW_PAIR, (whole, lead: string, key: string, sep: string, v: string) => {
    const kept = keptHelmValue(key, v);
    return kept === v ? whole : `${lead}${key}${sep}${kept}`;
  });
}

/**
 * Configuration text with the value of each `key: value` or `key = value` line whose key names a
 * credential as kept (keptHelmValue): Helm values' text, and a ConfigMap value holding a file
 * (Falco's k8saudit trace create_configmap_sensitive_values: `access.properties` with
 * `aws_secret_access_key = …`, the shape of the AWS CLI's credentials file). A YAML value on the
 * lines below its key (a block scalar `password: |` or `>-`, a plain or quoted scalar on the next
 * line, a list of scalars) becomes one marker line in its place, the key's line kept: argo-helm's
 * documented Argo CD values (charts/argo-cd/values.yaml, `configs.credentialTemplates`) set
 * `sshPrivateKey: |` and `githubAppPrivateKey: |` so. Each pair of a flow mapping
 * (`db: {password: x}`) is read too. A document separator (`---`) is a line like any other.
 */
function redactPairLines(text: string): string {
  // Most ConfigMap files (a Corefile, an nginx.conf, a leader record) name no credential: one
  // search for the words every credential's name holds spares them the split and the line reads.
  if ((!text.includes(':') && !text.includes('=')) || !MAY_NAME_CREDENTIAL.test(text)) return text;
  const lines = text.split('\n');
  let changed = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const m = TEXT_PAIR.exec(line);
    let below = false;
    let lead: string;
    let key: string;
    if (m === null) {
      const alone = KEY_ALONE.exec(line);
      if (alone === null) continue;
      [, lead, key] = alone as unknown as [string, string, string];
      below = true;
    } else {
      const [, l, k, sep, rest] = m as unknown as [string, string, string, string, string];
      lead = l;
      key = k;
      const value = rest.trimEnd();
      if (BLOCK_HEADER.test(value)) below = sep.includes(':');
      else {
        const kept = value.startsWith('{') ? redactFlowPairs(value) : keptHelmValue(key, value);
        if (kept !== value) {
          changed = true;
          lines[i] = `${lead}${key}${sep}${kept}${rest.slice(value.length)}`;
        }
        continue;
      }
    }
    if (!below || !isCredentialParamName(key) || namesReference(key)) continue;
    const end = valueLinesEnd(lines, i, lead.replace(/["']$/, '').length, m === null);
    if (end === i + 1) continue;
    const first = lines[i + 1] as string;
    // A key alone whose lines below are a mapping (or a list of mappings) is a structure: its
    // members are read on their own lines.
    if (m === null && (TEXT_PAIR.test(first) || KEY_ALONE.test(first))) continue;
    const item = m === null && SEQUENCE_ITEM.test(first);
    // One marker line, indented as the first, in the value's place: still YAML, the key kept.
    const marker = `${first.slice(0, indentOf(first))}${item ? '- ' : ''}${REDACTED}`;
    lines.splice(i + 1, end - i - 1, marker);
    changed = true;
  }
  return changed ? lines.join('\n') : text;
}

/**
 * Where the value below the key on line `at` ends (the index after its last line): the lines
 * after it, blank or indented deeper than the key's column; a key given alone may also take
 * a list at its own column (`key:` then `- a`, YAML's compact sequence). Trailing blank lines
 * are left out.
 */
function valueLinesEnd(lines: string[], at: number, column: number, alone: boolean): number {
  let end = at + 1;
  for (let j = at + 1; j < lines.length; j++) {
    const line = lines[j] as string;
    if (line.trim() === '') continue;
    const indent = indentOf(line);
    if (indent > column || (alone && indent === column && SEQUENCE_ITEM.test(line))) end = j + 1;
    else break;
  }
  return end;
}

/** One Argo CD `helm` block as kept. */
function redactHelmSource(helm: Obj): Obj {
  let out = withKey(
    helm,
    'parameters',
    Array.isArray(helm.parameters) ? mapSame(helm.parameters, (p) => redactValuesTree(p, null)) : helm.parameters,
  );
  if (helm.valuesObject !== undefined) out = withKey(out, 'valuesObject', redactValuesTree(helm.valuesObject as JsonValue, null));
  if (typeof helm.values === 'string') out = withKey(out, 'values', redactPairLines(helm.values));
  return out;
}

/** Every `helm` block anywhere in an Argo CD body, as kept. */
function redactHelmBlocks(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return mapSame(value, redactHelmBlocks);
  if (!isJsonObject(value)) return value;
  let out: Obj | undefined;
  for (const k of Object.keys(value)) {
    const v = value[k] as JsonValue;
    const kept =
      k === 'helm' && isJsonObject(v)
        ? redactHelmSource(v)
        : k === 'plugin' && isJsonObject(v)
          ? withKey(v, 'env', redactEnvList(v.env))
          : redactHelmBlocks(v);
    if (kept !== v) {
      out ??= copyObj(value);
      setOwn(out, k, kept);
    }
  }
  return out ?? value;
}

/** A Flux HelmRelease (or its list, or watch event) with its `spec.values` as kept. */
function redactFluxHelmRelease(value: Obj): Obj {
  if (Array.isArray(value.items))
    return withKey(
      value,
      'items',
      mapSame(value.items, (i) => (isJsonObject(i) ? redactFluxHelmRelease(i) : i)),
    );
  if (isJsonObject(value.object) && !isJsonObject(value.spec)) return withKey(value, 'object', redactFluxHelmRelease(value.object));
  const spec = value.spec;
  if (!isJsonObject(spec) || spec.values === undefined) return value;
  return withKey(value, 'spec', withKey(spec, 'values', redactValuesTree(spec.values as JsonValue, null)));
}

/** The resource an object of Argo CD's or Flux's Helm kinds is kept under, by its own apiVersion and kind (a copy in an annotation); null for any other. */
function gitOpsResourceOf(obj: Obj): string | null {
  const api = typeof obj.apiVersion === 'string' ? obj.apiVersion : '';
  if (api.startsWith('argoproj.io/'))
    return obj.kind === 'Application' ? 'applications' : obj.kind === 'ApplicationSet' ? 'applicationsets' : null;
  return api.startsWith('helm.toolkit.fluxcd.io/') && obj.kind === 'HelmRelease' ? 'helmreleases' : null;
}

/** The Helm values a body sent to Argo CD's or Flux's resources carries, as kept (see above); the same value when none is a credential. */
export function redactGitOpsValues(value: Obj, resource: string | null): Obj {
  if (resource === 'applications' || resource === 'applicationsets') return redactHelmBlocks(value) as Obj;
  if (resource === 'helmreleases') return redactFluxHelmRelease(value);
  return value;
}
