// A rule that throws is not silently "no match": Falco's public trace of the ReplicaSet
// controller's pod create (test/fixtures/falco/create_nginx_pod_privileged.json), with its
// container's securityContext replaced: `capabilities.add` as a string makes
// dangerous-capabilities stop (exists() over no list); `constructor: null` beside
// `privileged: true` made cel-js throw a TypeError in every rule reading it (cel-js picks a value's
// type by its `constructor`), and is now read as any object. Posted to a real `serve`: the answer,
// /metrics, the log lines on stderr and the stored records, as an operator reads them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../lib/audit/types.js';
import { falcoEvent } from '../helpers/fixtures.js';
import { eventList, SECRET, tempDataDir } from '../helpers/ingest.js';
import { buildServeBundle, type ServeProcess, spawnServe } from '../helpers/serve.js';
import { cliJson } from '../helpers/through-serve.js';

let cli: { cli: string; cleanup: () => void };
let tmp: ReturnType<typeof tempDataDir>;
let serve: ServeProcess;

beforeAll(async () => {
  cli = await buildServeBundle();
  tmp = tempDataDir('aisoc-serve-rule-errors-');
  serve = await spawnServe(cli.cli, tmp.dir, { K8S_AUDIT_SHARED_SECRET: SECRET });
});

afterAll(async () => {
  await serve?.stop();
  tmp?.remove();
  cli?.cleanup();
});

/** The Falco trace under its own auditID, its container's securityContext as `json` (parsed as the ingest parses it). */
function replicaSetPod(n: number, json: string): AuditEvent {
  const event = structuredClone(falcoEvent('create_nginx_pod_privileged.json'));
  event.auditID = `0d5e7a10-0000-4000-8000-${String(n).padStart(12, '0')}`;
  const body = event.requestObject as { spec: { containers: { securityContext: unknown }[] } };
  (body.spec.containers[0] as { securityContext: unknown }).securityContext = JSON.parse(json);
  return event;
}

const hostile = (n: number) => replicaSetPod(n, '{"capabilities":{"add":"SYS_ADMIN"}}');
const constructorKey = replicaSetPod(99, '{"privileged":true,"constructor":null}');

function post(items: unknown[]): Promise<Response> {
  return fetch(`${serve.url}/v1/ingest/k8s-audit/acme`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET, 'X-AiSOC-Cluster-Name': 'kind-1' },
    body: eventList(items),
  });
}

/** The labelled samples of the rule errors' counter, `rule kind` → value. */
async function ruleErrorSamples(): Promise<Record<string, number>> {
  const text = await (await fetch(`${serve.url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^aisoc_ingest_rule_errors_total\{rule="([^"]+)",kind="([^"]+)"\} (\S+)$/gm)) {
    out[`${m[1]} ${m[2]}`] = Number(m[3]);
  }
  return out;
}

describe('serve: a rule that throws on an event', () => {
  it('counts it per rule on /metrics, logs the rule and the kind once a minute without event values, and scores the event by its table row; a constructor key is no error', async () => {
    expect(await ruleErrorSamples()).toEqual({});
    const original = falcoEvent('create_nginx_pod_privileged.json');
    const res = await post([original, hostile(1), constructorKey]);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ accepted: 3, rejected: 0 });
    // Three more in two requests: counted, not logged again within the minute.
    expect((await post([hostile(2), hostile(3)])).status).toBe(200);
    expect((await post([hostile(4)])).status).toBe(200);
    await new Promise((r) => setTimeout(r, 50));

    // One rule, one kind, once per event; the constructor key is no error.
    expect(await ruleErrorSamples()).toEqual({ 'dangerous-capabilities cel:invalid_comprehension_range': 4 });

    const warnings = serve.logs.filter((l) => l.message === 'rule could not be evaluated');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      level: 'WARN',
      rule: 'dangerous-capabilities',
      kind: 'cel:invalid_comprehension_range',
      events: 1,
      tenant: 'acme',
    });
    // The request's line says how many rule errors its batch had.
    expect(serve.logs.filter((l) => l.message === 'ingest request').map((l) => l.rule_errors)).toEqual([1, 2, 1]);
    // Nothing of the event: not its capability, image, user, nor the error's message.
    const output = serve.output();
    for (const value of ['SYS_ADMIN', 'nginx', 'replicaset-controller', 'cannot be range']) expect(output).not.toContain(value);

    const records = await cliJson<{ audit_id: string; severity: string; severity_reason: string; rule_ids: string[] }>([
      'events',
      '--json',
      '--limit',
      '100',
      '--data-dir',
      tmp.dir,
    ]);
    const byId = new Map(records.map((r) => [r.audit_id, r]));
    expect(byId.get(original.auditID)).toMatchObject({ severity: 'high', rule_ids: ['privileged-container'] });
    expect(byId.get(constructorKey.auditID)).toMatchObject({ severity: 'high', rule_ids: ['privileged-container'] });
    // Without the rule, the ReplicaSet controller's pod create would be routine (info); a rule that
    // could not read it leaves the table's row: medium, workload-change.
    for (let n = 1; n <= 4; n++) {
      expect(byId.get(hostile(n).auditID)).toMatchObject({ severity: 'medium', severity_reason: 'workload-change', rule_ids: [] });
    }
  });
});
