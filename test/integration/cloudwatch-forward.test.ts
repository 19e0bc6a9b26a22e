import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ForwardError,
  type ForwardReport,
  type ForwardSettings,
  forwardSubscriptionEvent,
  hasFailures,
} from '../../lib/cloudwatch/index.js';
import {
  auditStream,
  awslogsEvent,
  controlPayload,
  eksPayload,
  kinesisEvent,
  sequenceNumbers,
  truncateLine,
} from '../helpers/envelopes.js';
import { distinctLines, type FaultServer, ok, startFaultServer, status } from '../helpers/ship.js';

const TOKEN = 'forwarder-test-token-9f8e7d6c5b4a';

let server: FaultServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

function settings(url: string, extra: Partial<ForwardSettings> = {}): ForwardSettings {
  return {
    ingestUrl: url,
    token: TOKEN,
    clusterName: null,
    streamPrefix: 'kube-apiserver-audit-',
    maxEventsPerBatch: 400,
    maxBodyBytes: 3 * 1024 * 1024,
    gzip: false,
    requestTimeoutMs: 2_000,
    safetyMarginMs: 0,
    maxAttempts: 3,
    concurrency: 2,
    ...extra,
  };
}

async function run(event: unknown, s: ForwardSettings): Promise<{ report: ForwardReport; logs: Record<string, unknown>[] }> {
  const logs: Record<string, unknown>[] = [];
  const report = await forwardSubscriptionEvent(event, s, { log: (e) => logs.push(e), sleep: async () => {} });
  return { report, logs };
}

/** Every log event lands in exactly one bucket. */
function expectBalanced(r: ForwardReport): void {
  expect(r.skippedEvents + r.truncated + r.invalid + r.forwarded + r.failed).toBe(r.received);
}

describe('forwardSubscriptionEvent', () => {
  it('forwards every audit line of an EKS subscription event with the cluster from the log group', async () => {
    server = await startFaultServer();
    const lines = distinctLines(900);

    const { report } = await run(awslogsEvent(eksPayload(lines, { cluster: 'prod-eks-us-east-1' })), settings(server.url));

    expect(report).toMatchObject({ kind: 'awslogs', payloads: 1, received: 900, forwarded: 900, failed: 0, batches: 3 });
    expect(hasFailures(report)).toBe(false);
    // Each event once; the batches are sent concurrently, so they may land in any order.
    const byId = (a: string, b: string) => Number(a.slice(4)) - Number(b.slice(4));
    expect([...server.delivered].sort(byId)).toEqual(lines.map((_, i) => `evt-${i}`));
    expect(server.requests.every((r) => r.headers['x-aisoc-cluster-name'] === 'prod-eks-us-east-1')).toBe(true);
    expectBalanced(report);
  });

  it('ships the line window when its bytes are full and the next line goes into the next one, none lost or reordered', async () => {
    server = await startFaultServer();
    // Falco's real traces (about 1-3 KiB a line): with 8 KiB bodies and one in flight the window
    // fills by bytes long before its event cap, so most lines arrive with the window full.
    const lines = distinctLines(60);
    const { report } = await run(awslogsEvent(eksPayload(lines)), settings(server.url, { maxBodyBytes: 8 * 1024, concurrency: 1 }));

    expect(report).toMatchObject({ received: 60, forwarded: 60, failed: 0, oversize: 0 });
    expect(report.batches).toBeGreaterThan(10);
    // One in flight: the bodies arrive in the order the lines were read, each line whole.
    expect(server.delivered).toEqual(lines.map((_, i) => `evt-${i}`));
    expect(server.requests.every((r) => Buffer.byteLength(r.body) <= 8 * 1024)).toBe(true);
    for (const line of lines) expect(server.requests.some((r) => r.body.includes(line))).toBe(true);
    expectBalanced(report);
  });

  it('sends each line as its original text', async () => {
    server = await startFaultServer();
    const lines = distinctLines(3).map((l) => l.replace('{"kind":"Event"', '{ "kind": "Event"'));

    await run(awslogsEvent(eksPayload(lines)), settings(server.url));

    for (const line of lines) expect(server.requests[0]?.body).toContain(line);
  });

  it('uses CLUSTER_NAME over the log group', async () => {
    server = await startFaultServer();

    await run(awslogsEvent(eksPayload(distinctLines(5))), settings(server.url, { clusterName: 'override' }));

    expect(server.requests[0]?.headers['x-aisoc-cluster-name']).toBe('override');
  });

  it('names the events by the log group when it is not an EKS one and CLUSTER_NAME is unset, never leaving the cluster out', async () => {
    server = await startFaultServer();

    const payload = { ...eksPayload(distinctLines(5)), logGroup: '/k8s/self-managed/audit' };
    const { logs } = await run(awslogsEvent(payload), settings(server.url));

    expect(server.requests[0]?.headers['x-aisoc-cluster-name']).toBe('/k8s/self-managed/audit');
    expect(logs).toContainEqual(expect.objectContaining({ level: 'warn', logGroup: '/k8s/self-managed/audit' }));
  });

  it('skips and counts a CONTROL_MESSAGE without calling the ingest', async () => {
    server = await startFaultServer();

    const { report } = await run(awslogsEvent(controlPayload()), settings(server.url));

    expect(report).toMatchObject({ controlMessages: 1, received: 0, forwarded: 0 });
    expect(server.requests).toEqual([]);
    expect(hasFailures(report)).toBe(false);
  });

  it('skips and counts streams that are not apiserver audit streams', async () => {
    server = await startFaultServer();
    const event = kinesisEvent([
      eksPayload(distinctLines(4), { stream: 'kube-scheduler-4f0b7e3c' }),
      eksPayload(distinctLines(6, 'b'), { stream: auditStream() }),
    ]);

    const { report, logs } = await run(event, settings(server.url));

    expect(report).toMatchObject({ skippedStreams: 1, skippedEvents: 4, forwarded: 6, received: 10 });
    expect(logs).toContainEqual(
      expect.objectContaining({ msg: 'stream skipped: not an apiserver audit stream', logStream: 'kube-scheduler-4f0b7e3c' }),
    );
    expectBalanced(report);
  });

  it('forwards cut lines salvaged, counts and logs the unusable and invalid ones, and forwards the rest', async () => {
    server = await startFaultServer();
    const lines = distinctLines(11);
    const mixed = [
      ...lines.slice(0, 8),
      truncateLine(lines[8] as string),
      (lines[9] as string).slice(0, -3),
      truncateLine(lines[10] as string, 20),
      'plain text',
      '{"kind": 0}',
    ];

    const { report, logs } = await run(awslogsEvent(eksPayload(mixed)), settings(server.url));

    // Cut past their auditID (with EKS's suffix, or without): sent with the members before the cut.
    expect(report).toMatchObject({ received: 13, forwarded: 10, salvaged: 2, truncated: 1, invalid: 2, failed: 0 });
    expect(server.delivered).toEqual(expect.arrayContaining(['evt-8', 'evt-9']));
    expect(hasFailures(report)).toBe(false);
    expect(logs).toContainEqual(expect.objectContaining({ level: 'warn', auditID: 'evt-8', logStream: auditStream() }));
    expect(logs).toContainEqual(expect.objectContaining({ level: 'warn', auditID: 'evt-9', logStream: auditStream() }));
    expect(logs.filter((l) => l.msg === 'log line is not a valid audit event')).toHaveLength(2);
    expectBalanced(report);
  });

  it('counts every line of the shared non-audit fixtures as skipped, or as invalid with an empty prefix', async () => {
    server = await startFaultServer();
    const event = JSON.parse(
      readFileSync(join(import.meta.dirname, '../fixtures/cwl/powertools-ts__kinesis-stream-cloudwatch-logs.json'), 'utf8'),
    );

    const skipped = (await run(event, settings(server.url))).report;
    const all = (await run(event, settings(server.url, { streamPrefix: '' }))).report;

    expect(skipped).toMatchObject({ payloads: 2, received: 6, skippedStreams: 2, skippedEvents: 6 });
    expect(all).toMatchObject({ payloads: 2, received: 6, invalid: 6, forwarded: 0 });
    expect(server.requests).toEqual([]);
  });

  it('keeps lines of different clusters in different requests and maps failures to Kinesis records', async () => {
    server = await startFaultServer((_n, req) => (req.headers['x-aisoc-cluster-name'] === 'blue' ? status(503) : ok()));
    const event = kinesisEvent([
      eksPayload(distinctLines(3, 'g1'), { cluster: 'green' }),
      eksPayload(distinctLines(3, 'b1'), { cluster: 'blue' }),
      eksPayload(distinctLines(3, 'g2'), { cluster: 'green' }),
    ]);
    const seq = sequenceNumbers(event);

    const { report } = await run(event, settings(server.url));

    expect(report).toMatchObject({ kind: 'kinesis', forwarded: 6, failed: 3 });
    expect(report.failedRecords).toEqual([seq[1]]);
    expect(server.requests.filter((r) => r.answered === 200).map((r) => r.headers['x-aisoc-cluster-name'])).toEqual(['green', 'green']);
    expect(report.samples[0]).toMatchObject({ auditID: 'b1-0', retryable: true });
    expectBalanced(report);
  });

  it('counts an undecodable Kinesis record as a failure of that record', async () => {
    server = await startFaultServer();
    const event = kinesisEvent([eksPayload(distinctLines(2)), 'bm90IGd6aXA=']);

    const { report } = await run(event, settings(server.url));

    // Both records were received (PayloadsReceived), one of them could not be decoded.
    expect(report).toMatchObject({ payloads: 2, undecodable: 1, forwarded: 2 });
    expect(report.samples).toContainEqual(
      expect.objectContaining({
        reason: expect.stringMatching(/^subscription payload is neither gzip nor JSON of the documented shape: /),
      }),
    );
    expect(report.failedRecords).toEqual([sequenceNumbers(event)[1]]);
    expect(hasFailures(report)).toBe(true);
    expect(new ForwardError(report).message).toMatch(/1 payload\(s\) could not be decoded/);
  });

  it('stops sending after a configuration error and says so without the token', async () => {
    server = await startFaultServer(() => status(401, 'bad token'));
    const event = kinesisEvent([
      eksPayload(distinctLines(500, 'a'), { cluster: 'a' }),
      eksPayload(distinctLines(500, 'b'), { cluster: 'b' }),
    ]);

    const { report, logs } = await run(event, settings(server.url, { concurrency: 1 }));

    expect(server.requests).toHaveLength(1);
    expect(report).toMatchObject({ forwarded: 0, failed: 1000 });
    const error = new ForwardError(report);
    expect(error.message).toMatch(/^1000 of 1000 audit events not delivered \(first: configuration error: the token was refused/);
    expect(`${error.message}${JSON.stringify(report)}${JSON.stringify(logs)}`).not.toContain(TOKEN);
  });

  it('names an undelivered event whose client-chosen Audit-ID is a JWT without its signature', async () => {
    // kube-apiserver uses a client's Audit-ID header as the auditID, as it is.
    const signature = 'c2lnbmF0dXJlLXNlY3JldC0xMjM0NTY3ODkw';
    const jwt = `eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.${signature}`;
    const [line] = distinctLines(1, 'jwt');
    server = await startFaultServer(() => status(500));
    const cutBeforeVerb = `{"kind":7,"auditID":"${jwt}","verb":"get[Truncated...]`;

    const { report, logs } = await run(
      awslogsEvent(eksPayload([(line as string).replace('jwt-0', jwt), cutBeforeVerb])),
      settings(server.url, { maxAttempts: 1 }),
    );

    expect(report).toMatchObject({ failed: 1, truncated: 1 });
    expect(report.samples[0]?.auditID).toMatch(/^eyJhbGciOiJIUzI1NiJ9\.eyJzdWIiOiJhZG1pbiJ9\./);
    expect(`${new ForwardError(report).message}${JSON.stringify(report)}${JSON.stringify(logs)}`).not.toContain(signature);
  });

  it('splits on 413 and delivers everything', async () => {
    server = await startFaultServer((_n, req) => (req.bodyBytes > 100_000 ? status(413) : ok()));
    const lines = distinctLines(400);

    const { report } = await run(awslogsEvent(eksPayload(lines)), settings(server.url));

    expect(report).toMatchObject({ forwarded: 400, failed: 0 });
    expect(new Set(server.delivered).size).toBe(400);
  });
});
