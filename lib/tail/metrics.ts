import { type BigIntStats, statSync } from 'node:fs';
import { type MetricsServer, startMetricsServer, tailPrometheus } from '../metrics/prometheus.js';
import type { TailCursor } from './cursor.js';
import type { PollResult } from './poll.js';

/** The tailer's /metrics endpoint while it runs: what each poll did goes in, the server answers scrapes. */
export interface TailMetricsEndpoint {
  readonly url: string;
  /** Counts one poll of the log at `logPath`. */
  recordPoll(result: PollResult, logPath: string): void;
  close(): Promise<void>;
}

/**
 * Serves the tailer's Prometheus metrics on `host:port` (docs/tail.md, "Metrics") and logs where;
 * null when no port is configured. `tail` and `connector run` both start theirs here, so one
 * environment (AISOC_TAIL_METRICS_PORT in the Deployment) gives the same scrape under either command.
 */
export async function startTailMetrics(
  port: number | null,
  host: string,
  log: (entry: Record<string, unknown>) => void,
): Promise<TailMetricsEndpoint | null> {
  if (port === null) return null;
  const prometheus = tailPrometheus();
  const server: MetricsServer = await startMetricsServer(prometheus.registry, host, port);
  log({ msg: 'metrics listening', url: server.url });
  return {
    url: server.url,
    recordPoll: (result, logPath) =>
      prometheus.recordPoll({
        lines: result.lines,
        delivered: result.delivered,
        invalid: result.invalid + result.oversizeLines + result.oversizeEvents,
        undelivered: result.undelivered,
        lagBytes: cursorLag(logPath, result.cursor),
        ok: result.error === null,
        at: result.finishedAt,
      }),
    close: () => server.close(),
  };
}

/** Bytes of the live log past the cursor: all of it when the cursor is on another file (or none); null when it cannot be read. */
function cursorLag(path: string, cursor: TailCursor | null): number | null {
  let st: BigIntStats;
  try {
    st = statSync(path, { bigint: true });
  } catch {
    return null;
  }
  const size = Number(st.size);
  if (cursor === null || cursor.dev !== String(st.dev) || cursor.ino !== String(st.ino)) return size;
  return Math.max(0, size - cursor.offset);
}
