import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { NormalisedRecord, Severity } from '../audit/index.js';
import { DEFAULT_DATA_DIR } from '../config/ingest.js';
import { EVENT_STORE_FILE, type EventQuery, openEventStore } from '../sinks/sqlite.js';
import { flag, intFlag, parseArgs, UsageError } from './args.js';
import { type CommandIo, write } from './io.js';

const HELP = `Usage: aisoc-k8s-audit events [--tenant ID] [--cluster NAME] [--severity high,medium]
                              [--since TIME] [--limit N] [--alerts] [--json] [--data-dir DIR]

Shows what the local ingest stored in its SQLite file, newest first: a table by default, one
normalised record per line (NDJSON) with --json.

Options:
  --tenant ID        only this tenant
  --cluster NAME     only this cluster
  --severity LIST    only these severities (high, medium, low, info; comma-separated)
  --since TIME       only events at or after this ISO 8601 time
  --limit N          at most N records (default 20)
  --alerts           read the alerts table (the high-severity records) instead of events
  --json             one JSON record per line
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

function cell(value: string | number | null, width: number): string {
  const text = value === null ? '-' : String(value);
  return text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);
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
    target,
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

/** `aisoc-k8s-audit events`: reads back the local SQLite store. */
export async function run(argv: string[], io: CommandIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(HELP);
    return 0;
  }
  const args = parseArgs(argv, ['tenant', 'cluster', 'severity', 'since', 'limit', 'data-dir'], ['alerts', 'json']);
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
  const dataDir = flag(args, 'data-dir') ?? (io.env.AISOC_DATA_DIR || DEFAULT_DATA_DIR);
  const since = flag(args, 'since');
  if (since !== undefined && Number.isNaN(Date.parse(since)))
    throw new UsageError(`--since must be an ISO 8601 time, got ${JSON.stringify(since)}`);
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
    if (args.flags.get('json') === true) {
      for (const r of records) await write(io.stdout, `${JSON.stringify(r)}\n`);
      return 0;
    }
    await write(io.stdout, `${HEADER}\n`);
    for (const r of records) await write(io.stdout, `${tableRow(r)}\n`);
    const { limit: _limit, ...filter } = query;
    const total = alerts ? store.countAlerts(filter) : store.countEvents(filter);
    io.stderr.write(`${records.length} of ${total} ${alerts ? 'alerts' : 'events'}\n`);
    return 0;
  } finally {
    store.close();
  }
}
