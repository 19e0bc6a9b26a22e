import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeLogsData, PayloadDecodeError, readForwarderEvent, UnsupportedEventError } from '../../../lib/cloudwatch/index.js';
import { awslogsEvent, eksPayload, gzipPayload, kinesisEvent } from '../../helpers/envelopes.js';
import { distinctLines } from '../../helpers/ship.js';

const fixture = (name: string): unknown => JSON.parse(readFileSync(join(import.meta.dirname, '../../fixtures/cwl', name), 'utf8'));

describe('decodeLogsData', () => {
  it('decodes the Powertools CloudWatch Logs subscription event', () => {
    const event = fixture('powertools-ts__cloudwatch-base.json') as { awslogs: { data: string } };

    const payload = decodeLogsData(event.awslogs.data);

    expect(payload).toMatchObject({ messageType: 'DATA_MESSAGE', owner: '536254204126', logGroup: '/aws/lambda/some-other-name' });
    expect(payload.logEvents).toHaveLength(3);
    expect(payload.logEvents[1]?.message).toBe('START RequestId: eadc91c8-8273-4a2d-b170-b0a7883b619e Version: $LATEST\n');
  });

  it('decodes the classic console sample event', () => {
    const event = fixture('sumologic__testevent.json') as { awslogs: { data: string } };

    const payload = decodeLogsData(event.awslogs.data);

    expect(payload.logEvents.map((e) => e.message)).toEqual(['[ERROR] First test message', '[ERROR] Second test message']);
  });

  it('keeps non-ASCII text intact (UTF-8, not ASCII)', () => {
    const line = (distinctLines(1)[0] as string).replace('"username":"', '"username":"jürgen-名前-😀-');

    const payload = decodeLogsData(awslogsEvent(eksPayload([line])).awslogs.data);

    expect(payload.logEvents[0]?.message).toBe(line);
    expect(payload.logEvents[0]?.message).toContain('jürgen-名前-😀-');
  });

  it('reads a payload split over several concatenated gzip members', () => {
    const lines = distinctLines(30);

    const payload = decodeLogsData(awslogsEvent(eksPayload(lines), 4).awslogs.data);

    expect(payload.logEvents.map((e) => e.message)).toEqual(lines);
  });

  it('takes the gzip bytes as they come from Kinesis GetRecords', () => {
    const lines = distinctLines(3);

    expect(decodeLogsData(new Uint8Array(gzipPayload(eksPayload(lines)))).logEvents).toHaveLength(3);
  });

  it.each([
    ['not base64', '%%%not base64%%%', /not base64/],
    ['not gzip', Buffer.from([0x1f, 0x8b, 1, 2, 3, 4]).toString('base64'), /not valid gzip/],
    ['not JSON', gzipSync('hello').toString('base64'), /not JSON/],
    ['no logEvents', gzipSync('{"messageType":"DATA_MESSAGE"}').toString('base64'), /no logEvents/],
  ])('refuses a payload that is %s', (_what, data, message) => {
    expect(() => decodeLogsData(data)).toThrow(PayloadDecodeError);
    expect(() => decodeLogsData(data)).toThrow(message);
  });
});

describe('readForwarderEvent', () => {
  it('lists the records of the Powertools Kinesis event with their sequence numbers', () => {
    const shape = readForwarderEvent(fixture('powertools-ts__kinesis-stream-cloudwatch-logs.json'));

    expect(shape.kind).toBe('kinesis');
    expect(shape.payloads.map((p) => p.sequenceNumber)).toEqual([
      '49635052289529725553291405521504870233219489715332317186',
      '49635052289529725553291405520881064510298312199003701250',
    ]);
    expect(shape.payloads.map((p) => decodeLogsData(p.data).logGroup)).toEqual([
      '/aws/lambda/pt-1488-DummyLogDataFunction-gnWXPvL6jJyG',
      '/aws/lambda/pt-1488-DummyLogDataFunction-gnWXPvL6jJyG',
    ]);
  });

  it('reads a direct subscription event as one payload', () => {
    const event = awslogsEvent(eksPayload(distinctLines(2)));

    expect(readForwarderEvent(event)).toEqual({ kind: 'awslogs', payloads: [{ data: event.awslogs.data }] });
  });

  it('carries the region of Kinesis records', () => {
    expect(readForwarderEvent(kinesisEvent([eksPayload([])])).payloads[0]?.region).toBe('eu-west-1');
  });

  it.each([[{}], [null], [{ Records: [{ s3: {} }] }], [{ awslogs: { data: 42 } }]])('refuses %j', (event) => {
    expect(() => readForwarderEvent(event)).toThrow(UnsupportedEventError);
  });
});
