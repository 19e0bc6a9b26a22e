// Every metric name the bundle emits, in one module without dependencies: the code that emits them
// (Powertools EMF in the Lambdas, prom-client in `serve` and `tail`) and the test that checks the
// alarms and the dashboard of both templates read these same constants, so a rename that misses a
// template fails a test instead of silencing an alarm.

export { METRICS_NAMESPACE } from '../config/defaults.js';

/**
 * The EMF dimension every metric carries: Powertools' `service`, set to the Lambda's function
 * name, so two stacks in one account never add up into one series. Tenant and cluster are never
 * dimensions: their number is unbounded and each distinct value is a billed custom metric.
 */
export const SERVICE_DIMENSION = 'service';

/** A CloudWatch unit, as EMF and PutMetricData spell it. */
export type MetricUnitName = 'Count' | 'Bytes' | 'Milliseconds';

/** What one ingest request did, as the core reports it to its observers (log line, metrics). */
export interface IngestOutcome {
  route: string;
  status: number;
  tenant: string | null;
  cluster: string | null;
  /** Items in the batch; null when the body was never parsed. */
  items: number | null;
  accepted: number;
  rejected: number;
  duplicates: number;
  alerts: number;
  alertsRefused: number;
  /** Body bytes as received (before gzip inflation). */
  bytes: number;
  inflatedBytes: number;
  /** Handler time, from the first check to the answer. */
  ms: number;
  normaliseMs?: number;
  sinkMs?: number;
  /**
   * Why the request failed, where an operator acts on it: a wrong token, a route turned off, auth
   * not available, a sink, or (Lambda) an invocation whose event is no API Gateway request.
   */
  failure?: 'unauthorized' | 'route_off' | 'auth_unavailable' | 'sink' | 'unsupported_event';
  /** Events on which a rule's condition stopped with an error other than an absent key, by rule and kind. */
  ruleErrors?: readonly RuleErrorCount[];
}

/** How many events of a request one rule could not evaluate, and the error's kind (lib/rules `ruleErrorKind`). */
export interface RuleErrorCount {
  rule: string;
  kind: string;
  count: number;
}

/**
 * The rule errors' counter: per rule (an EMF dimension `rule`, a Prometheus label `rule` and
 * `kind`), emitted only when a request had one, so not in INGEST_METRICS (every one of those is
 * emitted per request, zeros too). Rule ids are the pack's, so the series are bounded.
 */
export const RULE_ERROR_METRIC = {
  name: 'RuleErrors',
  unit: 'Count',
  dimension: 'rule',
  prom: 'aisoc_ingest_rule_errors_total',
  help: 'Events on which a rule could not be evaluated (an error other than an absent field), by rule and error kind',
} as const;

/** The outcome of a request answered before anything was read: counted as an answer, nothing else. */
export function answerOnlyOutcome(
  route: string,
  status: number,
  tenant: string | null = null,
  cluster: string | null = null,
): IngestOutcome {
  return {
    route,
    status,
    tenant,
    cluster,
    items: null,
    accepted: 0,
    rejected: 0,
    duplicates: 0,
    alerts: 0,
    alertsRefused: 0,
    bytes: 0,
    inflatedBytes: 0,
    ms: 0,
  };
}

/** One ingest metric: its CloudWatch name and unit, its Prometheus name and help, and its value for a request. */
export interface IngestMetric {
  readonly name: string;
  readonly unit: MetricUnitName;
  /** Prometheus name of the same counter on `serve`'s /metrics. */
  readonly prom: string;
  readonly help: string;
  readonly value: (o: IngestOutcome) => number;
}

/**
 * The ingest's metrics, one EMF document per request, every one emitted even when zero so an alarm
 * sees a datapoint. `HandlerTime` is a histogram on /metrics; the rest are counters.
 */
export const INGEST_METRICS: readonly IngestMetric[] = [
  { name: 'Requests', unit: 'Count', prom: 'aisoc_ingest_requests_total', help: 'Requests answered', value: () => 1 },
  {
    name: 'EventsAccepted',
    unit: 'Count',
    prom: 'aisoc_ingest_events_accepted_total',
    help: 'Audit events stored',
    value: (o) => o.accepted,
  },
  {
    name: 'EventsRejected',
    unit: 'Count',
    prom: 'aisoc_ingest_events_rejected_total',
    help: 'Items of a 200 batch that could not be used',
    value: (o) => o.rejected,
  },
  {
    name: 'EventsDuplicate',
    unit: 'Count',
    prom: 'aisoc_ingest_events_duplicate_total',
    help: 'Audit events already stored (auditID and stage seen before)',
    value: (o) => o.duplicates,
  },
  {
    name: 'AlertsSent',
    unit: 'Count',
    prom: 'aisoc_ingest_alerts_sent_total',
    help: 'High-severity records sent to the alerts sink',
    value: (o) => o.alerts,
  },
  {
    name: 'AlertsRefused',
    unit: 'Count',
    prom: 'aisoc_ingest_alerts_refused_total',
    help: 'Alerts the alerts sink refused',
    value: (o) => o.alertsRefused,
  },
  {
    name: 'SinkFailures',
    unit: 'Count',
    prom: 'aisoc_ingest_sink_failures_total',
    help: 'Batches answered 503 because the events or the rejects sink failed after its retries',
    value: (o) => (o.failure === 'sink' ? 1 : 0),
  },
  {
    name: 'AuthFailures',
    unit: 'Count',
    prom: 'aisoc_ingest_auth_failures_total',
    help: 'Requests answered 401 (missing or wrong token, unknown inbox token)',
    value: (o) => (o.failure === 'unauthorized' ? 1 : 0),
  },
  {
    name: 'AuthUnavailable',
    unit: 'Count',
    prom: 'aisoc_ingest_auth_unavailable_total',
    help: "Requests answered 503 before the body because the token cannot be checked: the inbox token store or Google's signing keys unreachable",
    value: (o) => (o.failure === 'auth_unavailable' ? 1 : 0),
  },
  {
    name: 'RoutesOff',
    unit: 'Count',
    prom: 'aisoc_ingest_routes_off_total',
    help: 'Requests answered 503 because their route is turned off here (webhook without a secret, GKE push without tenants, inbox without a table)',
    value: (o) => (o.failure === 'route_off' ? 1 : 0),
  },
  {
    name: 'Responses4xx',
    unit: 'Count',
    prom: 'aisoc_ingest_responses_4xx_total',
    help: 'Requests answered 4xx',
    value: (o) => (o.status >= 400 && o.status < 500 ? 1 : 0),
  },
  {
    name: 'Responses5xx',
    unit: 'Count',
    prom: 'aisoc_ingest_responses_5xx_total',
    help: 'Requests answered 5xx',
    value: (o) => (o.status >= 500 ? 1 : 0),
  },
  {
    // Part of Responses5xx (counted as API Gateway's 502), yet API Gateway never saw it: its 5xx
    // alarm adds this back, or one such invocation would hide (or outweigh) a 5xx of its own.
    name: 'UnsupportedEvents',
    unit: 'Count',
    prom: 'aisoc_ingest_unsupported_events_total',
    help: 'Lambda invocations whose event was no API Gateway request, counted as 502 answers (always 0 on serve)',
    value: (o) => (o.failure === 'unsupported_event' ? 1 : 0),
  },
  {
    name: 'BodyBytes',
    unit: 'Bytes',
    prom: 'aisoc_ingest_body_bytes_total',
    help: 'Request body bytes as received',
    value: (o) => o.bytes,
  },
  {
    name: 'HandlerTime',
    unit: 'Milliseconds',
    prom: 'aisoc_ingest_handler_seconds',
    help: 'Time from the first check to the answer',
    value: (o) => o.ms,
  },
];

/** The forwarder's metrics (EMF), by the report count each one carries. */
export const FORWARDER_METRICS = {
  payloads: 'PayloadsReceived',
  received: 'EventsReceived',
  forwarded: 'EventsForwarded',
  failed: 'EventsFailed',
  controlMessages: 'ControlMessages',
  skippedStreams: 'SkippedStreams',
  skippedEvents: 'SkippedEvents',
  truncated: 'TruncatedLines',
  invalid: 'InvalidLines',
  salvaged: 'SalvagedLines',
  oversize: 'OversizeEvents',
  undecodable: 'UndecodablePayloads',
  retries: 'Retries',
  batches: 'Batches',
  bytes: 'BytesSent',
  rejected: 'IngestRejected',
  duplicates: 'IngestDuplicates',
} as const;

/** The tailer's metrics on its /metrics route (Prometheus only: the tailer runs in a cluster, not in Lambda). */
export const TAIL_METRICS = {
  linesRead: { prom: 'aisoc_tail_lines_read_total', help: 'Complete lines read from the audit log' },
  linesShipped: { prom: 'aisoc_tail_lines_shipped_total', help: 'Lines the ingest accepted (the cursor moved past them)' },
  linesInvalid: { prom: 'aisoc_tail_lines_invalid_total', help: 'Lines passed over: not audit events, or longer than the per-poll cap' },
  undelivered: { prom: 'aisoc_tail_lines_undelivered_total', help: 'Lines a poll could not deliver (read again next poll)' },
  polls: { prom: 'aisoc_tail_polls_total', help: 'Polls run' },
  pollErrors: { prom: 'aisoc_tail_poll_errors_total', help: 'Polls that failed' },
  cursorLag: { prom: 'aisoc_tail_cursor_lag_bytes', help: 'Bytes of the audit log past the cursor after the last poll' },
  lastSuccess: { prom: 'aisoc_tail_last_success_timestamp_seconds', help: 'When the last poll succeeded (Unix seconds)' },
} as const;
