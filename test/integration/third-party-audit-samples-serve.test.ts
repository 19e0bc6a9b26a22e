// Real Kubernetes audit data that another pipeline keeps for its own tests (Elastic's Kubernetes,
// GCP and Azure integrations: test/fixtures/elastic, SOURCES.md), each piece sent to one running
// `serve` by the path it reaches us by: the apiserver's log file through `tail`, the same lines as
// EKS writes them to CloudWatch Logs through the forwarder Lambda, the AKS diagnostic records as a
// diagnostic setting's Event Hubs body, the GKE entries as Pub/Sub pushes. Then what a user reads
// back: `events`, `events --alerts`, `rejected`, and the bytes of the store.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run as serve } from '../../lib/cli/serve.js';
import { run as runTail } from '../../lib/cli/tail.js';
import { captureIo } from '../helpers/cli.js';
import { pushBody } from '../helpers/clouds.js';
import { awslogsEvent, eksPayload, OWNER } from '../helpers/envelopes.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { captureStdout, lambdaContext, loadForwarder } from '../helpers/forwarder.js';
import { LocalGoogleKeys } from '../helpers/google-oidc.js';
import { runCli, tempDataDir } from '../helpers/ingest.js';
import { ocsfErrors } from '../helpers/ocsf.js';

const SECRET = 'third-party-samples-secret-0123456789abcdef';
const AUDIENCE = 'https://aisoc.example.com/v1/ingest/gke-audit/acme';
const PUSH_SA = 'aisoc-push@acme-audit.iam.gserviceaccount.com';
const ELASTIC = join(FIXTURES, 'elastic');

const fixture = (name: string): string => readFileSync(join(ELASTIC, name), 'utf8');
// Elastic's Kubernetes test input: three apiserver lines, a GKE LogEntry, an AKS record (README.md).
const AUDIT_LOG = fixture('kubernetes__test-audit.log');
const lines = AUDIT_LOG.split('\n').filter((l) => l !== '');
const [, leaseGet, leaseGetAgain, gkeReadyz, aksAdminRecord] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
const aksRecord = JSON.parse(fixture('kubernetes__test-kube-audit.log')) as Record<string, unknown>;
const aksStub = JSON.parse(fixture('azure__test-platformlogs-kube.log')) as Record<string, unknown>;
const gkeProbe = JSON.parse(fixture('gcp__test-k8s-nonmatching-resourcename.log')) as Record<string, unknown>;
// The k3s apiserver's line inside Elastic's sample document, as the log file held it (one line).
const k3sEvent = (JSON.parse(fixture('kubernetes__sample_event.json')) as { kubernetes: { audit: Record<string, unknown> } }).kubernetes
  .audit;
// The credentials in that pod's env (the agent's Fleet enrollment token and Kibana password).
const CREDENTIALS = ['dHplWVpvQUJoQnA5SHVidTQzbkg6UXE0Rlo0QVlSTm1VdXh4c0pvVVdsUQ==', 'changeme'];

interface Row {
  tenant_id: string;
  cluster_name: string;
  audit_id: string;
  event_time: string;
  k8s_user: string | null;
  k8s_verb: string | null;
  k8s_resource: string | null;
  k8s_namespace: string | null;
  k8s_object_name: string | null;
  k8s_response_code: number | null;
  k8s_decision: string | null;
  src_ip: string | null;
  k8s_user_agent: string | null;
  request_uri: string | null;
  severity: string;
  severity_reason: string;
  rule_ids: string[];
  raw_event: Record<string, unknown>;
  ocsf: Record<string, unknown> & { time: number; start_time: number; cloud?: Record<string, unknown> };
}

const got = {
  tail: { code: -1, err: '' },
  k3sTail: { code: -1, err: '' },
  forwarderLog: '',
  aks: { status: 0, answer: undefined as unknown },
  gke: [] as { status: number; answer: unknown }[],
  serveLog: '',
  records: [] as Row[],
  alerts: [] as Row[],
  rejected: [] as Record<string, unknown>[],
  storeBytes: '',
};

const data = tempDataDir('aisoc-third-party-');
const logs = mkdtempSync(join(tmpdir(), 'aisoc-third-party-logs-'));
const keys = new LocalGoogleKeys();

const json = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));

beforeAll(async () => {
  await keys.start();
  const cap = captureIo({
    K8S_AUDIT_SHARED_SECRET: SECRET,
    K8S_AUDIT_GKE_PUSH: JSON.stringify({ acme: { audience: AUDIENCE, serviceAccount: PUSH_SA } }),
    K8S_AUDIT_GKE_JWKS_URL: keys.url,
  });
  const abort = new AbortController();
  const done = serve(['--port', '0', '--data-dir', data.dir, '--no-console'], { ...cap.io, signal: abort.signal });
  let base: string | undefined;
  for (let i = 0; i < 500 && base === undefined; i++) {
    base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(cap.out() + cap.err())?.[1];
    if (base === undefined) await new Promise((r) => setTimeout(r, 10));
  }
  if (base === undefined) throw new Error(`serve did not start: ${cap.err()}`);
  const route = `${base}/v1/ingest/k8s-audit/acme`;
  const sender = { AISOC_INGEST_URL: route, K8S_AUDIT_SHARED_SECRET: SECRET };

  // A self-hosted apiserver's log file, as Elastic's agent reads it: the file tailer.
  const auditLog = join(logs, 'audit.log');
  writeFileSync(auditLog, AUDIT_LOG);
  const tail = captureIo(sender);
  got.tail = { code: await runTail(['--path', auditLog, '--once', '--cluster', 'self-hosted'], tail.io), err: tail.err() };
  const k3sLog = join(logs, 'kube-apiserver-audit-1.log');
  writeFileSync(k3sLog, `${JSON.stringify(k3sEvent)}\n`);
  const k3sTail = captureIo(sender);
  got.k3sTail = { code: await runTail(['--path', k3sLog, '--once', '--cluster', 'k3s'], k3sTail.io), err: k3sTail.err() };

  // The same three apiserver lines as EKS writes them to its log group: the forwarder Lambda.
  const out = captureStdout();
  try {
    const handler = await loadForwarder({ ...sender, AWS_REGION: 'eu-west-1' });
    await handler(awslogsEvent(eksPayload(lines.slice(0, 3), { cluster: 'elastic-eks' })), lambdaContext());
    got.forwarderLog = out.text();
  } finally {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  }

  // AKS: the diagnostic setting's Event Hubs body, the three records as Azure writes them.
  const aks = await fetch(route, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-aisoc-k8s-token': SECRET },
    body: JSON.stringify({ records: [aksAdminRecord, aksRecord, aksStub] }),
  });
  got.aks = { status: aks.status, answer: await aks.json() };

  // GKE: each LogEntry as the log sink's Pub/Sub push subscription delivers it.
  const token = await keys.sign({ aud: AUDIENCE, email: PUSH_SA, email_verified: true, sub: '113774264463038321964' });
  // The third, derived here: the health check's entry without its methodName, which the ingest rejects.
  const { methodName: _method, ...noMethod } = (gkeReadyz as { protoPayload: Record<string, unknown> }).protoPayload;
  const gkeNoMethod = { ...gkeReadyz, protoPayload: noMethod };
  for (const [i, entry] of [gkeReadyz, gkeProbe, gkeNoMethod].entries()) {
    const res = await fetch(`${base}/v1/ingest/gke-audit/acme`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: pushBody(entry, `20704436013115${i}`),
    });
    got.gke.push({ status: res.status, answer: await res.json() });
  }

  abort.abort();
  const code = await done;
  if (code !== 0) throw new Error(`serve exited ${code}: ${cap.err()}`);
  got.serveLog = cap.out() + cap.err();
  got.records = json((await runCli(['events', '--json', '--limit', '1000', '--data-dir', data.dir])).stdout);
  got.alerts = json((await runCli(['events', '--alerts', '--json', '--limit', '1000', '--data-dir', data.dir])).stdout);
  got.rejected = json((await runCli(['rejected', '--json', '--data-dir', data.dir])).stdout);
  got.storeBytes = readdirSync(data.dir)
    .map((f) => readFileSync(join(data.dir, f)).toString('latin1'))
    .join('');
}, 60_000);

afterAll(async () => {
  await keys.stop();
  data.remove();
  rmSync(logs, { recursive: true, force: true });
});

const record = (cluster: string, auditId: string): Row => {
  const found = got.records.filter((r) => r.cluster_name === cluster && r.audit_id === auditId);
  expect(found, `${cluster} ${auditId}`).toHaveLength(1);
  return found[0] as Row;
};

const flat = (r: Row) => ({
  user: r.k8s_user,
  verb: r.k8s_verb,
  resource: r.k8s_resource,
  namespace: r.k8s_namespace,
  name: r.k8s_object_name,
  code: r.k8s_response_code,
  ip: r.src_ip,
  agent: r.k8s_user_agent,
  uri: r.request_uri,
  time: r.event_time,
});

/** What the OCSF record says of the same fields, and its times (ms since the epoch). */
const ocsfOf = (r: Row) => {
  const o = r.ocsf as Record<string, Record<string, unknown> | undefined> & { time: number; start_time: number };
  return {
    user: (o.actor?.user as { name?: string } | undefined)?.name,
    ip: o.src_endpoint?.ip,
    operation: o.api?.operation,
    code: (o.api?.response as { code?: number } | undefined)?.code,
    agent: o.http_request?.user_agent,
    path: (o.http_request?.url as { path?: string } | undefined)?.path,
    time: o.time,
    start: o.start_time,
  };
};

describe("Elastic's Kubernetes audit test lines, through tail, the forwarder, the AKS body and GKE pushes into serve", () => {
  it('every record is a valid OCSF 1.8.0 API Activity; none of this data is high, so no alert is raised', () => {
    expect(got.records).toHaveLength(9);
    for (const r of got.records) expect(ocsfErrors(r.ocsf), `${r.cluster_name} ${r.audit_id}`).toEqual([]);
    expect(got.alerts).toEqual([]);
  });

  it('tail: the three apiserver lines are stored (the repeated one once); the GKE line is passed over, the AKS record rejected and kept, each with its reason', () => {
    expect(got.tail.code).toBe(0);
    const log = json(got.tail.err);
    expect(log.filter((l) => l.message === 'line passed over')).toEqual([
      expect.objectContaining({
        reason: expect.stringContaining('item is a GKE Cloud Audit Logs entry (protoPayload), not a Kubernetes audit Event'),
        offset: AUDIT_LOG.indexOf('{"protoPayload"'),
      }),
    ]);
    expect(log.find((l) => l.message === 'poll')).toMatchObject({ lines: 5, delivered: 3, invalid: 2, undelivered: 0 });
    expect(got.records.filter((r) => r.cluster_name === 'self-hosted')).toHaveLength(2);
    const kept = got.rejected.filter((r) => r.cluster_name === 'self-hosted');
    expect(kept).toHaveLength(1);
    expect(kept[0]?.reason).toMatch(/^item is an AKS diagnostic log record \(properties\.log\)/);
    expect(JSON.parse(String(kept[0]?.item))).toEqual(aksAdminRecord);
    expect(leaseGetAgain).toEqual(leaseGet);
  });

  for (const [cluster, path] of [
    ['self-hosted', 'tail'],
    ['elastic-eks', 'forwarder'],
  ] as const) {
    it(`${path}: kubectl's pods get, its fields in the record and in OCSF, info`, () => {
      const pods = got.records.find((x) => x.cluster_name === cluster && x.k8s_resource === 'pods') as Row;
      expect(flat(pods)).toEqual({
        user: 'system:serviceaccounts:default:default',
        verb: 'get',
        resource: 'pods',
        namespace: 'default',
        name: 'my-pod',
        code: 200,
        ip: '67.43.156.1',
        agent: 'kubectl/v1.26.1',
        uri: '/api/v1/namespaces/default/pods',
        time: '2025-03-04T06:22:18.819Z',
      });
      expect(ocsfOf(pods)).toEqual({
        user: 'system:serviceaccounts:default:default',
        ip: '67.43.156.1',
        operation: 'get',
        code: 200,
        agent: 'kubectl/v1.26.1',
        path: '/api/v1/namespaces/default/pods',
        time: Date.parse('2025-03-04T06:22:18.822Z'),
        start: Date.parse('2025-03-04T06:22:18.819Z'),
      });
      expect([pods.severity, pods.severity_reason, pods.rule_ids]).toEqual(['info', 'steady-state', []]);
    });

    it(`${path}: elastic-agent's Lease get under the same auditID is flagged reused, and its token from a public address named`, () => {
      const lease = got.records.find((x) => x.cluster_name === cluster && x.k8s_resource === 'leases') as Row;
      expect(flat(lease)).toMatchObject({
        user: 'system:serviceaccount:kube-system:elastic-agent',
        verb: 'get',
        namespace: 'kube-system',
        name: 'elastic-agent-cluster-test',
        code: 200,
        ip: '67.43.156.1',
        agent: 'elastic-agent/v0.0.0 (linux/amd64) kubernetes/$Format',
        time: '2025-07-16T10:12:56.525Z',
      });
      // Elastic wrote the same placeholder auditID on every line: the second request under it is
      // another event, kept and flagged (docs/ingest.md, "A reused auditID is not a duplicate").
      // 67.43.156.1 is a public address (Elastic's placeholder): a pod's token used from outside
      // the cluster's networks.
      expect([lease.severity, lease.severity_reason, lease.rule_ids]).toEqual([
        'medium',
        'reused-audit-id',
        ['service-account-from-public-address'],
      ]);
    });
  }

  it('forwarder: the EKS lines carry the account of the log group and the region the forwarder runs in', () => {
    const eks = got.records.filter((r) => r.cluster_name === 'elastic-eks');
    expect(eks).toHaveLength(2);
    for (const r of eks) expect(r.ocsf.cloud).toMatchObject({ provider: 'AWS', region: 'eu-west-1', account: { uid: OWNER } });
    expect(got.forwarderLog).not.toContain(SECRET);
  });

  it('AKS: both records stored with their cluster and subscription; the record with an empty Event rejected and kept with its cluster', () => {
    expect(got.aks).toEqual({
      status: 200,
      answer: { accepted: 2, rejected: 1, duplicates: 0, errors: [{ index: 2, auditID: null, reason: 'item has no auditID' }], skipped: 0 },
    });
    const admin = record('test-aks', 'abcde12345');
    expect(flat(admin)).toMatchObject({
      user: 'aksService',
      verb: 'update',
      resource: 'leases',
      ip: '67.43.156.1',
      time: '2025-09-30T06:23:35.091Z',
    });
    expect(admin.ocsf.cloud).toMatchObject({ provider: 'Azure', account: { uid: '1234567890' } });
    const lease = record('test-cluster', 'ad26f7bc-f1c6-4097-90f1-e0924e12f257');
    expect(flat(lease)).toEqual({
      user: 'aksService',
      verb: 'update',
      resource: 'leases',
      namespace: 'kube-system',
      name: 'kubelet-serving-csr-approver',
      code: 200,
      ip: '172.31.51.172',
      agent: 'approver/v0.0.0 (linux/amd64) kubernetes/$Format/leader-election',
      uri: '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kubelet-serving-csr-approver',
      time: '2025-10-07T16:19:19.643Z',
    });
    expect(ocsfOf(lease)).toMatchObject({ operation: 'update', time: Date.parse('2025-10-07T16:19:19.647Z') });
    expect(lease.ocsf.cloud).toMatchObject({ provider: 'Azure', account: { uid: 'ae2861b3-e901-49bd-99f3-660eb5747107' } });
    // AKS's own leader election in kube-system: routine.
    for (const r of [admin, lease]) expect([r.severity, r.severity_reason]).toEqual(['info', 'steady-state']);
    const stub = got.rejected.filter((r) => r.reason === 'item has no auditID');
    expect(stub).toHaveLength(1);
    expect(JSON.parse(String(stub[0]?.item))).toEqual(aksStub);
    // Kept with the cluster its resourceId names, as its events would be: it was kept with none
    // (the request's cluster, which a diagnostic setting never sends).
    expect(stub[0]?.cluster_name).toBe('obskube');
  });

  it("GKE: the master health check's /readyz is info, the anonymous /HNAP1 probe medium, each with GKE's cluster, project and region", () => {
    expect(got.gke.map((g) => g.status)).toEqual([200, 200, 200]);
    for (const g of got.gke.slice(0, 2)) expect(g.answer).toMatchObject({ accepted: 1, rejected: 0 });
    const readyz = record('test-cluster', '1234abcd');
    expect(flat(readyz)).toEqual({
      user: 'system:gke-master-healthcheck',
      verb: 'get',
      resource: null,
      namespace: null,
      name: null,
      code: 200,
      ip: '67.43.156.1',
      agent: 'gke-master-healthcheck',
      uri: '/readyz',
      time: '2025-07-13T08:38:39.127Z',
    });
    expect(readyz.ocsf.cloud).toMatchObject({ provider: 'GCP', region: 'us-central1', account: { uid: 'elastic-siem' } });
    expect([readyz.severity, readyz.severity_reason]).toEqual(['info', 'steady-state']);

    const probe = record('example-cluster', 'k8s-nonmatch-0001');
    // Status code 7 is PERMISSION_DENIED: the apiserver's 403.
    expect(flat(probe)).toMatchObject({ user: 'system:anonymous', code: 403, ip: '192.168.1.1', agent: 'Mozilla/5.0', uri: '/HNAP1' });
    expect(probe.k8s_decision).toBe('forbid');
    // A zonal cluster: its location is a zone, the region the zone's.
    expect(probe.ocsf.cloud).toMatchObject({
      provider: 'GCP',
      region: 'us-central1',
      zone: 'us-central1-a',
      account: { uid: 'example-project' },
    });
    expect([probe.severity, probe.severity_reason, probe.rule_ids]).toEqual(['medium', 'request-denied-or-failed', []]);
  });

  it('GKE: an entry without its methodName is rejected, and kept with the cluster its resource labels name', () => {
    const reason = 'GKE audit entry has no protoPayload.methodName';
    expect(got.gke[2]?.answer).toMatchObject({ accepted: 0, rejected: 1, errors: [{ index: 0, auditID: '1234abcd', reason }] });
    const kept = got.rejected.filter((r) => r.reason === reason);
    expect(kept).toHaveLength(1);
    expect(kept[0]?.cluster_name).toBe('test-cluster');
  });

  it("k3s: the DaemonSet controller's refused agent pod is stored medium, its enrollment token and password nowhere in the store", () => {
    expect(got.k3sTail.code).toBe(0);
    const pod = record('k3s', '8b8398cd-1d93-4659-805e-0c9d616aa960');
    expect(flat(pod)).toMatchObject({
      user: 'system:serviceaccount:kube-system:daemon-set-controller',
      verb: 'create',
      resource: 'pods',
      namespace: 'kube-system',
      code: 403,
      ip: '127.0.0.1',
      time: '2022-07-05T16:08:04.196Z',
    });
    // A controller's create refused by admission keeps the table's row (docs/detection-rules.md).
    expect([pod.severity, pod.severity_reason, pod.rule_ids]).toEqual(['medium', 'workload-change', []]);
    const env = (pod.raw_event.requestObject as { spec: { containers: { env: { name: string; value?: string }[] }[] } }).spec.containers[0]
      ?.env;
    expect(env?.find((e) => e.name === 'FLEET_ENROLLMENT_TOKEN')?.value).toBe('[REDACTED]');
    expect(env?.find((e) => e.name === 'KIBANA_FLEET_PASSWORD')?.value).toBe('[REDACTED]');
    for (const c of CREDENTIALS) {
      expect(JSON.stringify(got.records)).not.toContain(c);
      expect(got.storeBytes).not.toContain(c);
      expect(got.k3sTail.err + got.serveLog).not.toContain(c);
    }
  });

  it('no log line of the senders or of serve holds the shared secret', () => {
    expect(got.tail.err + got.k3sTail.err + got.forwarderLog + got.serveLog).not.toContain(SECRET);
  });
});
