// Audit lines cut at CloudWatch Logs' event-size limit, through the forwarder handler into the real
// local ingest (SQLite sink). The event is the public EKS sample (ocsf/examples, see
// test/fixtures/SOURCES.md), its responseObject grown past the limit as a RequestResponse policy
// on a large object makes it; EKS cuts such a line and appends `[Truncated...]`
// (falcosecurity/plugins#297), and a line can also arrive cut without the suffix.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { IngestServer } from '../../lib/ingest/adapters/server.js';
import { type EventStore, openEventStore } from '../../lib/sinks/sqlite.js';
import { awslogsEvent, eksPayload } from '../helpers/envelopes.js';
import { captureStdout, lambdaContext, loadForwarder } from '../helpers/forwarder.js';
import { startLocalIngest } from '../helpers/tail-ingest.js';

const SECRET = 'forwarder-cut-secret-1a2b3c4d5e6f';
const TENANT = 'acme';
/** CloudWatch Logs' event-size limit when EKS's cut lines were reported (PutLogEvents: 256 KB, now 1 MB). */
const LIMIT = 256 * 1024;
const SUFFIX = '[Truncated...]';

let dir: string;
let ingest: IngestServer;
let store: EventStore;
let out: ReturnType<typeof captureStdout>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aisoc-fwd-cut-'));
  ingest = await startLocalIngest(dir, SECRET);
  store = openEventStore(dir);
});
afterAll(async () => {
  store?.close();
  await ingest?.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  out = captureStdout();
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

/** The public EKS sample under its own auditID, its responseObject grown to `bytes`. */
function largeEvent(auditID: string, bytes: number): string {
  const e = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/ocsf-examples-eks/v1.1.0__eks.raw.json'), 'utf8'));
  e.auditID = auditID;
  e.responseObject.metadata.annotations = { 'example.com/blob': 'x'.repeat(bytes) };
  return JSON.stringify(e);
}

async function forward(lines: string[]): Promise<void> {
  const handler = await loadForwarder({ AISOC_INGEST_URL: `${ingest.url}/v1/ingest/k8s-audit/${TENANT}`, K8S_AUDIT_SHARED_SECRET: SECRET });
  await handler(awslogsEvent(eksPayload(lines, { cluster: 'cut-eks', startMs: 1_714_557_600_000 })), lambdaContext());
}

describe('forwarder: lines cut at the CloudWatch Logs event-size limit', () => {
  it('stores a cut event with who did what to which object, flagged truncated, with or without the [Truncated...] suffix', async () => {
    const suffixed = largeEvent('cut-suffix-1', LIMIT);
    const bare = largeEvent('cut-bare-2', LIMIT);

    await forward([suffixed.slice(0, LIMIT - SUFFIX.length) + SUFFIX, bare.slice(0, LIMIT)]);

    for (const id of ['cut-suffix-1', 'cut-bare-2']) {
      const [record] = store.queryEvents({ tenant: TENANT, auditId: id });
      expect(record).toMatchObject({
        cluster_name: 'cut-eks',
        k8s_verb: 'create',
        k8s_user: 'system:node:ip-192-001-02-03.ec2.internal',
        k8s_resource: 'nodes',
        k8s_object_name: 'ip-192-001-02-03.ec2.internal',
        k8s_response_code: 201,
      });
      // The stage time came after the cut: the log event's own time stands in for it.
      expect(record?.event_time).toBe('2024-05-01T10:00:00.000Z');
      expect(JSON.stringify(record?.raw_event)).toContain('"audit.k8s.io/truncated":"true"');
    }
    expect(out.emf()[0]).toMatchObject({ EventsReceived: 2, EventsForwarded: 2, SalvagedLines: 2, TruncatedLines: 0, InvalidLines: 0 });
    const warned = out.logs().filter((l) => typeof l.message === 'string' && l.message.startsWith('audit line cut'));
    expect(warned.map((l) => [l.auditID, l.cutIn])).toEqual([
      ['cut-suffix-1', 'responseObject'],
      ['cut-bare-2', 'responseObject'],
    ]);
  });

  it('counts and logs a line cut before its auditID, and stores nothing for it', async () => {
    const line = largeEvent('cut-early-3', LIMIT);

    await forward([line.slice(0, 40) + SUFFIX]);

    expect(store.queryEvents({ tenant: TENANT, auditId: 'cut-early-3' })).toEqual([]);
    expect(out.emf()[0]).toMatchObject({ EventsReceived: 1, EventsForwarded: 0, SalvagedLines: 0, TruncatedLines: 1 });
    expect(out.logs()).toContainEqual(
      expect.objectContaining({ level: 'WARN', logStream: expect.stringMatching(/^kube-apiserver-audit-/) }),
    );
  });
});
