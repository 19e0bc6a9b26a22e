import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, GetRecordsCommand, GetShardIteratorCommand, KinesisClient, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NormalisedRecord, normaliseAuditEvent, parseAuditPayload } from '../../lib/audit/index.js';
import { main } from '../../lib/cli/main.js';
import { apiGatewayHandler } from '../../lib/ingest/adapters/lambda.js';
import { loadIngestConfig } from '../../lib/ingest/config.js';
import { createIngestService } from '../../lib/ingest/create.js';
import { DynamoInboxStore, INBOX_TABLE_KEY_SCHEMA } from '../../lib/ingest/inbox-dynamodb.js';
import { falcoEvent } from '../helpers/fixtures.js';
import { hasMoto, type RunningMoto, startMoto } from '../helpers/infra-moto.js';
import { buildScratchBundles, ROOT, scratchCheckout } from '../helpers/infra-scratch.js';
import { reserialised } from '../helpers/ingest.js';

const EVENTS = join(ROOT, 'infra/events');
const SECRET = 'aws-e2e-shared-secret-0123456789abcdef';
const CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };
const load = async (name: string) =>
  JSON.parse(readFileSync(join(EVENTS, name), 'utf8')) as Record<string, unknown> & { body: string; headers: Record<string, string> };

/** The committed HTTP API event's EventList, and the severity the normaliser gives each of its events. */
async function expectedRecords(): Promise<{ ids: string[]; highIds: string[] }> {
  const event = await load('ingest-http-api-eventlist.json');
  const parsed = parseAuditPayload(event.body);
  const records = parsed.events.map((e) =>
    normaliseAuditEvent(e, { tenantId: 'acme', clusterName: 'demo-cluster', receivedAt: Date.now() }),
  );
  return {
    ids: records.map((r) => r.audit_id ?? '').sort(),
    highIds: records
      .filter((r) => r.severity === 'high')
      .map((r) => r.audit_id ?? '')
      .sort(),
  };
}

// The ingest with its AWS sinks against a real AWS-protocol server: moto, started here on a free
// loopback port. Kinesis (events), SQS (alerts) and DynamoDB (inbox tokens), read back with the SDK.
describe.skipIf(!hasMoto())('ingest on the AWS sinks (moto_server)', () => {
  let moto: RunningMoto;
  let kinesis: KinesisClient;
  let sqs: SQSClient;
  let dynamodb: DynamoDBClient;

  beforeAll(async () => {
    moto = await startMoto();
    const opts = { endpoint: moto.endpoint, region: 'us-east-1', credentials: CREDENTIALS };
    // The Kinesis client speaks HTTP/2 by default (for SubscribeToShard); moto speaks HTTP/1.1 only.
    kinesis = new KinesisClient({ ...opts, requestHandler: new NodeHttpHandler() });
    sqs = new SQSClient(opts);
    dynamodb = new DynamoDBClient(opts);
  }, 60_000);

  afterAll(async () => {
    kinesis?.destroy();
    sqs?.destroy();
    dynamodb?.destroy();
    await moto?.close();
  }, 30_000);

  async function sinks(name: string): Promise<{ stream: string; queueUrl: string; table: string }> {
    await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
    await dynamodb.send(new CreateTableCommand({ TableName: name, BillingMode: 'PAY_PER_REQUEST', ...INBOX_TABLE_KEY_SCHEMA }));
    return { stream: name, queueUrl: QueueUrl ?? '', table: name };
  }

  async function streamRecords(stream: string): Promise<{ key: string; record: NormalisedRecord }[]> {
    const { Shards = [] } = await kinesis.send(new ListShardsCommand({ StreamName: stream }));
    const out: { key: string; record: NormalisedRecord }[] = [];
    for (const shard of Shards) {
      let { ShardIterator: it } = await kinesis.send(
        new GetShardIteratorCommand({ StreamName: stream, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }),
      );
      while (it !== undefined) {
        const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: it }));
        for (const r of page.Records ?? [])
          out.push({ key: r.PartitionKey ?? '', record: JSON.parse(Buffer.from(r.Data ?? []).toString('utf8')) });
        it = (page.Records ?? []).length > 0 ? page.NextShardIterator : undefined;
      }
    }
    return out;
  }

  async function queueRecords(queueUrl: string): Promise<NormalisedRecord[]> {
    const out: NormalisedRecord[] = [];
    for (;;) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
      );
      if (Messages.length === 0) return out;
      out.push(...Messages.map((m) => JSON.parse(m.Body ?? '{}') as NormalisedRecord));
    }
  }

  async function handlerFor(target: { stream: string; queueUrl: string; table: string }) {
    const config = loadIngestConfig(
      {
        K8S_AUDIT_SHARED_SECRET: SECRET,
        EVENTS_SINK: `kinesis:${target.stream}`,
        ALERTS_SINK: `sqs:${target.queueUrl}`,
        INBOX_TABLE: target.table,
      },
      { runtime: 'lambda' },
    );
    const service = await createIngestService(config, { sinks: { clients: { kinesis, sqs } }, dynamodb });
    return apiGatewayHandler(service);
  }

  it('puts every event of an API Gateway request on the Kinesis stream and the high ones on the SQS queue', async () => {
    const target = await sinks('aisoc-e2e-direct');
    const handler = await handlerFor(target);
    const event = await load('ingest-http-api-eventlist.json');
    const res = await handler({ ...event, headers: { ...event.headers, 'x-aisoc-k8s-token': SECRET } } as never);
    const expected = await expectedRecords();

    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ accepted: expected.ids.length, rejected: 0, duplicates: 0, errors: [] });
    const onStream = await streamRecords(target.stream);
    expect(onStream.map((r) => r.record.audit_id).sort()).toEqual(expected.ids);
    for (const { key, record } of onStream) {
      expect(record).toMatchObject({ tenant_id: 'acme', cluster_name: 'demo-cluster' });
      expect(key).toBe(record.dedup_key);
      expect(record.ocsf.class_uid).toBe(6003);
    }
    const alerts = await queueRecords(target.queueUrl);
    expect(expected.highIds.length).toBeGreaterThan(0);
    expect(alerts.map((r) => r.audit_id).sort()).toEqual(expected.highIds);
    expect(alerts.every((r) => r.severity === 'high')).toBe(true);
  });

  it('puts each rejected item of a resent batch on a FIFO rejects queue once, under a dedup_key that is the same on every resend', async () => {
    const target = await sinks('aisoc-e2e-rejects');
    const { QueueUrl: fifo = '' } = await sqs.send(
      new CreateQueueCommand({ QueueName: 'aisoc-e2e-rejects.fifo', Attributes: { FifoQueue: 'true' } }),
    );
    const config = loadIngestConfig(
      { K8S_AUDIT_SHARED_SECRET: SECRET, EVENTS_SINK: `kinesis:${target.stream}`, REJECTS_SINK: `sqs:${fifo}`, INBOX_TABLE: target.table },
      { runtime: 'lambda' },
    );
    const handler = apiGatewayHandler(await createIngestService(config, { sinks: { clients: { kinesis, sqs } }, dynamodb }));
    const event = await load('ingest-http-api-eventlist.json');
    const list = JSON.parse(event.body) as { items: unknown[] };
    // The committed request's events, and items a broken pipeline sends: a real Falco Secret create
    // whose verb is a number (its data in the body), a string, and an object with no auditID.
    const secret = falcoEvent('create_secret.json');
    const bad = [
      { ...secret, verb: 7, requestObject: { kind: 'Secret', data: { password: 'cmVzZW50LXNlY3JldA==' } } },
      'not an event',
      { verb: 'get' },
    ];
    const send = (body: string) => handler({ ...event, body, headers: { ...event.headers, 'x-aisoc-k8s-token': SECRET } } as never);
    const first = await send(JSON.stringify({ ...list, items: [...list.items, ...bad] }));
    // The resend: the same items re-serialised (other key order, spacing), the bad ones first.
    const again = await send(`{"kind":"EventList","items":[${[...bad, ...list.items].map(reserialised).join(',')}]}`);

    expect([first.statusCode, again.statusCode]).toEqual([200, 200]);
    expect([JSON.parse(first.body).rejected, JSON.parse(again.body).rejected]).toEqual([3, 3]);
    const rejects = (await queueRecords(fifo)) as unknown as Record<string, unknown>[];
    expect(rejects.map((r) => r.reason).sort()).toEqual(
      JSON.parse(first.body)
        .errors.map((e: { reason: string }) => e.reason)
        .sort(),
    );
    expect(new Set(rejects.map((r) => r.dedup_key)).size).toBe(3);
    // The first send's (its positions): the queue dropped the resend's as duplicates.
    expect(rejects.map((r) => r.index)).toEqual(bad.map((_, i) => list.items.length + i));
    expect(JSON.stringify(rejects)).not.toContain('cmVzZW50LXNlY3JldA==');
  });

  it('resolves a legacy inbox token from the DynamoDB table and stamps its tenant and cluster', async () => {
    const target = await sinks('aisoc-e2e-inbox');
    const store = new DynamoInboxStore({ table: target.table, client: dynamodb });
    const { token } = await store.create({ tenantId: 'legacy-tenant', clusterName: 'legacy-cluster', label: 'aws-e2e' });
    const handler = await handlerFor(target);
    const event = await load('ingest-http-api-eventlist.json');
    // A control plane on the legacy path sets no headers of its own: no token, no cluster name.
    const { 'x-aisoc-k8s-token': _token, 'x-aisoc-cluster-name': _cluster, ...headers } = event.headers;
    const res = await handler({
      ...event,
      headers,
      routeKey: 'POST /v1/inbox/{token}',
      rawPath: `/v1/inbox/${token}`,
      pathParameters: { token },
      requestContext: { ...(event.requestContext as object), http: { method: 'POST', path: `/v1/inbox/${token}` } },
    } as never);

    expect(res.statusCode).toBe(200);
    const onStream = await streamRecords(target.stream);
    expect(onStream).toHaveLength((await expectedRecords()).ids.length);
    expect(new Set(onStream.map((r) => `${r.record.tenant_id}/${r.record.cluster_name}`))).toEqual(
      new Set(['legacy-tenant/legacy-cluster']),
    );
  });

  it('runs the built ingest bundle configured only by its environment (AWS_ENDPOINT_URL at moto): inbox token from DynamoDB, alerts to SQS', {
    timeout: 120_000,
  }, async () => {
    const target = await sinks('aisoc-e2e-bundle');
    const { token } = await new DynamoInboxStore({ table: target.table, client: dynamodb }).create({
      tenantId: 'acme',
      clusterName: 'bundle-cluster',
      label: 'aws-e2e',
    });
    const scratch = scratchCheckout();
    try {
      const dist = await buildScratchBundles(scratch.dir);
      const envFile = join(scratch.dir, 'env.json');
      const eventFile = join(scratch.dir, 'inbox-event.json');
      // The events sink stays stdout here: the ingest's own Kinesis client speaks HTTP/2, which moto does not.
      writeFileSync(
        envFile,
        // As sam local resolves the template, K8S_AUDIT_SHARED_SECRET_ARN is the logical id unless emptied.
        JSON.stringify({
          Ingest: {
            K8S_AUDIT_SHARED_SECRET_ARN: '',
            EVENTS_SINK: 'stdout',
            ALERTS_SINK: `sqs:${target.queueUrl}`,
            // The template's rejects queue resolves to its logical id locally, as the other Refs do.
            REJECTS_SINK: 'stdout',
            INBOX_TABLE: target.table,
          },
        }),
      );
      const event = await load('ingest-http-api-gzip.json');
      // A control plane on the legacy path sets no headers of its own: no token, no cluster name.
      const { 'x-aisoc-k8s-token': _token, 'x-aisoc-cluster-name': _cluster, ...headers } = event.headers;
      writeFileSync(
        eventFile,
        JSON.stringify({
          ...event,
          headers,
          routeKey: 'POST /v1/inbox/{token}',
          rawPath: `/v1/inbox/${token}`,
          pathParameters: { token },
          requestContext: { ...(event.requestContext as object), http: { method: 'POST', path: `/v1/inbox/${token}` } },
        }),
      );
      const stdout = new PassThrough();
      let out = '';
      stdout.on('data', (c: Buffer) => {
        out += c.toString();
      });
      const env = {
        PATH: process.env.PATH ?? '',
        AWS_ENDPOINT_URL: moto.endpoint,
        AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
        AWS_REGION: 'us-east-1',
      };
      const argv = ['invoke', 'Ingest', '--event', eventFile, '--env', envFile, '--dist', dist];
      const code = await main(argv, { stdout, stderr: new PassThrough(), stdin: new PassThrough(), env });

      expect(code).toBe(0);
      const res = JSON.parse(out) as { statusCode: number; body: string };
      const expected = await expectedRecords();
      expect(res.statusCode).toBe(200);
      expect(JSON.parse(res.body)).toMatchObject({ accepted: expected.ids.length, rejected: 0 });
      const alerts = await queueRecords(target.queueUrl);
      expect(alerts.map((r) => r.audit_id).sort()).toEqual(expected.highIds);
      expect(new Set(alerts.map((r) => `${r.tenant_id}/${r.cluster_name}`))).toEqual(new Set(['acme/bundle-cluster']));
    } finally {
      scratch.cleanup();
    }
  });
});
