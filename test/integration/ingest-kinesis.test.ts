import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import {
  CreateStreamCommand,
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NormalisedRecord } from '../../lib/audit/index.js';
import { type IngestServer, startIngestServer } from '../../lib/ingest/adapters/server.js';
import { answer, eventList, ingestConfig, SECRET, tempDataDir, uniqueFalcoEvents } from '../helpers/ingest.js';

// kinesalite: an in-process server speaking the Kinesis API (CommonJS, no types).
const require = createRequire(import.meta.url);
const kinesalite = require('kinesalite') as (opts: { createStreamMs?: number; path?: string }) => Server;

const STREAM = 'k8s-audit-it';

describe('Kinesis events sink against kinesalite', () => {
  let kinesisServer: Server;
  let client: KinesisClient;
  let ingest: IngestServer;
  let tmp: ReturnType<typeof tempDataDir>;

  beforeAll(async () => {
    kinesisServer = kinesalite({ createStreamMs: 10 });
    await new Promise<void>((resolve) => kinesisServer.listen(0, '127.0.0.1', resolve));
    const { port } = kinesisServer.address() as AddressInfo;
    // kinesalite speaks HTTP/1.1 only; the Kinesis client defaults to an HTTP/2 handler.
    client = new KinesisClient({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      requestHandler: new NodeHttpHandler(),
    });
    await client.send(new CreateStreamCommand({ StreamName: STREAM, ShardCount: 1 }));
    // CreateStream is asynchronous: the stream takes writes only once ACTIVE.
    for (let i = 0; i < 100; i++) {
      const d = await client.send(new DescribeStreamCommand({ StreamName: STREAM }));
      if (d.StreamDescription?.StreamStatus === 'ACTIVE') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    tmp = tempDataDir();
    ingest = await startIngestServer({
      config: ingestConfig({ EVENTS_SINK: `kinesis:${STREAM}`, ALERTS_SINK: 'none', AISOC_DATA_DIR: tmp.dir }),
      sinks: { clients: { kinesis: client } },
    });
  });

  afterAll(async () => {
    await ingest?.close();
    await new Promise<void>((resolve) => kinesisServer.close(() => resolve()));
    tmp?.remove();
  });

  async function readStream(): Promise<{ key: string; record: NormalisedRecord }[]> {
    const d = await client.send(new DescribeStreamCommand({ StreamName: STREAM }));
    const shard = d.StreamDescription?.Shards?.[0]?.ShardId;
    const it = await client.send(new GetShardIteratorCommand({ StreamName: STREAM, ShardId: shard, ShardIteratorType: 'TRIM_HORIZON' }));
    const out: { key: string; record: NormalisedRecord }[] = [];
    let iterator = it.ShardIterator;
    for (let i = 0; i < 20 && iterator; i++) {
      const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      for (const r of page.Records ?? [])
        out.push({ key: r.PartitionKey ?? '', record: JSON.parse(Buffer.from(r.Data ?? []).toString()) as NormalisedRecord });
      if ((page.Records ?? []).length === 0) break;
      iterator = page.NextShardIterator;
    }
    return out;
  }

  it('puts every accepted record on the stream, keyed by dedup key', async () => {
    const items = uniqueFalcoEvents();

    const res = await fetch(`${ingest.url}/v1/ingest/k8s-audit/acme`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET, 'X-AiSOC-Cluster-Name': 'eks-1' },
      body: eventList(items),
    });

    expect([res.status, (await answer(res)).accepted]).toEqual([200, items.length]);
    const onStream = await readStream();
    expect(onStream.map((r) => r.record.audit_id)).toEqual(items.map((e) => e.auditID));
    expect(onStream.every((r) => r.key === r.record.dedup_key && r.record.cluster_name === 'eks-1')).toBe(true);
  });

  it('answers 503 when the stream does not exist', async () => {
    const tmp2 = tempDataDir();
    const broken = await startIngestServer({
      config: ingestConfig({ EVENTS_SINK: 'kinesis:no-such-stream', ALERTS_SINK: 'none', AISOC_DATA_DIR: tmp2.dir }),
      sinks: { clients: { kinesis: client } },
    });
    try {
      const res = await fetch(`${broken.url}/v1/ingest/k8s-audit/acme`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET },
        body: eventList(uniqueFalcoEvents().slice(0, 2)),
      });

      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).not.toBeNull();
    } finally {
      await broken.close();
      tmp2.remove();
    }
  });
});
