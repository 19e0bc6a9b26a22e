import { describe, expect, it } from 'vitest';
import { normaliseAuditEvent } from '../../../lib/audit/index.js';
import { ConfigError } from '../../../lib/config/env.js';
import { loadIngestConfig, withRules } from '../../../lib/ingest/config.js';
import { createIngestService } from '../../../lib/ingest/create.js';
import { parseRulesObjectUrl } from '../../../lib/rules/load.js';
import { shippedRuleSpecs } from '../../../lib/rules/shipped.js';
import { runCli } from '../../helpers/cli.js';

// K8S_AUDIT_RULES=s3://bucket/key (the S3 read itself is tested against moto in
// test/integration/rules-s3-moto.test.ts): what is checked before any request to S3.
describe('K8S_AUDIT_RULES as an S3 object', () => {
  it('reads s3://bucket/key and refuses what does not name one object', () => {
    expect(parseRulesObjectUrl('s3://aisoc-rules/k8s/rules.yaml')).toEqual({ bucket: 'aisoc-rules', key: 'k8s/rules.yaml' });
    for (const bad of ['s3://Bad_Bucket/rules.yaml', 's3://aisoc-rules/', 's3://aisoc-rules', 's3://aisoc-rules/k8s/']) {
      expect(() => loadIngestConfig({ K8S_AUDIT_RULES: bad })).toThrow(ConfigError);
    }
    expect(() => loadIngestConfig({ K8S_AUDIT_RULES: 's3://Bad_Bucket/rules.yaml' })).toThrow(/"Bad_Bucket" is not an S3 bucket name/);
  });

  it('is read by withRules only, and the ingest refuses to start on the shipped pack while it is pending', async () => {
    const pending = loadIngestConfig({
      K8S_AUDIT_RULES: 's3://aisoc-rules/rules.yaml',
      EVENTS_SINK: 'stdout',
      ALERTS_SINK: 'stdout',
      REJECTS_SINK: 'stdout',
    });
    expect(pending.pendingRules).toEqual({ kind: 's3', object: { bucket: 'aisoc-rules', key: 'rules.yaml' } });
    await expect(createIngestService(pending)).rejects.toThrow(/s3:\/\/aisoc-rules\/rules\.yaml was not read at init/);

    const asked: string[] = [];
    const rules = 'rules:\n  - id: service-proxy-access\n    disabled: true\n';
    const ready = await withRules(pending, async ({ bucket, key }) => {
      asked.push(`${bucket}/${key}`);
      return rules;
    });
    expect(asked).toEqual(['aisoc-rules/rules.yaml']);
    expect(ready.pendingRules).toBeNull();
    // The shipped rule's own example of a service proxy request: it fires without the object, not with it.
    const proxy = {
      auditID: 'a',
      stage: 'ResponseComplete',
      ...shippedRuleSpecs().find((r) => r.id === 'service-proxy-access')?.examples.match[0],
    } as never;
    expect(normaliseAuditEvent(proxy, { tenantId: 't', clusterName: 'c', receivedAt: 0 }).rule_ids).toContain('service-proxy-access');
    expect(
      normaliseAuditEvent(proxy, { tenantId: 't', clusterName: 'c', receivedAt: 0, detection: ready.detection }).rule_ids,
    ).not.toContain('service-proxy-access');
  });

  it('is named as unsupported where nothing reads S3 (normalise)', async () => {
    const r = await runCli(['normalise', '/dev/null'], { K8S_AUDIT_RULES: 's3://aisoc-rules/rules.yaml' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/s3:\/\/ rules object is read by the ingest .* only/);
  });
});
