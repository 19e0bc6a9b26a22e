import { type EventText, type ShipFailure, type ShipOptions, shipEvents } from '../ship/index.js';
import { type ForwardDeps, type ForwardFailureSample, type ForwardReport, type ForwardSettings, MAX_SAMPLES } from './report.js';

/**
 * Collects audit lines into a window of a few batches and ships it when full. Each line is
 * encoded into one reused byte arena as it arrives, so its string dies young: strings kept
 * until a flush would outlive a scavenge and pile up in V8's old space, which is what a 128 MB
 * Lambda runs out of. Each line carries an `origin` (a Kinesis record index, a log timestamp)
 * so failures can be traced back.
 */
export class LineWindow {
  private items: EventText[] = [];
  private origins: number[] = [];
  private arena: Buffer | null = null;
  private used = 0;
  private cluster: string | null = null;
  private account: string | null = null;
  private stream = '';
  private configFailure: ShipFailure | null = null;
  private readonly maxEvents: number;
  private readonly capacity: number;
  private readonly failed = new Set<number>();

  constructor(
    private readonly settings: ForwardSettings,
    private readonly deps: ForwardDeps,
    private readonly report: Pick<
      ForwardReport,
      'forwarded' | 'failed' | 'oversize' | 'retries' | 'batches' | 'bytes' | 'accepted' | 'rejected' | 'duplicates' | 'samples'
    >,
  ) {
    const inFlight = Math.max(1, settings.concurrency);
    this.maxEvents = settings.maxEventsPerBatch * inFlight;
    this.capacity = settings.maxBodyBytes * inFlight;
  }

  /**
   * Starts lines of another cluster or AWS account: the cluster and source headers are per
   * request, so flush first.
   */
  async useCluster(cluster: string | null, stream: string, account: string | null = null): Promise<void> {
    if (this.items.length > 0 && (cluster !== this.cluster || account !== this.account)) await this.flush();
    this.cluster = cluster;
    this.account = account;
    this.stream = stream;
  }

  /**
   * Adds one audit line (its original text); ships the window when it is full. Returns the
   * shipping's promise when it ships, else undefined: the caller awaits only then, not once per
   * line (an await of each of a payload's 6,400 lines was a suspension and a promise apiece).
   */
  add(text: string, origin: number): Promise<void> | undefined {
    const size = Buffer.byteLength(text, 'utf8');
    if (size > this.capacity) {
      // Bigger than any body: the shipper reports it as oversize; it never enters the arena.
      this.items.push(text);
      this.origins.push(origin);
    } else {
      if (this.used + size > this.capacity) return this.flush().then(() => this.add(text, origin));
      this.arena ??= Buffer.allocUnsafe(this.capacity);
      this.arena.write(text, this.used, 'utf8');
      this.items.push(this.arena.subarray(this.used, this.used + size));
      this.origins.push(origin);
      this.used += size;
    }
    return this.items.length >= this.maxEvents ? this.flush() : undefined;
  }

  /** The origins of every line not delivered so far. */
  failedOrigins(): Set<number> {
    return this.failed;
  }

  /** Records a failure that happened before any line was added (an undecodable payload). */
  markFailed(origin: number): void {
    this.failed.add(origin);
  }

  /** Ships what the window holds. */
  async flush(): Promise<void> {
    if (this.items.length === 0) return;
    const items = this.items;
    const origins = this.origins;
    this.items = [];
    this.origins = [];
    const r = this.report;
    if (this.configFailure !== null) {
      // The ingest already refused our configuration: the rest would get the same answer.
      const reason = `not sent: an earlier batch failed with a configuration error: ${this.configFailure.reason}`;
      for (let i = 0; i < items.length; i++) this.fail({ index: i, reason, retryable: false, kind: 'stopped' }, origins);
      this.used = 0;
      return;
    }
    const s = this.settings;
    const opts: ShipOptions = {
      url: s.ingestUrl,
      token: s.token,
      clusterName: this.cluster,
      tls: s.tls ?? null,
      source: { account: this.account, region: s.region ?? null },
      maxEventsPerBatch: s.maxEventsPerBatch,
      maxBodyBytes: s.maxBodyBytes,
      gzip: s.gzip,
      requestTimeoutMs: s.requestTimeoutMs,
      safetyMarginMs: s.safetyMarginMs,
      maxAttempts: s.maxAttempts,
      concurrency: s.concurrency,
      log: this.deps.log,
    };
    if (this.deps.remainingTimeMs) opts.remainingTimeMs = this.deps.remainingTimeMs;
    if (this.deps.fetch) opts.fetch = this.deps.fetch;
    if (this.deps.sleep) opts.sleep = this.deps.sleep;
    const result = await shipEvents(items, opts);
    // Every body was built and sent: the arena can take the next lines.
    this.used = 0;
    r.forwarded += result.delivered;
    r.oversize += result.oversize;
    r.retries += result.retries;
    r.batches += result.batches;
    r.bytes += result.bytes;
    r.accepted += result.accepted;
    r.rejected += result.rejected;
    r.duplicates += result.duplicates;
    for (const f of result.failed) {
      if (f.kind === 'config' && this.configFailure === null) this.configFailure = f;
      this.fail(f, origins);
    }
  }

  private fail(f: ShipFailure, origins: number[]): void {
    this.report.failed++;
    this.failed.add(origins[f.index] as number);
    if (this.report.samples.length < MAX_SAMPLES) {
      const sample: ForwardFailureSample = { reason: f.reason, retryable: f.retryable, logStream: this.stream };
      if (f.auditID !== undefined) sample.auditID = f.auditID;
      this.report.samples.push(sample);
    }
  }
}
