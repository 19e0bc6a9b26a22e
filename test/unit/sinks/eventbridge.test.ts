import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { ALERT_DETAIL_TYPE, ALERT_SOURCE, EventBridgeSink } from '../../../lib/sinks/eventbridge.js';
import { SinkUnavailableError } from '../../../lib/sinks/types.js';
import { outgoingRecords } from '../../helpers/ingest.js';

const eventbridge = mockClient(EventBridgeClient);

function sink(maxAttempts = 3) {
  return new EventBridgeSink({
    bus: 'security',
    client: new EventBridgeClient({ region: 'eu-west-1' }),
    maxAttempts,
    sleep: async () => {},
  });
}

describe('EventBridgeSink', () => {
  beforeEach(() => {
    eventbridge.reset();
  });

  it('puts entries of at most 10 on the bus, source aisoc.k8s-audit, detail = record', async () => {
    eventbridge.on(PutEventsCommand).callsFake((input) => ({ FailedEntryCount: 0, Entries: input.Entries.map(() => ({ EventId: 'e' })) }));
    const records = outgoingRecords(11);

    await sink().write(records);

    const calls = eventbridge.commandCalls(PutEventsCommand);
    expect(calls.map((c) => c.args[0].input.Entries?.length)).toEqual([10, 1]);
    expect(calls[0]?.args[0].input.Entries?.[0]).toEqual({
      EventBusName: 'security',
      Source: ALERT_SOURCE,
      DetailType: ALERT_DETAIL_TYPE,
      Detail: records[0]?.json,
    });
  });

  it('retries only throttled entries and refuses malformed ones for good', async () => {
    eventbridge
      .on(PutEventsCommand)
      .resolvesOnce({
        FailedEntryCount: 2,
        Entries: [
          { EventId: 'a' },
          { ErrorCode: 'ThrottlingException', ErrorMessage: 'slow' },
          { ErrorCode: 'MalformedDetail', ErrorMessage: 'bad' },
        ],
      })
      .resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'b' }] });
    const records = outgoingRecords(3);

    const result = await sink().write(records);

    expect(eventbridge.commandCalls(PutEventsCommand)[1]?.args[0].input.Entries?.map((e) => e.Detail)).toEqual([records[1]?.json]);
    expect([...result.refused.keys()]).toEqual([2]);
  });

  it('throws SinkUnavailableError when throttling outlasts the attempts', async () => {
    eventbridge.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'ThrottlingException' }] });

    await expect(sink(2).write(outgoingRecords(1))).rejects.toBeInstanceOf(SinkUnavailableError);
    expect(eventbridge.commandCalls(PutEventsCommand)).toHaveLength(2);
  });
});
