// The audit events kube-apiserver writes, in every shape Kubernetes' own tests expect (every
// verb, the streaming and cross-group subresources, impersonation, non-resource URLs, custom
// resources, each stage and level, failures with full Status objects, user.extra, the
// authorization and pod-security annotations), sent to the built CLI's `serve` over HTTP as an
// apiserver's webhook sends them; then read back as a user does, with `events --json`.
// test/fixtures/kubernetes/README.md names the Kubernetes source of each shape.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../lib/audit/index.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { eventList, SECRET, tempDataDir } from '../helpers/ingest.js';
import { ocsfErrors } from '../helpers/ocsf.js';
import { type ServeProcess, spawnServe } from '../helpers/serve.js';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli.mjs');

interface Case {
  name: string;
  source: string;
  expect: {
    verb: string;
    resource: string | null;
    subresource: string | null;
    namespace: string | null;
    user: string;
    code: number | null;
    severity: string;
    reason: string;
  };
  event: AuditEvent;
}

interface Stored {
  audit_id: string;
  k8s_stage: string;
  k8s_verb: string | null;
  k8s_resource: string | null;
  k8s_subresource: string | null;
  k8s_namespace: string | null;
  k8s_user: string | null;
  k8s_impersonated_user: string | null;
  k8s_response_code: number | null;
  k8s_api_group: string | null;
  request_uri: string | null;
  src_ip: string | null;
  severity: string;
  severity_reason: string;
  ocsf: Record<string, unknown>;
}

const CASES = (JSON.parse(readFileSync(join(FIXTURES, 'kubernetes', 'apiserver-audit-events.json'), 'utf8')) as { cases: Case[] }).cases;
const EVENTS = CASES.map((c) => c.event);
const slot = (auditId: string, stage: string) => `${auditId} ${stage}`;

function post(url: string, body: string) {
  return fetch(`${url}/v1/ingest/k8s-audit/acme`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-aisoc-k8s-token': SECRET, 'x-aisoc-cluster-name': 'e2e' },
    body,
  });
}

async function storedEvents(dataDir: string, table: 'events' | 'alerts' = 'events'): Promise<Stored[]> {
  const alerts = table === 'alerts' ? ['--alerts'] : [];
  const { stdout } = await run(process.execPath, [CLI, 'events', ...alerts, '--json', '--limit', '1000', '--data-dir', dataDir], {
    env: { PATH: process.env.PATH ?? '' },
    timeout: 30_000,
  });
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Stored);
}

/** Starts `serve` with `env`, sends the fixture's EventList `times` times, stops it; the answers and what it logged. */
async function ingest(dataDir: string, env: Record<string, string>, times: number) {
  const serve: ServeProcess = await spawnServe(CLI, dataDir, { K8S_AUDIT_SHARED_SECRET: SECRET, ...env });
  try {
    const answers: { status: number; body: unknown }[] = [];
    for (let i = 0; i < times; i++) {
      const res = await post(serve.url, eventList(EVENTS));
      answers.push({ status: res.status, body: await res.json() });
    }
    return { answers, logs: serve.logs };
  } finally {
    expect(await serve.stop()).toBe(0);
  }
}

describe("the audit events Kubernetes' own tests expect, through serve", () => {
  const defaults = tempDataDir('aisoc-apiserver-shapes-');
  const spec = tempDataDir('aisoc-apiserver-shapes-spec-');
  let sent: Awaited<ReturnType<typeof ingest>>;
  let bySlot: Map<string, Stored[]>;
  let specBySlot: Map<string, Stored[]>;
  let specAlerts: Stored[];

  const index = (rows: Stored[]) => {
    const m = new Map<string, Stored[]>();
    for (const r of rows) m.set(slot(r.audit_id, r.k8s_stage), [...(m.get(slot(r.audit_id, r.k8s_stage)) ?? []), r]);
    return m;
  };

  beforeAll(async () => {
    sent = await ingest(defaults.dir, {}, 2);
    await ingest(spec.dir, { K8S_AUDIT_SEVERITY: 'spec' }, 1);
    bySlot = index(await storedEvents(defaults.dir));
    specBySlot = index(await storedEvents(spec.dir));
    specAlerts = await storedEvents(spec.dir, 'alerts');
  }, 60_000);

  afterAll(() => {
    defaults.remove();
    spec.remove();
  });

  it('accepts every event once, takes the resend as duplicates, and never answers 500', () => {
    expect(sent.answers).toEqual([
      { status: 200, body: { accepted: CASES.length, rejected: 0, duplicates: 0, errors: [] } },
      { status: 200, body: { accepted: 0, rejected: 0, duplicates: CASES.length, errors: [] } },
    ]);
    expect(sent.logs.filter((l) => l.level === 'error')).toEqual([]);
    expect(bySlot.size).toBe(CASES.length);
    for (const c of CASES) expect(bySlot.get(slot(c.event.auditID, c.event.stage as string))?.length, c.name).toBe(1);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s: the flat fields as the apiserver wrote them', (_name, c) => {
    const r = bySlot.get(slot(c.event.auditID, c.event.stage as string))?.[0];
    expect(r).toMatchObject({
      k8s_verb: c.expect.verb,
      k8s_resource: c.expect.resource,
      k8s_subresource: c.expect.subresource,
      k8s_namespace: c.expect.namespace,
      k8s_user: c.expect.user,
      k8s_response_code: c.expect.code,
      k8s_impersonated_user: c.event.impersonatedUser?.username ?? null,
      k8s_api_group: c.event.objectRef?.apiGroup ?? null,
      request_uri: c.event.requestURI,
      src_ip: c.event.sourceIPs?.[0] ?? null,
    });
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s: an OCSF 6003 record valid against the 1.8.0 schema', (_name, c) => {
    const r = bySlot.get(slot(c.event.auditID, c.event.stage as string))?.[0];
    expect(ocsfErrors(r?.ocsf)).toEqual([]);
    expect(r?.ocsf).toMatchObject({ class_uid: 6003, api: { operation: c.expect.verb } });
  });

  it.each(CASES.map((c) => [c.name, c] as const))("%s: the severity table's row (K8S_AUDIT_SEVERITY=spec)", (_name, c) => {
    const r = specBySlot.get(slot(c.event.auditID, c.event.stage as string))?.[0];
    expect([r?.severity, r?.severity_reason]).toEqual([c.expect.severity, c.expect.reason]);
  });

  it('raises one alert per request the table calls high, at its first high stage', () => {
    const high = new Set(CASES.filter((c) => c.expect.severity === 'high').map((c) => c.event.auditID));
    expect(specAlerts.map((a) => a.audit_id).sort()).toEqual([...high].sort());
  });
});
