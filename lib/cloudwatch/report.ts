import { UnsupportedEventError } from './decode.js';

export type { ForwardSettings } from '../config/forwarder.js';

/** What the forwarder core needs from its caller: the clock, the network, the log. */
export interface ForwardDeps {
  remainingTimeMs?: () => number;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  log: (entry: Record<string, unknown>) => void;
}

/**
 * The counts of one run; every log event ends in exactly one of skipped/truncated/invalid/forwarded/failed
 * (a salvaged line is forwarded or failed, and counted in `salvaged` too).
 */
export interface ForwardCounts {
  /** Subscription payloads read (records, for Kinesis). */
  payloads: number;
  /** Log events in DATA_MESSAGE payloads. */
  received: number;
  forwarded: number;
  failed: number;
  controlMessages: number;
  /** Payloads from streams that are not apiserver audit streams, and their log events. */
  skippedStreams: number;
  skippedEvents: number;
  /** Lines cut short with nothing usable left (no auditID before the cut): not forwarded. */
  truncated: number;
  invalid: number;
  /** Lines cut short and forwarded with their members before the cut (part of forwarded/failed). */
  salvaged: number;
  /** Events too large to send (a subset of `failed`). */
  oversize: number;
  /** Payloads that could not be decoded at all. */
  undecodable: number;
  retries: number;
  batches: number;
  bytes: number;
  accepted: number;
  rejected: number;
  duplicates: number;
}

/** One event not delivered, as the log and the thrown error show it. */
export interface ForwardFailureSample {
  auditID?: string;
  logStream?: string;
  reason: string;
  retryable: boolean;
}

/** The outcome of one forwarder run. */
export interface ForwardReport extends ForwardCounts {
  kind: 'awslogs' | 'kinesis';
  /** Sequence numbers of the Kinesis records with anything not delivered (for batchItemFailures). */
  failedRecords: string[];
  /** The first failures, for the log and the error message. */
  samples: ForwardFailureSample[];
}

/** Thrown when anything could not be delivered, so Lambda retries and the failure destination keeps the event. */
export class ForwardError extends Error {
  override name = 'ForwardError';
  constructor(readonly report: ForwardReport) {
    const first = report.samples[0];
    const what = [
      report.failed > 0 ? `${report.failed} of ${report.received} audit events not delivered` : '',
      report.undecodable > 0 ? `${report.undecodable} payload(s) could not be decoded` : '',
    ]
      .filter(Boolean)
      .join(', ');
    super(`${what}${first ? ` (first: ${first.reason})` : ''}; failing the invocation so the event is retried and kept`);
  }
}

/** Whether a run left anything undelivered. */
export function hasFailures(report: ForwardCounts): boolean {
  return report.failed > 0 || report.undecodable > 0;
}

/** Failures kept as samples for the log line and the error message. */
export const MAX_SAMPLES = 20;

/**
 * The counts of an invocation the core threw on: an event that is no subscription or Kinesis event
 * (`UnsupportedEventError`) is one payload that could not be decoded, so the UndecodablePayloads
 * chart shows why the invocation failed; anything else is a bug and counts nothing. Zeros are
 * counts too: every invocation publishes its metrics, so an alarm always sees a datapoint.
 */
export function forwardCountsOfError(err: unknown): ForwardCounts {
  return err instanceof UnsupportedEventError ? { ...emptyCounts(), payloads: 1, undecodable: 1 } : emptyCounts();
}

/** Counts with every field at zero. */
export function emptyCounts(): ForwardCounts {
  return {
    payloads: 0,
    received: 0,
    forwarded: 0,
    failed: 0,
    controlMessages: 0,
    skippedStreams: 0,
    skippedEvents: 0,
    truncated: 0,
    invalid: 0,
    salvaged: 0,
    oversize: 0,
    undecodable: 0,
    retries: 0,
    batches: 0,
    bytes: 0,
    accepted: 0,
    rejected: 0,
    duplicates: 0,
  };
}
