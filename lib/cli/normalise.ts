import type { AuditSource, ParsedPayload } from '../audit/index.js';
import { normaliseAuditEvent, parseAuditPayload, serialiseRecord } from '../audit/index.js';
import { readSubscriptionFile } from '../cloudwatch/reader.js';
import { loadDetection } from '../config/detection.js';
import { flag, parseArgs } from './args.js';
import { type CommandIo, write } from './io.js';
import { readInput } from './read-input.js';

const HELP = `Usage: aisoc-k8s-audit normalise [--tenant ID] [--cluster NAME] [FILE|-]...

Reads Kubernetes audit events and writes one normalised record per line (NDJSON) to stdout:
the flat fields, severity and an OCSF 1.8.0 API Activity record, as the ingest endpoint stores
them. With no FILE, or with -, reads standard input.

Accepted input: an audit.k8s.io EventList, a single Event, a JSON array of Events, or NDJSON
(one Event or EventList per line); also a saved CloudWatch Logs subscription event
({"awslogs":{"data":...}}) or Kinesis event: the EKS audit events inside, with their account and
the cluster from the log group.

Options:
  --tenant ID      tenant id stamped on every record (default: none)
  --cluster NAME   cluster name stamped on every record (default: none)
  --help           show this help

Environment: K8S_AUDIT_SEVERITY=spec scores with the spec's severity table alone; K8S_AUDIT_RULES
names a directory of extra detection rules (see aisoc-k8s-audit rules --help).

Each rejected item is reported on stderr as
  rejected <file>:<line> item <index>: <reason>
and the last line on stderr is the summary: normalised N, rejected M.

Exit status: 0 when nothing was rejected, 1 when some items were, 2 for usage errors or files
that cannot be read.
`;

/** Turns the raw bytes of one input into a parsed payload (an extension point for envelopes). */
export type PayloadReader = (bytes: Buffer) => { parsed: ParsedPayload; source?: AuditSource; clusterName?: string | null };

const readAuditPayload: PayloadReader = (bytes) => readSubscriptionFile(bytes) ?? { parsed: parseAuditPayload(bytes) };

/** `aisoc-k8s-audit normalise`: files or stdin in, NDJSON records out. */
export async function run(argv: string[], io: CommandIo, reader: PayloadReader = readAuditPayload): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(HELP);
    return 0;
  }
  const args = parseArgs(argv, ['tenant', 'cluster']);
  const tenantId = flag(args, 'tenant') ?? null;
  const cluster = flag(args, 'cluster') ?? null;
  const files = args.positionals.length > 0 ? args.positionals : ['-'];
  // K8S_AUDIT_SEVERITY and K8S_AUDIT_RULES, as the ingest reads them; a bad rule stops here.
  const detection = loadDetection(io.env);
  let normalised = 0;
  let rejected = 0;
  let unreadable = false;
  for (const file of files) {
    const name = file === '-' ? '<stdin>' : file;
    let bytes: Buffer;
    try {
      bytes = await readInput(file, io.stdin);
    } catch (err) {
      io.stderr.write(`cannot read ${name}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
      unreadable = true;
      continue;
    }
    const { parsed, source, clusterName } = reader(bytes);
    if (parsed.form === 'invalid') {
      rejected++;
      io.stderr.write(`rejected ${name}: ${parsed.error ?? 'not an audit payload'}\n`);
      continue;
    }
    for (const item of parsed.rejected) {
      rejected++;
      const where = item.line === undefined ? name : `${name}:${item.line}`;
      const id = item.auditID === undefined ? '' : ` (auditID ${item.auditID})`;
      io.stderr.write(`rejected ${where} item ${item.index}${id}: ${item.reason}\n`);
    }
    const receivedAt = Date.now();
    const ctx = { tenantId, clusterName: cluster ?? clusterName ?? null, receivedAt, detection, ...(source ? { source } : {}) };
    for (let i = 0; i < parsed.events.length; i++) {
      const event = parsed.events[i] as (typeof parsed.events)[number];
      const record = normaliseAuditEvent(event, ctx);
      normalised++;
      await write(io.stdout, `${serialiseRecord(record, event, parsed.texts[i])}\n`);
    }
  }
  io.stderr.write(`normalised ${normalised}, rejected ${rejected}\n`);
  if (unreadable) return 2;
  return rejected > 0 ? 1 : 0;
}
