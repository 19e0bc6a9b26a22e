import type { PollResult } from './poll.js';

/** What the last poll read and did, for the connector's status in the UI. */
export interface PollSummary {
  started_at: string;
  duration_ms: number;
  files: string[];
  bytes_read: number;
  bytes_consumed: number;
  lines: number;
  delivered: number;
  invalid: number;
  oversize_lines: number;
  salvaged_lines: number;
  oversize_events: number;
  truncated_events: number;
  undelivered: number;
  held_back_bytes: number;
  more: boolean;
  resets: string[];
  cursor_offset: number | null;
  alerts: number;
}

/** The connector's health: when the last poll ran, what it read, and the last error. */
export interface ConnectorHealth {
  mode: 'webhook' | 'file_tail';
  cluster_name: string;
  /** `ok`: the last poll succeeded; `error`: it failed; `idle`: no poll yet. */
  status: 'ok' | 'error' | 'idle';
  polls: number;
  last_poll_at: string | null;
  last_success_at: string | null;
  last_poll: PollSummary | null;
  last_error: string | null;
  last_error_at: string | null;
  /** What the mode means for the poll, in words. */
  note: string;
}

/** Turns a poll result into the summary shown as health. */
export function summarisePoll(r: PollResult): PollSummary {
  return {
    started_at: new Date(r.startedAt).toISOString(),
    duration_ms: r.finishedAt - r.startedAt,
    files: r.files,
    bytes_read: r.bytesRead,
    bytes_consumed: r.bytesConsumed,
    lines: r.lines,
    delivered: r.delivered,
    invalid: r.invalid,
    oversize_lines: r.oversizeLines,
    salvaged_lines: r.salvagedLines,
    oversize_events: r.oversizeEvents,
    truncated_events: r.truncatedEvents,
    undelivered: r.undelivered,
    held_back_bytes: r.heldBackBytes,
    more: r.more,
    resets: r.resets,
    cursor_offset: r.cursor?.offset ?? null,
    alerts: r.alerts.length,
  };
}

/** Keeps the health of one connector instance across polls. */
export class HealthTracker {
  private state: ConnectorHealth;

  constructor(mode: ConnectorHealth['mode'], clusterName: string, note: string) {
    this.state = {
      mode,
      cluster_name: clusterName,
      status: 'idle',
      polls: 0,
      last_poll_at: null,
      last_success_at: null,
      last_poll: null,
      last_error: null,
      last_error_at: null,
      note,
    };
  }

  /** Records a poll that ran at `at` (epoch ms); `error` is null when it succeeded. */
  record(at: number, error: string | null, summary: PollSummary | null): void {
    const when = new Date(at).toISOString();
    this.state = {
      ...this.state,
      polls: this.state.polls + 1,
      last_poll_at: when,
      last_poll: summary,
      status: error === null ? 'ok' : 'error',
      ...(error === null ? { last_success_at: when } : { last_error: error, last_error_at: when }),
    };
  }

  /** A copy of the current health. */
  snapshot(): ConnectorHealth {
    return { ...this.state };
  }
}

/** The health file `connector run` and `tail` keep for the Deployment's probes: the health and the poll interval. */
export interface HealthFile extends ConnectorHealth {
  poll_interval_seconds: number;
  written_at: string;
}

/** Writes the health file atomically (a reader never sees half of it): a temporary file renamed over it. */
export async function writeHealthFile(path: string, health: ConnectorHealth, intervalSeconds: number, now: number): Promise<void> {
  const { rename, writeFile } = await import('node:fs/promises');
  const body: HealthFile = { ...health, poll_interval_seconds: intervalSeconds, written_at: new Date(now).toISOString() };
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(body)}\n`, { mode: 0o644 });
  await rename(tmp, path);
}

/**
 * Whether a health file says the instance is alive: its last successful poll is at most
 * `maxAgeSeconds` old (default two poll intervals and a minute, so one slow or failed poll is
 * not a restart). Returns the reason when it is not.
 */
export function healthProblem(text: string, now: number, maxAgeSeconds?: number): string | null {
  let h: HealthFile;
  try {
    h = JSON.parse(text) as HealthFile;
  } catch {
    return 'the health file is not JSON';
  }
  const maxAge = maxAgeSeconds ?? 2 * (h.poll_interval_seconds || 300) + 60;
  if (h.last_success_at === null || h.last_success_at === undefined) {
    // No poll succeeded yet: alive while the first one may still be running.
    const since = Date.parse(h.written_at);
    if (Number.isFinite(since) && now - since <= maxAge * 1000 && h.status !== 'error') return null;
    return `no successful poll yet${h.last_error ? `; last error: ${h.last_error}` : ''}`;
  }
  const age = (now - Date.parse(h.last_success_at)) / 1000;
  if (age > maxAge) {
    return `the last successful poll was ${Math.round(age)} s ago (at ${h.last_success_at}), over ${maxAge} s${h.last_error ? `; last error: ${h.last_error}` : ''}`;
  }
  return null;
}
