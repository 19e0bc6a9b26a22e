import { afterAll, describe, expect, it } from 'vitest';
import { falcoEvents } from '../helpers/fixtures.js';
import { runCli, tempDataDir } from '../helpers/ingest.js';
import { type StoredAlert, throughServe } from '../helpers/through-serve.js';

// Falco's public trace of `kubectl create clusterrolebinding ... --clusterrole=cluster-admin`
// (test/fixtures/falco, falcosecurity/plugins): the table's row 2 (rbac-binding-change) and the
// cluster-admin-binding rule both make it high. The analyst reading `events --alerts` sees the rule.
describe('events --alerts names the rule that fired as high as the table row', () => {
  const tmp = tempDataDir('aisoc-alerts-rule-');
  afterAll(() => tmp.remove());

  it('RULE column, finding analytic and record agree on cluster-admin-binding; the row stays the reason', async () => {
    const got = await throughServe(tmp.dir, 'alerts-rule-secret', 'falco', falcoEvents('attach_cluster_admin_role.json'));
    expect(got.status).toBe(200);
    const high = got.alerts.filter((a: StoredAlert) => a.rule_ids.includes('cluster-admin-binding'));
    expect(high).toHaveLength(1);
    const alert = high[0] as StoredAlert;
    expect(alert.severity_reason).toBe('rbac-binding-change');
    expect(alert.finding.finding_info.analytic.uid).toBe('cluster-admin-binding');
    expect(alert.finding.finding_info.related_analytics?.map((a) => a.uid)).toEqual(['rbac-binding-change']);

    const { code, stdout } = await runCli(['events', '--alerts', '--data-dir', tmp.dir]);
    expect(code).toBe(0);
    const [header, ...rows] = stdout.trimEnd().split('\n');
    const at = header?.indexOf('RULE') ?? -1;
    expect(at).toBeGreaterThan(0);
    const row = rows.find((l) => l.includes('clusterrolebindings'));
    expect(row?.slice(at).split(/\s{2,}/)[0]).toBe('cluster-admin-binding');
    expect(stdout).not.toContain('severity table:');
  });
});
