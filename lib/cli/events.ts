import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { NormalisedRecord, Severity } from '../audit/index.js';
import { DEFAULT_DATA_DIR } from '../config/ingest.js';
import { EVENT_STORE_FILE, type EventQuery, openEventStore } from '../sinks/sqlite.js';
import { flag, intFlag, outputFormat, parseArgs, parseTime, UsageError, withShortOutput } from './args.js';
import { type CommandIo, write } from './io.js';
import { type Column, fitted, headerLine, rowLine } from './table.js';

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
                     table's RULE names the rule that raised each (the severity-table row
                     when no rule fired as high); -o json
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

/** What a table row of a record shows before its target: what a person scanning the store wants first. */
const COLUMNS: readonly Column<NormalisedRecord>[] = [
  { title: 'TIME', width: 24, value: (r) => r.event_time },
  { title: 'SEV', width: 6, value: (r) => r.severity },
  { title: 'TENANT', width: 12, value: (r) => r.tenant_id },
  { title: 'CLUSTER', width: 14, value: (r) => r.cluster_name },
  // An impersonated request names the identity it was made as too (`system:admin as bob`).
  {
    title: 'USER',
    width: 28,
    value: (r) => (r.k8s_impersonated_user === null ? r.k8s_user : `${r.k8s_user ?? ''} as ${r.k8s_impersonated_user}`),
  },
  { title: 'VERB', width: 10, value: (r) => r.k8s_verb },
  { title: 'CODE', width: 4, value: (r) => r.k8s_response_code },
];

/** -o wide adds the stage, source IP and audit ID. */
const WIDE_COLUMNS: readonly Column<NormalisedRecord>[] = [
  ...COLUMNS,
  { title: 'STAGE', width: 16, value: (r) => r.k8s_stage },
  { title: 'SOURCE IP', width: 15, value: (r) => r.src_ip },
  { title: 'AUDIT ID', width: 36, value: (r) => r.audit_id },
];

/** The rule an alert's Detection Finding names (its analytic): a rule id, or the severity table's row (docs/record.md). */
function ruleOf(r: NormalisedRecord & { finding?: { finding_info?: { analytic?: { name?: string } } } }): string {
  return r.finding?.finding_info?.analytic?.name ?? r.severity_reason;
}

/** An alerts table names the rule that raised each before the target. */
const RULE: Column<NormalisedRecord> = { title: 'RULE', width: 36, value: ruleOf };

/** The last column: resource (with its subresource), namespace and name. */
function target(r: NormalisedRecord): string {
  return [
    r.k8s_resource && r.k8s_subresource ? `${r.k8s_resource}/${r.k8s_subresource}` : r.k8s_resource,
    r.k8s_namespace,
    r.k8s_object_name,
  ]
    .filter((p) => p !== null && p !== '')
    .join(' ');
}

/** `aisoc-k8s-audit events`: reads back the local SQLite store. */
export async function run(argv: string[], io: CommandIo): Promise<number> {
  const args = parseArgs(
    withShortOutput(argv),
    ['tenant', 'cluster', 'severity', 'since', 'limit', 'data-dir', 'output'],
    ['alerts', 'json'],
  );
  if (args.help) {
    io.stdout.write(HELP);
    return 0;
  }
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
    // The store lives where `serve` ran (a relative .data): said, so a reader elsewhere finds it.
    io.stderr.write(
      `no event store in ${dataDir} yet: start the ingest (npm start) and send it events, or give --data-dir (or AISOC_DATA_DIR) the data dir serve uses\n`,
    );
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
    const shown = wide ? WIDE_COLUMNS : COLUMNS;
    // -o wide promises nothing cut: each column as wide as its longest value (a service account's
    // name, `system:admin as system:serviceaccount:ns1:sa1`), never narrower than its title's width.
    const table = (alerts ? [...shown, RULE] : shown).map((c) => (wide ? fitted(c, records, Number.POSITIVE_INFINITY) : c));
    await write(io.stdout, `${toWidth(headerLine(table, 'TARGET'))}\n`);
    for (const r of records) await write(io.stdout, `${toWidth(rowLine(table, r, target(r)).trimEnd())}\n`);
    const { limit: _limit, ...filter } = query;
    const total = alerts ? store.countAlerts(filter) : store.countEvents(filter);
    io.stderr.write(`${records.length} of ${total} ${alerts ? 'alerts' : 'events'}\n`);
    return 0;
  } finally {
    store.close();
  }
}
