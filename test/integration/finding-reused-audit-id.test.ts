import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../lib/audit/index.js';
import { withRules } from '../../lib/ingest/config.js';
import { createIngestService } from '../../lib/ingest/create.js';
import { falcoEvent } from '../helpers/fixtures.js';
import { eventList, ingestConfig, runCli, SECRET, tempDataDir } from '../helpers/ingest.js';
import { findingErrors } from '../helpers/ocsf.js';

// A client that sends its own Audit-ID can put a second request under the auditID of a first
// (docs/record.md, "A reused auditID"). The second is stored flagged `reused-audit-id` and, being
// high, is alerted: its finding must still say what the request did (Falco's exec trace), not
// only that its auditID was reused.
describe('the finding of an alert flagged reused-audit-id', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  const exec = falcoEvent('exec_pod.json') as AuditEvent;
  const second = { ...exec, userAgent: 'curl/8.5.0' } as AuditEvent;

  beforeAll(async () => {
    tmp = tempDataDir();
    const service = await createIngestService(
      await withRules(ingestConfig({ AISOC_DATA_DIR: tmp.dir, EVENTS_SINK: 'sqlite', ALERTS_SINK: 'sqlite', REJECTS_SINK: 'sqlite' })),
    );
    for (const event of [exec, second]) {
      const answer = await service.handle({
        method: 'POST',
        path: '/v1/ingest/k8s-audit/acme',
        query: new URLSearchParams(),
        headers: { 'x-aisoc-k8s-token': SECRET, 'x-aisoc-cluster-name': 'prod', 'content-type': 'application/json' },
        body: Buffer.from(eventList([event])),
      });
      expect(answer.status).toBe(200);
    }
    await service.close();
  });
  afterAll(() => tmp.remove());

  it("names the reuse as the analytic and the request's own row as title, description and techniques", async () => {
    const { code, stdout } = await runCli(['events', '--alerts', '--json', '--data-dir', tmp.dir]);
    type Finding = {
      finding_info: {
        title: string;
        desc: string;
        analytic: { uid: string };
        related_analytics?: { uid: string }[];
        attacks?: { technique: { uid: string }; tactic?: { name: string } }[];
      };
    };
    const alerts = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { severity_reason: string; finding: Finding });
    const reused = alerts.find((a) => a.severity_reason === 'reused-audit-id')?.finding;
    const first = alerts.find((a) => a.severity_reason === 'pod-interactive-access')?.finding;

    expect(code).toBe(0);
    expect(alerts).toHaveLength(2);
    expect(findingErrors(reused)).toEqual([]);
    expect(reused?.finding_info).toMatchObject({
      title: 'Interactive access to a pod (audit ID reused by another event)',
      analytic: { uid: 'reused-audit-id' },
      related_analytics: [{ uid: 'pod-interactive-access' }],
      attacks: [{ technique: { uid: 'T1609' }, tactic: { name: 'Execution' } }],
    });
    expect(reused?.finding_info.desc).toMatch(/Audit-ID header.*exec, attach, port-forward or proxy/);
    expect(first?.finding_info.attacks).toEqual(reused?.finding_info.attacks);
  });
});
