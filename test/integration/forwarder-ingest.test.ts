// The forwarder handler against the real local ingest (SQLite sink), directly and through a
// fault-injecting front that answers 503/429, resets connections and stalls.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type IngestServer, startIngestServer } from '../../lib/ingest/adapters/server.js';
import { loadIngestConfig } from '../../lib/ingest/config.js';
import { type EventStore, openEventStore } from '../../lib/sinks/sqlite.js';
import { awslogsEvent, controlPayload, eksPayload, kinesisEvent, OWNER, truncateLine } from '../helpers/envelopes.js';
import { captureStdout, lambdaContext, loadForwarder } from '../helpers/forwarder.js';
import { type Front, type FrontFault, startFront } from '../helpers/front.js';
import { distinctLines } from '../helpers/ship.js';

const SECRET = 'forwarder-it-secret-5e6f7a8b9c0d';
const TENANT = 'acme';

let dir: string;
let ingest: IngestServer;
let store: EventStore;

/** What the front does with the n-th request of a test: pass it on, or inject a fault. */
let plan: (n: number) => FrontFault = () => 'pass';
let front: Front;
let frontUrl: string;
// The front's request count when the test started: `plan` counts from 1 in each test.
let planFrom = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aisoc-fwd-it-'));
  // A batch cap below the forwarder's 400 makes the real ingest answer 413, so splitting is exercised.
  const config = loadIngestConfig(
    { K8S_AUDIT_SHARED_SECRET: SECRET, EVENTS_SINK: 'sqlite', AISOC_DATA_DIR: dir, K8S_AUDIT_MAX_BATCH_SIZE: '250' },
    { runtime: 'local' },
  );
  ingest = await startIngestServer({ config });
  store = openEventStore(dir);
  front = await startFront(ingest.url, (n) => plan(n - planFrom));
  frontUrl = front.url;
});

afterAll(async () => {
  await front?.close();
  store?.close();
  await ingest?.close();
  rmSync(dir, { recursive: true, force: true });
});

let out: ReturnType<typeof captureStdout>;
beforeEach(() => {
  plan = () => 'pass';
  planFrom = front.requests();
  out = captureStdout();
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

const route = (base: string): string => `${base}/v1/ingest/k8s-audit/${TENANT}`;

describe('forwarder → local ingest', () => {
  it('lands every audit line of a subscription event in the SQLite sink, once, with the cluster of the log group', async () => {
    const lines = distinctLines(1000, 'direct');
    // A line cut at CloudWatch Logs' event-size limit lands too: its members before the cut, flagged truncated.
    const cut = truncateLine(distinctLines(1, 'direct-cut')[0] as string);
    const event = awslogsEvent(eksPayload([...lines, cut], { cluster: 'prod-eks' }), 3);
    const handler = await loadForwarder({
      AISOC_INGEST_URL: route(ingest.url),
      K8S_AUDIT_SHARED_SECRET: SECRET,
      FORWARDER_GZIP: 'true',
      AWS_REGION: 'eu-west-1',
    });

    await handler(event, lambdaContext());
    await handler(event, lambdaContext());

    expect(store.countEvents({ tenant: TENANT, cluster: 'prod-eks' })).toBe(1001);
    const [first, second] = out.emf();
    expect(first).toMatchObject({
      EventsReceived: 1001,
      EventsForwarded: 1001,
      SalvagedLines: 1,
      TruncatedLines: 0,
      EventsFailed: 0,
      IngestDuplicates: 0,
    });
    // Redelivery (a Lambda retry) is harmless: the ingest dedups on auditID + stage.
    expect(second).toMatchObject({ EventsForwarded: 1001, IngestDuplicates: 1001 });
    const [record] = store.queryEvents({ tenant: TENANT, auditId: 'direct-5' });
    expect(record).toMatchObject({ cluster_name: 'prod-eks', audit_id: 'direct-5' });
    // The log group's account (the payload's owner) and the function's region reach OCSF `cloud`.
    expect(record?.ocsf).toMatchObject({
      cloud: { provider: 'AWS', region: 'eu-west-1', account: { uid: OWNER } },
      metadata: { product: { feature: { name: 'Elastic Kubernetes Service' } } },
    });
  });

  it('lands a Kinesis batch of several clusters, skipping control messages and other streams', async () => {
    const event = kinesisEvent([
      controlPayload(),
      eksPayload(distinctLines(300, 'k-green'), { cluster: 'green' }),
      eksPayload(distinctLines(20, 'k-sched'), { cluster: 'green', stream: 'kube-scheduler-0a1b2c' }),
      eksPayload(distinctLines(300, 'k-blue'), { cluster: 'blue' }),
    ]);
    const handler = await loadForwarder({ AISOC_INGEST_URL: route(ingest.url), K8S_AUDIT_SHARED_SECRET: SECRET });

    await handler(event, lambdaContext());

    expect(store.countEvents({ tenant: TENANT, cluster: 'green' })).toBe(300);
    expect(store.countEvents({ tenant: TENANT, cluster: 'blue' })).toBe(300);
    expect(store.queryEvents({ auditId: 'k-sched-0' })).toEqual([]);
    expect(out.emf()[0]).toMatchObject({ ControlMessages: 1, SkippedStreams: 1, SkippedEvents: 20, EventsForwarded: 600 });
  });

  it('through 503, 429, resets and stalls: every event is in the sink or counted failed, and the metrics match the sink', async () => {
    const faults: FrontFault[] = [503, 'pass', 'reset', 429, 'pass', 'stall', 503, 'pass', 'reset', 'reset', 'pass'];
    plan = (n) => faults[(n - 1) % faults.length] as FrontFault;
    const lines = distinctLines(3000, 'chaos');
    const handler = await loadForwarder({
      AISOC_INGEST_URL: route(frontUrl),
      K8S_AUDIT_SHARED_SECRET: SECRET,
      FORWARDER_MAX_ATTEMPTS: '3',
      FORWARDER_REQUEST_TIMEOUT_MS: '300',
      FORWARDER_CONCURRENCY: '3',
    });

    const outcome = await handler(awslogsEvent(eksPayload(lines, { cluster: 'chaos' })), lambdaContext()).then(
      () => 'ok',
      (err: Error) => err.name,
    );

    const metrics = out.emf()[0] as Record<string, number>;
    const landed = store.countEvents({ tenant: TENANT, cluster: 'chaos' });
    expect(metrics.EventsReceived).toBe(3000);
    expect((metrics.EventsForwarded ?? 0) + (metrics.EventsFailed ?? 0)).toBe(3000);
    // A stalled request may have reached the ingest before the forwarder gave up on it, so the
    // sink can hold more than was counted forwarded, never less; failures make the invocation throw.
    expect(landed).toBeGreaterThanOrEqual(metrics.EventsForwarded ?? 0);
    expect(outcome).toBe(metrics.EventsFailed === 0 ? 'ok' : 'ForwardError');
    expect(metrics.Retries).toBeGreaterThan(0);
    // What failed is not lost: the rerun (Lambda's retry) completes the sink.
    plan = () => 'pass';
    await handler(awslogsEvent(eksPayload(lines, { cluster: 'chaos' })), lambdaContext());
    expect(store.countEvents({ tenant: TENANT, cluster: 'chaos' })).toBe(3000);
  });

  it('fails with a configuration error on a wrong token and lands nothing', async () => {
    const handler = await loadForwarder({ AISOC_INGEST_URL: route(ingest.url), K8S_AUDIT_SHARED_SECRET: 'not-the-secret' });

    await expect(handler(awslogsEvent(eksPayload(distinctLines(10, 'wrong'), { cluster: 'wrong' })), lambdaContext())).rejects.toThrow(
      /configuration error: the token was refused/,
    );

    expect(store.countEvents({ cluster: 'wrong' })).toBe(0);
    expect(out.emf()[0]).toMatchObject({ EventsFailed: 10 });
  });
});
