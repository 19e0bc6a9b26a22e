// The Kinesis sink with the client it makes itself (the Lambda's case: no client passed in),
// pointed at kinesalite on loopback through the SDK's own AWS_ENDPOINT_URL_KINESIS. The Kinesis
// client defaults to an HTTP/2 handler (for SubscribeToShard); PutRecords needs none of it, and
// kinesalite, moto and proxies in front of a VPC endpoint speak HTTP/1.1.
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { CreateStreamCommand, DescribeStreamCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KinesisSink } from '../../lib/sinks/kinesis.js';
import { outgoingRecords } from '../helpers/ingest.js';

const require = createRequire(import.meta.url);
const kinesalite = require('kinesalite') as (opts: { createStreamMs?: number }) => Server;
const STREAM = 'k8s-audit-default-client';

describe('KinesisSink with its own client', () => {
  let server: Server;
  let endpoint: string;

  beforeAll(async () => {
    server = kinesalite({ createStreamMs: 10 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const admin = new KinesisClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      requestHandler: new NodeHttpHandler(),
    });
    await admin.send(new CreateStreamCommand({ StreamName: STREAM, ShardCount: 1 }));
    for (let i = 0; i < 100; i++) {
      const d = await admin.send(new DescribeStreamCommand({ StreamName: STREAM }));
      if (d.StreamDescription?.StreamStatus === 'ACTIVE') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    admin.destroy();
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('puts records over HTTP/1.1 to an endpoint from AWS_ENDPOINT_URL_KINESIS', async () => {
    vi.stubEnv('AWS_ENDPOINT_URL_KINESIS', endpoint);
    vi.stubEnv('AWS_REGION', 'us-east-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
    const sink = new KinesisSink({ stream: STREAM, maxAttempts: 1 });
    try {
      const result = await sink.write(outgoingRecords(3));

      expect(result.refused.size).toBe(0);
    } finally {
      await sink.close();
    }
  });
});
