import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { NormalisedRecord, Severity } from '../audit/index.js';
import { DEFAULT_DATA_DIR } from '../config/ingest.js';
import { EVENT_STORE_FILE, type EventQuery, openEventStore } from '../sinks/sqlite.js';
import { flag, intFlag, outputFormat, parseArgs, parseTime, UsageError, withShortOutput } from './args.js';
import { type CommandIo, write } from './io.js';
import { cell, printable } from './table.js';

const HELP = `Usage: aisoc-k8s-audit events [--tenant ID] [--cluster NAME] [--severity high,medium]
                              [--since TIME] [--limit N] [--alerts] [-o wide|json] [--json] [--data-dir DIR]

Shows what the local ingest stored in its SQLite file, newest first: a table cut to the
terminal's width by default, every column in full with -o wide, one normalised record per line
(NDJSON) with -o json or --json.

Options:
  --tenant ID        only this tenant
  --cluster NAME     only this cluster
  --severity LIST    only these severities (high, medium, low, info; comma-separated)
  --since TIME       only events whose own time (event_time: when the apiserver received the
                     request) is at or after this: an age (30m, 6h, 2d), ISO 8601 or epoch ms.
                     Old events replayed or sent now (backfill, samples) keep their old time
  --limit N          at most N records (default 20)
  --alerts           read the alerts table (the high-severity records) instead of events: the
                     table names the rule (or severity-table row) that raised each; -o json
                     adds "finding", its OCSF 1.8.0 Detection Finding (class 2004)
  -o wide            more columns (stage, source IP, audit ID), nothing cut
  -o json, --json    one JSON record per line
  --data-dir DIR     where the SQLite file lives (default AISOC_DATA_DIR or .data)
  --help             show this help
`;

const SEVERITIES: readonly Severity[] = ['high', 'medium', 'low', 'info'];

function parseSeverities(value: string | undefined): Severity[] | undefined {
  if (value === undefined) return undefined;
  const list = value
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
  for (const s of list) {
    if (!SEVERITIES.includes(s as Severity)) throw new UsageError(`--severity takes ${SEVERITIES.join(', ')}; got ${JSON.stringify(s)}`);
  }
  return list as Severity[];
}

/** One table row for a record: what a person scanning the store wants first. */
export function tableRow(r: NormalisedRecord): string {
  const target = [
    r.k8s_resource && r.k8s_subresource ? `${r.k8s_resource}/${r.k8s_subresource}` : r.k8s_resource,
    r.k8s_namespace,
    r.k8s_object_name,
  ]
    .filter((p) => p !== null && p !== '')
    .join(' ');
  return [
    cell(r.event_time, 24),
    cell(r.severity, 6),
    cell(r.tenant_id, 12),
    cell(r.cluster_name, 14),
    cell(r.k8s_user, 28),
    cell(r.k8s_verb, 10),
    cell(r.k8s_response_code, 4),
    printable(target),
  ]
    .join(' ')
    .trimEnd();
}

const HEADER = [
  cell('TIME', 24),
  cell('SEV', 6),
  cell('TENANT', 12),
  cell('CLUSTER', 14),
  cell('USER', 28),
  cell('VERB', 10),
  cell('CODE', 4),
  'TARGET',
].join(' ');

const WIDE_HEADER = `${HEADER.slice(0, -'TARGET'.length)}${cell('STAGE', 16)} ${cell('SOURCE IP', 15)} ${cell('AUDIT ID', 36)} TARGET`;

/** A table row with the stage, source IP and audit ID too, for -o wide. */
function wideRow(r: NormalisedRecord): string {
  const base = tableRow(r);
  const fixed = HEADER.length - 'TARGET'.length;
  return `${base.slice(0, fixed).padEnd(fixed)}${cell(r.k8s_stage, 16)} ${cell(r.src_ip, 15)} ${cell(r.audit_id, 36)} ${base.slice(fixed)}`.trimEnd();
}

/** The rule an alert's Detection Finding names (its analytic): a rule id, or the severity table's row. */
function ruleOf(r: NormalisedRecord & { finding?: { finding_info?: { analytic?: { name?: string } } } }): string {
  return r.finding?.finding_info?.analytic?.name ?? r.severity_reason;
}

/** An alerts table row: the rule that raised it before the target. */
function alertRow(r: NormalisedRecord, wide: boolean): string {
  const base = wide ? wideRow(r) : tableRow(r);
  const fixed = (wide ? WIDE_HEADER : HEADER).length - 'TARGET'.length;
  return `${base.slice(0, fixed).padEnd(fixed)}${cell(ruleOf(r), 36)} ${base.slice(fixed)}`.trimEnd();
}

/** `aisoc-k8s-audit events`: reads back the local SQLite store. */
export async function run(argv: string[], io: CommandIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(HELP);
    return 0;
  }
  const args = parseArgs(
    withShortOutput(argv),
    ['tenant', 'cluster', 'severity', 'since', 'limit', 'data-dir', 'output'],
    ['alerts', 'json'],
  );
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
  const output = outputFormat(args);
  const dataDir = flag(args, 'data-dir') ?? (io.env.AISOC_DATA_DIR || DEFAULT_DATA_DIR);
  const sinceFlag = flag(args, 'since');
  const since = sinceFlag === undefined ? undefined : new Date(parseTime(sinceFlag, 'since', Date.now())).toISOString();
  const query: EventQuery = { limit: intFlag(args, 'limit', 1) ?? 20 };
  const tenant = flag(args, 'tenant');
  const cluster = flag(args, 'cluster');
  const severity = parseSeverities(flag(args, 'severity'));
  if (tenant !== undefined) query.tenant = tenant;
  if (cluster !== undefined) query.cluster = cluster;
  if (severity !== undefined) query.severity = severity;
  if (since !== undefined) query.since = since;

  if (!existsSync(join(dataDir, EVENT_STORE_FILE))) {
    io.stderr.write(`no event store in ${dataDir} yet: start the ingest (npm start) and send it events\n`);
    return 1;
  }
  const store = openEventStore(dataDir);
  try {
    const alerts = args.flags.get('alerts') === true;
    const records = alerts ? store.queryAlerts(query) : store.queryEvents(query);
    if (output === 'json') {
      for (const r of records) await write(io.stdout, `${JSON.stringify(r)}\n`);
      return 0;
    }
    const wide = output === 'wide';
    // A terminal gets lines no wider than it is; a pipe or file, and -o wide, get them whole.
    const columns = (io.stdout as { isTTY?: boolean; columns?: number }).isTTY ? (io.stdout as { columns?: number }).columns : undefined;
    const toWidth = (line: string) => (wide || columns === undefined || line.length <= columns ? line : `${line.slice(0, columns - 1)}…`);
    const header = wide ? WIDE_HEADER : HEADER;
    await write(io.stdout, `${toWidth(alerts ? `${header.slice(0, -'TARGET'.length)}${cell('RULE', 36)} TARGET` : header)}\n`);
    for (const r of records) await write(io.stdout, `${toWidth(alerts ? alertRow(r, wide) : wide ? wideRow(r) : tableRow(r))}\n`);
    const { limit: _limit, ...filter } = query;
    const total = alerts ? store.countAlerts(filter) : store.countEvents(filter);
    io.stderr.write(`${records.length} of ${total} ${alerts ? 'alerts' : 'events'}\n`);
    return 0;
  } finally {
    store.close();
  }
}
