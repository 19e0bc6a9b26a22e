import type { Writable } from 'node:stream';
import { type KeyedOutgoing, type KeyedSink, NOTHING_TO_REPORT, SinkUnavailableError, type SinkWriteResult } from './types.js';

/**
 * Writes records as NDJSON to a stream (stdout: CloudWatch Logs in Lambda, a pipe locally).
 * Event lines are the normalised record itself, as `aisoc-k8s-audit normalise` prints it; alert
 * lines wrap it as `{"alert": record}` so both can share one stream.
 */
export class StdoutSink implements KeyedSink {
  readonly name = 'stdout';
  readonly maxRecordBytes = Number.POSITIVE_INFINITY;

  constructor(
    readonly stream: Writable,
    readonly role: 'events' | 'alerts' = 'events',
  ) {}

  async write(records: readonly KeyedOutgoing[]): Promise<SinkWriteResult> {
    if (records.length === 0) return NOTHING_TO_REPORT;
    const text = records.map((r) => (this.role === 'alerts' ? `{"alert":${r.json}}\n` : `${r.json}\n`)).join('');
    await new Promise<void>((resolve, reject) => {
      this.stream.write(text, (err) =>
        err ? reject(new SinkUnavailableError(this.name, `stdout write failed: ${err.message}`, { cause: err })) : resolve(),
      );
    });
    return NOTHING_TO_REPORT;
  }

  async close(): Promise<void> {}
}
