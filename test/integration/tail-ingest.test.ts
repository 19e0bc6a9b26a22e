import { EventEmitter } from 'node:events';
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../lib/cli/main.js';
import { run as runTail } from '../../lib/cli/tail.js';
import type { IngestServer } from '../../lib/ingest/adapters/server.js';
import type { ShipResult } from '../../lib/ship/index.js';
import { type EventStore, openEventStore } from '../../lib/sinks/sqlite.js';
import {
  FileTailer,
  KubernetesAuditConnector,
  parseConnectorConfig,
  readCursor,
  type TailShipFn,
  tailShipper,
} from '../../lib/tail/index.js';
import { type Front, startFront } from '../helpers/front.js';
import { asFile, auditIdOf, tempDir, uniqueEvents } from '../helpers/tail.js';
import { captureIo, startLocalIngest } from '../helpers/tail-ingest.js';

const SECRET = 'tail-it-secret-2b4d6f8a';
let tmp: { dir: string; cleanup: () => void };
let dataDir: string;
let ingest: IngestServer;
let store: EventStore;

/** A front for the real ingest that answers 503 while `down`, and forwards otherwise. */
let front: Front;
let frontUrl: string;
let down = false;

beforeAll(async () => {
  tmp = tempDir('aisoc-tail-it-');
  dataDir = join(tmp.dir, 'data');
  ingest = await startLocalIngest(dataDir, SECRET);
  store = openEventStore(dataDir);
  front = await startFront(ingest.url, () => (down ? 503 : 'pass'));
  frontUrl = front.url;
});

afterAll(async () => {
  store?.close();
  await front?.close();
  await ingest?.close();
  tmp?.cleanup();
});

let dir: string;
let cleanupDir: () => void;
beforeEach(() => {
  ({ dir, cleanup: cleanupDir } = tempDir('aisoc-tail-it-case-'));
  down = false;
});
afterEach(() => cleanupDir());

function stored(tenant: string, ids: string[]): string[] {
  return ids.filter((id) => store.countEvents({ tenant, auditId: id }) > 0);
}

const env = (tenant: string, extra: Record<string, string> = {}) => ({
  AISOC_INGEST_URL: `${ingest.url}/v1/ingest/k8s-audit/${tenant}`,
  K8S_AUDIT_SHARED_SECRET: SECRET,
  CLUSTER_NAME: 'it-cluster',
  ...extra,
});

/**
 * A real RequestResponse event (the Falco trace of a pod created in `default`) turned into what a
 * `list pods` at that level records: its responseObject a PodList (the shape the Kubernetes API
 * reference gives: apiVersion, kind, metadata, items) of copies of the real Pod, until the line
 * is at least `minBytes` long.
 */
function bigListEvent(auditID: string, minBytes: number): string {
  const line = readFileSync(join(import.meta.dirname, '../fixtures/falco/create_nginx_pod_privileged.json'), 'utf8')
    .split('\n')
    .find((l) => l.includes('"responseObject":{"kind":"Pod"')) as string;
  const event = JSON.parse(line) as Record<string, unknown> & {
    responseObject: Record<string, unknown>;
    objectRef: Record<string, unknown>;
  };
  const pod = event.responseObject;
  const copies = Math.ceil(minBytes / JSON.stringify(pod).length) + 1;
  const items = Array.from({ length: copies }, (_, i) => ({ ...pod, metadata: { ...(pod.metadata as object), name: `nginx-${i}` } }));
  const { name: _name, ...listRef } = event.objectRef;
  return JSON.stringify({
    ...event,
    auditID,
    verb: 'list',
    objectRef: listRef,
    requestObject: undefined,
    responseObject: { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '123456' }, items },
  });
}

describe('aisoc-k8s-audit tail against the local ingest', () => {
  it('delivers whole an event larger than one batch body (3 MiB) in a body of its own, which the ingest (16 MiB cap) stores', async () => {
    const [a, c] = uniqueEvents(2, 'ovr');
    const big = bigListEvent('ovr-big', 3.5 * 1024 * 1024);
    const path = join(dir, 'audit.log');
    writeFileSync(path, asFile([a as string, big, c as string]));
    const cap = captureIo(env('t-ovr'));

    const code = await runTail(['--path', path, '--once'], cap.io);

    expect(code).toBe(0);
    expect(stored('t-ovr', ['ovr-0', 'ovr-big', 'ovr-1'])).toEqual(['ovr-0', 'ovr-big', 'ovr-1']);
    const record = store.queryEvents({ tenant: 't-ovr', auditId: 'ovr-big', limit: 1 })[0];
    expect((record?.raw_event.responseObject as { items: unknown[] } | undefined)?.items.length).toBe(
      (JSON.parse(big).responseObject.items as unknown[]).length,
    );
    const poll = JSON.parse(
      cap
        .err()
        .trim()
        .split('\n')
        .find((l) => l.includes('"message":"poll"')) as string,
    );
    expect(poll).toMatchObject({ delivered: 3, oversize_events: 0, truncated_events: 0, undelivered: 0 });
  });

  it('delivers an event the ingest refuses whole (413) without its request and response bodies, annotated as the apiserver truncates', async () => {
    const [a, c] = uniqueEvents(2, 'cut');
    const big = bigListEvent('cut-big', 1.5 * 1024 * 1024);
    const path = join(dir, 'audit.log');
    writeFileSync(path, asFile([a as string, big, c as string]));
    // An ingest whose body cap (K8S_AUDIT_MAX_BODY_BYTES) is 1 MiB: the event fits the tailer's
    // 3 MiB batches but not this ingest.
    const smallDir = join(dir, 'small-cap');
    const small = await startLocalIngest(smallDir, SECRET, undefined, { K8S_AUDIT_MAX_BODY_BYTES: String(1024 * 1024) });
    const smallStore = openEventStore(smallDir);
    try {
      const cap = captureIo(env('t-cut', { AISOC_INGEST_URL: `${small.url}/v1/ingest/k8s-audit/t-cut` }));

      const code = await runTail(['--path', path, '--once'], cap.io);

      expect(code).toBe(0);
      expect(['cut-0', 'cut-big', 'cut-1'].filter((id) => smallStore.countEvents({ tenant: 't-cut', auditId: id }) > 0)).toHaveLength(3);
      const record = smallStore.queryEvents({ tenant: 't-cut', auditId: 'cut-big', limit: 1 })[0];
      expect(record?.raw_event.responseObject).toBeUndefined();
      expect(record?.raw_event.annotations).toMatchObject({ 'audit.k8s.io/truncated': 'true' });
      expect(record?.raw_event.user).toEqual(JSON.parse(big).user);
      const lines = cap
        .err()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.find((l) => l.message === 'poll')).toMatchObject({ delivered: 3, oversize_events: 0, truncated_events: 1 });
      const warned = lines.find((l) => String(l.message).includes('delivered it without its requestObject and responseObject'));
      expect(warned).toMatchObject({ level: 'WARN', auditID: 'cut-big', file: path, offset: Buffer.byteLength(a as string) + 1 });
      // Logged without its content.
      expect(cap.err()).not.toContain('nginx-0');
    } finally {
      smallStore.close();
      await small.close();
    }
  });

  it('delivers every line of the file to the SQLite sink with --once and exits 0', async () => {
    const events = uniqueEvents(120, 'once');
    const path = join(dir, 'audit.log');
    writeFileSync(path, asFile(events));
    const cap = captureIo(env('t-once'));

    const code = await runTail(['--path', path, '--once'], cap.io);

    expect(code).toBe(0);
    expect(
      stored(
        't-once',
        events.map((_, i) => `once-${i}`),
      ),
    ).toHaveLength(120);
    expect(store.queryEvents({ tenant: 't-once', limit: 1 })[0]?.cluster_name).toBe('it-cluster');
    const lines = cap
      .err()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const poll = lines.find((l) => l.message === 'poll');
    // Powertools drops null fields from a line: a poll without an error has no `error`.
    expect(poll).toMatchObject({ level: 'INFO', service: 'aisoc-k8s-audit-tail', delivered: 120, undelivered: 0 });
    expect(poll).not.toHaveProperty('error');
    expect(cap.err()).not.toContain(SECRET);
  });

  it('exits 1 and keeps the cursor when the ingest refuses the secret, then delivers once it is right', async () => {
    const events = uniqueEvents(10, 'auth');
    const path = join(dir, 'audit.log');
    writeFileSync(path, asFile(events));
    const wrong = captureIo(env('t-auth', { K8S_AUDIT_SHARED_SECRET: 'wrong-secret-value' }));

    const failed = await runTail(['--path', path, '--once'], wrong.io);
    const cursor = await readCursor(`${path}.aisoc-cursor`);
    const right = await runTail(['--path', path, '--once'], captureIo(env('t-auth')).io);

    expect(failed).toBe(1);
    expect(cursor.state === 'ok' && cursor.cursor.offset).toBe(0);
    expect(wrong.err()).toContain('HTTP 401');
    expect(wrong.err()).not.toContain('wrong-secret-value');
    expect(right).toBe(0);
    expect(
      stored(
        't-auth',
        events.map((_, i) => `auth-${i}`),
      ),
    ).toHaveLength(10);
  });

  it('does not move the cursor while the ingest fails, and delivers everything once it recovers', async () => {
    const events = uniqueEvents(25, 'down');
    const path = join(dir, 'audit.log');
    writeFileSync(path, asFile(events));
    const { ship, isOversize } = tailShipper({
      url: `${frontUrl}/v1/ingest/k8s-audit/t-down`,
      token: SECRET,
      clusterName: 'it-cluster',
      maxAttempts: 2,
      backoffBaseMs: 1,
    });
    const tailer = new FileTailer({ logPath: path, cursorPath: join(dir, 'cursor'), maxBytes: 1 << 20, ship, isOversize });
    down = true;

    const failing = await tailer.poll();
    const cursorWhileDown = await readCursor(join(dir, 'cursor'));
    down = false;
    const recovered = await tailer.poll();

    expect(failing.complete).toBe(false);
    expect(failing.undelivered).toBe(25);
    expect(failing.error).toContain('HTTP 503');
    expect(cursorWhileDown.state === 'ok' && cursorWhileDown.cursor.offset).toBe(0);
    expect(recovered.complete).toBe(true);
    expect(
      stored(
        't-down',
        events.map((_, i) => `down-${i}`),
      ),
    ).toHaveLength(25);
  });

  it('sends a poll in bodies the byte cap closes, not 400 events each, and meets an ingest with a lower batch cap by halving', async () => {
    const events = uniqueEvents(1000, 'big');
    const path = join(dir, 'audit.log');
    writeFileSync(path, asFile(events));
    const counting = await startFront(ingest.url, () => 'pass');
    // An ingest that takes at most 300 items per request (K8S_AUDIT_MAX_BATCH_SIZE), as a remote
    // one configured lower than ours may.
    const lowDir = join(dir, 'low-cap');
    const low = await startLocalIngest(lowDir, SECRET, undefined, { K8S_AUDIT_MAX_BATCH_SIZE: '300' });
    const lowStore = openEventStore(lowDir);
    try {
      const url = (base: string, tenant: string) => ({ AISOC_INGEST_URL: `${base}/v1/ingest/k8s-audit/${tenant}` });
      const once = (extra: Record<string, string>, cursor: string) =>
        runTail(['--path', path, '--cursor', join(dir, cursor), '--once'], captureIo(env('t-big', extra)).io);

      // The file is 1,000 events in well under 3 MiB: one request.
      expect(await once(url(counting.url, 't-big'), 'c1')).toBe(0);
      expect(counting.requests()).toBe(1);
      // AISOC_TAIL_BATCH_EVENTS=400, the apiserver's batch size: three.
      expect(await once({ ...url(counting.url, 't-big400'), AISOC_TAIL_BATCH_EVENTS: '400' }, 'c2')).toBe(0);
      expect(counting.requests()).toBe(4);
      expect(store.countEvents({ tenant: 't-big' })).toBe(1000);
      expect(store.countEvents({ tenant: 't-big400' })).toBe(1000);

      // Against the 300-item ingest, the 1,000-event batch is answered 413 and halved until each
      // piece fits: every event is stored once and the poll is complete.
      const cap = captureIo(env('t-low', url(low.url, 't-low')));
      expect(await runTail(['--path', path, '--cursor', join(dir, 'c3'), '--once'], cap.io)).toBe(0);
      expect(cap.err()).toContain('ingest answered 413, splitting the batch');
      expect(lowStore.countEvents({ tenant: 't-low' })).toBe(1000);
      for (const i of [0, 299, 300, 999]) expect(lowStore.countEvents({ tenant: 't-low', auditId: `big-${i}` })).toBe(1);
    } finally {
      lowStore.close();
      await low.close();
      await counting.close();
    }
  });

  it('with batches in flight at once, stops the cursor at the first batch not accepted and stores every event once', async () => {
    const events = uniqueEvents(60, 'conc');
    const path = join(dir, 'audit.log');
    writeFileSync(path, asFile(events));
    // The first request to arrive (of three sent together) fails, answered only after 400 ms, by
    // when later batches were delivered: the failed batch is followed by delivered ones.
    const failing = await startFront(ingest.url, (n) => (n === 1 ? { status: 503, afterMs: 400 } : 'pass'));
    try {
      const shipper = tailShipper({
        url: `${failing.url}/v1/ingest/k8s-audit/t-conc`,
        token: SECRET,
        clusterName: 'it-cluster',
        // A few events per body, so the file makes many batches.
        maxBodyBytes: 8192,
        concurrency: 3,
        maxAttempts: 1,
      });
      // The ingest's answers, summed: how many events it dropped as repeats.
      let duplicates = 0;
      const ship: TailShipFn = async (lines) => {
        const result = (await shipper.ship(lines)) as ShipResult;
        duplicates += result.duplicates;
        return result;
      };
      const tailer = new FileTailer({
        logPath: path,
        cursorPath: join(dir, 'cursor'),
        maxBytes: 1 << 20,
        ship,
        isOversize: shipper.isOversize,
      });

      const first = await tailer.poll();
      const cursor = await readCursor(join(dir, 'cursor'));
      const second = await tailer.poll();

      expect(failing.maxInFlight()).toBe(3);
      expect(first.complete).toBe(false);
      expect(first.error).toContain('HTTP 503');
      // The cursor stands at the first line of the failed batch: the lines before it, and no more.
      expect(first.delivered).toBeLessThan(60);
      expect(cursor.state === 'ok' && cursor.cursor.offset).toBe(Buffer.byteLength(asFile(events.slice(0, first.delivered))));
      expect(second.complete).toBe(true);
      expect(first.delivered + second.delivered).toBe(60);
      // What was delivered past the failed batch came again in the second poll: the ingest
      // dropped it as repeats, and took the failed batch's events.
      expect(duplicates).toBeGreaterThan(0);
      expect(duplicates).toBeLessThan(60 - first.delivered);
      for (const [i] of events.entries()) expect(store.countEvents({ tenant: 't-conc', auditId: `conc-${i}` }), `conc-${i}`).toBe(1);
      expect(store.countEvents({ tenant: 't-conc' })).toBe(60);
    } finally {
      await failing.close();
    }
  });

  it('with batches in flight, passes over a cut-off line the ingest answers 400 for and stores every other event once', async () => {
    const events = uniqueEvents(40, 'cut');
    // A line cut off mid-event, as a crash of the writer leaves one: audit-shaped, so shipped unparsed.
    const cut = `${(events[1] as string).slice(0, 300)}}`;
    const lines = [events[0] as string, cut, ...events.slice(2)];
    const path = join(dir, 'audit.log');
    writeFileSync(path, asFile(lines));
    const logs: Record<string, unknown>[] = [];
    const { ship, isOversize } = tailShipper({
      url: `${ingest.url}/v1/ingest/k8s-audit/t-cut`,
      token: SECRET,
      clusterName: 'it-cluster',
      maxBodyBytes: 8192,
      concurrency: 2,
      log: (e) => logs.push(e),
    });
    const tailer = new FileTailer({
      logPath: path,
      cursorPath: join(dir, 'cursor'),
      maxBytes: 1 << 20,
      ship,
      isOversize,
      log: (e) => logs.push(e),
    });

    const r = await tailer.poll();

    expect(r).toMatchObject({ complete: true, delivered: 39, invalid: 1, undelivered: 0 });
    expect(logs.find((l) => l.msg === 'line passed over')).toMatchObject({ reason: 'line is not JSON' });
    const cursor = await readCursor(join(dir, 'cursor'));
    expect(cursor.state === 'ok' && cursor.cursor.offset).toBe(Buffer.byteLength(asFile(lines)));
    for (const i of [0, ...Array.from({ length: 38 }, (_, k) => k + 2)]) {
      expect(store.countEvents({ tenant: 't-cut', auditId: `cut-${i}` }), `cut-${i}`).toBe(1);
    }
    expect(store.countEvents({ tenant: 't-cut' })).toBe(39);
  });

  it('serves its metrics on /metrics while it runs: lines read, shipped, passed over, cursor lag, last success', async () => {
    const events = uniqueEvents(30, 'prom');
    const path = join(dir, 'audit.log');
    // 30 events, a line that is not an event, and a last line still being written (no newline).
    const partial = '{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"half-writ';
    writeFileSync(path, `${asFile(events)}not json at all\n${partial}`);
    const signals = new EventEmitter();
    const cap = captureIo(env('t-prom'));
    let url: string | undefined;
    let scraped: Promise<string> | undefined;
    cap.io.stderr.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (line.includes('"message":"metrics listening"')) url = (JSON.parse(line) as { url: string }).url;
        if (line.includes('"message":"poll"') && scraped === undefined && url !== undefined) {
          scraped = fetch(url)
            .then((r) => r.text())
            .finally(() => signals.emit('SIGTERM', 'SIGTERM'));
        }
      }
    });
    const started = Date.now();

    const code = await runTail(['--path', path, '--interval', '3600', '--metrics-port', '0'], cap.io, {
      signals: signals as unknown as NodeJS.Process,
      exit: () => {},
    });

    expect(code).toBe(0);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const text = await (scraped as Promise<string>);
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    expect({
      read: value('aisoc_tail_lines_read_total'),
      shipped: value('aisoc_tail_lines_shipped_total'),
      invalid: value('aisoc_tail_lines_invalid_total'),
      undelivered: value('aisoc_tail_lines_undelivered_total'),
      polls: value('aisoc_tail_polls_total'),
      errors: value('aisoc_tail_poll_errors_total'),
      lag: value('aisoc_tail_cursor_lag_bytes'),
    }).toEqual({ read: 31, shipped: 30, invalid: 1, undelivered: 0, polls: 1, errors: 0, lag: Buffer.byteLength(partial) });
    expect(value('aisoc_tail_last_success_timestamp_seconds') * 1000).toBeGreaterThanOrEqual(started - 1000);
    // The server is gone once the command returns.
    await expect(fetch(url as string)).rejects.toThrow();
  });

  it('says which metrics port is taken and which flag moves it, sends nothing and leaves no cursor lock behind', async () => {
    const events = uniqueEvents(3, 'port-taken');
    const path = join(dir, 'audit.log');
    writeFileSync(path, asFile(events));
    // What an operator meets: another process (an ingest, a second tailer) already holds the port.
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as AddressInfo).port;
    const cap = captureIo(env('t-port-taken'));
    try {
      // Through main, which prints what the command threw, as the operator reads it.
      const code = await main(['tail', '--path', path, '--once', '--metrics-port', String(port)], cap.io);

      expect(code).toBe(1);
      expect(cap.err()).toContain(
        `the metrics endpoint cannot listen on 127.0.0.1:${port} (EADDRINUSE): another process already listens there: stop it, or choose another port with --metrics-port (or AISOC_TAIL_METRICS_PORT)`,
      );
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
    expect(stored('t-port-taken', events.map(auditIdOf))).toEqual([]);
    expect(readdirSync(dir).filter((name) => name.endsWith('.lock'))).toEqual([]);
  });

  it('finishes the current poll, saves the cursor and exits 0 on SIGTERM', async () => {
    const first = uniqueEvents(5, 'sig');
    const path = join(dir, 'audit.log');
    writeFileSync(path, asFile(first));
    const signals = new EventEmitter();
    const cap = captureIo(env('t-sig'));
    cap.io.stderr.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('"message":"poll"')) signals.emit('SIGTERM', 'SIGTERM');
    });

    const code = await runTail(['--path', path, '--interval', '3600'], cap.io, {
      signals: signals as unknown as NodeJS.Process,
      exit: () => {
        throw new Error('exit must not be called on the first signal');
      },
    });
    const cursor = await readCursor(`${path}.aisoc-cursor`);

    expect(code).toBe(0);
    expect(cursor.state === 'ok' && cursor.cursor.offset).toBe(Buffer.byteLength(asFile(first)));
    expect(cap.err()).toContain('tail stopped; cursor saved');
    expect(signals.listenerCount('SIGTERM')).toBe(0);
  });

  it('on SIGTERM during retries against a failing ingest, starts no new retry and exits with the cursor unmoved', async () => {
    const path = join(dir, 'audit.log');
    writeFileSync(path, asFile(uniqueEvents(4, 'retry')));
    down = true;
    const signals = new EventEmitter();
    const cap = captureIo({ ...env('t-retry'), AISOC_INGEST_URL: `${frontUrl}/v1/ingest/k8s-audit/t-retry` });
    cap.io.stderr.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('"message":"retrying batch"')) signals.emit('SIGTERM', 'SIGTERM');
    });

    const code = await runTail(['--path', path], cap.io, { signals: signals as unknown as NodeJS.Process });
    const cursor = await readCursor(`${path}.aisoc-cursor`);

    expect(code).toBe(0);
    expect(cursor.state === 'ok' && cursor.cursor.offset).toBe(0);
    expect(cap.err().match(/"message":"retrying batch"/g)).toHaveLength(1);
    expect(cap.err()).toContain('tail stopped; cursor saved');
  });

  it('exits at once on a second signal', async () => {
    const path = join(dir, 'audit.log');
    writeFileSync(path, asFile(uniqueEvents(2, 'twice')));
    down = true;
    const signals = new EventEmitter();
    const exits: number[] = [];
    const cap = captureIo({ ...env('t-twice'), AISOC_INGEST_URL: `${frontUrl}/v1/ingest/k8s-audit/t-twice` });
    cap.io.stderr.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('"message":"retrying batch"') && exits.length === 0) {
        signals.emit('SIGINT', 'SIGINT');
        signals.emit('SIGINT', 'SIGINT');
      }
    });

    await runTail(['--path', path], cap.io, { signals: signals as unknown as NodeJS.Process, exit: (c) => exits.push(c) });

    expect(exits).toEqual([130]);
  });

  it('keeps polling in a loop and picks up appended lines', async () => {
    const path = join(dir, 'audit.log');
    writeFileSync(path, asFile(uniqueEvents(3, 'loop')));
    const signals = new EventEmitter();
    const cap = captureIo(env('t-loop'));
    let polls = 0;
    cap.io.stderr.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (!line.includes('"message":"poll"')) continue;
        polls++;
        if (polls === 1) appendFileSync(path, asFile(uniqueEvents(4, 'loop', 3)));
        if (polls === 2) signals.emit('SIGTERM', 'SIGTERM');
      }
    });

    const code = await runTail(['--path', path, '--interval', '0.05'], cap.io, { signals: signals as unknown as NodeJS.Process });

    expect(code).toBe(0);
    expect(stored('t-loop', ['loop-0', 'loop-1', 'loop-2', 'loop-3', 'loop-4', 'loop-5', 'loop-6'])).toHaveLength(7);
  });
});

describe('KubernetesAuditConnector.fetchAlerts', () => {
  it('returns no alerts in webhook mode, with a health status', async () => {
    const connector = new KubernetesAuditConnector(parseConnectorConfig({ mode: 'webhook', cluster_name: 'prod' }));

    const { alerts, health } = await connector.fetchAlerts();

    expect(alerts).toEqual([]);
    expect(health).toMatchObject({ mode: 'webhook', status: 'ok', polls: 1, last_error: null });
    expect(health.last_poll_at).not.toBeNull();
  });

  it('returns the high-severity events of each file_tail poll and reports what the poll read', async () => {
    const events = uniqueEvents(47, 'alert');
    const path = join(dir, 'audit.log');
    writeFileSync(path, asFile(events));
    const connector = new KubernetesAuditConnector(
      parseConnectorConfig({
        mode: 'file_tail',
        cluster_name: 'prod',
        audit_log_path: path,
        ingest_url: `${ingest.url}/v1/ingest/k8s-audit/t-alerts`,
        shared_secret: SECRET,
      }),
    );

    const first = await connector.fetchAlerts();
    const second = await connector.fetchAlerts();

    const highInSink = store
      .queryAlerts({ tenant: 't-alerts', limit: 1000 })
      .map((r) => r.audit_id)
      .sort();
    expect(first.alerts.length).toBeGreaterThan(0);
    expect(first.alerts.map((a) => a.audit_id).sort()).toEqual(highInSink);
    expect(first.health).toMatchObject({ mode: 'file_tail', status: 'ok', last_error: null });
    expect(first.health.last_poll).toMatchObject({ delivered: 47, lines: 47, cursor_offset: Buffer.byteLength(asFile(events)) });
    expect(second.alerts).toEqual([]);
    expect(second.health.polls).toBe(2);
  });

  it('reports the last error in its health when the audit log is missing', async () => {
    const path = join(dir, 'nope.log');
    const connector = new KubernetesAuditConnector(
      parseConnectorConfig({
        mode: 'file_tail',
        cluster_name: 'prod',
        audit_log_path: path,
        ingest_url: `${ingest.url}/v1/ingest/k8s-audit/x`,
        shared_secret: SECRET,
      }),
    );

    const { health } = await connector.fetchAlerts();

    expect(health.status).toBe('error');
    expect(health.last_error).toBe(`audit log path ${path} not found`);
  });
});
