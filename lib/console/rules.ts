import type { DetectionRules, NormalisedRecord } from '../audit/index.js';

// What the alerts list shows as "rule" and "ATT&CK": the detection rules that fired on the
// record (`rule_ids`) and the MITRE techniques their entries in the ingest's pack name. A record no rule fired
// on (high by the severity table alone, or stored before rules existed) shows the table row
// that made it high, and that row's technique.

/**
 * MITRE ATT&CK technique of each high-severity row of the severity table (source: MITRE ATT&CK,
 * Containers matrix, attack.mitre.org/matrices/enterprise/containers/): exec/attach/port-forward
 * into a pod is Container Administration Command; creating or binding roles and service-account
 * credentials is Account Manipulation; reading every secret through the API is Unsecured
 * Credentials: Container API; acting through impersonation is use of Valid Accounts.
 */
const TECHNIQUE_OF_REASON: Readonly<Record<string, string>> = {
  'pod-interactive-access': 'T1609',
  'rbac-binding-change': 'T1098',
  'sensitive-resource-change': 'T1098',
  'cluster-wide-secrets-read': 'T1552.007',
  impersonation: 'T1078',
};

/** Looks a rule up by id in the pack the ingest runs (the shipped one, or the operator's). */
export type DescribeRule = NonNullable<DetectionRules['describe']>;

/** The detection rule ids on a record, or `[severity_reason]` when none fired (or it was stored before rules). */
export function ruleIdsOf(record: NormalisedRecord): string[] {
  const ids: unknown = record.rule_ids;
  if (Array.isArray(ids)) {
    const strings = ids.filter((id): id is string => typeof id === 'string');
    if (strings.length > 0) return strings;
  }
  return [record.severity_reason];
}

/** The ATT&CK techniques of a record's rules, in order without repeats; else its severity row's; else none. */
export function attackTechniques(record: NormalisedRecord, describe?: DescribeRule): string[] {
  const out = new Set<string>();
  for (const id of ruleIdsOf(record)) for (const t of describe?.(id)?.mitre ?? []) out.add(t);
  if (out.size === 0) {
    const own = TECHNIQUE_OF_REASON[record.severity_reason];
    if (own !== undefined) out.add(own);
  }
  return [...out];
}
