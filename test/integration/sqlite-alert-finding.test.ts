import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../lib/audit/index.js';
import { withRules } from '../../lib/ingest/config.js';
import { createIngestService } from '../../lib/ingest/create.js';
import type { IngestService } from '../../lib/ingest/service.js';
import { FIXTURES, falcoEvent } from '../helpers/fixtures.js';
import { eventList, ingestConfig, runCli, SECRET, tempDataDir } from '../helpers/ingest.js';
import { findingErrors } from '../helpers/ocsf.js';

// The embedded store's alerts carry the OCSF 1.8.0 Detection Finding (2004) the stream alerts
// sinks send: read back with `events --alerts`, each names the rule (or the severity table's row)
// that raised it, as the ingest's pack described the rule when it stored the alert, even when
// the reader runs without the operators' rules.
const OPERATOR_RULES = join(FIXTURES, 'operator-rules');

describe('SQLite alerts as Detection Findings', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let service: IngestService;
  // Public attack samples (Falco's k8s_audit test traces) and an operator rule's own case.
  const privileged = { ...falcoEvent('create_nginx_pod_privileged.json'), auditID: 'f0000000-0000-4000-8000-000000000001' } as AuditEvent;
  const binding = { ...falcoEvent('attach_cluster_admin_role.json'), auditID: 'f0000000-0000-4000-8000-000000000002' } as AuditEvent;
  const wildcard = {
    ...falcoEvent('create_cluster_role_wildcard_verbs.json'),
    auditID: 'f0000000-0000-4000-8000-000000000004',
  } as AuditEvent;
  const miner = {
    ...falcoEvent('create_nginx_pod_unprivileged.json'),
    auditID: 'f0000000-0000-4000-8000-000000000003',
  } as AuditEvent & { requestObject: { spec: { containers: { image: string }[] } } };

  beforeAll(async () => {
    tmp = tempDataDir();
    miner.requestObject = structuredClone(miner.requestObject);
    // An image only the operators' rule names (the shipped cryptominer-workload knows xmrig, not NiceHash).
    for (const c of miner.requestObject.spec.containers) c.image = 'docker.io/nicehash/excavator:1.8.2';
    service = await createIngestService(
      await withRules(
        ingestConfig({
          AISOC_DATA_DIR: tmp.dir,
          EVENTS_SINK: 'sqlite',
          ALERTS_SINK: 'sqlite',
          REJECTS_SINK: 'sqlite',
          K8S_AUDIT_RULES: OPERATOR_RULES,
        }),
      ),
    );
    const answer = await service.handle({
      method: 'POST',
      path: '/v1/ingest/k8s-audit/acme',
      query: new URLSearchParams(),
      headers: { 'x-aisoc-k8s-token': SECRET, 'x-aisoc-cluster-name': 'prod', 'content-type': 'application/json' },
      body: Buffer.from(eventList([privileged, binding, miner, wildcard])),
    });
    expect(answer.status).toBe(200);
    await service.close();
  });
  afterAll(() => tmp.remove());

  it('gives each alert read back a valid 2004 finding naming its rule, without the operators’ pack at hand', async () => {
    const { code, stdout } = await runCli(['events', '--alerts', '--json', '--data-dir', tmp.dir]);
    const alerts = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { audit_id: string; severity_reason: string; finding: Record<string, unknown> });
    const finding = (id: string) =>
      alerts.find((a) => a.audit_id === id)?.finding as {
        class_uid: number;
        finding_info: { title: string; analytic: { uid: string }; attacks?: { technique: { uid: string } }[] };
        evidences: { data: { api_activity: { metadata: { correlation_uid: string } } } }[];
      };

    expect(code).toBe(0);
    expect(alerts.map((a) => a.audit_id).sort()).toEqual([privileged.auditID, binding.auditID, miner.auditID, wildcard.auditID].sort());
    for (const a of alerts) expect(findingErrors(a.finding)).toEqual([]);
    expect(finding(privileged.auditID).class_uid).toBe(2004);
    expect(finding(privileged.auditID).finding_info.analytic.uid).toBe('privileged-container');
    expect(finding(privileged.auditID).evidences[0]?.data.api_activity.metadata.correlation_uid).toBe(privileged.auditID);
    // The operators' rule, known only to the ingest that stored the alert: named with its title and technique.
    expect(finding(miner.auditID).finding_info).toMatchObject({
      title: 'Cryptominer image in a pod or workload',
      analytic: { uid: 'cryptominer-image' },
      attacks: [{ technique: { uid: 'T1496' } }],
    });
    expect(alerts.find((a) => a.audit_id === binding.auditID)?.severity_reason).toMatch(/^(rule:|rbac-binding-change)/);
  });

  it('pairs every ATT&CK technique with a tactic ATT&CK lists for it, each technique once', async () => {
    const { stdout } = await runCli(['events', '--alerts', '--json', '--data-dir', tmp.dir]);
    type Attack = { technique: { uid: string; name?: string }; sub_technique?: { uid: string }; tactic?: { uid: string; name: string } };
    const attacks = (id: string) =>
      (
        stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { audit_id: string; finding: { finding_info: { attacks: Attack[] } } })
          .find((a) => a.audit_id === id) as { finding: { finding_info: { attacks: Attack[] } } }
      ).finding.finding_info.attacks.map((a) => `${a.sub_technique?.uid ?? a.technique.uid} ${a.tactic?.uid} ${a.tactic?.name}`);

    // ATT&CK v17's technique pages: T1611 Escape to Host is Privilege Escalation's; T1610 Deploy
    // Container is Execution's and Defense Evasion's; T1496 Resource Hijacking is Impact's.
    expect(attacks(privileged.auditID)).toEqual([
      'T1611 TA0004 Privilege Escalation',
      'T1610 TA0002 Execution',
      'T1610 TA0005 Defense Evasion',
    ]);
    expect(attacks(miner.auditID)).toEqual(['T1496 TA0040 Impact']);
    // A ClusterRole with wildcard verbs (Falco's trace): the table's row names T1098 and T1528, the
    // rule T1098.006 and T1078; T1098 appears once, as the parent of T1098.006.
    expect(attacks(wildcard.auditID)).toEqual([
      'T1528 TA0006 Credential Access',
      'T1098.006 TA0003 Persistence',
      'T1098.006 TA0004 Privilege Escalation',
      'T1078 TA0001 Initial Access',
      'T1078 TA0003 Persistence',
      'T1078 TA0004 Privilege Escalation',
      'T1078 TA0005 Defense Evasion',
    ]);
  });

  it('puts the affected object and the observables at the top of the finding, named where they sit', async () => {
    const { stdout } = await runCli(['events', '--alerts', '--json', '--data-dir', tmp.dir]);
    const alert = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { audit_id: string; finding: Record<string, unknown> })
      .find((a) => a.audit_id === binding.auditID);
    const finding = alert?.finding as {
      resources: unknown[];
      observables: { name: string; type_id: number; value: string }[];
      evidences: Record<string, unknown>[];
    };

    expect(findingErrors(finding)).toEqual([]);
    // Falco's trace: minikube-user from 192.168.99.1 creates ClusterRoleBinding some-reader-binding.
    expect(finding.resources).toEqual([expect.objectContaining({ type: 'clusterrolebindings', name: 'some-reader-binding' })]);
    expect(finding.observables.map((o) => [o.name, o.type_id, o.value])).toEqual([
      ['evidences[].actor.user.name', 4, 'minikube-user'],
      ['evidences[].src_endpoint.ip', 2, '192.168.99.1'],
      ['evidences[].http_request.url.path', 6, '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings'],
      ['resources[].name', 38, 'some-reader-binding'],
    ]);
    expect(finding.evidences[0]).toHaveProperty('http_request.url.path', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings');
  });

  it("gives the request's times as the finding's time and first and last seen", async () => {
    const { stdout } = await runCli(['events', '--alerts', '--json', '--data-dir', tmp.dir]);
    const finding = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { audit_id: string; finding: { time: number; finding_info: Record<string, unknown> } })
      .find((a) => a.audit_id === binding.auditID)?.finding;
    // Falco's trace: requestReceivedTimestamp 2018-10-26T14:26:34.238974Z, stageTimestamp
    // 14:26:34.242…Z (the alert is read years later, and its times stay the request's).
    const received = Date.parse('2018-10-26T14:26:34.238Z');
    const stage = Date.parse('2018-10-26T14:26:34.242Z');

    expect(findingErrors(finding)).toEqual([]);
    expect(finding?.time).toBe(stage);
    expect(finding?.finding_info).toMatchObject({ first_seen_time: received, last_seen_time: stage });
  });

  it('shows the rule in the alerts table', async () => {
    const { stdout } = await runCli(['events', '--alerts', '--data-dir', tmp.dir]);
    const lines = stdout.trim().split('\n');

    expect(lines[0]).toMatch(/\bCODE\s+RULE\s+TARGET$/);
    expect(lines.find((l) => l.includes('nginx-privileged') || l.includes('privileged'))).toBeDefined();
    expect(stdout).toContain('privileged-container');
    expect(stdout).toContain('cryptominer-image');
  });
});
