import { gzipSync } from 'node:zlib';
import { beforeEach, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../lib/audit/index.js';
import { type IngestConfig, loadIngestConfig } from '../../../lib/ingest/config.js';
import { INBOX_TEMPLATE, type InboxStore, type InboxToken } from '../../../lib/ingest/inbox.js';
import type { IngestRequest } from '../../../lib/ingest/request.js';
import { IngestService, type LogEntry, MAX_LISTED_ERRORS } from '../../../lib/ingest/service.js';
import { RecordWriter } from '../../../lib/sinks/writer.js';
import { falcoEvent, falcoEvents } from '../../helpers/fixtures.js';
import { EMPTY_EVENT_LIST, eventList, ingestConfig, MemorySink, PREVIOUS_SECRET, SECRET, uniqueFalcoEvents } from '../../helpers/ingest.js';

class MemoryInbox implements InboxStore {
  readonly tokens = new Map<string, InboxToken>();
  add(token: string, binding: Partial<InboxToken> = {}): void {
    this.tokens.set(token, {
      id: token.slice(0, 16),
      tenantId: 'inbox-tenant',
      clusterName: 'bound-cluster',
      label: 'legacy',
      template: INBOX_TEMPLATE,
      createdAt: '2024-01-01T00:00:00.000Z',
      revokedAt: null,
      ...binding,
    });
  }
  async create(): Promise<never> {
    throw new Error('not used');
  }
  async lookup(token: string) {
    return this.tokens.get(token) ?? null;
  }
  async list() {
    return [...this.tokens.values()];
  }
  async revoke() {
    return false;
  }
  async close() {}
}

const INBOX_TOKEN = 'aik8s_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';

interface Harness {
  service: IngestService;
  events: MemorySink;
  alerts: MemorySink;
  inbox: MemoryInbox;
  logs: LogEntry[];
}

function harness(config: IngestConfig = ingestConfig(), events = new MemorySink('events'), alerts = new MemorySink('alerts')): Harness {
  const logs: LogEntry[] = [];
  const inbox = new MemoryInbox();
  const service = new IngestService({
    config,
    writer: new RecordWriter(events, alerts),
    inbox,
    log: (e) => logs.push(e),
    now: () => Date.parse('2024-05-01T12:00:00Z'),
  });
  return { service, events, alerts, inbox, logs };
}

function request(over: Partial<IngestRequest> = {}): IngestRequest {
  return {
    method: 'POST',
    path: '/v1/ingest/k8s-audit/acme',
    headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET },
    body: Buffer.from(EMPTY_EVENT_LIST),
    ...over,
  };
}

function withHeaders(headers: Record<string, string | undefined>, over: Partial<IngestRequest> = {}): IngestRequest {
  return request({ headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET, ...headers }, ...over });
}

function body(res: { body: string }): Record<string, unknown> {
  return JSON.parse(res.body) as Record<string, unknown>;
}

describe('IngestService contract, in the order of the design table', () => {
  it('applies the checks in contract order: each fix uncovers the next row', async () => {
    // A request that breaks every row at once; each step fixes one thing and expects the next row.
    const events = new MemorySink('events');
    events.failWith = new Error('disk full');
    const small = { K8S_AUDIT_MAX_BODY_BYTES: '2048', K8S_AUDIT_MAX_BATCH_SIZE: '2' };
    const threeEvents = eventList(
      uniqueFalcoEvents()
        .slice(0, 3)
        .map((e) => ({ auditID: e.auditID, verb: e.verb })),
    );
    const bad: IngestRequest = {
      method: 'POST',
      path: '/v1/ingest/k8s-audit/-bad-tenant',
      headers: { 'content-type': 'text/plain', 'x-aisoc-k8s-token': 'wrong' },
      body: Buffer.alloc(4096, 0x20),
    };
    const steps: [IngestConfig, IngestRequest, number][] = [];
    const noSecret = loadIngestConfig({ ...small }, { runtime: 'local' });
    const cfg = ingestConfig(small);
    steps.push([noSecret, bad, 503]);
    steps.push([cfg, bad, 401]);
    const authed = { ...bad, headers: { ...bad.headers, 'x-aisoc-k8s-token': SECRET } };
    steps.push([cfg, authed, 400]);
    const tenantOk = { ...authed, path: '/v1/ingest/k8s-audit/acme' };
    steps.push([cfg, tenantOk, 413]);
    const sizeOk = { ...tenantOk, body: Buffer.from('not json') };
    steps.push([cfg, sizeOk, 415]);
    const typeOk = { ...sizeOk, headers: { ...sizeOk.headers, 'content-type': 'application/json' } };
    steps.push([cfg, typeOk, 400]);
    const jsonOk = { ...typeOk, body: Buffer.from(threeEvents) };
    steps.push([cfg, jsonOk, 413]);
    const batchOk = { ...jsonOk, body: Buffer.from(eventList(JSON.parse(threeEvents).items.slice(0, 2))) };
    steps.push([cfg, batchOk, 503]);

    const statuses: number[] = [];
    for (const [config, req] of steps) statuses.push((await harness(config, events).service.handle(req)).status);
    events.failWith = null;
    statuses.push((await harness(cfg, events).service.handle(batchOk)).status);

    expect(statuses).toEqual([...steps.map((s) => s[2]), 200]);
  });

  describe('row 1: no shared secret configured', () => {
    it.each([
      ['unset', {}],
      ['empty', { K8S_AUDIT_SHARED_SECRET: '' }],
      ['blank', { K8S_AUDIT_SHARED_SECRET: '   ' }],
    ])('answers 503 naming K8S_AUDIT_SHARED_SECRET when it is %s', async (_name, env) => {
      const { service, events } = harness(loadIngestConfig(env, { runtime: 'local' }));

      const res = await service.handle(request());

      expect(res.status).toBe(503);
      expect(String(body(res).error)).toContain('K8S_AUDIT_SHARED_SECRET');
      expect(res.headers['Content-Type']).toMatch(/^application\/json/);
      expect(events.calls).toEqual([]);
    });
  });

  describe('row 2: X-AiSOC-K8s-Token', () => {
    it('answers 401 when the header is missing', async () => {
      const res = await harness().service.handle(withHeaders({ 'X-AiSOC-K8s-Token': undefined }));

      expect(res.status).toBe(401);
      expect(body(res).error).toMatch(/X-AiSOC-K8s-Token/);
    });

    it.each([
      ['wrong', 'nope'],
      ['a prefix of the secret', SECRET.slice(0, -1)],
      ['the secret plus a byte', `${SECRET}x`],
      ['the secret in another case', SECRET.toUpperCase()],
    ])('answers 401 for a token that is %s, without echoing it', async (_name, token) => {
      const res = await harness().service.handle(withHeaders({ 'X-AiSOC-K8s-Token': token }));

      expect(res.status).toBe(401);
      expect(res.body).not.toContain(token);
      expect(res.body).not.toContain(SECRET);
    });

    it.each(['x-aisoc-k8s-token', 'X-AISOC-K8S-TOKEN', 'X-AiSOC-K8s-Token'])(
      'reads the header named %s (names are case-insensitive)',
      async (name) => {
        const res = await harness().service.handle(request({ headers: { [name]: SECRET, 'content-type': 'application/json' } }));

        expect(res.status).toBe(200);
      },
    );

    it('accepts the previous secret while K8S_AUDIT_SHARED_SECRET_PREVIOUS is set, and the new one too', async () => {
      const { service } = harness(ingestConfig({ K8S_AUDIT_SHARED_SECRET_PREVIOUS: PREVIOUS_SECRET }));

      const statuses = [
        (await service.handle(withHeaders({ 'X-AiSOC-K8s-Token': PREVIOUS_SECRET }))).status,
        (await service.handle(withHeaders({ 'X-AiSOC-K8s-Token': SECRET }))).status,
      ];

      expect(statuses).toEqual([200, 200]);
    });

    it('refuses the previous secret once the rotation is over', async () => {
      const res = await harness().service.handle(withHeaders({ 'X-AiSOC-K8s-Token': PREVIOUS_SECRET }));

      expect(res.status).toBe(401);
    });
  });

  describe('row 3: tenant id', () => {
    it.each(['-leading-dash', '.dot', 'a'.repeat(129), 'white%20space', 'sl%2Fash', 'caf%C3%A9', '%ZZ'])(
      'answers 400 for tenant %s',
      async (tenant) => {
        const res = await harness().service.handle(request({ path: `/v1/ingest/k8s-audit/${tenant}` }));

        expect(res.status).toBe(400);
        expect(body(res).error).toMatch(/tenant id/);
      },
    );

    it.each(['a', 'Acme', 'acme.prod:eu-1_x', `t${'x'.repeat(127)}`])('accepts tenant %s', async (tenant) => {
      const res = await harness().service.handle(request({ path: `/v1/ingest/k8s-audit/${tenant}` }));

      expect(res.status).toBe(200);
    });
  });

  describe('row 4: body size, also after gzip inflation', () => {
    const config = () => ingestConfig({ K8S_AUDIT_MAX_BODY_BYTES: '4096' });

    it('answers 413 for a body over K8S_AUDIT_MAX_BODY_BYTES, naming the limit', async () => {
      const res = await harness(config()).service.handle(request({ body: Buffer.alloc(4097, 0x20) }));

      expect(res.status).toBe(413);
      expect(body(res).error).toMatch(/4096 bytes \(K8S_AUDIT_MAX_BODY_BYTES\)/);
    });

    it('gives advice that is true for the limit hit: gzip only where the inflated body would fit', async () => {
      // Locally the wire cap is the inflated cap: a plain body over it would be over it inflated too.
      const local = await harness(config()).service.handle(request({ body: Buffer.alloc(4097, 0x20) }));
      expect(body(local).error).toContain('gzip would not help: the body inflated is capped at 4096 bytes');
      expect(body(local).error).toContain('raise K8S_AUDIT_MAX_BODY_BYTES');
      // A compressed body over the wire cap is compressed already.
      const gz = await harness(config()).service.handle(withHeaders({ 'Content-Encoding': 'gzip' }, { body: Buffer.alloc(4097, 0x20) }));
      expect(body(gz).error).toContain('(the body is compressed already)');
      expect(body(gz).error).not.toContain('send gzip');
      // In Lambda a 7 MB plain body is over the 6,291,456-byte invocation payload but within the
      // 16 MiB inflated cap: gzip is the fix there.
      const lambda = loadIngestConfig({ K8S_AUDIT_SHARED_SECRET: SECRET, EVENTS_SINK: 'stdout' }, { runtime: 'lambda' });
      const inLambda = await harness(lambda).service.handle(request({ body: Buffer.alloc(7_000_000, 0x20) }));
      expect(inLambda.status).toBe(413);
      expect(body(inLambda).error).toContain('or send gzip (the inflated body may be up to 16777216 bytes)');
      const tooBig = await harness(lambda).service.handle(request({ body: Buffer.alloc(17 * 1024 * 1024, 0x20) }));
      expect(body(tooBig).error).toContain('gzip would not help');
    });

    it('answers 413 from a declared Content-Length before reading the body', async () => {
      const admitted = await harness(config()).service.admit(withHeaders({ 'Content-Length': '5000' }));

      expect('status' in admitted && admitted.status).toBe(413);
    });

    it('answers 413 for a gzip body that inflates past the cap (a gzip bomb)', async () => {
      const bomb = gzipSync(Buffer.alloc(10 * 1024 * 1024, 0x20));
      const cap = 64 * 1024;

      const res = await harness(ingestConfig({ K8S_AUDIT_MAX_BODY_BYTES: String(cap) })).service.handle(
        withHeaders({ 'Content-Encoding': 'gzip' }, { body: bomb }),
      );

      expect(bomb.length).toBeLessThan(cap);
      expect(res.status).toBe(413);
      expect(body(res).error).toMatch(/inflates to more than 65536 bytes/);
    });

    it('accepts a gzip body within the cap', async () => {
      const { service, events } = harness();
      const items = uniqueFalcoEvents().slice(0, 5);

      const res = await service.handle(withHeaders({ 'Content-Encoding': 'gzip' }, { body: gzipSync(eventList(items)) }));

      expect(res.status).toBe(200);
      expect(events.records.map((r) => r.audit_id)).toEqual(items.map((e) => e.auditID));
    });

    it.each([
      ['truncated', gzipSync(EMPTY_EVENT_LIST).subarray(0, 20)],
      ['not gzip at all', Buffer.from(EMPTY_EVENT_LIST)],
    ])('answers 400 for a gzip body that is %s', async (_name, data) => {
      const res = await harness().service.handle(withHeaders({ 'Content-Encoding': 'gzip' }, { body: data }));

      expect(res.status).toBe(400);
      expect(body(res).error).toMatch(/not valid gzip/);
    });

    it('answers 415 for a Content-Encoding it does not read', async () => {
      const res = await harness().service.handle(withHeaders({ 'Content-Encoding': 'br' }));

      expect(res.status).toBe(415);
      expect(body(res).error).toMatch(/Content-Encoding/);
    });
  });

  describe('row 5: content type', () => {
    it.each(['text/plain', 'application/x-www-form-urlencoded', 'application/yaml'])('answers 415 for %s', async (type) => {
      const res = await harness().service.handle(withHeaders({ 'Content-Type': type }));

      expect(res.status).toBe(415);
    });

    it.each([undefined, 'application/json', 'Application/JSON; charset=utf-8', 'application/vnd.kubernetes+json'])(
      'accepts %s',
      async (type) => {
        const res = await harness().service.handle(withHeaders({ 'Content-Type': type }));

        expect(res.status).toBe(200);
      },
    );
  });

  describe('row 6: body not an audit payload', () => {
    it.each([
      ['not JSON', '{"kind":"EventList",', /not JSON/],
      ['empty', '', /empty/],
      ['a number', '42', /expected an EventList/],
      ['Falco regression input {"kind": 0}', '{"kind": 0}', /kind must be "Event", got number/],
      [
        'a GKE Cloud Audit Logs entry',
        JSON.stringify({ protoPayload: { methodName: 'io.k8s.core.v1.pods.create' }, logName: 'x' }),
        /GKE Cloud Audit Logs/,
      ],
      ['an EventList whose items is not an array', '{"kind":"EventList","items":{}}', /items must be an array/],
      [
        'NDJSON',
        `${JSON.stringify(falcoEvent('create_secret.json'))}\n${JSON.stringify(falcoEvent('delete_secret.json'))}\n`,
        /not a JSON document/,
      ],
    ])('answers 400 for %s with the parser reason', async (_name, text, reason) => {
      const { service, events } = harness();

      const res = await service.handle(request({ body: Buffer.from(text) }));

      expect(res.status).toBe(400);
      expect(body(res).error).toMatch(reason);
      expect(events.records).toEqual([]);
    });

    it('reads the Falco regression file fal_01_003.json as a 400, never a crash', async () => {
      const [raw] = falcoEvents('fal_01_003.json');

      const res = await harness().service.handle(request({ body: Buffer.from(JSON.stringify(raw)) }));

      expect(res.status).toBe(400);
    });
  });

  describe('row 7: batch size', () => {
    it('answers 413 when the batch has more items than K8S_AUDIT_MAX_BATCH_SIZE, naming it', async () => {
      const { service, events } = harness(ingestConfig({ K8S_AUDIT_MAX_BATCH_SIZE: '3' }));

      const res = await service.handle(request({ body: Buffer.from(eventList(uniqueFalcoEvents().slice(0, 4))) }));

      expect(res.status).toBe(413);
      expect(body(res).error).toMatch(/K8S_AUDIT_MAX_BATCH_SIZE \(3\)/);
      expect(events.records).toEqual([]);
    });

    it('takes a batch of exactly K8S_AUDIT_MAX_BATCH_SIZE items', async () => {
      const res = await harness(ingestConfig({ K8S_AUDIT_MAX_BATCH_SIZE: '3' })).service.handle(
        request({ body: Buffer.from(eventList(uniqueFalcoEvents().slice(0, 3))) }),
      );

      expect(body(res)).toMatchObject({ accepted: 3 });
    });
  });

  describe('row 8: sink unavailable', () => {
    it('answers 503 with Retry-After when the events sink fails, without internals', async () => {
      const events = new MemorySink('events');
      events.failWith = new Error('SQLITE_IOERR at /var/secret/path');
      const { service } = harness(ingestConfig(), events);

      const res = await service.handle(request({ body: Buffer.from(eventList(uniqueFalcoEvents().slice(0, 3))) }));

      expect(res.status).toBe(503);
      expect(Number(res.headers['Retry-After'])).toBeGreaterThan(0);
      expect(res.body).not.toContain('/var/secret/path');
    });

    it('answers 503 when the alerts sink fails, so the batch is resent', async () => {
      const alerts = new MemorySink('alerts');
      alerts.failWith = new Error('throttled');
      const { service } = harness(ingestConfig(), new MemorySink('events'), alerts);

      const res = await service.handle(request({ body: Buffer.from(eventList([falcoEvent('create_secret.json')])) }));

      expect(res.status).toBe(503);
    });
  });

  describe('row 9: 200 with counts', () => {
    it('answers the connector documentation smoke test with zeros', async () => {
      const res = await harness().service.handle(request());

      expect(res.status).toBe(200);
      expect(res.body).toBe('{"accepted":0,"rejected":0,"duplicates":0,"errors":[]}');
    });

    it('stores every real fixture event and counts them', async () => {
      const { service, events } = harness();
      const items = uniqueFalcoEvents();

      const res = await service.handle(request({ body: Buffer.from(eventList(items)) }));

      expect(body(res)).toEqual({ accepted: items.length, rejected: 0, duplicates: 0, errors: [] });
      expect(events.records.map((r) => r.audit_id)).toEqual(items.map((e) => e.auditID));
      expect(events.records.every((r) => r.tenant_id === 'acme')).toBe(true);
    });

    it('counts item-level problems as rejected with index, auditID and reason, and keeps the rest', async () => {
      const { service, events } = harness();
      const good = uniqueFalcoEvents().slice(0, 2);
      const items = [good[0], { kind: 0 }, { ...good[1], verb: 42 }, 'text', { verb: 'get' }, good[1]];

      const res = await service.handle(request({ body: Buffer.from(eventList(items)) }));

      expect(res.status).toBe(200);
      expect(body(res)).toEqual({
        accepted: 2,
        rejected: 4,
        duplicates: 0,
        errors: [
          { index: 1, auditID: null, reason: 'kind must be "Event", got number' },
          { index: 2, auditID: good[1]?.auditID, reason: 'verb must be a string, got number' },
          { index: 3, auditID: null, reason: 'item is not a JSON object (got string)' },
          { index: 4, auditID: null, reason: 'item has no auditID' },
        ],
      });
      expect(events.records).toHaveLength(2);
    });

    it(`lists at most ${MAX_LISTED_ERRORS} errors and counts the rest`, async () => {
      const items = Array.from({ length: MAX_LISTED_ERRORS + 25 }, () => ({ verb: 'get' }));

      const res = await harness().service.handle(request({ body: Buffer.from(eventList(items)) }));

      expect(body(res)).toMatchObject({ rejected: MAX_LISTED_ERRORS + 25, errorsOmitted: 25 });
      expect(body(res).errors).toHaveLength(MAX_LISTED_ERRORS);
    });

    it('takes a single Event and an array of Events', async () => {
      const [a, b, c] = uniqueFalcoEvents();
      const { service, events } = harness();

      const single = body(await service.handle(request({ body: Buffer.from(JSON.stringify(a)) })));
      const array = body(await service.handle(request({ body: Buffer.from(JSON.stringify([b, c])) })));

      expect([single.accepted, array.accepted]).toEqual([1, 2]);
      expect(events.records.map((r) => r.audit_id)).toEqual([a?.auditID, b?.auditID, c?.auditID]);
    });

    it('counts a resent batch as duplicates', async () => {
      const { service, events } = harness();
      const req = request({ body: Buffer.from(eventList(uniqueFalcoEvents().slice(0, 5))) });

      await service.handle(req);
      const again = body(await service.handle(req));

      expect(again).toMatchObject({ accepted: 0, duplicates: 5 });
      expect(events.records).toHaveLength(5);
    });

    it('counts the same auditID and stage twice in one batch as one record and one duplicate', async () => {
      const e = falcoEvent('create_secret.json');
      const { service, events } = harness();

      const res = body(await service.handle(request({ body: Buffer.from(eventList([e, e, { ...e, stage: 'RequestReceived' }])) })));

      expect(res).toMatchObject({ accepted: 2, duplicates: 1, rejected: 0 });
      expect(events.records.map((r) => r.k8s_stage)).toEqual([e.stage, 'RequestReceived']);
    });

    it('keeps an event with no usable timestamp, timed when it was received', async () => {
      const e = falcoEvent('create_secret.json') as AuditEvent & Record<string, unknown>;
      const { requestReceivedTimestamp: _a, stageTimestamp: _b, timestamp: _c, ...untimed } = e;
      const { service, events } = harness();

      const res = body(await service.handle(request({ body: Buffer.from(eventList([untimed])) })));

      expect(res.accepted).toBe(1);
      expect(events.records[0]?.event_time).toBe('2024-05-01T12:00:00.000Z');
    });

    it('sends exactly the high-severity records to the alerts sink', async () => {
      const { service, events, alerts } = harness();
      const items = uniqueFalcoEvents();

      await service.handle(request({ body: Buffer.from(eventList(items)) }));

      const high = events.records.filter((r) => r.severity === 'high').map((r) => r.dedup_key);
      expect(high.length).toBeGreaterThan(0);
      expect(alerts.records.map((r) => r.dedup_key)).toEqual(high);
    });
  });

  describe('cluster name', () => {
    it('takes X-AiSOC-Cluster-Name first, then ?cluster=, else null', async () => {
      const { service, events } = harness();
      const items = uniqueFalcoEvents().slice(0, 3);

      await service.handle(
        withHeaders(
          { 'X-AiSOC-Cluster-Name': 'from-header' },
          { query: { cluster: 'from-query' }, body: Buffer.from(eventList([items[0]])) },
        ),
      );
      await service.handle(request({ query: new URLSearchParams('cluster=from-query'), body: Buffer.from(eventList([items[1]])) }));
      await service.handle(request({ body: Buffer.from(eventList([items[2]])) }));

      expect(events.records.map((r) => r.cluster_name)).toEqual(['from-header', 'from-query', null]);
    });

    it('stamps the EKS account and region the forwarder names into OCSF cloud, and refuses malformed ones', async () => {
      const { service, events } = harness();
      const [item] = uniqueFalcoEvents();

      const ok = await service.handle(
        withHeaders(
          { 'X-AiSOC-Source-Account': '123456789012', 'X-AiSOC-Source-Region': 'us-east-1' },
          { body: Buffer.from(eventList([item])) },
        ),
      );
      const bad = await service.handle(
        withHeaders({ 'X-AiSOC-Source-Account': 'arn:aws:iam::1:root' }, { body: Buffer.from(eventList([item])) }),
      );

      expect(ok.status).toBe(200);
      expect(events.records[0]?.ocsf).toMatchObject({ cloud: { provider: 'AWS', region: 'us-east-1', account: { uid: '123456789012' } } });
      expect(bad.status).toBe(400);
      expect(JSON.parse(bad.body).error).toBe('X-AiSOC-Source-Account must be a 12-digit AWS account id');
    });

    it('answers 400 for a cluster name with control characters, C1 ones too, and counts its length in characters', async () => {
      const status = async (cluster: string) => (await harness().service.handle(request({ query: { cluster } }))).status;

      expect(await status('bad\nname')).toBe(400);
      // U+0085 (NEL) and U+009B (CSI): the C1 controls a terminal acts on.
      expect(await status('a\u0085b\u009bc')).toBe(400);
      expect(await status('\u{1F600}'.repeat(200))).toBe(200);
      expect(await status('\u{1F600}'.repeat(257))).toBe(400);
      expect(await status('prod-eu-1 (Frankfurt) é')).toBe(200);
    });
  });

  describe('legacy inbox path', () => {
    let h: Harness;
    beforeEach(() => {
      h = harness();
      h.inbox.add(INBOX_TOKEN);
    });

    it('takes tenant and cluster from the token binding, with no shared-secret header', async () => {
      const items = uniqueFalcoEvents().slice(0, 2);

      const res = await h.service.handle({
        method: 'POST',
        path: `/v1/inbox/${INBOX_TOKEN}`,
        headers: {},
        body: Buffer.from(eventList(items)),
      });

      expect(body(res)).toMatchObject({ accepted: 2 });
      expect(h.events.records.map((r) => [r.tenant_id, r.cluster_name])).toEqual([
        ['inbox-tenant', 'bound-cluster'],
        ['inbox-tenant', 'bound-cluster'],
      ]);
    });

    it('lets the header override the bound cluster', async () => {
      await h.service.handle({
        method: 'POST',
        path: `/v1/inbox/${INBOX_TOKEN}`,
        headers: { 'x-aisoc-cluster-name': 'override' },
        body: Buffer.from(eventList(uniqueFalcoEvents().slice(0, 1))),
      });

      expect(h.events.records[0]?.cluster_name).toBe('override');
    });

    it.each([
      ['unknown', 'aik8s_unknownunknownunknownunknownunknown00'],
      ['malformed', 'short'],
    ])('answers 401 for an %s token', async (_name, token) => {
      const res = await h.service.handle({ method: 'POST', path: `/v1/inbox/${token}`, headers: {}, body: Buffer.from(EMPTY_EVENT_LIST) });

      expect(res.status).toBe(401);
    });

    it('answers 401 for a revoked token', async () => {
      h.inbox.add(INBOX_TOKEN, { revokedAt: '2024-02-01T00:00:00.000Z' });

      const res = await h.service.handle({
        method: 'POST',
        path: `/v1/inbox/${INBOX_TOKEN}`,
        headers: {},
        body: Buffer.from(EMPTY_EVENT_LIST),
      });

      expect(res.status).toBe(401);
    });

    it('answers 403 for a token bound to another template', async () => {
      h.inbox.add(INBOX_TOKEN, { template: 'okta-system-log' });

      const res = await h.service.handle({
        method: 'POST',
        path: `/v1/inbox/${INBOX_TOKEN}`,
        headers: {},
        body: Buffer.from(EMPTY_EVENT_LIST),
      });

      expect(res.status).toBe(403);
      expect(body(res).error).toMatch(/k8s-audit/);
    });

    it('answers 503 naming INBOX_TABLE when no inbox store is configured', async () => {
      const service = new IngestService({ config: ingestConfig(), writer: new RecordWriter(new MemorySink(), null), inbox: null });

      const res = await service.handle({
        method: 'POST',
        path: `/v1/inbox/${INBOX_TOKEN}`,
        headers: {},
        body: Buffer.from(EMPTY_EVENT_LIST),
      });

      expect(res.status).toBe(503);
      expect(body(res).error).toMatch(/INBOX_TABLE/);
    });
  });

  describe('records too large for a sink', () => {
    it('sends the record without request and response bodies, marked truncated like the apiserver does', async () => {
      const events = new MemorySink('events', 6000);
      const { service } = harness(ingestConfig(), events, new MemorySink('alerts'));
      const e = { ...falcoEvent('create_configmap.json'), requestObject: { data: { blob: 'x'.repeat(20_000) } } };

      const res = body(await service.handle(request({ body: Buffer.from(eventList([e])) })));

      expect(res).toMatchObject({ accepted: 1, rejected: 0 });
      expect(events.records[0]?.raw_event.requestObject).toBeUndefined();
      expect(events.records[0]?.raw_event.annotations?.['audit.k8s.io/truncated']).toBe('true');
    });

    it('rejects the item with the sink reason when even the compact record does not fit', async () => {
      const events = new MemorySink('events', 10);
      events.refuse = (r) => (r.bytes > 10 && (r.compact?.bytes ?? r.bytes) > 10 ? 'too large for the test sink' : null);
      const { service } = harness(ingestConfig(), events, new MemorySink('alerts'));
      const e = falcoEvent('create_configmap.json');

      const res = body(await service.handle(request({ body: Buffer.from(eventList([e])) })));

      expect(res).toEqual({
        accepted: 0,
        rejected: 1,
        duplicates: 0,
        errors: [{ index: 0, auditID: e.auditID, reason: 'too large for the test sink' }],
      });
    });
  });

  describe('routes, errors and logs', () => {
    it('answers 404 JSON for an unknown path and 405 with Allow for another method', async () => {
      const { service } = harness();

      const notFound = await service.handle(request({ path: '/v1/other' }));
      const wrongMethod = await service.handle(request({ method: 'GET' }));

      expect([notFound.status, wrongMethod.status, wrongMethod.headers.Allow]).toEqual([404, 405, 'POST']);
      expect(() => JSON.parse(notFound.body)).not.toThrow();
    });

    it('answers a bare 500 for an unexpected error, without its message', async () => {
      const writer = new RecordWriter(new MemorySink(), null);
      Object.defineProperty(writer, 'maxRecordBytes', {
        get() {
          throw new TypeError('internal detail /srv/app/lib/x.ts');
        },
      });
      const service = new IngestService({ config: ingestConfig(), writer });

      const res = await service.handle(request({ body: Buffer.from(eventList(uniqueFalcoEvents().slice(0, 1))) }));

      expect(res.status).toBe(500);
      expect(body(res)).toEqual({ error: 'internal error' });
    });

    it('logs one structured line per request with tenant, status, counts, bytes and ms, and never a secret or token', async () => {
      const h = harness(ingestConfig({ K8S_AUDIT_SHARED_SECRET_PREVIOUS: PREVIOUS_SECRET }));
      h.inbox.add(INBOX_TOKEN);
      const items = uniqueFalcoEvents().slice(0, 3);

      await h.service.handle(request({ body: Buffer.from(eventList(items)) }));
      await h.service.handle(withHeaders({ 'X-AiSOC-K8s-Token': `${SECRET}-wrong` }));
      await h.service.handle({ method: 'POST', path: `/v1/inbox/${INBOX_TOKEN}`, headers: {}, body: Buffer.from(EMPTY_EVENT_LIST) });
      await h.service.handle({ method: 'POST', path: `/v1/inbox/${INBOX_TOKEN}x`, headers: {}, body: Buffer.from(EMPTY_EVENT_LIST) });

      const requests = h.logs.filter((l) => l.msg === 'ingest request');
      expect(requests.map((l) => l.status)).toEqual([200, 401, 200, 401]);
      expect(requests[0]).toMatchObject({
        tenant: 'acme',
        status: 200,
        items: 3,
        accepted: 3,
        rejected: 0,
        duplicates: 0,
        bytes: eventList(items).length,
      });
      expect(typeof requests[0]?.ms).toBe('number');
      const text = JSON.stringify(h.logs);
      for (const secret of [SECRET, PREVIOUS_SECRET, INBOX_TOKEN]) expect(text).not.toContain(secret);
    });
  });
});

describe('a rejects sink that fails', () => {
  it('answers 503 and is a sink failure in the request line and its metrics, with what the events sink already holds', async () => {
    const events = new MemorySink('events');
    const logs: LogEntry[] = [];
    const outcomes: { failure?: string; accepted: number; rejected: number }[] = [];
    const service = new IngestService({
      config: ingestConfig(),
      writer: new RecordWriter(events, null),
      rejects: {
        name: 'sqs:https://sqs.us-east-1.amazonaws.com/123456789012/rejects',
        write: async () => {
          throw new Error('AccessDenied: not authorized to perform sqs:SendMessage');
        },
        close: async () => {},
      },
      log: (e) => logs.push(e),
      observe: (o) => outcomes.push(o),
    });
    const good = uniqueFalcoEvents().slice(0, 3);
    const res = await service.handle({
      method: 'POST',
      path: '/v1/ingest/k8s-audit/acme',
      headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET },
      body: Buffer.from(JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [...good, { kind: 0 }] })),
    });

    expect(res.status).toBe(503);
    expect(JSON.parse(String(res.body))).toEqual({ error: 'the rejected items could not be kept (rejects sink unavailable); retry later' });
    expect(events.records).toHaveLength(3);
    const line = logs.find((l) => l.msg === 'ingest request') as Record<string, unknown>;
    expect(line).toMatchObject({ status: 503, failure: 'sink', accepted: 3, rejected: 1 });
    expect(logs.find((l) => l.msg === 'rejects sink write failed')).toMatchObject({ sink: expect.stringContaining('rejects') });
    expect(outcomes).toMatchObject([{ failure: 'sink', accepted: 3, rejected: 1 }]);
  });
});

describe('the request line of a body whose events name their own cluster', () => {
  it('says cluster_missing only when an accepted event has none: not for AKS records, yes for an EventList without the header', async () => {
    const logs: LogEntry[] = [];
    const service = new IngestService({
      config: ingestConfig(),
      writer: new RecordWriter(new MemorySink('events'), null),
      log: (e) => logs.push(e),
    });
    const post = (body: string) =>
      service.handle({
        method: 'POST',
        path: '/v1/ingest/k8s-audit/acme',
        headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET },
        body: Buffer.from(body),
      });
    const [a, b] = uniqueFalcoEvents();
    const resourceId =
      '/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS1';
    await post(JSON.stringify({ records: [{ category: 'kube-audit', resourceId, properties: { log: JSON.stringify(a) } }] }));
    await post(eventList([b as AuditEvent]));

    const lines = logs.filter((l) => l.msg === 'ingest request');
    expect(lines.map((l) => [l.accepted, l.cluster_missing])).toEqual([
      [1, undefined],
      [1, true],
    ]);
  });
});

describe("the path's tenant and the installation's secrets", () => {
  it('are compared once a request, for the log line and the refusal of a secret in the tenant place alike', async () => {
    for (const [path, status] of [
      ['/v1/ingest/k8s-audit/acme', 200],
      ['/v1/status/k8s-audit/acme', 404],
    ] as const) {
      const h = harness();
      const checked: string[] = [];
      const isSecret = h.service.access.isSecret.bind(h.service.access);
      h.service.access.isSecret = (value: string) => {
        checked.push(value);
        return isSecret(value);
      };
      const res = path.includes('/status/')
        ? h.service.status({ method: 'GET', path, headers: { 'X-AiSOC-K8s-Token': SECRET } }, null)
        : await h.service.handle(request({ path }));
      expect(res.status).toBe(status);
      expect(checked.filter((v) => v === 'acme')).toEqual(['acme']);
    }
  });
});
