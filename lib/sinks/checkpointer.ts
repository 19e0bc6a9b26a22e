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
  if (message !== 'close') return;
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/** A background thread that checkpoints a WAL-mode SQLite file. */
export interface Checkpointer {
  /** Stops the thread and closes its connection. */
  close(): Promise<void>;
}

/**
 * Moves WAL checkpoints off the request path. SQLite's automatic checkpoint runs inside the
 * commit that crosses the threshold, so every so often one batch also pays for copying tens of
 * MB into the database file; that request then takes ten times longer than the others (the p99
 * of test/bench/ingest.bench.ts). The writing connection turns automatic checkpoints off and this
 * thread runs PASSIVE checkpoints, which never block the writer, every `intervalMs`.
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
