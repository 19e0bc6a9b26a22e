import type { AuditEvent, AuditSource, ParsedPayload, RejectedItem } from '../audit/index.js';
import { skipWs } from '../audit/json-bytes.js';
import { isJsonObject } from '../json.js';
import { decodeLogsData, openLogsData, readForwarderEvent, UnsupportedEventError } from './decode.js';
import { clusterFromLogGroup, DEFAULT_AUDIT_STREAM_PREFIX, isAuditStream } from './eks.js';
import type { PayloadView } from './envelope.js';
import { gzipMembers, splitJsonObjects, startsPayload } from './firehose.js';
import { checkAuditLine } from './lines.js';
import type { EncodedPayload, LogEvent } from './types.js';

/** The audit events of a saved forwarder event, with where they came from and what the input was. */
export interface SubscriptionFileContents {
  parsed: ParsedPayload;
  source: AuditSource;
  clusterName: string | null;
  /** What the input was recognised as, for the user ("a CloudWatch Logs subscription Lambda event (1 payload)"). */
  shape: string;
  /**
   * For a Firehose object: its events and rejected items, read one payload at a time when
   * called (`parsed` is then empty), so an object of a million events is never held whole.
   */
  stream?: () => Iterable<ReadItem>;
}

/** One subscription payload found in a file: still encoded (base64, gzip) or already decoded JSON. */
interface FoundPayload {
  encoded: EncodedPayload;
}

/** What one JSON document of a file holds, when it is a subscription shape. */
type Found = { payloads: FoundPayload[]; kind: 'event' | 'kinesis' | 'raw' | 'decoded' };

// Base64 as `awslogs.data` holds it (standard or URL-safe alphabet, padded or not) of gzip
// (1f 8b 08: "H4sI") or of the JSON itself ('{"': "eyJ"), so a word is never taken for one.
const BASE64 = /^(?:H4sI|eyJ)[A-Za-z0-9+/_-]{12,}={0,2}$/;

// The first key of a Lambda event, a Kinesis event or a decoded payload, alone, in an array, or
// as the first of JSON lines; or an array of base64 strings.
const SNIFF = /^\[?\s*(?:\{\s*"(?:awslogs|Records|messageType|owner|logGroup|logStream|subscriptionFilters|logEvents)"\s*:|"(?:H4sI|eyJ))/;

/** A document that is a subscription shape, or null: a Lambda event, a Kinesis event, a decoded payload, a base64 string. */
function classify(doc: unknown): Found | null {
  if (isJsonObject(doc) && (isJsonObject(doc.awslogs) || Array.isArray(doc.Records))) {
    let shape: ReturnType<typeof readForwarderEvent>;
    try {
      shape = readForwarderEvent(doc);
    } catch (err) {
      if (err instanceof UnsupportedEventError) return null;
      throw err;
    }
    return { kind: shape.kind === 'awslogs' ? 'event' : 'kinesis', payloads: shape.payloads.map((encoded) => ({ encoded })) };
  }
  // The decoded payload (CloudWatch Logs User Guide, "Subscription filters"): read again from its
  // own JSON by the forwarder's decoder, so both paths check the same shape.
  if (isJsonObject(doc) && typeof doc.messageType === 'string' && Array.isArray(doc.logEvents)) {
    return { kind: 'decoded', payloads: [{ encoded: { data: Buffer.from(JSON.stringify(doc), 'utf8') } }] };
  }
  if (typeof doc === 'string' && BASE64.test(doc.trim())) return { kind: 'raw', payloads: [{ encoded: { data: doc } }] };
  return null;
}

/** Every document of an array (one level), or the document itself, as subscription shapes; null if any one is not. */
function classifyAll(doc: unknown): Found[] | null {
  const docs = Array.isArray(doc) ? doc : [doc];
  if (docs.length === 0) return null;
  const out: Found[] = [];
  for (const d of docs) {
    const found = classify(d);
    if (found === null) return null;
    out.push(found);
  }
  return out;
}

// Each shape's name, alone and counted.
const KIND_NAMES: Record<Found['kind'], { one: string; many: string }> = {
  event: { one: 'a CloudWatch Logs subscription Lambda event', many: 'CloudWatch Logs subscription Lambda events' },
  kinesis: { one: 'a Kinesis event of CloudWatch Logs payloads', many: 'Kinesis events of CloudWatch Logs payloads' },
  raw: {
    one: 'a raw CloudWatch Logs subscription payload (base64 of gzip, as in awslogs.data)',
    many: 'raw CloudWatch Logs subscription payloads (base64 of gzip, as in awslogs.data)',
  },
  decoded: {
    one: 'a decoded CloudWatch Logs subscription payload (the JSON with logEvents)',
    many: 'decoded CloudWatch Logs subscription payloads (the JSON with logEvents)',
  },
};

/** What the file was, in words: the shape and its container; the caller adds the counts. */
function describe(found: Found[], container: 'array' | 'lines' | 'one' | 'gzip'): string {
  if (container === 'gzip') return 'the gzip bytes of a CloudWatch Logs subscription payload (awslogs.data, base64-decoded)';
  const kinds = [...new Set(found.map((f) => f.kind))];
  if (container === 'one') return KIND_NAMES[kinds[0] as Found['kind']].one;
  const names = kinds.map((k) => KIND_NAMES[k].many).join(' and ');
  return `${container === 'array' ? 'a JSON array of' : 'one per line:'} ${found.length} ${names}`;
}

/**
 * Reads what people save of a CloudWatch Logs subscription into the audit events inside: the
 * Lambda event (`{"awslogs":{"data":...}}`) or a Kinesis event of payloads, the raw payload
 * (`awslogs.data`: base64 of gzip, or the gzip bytes), the decoded payload (the JSON with
 * `logEvents`), an array of these, or one per line. Returns null for anything else (left to the
 * audit parser). Decoding is the forwarder's own (`decodeLogsData`). In an EKS log group only the
 * apiserver audit streams are read; in other groups every line must be an audit event. Lines
 * that are not become `rejected` items, with the auditID when one can be read.
 */
export function readSubscriptionFile(bytes: Uint8Array | string): SubscriptionFileContents | null {
  const buf = typeof bytes === 'string' ? null : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf !== null && buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    // The first member inflated once, here: whether the object holds subscription payloads at all.
    const first = gzipMembers(buf).next().value;
    if (first === undefined || !('data' in first)) return readPayloads([{ kind: 'raw', payloads: [{ encoded: { data: buf } }] }], 'gzip');
    // A gzip that holds no subscription payload (an apiserver's rotated audit.log.gz, a Firehose
    // object of extracted messages): not a subscription shape; what it holds is read by the caller.
    if (!startsPayload(first.data, skipWs(first.data, 0))) return null;
    return readFirehoseGzip(buf);
  }
  const text = (buf === null ? (bytes as string) : buf.toString('utf8')).replace(/^\uFEFF/, '');
  const trimmed = text.trim();
  if (trimmed === '') return null;
  // The raw payload: one base64 text, or one per line.
  const lines = trimmed.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.every((l) => BASE64.test(l.trim()))) {
    return readPayloads(
      lines.map((l) => ({ kind: 'raw' as const, payloads: [{ encoded: { data: l.trim() } }] })),
      lines.length === 1 ? 'one' : 'lines',
    );
  }
  // Only what starts like a subscription shape is parsed here: an EventList is parsed once, by the audit parser.
  if (!SNIFF.test(trimmed.slice(0, 256))) return null;
  let whole: unknown;
  try {
    whole = JSON.parse(trimmed);
  } catch {
    // JSON lines of subscription shapes, or not a subscription shape at all.
    const docs: unknown[] = [];
    for (const l of lines) {
      try {
        docs.push(JSON.parse(l));
      } catch {
        // Decoded payloads one after another (Firehose with decompression): `}{` or a line each.
        return buf !== null && startsPayload(buf, skipWs(buf, buf[0] === 0xef ? 3 : 0)) ? readFirehoseDecoded(buf) : null;
      }
    }
    const found = docs.map(classify);
    if (found.some((f) => f === null)) return null;
    return readPayloads(found as Found[], 'lines');
  }
  const found = classifyAll(whole);
  if (found === null) return null;
  return readPayloads(found, Array.isArray(whole) ? 'array' : 'one');
}

function readPayloads(found: Found[], container: 'array' | 'lines' | 'one' | 'gzip'): SubscriptionFileContents {
  const all = found.flatMap((f) => f.payloads);
  return readItems(all, (n) => `${describe(found, container)}: ${plural(n, 'payload')}`);
}

/** One payload to read, with where it is in the input for the user; or a part of the input that holds none, and why. */
type PayloadItem = { encoded: EncodedPayload; where?: string } | { error: string };

function plural(n: number, one: string): string {
  return `${n} ${one}${n === 1 ? '' : 's'}`;
}

/** What the payloads read so far hold, for the line that says what the input was. */
interface Tally {
  payloads: number;
  controls: number;
  logGroups: Set<string>;
  clusterName: string | null;
  source: AuditSource;
}

function newTally(): Tally {
  return { payloads: 0, controls: 0, logGroups: new Set(), clusterName: null, source: { platform: 'eks' } };
}

/** One audit event of the input with its item index, or an item rejected. */
export type ReadItem = { event: AuditEvent; index: number } | { rejected: RejectedItem };

/**
 * Reads payloads one at a time, through the forwarder's decoder, into their audit events and
 * rejected items, counting into `tally`. With `eventsToo` false only the envelopes are read (for
 * the counts, before a stream of events is read a second time).
 */
function* readEvents(items: Iterable<PayloadItem>, tally: Tally, eventsToo = true): Generator<ReadItem> {
  let index = 0;
  for (const item of items) {
    if ('error' in item) {
      yield { rejected: { index: index++, reason: item.error } };
      continue;
    }
    const { encoded, where } = item;
    const at = tally.payloads++;
    let payload: Pick<PayloadView, 'messageType' | 'owner' | 'logGroup' | 'logStream'>;
    let logEvents: LogEvent[] = [];
    try {
      if (eventsToo) {
        // All of one payload's events, or none: a payload whose envelope is broken is rejected whole.
        const decoded = decodeLogsData(encoded.data);
        payload = decoded;
        logEvents = decoded.logEvents;
      } else payload = openLogsData(encoded.data);
    } catch (err) {
      yield { rejected: { index: index++, reason: `payload ${at}${where === undefined ? '' : ` (${where})`}: ${(err as Error).message}` } };
      continue;
    }
    if (payload.messageType === 'CONTROL_MESSAGE') tally.controls++;
    if (payload.messageType !== 'DATA_MESSAGE') continue;
    tally.logGroups.add(payload.logGroup);
    const cluster = clusterFromLogGroup(payload.logGroup);
    if (cluster !== null && !isAuditStream(payload.logStream, DEFAULT_AUDIT_STREAM_PREFIX)) continue;
    tally.clusterName ??= cluster;
    if (tally.source.accountId === undefined && payload.owner !== '') tally.source.accountId = payload.owner;
    if (tally.source.region === undefined && encoded.region !== undefined) tally.source.region = encoded.region;
    for (const e of logEvents) {
      const at = index++;
      // With the log event's time, as the forwarder and backfill read it: a line cut at the event-size
      // limit comes out salvaged here too (flagged audit.k8s.io/truncated), so `normalise` on a saved
      // payload gives the records the forwarder would have sent.
      const verdict = checkAuditLine(e.message, e.timestamp);
      if (verdict.kind === 'event' || verdict.kind === 'salvaged') {
        yield { event: JSON.parse(verdict.kind === 'event' ? e.message : verdict.text) as AuditEvent, index: at };
        continue;
      }
      const reason =
        verdict.kind === 'invalid'
          ? `${payload.logStream} event ${e.id}: ${verdict.reason}`
          : `${payload.logStream} event ${e.id}: line truncated by EKS ([Truncated...])`;
      const rejected: RejectedItem = { index: at, reason };
      if (verdict.auditID !== undefined) rejected.auditID = verdict.auditID;
      yield { rejected };
    }
  }
}

/** The line that says what the input was: the shape, CONTROL_MESSAGEs passed over, the log groups. */
function shapeLine(tally: Tally, shape: (payloads: number) => string): string {
  // CloudWatch Logs' health checks of a new destination carry no log data: passed over, as the forwarder does, and counted.
  const controlNote = tally.controls === 0 ? '' : `, ${plural(tally.controls, 'CONTROL_MESSAGE')} skipped`;
  return `${shape(tally.payloads)}${controlNote}${groupsNote([...tally.logGroups], tally.clusterName)}`;
}

/** Reads payloads into their events and rejected items, all held (the inputs that are read whole anyway). */
function readItems(items: Iterable<PayloadItem>, shape: (payloads: number) => string): SubscriptionFileContents {
  const events: AuditEvent[] = [];
  const indexes: number[] = [];
  const rejected: RejectedItem[] = [];
  const tally = newTally();
  let itemCount = 0;
  for (const read of readEvents(items, tally)) {
    itemCount++;
    if ('rejected' in read) rejected.push(read.rejected);
    else {
      events.push(read.event);
      indexes.push(read.index);
    }
  }
  return {
    parsed: { form: 'array', events, indexes, rejected, itemCount },
    source: tally.source,
    clusterName: tally.clusterName,
    shape: shapeLine(tally, shape),
  };
}

const FIREHOSE = 'Firehose-archived CloudWatch Logs';

/**
 * A Firehose object written without decompression: gzip members, each a subscription payload (a
 * member may hold several payloads one after another, when the object itself was gzip'd, and a
 * payload split over members is joined); the caller has seen its first member start a payload.
 * One member of one payload is still named as the gzip bytes of a payload (awslogs.data,
 * base64-decoded).
 */
function readFirehoseGzip(buf: Buffer): SubscriptionFileContents {
  let members = 0;
  let unreadable = 0;
  const items = (function* (): Generator<PayloadItem> {
    for (const { item, members: seen } of firehoseGzipItems(buf)) {
      members = seen;
      if ('error' in item) unreadable++;
      yield item;
    }
  })();
  return streamItems(
    items,
    () => firehoseGzipItems(buf),
    (n) =>
      n === 1 && unreadable === 0
        ? `${describe([], 'gzip')}: 1 payload`
        : members === 1
          ? `${FIREHOSE} (gzip of decoded payloads one after another, as Firehose writes them with decompression and GZIP compression): ${plural(n, 'payload')}`
          : `${FIREHOSE} (gzip members one after another, as Firehose writes them without decompression): ${plural(n, 'payload')} in ${plural(members, 'gzip member')}`,
  );
}

/**
 * The contents of a Firehose object as a stream: a first pass reads only the envelopes, for the
 * line that says what the input was (payloads, members, log groups, cluster, account); the events
 * are read on a second pass, one payload at a time, when the caller asks for them. Inflating the
 * members twice costs less than holding every event of a 128 MiB object (Firehose's largest buffer).
 */
function streamItems(
  counted: Iterable<PayloadItem>,
  again: () => Iterable<PayloadItem | { item: PayloadItem }>,
  shape: (payloads: number) => string,
): SubscriptionFileContents {
  const tally = newTally();
  for (const _ of readEvents(counted, tally, false)) {
    // Only the tally is wanted from this pass.
  }
  const unwrap = function* (): Generator<PayloadItem> {
    for (const i of again()) yield 'item' in i ? i.item : i;
  };
  return {
    parsed: { form: 'array', events: [], indexes: [], rejected: [], itemCount: 0 },
    source: tally.source,
    clusterName: tally.clusterName,
    shape: shapeLine(tally, shape),
    stream: () => readEvents(unwrap(), newTally()),
  };
}

/** The payloads of a multi-member gzip object, each with the member it came from; `members` counts the members seen so far. */
function* firehoseGzipItems(buf: Buffer): Generator<{ item: PayloadItem; members: number }> {
  // The start of a payload that the member did not close, joined with the next member unless that one starts a payload.
  let pending: { bytes: Buffer; member: number; offset: number } | null = null;
  let members = 0;
  const cut = (p: { member: number; offset: number }, why: string): PayloadItem => ({
    error: `gzip member ${p.member} at byte ${p.offset}: payload cut short (${why})`,
  });
  for (const m of gzipMembers(buf)) {
    members = m.index + 1;
    if ('error' in m) {
      if (pending !== null) yield { item: cut(pending, 'the next member is unreadable'), members };
      pending = null;
      yield { item: { error: `gzip member ${m.index} at byte ${m.offset}: ${m.error}` }, members };
      continue;
    }
    let bytes = m.data;
    let from = { member: m.index, offset: m.offset };
    if (pending !== null) {
      if (startsPayload(m.data, skipWs(m.data, 0))) yield { item: cut(pending, 'the next member starts a new payload'), members };
      else {
        bytes = Buffer.concat([pending.bytes, m.data]);
        from = pending;
      }
      pending = null;
    }
    const where = `gzip member ${from.member} at byte ${from.offset}`;
    const split = splitJsonObjects(bytes);
    for (const piece of split.pieces) {
      yield {
        item:
          'error' in piece
            ? { error: `${where}: ${piece.error} at byte ${piece.at} of its inflated data` }
            : { encoded: { data: bytes.subarray(piece.start, piece.end) }, where },
        members,
      };
    }
    if (split.incomplete !== undefined) pending = { bytes: bytes.subarray(split.incomplete), ...from };
  }
  if (pending !== null) yield { item: cut(pending, 'the object ends inside it'), members };
}

/** Decoded payloads one after another, with no separator (`}{`) or a newline (Firehose with decompression). */
function readFirehoseDecoded(buf: Buffer): SubscriptionFileContents {
  const split = splitJsonObjects(buf);
  const items: PayloadItem[] = split.pieces.map((piece) =>
    'error' in piece
      ? { error: `byte ${piece.at}: ${piece.error}` }
      : { encoded: { data: buf.subarray(piece.start, piece.end) }, where: `at byte ${piece.start}` },
  );
  if (split.incomplete !== undefined) items.push({ error: `byte ${split.incomplete}: payload cut short (the input ends inside it)` });
  return streamItems(
    items,
    () => items,
    (n) => `${FIREHOSE} (decoded payloads one after another, as Firehose writes them with decompression): ${plural(n, 'payload')}`,
  );
}

/** The log groups read, and a word when none is an EKS control-plane group (its lines are rarely audit events). */
function groupsNote(groups: string[], cluster: string | null): string {
  if (groups.length === 0) return '';
  const named = `, log group${groups.length === 1 ? '' : 's'} ${groups.slice(0, 3).join(', ')}${groups.length > 3 ? ', …' : ''}`;
  return cluster === null ? `${named} (not an EKS control-plane log group, /aws/eks/<cluster>/cluster)` : named;
}
