/**
 * The MITRE ATT&CK techniques the shipped rules and the severity table name, with the tactics
 * ATT&CK lists for each, so a finding's `attacks[]` pairs every technique with a tactic that is
 * really its own (a SIEM groups alerts by tactic; OCSF's attack object is one technique and one
 * tactic). Source: ATT&CK Enterprise v17 (April 2025), the technique pages' "Tactics" line
 * (attack.mitre.org/techniques/<id>/); sub-techniques carry their parent's tactics there.
 * Tactics are listed in ATT&CK's kill-chain order. A technique an operator's rule names that is
 * not here keeps its id without a tactic (test/unit/rules/attack.test.ts checks the shipped pack
 * names none outside this table).
 */
export const ATTACK_VERSION = 'v17';

const TACTICS = {
  TA0001: 'Initial Access',
  TA0002: 'Execution',
  TA0003: 'Persistence',
  TA0004: 'Privilege Escalation',
  TA0005: 'Defense Evasion',
  TA0006: 'Credential Access',
  TA0007: 'Discovery',
  TA0008: 'Lateral Movement',
  TA0009: 'Collection',
  TA0011: 'Command and Control',
  TA0040: 'Impact',
} as const;

export type TacticId = keyof typeof TACTICS;

interface Technique {
  name: string;
  /** The parent's tactics for a sub-technique (ATT&CK lists the same). */
  tactics: readonly TacticId[];
}

const VALID_ACCOUNTS: readonly TacticId[] = ['TA0001', 'TA0003', 'TA0004', 'TA0005'];

export const TECHNIQUES: Readonly<Record<string, Technique>> = {
  T1036: { name: 'Masquerading', tactics: ['TA0005'] },
  'T1036.005': { name: 'Match Legitimate Resource Name or Location', tactics: ['TA0005'] },
  T1059: { name: 'Command and Scripting Interpreter', tactics: ['TA0002'] },
  'T1059.004': { name: 'Unix Shell', tactics: ['TA0002'] },
  T1068: { name: 'Exploitation for Privilege Escalation', tactics: ['TA0004'] },
  T1069: { name: 'Permission Groups Discovery', tactics: ['TA0007'] },
  T1070: { name: 'Indicator Removal', tactics: ['TA0005'] },
  T1078: { name: 'Valid Accounts', tactics: VALID_ACCOUNTS },
  'T1078.001': { name: 'Default Accounts', tactics: VALID_ACCOUNTS },
  'T1078.004': { name: 'Cloud Accounts', tactics: VALID_ACCOUNTS },
  T1090: { name: 'Proxy', tactics: ['TA0011'] },
  T1095: { name: 'Non-Application Layer Protocol', tactics: ['TA0011'] },
  T1098: { name: 'Account Manipulation', tactics: ['TA0003', 'TA0004'] },
  'T1098.006': { name: 'Additional Container Cluster Roles', tactics: ['TA0003', 'TA0004'] },
  T1133: { name: 'External Remote Services', tactics: ['TA0001', 'TA0003'] },
  T1190: { name: 'Exploit Public-Facing Application', tactics: ['TA0001'] },
  T1485: { name: 'Data Destruction', tactics: ['TA0040'] },
  T1496: { name: 'Resource Hijacking', tactics: ['TA0040'] },
  T1528: { name: 'Steal Application Access Token', tactics: ['TA0006'] },
  T1546: { name: 'Event Triggered Execution', tactics: ['TA0003', 'TA0004'] },
  T1548: { name: 'Abuse Elevation Control Mechanism', tactics: ['TA0004', 'TA0005'] },
  'T1548.001': { name: 'Setuid and Setgid', tactics: ['TA0004', 'TA0005'] },
  T1550: { name: 'Use Alternate Authentication Material', tactics: ['TA0005', 'TA0008'] },
  'T1550.001': { name: 'Application Access Token', tactics: ['TA0005', 'TA0008'] },
  T1552: { name: 'Unsecured Credentials', tactics: ['TA0006'] },
  'T1552.001': { name: 'Credentials In Files', tactics: ['TA0006'] },
  'T1552.007': { name: 'Container API', tactics: ['TA0006'] },
  T1557: { name: 'Adversary-in-the-Middle', tactics: ['TA0006', 'TA0009'] },
  T1562: { name: 'Impair Defenses', tactics: ['TA0005'] },
  'T1562.001': { name: 'Disable or Modify Tools', tactics: ['TA0005'] },
  'T1562.007': { name: 'Disable or Modify Cloud Firewall', tactics: ['TA0005'] },
  T1565: { name: 'Data Manipulation', tactics: ['TA0040'] },
  'T1565.002': { name: 'Transmitted Data Manipulation', tactics: ['TA0040'] },
  T1609: { name: 'Container Administration Command', tactics: ['TA0002'] },
  T1610: { name: 'Deploy Container', tactics: ['TA0002', 'TA0005'] },
  T1611: { name: 'Escape to Host', tactics: ['TA0004'] },
  T1613: { name: 'Container and Resource Discovery', tactics: ['TA0007'] },
};

type Obj = { [key: string]: string | Obj };

const url = (kind: 'techniques' | 'tactics', path: string) => `https://attack.mitre.org/${kind}/${path}/`;

/**
 * The OCSF attack objects (1.8.0 `attack`) of a list of technique ids: one per technique and
 * tactic ATT&CK lists for it, the sub-technique beside its parent technique as OCSF 1.1+ splits
 * them. A parent named beside one of its sub-techniques is left out: the sub-technique's entries
 * already carry it, and the same technique twice would count twice in a SIEM's tactic view.
 */
export function attacksOf(ids: Iterable<string>): Obj[] {
  const unique = [...new Set(ids)];
  const out: Obj[] = [];
  for (const id of unique) {
    const [parent, sub] = id.split('.') as [string, string | undefined];
    if (sub === undefined && unique.some((other) => other.startsWith(`${parent}.`))) continue;
    const base: Obj = { technique: { uid: parent, src_url: url('techniques', parent) } };
    const parentName = TECHNIQUES[parent]?.name;
    if (parentName !== undefined) (base.technique as Obj).name = parentName;
    if (sub !== undefined) {
      base.sub_technique = { uid: id, src_url: url('techniques', `${parent}/${sub}`) };
      const subName = TECHNIQUES[id]?.name;
      if (subName !== undefined) (base.sub_technique as Obj).name = subName;
    }
    const tactics = TECHNIQUES[id]?.tactics ?? [];
    if (tactics.length === 0) out.push(base);
    for (const tactic of tactics)
      out.push({ ...base, tactic: { uid: tactic, name: TACTICS[tactic], src_url: url('tactics', tactic) }, version: ATTACK_VERSION });
  }
  return out;
}
