// The identity of an event (lib/audit/identity.ts) end to end: two different events a client
// put in one auditID and stage are both stored and the later one flagged, in one batch and
// across batches; a resend, byte for byte or re-serialised, is a duplicate. Through the local
// ingest (the core of `serve`) into SQLite, and through `tail` into it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as runTail } from '../../lib/cli/tail.js';
import type { IngestServer } from '../../lib/ingest/adapters/server.js';
import { type EventStore, openEventStore } from '../../lib/sinks/sqlite.js';
import { allFalcoEvents, falcoEvent } from '../helpers/fixtures.js';
import { answer, eventList, reserialised, reusedAuditIdPair, SECRET, tempDataDir } from '../helpers/ingest.js';
import { asFile, tempDir } from '../helpers/tail.js';
import { captureIo, startLocalIngest } from '../helpers/tail-ingest.js';

let tmp: { dir: string; remove: () => void };
let server: IngestServer;
let store: EventStore;
const logs: Record<string, unknown>[] = [];

beforeAll(async () => {
  tmp = tempDataDir('aisoc-identity-');
  server = await startLocalIngest(tmp.dir, SECRET, (e) => logs.push(e));
  store = openEventStore(tmp.dir);
});

afterAll(async () => {
  store?.close();
  await server?.close();
  tmp?.remove();
});

function post(body: string, tenant: string): Promise<Response> {
  return fetch(`${server.url}/v1/ingest/k8s-audit/${tenant}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET, 'X-AiSOC-Cluster-Name': 'c1' },
    body,
  });
}

function stored(tenant: string) {
  return store
    .queryEvents({ tenant, limit: 100 })
    .map((r) => [r.k8s_verb, r.k8s_resource, r.severity, r.severity_reason])
    .sort();
}

describe('two events in one auditID and stage, through the local ingest into SQLite', () => {
  it('stores both events of one batch, flags the later one and raises its alert', async () => {
    const [list, binding] = reusedAuditIdPair();

    const body = await answer(await post(eventList([list, binding]), 't-batch'));

    expect(body).toEqual({ accepted: 2, rejected: 0, duplicates: 0, reusedAuditIds: 1, errors: [] });
    expect(stored('t-batch')).toEqual([
      ['create', 'clusterrolebindings', 'high', 'reused-audit-id'],
      ['list', 'pods', 'info', 'steady-state'],
    ]);
    expect(store.queryAlerts({ tenant: 't-batch' }).map((r) => [r.k8s_object_name, r.severity])).toEqual([['pwn', 'high']]);
    expect(logs.find((l) => l.msg === 'ingest request' && l.tenant === 't-batch')).toMatchObject({ accepted: 2, reused_audit_ids: 1 });
  });

  it('flags a later event with a lower severity as medium', async () => {
    const [list, binding] = reusedAuditIdPair();

    await post(eventList([binding, list]), 't-order');

    expect(stored('t-order')).toEqual([
      ['create', 'clusterrolebindings', 'high', 'rbac-binding-change'],
      ['list', 'pods', 'medium', 'reused-audit-id'],
    ]);
  });

  it('stores and flags the same across two batches, and reads the flag back in the OCSF record', async () => {
    const [list, binding] = reusedAuditIdPair();

    const first = await answer(await post(eventList([list]), 't-across'));
    const second = await answer(await post(eventList([binding]), 't-across'));

    expect([first.accepted, first.reusedAuditIds]).toEqual([1, undefined]);
    expect([second.accepted, second.duplicates, second.reusedAuditIds]).toEqual([1, 0, 1]);
    expect(stored('t-across')).toEqual([
      ['create', 'clusterrolebindings', 'high', 'reused-audit-id'],
      ['list', 'pods', 'info', 'steady-state'],
    ]);
    const flagged = store.queryEvents({ tenant: 't-across' }).find((r) => r.k8s_verb === 'create');
    expect([flagged?.ocsf.severity_id, flagged?.ocsf.severity]).toEqual([4, 'High']);
  });

  it('counts a byte-identical resend and a re-serialised resend as duplicates, not as reuse', async () => {
    const [list, binding] = reusedAuditIdPair();
    const batch = eventList([list, binding]);
    await post(batch, 't-resend');

    const again = await answer(await post(batch, 't-resend'));
    const reordered = await answer(
      await post(`{"items": [${reserialised(binding)}, ${reserialised(list)}], "kind": "EventList"}`, 't-resend'),
    );
    const inOneBatch = await answer(await post(eventList([list, JSON.parse(reserialised(list))]), 't-resend-one'));

    expect(again).toMatchObject({ accepted: 0, duplicates: 2 });
    expect(again.reusedAuditIds).toBeUndefined();
    expect(reordered).toMatchObject({ accepted: 0, duplicates: 2 });
    expect(inOneBatch).toMatchObject({ accepted: 1, duplicates: 1 });
    expect(store.countEvents({ tenant: 't-resend' })).toBe(2);
  });

  it('stores both events of the real Falco traces that share an auditID and stage', async () => {
    const shared = allFalcoEvents().filter((e) => e.auditID === '841d3e6d-90d2-43df-8da4-684738bee3d5');

    const body = await answer(await post(eventList(shared), 't-falco'));

    expect(shared).toHaveLength(2);
    expect(body).toMatchObject({ accepted: 2, duplicates: 0, reusedAuditIds: 1 });
    expect(
      store
        .queryEvents({ tenant: 't-falco' })
        .map((r) => r.k8s_user)
        .sort(),
    ).toEqual(shared.map((e) => e.user?.username ?? null).sort());
  });
});

describe('two events in one auditID and stage, through tail', () => {
  it('delivers both, flags the later one, and stores a resent line once', async () => {
    const { dir, cleanup } = tempDir('aisoc-identity-tail-');
    try {
      const [list, binding] = reusedAuditIdPair('tail-reused-0001');
      const path = join(dir, 'audit.log');
      writeFileSync(path, asFile([JSON.stringify(list), JSON.stringify(binding), JSON.stringify(list), reserialised(binding)]));
      const cap = captureIo({
        AISOC_INGEST_URL: `${server.url}/v1/ingest/k8s-audit/t-tail`,
        K8S_AUDIT_SHARED_SECRET: SECRET,
        CLUSTER_NAME: 'c1',
      });

      const code = await runTail(['--path', path, '--once'], cap.io);

      expect(code).toBe(0);
      expect(stored('t-tail')).toEqual([
        ['create', 'clusterrolebindings', 'high', 'reused-audit-id'],
        ['list', 'pods', 'info', 'steady-state'],
      ]);
    } finally {
      cleanup();
    }
  });
});

describe('one alert per action', () => {
  it('raises one alert for an exec logged at three stages, from its first scored stage (ResponseStarted: the receipt has no outcome yet), in one batch or across batches', async () => {
    const exec = { ...falcoEvent('exec_pod.json'), auditID: 'exec-one-alert-0001' };
    const stages = ['RequestReceived', 'ResponseStarted', 'ResponseComplete'].map((stage) => ({ ...exec, stage }));
    const other = { ...exec, auditID: 'exec-one-alert-0002' };

    const together = await answer(await post(eventList(stages), 't-alert-one'));
    await post(eventList([stages[0]]), 't-alert-two');
    await post(eventList(stages.slice(1)), 't-alert-two');
    await post(eventList(stages.map((s) => ({ ...s, ...other, stage: s.stage }))), 't-alert-two');

    expect(together.accepted).toBe(3);
    expect(store.countEvents({ tenant: 't-alert-one' })).toBe(3);
    expect(store.queryAlerts({ tenant: 't-alert-one' }).map((r) => [r.audit_id, r.k8s_stage])).toEqual([[exec.auditID, 'ResponseStarted']]);
    expect(
      store
        .queryAlerts({ tenant: 't-alert-two' })
        .map((r) => [r.audit_id, r.k8s_stage])
        .sort(),
    ).toEqual([
      [exec.auditID, 'ResponseStarted'],
      [other.auditID, 'ResponseStarted'],
    ]);
    expect(logs.find((l) => l.msg === 'ingest request' && l.tenant === 't-alert-one')).toMatchObject({ alerts: 1 });
    // Every stage is stored; the receipt as info, the two that carry an answer as exec's row.
    expect(
      store
        .queryEvents({ tenant: 't-alert-one', limit: 10 })
        .map((r) => [r.k8s_stage, r.severity, r.severity_reason])
        .sort(),
    ).toEqual([
      ['RequestReceived', 'info', 'request-received-stage'],
      ['ResponseComplete', 'high', 'pod-interactive-access'],
      ['ResponseStarted', 'high', 'pod-interactive-access'],
    ]);
  });
});
