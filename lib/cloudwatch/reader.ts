import type { AuditEvent, AuditSource, ParsedPayload, RejectedItem } from '../audit/index.js';
import { decodeLogsData, readForwarderEvent, UnsupportedEventError } from './decode.js';
import { clusterFromLogGroup, DEFAULT_AUDIT_STREAM_PREFIX, isAuditStream } from './eks.js';
import { checkAuditLine } from './lines.js';

/** The audit events of a saved forwarder event, with where they came from. */
export interface SubscriptionFileContents {
  parsed: ParsedPayload;
  source: AuditSource;
  clusterName: string | null;
}

// A saved Lambda event starts with one of these keys; anything else is left to the audit parser
// without being parsed twice.
const SNIFF = /^\s*\{\s*"(?:awslogs|Records)"\s*:/;

/**
 * Reads a saved CloudWatch Logs subscription event (`{"awslogs":{"data":...}}`) or Kinesis event
 * into the audit events inside; returns null for anything else. In an EKS log group only the
 * apiserver audit streams are read; in other groups every line must be an audit event. Lines
 * that are not become `rejected` items, with the auditID when one can be read.
 */
export function readSubscriptionFile(bytes: Uint8Array | string): SubscriptionFileContents | null {
  const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  if (!SNIFF.test(text.slice(0, 64).replace(/^\uFEFF/, ''))) return null;
  let shape: ReturnType<typeof readForwarderEvent>;
  try {
    shape = readForwarderEvent(JSON.parse(text.replace(/^\uFEFF/, '')));
  } catch (err) {
    if (err instanceof SyntaxError || err instanceof UnsupportedEventError) return null;
    throw err;
  }
  const events: AuditEvent[] = [];
  const indexes: number[] = [];
  const texts: string[] = [];
  const rejected: RejectedItem[] = [];
  const source: AuditSource = { platform: 'eks' };
  let clusterName: string | null = null;
  let index = 0;
  for (const [n, encoded] of shape.payloads.entries()) {
    let payload: ReturnType<typeof decodeLogsData>;
    try {
      payload = decodeLogsData(encoded.data);
    } catch (err) {
      rejected.push({ index: index++, reason: `payload ${n}: ${(err as Error).message}` });
      continue;
    }
    if (payload.messageType !== 'DATA_MESSAGE') continue;
    const cluster = clusterFromLogGroup(payload.logGroup);
    if (cluster !== null && !isAuditStream(payload.logStream, DEFAULT_AUDIT_STREAM_PREFIX)) continue;
    clusterName ??= cluster;
    if (source.accountId === undefined && payload.owner !== '') source.accountId = payload.owner;
    if (source.region === undefined && encoded.region !== undefined) source.region = encoded.region;
    for (const e of payload.logEvents) {
      const at = index++;
      const verdict = checkAuditLine(e.message);
      if (verdict.kind === 'event') {
        events.push(JSON.parse(e.message) as AuditEvent);
        indexes.push(at);
        texts.push(e.message.trimEnd());
        continue;
      }
      const reason =
        verdict.kind === 'truncated'
          ? `${payload.logStream} event ${e.id}: line truncated by EKS ([Truncated...])`
          : `${payload.logStream} event ${e.id}: ${verdict.reason}`;
      const item: RejectedItem = { index: at, reason };
      if (verdict.auditID !== undefined) item.auditID = verdict.auditID;
      rejected.push(item);
    }
  }
  return { parsed: { form: 'array', events, indexes, texts, rejected, itemCount: index }, source, clusterName };
}
