import type { JsonObject, JsonValue, Severity } from '../audit/types.js';
import { closestName } from '../edit-distance.js';
import { isJsonObject } from '../json.js';
import {
  ROUTINE_LISTS,
  type RoutineEntry,
  type RoutineList,
  type RuleDisable,
  type RuleExamples,
  type RuleFileContent,
  type RuleMatch,
  type RuleSpec,
} from './types.js';

/** A pack that cannot be used: every problem named with its file and rule id, as init reports it. */
export class RulePackError extends Error {
  override name = 'RulePackError';
  constructor(readonly problems: string[]) {
    super(`invalid detection rules: ${problems.join('; ')}`);
  }
}

/**
 * The operators' rules directory itself is wrong: it cannot be read (missing, not a directory,
 * no permission) or holds no rule file. A configuration error for every command (exit 2), where a
 * rule that does not compile is `rules test`'s finding (exit 1).
 */
export class RulesDirError extends RulePackError {
  override name = 'RulesDirError';
}

const SEVERITIES = new Set<Severity>(['info', 'low', 'medium', 'high']);
const ID = /^[a-z0-9][a-z0-9-]{0,79}$/;
const TECHNIQUE = /^T\d{4}(\.\d{3})?$/;
const RULE_KEYS = new Set(['id', 'title', 'severity', 'description', 'mitre', 'source', 'match', 'condition', 'examples', 'disabled']);

function stringList(v: unknown): string[] | null {
  return Array.isArray(v) && v.every((s) => typeof s === 'string' && s !== '') ? (v as string[]) : null;
}

/**
 * Reads one pack file (YAML or JSON: `rules: [...]`) into rule specs and disables. Rejects with a
 * `RulePackError` naming every problem, each as `<file>: <id>: <problem>`.
 */
export async function parseRuleFile(text: string, file: string): Promise<(RuleSpec | RuleDisable)[]> {
  return (await parseOperatorFile(text, file)).entries;
}

/**
 * Reads one operators' file (YAML or JSON): its `rules` list and its `routine` section, either or
 * both. Rejects like `parseRuleFile`, a routine entry's problem as `<file>: routine.<list>[<n>] ...`.
 */
export async function parseOperatorFile(text: string, file: string): Promise<RuleFileContent> {
  // Imported here, not at the top: only operators' rule files need a YAML parser (the shipped pack
  // is parsed at build time), and its 120 KB cost every Lambda's init about 20 ms
  // (docs/performance.md, "Cold start").
  const yaml = await import('yaml');
  // Bundled, a CommonJS package imported on demand arrives as its `module.exports` under `default`.
  const parseYaml = yaml.parse ?? (yaml as unknown as { default: typeof yaml }).default.parse;
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new RulePackError([`${file}: not valid YAML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`]);
  }
  return readOperatorDocument(doc, file);
}

/** Reads a pack file's parsed document (`{rules: [...]}`); throws like `parseRuleFile`. */
export function readRuleDocument(doc: unknown, file: string): (RuleSpec | RuleDisable)[] {
  if (!isJsonObject(doc) || !Array.isArray(doc.rules)) throw new RulePackError([`${file}: expected a mapping with a "rules" list`]);
  const problems: string[] = [];
  const out = readRules(doc.rules, file, problems);
  if (problems.length > 0) throw new RulePackError(problems);
  return out;
}

/**
 * The keys of `obj` outside `known`, each quoted and followed by the known key it is likely a
 * typo of (`"routines": did you mean routine?`), for the sections of an operators' file.
 */
function unknownKeys(obj: JsonObject, known: readonly string[]): string[] {
  return Object.keys(obj)
    .filter((key) => !known.includes(key))
    .map((key) => {
      const near = closestName(key, known);
      return `${JSON.stringify(key)}${near === null ? '' : `: did you mean ${near}?`}`;
    });
}

/** The top-level keys of an operators' rule file. */
const OPERATOR_FILE_KEYS: readonly string[] = ['rules', 'routine'];

/**
 * Reads an operators' file's parsed document: `rules: [...]`, `routine: {...}`, or both (a file
 * may hold only the cluster's routine identities). Throws like `parseRuleFile`, every problem of
 * both sections at once. Any other top-level key is refused: it is read by nothing, and a typo
 * (`routines:`) would leave the operator believing a section is in force while it is dropped.
 */
export function readOperatorDocument(doc: unknown, file: string): RuleFileContent {
  if (!isJsonObject(doc)) throw new RulePackError([`${file}: expected a mapping with a "rules" list, a "routine" section, or both`]);
  const problems: string[] = [];
  for (const key of unknownKeys(doc, OPERATOR_FILE_KEYS)) {
    problems.push(`${file}: unknown top-level key ${key} (a rule file holds "rules", "routine", or both)`);
  }
  const hasRoutine = doc.routine !== undefined;
  if ((doc.rules === undefined && !hasRoutine) || (doc.rules !== undefined && !Array.isArray(doc.rules))) {
    throw new RulePackError([...problems, `${file}: expected a mapping with a "rules" list, a "routine" section, or both`]);
  }
  const entries = Array.isArray(doc.rules) ? readRules(doc.rules, file, problems) : [];
  const routine = hasRoutine ? readRoutine(doc.routine as JsonValue, file, problems) : [];
  if (problems.length > 0) throw new RulePackError(problems);
  return { entries, routine };
}

function readRules(rules: readonly JsonValue[], file: string, problems: string[]): (RuleSpec | RuleDisable)[] {
  const out: (RuleSpec | RuleDisable)[] = [];
  rules.forEach((raw, i) => {
    const where = `${file}: ${isJsonObject(raw) && typeof raw.id === 'string' ? raw.id : `rule #${i + 1}`}`;
    const rule = readRule(raw, file, (p) => problems.push(`${where}: ${p}`));
    if (rule !== null) out.push(rule);
  });
  return out;
}

const ROUTINE_LIST_NAMES = Object.keys(ROUTINE_LISTS) as RoutineList[];
// Kubernetes' built-in group names (kubernetes/kubernetes staging/src/k8s.io/apiserver
// pkg/authentication/user/user.go; serviceaccount.MakeNamespaceGroupName): never a user name.
const GROUP_NAME = /^system:(authenticated|unauthenticated|masters|nodes|serviceaccounts(:.*)?|bootstrappers(:.*)?)$/;
const SA_PREFIX = 'system:serviceaccount:';
// A namespace is a DNS-1123 label, a service account's name a DNS-1123 subdomain (Kubernetes API
// reference, ObjectMeta.name; pkg/apis/core/validation ValidateServiceAccountName).
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const SA_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/**
 * Why `user` cannot be declared routine, or null when it can. Only exact names: a wildcard would
 * take in an identity named like the add-on in any namespace, which anyone who can create a
 * service account there holds. A node's identity and the anonymous user are refused outright.
 */
function routineUserProblem(user: JsonValue): string | null {
  if (typeof user !== 'string' || user.trim() === '') return 'an empty name; list exact user names';
  if (user !== user.trim()) return 'has spaces around it; user names in audit events have none, so it would never match';
  if (user.includes('*'))
    return "a wildcard; only exact names are accepted: the same name in another namespace (or any name a pattern takes in) is anyone's identity";
  if (user.startsWith('system:node:'))
    return "a node's identity; a pod that escapes to its host holds the node's credentials, and the kubelets' routine traffic is already recognised";
  if (user === 'system:anonymous') return 'the unauthenticated user; anyone who reaches the API server is it';
  if (GROUP_NAME.test(user)) return 'a group name, not a user name; list the exact user names';
  if (user.startsWith(SA_PREFIX)) {
    const [namespace, name, ...more] = user.slice(SA_PREFIX.length).split(':');
    if (more.length > 0 || namespace === undefined || name === undefined || !NAMESPACE.test(namespace) || !SA_NAME.test(name))
      return 'not a service account name; write system:serviceaccount:<namespace>:<name>';
  }
  return null;
}

/** The `routine` section: `{secret_watchers: [user, ...], node_drainers: [user, ...], webhook_ca_injectors: [user, ...]}`, each optional. */
function readRoutine(raw: JsonValue, file: string, problems: string[]): RoutineEntry[] {
  if (!isJsonObject(raw)) {
    problems.push(
      `${file}: routine: must be a mapping with secret_watchers, node_drainers and/or webhook_ca_injectors lists of user names`,
    );
    return [];
  }
  const out: RoutineEntry[] = [];
  for (const key of unknownKeys(raw, ROUTINE_LIST_NAMES))
    problems.push(`${file}: routine: unknown key ${key} (${ROUTINE_LIST_NAMES.join(', ')})`);
  for (const list of ROUTINE_LIST_NAMES) {
    const users = raw[list];
    if (users === undefined) continue;
    if (!Array.isArray(users)) {
      problems.push(`${file}: routine.${list}: must be a list of user names`);
      continue;
    }
    users.forEach((user, i) => {
      const problem = routineUserProblem(user);
      if (problem === null) out.push({ list, user: user as string, file });
      else problems.push(`${file}: routine.${list}[${i}] ${JSON.stringify(user)}: ${problem}`);
    });
  }
  return out;
}

function readRule(raw: JsonValue, file: string, problem: (p: string) => void): RuleSpec | RuleDisable | null {
  if (!isJsonObject(raw)) {
    problem('a rule must be a mapping');
    return null;
  }
  const before = { n: 0 };
  const bad = (p: string) => {
    before.n++;
    problem(p);
  };
  for (const key of Object.keys(raw)) if (!RULE_KEYS.has(key)) bad(`unknown key "${key}"`);
  const id = raw.id;
  if (typeof id !== 'string' || !ID.test(id)) bad('id must be lower-case letters, digits and dashes (at most 80)');
  if (raw.disabled !== undefined) {
    if (raw.disabled !== true) bad('disabled must be true when present');
    else if (Object.keys(raw).some((k) => k !== 'id' && k !== 'disabled')) bad('a disabling entry has only id and disabled: true');
    return before.n === 0 ? { id: id as string, disabled: true, file } : null;
  }
  for (const key of ['title', 'description', 'source', 'condition'] as const) {
    if (typeof raw[key] !== 'string' || (raw[key] as string).trim() === '') bad(`${key} must be a non-empty string`);
  }
  if (typeof raw.severity !== 'string' || !SEVERITIES.has(raw.severity as Severity)) bad('severity must be one of info, low, medium, high');
  const mitre = stringList(raw.mitre);
  if (mitre === null || mitre.length === 0 || !mitre.every((t) => TECHNIQUE.test(t)))
    bad('mitre must list ATT&CK technique ids such as T1098 or T1611.001');
  const match = readMatch(raw.match, bad);
  const examples = readExamples(raw.examples, bad);
  if (before.n > 0 || match === null || examples === null) return null;
  return {
    id: id as string,
    title: (raw.title as string).trim(),
    severity: raw.severity as Severity,
    description: (raw.description as string).trim(),
    mitre: mitre as string[],
    source: (raw.source as string).trim(),
    match,
    condition: (raw.condition as string).trim(),
    examples,
    file,
  };
}

function readMatch(raw: JsonValue | undefined, bad: (p: string) => void): RuleMatch | null {
  if (!isJsonObject(raw)) {
    bad('match must be a mapping with verbs and resources');
    return null;
  }
  const verbs = stringList(raw.verbs);
  const resources = stringList(raw.resources);
  if (verbs === null || verbs.length === 0) bad('match.verbs must list audit verbs (or "*")');
  if (resources === null || resources.length === 0) bad('match.resources must list resources such as pods, pods/exec, pods/* (or "*")');
  if (resources?.some((r) => r.split('/').length > 2)) bad('match.resources entries are resource or resource/subresource');
  const who: Pick<RuleMatch, 'users' | 'groups'> = {};
  for (const key of ['users', 'groups'] as const) {
    if (raw[key] === undefined) continue;
    const list = stringList(raw[key]);
    if (list === null || list.length === 0) bad(`match.${key} must list names (a trailing * matches a prefix) when present`);
    else who[key] = list;
  }
  for (const key of Object.keys(raw)) if (!['verbs', 'resources', 'users', 'groups'].includes(key)) bad(`unknown key "match.${key}"`);
  return verbs === null || resources === null ? null : { verbs, resources, ...who };
}

function readExamples(raw: JsonValue | undefined, bad: (p: string) => void): RuleExamples | null {
  if (!isJsonObject(raw)) {
    bad('examples must be a mapping with match and no_match lists of audit events');
    return null;
  }
  const match = raw.match;
  const noMatch = raw.no_match;
  const ok = (v: unknown): v is JsonObject[] => Array.isArray(v) && v.length > 0 && v.every(isJsonObject);
  if (!ok(match)) bad('examples.match must list at least one audit event the rule fires on');
  if (!ok(noMatch)) bad('examples.no_match must list at least one audit event the rule must not fire on');
  return ok(match) && ok(noMatch) ? { match, no_match: noMatch } : null;
}
