import { EventEmitter } from 'node:events';
import {
  CloudWatchLogsClient,
  type FilteredLogEvent,
  FilterLogEventsCommand,
  type FilterLogEventsCommandInput,
} from '@aws-sdk/client-cloudwatch-logs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../../lib/cli/backfill.js';
import { backfillLogGroup, type ForwardSettings } from '../../lib/cloudwatch/index.js';
import { captureIo, progressLines } from '../helpers/cli.js';
import { runCommand } from '../helpers/cli-io.js';
import { auditStream, truncateLine } from '../helpers/envelopes.js';
import { auditIdOf, distinctLines, type FaultServer, ok, startFaultServer, status } from '../helpers/ship.js';

const TOKEN = 'backfill-test-token-31415926';
const GROUP = '/aws/eks/prod-eks/cluster';
const START = Date.parse('2024-05-01T10:00:00Z');
const logs = mockClient(CloudWatchLogsClient);

let server: FaultServer | null = null;
beforeEach(() => logs.reset());
afterEach(async () => {
  await server?.close();
  server = null;
});

/** Log events where several share one millisecond, across page boundaries. */
function filtered(lines: string[], stream = auditStream()): FilteredLogEvent[] {
  return lines.map((message, i) => ({
    logStreamName: stream,
    timestamp: START + Math.floor(i / 4),
    message,
    ingestionTime: START + 1000,
    eventId: `e-${i}`,
  }));
}

/** Serves `events` in pages of `size`, with an empty page after the first, as FilterLogEvents may return. */
function servePages(events: FilteredLogEvent[], size: number): FilterLogEventsCommandInput[] {
  const pages: FilteredLogEvent[][] = [];
  for (let at = 0; at < events.length; at += size) pages.push(events.slice(at, at + size));
  pages.splice(1, 0, []);
  const calls: FilterLogEventsCommandInput[] = [];
  logs.on(FilterLogEventsCommand).callsFake((input: FilterLogEventsCommandInput) => {
    calls.push(input);
    const n = input.nextToken === undefined ? 0 : Number(input.nextToken.slice(1));
    return n + 1 < pages.length ? { events: pages[n], nextToken: `t${n + 1}` } : { events: pages[n] };
  });
  return calls;
}

const env = (url: string): NodeJS.ProcessEnv => ({ AISOC_INGEST_URL: url, K8S_AUDIT_SHARED_SECRET: TOKEN, AWS_REGION: 'eu-west-1' });

describe('aisoc-k8s-audit backfill', () => {
  it('follows nextToken with the query unchanged and loses no event that shares a millisecond', async () => {
    server = await startFaultServer();
    const lines = distinctLines(103, 'bf');
    const calls = servePages(filtered(lines), 10);

    const { code, stderr } = await runCommand(
      [
        'backfill',
        '--log-group',
        GROUP,
        '--start',
        '2024-05-01T10:00:00Z',
        '--end',
        '2024-05-01T11:00:00Z',
        '--rate',
        '5',
        '--page-size',
        '10',
        '--progress-interval',
        '0',
      ],
      env(server.url),
    );

    expect(code).toBe(0);
    expect(server.delivered.sort()).toEqual(lines.map((_, i) => `bf-${i}`).sort());
    expect(calls.map((c) => [c.startTime, c.endTime, c.logStreamNamePrefix, c.logGroupName])).toEqual(
      calls.map(() => [START, Date.parse('2024-05-01T11:00:00Z'), 'kube-apiserver-audit-', GROUP]),
    );
    expect(calls.map((c) => c.nextToken)).toEqual([undefined, ...Array.from({ length: 11 }, (_, i) => `t${i + 1}`)]);
    expect(server.requests.every((r) => r.headers['x-aisoc-cluster-name'] === 'prod-eks')).toBe(true);
    // One JSON line per page (--progress-interval 0), counts moving up to the final totals.
    const { progress, done } = progressLines(stderr, 'backfill');
    expect(progress).toHaveLength(13); // 12 pages, and the last window flushed
    expect(progress[2]).toMatchObject({ service: 'aisoc-k8s-audit-backfill', pages: 3, eventsRead: 20, at: '2024-05-01T10:00:00.004Z' });
    expect(progress.map((p) => p.eventsRead)).toEqual([10, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 103, 103]);
    const shipped = progress.map((p) => p.eventsShipped as number);
    expect(shipped.every((n, i) => i === 0 || n >= (shipped[i - 1] as number))).toBe(true);
    expect(shipped.at(-1)).toBe(103);
    expect(done).toMatchObject({ level: 'INFO', eventsRead: 103, eventsShipped: 103, eventsFailed: 0, eventsUnreadable: 0, percent: 100 });
  });

  it('counts truncated and invalid lines and skips other streams', async () => {
    server = await startFaultServer();
    const lines = distinctLines(6, 'mix');
    const events = [
      ...filtered([...lines.slice(0, 4), truncateLine(lines[4] as string), truncateLine(lines[5] as string, 20), 'not json']),
      ...filtered(['x'], 'kube-scheduler-1'),
    ];
    servePages(events, 100);

    const { code, stderr } = await runCommand(
      ['backfill', '--log-group', GROUP, '--start', '1714557600000', '--stream-prefix', 'kube-apiserver-audit-'],
      env(server.url),
    );

    expect(code).toBe(0);
    // mix-4, cut past its auditID, goes out with the members before the cut; mix-5, cut before it, does not.
    expect(server.delivered).toEqual(['mix-0', 'mix-1', 'mix-2', 'mix-3', 'mix-4']);
    expect(progressLines(stderr, 'backfill').done).toMatchObject({
      eventsRead: 8,
      eventsShipped: 5,
      eventsFailed: 0,
      eventsUnreadable: 2,
      truncated: 1,
      invalid: 1,
      eventsSkipped: 1,
    });
    expect(stderr).toContain('"auditID":"mix-4"');
    expect(stderr).not.toContain('reserved key');
  });

  it('exits 1 and says where to resume when events cannot be delivered', async () => {
    server = await startFaultServer((_n, req) => (req.auditIds.includes('late-50') ? status(500) : ok()));
    servePages(filtered(distinctLines(60, 'late')), 100);

    const { code, stderr } = await runCommand(['backfill', '--log-group', GROUP, '--start', '2024-05-01T10:00:00Z', '--end', 'now'], {
      ...env(server.url),
      FORWARDER_MAX_BATCH_EVENTS: '50',
      FORWARDER_MAX_ATTEMPTS: '1',
    });

    expect(code).toBe(1);
    expect(progressLines(stderr, 'backfill').done).toMatchObject({
      level: 'ERROR',
      eventsFailed: 10,
      resumeFrom: new Date(START + 12).toISOString(),
    });
    expect(stderr).toMatch(/backfill: 10 events not delivered \(gave up after 1 attempts \(last: HTTP 500/);
    expect(stderr).toContain(`rerun with --start ${new Date(START + 12).toISOString()}`);
    expect(stderr).not.toContain(TOKEN);
  });

  it('on SIGINT stops after the page in hand, sends what it read, and says where to resume (exit 130)', async () => {
    server = await startFaultServer();
    const lines = distinctLines(60, 'stop');
    const events = filtered(lines);
    const signals = new EventEmitter();
    // Pages of 20; the signal arrives while the second page is read.
    const pages = [events.slice(0, 20), events.slice(20, 40), events.slice(40)];
    logs.on(FilterLogEventsCommand).callsFake((input: FilterLogEventsCommandInput) => {
      const n = input.nextToken === undefined ? 0 : Number(input.nextToken.slice(1));
      if (n === 1) signals.emit('SIGINT', 'SIGINT');
      return n + 1 < pages.length ? { events: pages[n], nextToken: `t${n + 1}` } : { events: pages[n] };
    });
    const cap = captureIo({ ...env(server.url), FORWARDER_MAX_BATCH_EVENTS: '50' });

    const code = await run(['--log-group', GROUP, '--start', '2024-05-01T10:00:00Z', '--end', 'now'], cap.io, { signals });

    expect(code).toBe(130);
    // Everything read (two pages) was sent before it stopped; the third page was never asked for.
    expect(server.delivered).toEqual(lines.slice(0, 40).map((l) => auditIdOf(l)));
    const resume = new Date(events[39]?.timestamp as number).toISOString();
    expect(cap.err()).toContain(`stopped before the end of the range; rerun with --start ${resume}`);
    expect(signals.listenerCount('SIGINT')).toBe(0);
  });

  it.each([
    [['--start', '1h'], /--log-group is required/],
    [['--log-group', GROUP], /--start is required/],
    [['--log-group', GROUP, '--start', 'yesterday'], /--start must be an ISO 8601 time/],
    [['--log-group', GROUP, '--start', '1h', '--rate', '6'], /--rate must be at most 5/],
    [['--log-group', GROUP, '--start', 'now', '--end', '2h'], /--end is before --start/],
  ])('refuses %j', async (args, message) => {
    const { code, stderr } = await runCommand(['backfill', ...args], env('http://127.0.0.1:9/v1/ingest/k8s-audit/t'));

    expect(code).toBe(2);
    expect(stderr).toMatch(message);
  });
});

describe('backfillLogGroup', () => {
  it('never makes more FilterLogEvents requests than the rate allows in any second', async () => {
    server = await startFaultServer();
    servePages(filtered(distinctLines(40, 'rate')), 2);
    let clock = 0;
    const starts: number[] = [];
    const client = new CloudWatchLogsClient({ region: 'eu-west-1' });
    const settings: ForwardSettings = {
      ingestUrl: server.url,
      token: TOKEN,
      clusterName: null,
      streamPrefix: 'kube-apiserver-audit-',
      maxEventsPerBatch: 400,
      maxBodyBytes: 1 << 20,
      gzip: false,
      requestTimeoutMs: 2000,
      safetyMarginMs: 0,
      maxAttempts: 2,
      concurrency: 1,
    };

    const report = await backfillLogGroup({
      logGroup: GROUP,
      startMs: START,
      endMs: START + 3_600_000,
      filterLogEvents: (input) => {
        starts.push(clock);
        return client.send(new FilterLogEventsCommand(input));
      },
      settings,
      deps: { log: () => {} },
      requestsPerSecond: 5,
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
    });

    expect(report).toMatchObject({ requests: 21, forwarded: 40, failed: 0 });
    for (let i = 5; i < starts.length; i++) expect((starts[i] as number) - (starts[i - 5] as number)).toBeGreaterThanOrEqual(1000);
  });
});
