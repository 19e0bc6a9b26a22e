import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { TECHNIQUES } from '../../../lib/audit/attack.js';
import { normaliseAuditEvent, shippedDetection, toDetectionFinding } from '../../../lib/audit/index.js';
import { falcoEvent } from '../../helpers/fixtures.js';
import { findingErrors } from '../../helpers/ocsf.js';

const RULES = join(import.meta.dirname, '..', '..', '..', 'rules');

describe('ATT&CK techniques of the shipped rules', () => {
  it('every technique a shipped rule names is one the tactics table knows, so its findings carry a tactic', () => {
    const named = readdirSync(RULES)
      .filter((f) => f.endsWith('.yaml'))
      .flatMap((f) =>
        (parse(readFileSync(join(RULES, f), 'utf8')) as { rules: { mitre?: string[] }[] }).rules.flatMap((r) => r.mitre ?? []),
      );
    expect(named.length).toBeGreaterThan(20);
    expect([...new Set(named)].filter((id) => TECHNIQUES[id] === undefined)).toEqual([]);
  });

  it("the severity table's exec row (Falco's exec trace) names T1609 under Execution, ATT&CK's only tactic for it", () => {
    const ctx = { tenantId: 'acme', clusterName: 'prod', receivedAt: 0 };
    const finding = toDetectionFinding(normaliseAuditEvent(falcoEvent('exec_pod.json'), ctx), (id) =>
      shippedDetection().rules?.describe?.(id),
    );
    expect(findingErrors(finding)).toEqual([]);
    expect((finding.finding_info as { attacks: unknown[] }).attacks).toEqual([
      {
        technique: { uid: 'T1609', name: 'Container Administration Command', src_url: 'https://attack.mitre.org/techniques/T1609/' },
        tactic: { uid: 'TA0002', name: 'Execution', src_url: 'https://attack.mitre.org/tactics/TA0002/' },
        version: 'v17',
      },
    ]);
  });
});
