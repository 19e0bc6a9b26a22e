import { KinesisClient, PutRecordsCommand, ResourceNotFoundException } from '@aws-sdk/client-kinesis';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createSink } from '../../../lib/sinks/index.js';
import { KinesisSink } from '../../../lib/sinks/kinesis.js';
import { SinkUnavailableError } from '../../../lib/sinks/types.js';
import { outgoingRecords, paddedRecord } from '../../helpers/ingest.js';

const kinesis = mockClient(KinesisClient);
const noSleep = async () => {};

function sink(maxAttempts = 3) {
  return new KinesisSink({ stream: 'k8s-audit', client: new KinesisClient({ region: 'eu-west-1' }), maxAttempts, sleep: noSleep });
}

function ok(n: number) {
  return {
    FailedRecordCount: 0,
    Records: Array.from({ length: n }, (_, i) => ({ SequenceNumber: String(i), ShardId: 'shardId-000000000000' })),
  };
}

describe('KinesisSink', () => {
  beforeEach(() => {
    kinesis.reset();
  });

  it('puts each record as its JSON with the dedup key as partition key', async () => {
    kinesis.on(PutRecordsCommand).callsFake((input) => ok(input.Records.length));
    const records = outgoingRecords(3);

    const result = await sink().write(records);

    const calls = kinesis.commandCalls(PutRecordsCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]?.args[0].input;
    expect(input?.StreamName).toBe('k8s-audit');
    expect(input?.Records?.map((r) => r.PartitionKey)).toEqual(records.map((r) => r.record.dedup_key));
    expect(input?.Records?.map((r) => Buffer.from(r.Data as Uint8Array).toString())).toEqual(records.map((r) => r.json));
    expect([result.duplicates.size, result.refused.size]).toEqual([0, 0]);
  });

  it('sends at most 500 records per call', async () => {
    kinesis.on(PutRecordsCommand).callsFake((input) => ok(input.Records.length));

    await sink().write(outgoingRecords(1201));

    expect(kinesis.commandCalls(PutRecordsCommand).map((c) => c.args[0].input.Records?.length)).toEqual([500, 500, 201]);
  });

  it('keeps each call under 5 MiB', async () => {
    kinesis.on(PutRecordsCommand).callsFake((input) => ok(input.Records.length));
    const records = Array.from({ length: 12 }, () => paddedRecord(900 * 1024));

    await sink().write(records);

    const sizes = kinesis
      .commandCalls(PutRecordsCommand)
      .map((c) => (c.args[0].input.Records ?? []).reduce((n, r) => n + (r.Data as Uint8Array).length + (r.PartitionKey?.length ?? 0), 0));
    expect(sizes.length).toBeGreaterThan(2);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(5 * 1024 * 1024);
    expect(kinesis.commandCalls(PutRecordsCommand).reduce((n, c) => n + (c.args[0].input.Records?.length ?? 0), 0)).toBe(12);
  });

  it('resends only the records a partial failure names', async () => {
    const records = outgoingRecords(5);
    kinesis
      .on(PutRecordsCommand)
      .resolvesOnce({
        FailedRecordCount: 2,
        Records: [
          { SequenceNumber: '1', ShardId: 's' },
          { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded' },
          { SequenceNumber: '3', ShardId: 's' },
          { ErrorCode: 'InternalFailure', ErrorMessage: 'oops' },
          { SequenceNumber: '5', ShardId: 's' },
        ],
      })
      .callsFake((input) => ok(input.Records.length));

    await sink().write(records);

    const calls = kinesis.commandCalls(PutRecordsCommand);
    expect(calls).toHaveLength(2);
    expect(calls[1]?.args[0].input.Records?.map((r) => r.PartitionKey)).toEqual([
      records[1]?.record.dedup_key,
      records[3]?.record.dedup_key,
    ]);
  });

  it('gives up after maxAttempts with SinkUnavailableError naming what is left', async () => {
    kinesis.on(PutRecordsCommand).callsFake((input) => ({
      FailedRecordCount: input.Records.length,
      Records: input.Records.map(() => ({ ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded' })),
    }));

    const err = await sink(4)
      .write(outgoingRecords(2))
      .catch((e: unknown) => e);

    expect(err).toBeInstanceOf(SinkUnavailableError);
    expect((err as Error).message).toMatch(/2 record\(s\) not delivered after 4 attempt/);
    expect(kinesis.commandCalls(PutRecordsCommand)).toHaveLength(4);
  });

  it('does not retry an error that cannot clear (a missing stream)', async () => {
    kinesis.on(PutRecordsCommand).rejects(new ResourceNotFoundException({ message: 'Stream k8s-audit not found', $metadata: {} }));

    await expect(sink().write(outgoingRecords(1))).rejects.toBeInstanceOf(SinkUnavailableError);
    expect(kinesis.commandCalls(PutRecordsCommand)).toHaveLength(1);
  });

  it('sends the compact form of a record over 1 MiB, and refuses one that does not fit even so', async () => {
    kinesis.on(PutRecordsCommand).callsFake((input) => ok(input.Records.length));
    const fits = paddedRecord(1_200_000, 10_000);
    const tooBig = paddedRecord(1_200_000, 1_100_000);

    const result = await sink().write([fits, tooBig]);

    const sent = kinesis.commandCalls(PutRecordsCommand).flatMap((c) => c.args[0].input.Records ?? []);
    expect(sent.map((r) => Buffer.from(r.Data as Uint8Array).toString())).toEqual([fits.compact?.json]);
    expect([...result.refused.keys()]).toEqual([1]);
    expect(result.refused.get(1)).toMatch(/1 MiB/);
  });
});

describe('the Kinesis sink made on first use (AISOC_KINESIS_CLIENT_AT=first-use)', () => {
  beforeEach(() => {
    kinesis.reset();
  });

  it('states the same record limit before it loads, sends nothing until the first write, then writes as the sink made at init', async () => {
    kinesis.on(PutRecordsCommand).callsFake((input) => ok(input.Records.length));
    const client = new KinesisClient({ region: 'eu-west-1' });
    const opts = { dataDir: '/nonexistent', maxAttempts: 3, sleep: noSleep, clients: { kinesis: client } };
    const atInit = await createSink({ kind: 'kinesis', stream: 'k8s-audit' }, 'events', opts);
    const lazy = await createSink({ kind: 'kinesis', stream: 'k8s-audit' }, 'events', { ...opts, kinesisClientAt: 'first-use' });
    expect(lazy).not.toBeInstanceOf(KinesisSink);
    expect([lazy.name, lazy.maxRecordBytes]).toEqual([atInit.name, atInit.maxRecordBytes]);
    expect(kinesis.commandCalls(PutRecordsCommand)).toHaveLength(0);

    const records = outgoingRecords(2);
    const result = await lazy.write(records);
    expect(kinesis.commandCalls(PutRecordsCommand)).toHaveLength(1);
    expect(kinesis.commandCalls(PutRecordsCommand)[0]?.args[0].input.Records?.map((r) => r.PartitionKey)).toEqual(
      records.map((r) => r.record.dedup_key),
    );
    expect([result.duplicates.size, result.refused.size]).toEqual([0, 0]);
    // A failure after the load surfaces as the loaded sink's own.
    kinesis.on(PutRecordsCommand).rejects(new ResourceNotFoundException({ message: 'no such stream', $metadata: {} }));
    await expect(lazy.write(outgoingRecords(1))).rejects.toBeInstanceOf(SinkUnavailableError);
    await lazy.close();
    // Never written: closing loads nothing.
    await (await createSink({ kind: 'kinesis', stream: 'other' }, 'events', { ...opts, kinesisClientAt: 'first-use' })).close();
  });
});
