import type { JsonObject, RoutineIdentities, Severity } from '../audit/types.js';

/** Events that must (`match`) and must not (`no_match`) fire a rule; run by `rules test`. */
export interface RuleExamples {
  match: JsonObject[];
  no_match: JsonObject[];
}

/** Which requests a rule is evaluated on, as ValidatingAdmissionPolicy's `matchConstraints` name them. */
export interface RuleMatch {
  /** Audit verbs (`create`, `get`, ...), or `*` for any. */
  verbs: string[];
  /** `pods` (no subresource), `pods/exec`, `pods/*` (any subresource), `*` (anything, non-resource URLs too). */
  resources: string[];
  /**
   * Optional: evaluate only for these user names (exact, or a prefix ending in `*`) or members of
   * these groups. Absent: any user. Lets rules about who asks skip every other request unseen.
   */
  users?: string[];
  groups?: string[];
}

/** One detection rule as written in a pack file, checked but not compiled. */
export interface RuleSpec {
  id: string;
  title: string;
  severity: Severity;
  description: string;
  /** MITRE ATT&CK technique ids (T1098, T1611.001, ...). */
  mitre: string[];
  /** The public rule this one follows, named (repository, file, rule title). */
  source: string;
  match: RuleMatch;
  /** A CEL expression over the audit event that yields a bool. */
  condition: string;
  examples: RuleExamples;
  /** Where the rule was read from, for error messages and `rules list`. */
  file: string;
}

/** An operator's entry that turns a shipped rule off: `{id, disabled: true}`. */
export interface RuleDisable {
  id: string;
  disabled: true;
  file: string;
}

/**
 * Which built-in set of routine identities an operator's entry adds to (`routine:` in a rule
 * file): each list's name in the file, and the set of `RoutineIdentities` it adds to.
 */
export const ROUTINE_LISTS = {
  secret_watchers: 'secretWatchers',
  node_drainers: 'nodeDrainers',
  webhook_ca_injectors: 'webhookCaInjectors',
} as const satisfies Record<string, keyof RoutineIdentities>;
export type RoutineList = keyof typeof ROUTINE_LISTS;

/** One identity an operators' file declares routine: exact user name, where it was read from. */
export interface RoutineEntry {
  list: RoutineList;
  user: string;
  file: string;
}

/** What one operators' rule file holds: rules (overrides, disables, additions) and routine identities. */
export interface RuleFileContent {
  entries: (RuleSpec | RuleDisable)[];
  routine: RoutineEntry[];
}
