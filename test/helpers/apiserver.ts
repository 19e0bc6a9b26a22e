// A stand-in for kube-apiserver's batch audit webhook backend, to load `serve` the way a cluster
// does. The behaviour and defaults are the apiserver's:
// - k8s.io/apiserver/plugin/pkg/audit/buffered (buffered.go, and the flags of
//   k8s.io/apiserver/pkg/server/options/audit.go): a buffer of 10,000 events (an event that finds
//   it full is dropped: "audit buffer queue blocked"), batches of at most 400 events or whatever
//   arrived within 30 s, a token-bucket throttle of 10 batches/s with a burst of 15, and each
//   batch sent on its own goroutine (no bound on batches in flight but the throttle).
// - k8s.io/apiserver/pkg/util/webhook (webhook.go): each request times out after 30 s
//   (defaultRequestTimeout); a failed batch is retried with backoff: the initial delay
//   (--audit-webhook-initial-backoff, 10 s) × 1.5 per step, ±20 % jitter, 5 steps, then dropped.
//   The apiserver retries only connection resets, 500, 504, 429 and answers with Retry-After;
//   like the measurements, this stand-in retries any failure (the harsher sender: a
//   request it timed out on is sent again while the server may still work on it).
// Times can be scaled down for tests (`initialBackoffMs`, `requestTimeoutMs`). Every event gets an
// auditID `<runId>-<n>` and the times of its generation, so what the store holds can be checked
// event by event, and the store sees live times as it would from a cluster.
import { Agent, request } from 'node:http';
import { withLiveTimes } from './corpus.js';
import { prng } from './prng.js';

/** The knobs of one run; the defaults are the apiserver's. */
export interface StandInOptions {
  /** The full ingest URL (…/v1/ingest/k8s-audit/<tenant>). */
  url: string;
  token: string;
  /** Prefix of every auditID of this run. */
  runId: string;
  /** Event templates (JSON texts with an `"auditID":"` field), cycled. */
  templates: readonly string[];
  eventsPerSecond: number;
  /** How long events are generated; then the buffer is drained and retries are let finish. */
  durationMs: number;
  bufferSize?: number;
  batchMaxSize?: number;
  batchMaxWaitMs?: number;
  throttleQps?: number;
  throttleBurst?: number;
  initialBackoffMs?: number;
  backoffSteps?: number;
  requestTimeoutMs?: number;
  /**
   * client-go's own retries beneath the backoff (rest/request.go, MaxRetries: "retrying upon
   * receiving Retry-After headers and 429 status-code", default 10; with_retry.go sleeps the
   * header's whole seconds): a 429 or 5xx with an integer Retry-After is sent again after it, up to
   * 10 times, all within the request's one timeout. A request whose timeout passes meanwhile fails
   * with the context's error, which the webhook's DefaultShouldRetry does not retry: the batch is
   * dropped. Off by default: the stand-in retries on its backoff alone, as the issue measured.
   */
  honourRetryAfter?: boolean;
  seed?: number;
  /** Stop everything at once (a crash test's end); what was in flight counts as unanswered. */
  signal?: AbortSignal;
}

/** What a run did, from the sender's side. */
export interface StandInReport {
  generated: number;
  /** Events dropped because the buffer was full (the apiserver logs and loses them). */
  droppedBufferFull: number;
  /** Events of batches given up after every retry. */
  droppedAfterRetries: number;
  /** Events in batches answered 200. */
  delivered: number;
  /** Events still buffered or in flight when the run was stopped by `signal`. */
  unsent: number;
  batches: number;
  requests: number;
  statuses: Record<string, number>;
  timeouts: number;
  /** Batches dropped because the request's timeout passed while it waited out Retry-After (honourRetryAfter). */
  deadlineDrops: number;
  connectErrors: number;
  otherErrors: number;
  /** Latency of every answered request, ms. */
  latencies: number[];
  /** Per event: 0 not sent, 1 dropped (buffer), 2 sent, 3 answered 200, 4 given up. */
  fate: Uint8Array;
  /** Events/s answered 200 over each second of the run. */
  deliveredPerSecond: number[];
}

const FATE = { notSent: 0, droppedBuffer: 1, sent: 2, delivered: 3, givenUp: 4 } as const;
/** client-go's default MaxRetries (rest/request.go NewRequest). */
const CLIENT_GO_MAX_RETRIES = 10;

type Outcome = number | 'timeout' | 'connect' | 'error';

export { FATE };

/** Runs the stand-in until its events are generated, sent and settled (or `signal` aborts). */
export async function runApiserverStandIn(o: StandInOptions): Promise<StandInReport> {
  const bufferSize = o.bufferSize ?? 10_000;
  const batchMax = o.batchMaxSize ?? 400;
  const batchWait = o.batchMaxWaitMs ?? 30_000;
  const qps = o.throttleQps ?? 10;
  const burst = o.throttleBurst ?? 15;
  const initialBackoff = o.initialBackoffMs ?? 10_000;
  const steps = o.backoffSteps ?? 5;
  const timeoutMs = o.requestTimeoutMs ?? 30_000;
  const rand = prng(o.seed ?? 1);
  const total = Math.round((o.eventsPerSecond * o.durationMs) / 1000);
  const fate = new Uint8Array(total);
  // Each event carries the times of its generation, as an apiserver stamps a request when it
  // arrives; a resend of event n is the same text (the same auditID and times).
  const parts = o.templates.map((t) => {
    const at = t.indexOf('"auditID":"');
    const end = t.indexOf('"', at + 11);
    return [withLiveTimes(t.slice(0, at + 11)), withLiveTimes(t.slice(end))] as const;
  });
  const generatedAt = new Float64Array(total);
  const eventText = (n: number) => {
    const [head, tail] = parts[n % parts.length] as (typeof parts)[number];
    const ms = generatedAt[n] as number;
    return `${head(ms, n % 1000)}${o.runId}-${n}${tail(ms, n % 1000)}`;
  };
  const report: StandInReport = {
    generated: 0,
    droppedBufferFull: 0,
    droppedAfterRetries: 0,
    delivered: 0,
    unsent: 0,
    batches: 0,
    requests: 0,
    statuses: {},
    timeouts: 0,
    deadlineDrops: 0,
    connectErrors: 0,
    otherErrors: 0,
    latencies: [],
    fate,
    deliveredPerSecond: [],
  };
  const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
  const t0 = performance.now();
  const stopped = () => o.signal?.aborted === true;
  const aborted = new Promise<void>((resolve) => o.signal?.addEventListener('abort', () => resolve(), { once: true }));
  const sleep = (ms: number) => Promise.race([new Promise<void>((resolve) => setTimeout(resolve, ms).unref()), aborted]);

  // The buffer: sequence numbers of generated events not yet batched.
  let buffer: number[] = [];
  let generating = true;
  const generator = (async () => {
    const tickMs = 10;
    while (report.generated < total && !stopped()) {
      const due = Math.min(total, Math.floor(((performance.now() - t0) * o.eventsPerSecond) / 1000));
      while (report.generated < due) {
        const n = report.generated++;
        generatedAt[n] = Date.now();
        if (buffer.length >= bufferSize) {
          fate[n] = FATE.droppedBuffer;
          report.droppedBufferFull++;
        } else buffer.push(n);
      }
      await sleep(tickMs);
    }
    generating = false;
  })();

  /** One POST, to be answered before `deadline`; resolves with the status and Retry-After, or a string naming the failure. */
  const post = (body: Buffer, deadline: number): Promise<{ outcome: Outcome; retryAfterS: number | null }> =>
    new Promise((resolve) => {
      const started = performance.now();
      const req = request(o.url, {
        method: 'POST',
        agent,
        headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': o.token, 'Content-Length': body.length },
        signal: AbortSignal.any([AbortSignal.timeout(Math.max(1, Math.ceil(deadline - started))), ...(o.signal ? [o.signal] : [])]),
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => {
          report.latencies.push(performance.now() - started);
          const header = res.headers['retry-after'];
          resolve({
            outcome: res.statusCode ?? 0,
            retryAfterS: typeof header === 'string' && /^\d+$/.test(header) ? Number(header) : null,
          });
        });
        res.on('error', () => resolve({ outcome: 'error', retryAfterS: null }));
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        let outcome: Outcome = 'error';
        if (err.name === 'AbortError' || err.name === 'TimeoutError') outcome = performance.now() >= deadline - 5 ? 'timeout' : 'error';
        else if (err.code === 'ECONNREFUSED') outcome = 'connect';
        resolve({ outcome, retryAfterS: null });
      });
      req.end(body);
    });

  /** One request as client-go makes it: one timeout, and with honourRetryAfter its own retries within it. */
  const doRequest = async (body: Buffer): Promise<Outcome | 'deadline'> => {
    const deadline = performance.now() + timeoutMs;
    for (let retries = 0; ; retries++) {
      report.requests++;
      const { outcome, retryAfterS } = await post(body, deadline);
      if (stopped()) return outcome;
      if (typeof outcome === 'number') report.statuses[outcome] = (report.statuses[outcome] ?? 0) + 1;
      else if (outcome === 'timeout') report.timeouts++;
      else if (outcome === 'connect') report.connectErrors++;
      else report.otherErrors++;
      const waits =
        o.honourRetryAfter === true && typeof outcome === 'number' && (outcome === 429 || outcome >= 500) && retryAfterS !== null;
      if (!waits || retries >= CLIENT_GO_MAX_RETRIES) return outcome;
      await sleep(retryAfterS * 1000);
      if (performance.now() >= deadline) return 'deadline';
    }
  };

  const sendBatch = async (batch: number[]) => {
    report.batches++;
    for (const n of batch) fate[n] = FATE.sent;
    // Encoded once and sent as the same bytes on every attempt, as client-go does (rest/request.go:
    // Body keeps the encoded object as bodyBytes and rewinds them for a retry).
    const body = Buffer.from(
      `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[${batch.map(eventText).join(',')}]}`,
    );
    let delay = initialBackoff;
    for (let attempt = 0; ; attempt++) {
      if (stopped()) return;
      const outcome = await doRequest(body);
      if (stopped()) return;
      if (outcome === 200) {
        for (const n of batch) fate[n] = FATE.delivered;
        report.delivered += batch.length;
        const second = Math.floor((performance.now() - t0) / 1000);
        report.deliveredPerSecond[second] = (report.deliveredPerSecond[second] ?? 0) + batch.length;
        return;
      }
      if (outcome === 'deadline' || attempt >= steps - 1) {
        if (outcome === 'deadline') report.deadlineDrops++;
        for (const n of batch) fate[n] = FATE.givenUp;
        report.droppedAfterRetries += batch.length;
        return;
      }
      await sleep(delay * (1 + (rand() * 2 - 1) * 0.2));
      delay *= 1.5;
    }
  };

  // The batcher: a batch when 400 events are buffered or the oldest waited batchMaxWait, one
  // token of the throttle per batch, each batch sent on its own.
  const inFlight = new Set<Promise<void>>();
  let tokens = burst;
  let refilled = performance.now();
  let oldestAt = performance.now();
  while (!stopped() && (generating || buffer.length > 0)) {
    const now = performance.now();
    tokens = Math.min(burst, tokens + ((now - refilled) * qps) / 1000);
    refilled = now;
    if (buffer.length === 0) oldestAt = now;
    const ready = buffer.length >= batchMax || (buffer.length > 0 && (now - oldestAt >= batchWait || !generating));
    if (ready && tokens >= 1) {
      tokens--;
      const batch = buffer.slice(0, batchMax);
      buffer = buffer.slice(batch.length);
      oldestAt = now;
      const task = sendBatch(batch);
      inFlight.add(task);
      void task.finally(() => inFlight.delete(task));
      continue;
    }
    await sleep(ready ? Math.max(1, (1 - tokens) * (1000 / qps)) : 5);
  }
  await generator;
  await Promise.all([...inFlight]);
  agent.destroy();
  for (let n = 0; n < report.generated; n++) if (fate[n] === FATE.notSent || fate[n] === FATE.sent) report.unsent++;
  return report;
}
