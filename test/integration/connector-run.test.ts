import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NormalisedRecord } from '../../lib/audit/index.js';
import type { IngestServer } from '../../lib/ingest/adapters/server.js';
import { type EventStore, openEventStore } from '../../lib/sinks/sqlite.js';
import type { HealthFile } from '../../lib/tail/health.js';
import { uniqueFalcoEvents } from '../helpers/ingest.js';
import { tempDir } from '../helpers/tail.js';
import { buildTailCliBundle, startLocalIngest } from '../helpers/tail-ingest.js';

const exec = promisify(execFile);
const SECRET = 'connector-run-secret-5e6f7a8b';

// The real Falco k8saudit traces, one JSON Event per line: what a kube-apiserver's
// --audit-log-path file holds.
const EVENTS = uniqueFalcoEvents();
const asLines = (events: readonly unknown[]) => events.map((e) => `${JSON.stringify(e)}\n`).join('');

describe('aisoc-k8s-audit connector run (the built CLI) against the local ingest', () => {
  let bundle = { cli: '', cleanup: () => {} };
  let tmp: { dir: string; cleanup: () => void };
  let ingest: IngestServer;
  let store: EventStore;

  beforeAll(async () => {
    tmp = tempDir('aisoc-connector-run-');
    [bundle, ingest] = await Promise.all([buildTailCliBundle(), startLocalIngest(join(tmp.dir, 'data'), SECRET)]);
    store = openEventStore(join(tmp.dir, 'data'));
  }, 120_000);

  afterAll(async () => {
    store?.close();
    await ingest?.close();
    bundle.cleanup();
    tmp?.cleanup();
  });

  async function cli(
    args: string[],
    env: Record<string, string> = {},
    timeoutMs = 0,
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await exec(process.execPath, [bundle.cli, ...args], {
        env: { PATH: process.env.PATH ?? '', ...env },
        maxBuffer: 64 * 1024 * 1024,
        timeout: timeoutMs,
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  /** A connector config as an operator writes it (YAML); the secret comes from the environment. */
  function configFile(name: string, fields: Record<string, string | number>): string {
    const path = join(tmp.dir, `${name}.yaml`);
    writeFileSync(
      path,
      `${Object.entries(fields)
        .map(([k, v]) => `${k}: ${typeof v === 'number' ? v : JSON.stringify(v)}`)
        .join('\n')}\n`,
    );
    return path;
  }

  it('file_tail --once: delivers the audit log with the config cluster name, prints the high events, keeps the health', async () => {
    const log = join(tmp.dir, 'once-audit.log');
    writeFileSync(log, asLines(EVENTS));
    const config = configFile('once', {
      mode: 'file_tail',
      cluster_name: 'selfhosted-1',
      audit_log_path: log,
      ingest_url: `${ingest.url}/v1/ingest/k8s-audit/conn-once`,
    });
    const health = join(tmp.dir, 'once.health');

    const r = await cli(['connector', 'run', '--config', config, '--once', '--health-file', health], { K8S_AUDIT_SHARED_SECRET: SECRET });

    expect(r.code, r.stderr).toBe(0);
    expect(store.countEvents({ tenant: 'conn-once', cluster: 'selfhosted-1' })).toBe(EVENTS.length);
    const alerts = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as NormalisedRecord);
    expect(alerts.length).toBe(store.countAlerts({ tenant: 'conn-once' }));
    expect(alerts.every((a) => a.severity === 'high' && a.cluster_name === 'selfhosted-1')).toBe(true);
    // The cursor is where the spec puts it by default, past every line.
    expect(JSON.parse(readFileSync(`${log}.aisoc-cursor`, 'utf8')).offset).toBe(readFileSync(log).length);
    const h = JSON.parse(readFileSync(health, 'utf8')) as HealthFile;
    expect(h).toMatchObject({ mode: 'file_tail', cluster_name: 'selfhosted-1', status: 'ok', poll_interval_seconds: 300 });
    expect(h.last_poll?.delivered).toBe(EVENTS.length);
    expect(r.stdout + r.stderr).not.toContain(SECRET);

    expect(await cli(['connector', 'health', '--health-file', health])).toMatchObject({ code: 0, stdout: 'healthy\n' });
    // A last success older than the allowed age is unhealthy, with the reason.
    writeFileSync(health, JSON.stringify({ ...h, last_success_at: '2020-01-01T00:00:00.000Z' }));
    const stale = await cli(['connector', 'health', '--health-file', health]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain('unhealthy: the last successful poll was');
    expect((await cli(['connector', 'health', '--health-file', join(tmp.dir, 'missing')])).code).toBe(1);
  });

  it('file_tail runs every poll_interval_seconds until SIGTERM, picking up appended lines, and exits 0', async () => {
    const log = join(tmp.dir, 'loop-audit.log');
    const [first, second] = [EVENTS.slice(0, 10), EVENTS.slice(10, 25)];
    writeFileSync(log, asLines(first));
    const config = configFile('loop', {
      mode: 'file_tail',
      cluster_name: 'selfhosted-2',
      audit_log_path: log,
      poll_interval_seconds: 1,
      ingest_url: `${ingest.url}/v1/ingest/k8s-audit/conn-loop`,
    });
    const child: ChildProcess = spawn(process.execPath, [bundle.cli, 'connector', 'run', '--config', config], {
      env: { PATH: process.env.PATH ?? '', K8S_AUDIT_SHARED_SECRET: SECRET },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const until = async (n: number) => {
      for (let i = 0; i < 100 && store.countEvents({ tenant: 'conn-loop' }) < n; i++) await new Promise((r) => setTimeout(r, 100));
      return store.countEvents({ tenant: 'conn-loop' });
    };
    try {
      expect(await until(first.length)).toBe(first.length);
      appendFileSync(log, asLines(second));
      expect(await until(first.length + second.length)).toBe(first.length + second.length);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stderr).toContain('"message":"connector stopped"');
    expect(stderr.match(/"message":"poll"/g)?.length ?? 0).toBeGreaterThanOrEqual(2);
  });

  it('webhook mode: each poll reports health and fetch_alerts is empty', async () => {
    const config = configFile('webhook', { mode: 'webhook', cluster_name: 'eks-prod', ingest_url: `${ingest.url}/v1/ingest/k8s-audit/w` });
    const r = await cli(['connector', 'run', '--config', config, '--once']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    const poll = r.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .find((l) => l.message === 'poll');
    expect(poll).toMatchObject({ alerts: 0, health: { mode: 'webhook', status: 'ok', cluster_name: 'eks-prod' } });
  });

  it('tail --config reads the same file as connector run and test-connection: the file over the environment, flags over both', async () => {
    const log = join(tmp.dir, 'tail-audit.log');
    writeFileSync(log, asLines(EVENTS.slice(0, 7)));
    const config = configFile('tail', {
      mode: 'file_tail',
      cluster_name: 'from-file',
      audit_log_path: log,
      ingest_url: `${ingest.url}/v1/ingest/k8s-audit/conn-tail`,
    });
    // The environment fills what the file leaves out (the secret) and loses where the file speaks (the URL).
    const r = await cli(['tail', '--config', config, '--once'], {
      K8S_AUDIT_SHARED_SECRET: SECRET,
      AISOC_INGEST_URL: `${ingest.url}/v1/ingest/k8s-audit/conn-tail-env`,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(store.countEvents({ tenant: 'conn-tail', cluster: 'from-file' })).toBe(7);
    expect(store.countEvents({ tenant: 'conn-tail-env' })).toBe(0);
    // test-connection checks the same thing: with the same file and environment, it passes.
    const checked = await cli(['test-connection', '--config', config], {
      K8S_AUDIT_SHARED_SECRET: SECRET,
      AISOC_INGEST_URL: `${ingest.url}/v1/ingest/k8s-audit/conn-tail-env`,
    });
    expect(checked.code, checked.stdout + checked.stderr).toBe(0);
    appendFileSync(log, asLines(EVENTS.slice(7, 9)));
    const flagged = await cli(['tail', '--config', config, '--once', '--cluster', 'from-flag'], { K8S_AUDIT_SHARED_SECRET: SECRET });
    expect(flagged.code, flagged.stderr).toBe(0);
    expect(store.countEvents({ tenant: 'conn-tail', cluster: 'from-flag' })).toBe(2);
    // Another log by flag gets a cursor of its own, beside it, not the file's log's cursor.
    const other = join(tmp.dir, 'other-audit.log');
    writeFileSync(other, asLines(EVENTS.slice(9, 12)));
    const moved = await cli(['tail', '--config', config, '--once', '--path', other], { K8S_AUDIT_SHARED_SECRET: SECRET });
    expect(moved.code, moved.stderr).toBe(0);
    expect(existsSync(`${other}.aisoc-cursor`)).toBe(true);
    expect(store.countEvents({ tenant: 'conn-tail' })).toBe(12);
    // A webhook connector's file is not one to tail.
    const webhook = configFile('tail-webhook', { mode: 'webhook', cluster_name: 'w', ingest_url: `${ingest.url}/v1/ingest/k8s-audit/x` });
    const refused = await cli(['tail', '--config', webhook, '--once'], { K8S_AUDIT_SHARED_SECRET: SECRET });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('mode is webhook');
  });

  it('logs a rule that could not evaluate a tailed event as the ingest does: rule, kind and count once per rule, no event value', async () => {
    // The rule-errors commit's hostile event (test/integration/rule-errors-serve.test.ts): Falco's
    // ReplicaSet-controller privileged pod create with `capabilities.add` as a string, which
    // makes dangerous-capabilities stop (exists() over no list).
    const original = EVENTS.find((e) => e.auditID === 'a362d22b-db3c-4590-9505-23782f12925f');
    expect(original).toBeDefined();
    const hostile = [1, 2, 3].map((n) => {
      const e = structuredClone(original) as { auditID: string; requestObject: { spec: { containers: { securityContext: unknown }[] } } };
      e.auditID = `0d5e7a10-0000-4000-8000-${String(n).padStart(12, '0')}`;
      (e.requestObject.spec.containers[0] as { securityContext: unknown }).securityContext = { capabilities: { add: 'SYS_ADMIN' } };
      return e;
    });
    const log = join(tmp.dir, 'rule-errors-audit.log');
    writeFileSync(log, asLines([original, ...hostile]));
    const config = configFile('rule-errors', {
      mode: 'file_tail',
      cluster_name: 'selfhosted-rule-errors',
      audit_log_path: log,
      cursor_path: join(tmp.dir, 'rule-errors.cursor'),
      ingest_url: `${ingest.url}/v1/ingest/k8s-audit/conn-rule-errors`,
    });
    const r = await cli(['connector', 'run', '--config', config, '--once'], { K8S_AUDIT_SHARED_SECRET: SECRET });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.message === 'rule could not be evaluated');
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'WARN',
        tenant: 'conn-rule-errors',
        rule: 'dangerous-capabilities',
        kind: 'cel:invalid_comprehension_range',
        events: 3,
      }),
    ]);
    for (const value of ['SYS_ADMIN', 'nginx', 'replicaset-controller', 'cannot be range']) expect(r.stderr).not.toContain(value);
  });

  it('scores the alerts it prints as the ingest does: K8S_AUDIT_SEVERITY=spec and K8S_AUDIT_RULES change them, a bad value stops it', async () => {
    const log = join(tmp.dir, 'scored-audit.log');
    writeFileSync(log, asLines(EVENTS));
    const run = async (name: string, env: Record<string, string> = {}) => {
      const config = configFile(name, {
        mode: 'file_tail',
        cluster_name: 'selfhosted-scored',
        audit_log_path: log,
        cursor_path: join(tmp.dir, `${name}.cursor`),
        ingest_url: `${ingest.url}/v1/ingest/k8s-audit/conn-${name}`,
      });
      const r = await cli(['connector', 'run', '--config', config, '--once'], { K8S_AUDIT_SHARED_SECRET: SECRET, ...env });
      expect(r.code, r.stderr).toBe(0);
      return r.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as NormalisedRecord);
    };
    const byDefault = await run('scored-default');
    const bySpec = await run('scored-spec', { K8S_AUDIT_SEVERITY: 'spec' });

    // The real traces hold attacks only the rules lift to high (a privileged pod: medium by the table).
    const lifted = byDefault.filter((a) => a.severity_reason.startsWith('rule:'));
    expect(lifted.length).toBeGreaterThan(0);
    expect(bySpec.length).toBeLessThan(byDefault.length);
    expect(bySpec.every((a) => a.rule_ids.length === 0 && !a.severity_reason.startsWith('rule:'))).toBe(true);

    // An operator's directory turning off the rule that lifted the first of them.
    const ruleId = (lifted[0] as NormalisedRecord).severity_reason.slice('rule:'.length);
    const rulesDir = join(tmp.dir, 'operator-rules');
    mkdirSync(rulesDir, { recursive: true });
    writeFileSync(join(rulesDir, '10-off.yaml'), `rules:\n  - id: ${ruleId}\n    disabled: true\n`);
    const withRules = await run('scored-rules', { K8S_AUDIT_RULES: rulesDir });
    expect(withRules.some((a) => a.rule_ids.includes(ruleId))).toBe(false);
    expect(byDefault.some((a) => a.rule_ids.includes(ruleId))).toBe(true);

    for (const [env, named] of [
      [{ K8S_AUDIT_SEVERITY: 'loud' }, 'K8S_AUDIT_SEVERITY must be default or spec'],
      [{ K8S_AUDIT_RULES: join(tmp.dir, 'no-such-rules') }, 'K8S_AUDIT_RULES'],
    ] as const) {
      const config = configFile('scored-bad', {
        mode: 'file_tail',
        cluster_name: 'c',
        audit_log_path: log,
        ingest_url: `${ingest.url}/v1/ingest/k8s-audit/x`,
      });
      const bad = await cli(['connector', 'run', '--config', config, '--once'], { K8S_AUDIT_SHARED_SECRET: SECRET, ...env });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain(named);
    }
  });

  it('refuses a config that is invalid or unreadable with exit 2, naming the problem', async () => {
    const bad = configFile('bad', { mode: 'file_tail', poll_interval_seconds: 'soon' });
    const r = await cli(['connector', 'run', '--config', bad, '--once']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cluster_name is required');
    expect((await cli(['connector', 'run', '--config', join(tmp.dir, 'nope.yaml')])).stderr).toContain('ENOENT');
    expect((await cli(['connector', 'explode'])).code).toBe(2);
  });

  it('stops at the start with exit 2, before any poll, on a file_tail config with nowhere to deliver or a rule that does not compile', async () => {
    const log = join(tmp.dir, 'start-audit.log');
    writeFileSync(log, asLines(EVENTS.slice(0, 3)));
    const cursor = join(tmp.dir, 'start.cursor');
    const noRoute = configFile('start-no-route', { mode: 'file_tail', cluster_name: 'c', audit_log_path: log, cursor_path: cursor });
    // Without --once too: it used to start, log a failed poll every interval and never exit.
    const r = await cli(['connector', 'run', '--config', noRoute], {}, 10_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('file_tail mode needs ingest_url (or AISOC_INGEST_URL) to deliver events');
    expect(r.stderr).toContain('file_tail mode needs shared_secret (or K8S_AUDIT_SHARED_SECRET) to deliver events');
    expect(r.stderr).not.toContain('"message":"poll"');
    expect(existsSync(cursor)).toBe(false);

    // A shipped rule with its condition cut short: named with its file, id and the CEL parser's error.
    const rulesDir = join(tmp.dir, 'broken-rules');
    mkdirSync(rulesDir, { recursive: true });
    const shipped = readFileSync(join(import.meta.dirname, '../../rules/access.yaml'), 'utf8');
    const start = shipped.indexOf('\n  - id: ') + 1;
    const block = shipped.slice(start, shipped.indexOf('\n  - id: ', start) + 1);
    const id = /- id: ([a-z0-9-]+)/.exec(block)?.[1] as string;
    writeFileSync(
      join(rulesDir, 'broken.yaml'),
      `rules:\n${block.replace(/ {4}condition: >-\n(?: {6}.*\n)+/, `    condition: "verb == 'create' &&"\n`)}`,
    );
    const routed = configFile('start-bad-rule', {
      mode: 'file_tail',
      cluster_name: 'c',
      audit_log_path: log,
      cursor_path: cursor,
      ingest_url: `${ingest.url}/v1/ingest/k8s-audit/conn-start`,
    });
    const bad = await cli(['connector', 'run', '--config', routed], { K8S_AUDIT_SHARED_SECRET: SECRET, K8S_AUDIT_RULES: rulesDir }, 10_000);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`${join(rulesDir, 'broken.yaml')}: ${id}: condition does not compile`);
    expect(bad.stderr).not.toContain('"message":"poll"');
    expect(store.countEvents({ tenant: 'conn-start' })).toBe(0);
  });

  it('prints the alert of an event salvaged from a line longer than the per-poll cap, as the ingest raised it', async () => {
    // The real Falco trace of a privileged pod's creation, unchanged: 3,355 bytes, over a 2 KiB
    // cap. Its first 2 KiB hold who created which pod and the whole requestObject (the apiserver
    // writes responseObject after it), which the privileged-container rule reads.
    const falco = join(import.meta.dirname, '../fixtures/falco/create_nginx_pod_privileged.json');
    const line = readFileSync(falco, 'utf8').split('\n')[0] as string;
    const cap = 2048;
    expect(Buffer.byteLength(line)).toBeGreaterThan(cap);
    const log = join(tmp.dir, 'salvaged-audit.log');
    writeFileSync(log, `${line}\n`);
    const config = configFile('salvaged', {
      mode: 'file_tail',
      cluster_name: 'selfhosted-salvaged',
      audit_log_path: log,
      ingest_url: `${ingest.url}/v1/ingest/k8s-audit/conn-salvaged`,
    });

    const r = await cli(['connector', 'run', '--config', config, '--once'], {
      K8S_AUDIT_SHARED_SECRET: SECRET,
      AISOC_TAIL_MAX_BYTES: String(cap),
    });

    expect(r.code, r.stderr).toBe(0);
    const poll = r.stderr
      .split('\n')
      .filter((l) => l.includes('"message":"poll"'))
      .map((l) => JSON.parse(l) as { alerts: number; health: { last_poll: { salvaged_lines: number } } });
    expect(poll[0]?.health.last_poll.salvaged_lines).toBe(1);
    const stored = store.queryAlerts({ tenant: 'conn-salvaged' });
    expect(stored.map((a) => [a.audit_id, a.severity_reason])).toEqual([
      [(JSON.parse(line) as { auditID: string }).auditID, 'rule:privileged-container'],
    ]);
    const printed = r.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as NormalisedRecord);
    expect(printed.map((a) => [a.audit_id, a.severity_reason, a.rule_ids])).toEqual(
      stored.map((a) => [a.audit_id, a.severity_reason, a.rule_ids]),
    );
    expect(poll[0]?.alerts).toBe(1);
    expect(printed[0]?.raw_event).toMatchObject({ annotations: { 'audit.k8s.io/truncated': 'true' } });
  });
});
