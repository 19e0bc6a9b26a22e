import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { EVENT_STORE_FILE, type EventStore } from './sqlite.js';
import { createRowWriter, type SqliteSinkMode, toStoreRow } from './sqlite-rows.js';
import { type OutgoingRecord, type SinkBatch, SinkUnavailableError, type SinkWriteResult, type StreamingSink } from './types.js';

// The writer thread: a few lines of CommonJS run with `eval` (so the bundles need no extra entry
// point) around the same insert logic the main thread uses (createRowWriter's source). Batches
// are written one at a time, each in its own transaction, in the order they began; the parts of
// a later batch wait in memory until the earlier one is committed.
const workerSource = (rowWriterSource: string): string => `
const __name = (fn) => fn;
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const createRowWriter = (${rowWriterSource});
const db = new Database(workerData.file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = ${5000}');
db.pragma('wal_autocheckpoint = 0');
const write = createRowWriter(db);
const batches = new Map();
const order = [];
let current = null;
const message = (err) => (err && err.message) || String(err);
function pump() {
  for (;;) {
    if (current === null) {
      const id = order[0];
      if (id === undefined) return;
      current = { id, batch: batches.get(id), error: null, offset: 0, duplicates: [] };
      try {
        db.exec('BEGIN IMMEDIATE');
      } catch (err) {
        current.error = message(err);
      }
    }
    const { batch } = current;
    while (batch.parts.length > 0) {
      const rows = batch.parts.shift();
      if (current.error === null) {
        try {
          write(rows, batch.mode, batch.storedAt, current.offset, current.duplicates);
        } catch (err) {
          current.error = message(err);
        }
      }
      current.offset += rows.length;
    }
    if (batch.end === null) return;
    let error = batch.end === 'abort' ? 'aborted' : current.error;
    if (error === null) {
      try {
        db.exec('COMMIT');
      } catch (err) {
        error = message(err);
      }
    }
    if (error !== null && db.inTransaction) db.exec('ROLLBACK');
    if (batch.end === 'commit') parentPort.postMessage({ id: current.id, duplicates: current.duplicates, error });
    batches.delete(current.id);
    order.shift();
    current = null;
  }
}
parentPort.on('message', (m) => {
  if (m.type === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  if (m.type === 'begin') {
    batches.set(m.id, { mode: m.mode, storedAt: m.storedAt, parts: [], end: null });
    order.push(m.id);
  } else if (m.type === 'rows') {
    batches.get(m.id)?.parts.push(m.rows);
  } else {
    const batch = batches.get(m.id);
    if (batch) batch.end = m.type;
  }
  pump();
});
`;

interface Pending {
  resolve: (r: SinkWriteResult) => void;
  reject: (e: Error) => void;
}

/**
 * The SQLite sink with its writes on a worker thread. The request's thread hands over records
 * in parts as it normalises them, so the inserts run while the rest of the batch is still being
 * normalised; only the last part and the commit (the WAL fsync) remain on the request's path,
 * and a slow fsync never blocks the event loop. One transaction per batch, as in `SqliteSink`.
 */
export class SqliteThreadSink implements StreamingSink {
  readonly name = 'sqlite';
  readonly maxRecordBytes = Number.POSITIVE_INFINITY;
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  readonly #exited: Promise<void>;
  #nextId = 0;
  #dead: Error | null = null;
  #closing: Promise<void> | undefined;

  constructor(
    readonly store: EventStore,
    readonly mode: SqliteSinkMode,
  ) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const file = join(store.dataDir, EVENT_STORE_FILE);
    this.#worker = new Worker(workerSource(createRowWriter.toString()), { eval: true, workerData: { file, driver } });
    this.#worker.unref();
    this.#worker.on('message', (m: { id: number; duplicates: number[]; error: string | null }) => {
      const pending = this.#pending.get(m.id);
      if (pending === undefined) return;
      this.#settled(m.id);
      if (m.error === null) pending.resolve({ duplicates: new Set(m.duplicates), refused: new Map() });
      else pending.reject(new SinkUnavailableError(this.name, `SQLite write failed: ${m.error}`));
    });
    const fail = (err: Error) => {
      this.#dead = err;
      for (const [id, pending] of this.#pending) {
        this.#settled(id);
        pending.reject(new SinkUnavailableError(this.name, `SQLite writer thread stopped: ${err.message}`, { cause: err }));
      }
    };
    this.#worker.on('error', fail);
    this.#exited = new Promise((resolve) =>
      this.#worker.once('exit', () => {
        fail(new Error('exited'));
        resolve();
      }),
    );
  }

  #settled(id: number): void {
    this.#pending.delete(id);
    // The thread keeps the process alive only while a batch waits on it.
    if (this.#pending.size === 0) this.#worker.unref();
  }

  begin(): SinkBatch {
    const id = ++this.#nextId;
    const post = (message: object) => {
      if (this.#dead === null) this.#worker.postMessage(message);
    };
    post({ type: 'begin', id, mode: this.mode, storedAt: new Date().toISOString() });
    let open = true;
    return {
      add: (records: readonly OutgoingRecord[]) => {
        if (open && records.length > 0) post({ type: 'rows', id, rows: records.map(toStoreRow) });
      },
      finish: () => {
        open = false;
        if (this.#dead !== null) return Promise.reject(new SinkUnavailableError(this.name, `SQLite writer thread stopped: ${this.#dead.message}`));
        const done = new Promise<SinkWriteResult>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
        this.#worker.ref();
        post({ type: 'commit', id });
        return done;
      },
      abort: () => {
        if (!open) return;
        open = false;
        post({ type: 'abort', id });
      },
    };
  }

  async write(records: readonly OutgoingRecord[]): Promise<SinkWriteResult> {
    const batch = this.begin();
    batch.add(records);
    return batch.finish();
  }

  async close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#dead === null) {
        this.#worker.ref();
        this.#worker.postMessage({ type: 'close' });
        await Promise.race([this.#exited, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
      }
      await this.#worker.terminate();
      await this.store.closeAndWait();
    })();
    return this.#closing;
  }
}
