import { PassThrough } from 'node:stream';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { StreamRejectSink, toRejectRecord } from '../../../lib/sinks/rejects.js';
import { SqsSink } from '../../../lib/sinks/sqs.js';
import { StdoutSink } from '../../../lib/sinks/stdout.js';

const sqs = mockClient(SQSClient);
const AT = Date.parse('2026-01-02T03:04:05Z');
// A rejected item as the ingest keeps it: the reason, and the item's text with the secret's data redacted.
const REJECTS = [
  toRejectRecord({ index: 0, auditID: null, reason: 'item is not a JSON object (got string)', item: 'hello' }, 'acme', 'prod', AT),
  toRejectRecord(
    { index: 3, auditID: 'a-1', reason: 'verb must be a string', item: { kind: 'Secret', data: { password: 'c2VjcmV0' } } },
    'acme',
    null,
    AT,
  ),
];

describe('StreamRejectSink', () => {
  beforeEach(() => sqs.reset());

  it('writes each reject through a record sink as its own JSON line, nothing else added', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
    });
    await new StreamRejectSink(new StdoutSink(out)).write(REJECTS);
    expect(
      text
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line)),
    ).toEqual(REJECTS);
    expect(text).not.toContain('c2VjcmV0');
  });

  it('keys each reject by tenant, cluster and its dedup_key on a FIFO queue: the same key when the item is resent', async () => {
    sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: { Id: string }[] }) => ({
      Successful: input.Entries.map((e) => ({ Id: e.Id, MessageId: e.Id, MD5OfMessageBody: '' })),
      Failed: [],
    }));
    const sink = new SqsSink({
      queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/rejects.fifo',
      client: new SQSClient({ region: 'eu-west-1' }),
      maxAttempts: 1,
    });
    // The same items resent a minute later, in other positions, the object re-serialised in another key order.
    const resent = [
      toRejectRecord(
        { index: 7, auditID: 'a-1', reason: 'verb must be a string', item: { data: { password: 'c2VjcmV0' }, kind: 'Secret' } },
        'acme',
        null,
        AT + 60_000,
      ),
      toRejectRecord(
        { index: 2, auditID: null, reason: 'item is not a JSON object (got string)', item: 'hello' },
        'acme',
        'prod',
        AT + 60_000,
      ),
    ];
    await new StreamRejectSink(sink).write(REJECTS);
    await new StreamRejectSink(sink).write(resent);
    const entries = sqs.commandCalls(SendMessageBatchCommand).flatMap((c) => c.args[0].input.Entries ?? []);
    const ids = entries.map((e) => e.MessageDeduplicationId);

    expect(entries.map((e) => JSON.parse(e.MessageBody ?? ''))).toEqual([...REJECTS, ...resent]);
    expect(entries.map((e) => e.MessageGroupId)).toEqual(['acme/prod', 'acme/', 'acme/', 'acme/prod']);
    expect(ids.slice(0, 2)).toEqual(REJECTS.map((r) => r.dedup_key));
    expect(ids.slice(2)).toEqual([ids[1], ids[0]]);
    expect(new Set(ids).size).toBe(2);
  });

  it('gives another key to another item, reason, cluster or tenant', () => {
    const base = { index: 0, auditID: 'a-1', reason: 'verb must be a string', item: { verb: 7 } };
    const keys = [
      toRejectRecord(base, 'acme', 'prod', AT),
      toRejectRecord({ ...base, item: { verb: 8 } }, 'acme', 'prod', AT),
      toRejectRecord({ ...base, reason: 'user must be an object' }, 'acme', 'prod', AT),
      toRejectRecord(base, 'acme', null, AT),
      toRejectRecord(base, 'other', 'prod', AT),
      toRejectRecord({ ...base, item: undefined }, 'acme', 'prod', AT),
    ].map((r) => r.dedup_key);
    expect(new Set(keys).size).toBe(keys.length);
  });
});
