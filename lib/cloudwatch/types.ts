/** One log event of a CloudWatch Logs subscription payload. */
export interface LogEvent {
  id: string;
  timestamp: number;
  message: string;
}

/**
 * The decoded `awslogs.data` of a subscription (CloudWatch Logs User Guide, "Subscription filters":
 * base64 of gzip of this JSON). `messageType` is DATA_MESSAGE, or CONTROL_MESSAGE for the health
 * checks CloudWatch Logs sends to a destination.
 */
export interface SubscriptionPayload {
  messageType: string;
  /** The AWS account id of the log group. */
  owner: string;
  logGroup: string;
  logStream: string;
  subscriptionFilters: string[];
  logEvents: LogEvent[];
}

/** One subscription payload still encoded, as it arrived, with where it came from. */
export interface EncodedPayload {
  /** base64 text (Lambda events) or the gzip bytes (Kinesis GetRecords). */
  data: string | Uint8Array;
  /** Kinesis sequence number, for partial batch responses. */
  sequenceNumber?: string;
  /** AWS region of the Kinesis record. */
  region?: string;
}

/** The Lambda events the forwarder takes: a direct subscription, or a Kinesis batch of them. */
export type ForwarderEventShape = { kind: 'awslogs'; payloads: EncodedPayload[] } | { kind: 'kinesis'; payloads: EncodedPayload[] };
