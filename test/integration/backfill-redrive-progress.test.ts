// The built CLI's backfill and redrive as an operator runs them, against moto_server's CloudWatch
// Logs and SQS and a real ingest: the progress on stderr (JSON lines when stderr is a pipe, a
// redrawn line on a pseudo-terminal from util-linux `script`), and redrive's --set-aside file.
// The audit lines are the real Falco trace events (test/fixtures/falco).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IngestServer, startIngestServer } from '../../lib/ingest/adapters/server.js';
import { loadIngestConfig } from '../../lib/ingest/config.js';
import { type EventStore, openEventStore } from '../../lib/sinks/sqlite.js';
import { progressLines } from '../helpers/cli.js';
import { buildCliBundle, PROJECT_CACHE, runBuiltCli } from '../helpers/cli-bundle.js';
import { auditStream, awslogsEvent, eksPayload, truncateLine } from '../helpers/envelopes.js';
import { allFalcoEvents } from '../helpers/fixtures.js';
import { hasCommand } from '../helpers/host.js';
import { hasMoto as motoOnPath, type RunningMoto, startMoto } from '../helpers/infra-moto.js';

const hasMoto = motoOnPath();
const hasScript = hasCommand('script');
const SECRET = 'progress-moto-secret-4b3a2c1d0e';
const REGION = 'us-east-1';
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

let moto: RunningMoto | null = null;
let dir = '';
let ingest: IngestServer | null = null;
let store: EventStore | null = null;
let bundle = { cli: '', cleanup: () => {} };

/** The real Falco events as EKS log lines, one auditID each (the ingest would drop a repeat). */
function falcoLines(prefix: string): string[] {
  return allFalcoEvents().map((e, i) => JSON.stringify({ ...e, auditID: `${prefix}-${i}` }));
}

function cliEnv(): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    AISOC_INGEST_URL: `${ingest?.url}/v1/ingest/k8s-audit/acme`,
    K8S_AUDIT_SHARED_SECRET: SECRET,
    AWS_REGION: REGION,
    AWS_ENDPOINT_URL: moto?.endpoint ?? '',
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
  };
}

/** Runs the built CLI with stderr on a pipe. */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runBuiltCli(bundle.cli, args, { env: cliEnv() });
}

/** Runs the built CLI on a pseudo-terminal (`script`): everything it writes, as the terminal received it. */
function cliOnTty(args: string[], columns: number): Promise<{ code: number; output: string }> {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = `stty cols ${columns}; exec ${[process.execPath, bundle.cli, ...args].map(quote).join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qefc', command, '/dev/null'], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, output });
    });
  });
}

async function eksLogGroup(cluster: string, lines: string[], startMs: number): Promise<string> {
  const logs = new CloudWatchLogsClient({ region: REGION, endpoint: moto?.endpoint ?? '', credentials });
  const group = `/aws/eks/${cluster}/cluster`;
  await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
  await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: auditStream() }));
  await logs.send(
    new PutLogEventsCommand({
      logGroupName: group,
      logStreamName: auditStream(),
      logEvents: lines.map((message, i) => ({ message, timestamp: startMs + Math.floor(i / 3) })),
    }),
  );
  logs.destroy();
  return group;
}

/** The values of one count across the progress lines, and whether they never go down. */
function series(lines: Record<string, unknown>[], key: string): { values: number[]; monotonic: boolean } {
  const values = lines.map((l) => l[key] as number);
  return { values, monotonic: values.every((v, i) => i === 0 || v >= (values[i - 1] as number)) };
}

beforeAll(async () => {
  if (!hasMoto) return;
  [moto, bundle] = await Promise.all([startMoto(), buildCliBundle(PROJECT_CACHE, 'aisoc-progress-')]);
  dir = mkdtempSync(join(tmpdir(), 'aisoc-progress-'));
  ingest = await startIngestServer({
    config: loadIngestConfig({ K8S_AUDIT_SHARED_SECRET: SECRET, EVENTS_SINK: 'sqlite', AISOC_DATA_DIR: dir }, { runtime: 'local' }),
  });
  store = openEventStore(dir);
}, 120_000);

afterAll(async () => {
  store?.close();
  await ingest?.close();
  await moto?.close();
  bundle.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('backfill progress', () => {
  it.skipIf(!hasMoto)('writes JSON lines whose counts move up to the final totals when stderr is a pipe', async () => {
    const lines = falcoLines('bfp');
    const start = Date.now() - 120_000;
    const group = await eksLogGroup('progress-json', lines, start);

    // 5 events a page at 5 pages a second: about 2 s, with a progress line every 0.1 s.
    const { code, stderr } = await cli([
      'backfill',
      '--log-group',
      group,
      '--start',
      String(start),
      '--end',
      String(start + 60_000),
      '--page-size',
      '5',
      '--rate',
      '5',
      '--progress-interval',
      '0.1',
    ]);

    expect(code).toBe(0);
    const { progress, done } = progressLines(stderr, 'backfill');
    const read = series(progress, 'eventsRead');
    expect(read.monotonic).toBe(true);
    expect(new Set(read.values.filter((v) => v > 0 && v < lines.length)).size).toBeGreaterThanOrEqual(2);
    expect(series(progress, 'eventsShipped').monotonic).toBe(true);
    expect(progress[0]).toMatchObject({ level: 'INFO', service: 'aisoc-k8s-audit-backfill', eventsFailed: 0 });
    expect(done).toMatchObject({ eventsRead: lines.length, eventsShipped: lines.length, eventsFailed: 0, percent: 100 });
    expect(done?.elapsedSeconds).toBeGreaterThan(0);
    expect(store?.countEvents({ tenant: 'acme', cluster: 'progress-json' })).toBe(lines.length);
    expect(stderr).not.toContain(SECRET);
  });

  it.skipIf(!hasMoto || !hasScript)('redraws one line with a bar on a terminal and ends with a summary line', async () => {
    const lines = falcoLines('bft');
    const start = Date.now() - 120_000;
    const group = await eksLogGroup('progress-tty', lines, start);

    const { code, output } = await cliOnTty(
      [
        'backfill',
        '--log-group',
        group,
        '--start',
        String(start),
        '--end',
        String(start + Math.floor(lines.length / 3)),
        '--page-size',
        '5',
        '--rate',
        '5',
      ],
      120,
    );

    expect(code).toBe(0);
    // Each redraw clears the line and starts over; none is a JSON line.
    const frames = output
      .split('\r\x1b[2K')
      .map((f) => f.trim())
      .filter((f) => /^backfill {2}\[[#.]{20}\] +\d+%/.test(f));
    expect(frames.length).toBeGreaterThanOrEqual(3);
    const read = frames.map((f) => Number((/ (\d+) read/.exec(f)?.[1] ?? 'NaN').replace(/,/g, '')));
    expect(read.every((v, i) => i === 0 || v >= (read[i - 1] as number))).toBe(true);
    expect(new Set(read.filter((v) => v > 0 && v < lines.length)).size).toBeGreaterThanOrEqual(2);
    expect(frames.every((f) => f.length < 120)).toBe(true);
    expect(frames.at(-1)).toMatch(/ \d+ read, \d+ shipped, 0 failed {2}\d+:\d\d {2}\d+ events\/s/);
    expect(output).toMatch(
      new RegExp(`backfill done: ${lines.length} read, ${lines.length} forwarded, 0 failed.*\\(\\d+:\\d\\d\\)\\r?\\n`),
    );
    expect(output).not.toMatch(/"message":"backfill progress"/);
    expect(store?.countEvents({ tenant: 'acme', cluster: 'progress-tty' })).toBe(lines.length);
  });
});

describe('redrive --set-aside', () => {
  it.skipIf(!hasMoto)('replays failure records, sets aside what can never be replayed, redacted, and empties the queue', async () => {
    const sqs = new SQSClient({ region: REGION, endpoint: moto?.endpoint ?? '', credentials });
    const { QueueUrl: queueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'aisoc-k8s-audit-forwarder-failures' }));
    const lines = falcoLines('rdp');
    const record = (event: unknown) =>
      JSON.stringify({
        version: '1.0',
        requestContext: { condition: 'RetriesExhausted', approximateInvokeCount: 3 },
        requestPayload: event,
        responsePayload: { errorType: 'ForwardError' },
      });
    // Three real failure records of the Falco lines, and four messages no replay can deliver.
    const replayable = [lines.slice(0, 20), lines.slice(20, 40), lines.slice(40)].map((chunk) =>
      record(awslogsEvent(eksPayload(chunk, { cluster: 'redrive-moto' }))),
    );
    const unreplayable = {
      apiGateway: JSON.stringify({
        version: '2.0',
        routeKey: 'POST /v1/ingest/k8s-audit/{tenant}',
        headers: { 'x-aisoc-k8s-token': SECRET, Authorization: 'Bearer eyJhbGciOi.payload.sig' },
        body: '{"kind":"EventList","items":[]}',
      }),
      text: `curl -H "X-AiSOC-K8s-Token: ${SECRET}" https://ingest.example/v1/inbox/aik8s_QWxhZGRpbjpvcGVuIHNlc2FtZQ0123456789ab`,
      kinesisPointer: JSON.stringify({
        requestContext: { condition: 'RetryAttemptsExhausted' },
        KinesisBatchInfo: { shardId: 'shardId-000000000000', startSequenceNumber: '49', endSequenceNumber: '50' },
      }),
      notGzip: record({ awslogs: { data: Buffer.from('not gzip at all').toString('base64') } }),
    };
    for (const body of [...replayable, ...Object.values(unreplayable)]) {
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
    }
    const setAside = join(dir, 'set-aside.jsonl');

    const { code, stderr } = await cli([
      'redrive',
      '--queue-url',
      queueUrl as string,
      '--set-aside',
      setAside,
      '--progress-interval',
      '0',
      '--visibility-timeout',
      '30',
    ]);

    expect(code).toBe(0);
    expect(store?.countEvents({ tenant: 'acme', cluster: 'redrive-moto' })).toBe(lines.length);
    const kept = readFileSync(setAside, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(kept).toHaveLength(4);
    expect(kept.map((k) => k.reason)).toEqual(
      expect.arrayContaining([
        'not a forwarder failure record',
        'message body is not JSON',
        'a Kinesis batch pointer (shard shardId-000000000000, sequence 49 to 50): re-read the stream, or backfill that time range',
        expect.stringMatching(/^subscription payload is neither gzip nor JSON of the documented shape: /),
      ]),
    );
    for (const k of kept) expect(k).toMatchObject({ messageId: expect.any(String), queueUrl, body: expect.any(String) });
    const file = readFileSync(setAside, 'utf8');
    expect(file).not.toContain(SECRET);
    expect(file).not.toContain('eyJhbGciOi');
    expect(file).not.toContain('aik8s_QWxhZGRpbjpvcGVu');
    expect(file).toContain('KinesisBatchInfo');
    expect(statSync(setAside).mode & 0o777).toBe(0o600);
    const attrs = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    expect(attrs.Attributes).toMatchObject({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' });

    const { progress, done } = progressLines(stderr, 'redrive');
    expect(progress.map((p) => p.messagesRead)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(series(progress, 'messagesSetAside').values.at(-1)).toBe(4);
    expect(done).toMatchObject({
      messagesRead: 7,
      messagesDeleted: 3,
      messagesSetAside: 4,
      messagesKept: 0,
      eventsShipped: lines.length,
      eventsFailed: 0,
    });
    expect(stderr).not.toContain(SECRET);
    sqs.destroy();
  });

  it.skipIf(!hasMoto || !hasScript)(
    'on a terminal, prints each message set aside above the redrawn line and ends with a summary',
    async () => {
      const sqs = new SQSClient({ region: REGION, endpoint: moto?.endpoint ?? '', credentials });
      const { QueueUrl: queueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'aisoc-k8s-audit-tty-failures' }));
      const lines = falcoLines('rdt');
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: JSON.stringify(awslogsEvent(eksPayload(lines, { cluster: 'redrive-tty' }))),
        }),
      );
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: `X-AiSOC-K8s-Token: ${SECRET}` }));
      const setAside = join(dir, 'tty-set-aside.jsonl');

      const { code, output } = await cliOnTty(['redrive', '--queue-url', queueUrl as string, '--set-aside', setAside], 160);

      expect(code).toBe(0);
      expect(output).toMatch(
        new RegExp(
          `\\r\\x1b\\[2Kredrive: message [\\w-]+: set aside to ${setAside.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: message body is not JSON\\r?\\n`,
        ),
      );
      // Two messages in the queue at the start (ApproximateNumberOfMessages): the bar starts at 0 %.
      expect(output).toContain('\r\x1b[2Kredrive  [....................]   0%  0 messages, 0 deleted, 0 kept, 0 set aside');
      expect(output).toMatch(
        /redrive {2}\[[#.]{20}\] +\d+% {2}\d+ messages, \d+ deleted, 0 kept, \d+ set aside, \d+ events shipped, 0 failed {2}\d+:\d\d {2}\d+ messages\/s/,
      );
      expect(output).toMatch(
        new RegExp(
          `redrive done: 2 messages, 1 deleted, 0 kept, 1 set aside, ${lines.length} events delivered, 0 salvaged {2}\\(\\d+:\\d\\d\\)`,
        ),
      );
      expect(output).not.toContain(SECRET);
      expect(readFileSync(setAside, 'utf8')).toContain('X-AiSOC-K8s-Token: [REDACTED]');
      expect(store?.countEvents({ tenant: 'acme', cluster: 'redrive-tty' })).toBe(lines.length);
      sqs.destroy();
    },
  );

  it.skipIf(!hasMoto)('refuses a --set-aside file it cannot open before touching the queue', async () => {
    const { code, stderr } = await cli([
      'redrive',
      '--queue-url',
      `${moto?.endpoint}/123456789012/untouched`,
      '--set-aside',
      join(dir, 'no-such-dir', 'x.jsonl'),
    ]);

    expect(code).toBe(2);
    expect(stderr).toMatch(/--set-aside .*no-such-dir.*: cannot open for appending: ENOENT/);
  });
});

// A line over CloudWatch Logs' event-size limit, as EKS writes it: cut, with `[Truncated...]`
// after the cut (docs/forwarder.md). The first three Falco events with a request or response body
// are cut inside it, after every member the normaliser needs, so each goes out salvaged.
function withCutLines(lines: string[]): { lines: string[]; cut: number } {
  let cut = 0;
  const out = lines.map((line) => {
    const body = Math.max(line.indexOf('"requestObject"'), line.indexOf('"responseObject"'));
    if (cut >= 3 || body < 0 || body < line.indexOf('"auditID"')) return line;
    cut++;
    return truncateLine(line, body + 24);
  });
  return { lines: out, cut };
}

describe('lines cut at the CloudWatch Logs event-size limit', () => {
  // Before, backfill's and redrive's done lines counted them only inside the shipped events: the
  // operator could not tell from the totals that some events arrived without their bodies.
  it.skipIf(!hasMoto)("are counted as salvaged in backfill's and redrive's done lines", async () => {
    const { lines, cut } = withCutLines(falcoLines('bfs'));
    expect(cut).toBe(3);
    const start = Date.now() - 120_000;
    const group = await eksLogGroup('salvaged-json', lines, start);
    const backfill = await cli(['backfill', '--log-group', group, '--start', String(start), '--end', String(start + 60_000)]);

    const sqs = new SQSClient({ region: REGION, endpoint: moto?.endpoint ?? '', credentials });
    const { QueueUrl: queueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'aisoc-k8s-audit-salvaged-failures' }));
    const redriven = withCutLines(falcoLines('rds')).lines;
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify(awslogsEvent(eksPayload(redriven, { cluster: 'salvaged-redrive' }))),
      }),
    );
    const redrive = await cli(['redrive', '--queue-url', queueUrl as string]);
    sqs.destroy();

    expect([backfill.code, redrive.code]).toEqual([0, 0]);
    expect(progressLines(backfill.stderr, 'backfill').done).toMatchObject({
      eventsRead: lines.length,
      eventsShipped: lines.length,
      salvaged: 3,
      truncated: 0,
      invalid: 0,
    });
    expect(progressLines(redrive.stderr, 'redrive').done).toMatchObject({ eventsShipped: redriven.length, salvaged: 3 });
    expect(store?.countEvents({ tenant: 'acme', cluster: 'salvaged-json' })).toBe(lines.length);
    expect(store?.countEvents({ tenant: 'acme', cluster: 'salvaged-redrive' })).toBe(redriven.length);
  });

  it.skipIf(!hasMoto || !hasScript)('are counted in the summary line a terminal shows', async () => {
    const { lines } = withCutLines(falcoLines('bst'));
    const start = Date.now() - 120_000;
    const group = await eksLogGroup('salvaged-tty', lines, start);

    const { code, output } = await cliOnTty(
      ['backfill', '--log-group', group, '--start', String(start), '--end', String(start + 60_000)],
      160,
    );

    expect(code).toBe(0);
    expect(output).toMatch(
      new RegExp(`backfill done: ${lines.length} read, ${lines.length} forwarded, 0 failed, 3 salvaged, 0 truncated, 0 invalid, 0 skipped`),
    );
  });
});
