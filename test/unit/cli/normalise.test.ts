import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AuditEvent, NormalisedRecord } from '../../../lib/audit/index.js';
import { runCli as runCommand } from '../../helpers/cli.js';
import { aksBody, aksRecord, aksRow, PUBLISHED_AKSAUDIT_ROW, pushBody } from '../../helpers/clouds.js';
import { EKS_RAW, FALCO_DIR, FIXTURES, falcoFiles, gkeEntries } from '../../helpers/fixtures.js';
import { ocsfErrors } from '../../helpers/ocsf.js';

function runCli(argv: string[], stdinText = ''): ReturnType<typeof runCommand> {
  return runCommand(argv, {}, stdinText);
}

function records(stdout: string): NormalisedRecord[] {
  return stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as NormalisedRecord);
}

describe('aisoc-k8s-audit normalise', () => {
  it('normalises every Falco trace and the EKS sample to schema-valid records, rejecting only {"kind": 0}', async () => {
    const files = [...falcoFiles().map((f) => join(FALCO_DIR, f)), EKS_RAW];
    const { code, stdout, stderr } = await runCli(['normalise', '--tenant', 'acme', '--cluster', 'minikube', ...files]);
    const out = records(stdout);
    expect(out).toHaveLength(52);
    for (const r of out) {
      expect(r.tenant_id).toBe('acme');
      expect(r.cluster_name).toBe('minikube');
      expect(ocsfErrors(r.ocsf)).toEqual([]);
    }
    expect(stderr).toContain(`rejected ${join(FALCO_DIR, 'fal_01_003.json')} item 0: kind must be "Event", got number\n`);
    expect(stderr.trimEnd().split('\n').at(-1)).toBe('normalised 52, rejected 1');
    expect(code).toBe(1);
  });

  it('reads NDJSON from stdin and exits 0 when nothing was rejected', async () => {
    const lines = `${JSON.stringify({ auditID: 'a', verb: 'get' })}\n${JSON.stringify({ auditID: 'b', verb: 'list' })}\n`;
    const { code, stdout, stderr } = await runCli(['normalise'], lines);
    expect(records(stdout).map((r) => r.audit_id)).toEqual(['a', 'b']);
    expect(stderr).toBe('normalise: <stdin>: JSON lines (2 items)\nnormalised 2, rejected 0\n');
    expect(code).toBe(0);
  });

  it('refuses a --tenant the ingest would refuse, as a usage error', async () => {
    const { code, stderr } = await runCli(['normalise', '--tenant', 'bad tenant'], '{"auditID":"a","verb":"get"}\n');
    expect(code).toBe(2);
    expect(stderr).toContain('--tenant must match');
  });

  it('reports rejected NDJSON items with file, line and index', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aisoc-normalise-'));
    const file = join(dir, 'audit.log');
    writeFileSync(file, `${JSON.stringify({ auditID: 'a' })}\n{broken\n${JSON.stringify({ verb: 'get' })}\n`);
    try {
      const { code, stderr } = await runCli(['normalise', file]);
      expect(stderr).toContain(`rejected ${file}:2 item 1: line 2 is not valid JSON`);
      expect(stderr).toContain(`rejected ${file}:3 item 2: item has no auditID\n`);
      expect(stderr).toContain('normalised 1, rejected 2\n');
      expect(code).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 2 for a file it cannot read and for a usage error', async () => {
    const missing = await runCli(['normalise', '/nonexistent/audit.log']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read /nonexistent/audit.log: no such file');
    const directory = await runCli(['normalise', tmpdir()]);
    expect(directory.code).toBe(2);
    expect(directory.stderr).toContain(`cannot read ${tmpdir()}: it is a directory (name the files in it)`);
    const usage = await runCli(['normalise', '--tenat', 'x']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('unknown option --tenat');
  });

  it('explains itself with --help', async () => {
    const { code, stdout } = await runCli(['normalise', '--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: aisoc-k8s-audit normalise');
    expect(stdout).toContain('Exit status');
  });

  it('names an unknown command and suggests the closest one', async () => {
    const { code, stderr } = await runCli(['frobnicate']);
    expect(code).toBe(2);
    expect(stderr).toContain('unknown command "frobnicate"');
    expect(stderr).toContain("Run 'aisoc-k8s-audit --help' for the commands.");
    for (const [typo, meant] of [
      ['normalize', 'normalise'],
      ['stauts', 'status'],
      ['evnets', 'events'],
      ['tial', 'tail'],
      ['test-conection', 'test-connection'],
      ['conn', 'connector'],
    ] as const) {
      const r = await runCli([typo]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`did you mean "${meant}"?`);
    }
  });

  it('prints its version and takes help <command> as <command> --help', async () => {
    const version = await runCli(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout).toBe(
      `aisoc-k8s-audit ${JSON.parse(readFileSync(join(import.meta.dirname, '../../../package.json'), 'utf8')).version}\n`,
    );
    const help = await runCli(['help', 'tail']);
    expect(help.code).toBe(0);
    expect(help.stdout).toBe((await runCli(['tail', '--help'])).stdout);
  });
});

describe('aisoc-k8s-audit normalise, input shapes', () => {
  it('keeps reading JSON lines whose first line is broken, line by line', async () => {
    const { code, stdout, stderr } = await runCli(['normalise'], `{broken\n${JSON.stringify({ auditID: 'a', verb: 'get' })}\n`);

    expect(records(stdout).map((r) => r.audit_id)).toEqual(['a']);
    expect(stderr).toContain('normalise: <stdin>: JSON lines (2 items)');
    expect(stderr).toContain('rejected <stdin>:1 item 0: line 1 is not valid JSON');
    expect(code).toBe(1);
  });

  it('does not take a plain word for a base64 payload', async () => {
    const { code, stderr } = await runCli(['normalise'], 'HelloWorldHelloWorldHelloWorld\n');

    expect(stderr).toContain('rejected <stdin>: got text that is not JSON, starting "HelloWorldHelloWorldHelloWorld"');
    expect(code).toBe(1);
  });
});

// What the GKE and AKS paths of the ingest take, saved to a file, read by normalise as the ingest
// reads it (docs/gke.md, docs/aks.md): before, a GKE export was refused whole and an AKS body was
// read as one Event with no auditID.
describe('aisoc-k8s-audit normalise, GKE and AKS inputs', () => {
  function tempFile(name: string, text: string): { path: string; remove: () => void } {
    const dir = mkdtempSync(join(tmpdir(), 'aisoc-normalise-cloud-'));
    const path = join(dir, name);
    writeFileSync(path, text);
    return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
  }

  it('reads real GKE LogEntries as JSON lines (a Cloud Storage sink) and as a push delivery, each with its cluster and project', async () => {
    // KHI's real GKE audit entries (test/fixtures/gke, see SOURCES.md), one per line, plus an
    // entry of another log a wide sink filter lets through: passed over, as the push route does.
    const entries = [...gkeEntries().values()];
    const other = { ...entries[0], logName: 'projects/sample-project/logs/stdout', insertId: 'not-audit' };
    const lines = tempFile('gke-audit.json', `${[...entries, other].map((e) => JSON.stringify(e)).join('\n')}\n`);
    const push = tempFile('push.json', pushBody(entries[0]));
    try {
      const { code, stdout, stderr } = await runCli(['normalise', '--tenant', 'acme', lines.path, push.path]);
      const out = records(stdout);

      expect(out.map((r) => r.audit_id)).toEqual([...entries.map((e) => e.insertId), entries[0]?.insertId]);
      for (const r of out) {
        expect(r.cluster_name).toBe('sample-cluster');
        expect(r.ocsf.cloud).toMatchObject({ provider: 'GCP', account: { uid: 'sample-project' } });
        expect(ocsfErrors(r.ocsf)).toEqual([]);
      }
      expect(stderr).toContain(`normalise: ${lines.path}: JSON lines of GKE LogEntries (4 items)`);
      expect(stderr).toContain(`normalise: ${push.path}: a Pub/Sub push delivery of a GKE LogEntry`);
      expect(stderr).toContain(`skipped ${lines.path}:4 item 3: logName "projects/sample-project/logs/stdout"`);
      expect(stderr.trimEnd().split('\n').at(-1)).toBe('normalised 4, rejected 0, skipped 1');
      expect(code).toBe(0);
    } finally {
      lines.remove();
      push.remove();
    }
  });

  it('reads AKS records one per line, as a diagnostic setting archives them to a storage account', async () => {
    // Azure Monitor writes a storage account's PT1H.json blobs a record a line, without the
    // records body; here the real AKS records (test/fixtures/aks), with one line cut short.
    const real = JSON.parse(readFileSync(join(FIXTURES, 'aks', 'sysdig__event.json'), 'utf8')) as { records: Record<string, unknown>[] };
    const lines = real.records.map((r) => JSON.stringify(r));
    lines.splice(1, 0, (lines[1] as string).slice(0, 200));
    const file = tempFile('PT1H.json', `${lines.join('\n')}\n`);
    try {
      const { code, stdout, stderr } = await runCli(['normalise', file.path]);
      const out = records(stdout);

      expect(out.map((r) => r.audit_id)).toEqual(real.records.map((r) => JSON.parse((r.properties as { log: string }).log).auditID));
      expect(new Set(out.map((r) => r.cluster_name))).toEqual(new Set(['kubetest']));
      expect(stderr).toContain(`normalise: ${file.path}: JSON lines of AKS diagnostic-settings records (23 records)`);
      expect(stderr).toMatch(new RegExp(`rejected ${file.path}:2 item 1: line is not JSON: `));
      expect(stderr.trimEnd().split('\n').at(-1)).toBe('normalised 22, rejected 1');
      expect(code).toBe(1);
    } finally {
      file.remove();
    }
  });

  it('reads a real AKS record saved alone whose first key is Cloud, not only one that starts with operationName', async () => {
    // Elastic's Azure integration keeps a real kube-audit record of 2020 (test/fixtures/elastic,
    // SOURCES.md) whose keys start with Cloud and Environment, and whose properties.log is an Event
    // cut down to its kind: read as an AKS record it is rejected for what it lacks. It was read as
    // an audit Event and rejected as "an AKS diagnostic log record ... send the records body".
    const path = join(FIXTURES, 'elastic', 'azure__test-platformlogs-kube.log');
    const { code, stdout, stderr } = await runCli(['normalise', path]);

    expect(stdout).toBe('');
    expect(stderr.split('\n').slice(0, 3)).toEqual([
      `normalise: ${path}: an AKS diagnostic-settings record`,
      `rejected ${path} item 0: item has no auditID`,
      'normalised 0, rejected 1',
    ]);
    expect(code).toBe(1);
  });

  it('reads a real AKS diagnostic-settings body, each record with the cluster its resourceId names', async () => {
    // A real Event Hubs message of an AKS cluster (test/fixtures/aks, see SOURCES.md), plus one of
    // its records turned into kube-apiserver klog text, which a diagnostic setting often sends to
    // the same hub: passed over, as the ingest does.
    const real = JSON.parse(readFileSync(join(FIXTURES, 'aks', 'sysdig__event.json'), 'utf8')) as { records: Record<string, unknown>[] };
    const klog = {
      ...real.records[0],
      category: 'kube-apiserver',
      properties: { log: 'I0505 16:16:37.655912       1 trace.go:116] Trace[1]: "Get"\n' },
    };
    const body = tempFile('aks.json', JSON.stringify({ records: [...real.records, klog] }));
    try {
      const { code, stdout, stderr } = await runCli(['normalise', body.path]);
      const out = records(stdout);

      expect(out.map((r) => r.audit_id)).toEqual(real.records.map((r) => JSON.parse((r.properties as { log: string }).log).auditID));
      for (const r of out) {
        expect(r.cluster_name).toBe('kubetest');
        expect(r.ocsf.cloud).toMatchObject({ provider: 'Azure', account: { uid: 'bfc31cc5-d3bd-4b36-a40e-d13688d546ec' } });
        expect(ocsfErrors(r.ocsf)).toEqual([]);
      }
      expect(stderr).toContain(`normalise: ${body.path}: an AKS diagnostic-settings body (23 records)`);
      expect(stderr).toContain(`skipped ${body.path} 1 record: category "kube-apiserver" is not kube-audit or kube-audit-admin`);
      expect(stderr.trimEnd().split('\n').at(-1)).toBe('normalised 22, rejected 0, skipped 1');
      expect(code).toBe(0);
    } finally {
      body.remove();
    }
  });
});

// The hostile event of the rule-errors commit (test/integration/rule-errors-serve.test.ts): Falco's
// public trace of the ReplicaSet controller's privileged pod create, its container's
// securityContext replaced by `capabilities.add` as a string, which makes dangerous-capabilities
// stop (exists() over no list). The ingest counts and logs it; normalise now says it too.
describe('aisoc-k8s-audit normalise, a rule that cannot evaluate an event', () => {
  const hostile = (n: number): unknown => {
    const text = readFileSync(join(FALCO_DIR, 'create_nginx_pod_privileged.json'), 'utf8').trim().split('\n')[0] as string;
    const event = JSON.parse(text) as { auditID: string; requestObject: { spec: { containers: { securityContext: unknown }[] } } };
    event.auditID = `0d5e7a10-0000-4000-8000-${String(n).padStart(12, '0')}`;
    (event.requestObject.spec.containers[0] as { securityContext: unknown }).securityContext = { capabilities: { add: 'SYS_ADMIN' } };
    return event;
  };

  it('names the rule and the error kind in its end summary on stderr, never a value of the event', async () => {
    const original = readFileSync(join(FALCO_DIR, 'create_nginx_pod_privileged.json'), 'utf8');
    const input = `${original.trim()}\n${[1, 2, 3].map((n) => JSON.stringify(hostile(n))).join('\n')}\n`;
    const { code, stdout, stderr } = await runCli(['normalise', '-'], input);
    expect(code).toBe(0);
    const out = records(stdout);
    expect(out).toHaveLength(4);
    // Scored by the table's row, not the controller's routine refinement (info).
    expect(out.slice(1).map((r) => [r.severity, r.severity_reason])).toEqual(Array(3).fill(['medium', 'workload-change']));
    const lines = stderr.trim().split('\n');
    expect(lines.slice(-2)).toEqual([
      'rule error dangerous-capabilities (cel:invalid_comprehension_range) on 3 events: scored without this rule, at least by its severity-table row',
      'normalised 4, rejected 0, rule errors 3',
    ]);
    for (const value of ['SYS_ADMIN', 'nginx', 'replicaset-controller', 'cannot be range']) expect(stderr).not.toContain(value);
    // Without a rule error the summary is as it was.
    const clean = await runCli(['normalise', '-'], original);
    expect(clean.stderr.trim().split('\n').at(-1)).toBe('normalised 1, rejected 0');
  });
});

// AKSAudit rows, the resource-specific destination's shape: before, `az monitor log-analytics
// query -o json` output was read as a JSON array of items with no auditID (every row rejected),
// a data export's PT05M.json the same, and a Query API answer as one Event with no auditID.
describe('aisoc-k8s-audit normalise, AKSAudit rows', () => {
  function tempFile(name: string, text: string): { path: string; remove: () => void } {
    const dir = mkdtempSync(join(tmpdir(), 'aisoc-normalise-rows-'));
    const path = join(dir, name);
    writeFileSync(path, text);
    return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
  }
  // The real AKS events of Sysdig's Event Hubs message (test/fixtures/aks), each as its record
  // and as its AKSAudit row, in the same cluster.
  const real = JSON.parse(readFileSync(join(FIXTURES, 'aks', 'sysdig__event.json'), 'utf8')) as { records: Record<string, unknown>[] };
  const events = real.records.map((r) => JSON.parse((r.properties as { log: string }).log) as AuditEvent);

  it('gives az monitor log-analytics query -o json output the records the same events give as diagnostic records', async () => {
    const diag = tempFile('records.json', aksBody(events.map((e) => aksRecord(e, 'kubetest'))));
    const az = tempFile(
      'az.json',
      JSON.stringify(
        [
          ...events.map((e) => aksRow(e, 'kubetest', { text: true })),
          { ...aksRow(events[0] as AuditEvent, 'kubetest', { text: true }), AuditId: 'broken-row', ObjectRef: '{"resource":' },
        ],
        null,
        2,
      ),
    );
    try {
      const a = await runCli(['normalise', '--tenant', 'acme', diag.path]);
      const b = await runCli(['normalise', '--tenant', 'acme', az.path]);

      expect(records(b.stdout)).toHaveLength(22);
      expect(records(b.stdout)).toEqual(records(a.stdout));
      expect(b.stderr).toContain(`normalise: ${az.path}: a JSON array of Log Analytics rows (23 rows)`);
      expect(b.stderr).toMatch(
        new RegExp(`rejected ${az.path}(:\\d+)? item 22 \\(auditID broken-row\\): AKSAudit row's ObjectRef is not JSON: `),
      );
      expect(b.stderr.trimEnd().split('\n').at(-1)).toBe('normalised 22, rejected 1');
      expect(b.code).toBe(1);
    } finally {
      diag.remove();
      az.remove();
    }
  });

  it('reads the published row as a data export writes it to storage (a row a line) and in a Query API answer', async () => {
    const other = { TimeGenerated: '2025-05-30T18:02:53Z', Type: 'AKSControlPlane', Category: 'kube-apiserver', Message: 'I0530 ...' };
    const lines = tempFile('PT05M.json', `${JSON.stringify(PUBLISHED_AKSAUDIT_ROW)}\n${JSON.stringify(other)}\n`);
    const columns = Object.keys(PUBLISHED_AKSAUDIT_ROW);
    const api = tempFile(
      'query.json',
      JSON.stringify({
        tables: [
          {
            name: 'PrimaryResult',
            columns: columns.map((name) => ({ name, type: typeof PUBLISHED_AKSAUDIT_ROW[name] === 'object' ? 'dynamic' : 'string' })),
            rows: [
              columns.map((c) =>
                typeof PUBLISHED_AKSAUDIT_ROW[c] === 'object' ? JSON.stringify(PUBLISHED_AKSAUDIT_ROW[c]) : PUBLISHED_AKSAUDIT_ROW[c],
              ),
            ],
          },
        ],
      }),
    );
    try {
      const { code, stdout, stderr } = await runCli(['normalise', lines.path, api.path]);
      const out = records(stdout);

      expect(out).toHaveLength(2);
      expect(out[0]).toEqual(out[1]);
      expect(out[0]).toMatchObject({
        cluster_name: 'aks',
        audit_id: '43af2d39-6ad2-4266-9196-c144db8cf714',
        k8s_user: 'masterclient',
        k8s_verb: 'list',
        src_ip: '1.2.3.4',
      });
      expect(out[0]?.ocsf.cloud).toMatchObject({ provider: 'Azure', account: { uid: 'redacts-1111-1111-1111-111111111111' } });
      expect(ocsfErrors(out[0]?.ocsf)).toEqual([]);
      expect(stderr).toContain(`normalise: ${lines.path}: JSON lines of Log Analytics rows (2 rows)`);
      expect(stderr).toContain(`normalise: ${api.path}: a Log Analytics Query API answer (1 row)`);
      expect(stderr).toContain('table "AKSControlPlane" is not AKSAudit or AKSAuditAdmin');
      expect(stderr.trimEnd().split('\n').at(-1)).toBe('normalised 2, rejected 0, skipped 1');
      expect(code).toBe(0);
    } finally {
      lines.remove();
      api.remove();
    }
  });
});
