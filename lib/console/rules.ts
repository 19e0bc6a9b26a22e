import type { NormalisedRecord } from '../audit/index.js';

// What the alerts list shows as "rule" and "ATT&CK technique". The detection-rules work adds a
// list of matching rule ids to each record (`rule_ids`); a record without it (written before, or
// by a normaliser without rules) is shown with the severity row that made it high, which is the
// closest thing to a rule it has.

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

const TECHNIQUE_PATTERN = /^T\d{4}(\.\d{3})?$/;

/** The detection rule ids on a record, or `[severity_reason]` when it carries none. */
export function ruleIdsOf(record: NormalisedRecord): string[] {
  const ids = (record as unknown as { rule_ids?: unknown }).rule_ids;
  if (Array.isArray(ids)) {
    const strings = ids.filter((id): id is string => typeof id === 'string');
    if (strings.length > 0) return strings;
  }
  return [record.severity_reason];
}

/** The ATT&CK technique of a record: one the record names itself, else that of its severity row; null when neither. */
export function attackTechnique(record: NormalisedRecord): string | null {
  const own = (record as unknown as { attack_technique?: unknown }).attack_technique;
  if (typeof own === 'string' && TECHNIQUE_PATTERN.test(own)) return own;
  return TECHNIQUE_OF_REASON[record.severity_reason] ?? null;
}
