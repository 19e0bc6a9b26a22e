import type { FilterLogEventsCommandInput, FilterLogEventsCommandOutput } from '@aws-sdk/client-cloudwatch-logs';
import { clusterFromLogGroup, isAuditStream } from './eks.js';
import { checkAuditLine, reportSalvaged, reportUnforwardable } from './lines.js';
import { emptyCounts, type ForwardCounts, type ForwardDeps, type ForwardFailureSample, type ForwardSettings } from './report.js';
import { LineWindow } from './window.js';

/**
 * FilterLogEvents is limited to 5 transactions per second per account and region (CloudWatch Logs
 * quotas); 4 leaves room for a forwarder or console in the same account.
 */
export const DEFAULT_BACKFILL_REQUESTS_PER_SECOND = 4;
/** FilterLogEvents returns at most 10,000 events per call (API reference, `limit`). */
export const MAX_FILTER_PAGE_SIZE = 10_000;

/** The one call the backfill makes; a CloudWatchLogsClient wrapped by the caller (or a mock). */
export type FilterLogEvents = (input: FilterLogEventsCommandInput) => Promise<FilterLogEventsCommandOutput>;

/** Where the backfill is, after each page. */
export interface BackfillProgress {
  requests: number;
  pages: number;
  read: number;
  forwarded: number;
  failed: number;
  /** Lines set aside: truncated by CloudWatch Logs, or not an audit event. */
  unreadable: number;
  /** Log events of other streams. */
  skipped: number;
  /** Timestamp (epoch ms) of the last log event read. */
  lastTimestamp: number | null;
}

/** What to backfill and how. */
export interface BackfillOptions {
  logGroup: string;
  /** Inclusive bounds, epoch ms (FilterLogEvents startTime/endTime). */
  startMs: number;
  endMs: number;
  /** Streams to read (server-side logStreamNamePrefix); default: the audit stream prefix of `settings`. */
  streamPrefix?: string;
  pageSize?: number;
  requestsPerSecond?: number;
  filterLogEvents: FilterLogEvents;
  settings: ForwardSettings;
  deps: ForwardDeps;
  progress?: (p: BackfillProgress) => void;
  /** Clock and sleep of the rate limiter, injectable for tests. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Asked after each page: true stops reading there, ships what was read, and says where to resume. */
  stopRequested?: () => boolean;
}

/** The outcome of a backfill. */
export interface BackfillReport extends ForwardCounts {
  requests: number;
  pages: number;
  cluster: string | null;
  /**
   * Earliest timestamp of an event not delivered, or (when stopped) of the last event read: rerun
   * from here (the ingest dedups the overlap).
   */
  resumeFromMs: number | null;
  /** Stopped before the end of the range (`stopRequested`). */
  stopped: boolean;
  samples: ForwardFailureSample[];
}

/** Spaces calls at least `1000 / rps` ms apart, so no one-second window holds more than `rps`. */
function rateLimiter(rps: number, now: () => number, sleep: (ms: number) => Promise<void>): () => Promise<void> {
  const gap = 1000 / rps;
  let last = Number.NEGATIVE_INFINITY;
  return async () => {
    const wait = last + gap - now();
    if (wait > 0) await sleep(wait);
    last = now();
  };
}

/**
 * Replays a time range of an EKS log group into the ingest: FilterLogEvents page by page,
 * following `nextToken` to the end with the query unchanged. Restarting a query at the last
 * timestamp + 1 instead (falcosecurity/plugins#893) loses every event sharing that millisecond;
 * the token continues exactly where the page ended.
 */
export async function backfillLogGroup(opts: BackfillOptions): Promise<BackfillReport> {
  const { settings, deps } = opts;
  const prefix = opts.streamPrefix ?? settings.streamPrefix;
  const cluster = settings.clusterName ?? clusterFromLogGroup(opts.logGroup);
  const report: BackfillReport = { ...emptyCounts(), requests: 0, pages: 0, cluster, resumeFromMs: null, stopped: false, samples: [] };
  const window = new LineWindow(settings, deps, report);
  await window.useCluster(cluster, prefix);
  const throttle = rateLimiter(
    opts.requestsPerSecond ?? DEFAULT_BACKFILL_REQUESTS_PER_SECOND,
    opts.now ?? Date.now,
    opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
  );
  const pageSize = Math.min(MAX_FILTER_PAGE_SIZE, Math.max(1, opts.pageSize ?? MAX_FILTER_PAGE_SIZE));
  let nextToken: string | undefined;
  let lastTimestamp: number | null = null;
  // After each page, and once more when the last window is flushed.
  const progress = () =>
    opts.progress?.({
      requests: report.requests,
      pages: report.pages,
      read: report.received,
      forwarded: report.forwarded,
      failed: report.failed,
      unreadable: report.truncated + report.invalid,
      skipped: report.skippedEvents,
      lastTimestamp,
    });
  do {
    await throttle();
    const input: FilterLogEventsCommandInput = {
      logGroupName: opts.logGroup,
      startTime: opts.startMs,
      endTime: opts.endMs,
      limit: pageSize,
    };
    if (prefix !== '') input.logStreamNamePrefix = prefix;
    if (nextToken !== undefined) input.nextToken = nextToken;
    report.requests++;
    const page = await opts.filterLogEvents(input);
    report.pages++;
    for (const e of page.events ?? []) {
      const message = e.message ?? '';
      const timestamp = e.timestamp ?? 0;
      report.received++;
      lastTimestamp = timestamp;
      if (!isAuditStream(e.logStreamName ?? '', prefix)) {
        report.skippedEvents++;
        continue;
      }
      const verdict = checkAuditLine(message, timestamp);
      if (verdict.kind === 'event') {
        await window.add(message, timestamp);
        continue;
      }
      // Not `timestamp`: the log line's own key, which Powertools drops with a warning line.
      const where = {
        logGroup: opts.logGroup,
        logStream: e.logStreamName,
        eventId: e.eventId,
        logEventTimestamp: timestamp,
        length: message.length,
      };
      if (verdict.kind === 'salvaged') {
        reportSalvaged(verdict, where, report, deps.log);
        await window.add(verdict.text, timestamp);
        continue;
      }
      reportUnforwardable(verdict, where, report, deps.log);
    }
    nextToken = page.nextToken ?? undefined;
    progress();
    if (nextToken !== undefined && opts.stopRequested?.() === true) {
      report.stopped = true;
      break;
    }
  } while (nextToken !== undefined);
  // What was read is shipped either way; stopped, the rest of the range starts at the last event
  // read (events come in time order; the ones sharing its millisecond are sent again, and dropped).
  await window.flush();
  const failed = [...window.failedOrigins()];
  if (report.stopped && lastTimestamp !== null) failed.push(lastTimestamp);
  for (const ts of failed) if (report.resumeFromMs === null || ts < report.resumeFromMs) report.resumeFromMs = ts;
  progress();
  return report;
}
