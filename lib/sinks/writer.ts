import { type RuleLookup, toDetectionFinding } from '../audit/finding.js';
import { alertKey } from '../audit/identity.js';
import { flagReusedAuditId, serialiseRecord } from '../audit/normalise.js';
import type { NormalisedRecord } from '../audit/types.js';
import type { OutgoingRecord, RecordPayload, RecordSink } from './types.js';

/** What a batch write did, by position in the records given. */
export interface WriteOutcome {
  /** Records the events sink already held. */
  duplicates: ReadonlySet<number>;
  /** Records the events sink stored flagged `reused-audit-id` (see `SinkWriteResult.reused`). */
  reused?: ReadonlySet<number>;
  /** Records the events sink refused for good, with the reason (they count as rejected). */
  refused: ReadonlyMap<number, string>;
  /** High records sent to a separate alerts sink. */
  alertsSent: number;
  /** High records the alerts sink refused for good (still stored as events), with the reasons. */
  alertsRefused: string[];
}

/**
 * Sends every record to the events sink and the first high record of each request (`alertKey`)
 * to the alerts sink. The events
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
    /** The running pack's rules by id, to name them in each alert's Detection Finding. */
    readonly describeRule?: RuleLookup,
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
  async write(records: readonly OutgoingRecord[], signal?: AbortSignal): Promise<WriteOutcome> {
    const ev = await this.events.write(records, signal);
    let alertsSent = 0;
    const alertsRefused: string[] = [];
    // One alert per request: the first high stage of each alert key (lib/audit/identity.ts). An
    // event the events sink stored flagged (it reuses an auditID stored in an earlier batch: the
    // SQLite store) is alerted on as stored: flagged, under its own alert key. Flagging keeps a
    // high record high, and only a separate alerts sink reads the flagged record's JSON.
    const keys = new Set<string>();
    const high: OutgoingRecord[] = [];
    for (const [i, r] of records.entries()) {
      if (r.record.severity !== 'high' || ev.refused.has(i)) continue;
      const reused = ev.reused?.has(i) === true;
      const key = alertKey(reused ? flagReusedAuditId(r.record) : r.record);
      if (keys.has(key)) continue;
      keys.add(key);
      high.push(reused && this.alerts !== null ? flagged(r) : r);
    }
    if (this.alerts !== null) {
      if (high.length > 0) {
        const al = await this.alerts.write(high.map((r) => new AlertRecord(r, this.describeRule)));
        alertsSent = high.length - al.refused.size;
        alertsRefused.push(...al.refused.values());
      }
    } else if (this.alertsName === this.events.name) {
      alertsSent = high.length;
    }
    return { duplicates: ev.duplicates, refused: ev.refused, ...(ev.reused ? { reused: ev.reused } : {}), alertsSent, alertsRefused };
  }

  /** Closes both sinks. */
  async close(): Promise<void> {
    await Promise.all([this.events.close(), this.alerts?.close()]);
  }
}

/**
 * An alert as the alerts sink sends it: the record with `finding`, its OCSF 1.8.0 Detection
 * Finding (2004), added as the last key. Built only when a sink reads it.
 */
class AlertRecord implements OutgoingRecord {
  #json: string | undefined;
  #compact: RecordPayload | null | undefined;
  constructor(
    private readonly base: OutgoingRecord,
    private readonly describe: RuleLookup | undefined,
  ) {}

  get record(): NormalisedRecord {
    return this.base.record;
  }

  get json(): string {
    this.#json ??= withFinding(this.base.json, this.base.record, this.describe);
    return this.#json;
  }

  get bytes(): number {
    return Buffer.byteLength(this.json, 'utf8');
  }

  get compact(): RecordPayload | undefined {
    if (this.#compact === undefined) {
      const c = this.base.compact;
      if (c === undefined) this.#compact = null;
      else {
        const json = withFinding(c.json, c.record, this.describe);
        this.#compact = { record: c.record, json, bytes: Buffer.byteLength(json, 'utf8') };
      }
    }
    return this.#compact ?? undefined;
  }
}

/**
 * A record with its JSON and UTF-8 size, for a sink with a record limit. serialiseRecord reuses
 * the text the normaliser wrote for the event; it cuts (never loses) an event nested too deep
 * for JSON.stringify.
 */
export function recordPayload(record: NormalisedRecord): RecordPayload {
  const json = serialiseRecord(record);
  return { record, json, bytes: Buffer.byteLength(json, 'utf8') };
}

/** A record as a store that flagged it `reused-audit-id` keeps it, and its compact form likewise. */
function flagged(o: OutgoingRecord): OutgoingRecord {
  const full = recordPayload(flagReusedAuditId(o.record));
  return o.compact === undefined ? full : { ...full, compact: recordPayload(flagReusedAuditId(o.compact.record)) };
}

function withFinding(json: string, record: NormalisedRecord, describe: RuleLookup | undefined): string {
  return `${json.slice(0, json.lastIndexOf('}'))},"finding":${JSON.stringify(toDetectionFinding(record, describe))}}`;
}
