import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, type Message, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readRedriveRecord } from '../../lib/cloudwatch/index.js';
import { redactMessageBody } from '../../lib/cloudwatch/redrive.js';
import { jsonLines, progressLines } from '../helpers/cli.js';
import { runCommand } from '../helpers/cli-io.js';
import { awslogsEvent, eksPayload, kinesisEvent } from '../helpers/envelopes.js';
import { distinctLines, type FaultServer, ok, startFaultServer, status } from '../helpers/ship.js';

const TOKEN = 'redrive-test-token-27182818';
const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/aisoc-k8s-audit-forwarder-failures';
const sqs = mockClient(SQSClient);

let server: FaultServer | null = null;
beforeEach(() => sqs.reset());
afterEach(async () => {
  await server?.close();
  server = null;
});

/** A Lambda asynchronous invocation record, as the on-failure destination sends it. */
function invocationRecord(event: unknown): string {
  return JSON.stringify({
    version: '1.0',
    timestamp: '2024-05-01T10:00:00.000Z',
    requestContext: {
      requestId: 'e4b46cbf-b738-xmpl-8880-a18cdf61200e',
      functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:aisoc-k8s-audit-forwarder:$LATEST',
      condition: 'RetriesExhausted',
      approximateInvokeCount: 3,
    },
    requestPayload: event,
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: { errorType: 'ForwardError', errorMessage: '3 of 3 audit events not delivered' },
  });
}

/** Serves `messages` on the first receive, then an empty queue. */
function queue(messages: Message[]): void {
  sqs.on(ReceiveMessageCommand).resolvesOnce({ Messages: messages }).resolves({ Messages: [] });
  sqs.on(DeleteMessageCommand).resolves({});
}

const env = (url: string): NodeJS.ProcessEnv => ({ AISOC_INGEST_URL: url, K8S_AUDIT_SHARED_SECRET: TOKEN, AWS_REGION: 'eu-west-1' });

describe('readRedriveRecord', () => {
  it('takes the requestPayload of an invocation record, or a bare event from a dead-letter queue', () => {
    const event = awslogsEvent(eksPayload(distinctLines(1)));

    expect(readRedriveRecord(invocationRecord(event))).toEqual({ kind: 'event', event });
    expect(readRedriveRecord(JSON.stringify(event))).toEqual({ kind: 'event', event });
  });

  it('explains what it cannot replay', () => {
    const kinesisPointer = JSON.stringify({
      requestContext: { condition: 'RetryAttemptsExhausted' },
      KinesisBatchInfo: {
        shardId: 'shardId-000000000000',
        startSequenceNumber: '4963',
        endSequenceNumber: '4964',
        arrivalTimestamp: '2024-05-01T10:00:00Z',
      },
    });

    expect(readRedriveRecord(kinesisPointer)).toMatchObject({
      kind: 'unreplayable',
      reason: expect.stringMatching(/Kinesis batch pointer \(shard shardId-000000000000/),
    });
    expect(readRedriveRecord('nope')).toEqual({ kind: 'unreplayable', reason: 'message body is not JSON' });
    expect(readRedriveRecord(invocationRecord({ foo: 1 }))).toMatchObject({ kind: 'unreplayable' });
  });
});

describe('aisoc-k8s-audit redrive', () => {
  it('replays each failure record and deletes only the ones fully delivered', async () => {
    server = await startFaultServer((_n, req) => (req.headers['x-aisoc-cluster-name'] === 'blue' ? status(503) : ok()));
    queue([
      {
        MessageId: 'm1',
        ReceiptHandle: 'r1',
        // Three events and a line that is none (counted as unreadable, never sent).
        Body: invocationRecord(
          awslogsEvent(eksPayload([...distinctLines(3, 'one'), '{"kind":"Event","verb":"get"}'], { cluster: 'green' })),
        ),
      },
      {
        MessageId: 'm2',
        ReceiptHandle: 'r2',
        Body: invocationRecord(awslogsEvent(eksPayload(distinctLines(2, 'two'), { cluster: 'blue' }))),
      },
      {
        MessageId: 'm3',
        ReceiptHandle: 'r3',
        Body: JSON.stringify(kinesisEvent([eksPayload(distinctLines(4, 'three'), { cluster: 'green' })])),
      },
      { MessageId: 'm4', ReceiptHandle: 'r4', Body: '{"hello":"world"}' },
    ]);

    const { code, stderr } = await runCommand(['redrive', '--queue-url', QUEUE], { ...env(server.url), FORWARDER_MAX_ATTEMPTS: '1' });

    expect(code).toBe(1);
    expect(sqs.commandCalls(DeleteMessageCommand).map((c) => c.args[0].input)).toEqual([
      { QueueUrl: QUEUE, ReceiptHandle: 'r1' },
      { QueueUrl: QUEUE, ReceiptHandle: 'r3' },
    ]);
    expect(server.delivered.sort()).toEqual(['one-0', 'one-1', 'one-2', 'three-0', 'three-1', 'three-2', 'three-3']);
    // The kept ones are visible again as the run ends, so a rerun right after a fix reads them.
    expect(sqs.commandCalls(ChangeMessageVisibilityCommand).map((c) => c.args[0].input)).toEqual([
      { QueueUrl: QUEUE, ReceiptHandle: 'r2', VisibilityTimeout: 0 },
      { QueueUrl: QUEUE, ReceiptHandle: 'r4', VisibilityTimeout: 0 },
    ]);
    const lines = jsonLines(stderr);
    const byMessage = (id: string) => lines.find((l) => l.messageId === id);
    expect(byMessage('m1')).toMatchObject({ message: 'message replayed and deleted', delivered: 3, failed: 0 });
    expect(byMessage('m2')).toMatchObject({
      level: 'WARN',
      message: 'message kept in the queue',
      reason: expect.stringMatching(/^gave up after 1 attempts \(last: HTTP 503/),
      delivered: 0,
      failed: 2,
    });
    expect(byMessage('m4')).toMatchObject({
      message: 'message kept in the queue',
      reason: 'not a forwarder failure record (it can never be replayed: --set-aside FILE moves it out of the queue)',
    });
    expect(progressLines(stderr, 'redrive').done).toMatchObject({
      level: 'WARN',
      messagesRead: 4,
      messagesDeleted: 2,
      messagesKept: 2,
      messagesSetAside: 0,
      eventsShipped: 7,
      eventsFailed: 2,
      eventsUnreadable: 1,
    });
    expect(stderr).not.toContain(TOKEN);
  });

  it('exits 0 when the queue is drained', async () => {
    server = await startFaultServer();
    queue([{ MessageId: 'm1', ReceiptHandle: 'r1', Body: invocationRecord(awslogsEvent(eksPayload(distinctLines(2)))) }]);

    const { code } = await runCommand(['redrive', '--queue-url', QUEUE, '--visibility-timeout', '60'], env(server.url));

    expect(code).toBe(0);
    expect(sqs.commandCalls(ReceiveMessageCommand)[0]?.args[0].input).toMatchObject({
      QueueUrl: QUEUE,
      MaxNumberOfMessages: 10,
      VisibilityTimeout: 60,
    });
  });

  it('stops after --max-messages', async () => {
    server = await startFaultServer();
    let next = 0;
    sqs.on(ReceiveMessageCommand).callsFake((input: { MaxNumberOfMessages: number }) => ({
      Messages: Array.from({ length: input.MaxNumberOfMessages }, (_, i) => ({
        MessageId: `m-${next++}`,
        ReceiptHandle: `r-${i}`,
        Body: invocationRecord(awslogsEvent(eksPayload(distinctLines(1)))),
      })),
    }));
    sqs.on(DeleteMessageCommand).resolves({});

    const { code, stderr } = await runCommand(['redrive', '--queue-url', QUEUE, '--max-messages', '3'], env(server.url));

    expect(code).toBe(0);
    expect(sqs.commandCalls(DeleteMessageCommand)).toHaveLength(3);
    expect(progressLines(stderr, 'redrive').done).toMatchObject({ messagesRead: 3, messagesDeleted: 3, messagesKept: 0 });
  });

  it('needs --queue-url', async () => {
    const { code, stderr } = await runCommand(['redrive'], env('http://127.0.0.1:9/v1/ingest/k8s-audit/t'));

    expect(code).toBe(2);
    expect(stderr).toMatch(/--queue-url is required/);
  });
});

describe('redactMessageBody', () => {
  const SECRET = 'the-shared-secret-0123456789';

  it('drops credential headers in any casing, token and Secret data values from a JSON body', () => {
    // An API Gateway HTTP API event (payload format 2.0) sent to the wrong queue, and a Secret inside it.
    const body = JSON.stringify({
      version: '2.0',
      headers: { 'X-AiSOC-K8s-Token': 'abc123', authorization: 'Bearer eyJ.x.y', Cookie: 'session=1', 'content-type': 'application/json' },
      multiValueHeaders: { 'x-aisoc-k8s-token': ['abc123'] },
      body: { kind: 'Secret', data: { password: 'aHVudGVyMg==' }, status: { token: 'sa-token' } },
    });

    const out = redactMessageBody(body, [SECRET]);

    expect(out.redacted).toBe(true);
    expect(JSON.parse(out.body)).toEqual({
      version: '2.0',
      headers: { 'X-AiSOC-K8s-Token': '[REDACTED]', authorization: '[REDACTED]', Cookie: '[REDACTED]', 'content-type': 'application/json' },
      multiValueHeaders: { 'x-aisoc-k8s-token': '[REDACTED]' },
      body: { kind: 'Secret', data: { password: '[REDACTED]' }, status: { token: '[REDACTED]' } },
    });
  });

  it('drops header values, inbox tokens and the shared secret from any text, escaped JSON included', () => {
    const text = [
      `curl -H "X-AiSOC-K8s-Token: abc123" -H 'Authorization: Bearer eyJ.x.y' https://h/v1/inbox/aik8s_QWxhZGRpbjpvcGVuIHNlc2FtZQ`,
      `{"nested":"{\\"x-aisoc-k8s-token\\":\\"def456\\"}"}`,
      `the secret was ${SECRET} in prose`,
    ].join('\n');

    const out = redactMessageBody(text, [SECRET]);

    expect(out.body).not.toMatch(/abc123|eyJ|aik8s_QWxh|def456/);
    expect(out.body).not.toContain(SECRET);
    expect(out.body).toContain('X-AiSOC-K8s-Token: [REDACTED]');
    expect(out.body).toContain('/v1/inbox/[REDACTED]');
    expect(out.body).toContain('the secret was [REDACTED] in prose');
  });

  it('drops the signature of a JWT from text that is not JSON, and keeps its header and claims', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6Y2k6ZGVwbG95In0.c2lnbmF0dXJlLWluLWEtbG9n';
    const text = `2024-05-01T10:00:00Z deploy failed, kubeconfig token ${jwt} rejected`;

    const out = redactMessageBody(text, [SECRET]);

    expect(out.redacted).toBe(true);
    expect(out.body).toBe(`2024-05-01T10:00:00Z deploy failed, kubeconfig token ${jwt.slice(0, jwt.lastIndexOf('.'))}.[REDACTED] rejected`);
  });

  it('keeps a body with nothing to hide as it was, byte for byte', () => {
    const body = JSON.stringify({ KinesisBatchInfo: { shardId: 'shardId-000000000000' } });

    expect(redactMessageBody(body, [SECRET])).toEqual({ body, redacted: false });
    expect(redactMessageBody('not json', [SECRET])).toEqual({ body: 'not json', redacted: false });
    // Spacing a serialiser would change is not a redaction.
    expect(redactMessageBody('{"hello": "world",\n "n": [1, 2]}', [SECRET])).toEqual({
      body: '{"hello": "world",\n "n": [1, 2]}',
      redacted: false,
    });
  });

  it("keeps a failure record's payloads (awslogs.data, each Kinesis record's data) whole, and still redacts around them", () => {
    // base64 gzip of a subscription payload cut off mid-way: undecodable as JSON, but the events are in it.
    const cut = JSON.stringify(eksPayload(distinctLines(3))).slice(0, -40);
    const data = gzipSync(cut).toString('base64');
    const record = {
      requestContext: { requestId: 'r1', condition: 'RetriesExhausted' },
      requestPayload: { awslogs: { data } },
      responsePayload: { errorMessage: 'x', headers: { 'X-AiSOC-K8s-Token': 'abc123' } },
    };
    const kinesis = {
      Records: [{ kinesis: { data, sequenceNumber: '1' } }, { kinesis: { data: 'bm90IGd6aXA=' } }],
      secret: { data: { k: 'v' } },
    };

    const out = redactMessageBody(JSON.stringify(record), [SECRET]);
    const outKinesis = redactMessageBody(JSON.stringify(kinesis), [SECRET]);

    expect(out.redacted).toBe(true);
    const kept = JSON.parse(out.body) as typeof record;
    expect(kept.requestPayload.awslogs.data).toBe(data);
    expect(gunzipSync(Buffer.from(kept.requestPayload.awslogs.data, 'base64')).toString()).toBe(cut);
    expect(kept.responsePayload.headers['X-AiSOC-K8s-Token']).toBe('[REDACTED]');
    expect(JSON.parse(outKinesis.body)).toEqual({
      Records: [{ kinesis: { data, sequenceNumber: '1' } }, { kinesis: { data: 'bm90IGd6aXA=' } }],
      secret: { data: { k: '[REDACTED]' } },
    });
  });
});

describe('aisoc-k8s-audit redrive --set-aside', () => {
  it('writes an unreplayable message to the file before it deletes it, and keeps delivery failures in the queue', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aisoc-set-aside-'));
    server = await startFaultServer(() => status(503));
    const order: string[] = [];
    const file = join(dir, 'aside.jsonl');
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({
        Messages: [
          { MessageId: 'bad', ReceiptHandle: 'r-bad', Body: `{"headers":{"X-AiSOC-K8s-Token":"${TOKEN}"}}` },
          { MessageId: 'retry', ReceiptHandle: 'r-retry', Body: invocationRecord(awslogsEvent(eksPayload(distinctLines(2)))) },
          { MessageId: 'odd', ReceiptHandle: 'r-odd', Body: JSON.stringify({ awslogs: { data: 42 } }) },
        ],
      })
      .resolves({ Messages: [] });
    sqs.on(DeleteMessageCommand).callsFake((input: { ReceiptHandle: string }) => {
      order.push(`delete ${input.ReceiptHandle}: ${readFileSync(file, 'utf8').split('\n').filter(Boolean).length} lines on disk`);
      return {};
    });

    const { code, stderr } = await runCommand(['redrive', '--queue-url', QUEUE, '--set-aside', file], {
      ...env(server.url),
      FORWARDER_MAX_ATTEMPTS: '1',
    });

    expect(code).toBe(1);
    expect(order).toEqual(['delete r-bad: 1 lines on disk', 'delete r-odd: 2 lines on disk']);
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      expect.objectContaining({
        messageId: 'bad',
        reason: 'not a forwarder failure record',
        body: '{"headers":{"X-AiSOC-K8s-Token":"[REDACTED]"}}',
        redacted: true,
      }),
      expect.objectContaining({ messageId: 'odd', reason: 'awslogs.data must be a base64 string', queueUrl: QUEUE }),
    ]);
    expect(progressLines(stderr, 'redrive').done).toMatchObject({
      messagesRead: 3,
      messagesSetAside: 2,
      messagesKept: 1,
      messagesDeleted: 0,
    });
    expect(jsonLines(stderr).find((l) => l.messageId === 'bad')).toMatchObject({ message: 'message set aside', file });
    expect(stderr + readFileSync(file, 'utf8')).not.toContain(TOKEN);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(stderr).not.toContain('can be read by other users');
    rmSync(dir, { recursive: true, force: true });
  });

  it('sets aside a failure record whose payload cannot be decoded with the payload whole: its events can still be recovered', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aisoc-set-aside-'));
    const file = join(dir, 'aside.jsonl');
    server = await startFaultServer();
    const lines = distinctLines(3);
    // gzip of a subscription payload cut off before its end: the forwarder cannot read it as JSON.
    const cut = JSON.stringify(eksPayload(lines)).slice(0, -30);
    const body = invocationRecord({ awslogs: { data: gzipSync(cut).toString('base64') } });
    queue([{ MessageId: 'cut', ReceiptHandle: 'r-cut', Body: body }]);

    const { code } = await runCommand(['redrive', '--queue-url', QUEUE, '--set-aside', file], env(server.url));

    expect(code).toBe(0);
    const [line] = readFileSync(file, 'utf8').trim().split('\n');
    const aside = JSON.parse(line as string) as { body: string; redacted: boolean; reason: string };
    expect(aside.reason).toMatch(/not valid|not JSON|cannot/);
    expect(aside).toMatchObject({ body, redacted: false });
    const data = (JSON.parse(aside.body) as { requestPayload: { awslogs: { data: string } } }).requestPayload.awslogs.data;
    const recovered = gunzipSync(Buffer.from(data, 'base64')).toString();
    for (const l of lines) expect(recovered).toContain((JSON.parse(l) as { auditID: string }).auditID);
    rmSync(dir, { recursive: true, force: true });
  });

  it('says when an existing set-aside file can be read by others, and appends to it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aisoc-set-aside-'));
    const file = join(dir, 'shared.jsonl');
    writeFileSync(file, '{"messageId":"earlier"}\n', { mode: 0o644 });
    server = await startFaultServer();
    queue([{ MessageId: 'x', ReceiptHandle: 'r-x', Body: 'not json' }]);

    const { code, stderr } = await runCommand(['redrive', '--queue-url', QUEUE, '--set-aside', file], env(server.url));

    expect(code).toBe(0);
    expect(
      jsonLines(stderr).find((l) => l.level === 'WARN' && String(l.message).includes('can be read by other users (mode 0644)')),
    ).toBeDefined();
    expect(
      readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { messageId: string }).messageId),
    ).toEqual(['earlier', 'x']);
    rmSync(dir, { recursive: true, force: true });
  });
});
