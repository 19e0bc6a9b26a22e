import type { AuditEvent, Detection, NormalisedRecord, RuleError } from '../audit/index.js';
import { decideEventSeverity, normaliseAuditEvent, TRUNCATED_ANNOTATION, withoutBodies } from '../audit/index.js';
import { isJsonObject } from '../json.js';
import { countRuleErrors, type RuleErrorLog, ruleErrorLine } from '../rules/error-log.js';
import { type EventText, eventBytes, eventString, type JoinedLines, readAuditId, withoutJoins } from '../ship/index.js';
import { checkLine, joinLines, listedLines, type OutgoingLine, type OversizeLine, type SplitLines } from './lines.js';

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
export type TailShipFn = (lines: JoinedLines, how?: { alone?: boolean }) => Promise<TailShipResult>;

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
  /** Logs the rules that could not evaluate an event as the ingest does, once per rule per minute (kept across polls). */
  ruleErrorLog?: RuleErrorLog;
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
  /** Events the ingest would not take whole nor without their bodies: passed over. */
  oversizeEvents: number;
  /** Events the ingest would not take whole, delivered without their bodies (also in `delivered`). */
  truncatedEvents: number;
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
  const overCap: OversizeLine[] = [];
  for (const s of split.skipped) {
    if (s.kind === 'invalid') {
      invalid++;
      passOver.invalid(s.offset, s.reason, s.auditID);
    } else overCap.push(s);
  }
  let lines = split.lines;
  let settled: Settled = { accepted: 0, firstReason: null, tooLarge: new Set(), rejected: 0 };
  if (lines.length > 0) {
    settled = await shipAll(ctx.ship, joinLines(ctx.buf, lines));
    if (settled.firstReason?.status === 400 && lines.slice(settled.accepted).some((l) => l.event === undefined)) {
      const from = settled.accepted;
      const rest: OutgoingLine[] = [];
      // Lines passed over, and lines whose events were read out of them (a list, or an event
      // appended to a line its writer did not finish: lines.ts `checkLine`).
      let passed = 0;
      let readOut = 0;
      for (const line of lines.slice(from)) {
        if (line.event !== undefined) {
          rest.push(line);
          continue;
        }
        const checked = checkLine(eventString(line.data));
        if (checked.items !== undefined) {
          const listed = listedLines(checked.items, line.offset, checked.unreadable);
          rest.push(...listed.lines);
          readOut++;
          for (const skip of listed.skipped) {
            invalid++;
            passed++;
            passOver.invalid(skip.offset, skip.reason, skip.auditID);
          }
          continue;
        }
        if (checked.event === undefined) {
          invalid++;
          passed++;
          passOver.invalid(line.offset, checked.reason, checked.auditID);
          continue;
        }
        rest.push({ ...line, event: checked.event });
      }
      if (passed > 0 || readOut > 0) {
        log({
          level: 'warn',
          msg: 'the ingest answered 400 for a batch holding lines that are not audit events; passed over them (or read the events out of them) and sent the rest again',
          file,
          passed_over: passed,
          ...(readOut > 0 ? { events_read_out_of: readOut } : {}),
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
  }
  passOver.done();

  const { accepted, firstReason, tooLarge } = settled;
  const refusedWhole = [...tooLarge].filter((i) => i < accepted);
  // Items the ingest rejected one by one were shipped unchecked and are not usable events:
  // counted as invalid (lib/ship logged the ingest's reasons), not as delivered.
  invalid += settled.rejected;
  let delivered = accepted - refusedWhole.length - settled.rejected;
  const ruleErrors: RuleError[] = [];
  const alerts = ctx.alerts === undefined ? [] : highAlerts(lines.slice(0, accepted), tooLarge, ctx, ruleErrors);
  let undelivered = lines.length - accepted;
  let stop: { offset: number; reason: string; status?: number } | null =
    accepted === lines.length
      ? null
      : {
          offset: (lines[accepted] as OutgoingLine).offset,
          reason: firstReason?.reason ?? 'unknown',
          ...(firstReason?.status === undefined ? {} : { status: firstReason.status }),
        };

  // Events the ingest would not take whole are never simply passed over (a security pipeline must
  // not lose a call): those over the shipper's body cap go out alone, in a body of their own size,
  // up to the ingest's own cap; one the ingest refuses with a 413 goes out again without its
  // request and response bodies. In file order, before the point the batches stopped at, and the
  // first that cannot be delivered stops the cursor there.
  const whole: WholeEvent[] = [
    ...overCap.map((o) => ({ offset: o.offset, data: o.data, bytes: o.bytes, auditID: o.auditID, triedAlone: false })),
    ...refusedWhole.map((i) => {
      const l = lines[i] as OutgoingLine;
      return {
        offset: l.offset,
        data: l.data,
        bytes: eventBytes(l.data),
        auditID: l.event?.auditID ?? readAuditId(eventString(l.data)),
        triedAlone: true,
      };
    }),
  ]
    .filter((w) => stop === null || w.offset < stop.offset)
    .sort((a, b) => a.offset - b.offset);
  let oversizeEvents = 0;
  let truncatedEvents = 0;
  for (const w of whole) {
    const out = await deliverWhole(w, ctx);
    if (out.kind === 'failed') {
      undelivered++;
      stop = { offset: w.offset, reason: out.reason, ...(out.status === undefined ? {} : { status: out.status }) };
      break;
    }
    if (out.kind === 'rejected') invalid++;
    else if (out.kind === 'passed-over') oversizeEvents++;
    else if ('sent' in out) {
      delivered++;
      if (out.kind === 'truncated') truncatedEvents++;
      // Scored on what the ingest received (without its bodies when cut), as any delivered event.
      const alert = ctx.alerts === undefined ? null : alertOfSent(out.sent, ctx.alerts, ctx.now(), ruleErrors);
      if (alert !== null) alerts.push(alert);
    }
  }

  if (ruleErrors.length > 0 && ctx.alerts !== undefined) logRuleErrors(ruleErrors, ctx.alerts, ctx);
  const counts = { delivered, invalid, oversizeEvents, truncatedEvents, undelivered, alerts };
  if (stop === null) return { consumed: ctx.end, failed: false, error: null, ...counts };
  const error = `the ingest did not accept ${undelivered} event(s) from ${file} at byte ${stop.offset}: ${stop.reason}${
    stop.status === undefined ? '' : ` (HTTP ${stop.status})`
  }`;
  log({
    level: 'error',
    msg: 'delivery stopped; the cursor stays before the first event not accepted',
    file,
    offset: stop.offset,
    error,
  });
  return { consumed: stop.offset - ctx.base, failed: true, error, ...counts };
}

/** An event the batches could not carry: over the body cap, or refused by the ingest's 413 on its own. */
interface WholeEvent {
  offset: number;
  data: EventText;
  bytes: number;
  auditID: string | undefined;
  /** The ingest already answered 413 for it alone. */
  triedAlone: boolean;
}

type Failed = { kind: 'failed'; reason: string; status?: number };
type SentAlone = { kind: 'ok' | 'rejected' } | Failed | { kind: 'too-large'; reason: string; status?: number };

/** Ships one event in a body of its own. */
async function sendAlone(ship: TailShipFn, data: EventText): Promise<SentAlone> {
  let res: TailShipResult;
  try {
    res = await ship(withoutJoins([data]), { alone: true });
  } catch (err) {
    return { kind: 'failed', reason: (err as Error).message };
  }
  const f = res.failed[0];
  if (f === undefined) {
    if (res.delivered < 1) return { kind: 'failed', reason: 'the ingest did not confirm this event' };
    return { kind: (res.rejected ?? 0) > 0 ? 'rejected' : 'ok' };
  }
  const answer = { reason: f.reason, ...(f.status === undefined ? {} : { status: f.status }) };
  return f.status === 413 && !f.retryable ? { kind: 'too-large', ...answer } : { kind: 'failed', ...answer };
}

/**
 * The line's event without its request and response bodies (`withoutBodies`), as JSON; null when
 * the line has neither to drop (or is not a JSON object).
 */
function textWithoutBodies(data: EventText): string | null {
  let v: unknown;
  try {
    v = JSON.parse(eventString(data));
  } catch {
    return null;
  }
  if (!isJsonObject(v) || (!('requestObject' in v) && !('responseObject' in v))) return null;
  return JSON.stringify(withoutBodies(v as AuditEvent));
}

type SentWholeOrCut =
  | { kind: 'whole' | 'truncated'; cut: boolean; reason?: string; sent: EventText }
  | { kind: 'rejected'; cut: boolean; reason?: string }
  | { kind: 'passed-over'; reason: string }
  | Failed;

/**
 * Sends one event in a body of its own, then, if the ingest refuses that as too large (413), its
 * event without the request and response bodies (`textWithoutBodies`); `triedAlone` skips the
 * first send when the ingest already refused the event alone. `passed-over` when even the cut
 * event is refused; `reason` is the last refusal's.
 */
async function sendWholeOrCut(ship: TailShipFn, data: EventText, triedAlone: boolean): Promise<SentWholeOrCut> {
  let reason = 'the ingest refused it as too large (413)';
  if (!triedAlone) {
    const alone = await sendAlone(ship, data);
    if (alone.kind === 'failed') return alone;
    if (alone.kind !== 'too-large')
      return alone.kind === 'ok' ? { kind: 'whole', cut: false, sent: data } : { kind: 'rejected', cut: false };
    reason = alone.reason;
  }
  const cut = textWithoutBodies(data);
  if (cut !== null) {
    const sent = await sendAlone(ship, cut);
    if (sent.kind === 'failed') return sent;
    if (sent.kind !== 'too-large')
      return sent.kind === 'ok' ? { kind: 'truncated', cut: true, reason, sent: cut } : { kind: 'rejected', cut: true, reason };
    reason = sent.reason;
  }
  return { kind: 'passed-over', reason };
}

/**
 * Delivers one event the batches could not carry: whole if the ingest takes it (alone), else
 * without its bodies; passed over only when even that is refused, logged with where it is in
 * the file so the operator can still find it there. Never logs the event's content.
 */
async function deliverWhole(
  w: WholeEvent,
  ctx: DeliveryContext,
): Promise<{ kind: 'whole' | 'truncated'; sent: EventText } | { kind: 'rejected' | 'passed-over' } | Failed> {
  const where = { file: ctx.file, offset: w.offset, bytes: w.bytes, ...(w.auditID === undefined ? {} : { auditID: w.auditID }) };
  const out = await sendWholeOrCut(ctx.ship, w.data, w.triedAlone);
  if (out.kind === 'failed') return out;
  if (out.kind === 'passed-over') {
    ctx.log({
      level: 'error',
      msg: 'the ingest would not take an event even without its request and response bodies; passed over (it stays in the audit log at this offset)',
      ...where,
      reason: out.reason,
    });
  } else if (!out.cut) {
    ctx.log({ level: 'info', msg: 'an event larger than one batch body went out in a body of its own', ...where });
  } else {
    ctx.log({
      level: 'warn',
      msg: `the ingest would not take an event whole; delivered it without its requestObject and responseObject, annotated ${TRUNCATED_ANNOTATION}`,
      ...where,
      reason: out.reason,
    });
  }
  return out.kind === 'whole' || out.kind === 'truncated' ? { kind: out.kind, sent: out.sent } : { kind: out.kind };
}

/**
 * Delivers the event salvaged from the first bytes of a line longer than the per-poll cap
 * (`salvageOverCapLine`), alone, and without its bodies if the ingest refuses it as too large (a
 * complete requestObject may precede the cut). `passed-over` when even that is refused.
 */
export async function deliverSalvaged(
  text: string,
  ship: TailShipFn,
): Promise<{ kind: 'delivered'; sent: EventText } | { kind: 'rejected' | 'passed-over'; reason?: string } | Failed> {
  const out = await sendWholeOrCut(ship, text, false);
  if (out.kind === 'failed' || out.kind === 'passed-over') return out;
  return out.kind === 'rejected' ? { kind: 'rejected' } : { kind: 'delivered', sent: out.sent };
}

/**
 * The alert of one event delivered on its own (salvaged from a cut line, sent alone, or without
 * its bodies): the record the ingest makes of the text it received when that is high, else null.
 * So such an event reaches `fetch_alerts` as an event delivered in a batch does (`highAlerts`).
 */
export function alertOfSent(sent: EventText, alerts: AlertsContext, receivedAt: number, ruleErrors?: RuleError[]): NormalisedRecord | null {
  const { event } = checkLine(eventString(sent));
  if (event === undefined || decideEventSeverity(event, alerts.detection, ruleErrors).severity !== 'high') return null;
  const record = normaliseAuditEvent(event, alertContext(alerts, receivedAt));
  return record.severity === 'high' ? record : null;
}

/** The normalising context of a poll's alerts. */
function alertContext({ tenantId, clusterName, detection }: AlertsContext, receivedAt: number) {
  return {
    tenantId,
    clusterName,
    receivedAt,
    source: { platform: 'kubernetes' as const },
    ...(detection === undefined ? {} : { detection }),
  };
}

/**
 * The poll's rule errors (scoring its events for alerts, as the ingest scores them) logged as the
 * ingest logs them: rule id, kind and count, each rule at most once a minute, no event value.
 */
function logRuleErrors(errors: readonly RuleError[], alerts: AlertsContext, ctx: DeliveryContext): void {
  const counts = countRuleErrors(errors);
  const due = alerts.ruleErrorLog === undefined ? counts : alerts.ruleErrorLog.due(counts, ctx.now());
  for (const c of due) {
    ctx.log(
      ruleErrorLine(
        alerts.tenantId,
        c,
        'the event was scored for alerts without this rule, at least its row of the severity table; this line is logged once a minute per rule',
      ),
    );
  }
}

/** The delivered lines' high-severity events, normalised (the connector's PULL_ALERTS). */
function highAlerts(
  delivered: readonly OutgoingLine[],
  tooLarge: ReadonlySet<number>,
  ctx: DeliveryContext,
  ruleErrors: RuleError[],
): NormalisedRecord[] {
  const { detection } = ctx.alerts as AlertsContext;
  const context = alertContext(ctx.alerts as AlertsContext, ctx.now());
  const out: NormalisedRecord[] = [];
  delivered.forEach((line, i) => {
    if (line.event === undefined || tooLarge.has(i) || decideEventSeverity(line.event, detection, ruleErrors).severity !== 'high') return;
    const record = normaliseAuditEvent(line.event, context);
    if (record.severity === 'high') out.push(record);
  });
  return out;
}
