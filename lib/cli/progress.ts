import { Writable } from 'node:stream';
import { UsageError } from './args.js';

// Progress of the long-running shipping commands (backfill, redrive) on stderr, in the two forms
// a user meets: on a terminal one line redrawn in place (a bar when the command knows how far it
// is, the counts, the rate, the elapsed time) and a summary line at the end; anywhere else (a
// pipe, a CI log, a log shipper) JSON lines in the shape of the log lines, one per interval and a
// final one, so stderr stays one object per line. docs/forwarder.md, "Progress", shows both.

/** A stream the progress writes to; `isTTY` and `columns` as process.stderr has them on a terminal. */
export type ProgressStream = Writable & { isTTY?: boolean; columns?: number };

/** One count of the progress: its key in the JSON lines and its label on the terminal line. */
export interface ProgressCounter {
  key: string;
  label: string;
}

/** Where a run is: counts by key, plus what the terminal line and the JSON lines add when known. */
export interface ProgressSnapshot {
  counts: Record<string, number>;
  /** 0 to 1 when the command knows how far it is (the bar); absent otherwise. */
  fraction?: number;
  /** Extra fields of the JSON lines and the end of the terminal line (`at` a timestamp, say). */
  extra?: Record<string, string | number | null>;
}

/** How a progress reporter draws and how often. */
export interface ProgressOptions {
  /** The command name, first on the terminal line and in each JSON line's message. */
  command: string;
  /** The `service` of the JSON lines, as the command's log lines have it. */
  service: string;
  stream: ProgressStream;
  /** The counts in the order the terminal line shows them. */
  counters: ProgressCounter[];
  /** The count whose rate per second is shown (`eventsRead`), and its unit (`events/s`). */
  rate: { key: string; unit: string };
  /** JSON: one line per interval (0: one per update). Terminal: redrawn at most this often, and at least every second. */
  intervalMs: number;
  /** The first line's snapshot (default: every count at zero, no bar). */
  initial?: ProgressSnapshot;
  /** Forces the form; by default a terminal when `stream.isTTY`. */
  tty?: boolean;
  now?: () => number;
}

/** A running progress: fed with snapshots, ended with a summary. */
export interface Progress {
  /** Whether it draws on a terminal (else it writes JSON lines). */
  readonly tty: boolean;
  /** The latest counts; drawn now or at the next interval. */
  update(snapshot: ProgressSnapshot): void;
  /** A line of its own (a message kept, set aside): above the bar on a terminal, as is otherwise. */
  note(line: string): void;
  /** A stream for the command's log lines that keeps the bar intact on a terminal. */
  readonly logStream: Writable;
  /** Ends the progress: the final JSON line, or the terminal's summary line in place of the bar. */
  finish(snapshot: ProgressSnapshot, summary: string, level?: 'INFO' | 'WARN' | 'ERROR'): void;
  /** Stops the timer without a final line (the command failed and says so itself). */
  stop(): void;
}

/** The smallest redraw interval on a terminal: faster is flicker, not information. */
const MIN_REDRAW_MS = 100;
const CLEAR_LINE = '\r\x1b[2K';
const BAR_WIDTH = 20;

/** Seconds as m:ss or h:mm:ss, as a progress bar shows elapsed time. */
export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh > 0 ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/** A count with thousands separators, the same on every machine. */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** A bar of `width` cells for a fraction 0..1, with its percentage. */
export function renderBar(fraction: number, width = BAR_WIDTH): string {
  const f = Math.min(1, Math.max(0, fraction));
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${String(Math.floor(f * 100)).padStart(3)}%`;
}

/** The per-second rate of a count over the elapsed time (0 before any time has passed). */
function ratePerSecond(value: number, elapsedMs: number): number {
  return elapsedMs > 0 ? Math.round((value * 1000) / elapsedMs) : 0;
}

/** The terminal line of a snapshot, cut to `columns - 1` so it never wraps (a wrapped line cannot be redrawn). */
export function renderProgressLine(opts: ProgressOptions, snapshot: ProgressSnapshot, elapsedMs: number, columns: number): string {
  const parts = [opts.command];
  if (snapshot.fraction !== undefined) parts.push(renderBar(snapshot.fraction));
  parts.push(opts.counters.map((c) => `${count(snapshot.counts[c.key] ?? 0)} ${c.label}`).join(', '));
  parts.push(formatElapsed(elapsedMs));
  parts.push(`${count(ratePerSecond(snapshot.counts[opts.rate.key] ?? 0, elapsedMs))} ${opts.rate.unit}`);
  for (const [key, value] of Object.entries(snapshot.extra ?? {})) if (value !== null) parts.push(`${key} ${value}`);
  const line = parts.join('  ');
  const max = Math.max(20, columns - 1);
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

/** The JSON line of a snapshot: the log line's shape (level, message, timestamp, service) and the counts. */
export function progressObject(
  opts: ProgressOptions,
  snapshot: ProgressSnapshot,
  elapsedMs: number,
  final: boolean,
  at: number,
  level: 'INFO' | 'WARN' | 'ERROR' = 'INFO',
): Record<string, unknown> {
  return {
    level,
    message: `${opts.command} ${final ? 'done' : 'progress'}`,
    timestamp: new Date(at).toISOString(),
    service: opts.service,
    ...snapshot.counts,
    ...(snapshot.fraction === undefined ? {} : { percent: Math.floor(Math.min(1, Math.max(0, snapshot.fraction)) * 1000) / 10 }),
    elapsedSeconds: Math.round(elapsedMs / 100) / 10,
    [`${opts.rate.key}PerSecond`]: ratePerSecond(snapshot.counts[opts.rate.key] ?? 0, elapsedMs),
    ...(snapshot.extra ?? {}),
  };
}

/**
 * Starts a progress reporter on `opts.stream`: a redrawn line on a terminal, JSON lines
 * otherwise. Its timer is unref'd, so it never keeps the process alive; `finish` or `stop` ends it.
 */
export function startProgress(opts: ProgressOptions): Progress {
  const now = opts.now ?? Date.now;
  const tty = opts.tty ?? opts.stream.isTTY === true;
  const started = now();
  let latest: ProgressSnapshot = opts.initial ?? { counts: Object.fromEntries(opts.counters.map((c) => [c.key, 0])) };
  let drawn = false;
  let lastDraw = Number.NEGATIVE_INFINITY;
  let done = false;
  // A pseudo-terminal may report 0 columns (no size set): take the usual 80.
  const columns = () => opts.stream.columns || 80;

  const draw = () => {
    const t = now();
    lastDraw = t;
    if (tty) {
      opts.stream.write(`${CLEAR_LINE}${renderProgressLine(opts, latest, t - started, columns())}`);
      drawn = true;
    } else {
      opts.stream.write(`${JSON.stringify(progressObject(opts, latest, t - started, false, t))}\n`);
    }
  };
  const clear = () => {
    if (tty && drawn) opts.stream.write(CLEAR_LINE);
    drawn = false;
  };

  // The terminal line is redrawn every second even without news (the elapsed time moves); JSON
  // lines come once per interval.
  const tick = tty ? Math.min(1000, Math.max(MIN_REDRAW_MS, opts.intervalMs)) : opts.intervalMs;
  const timer = tick > 0 ? setInterval(draw, tick) : null;
  timer?.unref();
  if (tty) draw();

  const end = () => {
    done = true;
    if (timer) clearInterval(timer);
  };
  const note = (line: string) => {
    clear();
    opts.stream.write(`${line}\n`);
    if (tty && !done) draw();
  };

  return {
    tty,
    update(snapshot) {
      if (done) return;
      latest = snapshot;
      if (tty ? now() - lastDraw >= MIN_REDRAW_MS : opts.intervalMs === 0) draw();
    },
    note,
    logStream: tty
      ? new Writable({
          write(chunk: Buffer | string, _encoding, callback) {
            note(String(chunk).replace(/\n$/, ''));
            callback();
          },
        })
      : opts.stream,
    finish(snapshot, summary, level = 'INFO') {
      if (done) return;
      end();
      latest = snapshot;
      const t = now();
      if (tty) {
        clear();
        opts.stream.write(`${summary}  (${formatElapsed(t - started)})\n`);
      } else {
        opts.stream.write(`${JSON.stringify(progressObject(opts, latest, t - started, true, t, level))}\n`);
      }
    },
    stop() {
      if (done) return;
      end();
      clear();
    },
  };
}

/** The default `--progress-interval`: a line every 5 s is enough for a CI log to show a run is alive. */
export const DEFAULT_PROGRESS_INTERVAL_SECONDS = 5;

/** Reads `--progress-interval SECONDS` (a number >= 0, decimals allowed) in ms, or the default. */
export function progressIntervalMs(value: string | undefined): number {
  if (value === undefined) return DEFAULT_PROGRESS_INTERVAL_SECONDS * 1000;
  if (!/^\d+(\.\d+)?$/.test(value))
    throw new UsageError(`--progress-interval must be a number of seconds >= 0, got ${JSON.stringify(value)}`);
  return Math.round(Number(value) * 1000);
}
