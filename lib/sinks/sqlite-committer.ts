import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { createRowWriter, type SqliteSinkMode, type StoreRow } from './sqlite-rows.js';

// The worker is CommonJS run with `eval` (as the checkpointer's), so the bundles need no extra
// entry point. It gets the row writer as source text: `createRowWriter` touches nothing outside
// its own body but `db` and globals, so its text runs as is there. `__name` is the helper a
// bundler that keeps function names (esbuild's keepNames) wraps nested functions with.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
var __name = (f) => f;
const createRowWriter = (${createRowWriter.toString()});
const db = new Database(workerData.file);
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = ' + workerData.busyTimeoutMs);
db.pragma('journal_size_limit = ' + workerData.walSizeLimitBytes);
if (workerData.noAutoCheckpoint) db.pragma('wal_autocheckpoint = 0');
const write = createRowWriter(db);
const commit = db.transaction((batches) =>
  batches.map((b) => {
    const duplicates = [];
    write(b.rows, b.mode, b.storedAt, 0, duplicates);
    return duplicates;
  }),
);
// The rows' large texts come packed in one shared buffer (see packTexts).
function unpack(message) {
  const text = Buffer.from(message.text);  // a view of the shared buffer, not a copy
  const lengths = message.lengths;
  let at = 0;
  let k = 0;
  for (const b of message.batches) {
    for (const r of b.rows) {
      const raw = lengths[k++];
      if (raw >= 0) r.raw = text.toString('utf8', at, (at += raw));
      const record = lengths[k++];
      if (record >= 0) r.record = text.toString('utf8', at, (at += record));
    }
  }
}
parentPort.on('message', (message) => {
  if (message === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  if (message.maxPageCount !== undefined) {
    db.pragma('max_page_count = ' + message.maxPageCount);
    return;
  }
  try {
    unpack(message);
    parentPort.postMessage({ seq: message.seq, duplicates: commit(message.batches) });
  } catch (err) {
    parentPort.postMessage({ seq: message.seq, error: { message: String(err && err.message), code: err && err.code } });
  }
});
`;

/** How the committer's connection is set up (the event store's own settings). */
export interface CommitterOptions {
  file: string;
  busyTimeoutMs: number;
  walSizeLimitBytes: number;
  /** The store checkpoints from its own thread: this connection must not checkpoint inside commits. */
  noAutoCheckpoint: boolean;
  /** Called after each commit that landed (the checkpointer's cue). */
  onCommit?: () => void;
}

/** A SQLite error as the worker reports it: its message and its code (`SQLITE_FULL`, ...). */
export class CommitError extends Error {
  override name = 'CommitError';
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

interface Pending {
  batch: { rows: readonly StoreRow[]; mode: SqliteSinkMode; storedAt: string };
  signal: AbortSignal | undefined;
  resolve: (duplicates: number[]) => void;
  reject: (err: unknown) => void;
}

type Batch = Pending['batch'];

/** The largest text buffer kept from group to group: 15 requests' 400-event batches fit in it. */
const KEPT_TEXT_BYTES = 16 * 1024 * 1024;

/**
 * The batches with each row's raw event and record (its large texts, about 2 KB a row) moved into
 * `shared`, which the commit thread reads in place. postMessage's structured clone copies such
 * strings into fresh memory: 3.4 ms of the main thread for a 400-event batch (Node 20, this
 * project's VM), where writing them into memory already touched takes 0.1 ms. `lengths` holds two
 * UTF-8 byte lengths a row (raw event, record), -1 for none. The texts are well-formed (decoded
 * from UTF-8, or written by JSON.stringify, which escapes lone surrogates), so UTF-8 carries them
 * exactly. Returns a larger buffer in place of `shared` when the texts do not fit in it.
 */
export function packTexts(
  batches: readonly Batch[],
  shared: SharedArrayBuffer | null,
): { batches: Batch[]; text: SharedArrayBuffer; lengths: Int32Array } {
  let size = 0;
  let rowCount = 0;
  for (const b of batches) {
    rowCount += b.rows.length;
    for (const r of b.rows) size += (r.raw === null ? 0 : Buffer.byteLength(r.raw)) + (r.record === null ? 0 : Buffer.byteLength(r.record));
  }
  // Grown by half again over the need, so a run of slightly larger groups does not grow it each time.
  const buffer = shared !== null && shared.byteLength >= size ? shared : new SharedArrayBuffer(Math.max(Math.ceil(size * 1.5), 1024));
  const text = Buffer.from(buffer);
  const lengths = new Int32Array(rowCount * 2);
  let at = 0;
  let k = 0;
  const put = (s: string | null) => {
    if (s === null) lengths[k++] = -1;
    else {
      const n = text.write(s, at, 'utf8');
      lengths[k++] = n;
      at += n;
    }
  };
  const out = batches.map((b) => ({
    ...b,
    rows: b.rows.map((r) => {
      put(r.raw);
      put(r.record);
      return { ...r, raw: null, record: null };
    }),
  }));
  return { batches: out, text: buffer, lengths };
}

/**
 * Group commit: batches written while a commit is under way wait for it and then share the next
 * transaction, so concurrent requests pay one fsync between them instead of one each. The
 * transaction runs on a worker thread with its own connection (`synchronous=FULL`), so the main
 * thread parses and normalises the next requests while the disk works. Each `write` resolves only
 * once the transaction holding its rows is committed and fsynced: a 200 still means durable.
 * A batch whose `signal` aborted before its group formed (its client left, its deadline passed)
 * is not written and rejects with the signal's reason.
 */
export class GroupCommitter {
  #worker: Worker | null = null;
  #queue: Pending[] = [];
  #inFlight: Map<number, Pending[]> = new Map();
  #seq = 0;
  /** Where the rows' texts go to the commit thread (packTexts), reused from group to group. */
  #texts: SharedArrayBuffer | null = null;
  #scheduled = false;
  #closed = false;
  #idleWaiters: (() => void)[] = [];
  /** Transactions committed, and batches they held (for the benchmark's note and tests). */
  readonly stats = { commits: 0, batches: 0 };

  constructor(private readonly opts: CommitterOptions) {
    // Started now, not on the first write: loading the driver and opening the file takes the
    // thread a while (seconds on a loaded machine), which the first request would wait out.
    this.#ensureWorker().unref();
  }

  /** Writes one batch's rows in the next group transaction; resolves with its duplicate positions once durable. */
  write(rows: readonly StoreRow[], mode: SqliteSinkMode, storedAt: string, signal?: AbortSignal): Promise<number[]> {
    if (this.#closed) return Promise.reject(new CommitError('the event store is closed', undefined));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      // Given up while queued: out of the queue and answered at once, not when the commit under
      // way ends (a request never waits past its own deadline). Once its group is sent, it stays.
      const onAbort = () => {
        const i = this.#queue.indexOf(pending);
        if (i === -1) return;
        this.#queue.splice(i, 1);
        reject(signal?.reason);
      };
      // Built whole, its settling functions in the literal. With them assigned after the literal,
      // `serve` at one poster promoted about 1 MB a request into V8's old generation (202 MB over
      // 200 requests, against 11 MB without group commit; --trace-gc-nvp), and its p99 was a
      // third worse than with group commit off; built whole, 14 MB over the same 200 (CHANGELOG,
      // 6 December).
      const pending: Pending = {
        batch: { rows, mode, storedAt },
        signal,
        resolve: (d) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(d);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(pending);
      this.#schedule();
    });
  }

  /** Flushes once the loop turn's other requests have queued theirs, and only when no commit is under way. */
  #schedule(): void {
    if (this.#scheduled || this.#inFlight.size > 0 || this.#queue.length === 0) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#inFlight.size > 0) return;
    const group: Pending[] = [];
    for (const p of this.#queue) {
      if (p.signal?.aborted) p.reject(p.signal.reason);
      else group.push(p);
    }
    this.#queue = [];
    if (group.length === 0) {
      this.#settled();
      return;
    }
    const seq = ++this.#seq;
    this.#inFlight.set(seq, group);
    const worker = this.#ensureWorker();
    // While a commit is under way the thread keeps the process alive; idle, it must not.
    worker.ref();
    // The commit thread has read the texts of the last group before it answered, and the next
    // group is sent only after that answer: the buffer is free to write again.
    const { batches, text, lengths } = packTexts(
      group.map((p) => p.batch),
      this.#texts,
    );
    // Kept for the next group up to a bound: a burst's one large group must not hold its memory for good.
    this.#texts = text.byteLength <= KEPT_TEXT_BYTES ? text : this.#texts;
    worker.postMessage({ seq, batches, text, lengths });
  }

  /** After a commit settled: the next group goes at once, or the thread idles. */
  #settled(): void {
    this.#schedule();
    if (this.#inFlight.size > 0 || this.#queue.length > 0 || this.#scheduled) return;
    this.#worker?.unref();
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  #ensureWorker(): Worker {
    if (this.#worker !== null) return this.#worker;
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        file: this.opts.file,
        driver,
        busyTimeoutMs: this.opts.busyTimeoutMs,
        walSizeLimitBytes: this.opts.walSizeLimitBytes,
        noAutoCheckpoint: this.opts.noAutoCheckpoint,
      },
    });
    worker.on('message', (m: { seq: number; duplicates?: number[][]; error?: { message: string; code?: string } }) => {
      const group = this.#inFlight.get(m.seq);
      this.#inFlight.delete(m.seq);
      if (group === undefined) return;
      if (m.duplicates !== undefined) {
        this.stats.commits++;
        this.stats.batches += group.length;
        this.opts.onCommit?.();
        for (const [i, p] of group.entries()) p.resolve(m.duplicates[i] ?? []);
      } else {
        const err = new CommitError(m.error?.message ?? 'commit failed', m.error?.code);
        for (const p of group) p.reject(err);
      }
      this.#settled();
    });
    // A worker that died (could not open the file, ran out of memory) fails what it held; the
    // next write starts a new one.
    const fail = (err: Error) => {
      if (this.#worker !== worker) return;
      this.#worker = null;
      const groups = [...this.#inFlight.values()];
      this.#inFlight.clear();
      for (const group of groups) for (const p of group) p.reject(new CommitError(`the commit thread stopped: ${err.message}`, undefined));
      this.#settled();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
    this.#worker = worker;
    return worker;
  }

  /**
   * Caps the file of the commit thread's connection at `pages` (SQLite's `max_page_count`): past
   * it a commit fails with SQLITE_FULL, as on a full disk. For tests where no small filesystem
   * can be mounted. Applies to the commits after this call.
   */
  setMaxPageCount(pages: number): void {
    this.#ensureWorker().postMessage({ maxPageCount: Math.floor(pages) });
  }

  /** Lets the commits under way and queued finish, then stops the thread. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#inFlight.size > 0 || this.#queue.length > 0 || this.#scheduled) {
      await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    }
    const worker = this.#worker;
    this.#worker = null;
    if (worker === null) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.ref();
    worker.postMessage('close');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    await worker.terminate();
  }
}
