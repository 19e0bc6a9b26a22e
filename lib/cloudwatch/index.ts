/** CloudWatch Logs side of the forwarder: decode subscription payloads, EKS names, forward, backfill, redrive. */

export type { BackfillOptions, BackfillProgress, BackfillReport, FilterLogEvents } from './backfill.js';
export { backfillLogGroup, DEFAULT_BACKFILL_REQUESTS_PER_SECOND, MAX_FILTER_PAGE_SIZE } from './backfill.js';
export { decodeLogsData, inflateLogsData, openLogsData, PayloadDecodeError, readForwarderEvent, UnsupportedEventError } from './decode.js';
export { clusterFromLogGroup, DEFAULT_AUDIT_STREAM_PREFIX, isAuditStream, TRUNCATED_SUFFIX } from './eks.js';
export type { PayloadView } from './envelope.js';
export { EnvelopeError, viewSubscriptionJson } from './envelope.js';
export { forwardSubscriptionEvent } from './forward.js';
export type { LineVerdict } from './lines.js';
export { checkAuditLine } from './lines.js';
export type { SubscriptionFileContents } from './reader.js';
export { readSubscriptionFile } from './reader.js';
export type { RedriveMessageOutcome, RedriveOptions, RedriveRecord, RedriveReport } from './redrive.js';
export { DEFAULT_REDRIVE_VISIBILITY_SECONDS, REDRIVE_BATCH, readRedriveRecord, redriveFailures } from './redrive.js';
export type { ForwardCounts, ForwardDeps, ForwardFailureSample, ForwardReport, ForwardSettings } from './report.js';
export { emptyCounts, ForwardError, hasFailures, MAX_SAMPLES } from './report.js';
export type { EncodedPayload, ForwarderEventShape, LogEvent, SubscriptionPayload } from './types.js';
export { LineWindow } from './window.js';
