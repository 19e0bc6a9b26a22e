// Add-ons' routine traffic that others recorded (test/fixtures/addon-traffic, its README), POSTed
// to a running `serve` and read back with `events`: what a user reads for each.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { servedOnce } from '../helpers/through-serve.js';

type Json = Record<string, unknown>;
const SECRET = 'addon-traffic-secret-0123456789ab';
const fixture = (name: string): Json[] =>
  readFileSync(new URL(`../fixtures/addon-traffic/${name}`, import.meta.url), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Json);

// Three lines kube-apiserver-audit-exporter's test keeps from a real apiserver: grafana-operator
// renewing its leader-election Lease (both stages, one auditID) and kube-state-metrics' /livez.
const exporter = fixture('kube-apiserver-audit-exporter__audit_test.jsonl');

describe('add-on traffic through serve', () => {
  const got = servedOnce('addon-traffic', SECRET, 'addon-traffic', exporter);

  it('every line is stored: the Lease renewal (both stages) and the health check are info, no alert', () => {
    expect(got.status).toBe(200);
    for (const line of exporter) {
      const stored = got.records.filter((r) => r.audit_id === line.auditID);
      const stages = exporter.filter((e) => e.auditID === line.auditID).length;
      expect(stored, String(line.auditID)).toHaveLength(stages);
      for (const r of stored)
        expect(r, String(line.auditID)).toMatchObject({ severity: 'info', severity_reason: 'steady-state', rule_ids: [] });
      expect(got.alerts.find((a) => a.audit_id === line.auditID)).toBeUndefined();
    }
  });
});
