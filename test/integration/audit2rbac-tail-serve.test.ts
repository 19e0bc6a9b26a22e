// A real apiserver audit log file, recorded by another project: audit2rbac's demo log
// (test/fixtures/audit2rbac/demo.log, liggitt/audit2rbac at 501d132, Apache-2.0). 757 audit.k8s.io/v1beta1
// lines of 2017: requests made as bob, alice and a service account through impersonation, and kubectl
// apply and delete of the Roles and bindings audit2rbac generated, 320 of them in both stages. The file
// takes the path a self-hosted cluster's file takes: `tail --once` into a running `serve`, then what a
// user reads back with `status`, `events`, `events --alerts` and `rejected`.
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as tail } from '../../lib/cli/tail.js';
import { captureIo, runCli } from '../helpers/cli.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { tempDataDir } from '../helpers/ingest.js';
import { findingErrors } from '../helpers/ocsf.js';
import { cliJson, startServe } from '../helpers/through-serve.js';

const SECRET = 'audit2rbac-tail-serve-secret-0123456789';
const FILE = join(FIXTURES, 'audit2rbac', 'demo.log');

interface Line {
  auditID: string;
  stage: string;
  timestamp: string;
  metadata: { creationTimestamp: string };
  verb: string;
  user: { username: string };
  impersonatedUser?: { username: string };
  objectRef?: { resource: string };
  responseStatus?: { code: number };
}
const text = readFileSync(FILE, 'utf8');
const lines = text
  .split('\n')
  .filter((l) => l !== '')
  .map((l) => JSON.parse(l) as Line);

interface Stored {
  audit_id: string;
  k8s_stage: string;
  event_time: string;
  k8s_user: string;
  k8s_impersonated_user: string | null;
  k8s_response_code: number | null;
  severity: string;
  severity_reason: string;
  rule_ids: string[];
  dedup_key: string;
  ocsf: { message: string; time: number; start_time?: number };
}
type Alert = Stored & { finding: { message: string; finding_info: { analytic: { uid: string } } } };

/**
 * What each kind of line of the file comes out as (docs/record.md's severity table, as
 * docs/detection-rules.md refines it), and why.
 */
function expected(l: Line): [severity: string, reason: string] {
  // Row 1: a request made as another user hides who acted, whatever it asked for: kubectl's
  // discovery (`get /api`, `/apis`) as bob included, 403 or not.
  // The receipt of a request logged in two stages carries no answer yet: its ResponseComplete is scored.
  if (l.stage === 'RequestReceived') return ['info', 'request-received-stage'];
  if (l.impersonatedUser !== undefined) return ['high', 'impersonation'];
  const resource = l.objectRef?.resource ?? '';
  const write = ['create', 'patch', 'delete'].includes(l.verb);
  // Rows 2 and 3: a write of a binding or a role, the 404 of a delete of one
  // already gone included (no refinement takes a person's write out of the row).
  if (write && resource.endsWith('rolebindings')) return ['high', 'rbac-binding-change'];
  if (write && resource.endsWith('roles')) return ['high', 'sensitive-resource-change'];
  // Row 7: kubectl apply gets each object before it creates it; a person's 404 keeps the row
  // (only a service account's is `routine-get-not-found`).
  if (l.responseStatus?.code === 404) return ['medium', 'request-denied-or-failed'];
  // Row 8: a read of an RBAC kind answered 200.
  return ['low', 'sensitive-read'];
}

let got: { tailCode: number; tailLog: Record<string, unknown>[]; status: Record<string, unknown> } & Record<string, unknown>;
let records: Stored[] = [];
let alerts: Alert[] = [];
let table = '';
let rejected = '';
const tmp = tempDataDir('aisoc-audit2rbac-');

beforeAll(async () => {
  const path = join(tmp.dir, 'audit.log');
  copyFileSync(FILE, path);
  const dataDir = join(tmp.dir, 'data');
  const server = await startServe(dataDir, SECRET);
  const url = server.url;
  const env = { AISOC_INGEST_URL: `${url}/v1/ingest/k8s-audit/acme`, K8S_AUDIT_SHARED_SECRET: SECRET, CLUSTER_NAME: 'demo' };
  const tailed = captureIo(env);
  const tailCode = await tail(['--path', path, '--once'], tailed.io);
  const status = await runCli(['status', '--json'], env);
  await server.stop();
  records = await cliJson<Stored>(['events', '--json', '--limit', '10000', '--data-dir', dataDir]);
  alerts = await cliJson<Alert>(['events', '--alerts', '--json', '--limit', '10000', '--data-dir', dataDir]);
  table = (await runCli(['events', '-o', 'wide', '--limit', '10000', '--data-dir', dataDir])).stdout;
  rejected = (await runCli(['rejected', '--json', '--data-dir', dataDir])).stdout;
  got = {
    tailCode,
    tailLog: tailed
      .err()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l)),
    status: JSON.parse(status.stdout),
  };
});
afterAll(() => tmp.remove());

const recordOf = (l: Line) => records.filter((r) => r.audit_id === l.auditID && r.k8s_stage === l.stage);

describe('audit2rbac demo.log, tailed into serve', () => {
  it('delivers every line: the tailer reads and delivers 757, serve stores 757 and rejects none', () => {
    expect(lines).toHaveLength(757);
    expect(got.tailCode).toBe(0);
    expect(got.tailLog.find((l) => l.message === 'poll')).toMatchObject({
      lines: 757,
      delivered: 757,
      invalid: 0,
      oversize_lines: 0,
      undelivered: 0,
      bytes_consumed: Buffer.byteLength(text),
    });
    expect(records).toHaveLength(757);
    expect(rejected).toBe('');
    expect(got.status).toMatchObject({
      events_last_hour: 757,
      alerts_last_hour: 259,
      rejected_items_last_hour: 0,
      refused_requests_last_hour: 0,
      clusters: [{ cluster_name: 'demo', events: 757, last_event_time: '2017-09-11T20:29:04.000Z' }],
    });
  });

  it('stores the two stages of one request as two events, not merged', () => {
    const byId = new Map<string, Line[]>();
    for (const l of lines) byId.set(l.auditID, [...(byId.get(l.auditID) ?? []), l]);
    const twoStages = [...byId.values()].filter((ls) => ls.length === 2);
    expect(twoStages).toHaveLength(320);
    for (const [received, complete] of twoStages as [Line, Line][]) {
      expect([received.stage, complete.stage]).toEqual(['RequestReceived', 'ResponseComplete']);
      const [r] = recordOf(received);
      const [c] = recordOf(complete);
      expect(r?.k8s_response_code, received.auditID).toBeNull();
      expect(c?.k8s_response_code, complete.auditID).toBe(complete.responseStatus?.code);
      expect(r?.dedup_key).not.toBe(c?.dedup_key);
    }
    for (const l of lines) expect(recordOf(l), `${l.auditID} ${l.stage}`).toHaveLength(1);
  });

  it("reads v1beta1's timestamp as the request's receipt (event_time, OCSF start_time) and metadata.creationTimestamp as the stage's (OCSF time)", () => {
    // kube-apiserver writes a v1beta1 event's requestReceivedTimestamp as `timestamp` and its
    // stageTimestamp as `metadata.creationTimestamp` (kubernetes/kubernetes
    // staging/src/k8s.io/apiserver/pkg/apis/audit/v1beta1/conversion.go). Two lines of this log
    // finished in the second after they arrived, so the two differ there.
    const later = lines.filter((l) => l.metadata.creationTimestamp !== l.timestamp);
    expect(later.map((l) => l.stage)).toEqual(['ResponseComplete', 'ResponseComplete']);
    for (const l of lines) {
      const r = recordOf(l)[0];
      expect(r?.event_time, l.auditID).toBe(new Date(l.timestamp).toISOString());
      expect(r?.ocsf, `${l.auditID} ${l.stage}`).toMatchObject({
        start_time: Date.parse(l.timestamp),
        time: Date.parse(l.metadata.creationTimestamp),
      });
    }
  });

  it('scores each kind of line as the severity table and its refinements say, 259 high, 82 medium, 96 low, and each RequestReceived stage info', () => {
    for (const l of lines) {
      const [severity, reason] = expected(l);
      expect(recordOf(l)[0], `${l.auditID} ${l.stage}`).toMatchObject({ severity, severity_reason: reason, rule_ids: [] });
    }
    const count = (s: string) => records.filter((r) => r.severity === s).length;
    // high: 37 impersonated requests, 80 creates of roles and bindings (ResponseComplete only in this
    // log), 142 patches and deletes (4 of the deletes answered 404), each once: their RequestReceived
    // stages were 142 more high events before, one per request already high at its answer.
    expect(count('high')).toBe(37 + 80 + 142);
    // medium: kubectl apply's get answered 404 before each create (30 roles, 30 rolebindings, 11 of each cluster kind).
    expect(count('medium')).toBe(82);
    // low: the gets of RBAC kinds answered 200.
    expect(count('low')).toBe(96);
    // info: the 320 RequestReceived stages (142 of the writes above, 178 of the gets).
    expect(count('info')).toBe(320);
  });

  it('raises one alert per high request, from the stage that answered it, each a valid OCSF 2004 finding naming the row', () => {
    const highIds = new Set(records.filter((r) => r.severity === 'high').map((r) => r.audit_id));
    expect(highIds.size).toBe(259);
    expect(alerts).toHaveLength(259);
    expect(new Set(alerts.map((a) => a.audit_id))).toEqual(highIds);
    for (const a of alerts) {
      expect(a.k8s_stage, a.audit_id).toBe('ResponseComplete');
      expect(findingErrors(a.finding), a.audit_id).toEqual([]);
      expect(a.finding.finding_info.analytic.uid).toBe(a.severity_reason);
    }
  });

  it('names both identities of an impersonated request: the one who acted and the one it acted as', () => {
    const impersonated = lines.filter((l) => l.impersonatedUser !== undefined);
    expect(impersonated).toHaveLength(37);
    for (const l of impersonated) {
      const as = l.impersonatedUser?.username as string;
      const r = recordOf(l)[0];
      expect(r).toMatchObject({ k8s_user: 'system:admin', k8s_impersonated_user: as });
      expect(r?.ocsf.message, l.auditID).toMatch(new RegExp(`^system:admin as ${as} ${l.verb} `));
      const a = alerts.find((x) => x.audit_id === l.auditID);
      expect(a?.finding.message, l.auditID).toBe(`Request made through impersonation: ${r?.ocsf.message}`);
      expect(
        table.split('\n').find((row) => row.includes(l.auditID)),
        l.auditID,
      ).toContain(`system:admin as ${as}`);
    }
  });
});
