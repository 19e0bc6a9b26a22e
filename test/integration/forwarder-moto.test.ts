// The forwarder on a real CloudWatch Logs → Kinesis subscription, as moto_server implements it:
// a log group with a subscription filter to a Kinesis stream, real PutLogEvents of audit lines,
// the Kinesis records (the real gzipped payload) fed to the handler, the events in the sink.
// Also the backfill's FilterLogEvents paging against the same log group.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  PutLogEventsCommand,
  PutSubscriptionFilterCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  CreateStreamCommand,
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type IngestServer, startIngestServer } from '../../lib/ingest/adapters/server.js';
import { loadIngestConfig } from '../../lib/ingest/config.js';
import { type EventStore, openEventStore } from '../../lib/sinks/sqlite.js';
import { progressLines } from '../helpers/cli.js';
import { runCommand } from '../helpers/cli-io.js';
import { auditStream, truncateLine } from '../helpers/envelopes.js';
import { captureStdout, lambdaContext, loadForwarder } from '../helpers/forwarder.js';
import { hasMoto as motoOnPath, type RunningMoto, startMoto } from '../helpers/infra-moto.js';
import { distinctLines } from '../helpers/ship.js';

const hasMoto = motoOnPath();
const SECRET = 'forwarder-moto-secret-8d7c6b5a';
const REGION = 'us-east-1';
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

let moto: RunningMoto | null = null;
let endpoint = '';
let dir = '';
let ingest: IngestServer | null = null;
let store: EventStore | null = null;

beforeAll(async () => {
  if (!hasMoto) return;
  moto = await startMoto();
  endpoint = moto.endpoint;
  dir = mkdtempSync(join(tmpdir(), 'aisoc-fwd-moto-'));
  ingest = await startIngestServer({
    config: loadIngestConfig({ K8S_AUDIT_SHARED_SECRET: SECRET, EVENTS_SINK: 'sqlite', AISOC_DATA_DIR: dir }, { runtime: 'local' }),
  });
  store = openEventStore(dir);
});

afterAll(async () => {
  store?.close();
  await ingest?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  await moto?.close();
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

/** A log group /aws/eks/<cluster>/cluster with an audit stream and a scheduler stream. */
async function eksLogGroup(logs: CloudWatchLogsClient, cluster: string): Promise<string> {
  const group = `/aws/eks/${cluster}/cluster`;
  await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
  await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: auditStream() }));
  await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: 'kube-scheduler-0a1b2c3d' }));
  return group;
}

describe('forwarder on a moto CloudWatch Logs → Kinesis subscription', () => {
  it.skipIf(!hasMoto)('delivers the audit lines of the real Kinesis records to the sink', async () => {
    const logs = new CloudWatchLogsClient({ region: REGION, endpoint, credentials });
    // The Kinesis client defaults to HTTP/2, which moto_server does not speak.
    const kinesis = new KinesisClient({ region: REGION, endpoint, credentials, requestHandler: new NodeHttpHandler() });
    const group = await eksLogGroup(logs, 'moto-eks');
    await kinesis.send(new CreateStreamCommand({ StreamName: 'eks-audit', ShardCount: 1 }));
    const stream = await kinesis.send(new DescribeStreamCommand({ StreamName: 'eks-audit' }));
    await logs.send(
      new PutSubscriptionFilterCommand({
        logGroupName: group,
        filterName: 'aisoc-k8s-audit',
        filterPattern: '',
        destinationArn: stream.StreamDescription?.StreamARN,
        roleArn: 'arn:aws:iam::123456789012:role/cwl-to-kinesis',
      }),
    );
    const lines = distinctLines(150, 'moto').map((l, i) => (i === 7 ? l.replace('"username":"', '"username":"jürgen-名前-') : l));
    const now = Date.now();
    const put = (streamName: string, messages: string[]) =>
      logs.send(
        new PutLogEventsCommand({
          logGroupName: group,
          logStreamName: streamName,
          logEvents: messages.map((message, i) => ({ message, timestamp: now + Math.floor(i / 10) })),
        }),
      );
    await put(auditStream(), lines.slice(0, 100));
    // Two lines cut at CloudWatch Logs' event-size limit: one past its auditID (stored, flagged
    // truncated), one before it (counted and logged only).
    const cut = distinctLines(1, 'moto-cut')[0] as string;
    await put(auditStream(), [...lines.slice(100), truncateLine(cut), truncateLine(cut, 20)]);
    await put('kube-scheduler-0a1b2c3d', ['I0501 10:00:00.000000 1 scheduler.go:123] scheduled pod']);

    const shardId = stream.StreamDescription?.Shards?.[0]?.ShardId;
    const iterator = await kinesis.send(
      new GetShardIteratorCommand({ StreamName: 'eks-audit', ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }),
    );
    const got = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator.ShardIterator }));
    const records = got.Records ?? [];
    expect(records.length).toBe(3);
    const event = {
      Records: records.map((r) => ({
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: r.PartitionKey,
          sequenceNumber: r.SequenceNumber,
          data: Buffer.from(r.Data ?? new Uint8Array()).toString('base64'),
          approximateArrivalTimestamp: (r.ApproximateArrivalTimestamp?.getTime() ?? now) / 1000,
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `${shardId}:${r.SequenceNumber}`,
        eventName: 'aws:kinesis:record',
        awsRegion: REGION,
        eventSourceARN: stream.StreamDescription?.StreamARN,
      })),
    };
    const out = captureStdout();
    const handler = await loadForwarder({ AISOC_INGEST_URL: `${ingest?.url}/v1/ingest/k8s-audit/acme`, K8S_AUDIT_SHARED_SECRET: SECRET });

    await handler(event, lambdaContext());

    expect(store?.countEvents({ tenant: 'acme', cluster: 'moto-eks' })).toBe(151);
    expect(store?.queryEvents({ auditId: 'moto-7' })[0]?.k8s_user).toMatch(/^jürgen-名前-/);
    expect(JSON.stringify(store?.queryEvents({ auditId: 'moto-cut-0' })[0]?.raw_event)).toContain('"audit.k8s.io/truncated":"true"');
    expect(out.emf()[0]).toMatchObject({
      PayloadsReceived: 3,
      EventsReceived: 153,
      EventsForwarded: 151,
      SalvagedLines: 1,
      TruncatedLines: 1,
      SkippedStreams: 1,
    });
  });

  /** What backfill and redrive run with here: the loopback ingest, and moto as AWS. */
  const commandEnv = () => ({
    AISOC_INGEST_URL: `${ingest?.url}/v1/ingest/k8s-audit/acme`,
    K8S_AUDIT_SHARED_SECRET: SECRET,
    AWS_REGION: REGION,
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
  });

  it.skipIf(!hasMoto)('backfills the same log group through FilterLogEvents pages, same-millisecond events included', async () => {
    const logs = new CloudWatchLogsClient({ region: REGION, endpoint, credentials });
    const group = await eksLogGroup(logs, 'moto-backfill');
    const lines = distinctLines(60, 'mbf');
    const now = Date.now() - 60_000;
    await logs.send(
      new PutLogEventsCommand({
        logGroupName: group,
        logStreamName: auditStream(),
        logEvents: lines.map((message, i) => ({ message, timestamp: now + Math.floor(i / 6) })),
      }),
    );

    const { code, stderr } = await runCommand(
      ['backfill', '--log-group', group, '--start', String(now), '--end', String(now + 1000), '--page-size', '7', '--rate', '5'],
      commandEnv(),
    );

    expect(progressLines(stderr, 'backfill').done).toMatchObject({ eventsRead: 60, eventsShipped: 60, eventsFailed: 0 });
    expect(code).toBe(0);
    expect(store?.countEvents({ tenant: 'acme', cluster: 'moto-backfill' })).toBe(60);
  });
  it.skipIf(!hasMoto)('backfill of a log group and redrive of a queue that do not exist say what to check, exit 1', async () => {
    const env = commandEnv();
    // A cluster name mistyped in the group, as an operator following docs/forwarder.md might.
    const backfill = await runCommand(['backfill', '--log-group', '/aws/eks/no-such-cluster/cluster', '--start', '1h'], env);
    expect(backfill.code).toBe(1);
    expect(backfill.stderr).toContain(
      `aisoc-k8s-audit backfill: CloudWatch Logs at ${endpoint}: ResourceNotFoundException: The specified log group does not exist. ` +
        `Check --log-group /aws/eks/no-such-cluster/cluster (aws logs describe-log-groups --log-group-name-prefix /aws/eks/ lists them) and that AWS_REGION (${REGION}) is the cluster's region.`,
    );
    const queueUrl = `${endpoint}/123456789012/no-such-forwarder-failures`;
    const redrive = await runCommand(['redrive', '--queue-url', queueUrl], env);
    expect(redrive.code).toBe(1);
    expect(redrive.stderr).toContain(
      `aisoc-k8s-audit redrive: SQS at ${endpoint}: QueueDoesNotExist: The specified queue does not exist. ` +
        "Check --queue-url: it is the stack's ForwarderFailureQueueUrl output (aws cloudformation describe-stacks), read with the credentials of its account.",
    );
    expect(backfill.stderr + redrive.stderr).not.toContain(SECRET);
  });
});
