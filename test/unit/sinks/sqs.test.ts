import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { SqsSink } from '../../../lib/sinks/sqs.js';
import { outgoingRecords, paddedRecord } from '../../helpers/ingest.js';

const sqs = mockClient(SQSClient);
const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/k8s-alerts';

function sink(queueUrl = QUEUE) {
  return new SqsSink({ queueUrl, client: new SQSClient({ region: 'eu-west-1' }), maxAttempts: 3, sleep: async () => {} });
}

describe('SqsSink', () => {
  beforeEach(() => {
    sqs.reset();
    sqs
      .on(SendMessageBatchCommand)
      .callsFake((input) => ({ Successful: input.Entries.map((e: { Id: string }) => ({ Id: e.Id })), Failed: [] }));
  });

  it('sends batches of at most 10 messages, each the record JSON', async () => {
    const records = outgoingRecords(23);

    await sink().write(records);

    const calls = sqs.commandCalls(SendMessageBatchCommand);
    expect(calls.map((c) => c.args[0].input.Entries?.length)).toEqual([10, 10, 3]);
    expect(calls[0]?.args[0].input.QueueUrl).toBe(QUEUE);
    expect(calls[0]?.args[0].input.Entries?.[0]?.MessageBody).toBe(records[0]?.json);
    expect(calls[0]?.args[0].input.Entries?.[0]?.MessageDeduplicationId).toBeUndefined();
  });

  it('keeps each batch within 256 KiB', async () => {
    await sink().write(Array.from({ length: 6 }, () => paddedRecord(100 * 1024)));

    const sizes = sqs
      .commandCalls(SendMessageBatchCommand)
      .map((c) => (c.args[0].input.Entries ?? []).reduce((n, e) => n + Buffer.byteLength(e.MessageBody ?? ''), 0));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(256 * 1024);
    expect(sizes).toHaveLength(3);
  });

  it('sets the dedup key as MessageDeduplicationId on a FIFO queue', async () => {
    const records = outgoingRecords(2);

    await sink(`${QUEUE}.fifo`).write(records);

    const entries = sqs.commandCalls(SendMessageBatchCommand)[0]?.args[0].input.Entries ?? [];
    expect(entries.map((e) => e.MessageDeduplicationId)).toEqual(records.map((r) => r.record.dedup_key));
    expect(entries[0]?.MessageGroupId).toBe('acme/prod');
  });

  it('retries failed entries that were not the sender fault, and reports sender faults as refused', async () => {
    sqs.reset();
    sqs
      .on(SendMessageBatchCommand)
      .resolvesOnce({
        Successful: [{ Id: '0', MessageId: 'm', MD5OfMessageBody: 'x' }],
        Failed: [
          { Id: '1', SenderFault: false, Code: 'InternalError' },
          { Id: '2', SenderFault: true, Code: 'InvalidMessageContents', Message: 'bad char' },
        ],
      })
      .resolves({ Successful: [{ Id: '0', MessageId: 'm2', MD5OfMessageBody: 'y' }], Failed: [] });
    const records = outgoingRecords(3);

    const result = await sink().write(records);

    const calls = sqs.commandCalls(SendMessageBatchCommand);
    expect(calls[1]?.args[0].input.Entries?.map((e) => e.MessageBody)).toEqual([records[1]?.json]);
    expect([...result.refused.entries()]).toEqual([[2, 'InvalidMessageContents: bad char']]);
  });
});
