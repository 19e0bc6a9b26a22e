// Builds real CloudWatch Logs subscription envelopes around real audit lines, as EKS and
// CloudWatch Logs produce them: JSON, then gzip, then base64 (CloudWatch Logs User Guide,
// "Subscription filters"). No public file has an EKS one, so they are derived here.
import { gzipSync } from 'node:zlib';
import type { SubscriptionPayload } from '../../lib/cloudwatch/index.js';

export const OWNER = '123456789012';

/** A stream name as EKS names apiserver audit streams. */
export function auditStream(hash = '4f0b7e3c9a1d2e5f6a7b8c9d0e1f2a3b'): string {
  return `kube-apiserver-audit-${hash}`;
}

/** A DATA_MESSAGE payload of an EKS control-plane log group carrying `lines`. */
export function eksPayload(
  lines: readonly string[],
  opts: { cluster?: string; stream?: string; startMs?: number } = {},
): SubscriptionPayload {
  const start = opts.startMs ?? 1_700_000_000_000;
  return {
    messageType: 'DATA_MESSAGE',
    owner: OWNER,
    logGroup: `/aws/eks/${opts.cluster ?? 'prod-eks'}/cluster`,
    logStream: opts.stream ?? auditStream(),
    subscriptionFilters: ['aisoc-k8s-audit'],
    logEvents: lines.map((message, i) => ({
      id: `${37_000_000_000_000 + start + i}`.padEnd(56, '0'),
      timestamp: start + Math.floor(i / 3),
      message,
    })),
  };
}

/** The control message CloudWatch Logs sends to check a new destination (shared fixtures SOURCES.md). */
export function controlPayload(): SubscriptionPayload {
  return {
    messageType: 'CONTROL_MESSAGE',
    owner: 'CloudwatchLogs',
    logGroup: '',
    logStream: '',
    subscriptionFilters: [],
    logEvents: [{ id: '', timestamp: 1600110003794, message: 'CWL CONTROL MESSAGE: Checking health of destination Firehose.' }],
  };
}

/** JSON → gzip (optionally as several concatenated gzip members) → bytes. */
export function gzipPayload(payload: SubscriptionPayload, members = 1): Buffer {
  const bytes = Buffer.from(JSON.stringify(payload), 'utf8');
  if (members <= 1) return gzipSync(bytes);
  const size = Math.ceil(bytes.length / members);
  const parts: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) parts.push(gzipSync(bytes.subarray(at, at + size)));
  return Buffer.concat(parts);
}

/** A direct subscription Lambda event. */
export function awslogsEvent(payload: SubscriptionPayload, members = 1): { awslogs: { data: string } } {
  return { awslogs: { data: gzipPayload(payload, members).toString('base64') } };
}

/** A Kinesis Lambda event whose records each carry one subscription payload. */
export function kinesisEvent(payloads: readonly (SubscriptionPayload | string)[]): { Records: Record<string, unknown>[] } {
  return {
    Records: payloads.map((p, i) => ({
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: `pk-${i}`,
        sequenceNumber: `4963505228952972555329140552150487023321948971533231${String(7000 + i)}`,
        data: typeof p === 'string' ? p : gzipPayload(p).toString('base64'),
        approximateArrivalTimestamp: 1_700_000_000 + i,
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `shardId-000000000000:seq-${i}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: 'arn:aws:iam::123456789012:role/aisoc-k8s-audit-forwarder',
      awsRegion: 'eu-west-1',
      eventSourceARN: 'arn:aws:kinesis:eu-west-1:123456789012:stream/eks-audit',
    })),
  };
}

/** An audit line as EKS leaves it when it is too long: cut, with the [Truncated...] suffix. */
export function truncateLine(line: string, keep = 300): string {
  return `${line.slice(0, keep)}[Truncated...]`;
}

/** The sequence numbers of a Kinesis event built by `kinesisEvent`, in record order. */
export function sequenceNumbers(event: { Records: Record<string, unknown>[] }): string[] {
  return event.Records.map((r) => (r.kinesis as { sequenceNumber: string }).sequenceNumber);
}
