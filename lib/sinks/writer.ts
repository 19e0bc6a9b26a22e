import type { OutgoingRecord, RecordSink } from './types.js';

/** What a batch write did, by position in the records given. */
export interface WriteOutcome {
  /** Records the events sink already held. */
  duplicates: ReadonlySet<number>;
  /** Records the events sink refused for good, with the reason (they count as rejected). */
  refused: ReadonlyMap<number, string>;
  /** High records sent to a separate alerts sink. */
  alertsSent: number;
  /** High records the alerts sink refused for good (still stored as events), with the reasons. */
  alertsRefused: string[];
}

/**
 * Sends every record to the events sink and the high-severity ones to the alerts sink. The events
 * sink goes first; the alerts sink then gets every high record of the batch, duplicates included,
 * so a batch resent after an alerts failure still delivers its alerts (at least once; alerts
 * carry `dedup_key` for consumers). Either failure throws, and the request answers 503.
 * `alerts` is null when the events sink writes alerts itself (SQLite: one transaction for both).
 */
export class RecordWriter {
  constructor(
    readonly events: RecordSink,
    readonly alerts: RecordSink | null,
    readonly alertsName: string = alerts?.name ?? events.name,
  ) {}

  /** Largest record any sink takes whole; bigger records also get a compact form. */
  get maxRecordBytes(): number {
    return Math.min(this.events.maxRecordBytes, this.alerts?.maxRecordBytes ?? Number.POSITIVE_INFINITY);
  }

  /** `events=<sink> alerts=<sink>`, for the start-up log line. */
  describe(): string {
    return `events=${this.events.name} alerts=${this.alertsName}`;
  }

  /** Writes a batch to the events sink, then its high records to the alerts sink. */
  async write(records: readonly OutgoingRecord[]): Promise<WriteOutcome> {
    const ev = await this.events.write(records);
    let alertsSent = 0;
    const alertsRefused: string[] = [];
    if (this.alerts !== null) {
      const high = records.filter((r, i) => r.record.severity === 'high' && !ev.refused.has(i));
      if (high.length > 0) {
        const al = await this.alerts.write(high);
        alertsSent = high.length - al.refused.size;
        alertsRefused.push(...al.refused.values());
      }
    } else if (this.alertsName === this.events.name) {
      alertsSent = records.filter((r, i) => r.record.severity === 'high' && !ev.refused.has(i)).length;
    }
    return { duplicates: ev.duplicates, refused: ev.refused, alertsSent, alertsRefused };
  }

  /** Closes both sinks. */
  async close(): Promise<void> {
    await Promise.all([this.events.close(), this.alerts?.close()]);
  }
}
