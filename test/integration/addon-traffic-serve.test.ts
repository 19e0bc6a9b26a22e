// Add-ons' routine traffic that others recorded (test/fixtures/addon-traffic, its README), and
// OPA Gatekeeper's audit listing Secrets, POSTed to a running `serve` and read back with `events`:
// what a user reads for each, and that the same request by another account or denied still alerts.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { secretsReflectorEvent } from '../helpers/k8s-events.js';
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

// Gatekeeper's audit lists every kind the API serves, Secrets included, in all namespaces in
// chunks of 500, every 60 s by default (open-policy-agent/gatekeeper pkg/audit/manager.go), as
// its install's account (deploy/gatekeeper.yaml); client-go's list (controller-runtime's
// client.List with Limit) at Metadata level, as EKS's policy logs Secrets.
const GATEKEEPER = 'system:serviceaccount:gatekeeper-system:gatekeeper-admin';
const gatekeeperList = (username: string, over: Json = {}): Json =>
  secretsReflectorEvent(username, 'list', {
    requestURI: '/api/v1/secrets?limit=500',
    userAgent: 'gatekeeper/v3.20.1 (linux/amd64) dd8507e/audit',
    ...over,
  });
const audit = gatekeeperList(GATEKEEPER);
const lookAlike = gatekeeperList('system:serviceaccount:default:gatekeeper-admin');
const denied = gatekeeperList(GATEKEEPER, { responseStatus: { metadata: {}, code: 403 } });

describe('add-on traffic through serve', () => {
  const got = servedOnce('addon-traffic', SECRET, 'addon-traffic', [...exporter, audit, lookAlike, denied]);

  it('every line is stored: the Lease renewal (both stages) and the health check are info, no alert', () => {
    expect(got.status).toBe(200);
    for (const line of exporter) {
      const stored = got.records.filter((r) => r.audit_id === line.auditID);
      const stages = exporter.filter((e) => e.auditID === line.auditID).length;
      expect(stored, String(line.auditID)).toHaveLength(stages);
      for (const r of stored) {
        // The receipt of the Lease renewal has no answer yet: its ResponseComplete is the one scored.
        const reason = r.k8s_stage === 'RequestReceived' ? 'request-received-stage' : 'steady-state';
        expect(r, String(line.auditID)).toMatchObject({ severity: 'info', severity_reason: reason, rule_ids: [] });
      }
      expect(got.alerts.find((a) => a.audit_id === line.auditID)).toBeUndefined();
    }
  });

  it("Gatekeeper's audit listing every Secret is a routine read (low, no alert); a look-alike account or a denied list stays high with an alert", () => {
    got.check(audit, ['low', 'routine-addon-secrets-watch']);
    got.check(lookAlike, ['high', 'cluster-wide-secrets-read']);
    got.check(denied, ['high', 'cluster-wide-secrets-read']);
  });
});
