import { describe, expect, it } from 'vitest';
import { type AuditEvent, flagReusedAuditId, normaliseAuditEvent, shippedDetection, toDetectionFinding } from '../../../lib/audit/index.js';
import { RecordWriter } from '../../../lib/sinks/writer.js';
import { eksRawEvent, falcoEvent, falcoEvents } from '../../helpers/fixtures.js';
import { MemorySink } from '../../helpers/ingest.js';
import { findingErrors, ocsfErrors } from '../../helpers/ocsf.js';

const ctx = { tenantId: 'acme', clusterName: 'prod', receivedAt: 0 };
const describeRule = (id: string) => shippedDetection().rules?.describe?.(id);
const last = (file: string) => falcoEvents(file).at(-1) as AuditEvent;

describe('alerts as OCSF 1.8.0 Detection Findings (2004)', () => {
  it('a rule-decided alert names the rule, its severity and techniques, and carries the 6003 record as evidence', () => {
    const record = normaliseAuditEvent(last('create_nginx_pod_privileged.json'), ctx);
    const finding = toDetectionFinding(record, describeRule);
    expect(findingErrors(finding)).toEqual([]);
    expect(finding).toMatchObject({
      class_uid: 2004,
      type_uid: 200401,
      severity_id: 4,
      is_alert: true,
      finding_info: {
        uid: record.dedup_key,
        title: 'Privileged container',
        analytic: { uid: 'privileged-container', type_id: 1 },
        attacks: [
          { technique: { uid: 'T1611' }, tactic: { name: 'Privilege Escalation' } },
          { technique: { uid: 'T1610' }, tactic: { name: 'Execution' } },
          { technique: { uid: 'T1610' }, tactic: { name: 'Defense Evasion' } },
        ],
      },
    });
    const evidence = (finding.evidences as { data: { api_activity: unknown } }[])[0];
    expect(evidence?.data.api_activity).toEqual(record.ocsf);
    expect(ocsfErrors(evidence?.data.api_activity)).toEqual([]);
  });

  it('a table-decided alert names the row; sub-techniques are split as ATT&CK writes them; EKS cloud carries over', () => {
    const exec = toDetectionFinding(normaliseAuditEvent(falcoEvent('exec_pod.json'), ctx), describeRule);
    expect(findingErrors(exec)).toEqual([]);
    expect(exec).toMatchObject({
      finding_info: {
        title: 'Interactive access to a pod',
        analytic: { uid: 'pod-interactive-access' },
        attacks: [{ technique: { uid: 'T1609' } }],
      },
    });
    const admin = toDetectionFinding(normaliseAuditEvent(last('attach_cluster_admin_role.json'), ctx), describeRule);
    expect(findingErrors(admin)).toEqual([]);
    expect((admin.finding_info as { attacks: unknown[] }).attacks).toEqual(
      ['TA0003', 'TA0004'].map((tactic) => ({
        technique: { uid: 'T1098', name: 'Account Manipulation', src_url: 'https://attack.mitre.org/techniques/T1098/' },
        sub_technique: {
          uid: 'T1098.006',
          name: 'Additional Container Cluster Roles',
          src_url: 'https://attack.mitre.org/techniques/T1098/006/',
        },
        tactic: expect.objectContaining({ uid: tactic }),
        version: 'v17',
      })),
    );
    const eks = normaliseAuditEvent(
      { ...eksRawEvent(), verb: 'create', objectRef: { resource: 'pods', subresource: 'exec', namespace: 'a', name: 'p' } },
      {
        ...ctx,
        source: { platform: 'eks', accountId: '123456789012', region: 'us-east-1' },
      },
    );
    const f = toDetectionFinding(eks);
    expect(findingErrors(f)).toEqual([]);
    expect(f.cloud).toMatchObject({ provider: 'AWS', region: 'us-east-1' });
  });

  it('a reused auditID on a rule-decided alert keeps the rule as title and techniques, the reuse as analytic', () => {
    const record = flagReusedAuditId(normaliseAuditEvent(last('create_nginx_pod_privileged.json'), ctx));
    const finding = toDetectionFinding(record, describeRule);
    expect(findingErrors(finding)).toEqual([]);
    expect(finding.finding_info).toMatchObject({
      title: 'Privileged container (audit ID reused by another event)',
      analytic: { uid: 'reused-audit-id' },
      related_analytics: [{ uid: 'privileged-container' }],
      attacks: [{ technique: { uid: 'T1611' } }, { technique: { uid: 'T1610' } }, { technique: { uid: 'T1610' } }],
    });
  });

  it('the alerts sink receives each high record with its finding; the events sink gets the record alone', async () => {
    const events = new MemorySink('events');
    const alerts = new MemorySink('alerts');
    const records = ['create_nginx_pod_privileged.json', 'create_nginx_service_nodeport.json', 'exec_pod.json'].map((file) => {
      const record = normaliseAuditEvent(last(file), ctx);
      const json = JSON.stringify(record);
      return { record, json, bytes: Buffer.byteLength(json) };
    });
    await new RecordWriter(events, alerts, undefined, describeRule).write(records);
    expect(events.records.map((r) => 'finding' in r)).toEqual([false, false, false]);
    expect(alerts.records.map((r) => r.severity_reason)).toEqual(['rule:privileged-container', 'pod-interactive-access']);
    for (const alert of alerts.records as unknown as { finding: unknown }[]) expect(findingErrors(alert.finding)).toEqual([]);
  });
});
