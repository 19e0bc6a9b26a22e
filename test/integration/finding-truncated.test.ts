import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditEvent, salvageCutLine } from '../../lib/audit/index.js';
import { withRules } from '../../lib/ingest/config.js';
import { createIngestService } from '../../lib/ingest/create.js';
import { FIXTURES, falcoEvent } from '../helpers/fixtures.js';
import { eventList, ingestConfig, runCli, SECRET, tempDataDir } from '../helpers/ingest.js';
import { findingErrors } from '../helpers/ocsf.js';

// A line cut at the CloudWatch Logs event-size limit is salvaged by the forwarder (and the tailer)
// and sent flagged audit.k8s.io/truncated (docs/forwarder.md). Its alert's finding must say the
// evidence is partial. Falco's create_secret trace, written in the apiserver's field order, cut
// inside responseStatus: who created which Secret survives, the rest does not.
describe('the finding of an alert on a salvaged, truncated event', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  const text = readFileSync(join(FIXTURES, 'falco', 'create_secret.json'));
  const salvaged = salvageCutLine(text.subarray(0, text.indexOf('"responseStatus"') + 20), null);
  const whole = falcoEvent('attach_cluster_admin_role.json') as AuditEvent;

  beforeAll(async () => {
    tmp = tempDataDir();
    const service = await createIngestService(
      await withRules(ingestConfig({ AISOC_DATA_DIR: tmp.dir, EVENTS_SINK: 'sqlite', ALERTS_SINK: 'sqlite', REJECTS_SINK: 'sqlite' })),
    );
    const answer = await service.handle({
      method: 'POST',
      path: '/v1/ingest/k8s-audit/acme',
      query: new URLSearchParams(),
      headers: { 'x-aisoc-k8s-token': SECRET, 'x-aisoc-cluster-name': 'prod', 'content-type': 'application/json' },
      body: Buffer.from(eventList([JSON.parse(salvaged?.text ?? 'null') as AuditEvent, whole])),
    });
    expect(answer.status).toBe(200);
    await service.close();
  });
  afterAll(() => tmp.remove());

  it('flags metadata.is_truncated and says so in the message; a whole event has neither', async () => {
    const { code, stdout } = await runCli(['events', '--alerts', '--json', '--data-dir', tmp.dir]);
    type Finding = { message: string; metadata: { is_truncated?: boolean } };
    const alerts = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { k8s_resource: string; finding: Finding });
    const cut = alerts.find((a) => a.k8s_resource === 'secrets')?.finding;
    const kept = alerts.find((a) => a.k8s_resource === 'clusterrolebindings')?.finding;

    expect(code).toBe(0);
    expect(findingErrors(cut)).toEqual([]);
    expect(cut?.metadata.is_truncated).toBe(true);
    expect(cut?.message).toBe(
      'Credential or permission object changed: minikube-user create secrets default example-secret [event truncated (audit.k8s.io/truncated): bodies missing]',
    );
    expect(kept?.metadata).not.toHaveProperty('is_truncated');
    expect(kept?.message).not.toContain('truncated');
  });
});
