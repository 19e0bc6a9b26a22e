import type { Detection, NormalisedRecord } from '../audit/index.js';
import { decideEventSeverity, normaliseAuditEvent } from '../audit/index.js';
import { eventBytes, eventString, type JoinedLines } from '../ship/index.js';
import { checkLine, joinLines, listedLines, type OutgoingLine, type SplitLines } from './lines.js';

// Delivery: the lines of one read go out through lib/ship, batches in file order (several may be
// in flight at once), and the answer becomes how far the cursor may move, what was passed over,
// and the alerts of what was delivered.

/** Invalid lines logged one by one per read; the rest only counted, so a garbage file cannot flood the log. */
const INVALID_LINES_LOGGED = 20;

/** What the tailer needs from the shipper: the `lib/ship` `ShipResult` fields it reads. */
export interface TailShipResult {
  delivered: number;
  failed: readonly { index: number; reason: string; status?: number; auditID?: string; retryable: boolean }[];
  /** Items of delivered batches the ingest rejected one by one (JSON, but not a usable audit Event). */
  rejected?: number;
}

/**
 * Ships events in order, stopping at the first failure. Each is one line of the file: its bytes
 * as read (valid UTF-8), or its decoded text when the bytes are not valid UTF-8; runs of lines
 * that lie comma-joined in the read buffer are claimed as such (`JoinedLines`).
 */
export type TailShipFn = (lines: JoinedLines) => Promise<TailShipResult>;

/** Where the lines come from and where they go. */
export interface DeliveryContext {
  /** The read buffer the lines are views of (the separators between them become commas). */
  buf: Buffer;
  /** Bytes of `buf` the lines cover (whole lines), and the file offset of `buf[0]`. */
  end: number;
  base: number;
  file: string;
  ship: TailShipFn;
  log: (entry: Record<string, unknown>) => void;
  /** When set, the delivered high-severity events come back normalised (PULL_ALERTS). */
  alerts?: AlertsContext | undefined;
  now: () => number;
}

/** Whose the alerts of a poll are, and how its events are scored (default: the refined table and the shipped pack). */
export interface AlertsContext {
  tenantId: string | null;
  clusterName: string | null;
  /** K8S_AUDIT_SEVERITY and K8S_AUDIT_RULES as the command read them (`loadDetection`). */
  detection?: Detection;
}

/** What delivering one read's lines came to. */
export interface Delivery {
  /** Bytes of the read the cursor may move past: everything up to the first event not accepted. */
  consumed: number;
  /** True when an event was not accepted: the poll stops there. */
  failed: boolean;
  delivered: number;
  /** Lines passed over as not JSON or not a valid audit Event (here, after a 400, or by the ingest item by item). */
  invalid: number;
  /** Events passed over as too large for one request body (here, or by the ingest's 413). */
  oversizeEvents: number;
  /** Valid events the ingest did not accept: read again next poll. */
  undelivered: number;
  error: string | null;
  alerts: NormalisedRecord[];
}

/** How far a shipment got: the first line not accepted (or all), why, and lines refused as too large on their own. */
interface Settled {
  accepted: number;
  firstReason: { reason: string; status?: number } | null;
  tooLarge: Set<number>;
  rejected: number;
}

/**
 * Ships the lines and reads back how far delivery got: the first line not accepted, except lines
 * the ingest refused as too large on their own (413 for a single event), which no resend can deliver.
 */
async function shipAll(ship: TailShipFn, lines: JoinedLines): Promise<Settled> {
  let accepted = lines.events.length;
  let firstReason: Settled['firstReason'] = null;
  const tooLarge = new Set<number>();
  let rejected = 0;
  try {
    const res = await ship(lines);
    for (const f of res.failed) {
      if (f.status === 413 && f.retryable === false) {
        tooLarge.add(f.index);
        continue;
      }
      if (f.index < accepted) {
        accepted = f.index;
        firstReason = { reason: f.reason, ...(f.status === undefined ? {} : { status: f.status }) };
      }
    }
    if (res.failed.length === 0 && res.delivered < lines.events.length) {
      accepted = res.delivered;
      firstReason = { reason: 'the ingest did not confirm these events' };
    }
    rejected = res.rejected ?? 0;
  } catch (err) {
    accepted = 0;
    firstReason = { reason: (err as Error).message };
  }
  return { accepted, firstReason, tooLarge, rejected };
}

/** The log of a read's invalid lines: the first INVALID_LINES_LOGGED one by one, how many more at the end. */
function passOverLog(
  file: string,
  log: DeliveryContext['log'],
): { invalid: (offset: number, reason: string, auditID?: string) => void; done: () => void } {
  let invalidLogged = 0;
  return {
    invalid(offset: number, reason: string, auditID?: string): void {
      if (invalidLogged++ < INVALID_LINES_LOGGED) {
        log({ level: 'warn', msg: 'line passed over', reason, file, offset, ...(auditID === undefined ? {} : { auditID }) });
      }
    },
    done(): void {
      if (invalidLogged > INVALID_LINES_LOGGED) {
        log({ level: 'warn', msg: 'more lines passed over than logged', file, not_logged: invalidLogged - INVALID_LINES_LOGGED });
      }
    },
  };
}

/**
 * Delivers one read's lines in order and says how far the cursor may move. A 400 for a batch
 * holding lines shipped unchecked is most likely one of them not being JSON, which makes the whole
 * EventList unreadable: those lines are then checked, the bad ones passed over and the rest sent
 * again once; a second 400 is about the request itself and stops the poll.
 */
export async function deliverLines(split: SplitLines, ctx: DeliveryContext): Promise<Delivery> {
  const { file, log } = ctx;
  const passOver = passOverLog(file, log);
  let invalid = 0;
  let oversizeEvents = 0;
  for (const s of split.skipped) {
    if (s.kind === 'invalid') {
      invalid++;
      passOver.invalid(s.offset, s.reason, s.auditID);
    } else {
      oversizeEvents++;
      log({
        level: 'warn',
        msg: 'event is larger than one request body may be; passed over',
        file,
        offset: s.offset,
        auditID: s.auditID,
        bytes: s.bytes,
      });
    }
  }
  const nothing = { consumed: ctx.end, failed: false, delivered: 0, undelivered: 0, error: null, alerts: [] };
  let lines = split.lines;
  if (lines.length === 0) {
    passOver.done();
    return { ...nothing, invalid, oversizeEvents };
  }

  let settled = await shipAll(ctx.ship, joinLines(ctx.buf, lines));
  if (settled.firstReason?.status === 400 && lines.slice(settled.accepted).some((l) => l.event === undefined)) {
    const from = settled.accepted;
    const rest: OutgoingLine[] = [];
    for (const line of lines.slice(from)) {
      if (line.event !== undefined) {
        rest.push(line);
        continue;
      }
      const checked = checkLine(eventString(line.data));
      if (checked.items !== undefined) {
        const listed = listedLines(checked.items, line.offset);
        rest.push(...listed.lines);
        for (const skip of listed.skipped) {
          invalid++;
          passOver.invalid(skip.offset, skip.reason, skip.auditID);
        }
        continue;
      }
      if (checked.event === undefined) {
        invalid++;
        passOver.invalid(line.offset, checked.reason, checked.auditID);
        continue;
      }
      rest.push({ ...line, event: checked.event });
    }
    if (rest.length < lines.length - from) {
      log({
        level: 'warn',
        msg: 'the ingest answered 400 for a batch holding lines that are not audit events; passed over them and sent the rest again',
        file,
        passed_over: lines.length - from - rest.length,
      });
      const again = await shipAll(ctx.ship, joinLines(ctx.buf, rest));
      const tooLarge = new Set([...settled.tooLarge].filter((i) => i < from));
      for (const i of again.tooLarge) tooLarge.add(from + i);
      settled = {
        accepted: from + again.accepted,
        firstReason: again.firstReason,
        tooLarge,
        rejected: settled.rejected + again.rejected,
      };
      lines = [...lines.slice(0, from), ...rest];
    }
  }
  passOver.done();
  if (lines.length === 0) return { ...nothing, invalid, oversizeEvents };

  const { accepted, firstReason, tooLarge } = settled;
  let refused = 0;
  for (const i of tooLarge) {
    if (i >= accepted) continue;
    refused++;
    oversizeEvents++;
    log({
      level: 'warn',
      msg: 'the ingest refused an event as too large (413); passed over',
      file,
      offset: lines[i]?.offset,
      bytes: eventBytes((lines[i] as OutgoingLine).data),
    });
  }
  // Items the ingest rejected one by one were shipped unchecked and are not usable events:
  // counted as invalid (lib/ship logged the ingest's reasons), not as delivered.
  invalid += settled.rejected;
  const delivered = accepted - refused - settled.rejected;
  const alerts = ctx.alerts === undefined ? [] : highAlerts(lines.slice(0, accepted), tooLarge, ctx);
  if (accepted === lines.length) return { ...nothing, invalid, oversizeEvents, delivered, alerts };

  const undelivered = lines.length - accepted;
  const stoppedAt = (lines[accepted] as OutgoingLine).offset;
  const error = `the ingest did not accept ${undelivered} event(s) from ${file} at byte ${stoppedAt}: ${firstReason?.reason ?? 'unknown'}${
    firstReason?.status === undefined ? '' : ` (HTTP ${firstReason.status})`
  }`;
  log({
    level: 'error',
    msg: 'delivery stopped; the cursor stays before the first event not accepted',
    file,
    offset: stoppedAt,
    error,
  });
  return { consumed: stoppedAt - ctx.base, failed: true, delivered, invalid, oversizeEvents, undelivered, error, alerts };
}

/** The delivered lines' high-severity events, normalised (the connector's PULL_ALERTS). */
function highAlerts(delivered: readonly OutgoingLine[], tooLarge: ReadonlySet<number>, ctx: DeliveryContext): NormalisedRecord[] {
  const { tenantId, clusterName, detection } = ctx.alerts as AlertsContext;
  const context = {
    tenantId,
    clusterName,
    receivedAt: ctx.now(),
    source: { platform: 'kubernetes' as const },
    ...(detection === undefined ? {} : { detection }),
  };
  const out: NormalisedRecord[] = [];
  delivered.forEach((line, i) => {
    if (line.event === undefined || tooLarge.has(i) || decideEventSeverity(line.event, detection).severity !== 'high') return;
    const record = normaliseAuditEvent(line.event, context);
    if (record.severity === 'high') out.push(record);
  });
  return out;
}
