import { FirehoseClient, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { FirehoseSink } from '../../../lib/sinks/firehose.js';
import { SinkUnavailableError } from '../../../lib/sinks/types.js';
import { outgoingRecords } from '../../helpers/ingest.js';

const firehose = mockClient(FirehoseClient);

function sink(maxAttempts = 3) {
  return new FirehoseSink({
    stream: 'audit-to-s3',
    client: new FirehoseClient({ region: 'eu-west-1' }),
    maxAttempts,
    sleep: async () => {},
  });
}

describe('FirehoseSink', () => {
  beforeEach(() => {
    firehose.reset();
  });

  it('puts newline-terminated JSON records, at most 500 per call', async () => {
    firehose
      .on(PutRecordBatchCommand)
      .callsFake((input) => ({ FailedPutCount: 0, RequestResponses: input.Records.map(() => ({ RecordId: 'r' })) }));
    const records = outgoingRecords(501);

    await sink().write(records);

    const calls = firehose.commandCalls(PutRecordBatchCommand);
    expect(calls.map((c) => c.args[0].input.Records?.length)).toEqual([500, 1]);
    expect(calls[0]?.args[0].input.DeliveryStreamName).toBe('audit-to-s3');
    expect(Buffer.from(calls[0]?.args[0].input.Records?.[0]?.Data as Uint8Array).toString()).toBe(`${records[0]?.json}\n`);
  });

  it('resends only the failed records, then gives up with SinkUnavailableError', async () => {
    const records = outgoingRecords(3);
    firehose
      .on(PutRecordBatchCommand)
      .resolvesOnce({
        FailedPutCount: 1,
        RequestResponses: [{ RecordId: 'a' }, { ErrorCode: 'ServiceUnavailableException', ErrorMessage: 'slow down' }, { RecordId: 'c' }],
      })
      .resolves({ FailedPutCount: 1, RequestResponses: [{ ErrorCode: 'ServiceUnavailableException', ErrorMessage: 'slow down' }] });

    await expect(sink(3).write(records)).rejects.toBeInstanceOf(SinkUnavailableError);

    const sent = firehose.commandCalls(PutRecordBatchCommand).map((c) => c.args[0].input.Records?.length);
    expect(sent).toEqual([3, 1, 1]);
  });
});
