import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { shippedDetection } from '../../lib/audit/index.js';
import { run as serve } from '../../lib/cli/serve.js';
import { EVENT_STORE_FILE } from '../../lib/sinks/sqlite.js';
import { captureIo, jsonLines } from './cli.js';
import { runCli, SECRET, tempDataDir } from './ingest.js';
import { findingErrors } from './ocsf.js';

/** The fields of a stored record the scoring tests read, as `events --json` prints them. */
export interface StoredRecord {
  audit_id: string;
  k8s_resource: string;
  k8s_stage: string;
  severity: string;
  severity_reason: string;
  rule_ids: string[];
}

/** An alert as `events --alerts --json` prints it: the record and its Detection Finding. */
export type StoredAlert = StoredRecord & {
  finding: { finding_info: { analytic: { uid: string }; related_analytics?: { uid: string }[] } };
};

/** What a user sees after posting one EventList through `serve`: the answer, then the stored records and alerts. */
export interface ThroughServe {
  status: number;
  answer: unknown;
  records: StoredRecord[];
  alerts: StoredAlert[];
}

/** A running `serve`: its URL, and `stop` (resolves once it has exited 0; throws with its log if not). */
export interface RunningServe {
  url: string;
  stop(): Promise<void>;
}

/** Starts the CLI's `serve` in this process on a free port over `dataDir` (SQLite store, shared secret `secret`). */
export async function startServe(dataDir: string, secret: string): Promise<RunningServe> {
  const cap = captureIo({ K8S_AUDIT_SHARED_SECRET: secret });
  const abort = new AbortController();
  const done = serve(['--port', '0', '--data-dir', dataDir, '--no-console'], { ...cap.io, signal: abort.signal });
  let url: string | undefined;
  for (let i = 0; i < 500 && url === undefined; i++) {
    url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(cap.out() + cap.err())?.[1];
    if (url === undefined) await new Promise((r) => setTimeout(r, 10));
  }
  if (url === undefined) throw new Error(`serve did not start: ${cap.out()}${cap.err()}`);
  return {
    url,
    async stop() {
      abort.abort();
      const code = await done;
      if (code !== 0) throw new Error(`serve exited ${code}: ${cap.err()}`);
    },
  };
}

/** The JSON lines a CLI command prints (`events --json`, `rejected --json`), parsed. */
export async function cliJson<T>(argv: string[], env: Record<string, string> = {}): Promise<T[]> {
  return jsonLines((await runCli(argv, env)).stdout) as T[];
}

/**
 * Starts the CLI's `serve` on a free port over `dataDir` (SQLite store, shared secret `secret`),
 * posts `items` as one EventList of cluster `cluster` as an apiserver's webhook does, stops it,
 * and reads back what a user reads: `events --json` and `events --alerts --json`.
 */
export async function throughServe(dataDir: string, secret: string, cluster: string, items: readonly unknown[]): Promise<ThroughServe> {
  const server = await startServe(dataDir, secret);
  const res = await fetch(`${server.url}/v1/ingest/k8s-audit/acme`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': secret, 'X-AiSOC-Cluster-Name': cluster },
    body: JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items }),
  });
  const status = res.status;
  const answer: unknown = await res.json();
  await server.stop();
  return {
    status,
    answer,
    records: await cliJson<StoredRecord>(['events', '--json', '--limit', '1000', '--data-dir', dataDir]),
    alerts: await cliJson<StoredAlert>(['events', '--alerts', '--json', '--limit', '1000', '--data-dir', dataDir]),
  };
}

/** The severity the shipped pack gives a rule; undefined for an id it does not know (an operator's). */
function shippedRuleSeverity(id: string): string | undefined {
  return shippedDetection().rules?.describe?.(id)?.severity;
}

/** What one posted event comes out as: its severity, its severity_reason and the rules that fired (pack order). */
export type Outcome = [severity: string, reason: string, rules?: string[]];

/**
 * Asserts the alert a user reads back for one event: none below high; for a high one a valid OCSF
 * 2004 finding naming what set the severity (the rule, also when it came level with the table's
 * row, which is then related), every other rule that fired a related analytic, so none goes unnamed.
 */
export function expectAlert(
  alerts: readonly StoredAlert[],
  auditId: string,
  [severity, reason, rules = []]: Outcome,
  label = auditId,
): void {
  const alert = alerts.find((a) => a.audit_id === auditId);
  if (severity !== 'high') {
    expect(alert, label).toBeUndefined();
    return;
  }
  expect(findingErrors(alert?.finding), label).toEqual([]);
  // A rule as high as the table's row names the alert; the row is then its first related analytic.
  const level = reason.startsWith('rule:') ? undefined : rules.find((id) => shippedRuleSeverity(id) === 'high');
  const analytic = level ?? reason.replace(/^rule:/, '');
  expect(alert?.finding.finding_info.analytic.uid, label).toBe(analytic);
  const related = alert?.finding.finding_info.related_analytics ?? [];
  expect(
    related.map((a) => a.uid),
    label,
  ).toEqual([...(level === undefined ? [] : [reason]), ...rules.filter((id) => id !== analytic)]);
}

/** Asserts what a user reads back for one posted event: its record's severity, reason and rules, then its alert. */
export function expectOutcome(got: Pick<ThroughServe, 'records' | 'alerts'>, event: { auditID?: unknown }, outcome: Outcome): void {
  const id = String(event.auditID);
  const [severity, reason, rules = []] = outcome;
  const r = got.records.find((x) => x.audit_id === id);
  expect(r, id).toMatchObject({ severity, severity_reason: reason });
  expect(r?.rule_ids, id).toEqual(rules);
  expectAlert(got.alerts, id, outcome);
}

/** What `servedOnce` gives the tests of its block: what a user read back, and the check of one event. */
export interface Served extends ThroughServe {
  check(event: { auditID?: unknown }, outcome: Outcome): void;
}

/**
 * Posts `items` through `serve` once for the enclosing `describe` (in its beforeAll, over a fresh
 * data directory removed afterAll); the returned object holds what a user read back once the
 * block's tests run.
 */
export function servedOnce(prefix: string, secret: string, cluster: string, items: readonly unknown[]): Served {
  const tmp = tempDataDir(prefix);
  const served: Served = {
    status: 0,
    answer: undefined,
    records: [],
    alerts: [],
    check: (event, outcome) => expectOutcome(served, event, outcome),
  };
  beforeAll(async () => {
    Object.assign(served, await throughServe(tmp.dir, secret, cluster, items));
  });
  afterAll(() => tmp.remove());
  return served;
}

type Json = Record<string, unknown>;

/** What each object of one installed file comes out as, by `Kind/name`. */
export interface InstallOutcomes {
  file: string;
  expect: Record<string, Outcome>;
}

/** One object of an installed file, as the audit events of its kubectl creates. */
export interface Installed {
  file: string;
  key: string;
  events: { how: string; event: Json }[];
}

/** One step of an attack scenario: the request it makes and what it comes out as. */
export interface ScenarioStep {
  scenario: string;
  step: string;
  event: Json;
  outcome: Outcome;
  /** A defender putting something back (no attack): left out of the "every attack write" checks. */
  remedy?: true;
}

/**
 * For the public attack scenarios' tests (Kubernetes Goat, ControlPlane's simulator): posts every
 * install's events and every step through `serve` once, and registers in the calling describe the
 * tests a user's view gives: every event accepted and stored, each file's objects exactly those
 * expected, each install's three creates and each step its outcome (`expectOutcome`).
 */
export function servedScenarios(
  prefix: string,
  secret: string,
  cluster: string,
  installs: readonly InstallOutcomes[],
  installed: readonly Installed[],
  steps: readonly ScenarioStep[],
): Served {
  const items = [...installed.flatMap((i) => i.events.map((e) => e.event)), ...steps.map((s) => s.event)];
  const served = servedOnce(prefix, secret, cluster, items);

  it('accepts every event; every object of every file has one expected outcome', () => {
    expect(served.status).toBe(200);
    expect(served.answer).toMatchObject({ accepted: items.length, rejected: 0 });
    expect(served.records).toHaveLength(items.length);
    for (const { file, expect: outcomes } of installs)
      expect(
        installed.filter((i) => i.file === file).map((i) => i.key),
        file,
      ).toEqual(Object.keys(outcomes));
  });

  for (const i of installed) {
    const outcome = installs.find((x) => x.file === i.file)?.expect[i.key] as Outcome;
    it(`install ${i.file} ${i.key}: ${outcome[0]}, ${outcome[1]}`, () => {
      for (const { event: e } of i.events) served.check(e, outcome);
    });
  }

  for (const s of steps) {
    it(`${s.scenario}: ${s.step}: ${s.outcome[0]}, ${s.outcome[1]}`, () => {
      served.check(s.event, s.outcome);
    });
  }
  return served;
}

/** One action of a public tool's fixture: its id, how its test is titled, and the events it leaves. */
export interface FixtureAction {
  key: string;
  title: string;
  events: readonly Json[];
}

/**
 * For the fixtures of public attack tools (CDK, Defender's simulation, Red Kube): posts every
 * action's events, then `extra` events, through `serve` once, and registers in the calling describe
 * the tests a user's view gives: every event accepted, every action with one expected outcome per
 * event (`expected`, by key, in the fixture's order), and each action's events their outcomes.
 */
export function servedActions(
  prefix: string,
  secret: string,
  cluster: string,
  actions: readonly FixtureAction[],
  expected: Readonly<Record<string, readonly Outcome[]>>,
  extra: readonly Json[] = [],
): Served {
  const items = [...actions.flatMap((a) => a.events), ...extra];
  const served = servedOnce(prefix, secret, cluster, items);

  it('accepts every event, and every action of the fixture has one expected outcome per event here', () => {
    expect(served.status).toBe(200);
    expect(served.answer).toMatchObject({ accepted: items.length, rejected: 0 });
    expect(actions.map((a) => a.key)).toEqual(Object.keys(expected));
    for (const a of actions) expect(a.events.length, a.key).toBe(expected[a.key]?.length);
  });

  for (const a of actions) {
    it(a.title, () => {
      a.events.forEach((e, i) => {
        served.check(e, expected[a.key]?.[i] as Outcome);
      });
    });
  }
  return served;
}

/** What `credentialsNotStored` checks: the events, the values none may show, and what each must keep. */
export interface CredentialCase<R> {
  /** The temporary data directory's prefix. */
  prefix: string;
  /** The audit events, as the apiserver posts them. */
  items: () => readonly unknown[];
  /** Fails the test when the text holds a credential's value. */
  expectNoCanary: (text: string) => void;
  /** Checks the kept keys and structure of the records (`serve`'s, then `normalise`'s). */
  expectKept: (records: R[]) => void;
  /** The second test's title: what the records keep. */
  kept: string;
}

/**
 * The credential tests' three checks, the same for each shape of credential: `serve` accepts every
 * item and no value reaches a record, a finding or the SQLite file's bytes; the records keep what
 * they should; `normalise` prints neither on stdout nor stderr and keeps the same.
 */
export function credentialsNotStored<R>(c: CredentialCase<R>): void {
  let out: ThroughServe;
  let disk: string;
  const tmp = tempDataDir(c.prefix);
  beforeAll(async () => {
    out = await throughServe(tmp.dir, SECRET, 'prod', c.items());
    const files = readdirSync(tmp.dir).filter((f) => f.startsWith(EVENT_STORE_FILE));
    disk = files.map((f) => readFileSync(join(tmp.dir, f)).toString('latin1')).join('');
  }, 60_000);
  afterAll(() => tmp.remove());

  it('serve accepts every item and stores none of the credentials: not in a record, a finding or the SQLite file', () => {
    expect(out.status).toBe(200);
    expect(out.answer).toMatchObject({ accepted: c.items().length, rejected: 0 });
    expect(disk.length).toBeGreaterThan(0);
    c.expectNoCanary(JSON.stringify([out.records, out.alerts]));
    c.expectNoCanary(disk);
  });

  it(`serve ${c.kept}`, () => {
    c.expectKept(out.records as unknown as R[]);
  });

  it('normalise prints the same: no credential on stdout or stderr', async () => {
    const run = await runCli(
      ['normalise', '--tenant', 'acme'],
      {},
      c
        .items()
        .map((i) => JSON.stringify(i))
        .join('\n'),
    );
    expect(run.code, run.stderr).toBe(0);
    c.expectNoCanary(`${run.stdout}\n${run.stderr}`);
    c.expectKept(
      run.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as R),
    );
  });
}
