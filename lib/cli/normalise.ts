import { gunzipSync } from 'node:zlib';
import type { AuditSource, ParsedPayload, RejectedItem, RuleError } from '../audit/index.js';
import {
  decodeUtf8,
  looksLikeLegacyLine,
  normaliseAuditEvent,
  parseAuditPayload,
  readLegacyText,
  serialiseRecord,
} from '../audit/index.js';
import { type ReadItem, readSubscriptionFile } from '../cloudwatch/reader.js';
import { TENANT_ID_PATTERN, TENANT_ID_RULE } from '../protocol.js';
import { countRuleErrors } from '../rules/error-log.js';
import { loadDetection } from '../rules/load.js';
import { flag, parseArgs, UsageError } from './args.js';
import { type CloudOrigin, readCloudFile, type SkippedItems } from './cloud-input.js';
import { type CommandIo, write } from './io.js';
import { splitJsonDocuments } from './json-documents.js';
import { readInput } from './read-input.js';

const HELP = `Usage: aisoc-k8s-audit normalise [--tenant ID] [--cluster NAME] [--] [FILE|-]...

Reads Kubernetes audit events and writes one normalised record per line (NDJSON) to stdout:
the flat fields, severity and an OCSF 1.8.0 API Activity record, as the ingest endpoint stores
them. With no FILE, or with -, reads standard input. Any other word starting with - is an
option; every word after -- is a FILE, so a file whose name starts with - is read as
\`normalise -- -events.json\`.

Accepted input, recognised by its content (the first line on stderr says what it was read as):
  - an audit.k8s.io EventList, a single Event or a JSON array of Events, compact or pretty-printed;
  - JSON lines (one Event or EventList per line, as the apiserver's log backend writes them);
  - kube-apiserver legacy audit lines (--audit-log-format=legacy: <time> AUDIT: id="..." ...),
    each read into the Event it stands for (docs/tail.md), JSON lines among them read as such;
  - pretty-printed documents one after another (what \`jq . audit.log\` prints);
  - a CloudWatch Logs subscription payload: raw (the base64 of gzip in awslogs.data, or the gzip
    bytes), decoded (the JSON with logEvents), the whole Lambda event {"awslogs":{"data":...}},
    a Kinesis event of them, an array of these or one per line: the EKS audit events inside,
    with their account and the cluster from the log group; CONTROL_MESSAGEs are counted, skipped;
  - CloudWatch Logs that Amazon Data Firehose archived to S3: gzip members one after another (no
    decompression: a payload each), decoded payloads one after another with no separator or a
    newline (decompression), or these gzip'd as one; a corrupt or cut-off member or payload is
    rejected with its number and byte, and the others are still read;
  - any of the audit inputs here gzip'd (the apiserver's rotated audit.log.gz, or a Firehose
    object of extracted messages with GZIP compression): read as what it inflates to;
  - what the GKE and AKS paths take: a GKE LogEntry, a Pub/Sub push delivery of one, a JSON
    array of them (gcloud logging read --format=json) or JSON lines of them; an AKS
    diagnostic-settings body {"records":[...]}, or its records one per line (a storage
    account's PT1H.json) or alone; AKSAudit / AKSAuditAdmin rows of Log Analytics: a data
    export's {"records":[...]} or PT05M.json (a row a line), az monitor log-analytics query
    -o json (a JSON array of rows), a Query API answer {"tables":[...]}, or one row: each entry
    with its own cluster and cloud.
Input it cannot read is reported with what it looked like, the line and column of the first
JSON error, and what to hand it instead.

Options:
  --tenant ID      tenant id stamped on every record (default: none)
  --cluster NAME   cluster name stamped on every record (default: none)
  --help           show this help

Environment: K8S_AUDIT_SEVERITY=spec scores with the spec's severity table alone; K8S_AUDIT_RULES
names a directory of extra detection rules (see aisoc-k8s-audit rules --help).

On stderr, each input first says what it was read as:
  normalise: <file>: <what it is>
each rejected item is reported as
  rejected <file>[:<line>] item <index>: <reason>   (the line where input has lines: JSON lines, jq . output)
a GKE entry or AKS records that are not Kubernetes audit events, as the ingest passes them over, as
  skipped <file>[:<line>][ item <index>]: <reason>
an input that cannot be read at all as
  rejected <file>[:<line>:<column>]: <what is wrong>; <what it accepts>
a detection rule whose condition stopped on some events with an error other than an absent key
(the events are scored without it, at least by their severity-table row) as
  rule error <rule> (<kind>) on N events: ...
and the last line is the summary: normalised N, rejected M (and, when some were, skipped K;
when a rule could not evaluate some, rule errors E).

Exit status: 0 when nothing was rejected, 1 when some items were, 2 for usage errors or files
that cannot be read.
`;

/** Turns the raw bytes of one input into a parsed payload, and says what the input was. */
export type PayloadReader = (bytes: Buffer) => {
  parsed: ParsedPayload;
  source?: AuditSource;
  clusterName?: string | null;
  /** What the input was read as, for the user. */
  shape?: string;
  /** Each event's own cluster and cloud, when the input holds several (GKE and AKS inputs). */
  perEvent?: CloudOrigin[];
  /** Items passed over, not rejected: not Kubernetes audit entries. */
  skipped?: SkippedItems[];
  /** The events and rejected items, read as they are asked for (a Firehose object), instead of in `parsed`. */
  stream?: () => Iterable<ReadItem>;
};

const ACCEPTED =
  'normalise reads an audit.k8s.io EventList or Event (compact or pretty-printed), JSON lines of Events, kube-apiserver legacy audit lines, a CloudWatch Logs subscription payload (raw base64 gzip, decoded, or the Lambda event) or a Firehose S3 object of them, GKE LogEntries, an AKS diagnostic-settings body or AKSAudit rows (Log Analytics); see aisoc-k8s-audit normalise --help';

function plural(n: number, one: string): string {
  return `${n} ${one}${n === 1 ? '' : 's'}`;
}

/** What an audit payload was read as. */
function describeAudit(parsed: ParsedPayload): string {
  switch (parsed.form) {
    case 'EventList':
      return `an audit.k8s.io EventList (${plural(parsed.itemCount, 'item')})`;
    case 'Event':
      return 'a single audit Event';
    case 'array':
      return `a JSON array (${plural(parsed.itemCount, 'item')})`;
    default:
      return `JSON lines (${plural(parsed.itemCount, 'item')})`;
  }
}

/** What a text that is not JSON looks like, so the user knows what they handed over. */
function describeNotJson(text: string, bytes: Buffer): string {
  const head = text.trimStart();
  if (bytes.includes(0) || (text.match(/\uFFFD/g)?.length ?? 0) > 4) {
    const magic = bytes
      .subarray(0, 4)
      .toString('hex')
      .replace(/(..)(?=.)/g, '$1 ');
    return `got binary data (${bytes.length} bytes, starting ${magic}), not text`;
  }
  if (/^(---\s|#|apiVersion:|kind:|[A-Za-z_][\w.-]*:\s)/.test(head) && !head.startsWith('{')) {
    return 'got YAML, not JSON: convert it first (yq -o=json FILE, or kubectl ... -o json)';
  }
  if (head.startsWith('<')) return 'got HTML or XML, not JSON (a saved web page or an error page?)';
  const first = head.split('\n', 1)[0] ?? '';
  return `got text that is not JSON, starting ${JSON.stringify(first.length > 40 ? `${first.slice(0, 40)}…` : first)}`;
}

/** Whether the first non-empty line of a text is a JSON document of its own (JSON lines), or only the start of one. */
function firstLineIsJson(text: string): boolean {
  const first = text.split('\n').find((l) => l.trim() !== '');
  if (first === undefined) return false;
  try {
    JSON.parse(first);
    return true;
  } catch {
    return false;
  }
}

/**
 * kube-apiserver's `--audit-log-format=legacy` text (lib/audit/legacy.ts): taken when the first
 * non-blank line is one; a JSON line among them is read as JSON, any other line rejected as neither.
 * Only an input starting with a digit (a legacy line's time) is decoded for the look.
 */
function readLegacyInput(bytes: Buffer): ReturnType<PayloadReader> | null {
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  const c = bytes[i];
  if (c === undefined || c < 0x30 || c > 0x39) return null;
  const text = decodeUtf8(bytes);
  if (!looksLikeLegacyLine(text.trimStart().split('\n', 1)[0] ?? '')) return null;
  const read = readLegacyText(text);
  const parsed: ParsedPayload = {
    form: 'ndjson',
    events: read.events.map((e) => e.event),
    indexes: read.events.map((e) => e.index),
    rejected: read.rejected,
    itemCount: read.events.length + read.rejected.length + read.skipped.length,
  };
  const also = read.jsonLines > 0 ? `, ${plural(read.jsonLines, 'JSON line')} among them` : '';
  return {
    parsed,
    shape: `kube-apiserver legacy audit lines (${plural(read.legacyLines, 'line')}${also}; ${plural(read.events.length, 'event')})`,
    skipped: read.skipped.map((s) => ({ ...s, count: 1 })),
  };
}

/**
 * Reads one input: a CloudWatch Logs subscription shape (lib/cloudwatch, the forwarder's decoding),
 * else an audit payload; pretty-printed documents one after another are read one by one, and text
 * that is none of these says what it is and where the first JSON error is.
 */
export const readAuditPayload: PayloadReader = (bytes) => {
  const subscription = readSubscriptionFile(bytes);
  if (subscription !== null) return subscription;
  // Gzip that holds no subscription payload: the apiserver's rotated audit.log.gz
  // (--audit-log-compress), or a Firehose object of extracted messages (JSON lines) that Firehose
  // compressed. Read as what it inflates to.
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    let inflated: Buffer;
    try {
      inflated = gunzipSync(bytes);
    } catch (err) {
      return {
        parsed: {
          form: 'invalid',
          events: [],
          indexes: [],
          rejected: [],
          itemCount: 0,
          error: `got gzip data that does not inflate: ${(err as Error).message}`,
        },
      };
    }
    const inner = readAuditPayload(inflated);
    return inner.shape === undefined ? inner : { ...inner, shape: `gzip of ${inner.shape}` };
  }
  const cloud = readCloudFile(bytes);
  if (cloud !== null) return cloud;
  const legacy = readLegacyInput(bytes);
  if (legacy !== null) return legacy;
  const parsed = parseAuditPayload(bytes);
  if (parsed.form !== 'invalid' && parsed.form !== 'ndjson') return { parsed, shape: describeAudit(parsed) };
  const text = decodeUtf8(bytes);
  const head = text.trimStart()[0];
  const multiLineJson = (head === '{' || head === '[') && !firstLineIsJson(text);
  if (!multiLineJson) {
    if (parsed.form === 'ndjson') return { parsed, shape: describeAudit(parsed) };
    if (parsed.error === 'body is empty') return { parsed: { ...parsed, error: `the input is empty; ${ACCEPTED}` } };
    return { parsed: { ...parsed, error: `${describeNotJson(text, bytes)}; ${ACCEPTED}` } };
  }
  const split = splitJsonDocuments(text);
  // JSON lines whose first line is broken: the other lines are events, so each line stands alone.
  if (!split.ok && parsed.form === 'ndjson' && parsed.events.length > 0) return { parsed, shape: describeAudit(parsed) };
  if (!split.ok) {
    return {
      parsed: { ...parsed, form: 'invalid', error: `${split.at.line}:${split.at.column}: not valid JSON: ${split.error}; ${ACCEPTED}` },
    };
  }
  // Each document on a line of its own: the audit parser's JSON lines, with its reasons pointed
  // back at the line each document starts on.
  const docs = split.docs;
  const lines = parseAuditPayload(docs.map((d) => JSON.stringify(d.value)).join('\n'));
  const startLine = (k: number) => docs[k - 1]?.line ?? k;
  lines.rejected = lines.rejected.map((item) => ({
    ...item,
    ...(item.line === undefined ? {} : { line: startLine(item.line) }),
    reason: item.reason.replace(/^line (\d+)/, (_m, k: string) => `document ${k} (line ${startLine(Number(k))})`),
  }));
  return {
    parsed: lines,
    shape: `${plural(docs.length, 'pretty-printed JSON document')}, one after another (${plural(lines.itemCount, 'item')})`,
  };
};

/** `aisoc-k8s-audit normalise`: files or stdin in, NDJSON records out. */
export async function run(argv: string[], io: CommandIo, reader: PayloadReader = readAuditPayload): Promise<number> {
  const args = parseArgs(argv, ['tenant', 'cluster']);
  if (args.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const tenantId = flag(args, 'tenant') ?? null;
  // The ingest and inbox refuse any other tenant id: records stamped with one would match none.
  if (tenantId !== null && !TENANT_ID_PATTERN.test(tenantId)) throw new UsageError(`--tenant must match ${TENANT_ID_RULE}`);
  const cluster = flag(args, 'cluster') ?? null;
  const files = args.positionals.length > 0 ? args.positionals : ['-'];
  // K8S_AUDIT_SEVERITY and K8S_AUDIT_RULES, as the ingest reads them; a bad rule stops here.
  const detection = await loadDetection(io.env);
  let normalised = 0;
  let rejected = 0;
  let skipped = 0;
  let unreadable = false;
  // Rules whose condition stopped on an event with an error other than an absent key: the event
  // was scored without them, at least by its table row (docs/detection-rules.md, "Rule errors").
  const ruleErrors: RuleError[] = [];
  for (const file of files) {
    const name = file === '-' ? '<stdin>' : file;
    let bytes: Buffer;
    try {
      bytes = await readInput(file, io.stdin);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // The codes a person meets most, said in words; any other as the system names it.
      const why =
        code === 'EISDIR'
          ? 'it is a directory (name the files in it)'
          : code === 'ENOENT'
            ? 'no such file'
            : code === 'EACCES'
              ? 'permission denied'
              : (code ?? (err as Error).message);
      io.stderr.write(`cannot read ${name}: ${why}\n`);
      unreadable = true;
      continue;
    }
    const { parsed, source, clusterName, shape, perEvent, skipped: passedOver, stream } = reader(bytes);
    if (parsed.form === 'invalid') {
      rejected++;
      // A JSON error's place reads as file:line:column, the form editors and terminals link.
      const error = parsed.error ?? 'not an audit payload';
      io.stderr.write(`rejected ${name}${/^\d+:\d+: /.test(error) ? ':' : ': '}${error}\n`);
      continue;
    }
    if (shape !== undefined) io.stderr.write(`normalise: ${name}: ${shape}\n`);
    const reject = (item: RejectedItem): void => {
      rejected++;
      const where = item.line === undefined ? name : `${name}:${item.line}`;
      const id = item.auditID === undefined ? '' : ` (auditID ${item.auditID})`;
      io.stderr.write(`rejected ${where} item ${item.index}${id}: ${item.reason}\n`);
    };
    for (const item of parsed.rejected) reject(item);
    for (const item of passedOver ?? []) {
      skipped += item.count;
      const where = item.line === undefined ? name : `${name}:${item.line}`;
      const count = item.index === undefined ? ` ${item.count} ${item.count === 1 ? 'record' : 'records'}` : ` item ${item.index}`;
      io.stderr.write(`skipped ${where}${count}: ${item.reason}\n`);
    }
    const receivedAt = Date.now();
    const ctx = { tenantId, clusterName: cluster ?? clusterName ?? null, receivedAt, detection, ruleErrors, ...(source ? { source } : {}) };
    for (let i = 0; i < parsed.events.length; i++) {
      const event = parsed.events[i] as (typeof parsed.events)[number];
      // A GKE export or an AKS body names each event's cluster and cloud; --cluster still wins.
      const origin = perEvent?.[i];
      const record = normaliseAuditEvent(
        event,
        origin === undefined ? ctx : { ...ctx, clusterName: cluster ?? origin.clusterName ?? null, source: origin.source },
      );
      normalised++;
      await write(io.stdout, `${serialiseRecord(record)}\n`);
    }
    // A Firehose object's events, one payload at a time, each written before the next is read.
    for (const read of stream?.() ?? []) {
      if ('rejected' in read) {
        reject(read.rejected);
        continue;
      }
      normalised++;
      await write(io.stdout, `${serialiseRecord(normaliseAuditEvent(read.event, ctx))}\n`);
    }
  }
  // Said as the ingest's log says it: the rule and the error's kind, never an event's value or the
  // error's message (which can quote one).
  for (const c of countRuleErrors(ruleErrors)) {
    io.stderr.write(
      `rule error ${c.rule} (${c.kind}) on ${plural(c.count, 'event')}: scored without this rule, at least by its severity-table row\n`,
    );
  }
  const errored = ruleErrors.length > 0 ? `, rule errors ${ruleErrors.length}` : '';
  io.stderr.write(`normalised ${normalised}, rejected ${rejected}${skipped > 0 ? `, skipped ${skipped}` : ''}${errored}\n`);
  if (unreadable) return 2;
  return rejected > 0 ? 1 : 0;
}
