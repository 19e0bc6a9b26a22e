import type { Detection, NormalisedRecord } from '../audit/index.js';
import { DEFAULT_TAIL_MAX_BYTES, type TailShaping } from '../config/tail.js';
import { tenantFromIngestUrl } from '../protocol.js';
import { RuleErrorLog } from '../rules/error-log.js';
import type { EventText } from '../ship/index.js';
import { type ConnectorCapability, type ConnectorConfig, deliveryProblems } from './connector-config.js';
import type { TailShipFn } from './deliver.js';
import { type ConnectorHealth, HealthTracker, summarisePoll } from './health.js';
import type { PollResult } from './poll.js';
import { PollRetryBudget, tailShipper } from './ship.js';
import { FileTailer } from './tailer.js';
import { type ConnectionReport, type TestConnectionDeps, testConnection } from './test-connection.js';

/** What one `fetchAlerts` poll returns: the alerts of the poll and the connector's health. */
export interface FetchAlertsResult {
  alerts: NormalisedRecord[];
  health: ConnectorHealth;
}

export interface ConnectorDeps extends TestConnectionDeps {
  log?: (entry: Record<string, unknown>) => void;
  now?: () => number;
  /** Bytes read per poll at most (file_tail); wins over `shaping.maxBytes`; default 8 MiB, the connector documentation's cap. */
  maxBytes?: number;
  /** file_tail: the per-poll cap and request shaping `tail` reads (AISOC_TAIL_MAX_BYTES, ...); default the tailer's defaults. */
  shaping?: TailShaping;
  /** Replaces the `lib/ship` delivery (tests). */
  ship?: TailShipFn;
  /** Seconds between polls when not the config's `poll_interval_seconds` (`connector run --interval`): the retry budget follows it. */
  intervalSeconds?: number;
  /** Called with each file_tail poll's result (`connector run` feeds its /metrics with it, as `tail` does). */
  onPoll?: (result: PollResult) => void;
  /** How a poll's events are scored for its alerts (`connector run`: K8S_AUDIT_SEVERITY, K8S_AUDIT_RULES); default the refined table and the shipped pack. */
  detection?: Detection;
}

const WEBHOOK_NOTE =
  'webhook mode: audit events arrive at the ingest route in real time and are normalised there; the poll only reports health';
const FILE_TAIL_NOTE = 'file_tail mode: each poll reads the audit log forward from the byte cursor and returns its high-severity events';

/**
 * One Kubernetes Audit Logs connector instance (the connector documentation's connector): `fetchAlerts` per poll,
 * `health`, and `testConnection`. In webhook mode a poll returns no alerts (events do not pass
 * through the connector); in file_tail mode it runs one tailer poll and returns the
 * high-severity events that poll delivered (PULL_ALERTS).
 */
export class KubernetesAuditConnector {
  readonly capabilities: readonly ConnectorCapability[];
  private readonly tracker: HealthTracker;
  private readonly now: () => number;
  private tailer: FileTailer | null = null;
  private readonly retries: PollRetryBudget;

  constructor(
    readonly config: ConnectorConfig,
    private readonly deps: ConnectorDeps = {},
  ) {
    this.capabilities = config.capabilities;
    this.now = deps.now ?? Date.now;
    this.retries = new PollRetryBudget((deps.intervalSeconds ?? config.poll_interval_seconds) * 1000, this.now);
    this.tracker = new HealthTracker(config.mode, config.cluster_name, config.mode === 'webhook' ? WEBHOOK_NOTE : FILE_TAIL_NOTE);
  }

  /** The connector documentation's "Test connection" for this instance. */
  testConnection(): Promise<ConnectionReport> {
    return testConnection(this.config, this.deps);
  }

  /** The connector's health: when the last poll ran, what it read, and the last error. */
  health(): ConnectorHealth {
    return this.tracker.snapshot();
  }

  /** Asks the current poll to start no new retry (SIGTERM): it ends, and the cursor stays before what was not delivered. */
  stop(): void {
    this.retries.stop();
  }

  /** One poll: webhook mode returns no alerts and the health; file_tail tails and returns the poll's high-severity events. */
  async fetchAlerts(): Promise<FetchAlertsResult> {
    const at = this.now();
    if (this.config.mode === 'webhook') {
      this.tracker.record(at, null, null);
      return { alerts: [], health: this.health() };
    }
    const tailer = this.fileTailer();
    if (typeof tailer === 'string') {
      this.tracker.record(at, tailer, null);
      return { alerts: [], health: this.health() };
    }
    this.retries.startPoll();
    const result = await tailer.poll();
    this.deps.onPoll?.(result);
    this.tracker.record(result.startedAt, result.error, summarisePoll(result));
    return { alerts: this.config.capabilities.includes('PULL_ALERTS') ? result.alerts : [], health: this.health() };
  }

  private fileTailer(): FileTailer | string {
    if (this.tailer !== null) return this.tailer;
    const c = this.config;
    let ship = this.deps.ship;
    let isOversize: ((line: EventText, bytes: number) => boolean) | undefined;
    if (ship === undefined) {
      const missing = deliveryProblems(c);
      if (missing.length > 0 || c.ingest_url === null || c.shared_secret === null) return missing.join('; ');
      const bound = tailShipper({
        url: c.ingest_url,
        token: c.shared_secret,
        clusterName: c.cluster_name,
        // The retry budget `tail` gives a poll: the interval, at least 30 s, and none after stop().
        remainingTimeMs: this.retries.remainingTimeMs,
        signal: this.retries.signal,
        ...(this.deps.shaping === undefined
          ? {}
          : {
              maxBodyBytes: this.deps.shaping.maxBodyBytes,
              maxEventsPerBatch: this.deps.shaping.batchEvents,
              concurrency: this.deps.shaping.concurrency,
              gzip: this.deps.shaping.gzip,
              requestTimeoutMs: this.deps.shaping.requestTimeoutMs,
            }),
        ...(this.deps.tls == null ? {} : { tls: this.deps.tls }),
        ...(this.deps.fetch === undefined ? {} : { fetch: this.deps.fetch }),
        ...(this.deps.log === undefined ? {} : { log: this.deps.log }),
      });
      ship = bound.ship;
      isOversize = bound.isOversize;
    }
    this.tailer = new FileTailer({
      logPath: c.audit_log_path,
      cursorPath: c.cursor_path,
      maxBytes: this.deps.maxBytes ?? this.deps.shaping?.maxBytes ?? DEFAULT_TAIL_MAX_BYTES,
      ship,
      ...(isOversize === undefined ? {} : { isOversize }),
      ...(this.deps.log === undefined ? {} : { log: this.deps.log }),
      now: this.now,
      alerts: {
        tenantId: c.ingest_url === null ? null : tenantFromIngestUrl(c.ingest_url),
        clusterName: c.cluster_name,
        ...(this.deps.detection === undefined ? {} : { detection: this.deps.detection }),
        ruleErrorLog: new RuleErrorLog(),
      },
    });
    return this.tailer;
  }
}
