import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// The worker is a few lines of CommonJS run with `eval`, so the bundles need no extra entry
// point; it loads the same better-sqlite3 the main thread resolved.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 1000');
const checkpoint = (mode) => {
  try {
    db.pragma('wal_checkpoint(' + mode + ')');
  } catch {
    // Busy or locked: the next tick tries again; nothing is lost by waiting.
  }
};
const timer = setInterval(() => checkpoint('PASSIVE'), workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message === 'commit') {
    checkpoint('PASSIVE');
    return;
  }
  if (message !== 'close') return;
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/** A background thread that checkpoints a WAL-mode SQLite file. */
export interface Checkpointer {
  /** Tells the thread a commit just landed: it copies that commit's pages into the database file now. */
  committed(): void;
  /** Stops the thread and closes its connection. */
  close(): Promise<void>;
}

/**
 * Moves WAL checkpoints off the request path. SQLite's automatic checkpoint runs inside the
 * commit that crosses the threshold, so every so often one batch also pays for copying tens of
 * MB into the database file; that request then takes ten times longer than the others (the p99
 * of test/bench/ingest.bench.ts). The writing connection turns automatic checkpoints off and this
 * thread runs PASSIVE checkpoints, which never block the writer: right after each commit (the
 * writer calls `committed()`), and every `intervalMs` in case one was missed.
 *
 * Right after each commit, not only on a timer: SQLite starts the log over (writes from its
 * start again) only when a writer begins while every frame is already checkpointed. Checkpointed
 * every 500 ms while batches kept coming, it never was, and the WAL grew by every batch written
 * (700 MB in a 150-batch benchmark): disk use without bound, and each commit appending to a
 * growing file, which costs a metadata journal commit on every fsync. Checkpointed as each
 * commit lands, the copy runs while the next batch is normalised and the log stays a few
 * batches long.
 */
export function startCheckpointer(file: string, intervalMs = 500): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver, intervalMs } });
  worker.unref();
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  // A failing checkpointer must not take the server down: the writer falls back to SQLite's
  // own checkpoints (see EventStore), and the error is not about any request.
  worker.on('error', () => {});
  let closing: Promise<void> | undefined;
  return {
    committed: () => {
      if (closing === undefined) worker.postMessage('commit');
    },
    close: () => {
      closing ??= (async () => {
        // Keep the process alive until the thread is gone (it is unref'd while it idles).
        worker.ref();
        worker.postMessage('close');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
        await worker.terminate();
      })();
      return closing;
    },
  };
}
