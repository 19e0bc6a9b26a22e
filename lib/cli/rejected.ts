import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AKS_AUDIT_CATEGORIES, GKE_DATA_NOT_JSON } from '../audit/index.js';
import { DEFAULT_DATA_DIR } from '../config/ingest.js';
import { readSharedSecret } from '../config/secret.js';
import { isJsonObject } from '../json.js';
import { INGEST_PREFIX, splitIngestPath } from '../protocol.js';
import { EVENT_LIST_PREFIX, EVENT_LIST_SUFFIX } from '../ship/pack.js';
import { postEventList } from '../ship/post.js';
import { EVENT_STORE_FILE, openEventStore, type StoredReject } from '../sinks/sqlite.js';
import { flag, intFlag, parseArgs, parseTime, UsageError } from './args.js';
import { type CommandIo, write } from './io.js';
import { type Column, headerLine, rowLine } from './table.js';

const HELP = `Usage: aisoc-k8s-audit rejected [--tenant ID] [--since TIME] [--limit N] [--json] [--data-dir DIR]
       aisoc-k8s-audit rejected --replay [--tenant ID] [--since TIME] [--limit N] [--data-dir DIR]

Lists the items the local ingest rejected, newest first, with the reason and the item's text
(credentials redacted, cut to 64 KiB): a table by default, one JSON object per line with --json.
An item is listed once however often it was rejected (a sender resending its batch): REJECTED AT
is its last rejection and TIMES counts them (--json: rejected_at, first_rejected_at, times, and
dedup_key, the item's identity).

--replay sends the listed items back through the ingest (once the cause is fixed: a newer
version, a raised limit), one EventList per tenant and cluster (AKS diagnostic records in a
records body, as the diagnostic setting sends them; what the GKE push route rejected stays, as
only that route reads it), to AISOC_INGEST_URL's host with
K8S_AUDIT_SHARED_SECRET. A batch the ingest answered 200 is removed from this list: what it
stored is stored, what it rejected again it kept again, with the new reason; an item rejected
again for the same reason stays listed, its TIMES one higher. Items cut to the bound cannot be
replayed and stay. Exit 0 when every batch was answered 200, 1 otherwise.

Options:
  --tenant ID        only this tenant
  --since TIME       only items rejected at or after this time: ISO 8601, or an age (30m, 6h, 2d)
  --limit N          at most N items (default 20; 1000 with --replay)
  --json             one JSON object per line
  --replay           send the items back through the ingest
  --data-dir DIR     where the SQLite file lives (default AISOC_DATA_DIR or .data)
  --help             show this help
`;

/** The table's columns, then the reason; TIMES counts a kept reject's rejections (a sender's resends, replays rejecting it again). */
const COLUMNS: readonly Column<StoredReject>[] = [
  { title: 'REJECTED AT', width: 24, value: (r) => r.rejected_at },
  { title: 'TIMES', width: 5, value: (r) => r.times },
  { title: 'TENANT', width: 12, value: (r) => r.tenant_id },
  { title: 'CLUSTER', width: 14, value: (r) => r.cluster_name },
  { title: 'INDEX', width: 5, value: (r) => r.index },
  { title: 'AUDIT ID', width: 36, value: (r) => r.audit_id },
];

/** `aisoc-k8s-audit rejected`: lists (or replays) the items the local ingest rejected. */
export async function run(argv: string[], io: CommandIo): Promise<number> {
  const args = parseArgs(argv, ['tenant', 'since', 'limit', 'data-dir'], ['json', 'replay']);
  if (args.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
  const replay = args.flags.get('replay') === true;
  const dataDir = flag(args, 'data-dir') ?? (io.env.AISOC_DATA_DIR || DEFAULT_DATA_DIR);
  // As `events --since` reads it: an ISO 8601 time or an age, compared as the store's ISO times.
  const sinceFlag = flag(args, 'since');
  const since = sinceFlag === undefined ? undefined : new Date(parseTime(sinceFlag, 'since', Date.now())).toISOString();
  const query: { tenant?: string; since?: string; limit: number } = { limit: intFlag(args, 'limit', 1) ?? (replay ? 1000 : 20) };
  const tenant = flag(args, 'tenant');
  if (tenant !== undefined) query.tenant = tenant;
  if (since !== undefined) query.since = since;

  if (!existsSync(join(dataDir, EVENT_STORE_FILE))) {
    io.stderr.write(
      `no event store in ${dataDir} yet: nothing was rejected here (--data-dir or AISOC_DATA_DIR names the data dir serve uses)\n`,
    );
    return replay ? 0 : 1;
  }
  const store = openEventStore(dataDir);
  try {
    const rejects = store.queryRejects(query);
    if (replay) return await replayRejects(rejects, io, (rows) => store.deleteRejects(rows));
    if (args.flags.get('json') === true) {
      for (const { id: _id, ...r } of rejects) await write(io.stdout, `${JSON.stringify(r)}\n`);
      return 0;
    }
    await write(io.stdout, `${headerLine(COLUMNS, 'REASON')}\n`);
    for (const r of rejects) await write(io.stdout, `${rowLine(COLUMNS, r, r.reason)}\n`);
    io.stderr.write(`${rejects.length} rejected item${rejects.length === 1 ? '' : 's'}\n`);
    return 0;
  } finally {
    store.close();
  }
}

/**
 * The route a kept item goes back by. What the GKE push route rejected: none, as only that route
 * reads a LogEntry or a push message, and it takes Pub/Sub's signed pushes, not the shared secret
 * (docs/gke.md); sent on the EventList route it would be rejected again for being a LogEntry (or
 * for being no JSON object, the decoded text of a message that was no JSON) and its kept reason
 * lost. An AKS diagnostic-settings record (rejected from a records body): in a records body, the
 * form the ingest reads it in (docs/aks.md); as an EventList item it would be refused again as "an
 * AKS diagnostic log record", whatever was fixed. Anything else: an EventList item.
 */
function replayForm(r: StoredReject & { item: string }): 'gke' | 'aks' | 'event' {
  if (r.reason.startsWith(GKE_DATA_NOT_JSON)) return 'gke';
  let value: unknown;
  try {
    value = JSON.parse(r.item);
  } catch {
    return 'event';
  }
  if (!isJsonObject(value)) return 'event';
  if (isJsonObject(value.protoPayload)) return 'gke';
  const aks = typeof value.category === 'string' && AKS_AUDIT_CATEGORIES.has(value.category) && isJsonObject(value.properties);
  return aks ? 'aks' : 'event';
}

async function replayRejects(rejects: readonly StoredReject[], io: CommandIo, done: (rows: StoredReject[]) => void): Promise<number> {
  const url = io.env.AISOC_INGEST_URL?.trim() ?? '';
  // The whole URL, split like a path: what precedes the route is scheme, host and any stage prefix.
  const route = splitIngestPath(url);
  if (route === null) throw new UsageError(`--replay needs AISOC_INGEST_URL, the full ${INGEST_PREFIX}<tenant_id> route of the ingest`);
  const token = readSharedSecret(io.env.K8S_AUDIT_SHARED_SECRET, 'K8S_AUDIT_SHARED_SECRET');
  if (token === null) throw new UsageError('--replay needs K8S_AUDIT_SHARED_SECRET, the ingest shared secret');
  const base = route.prefix;
  const groups = new Map<string, StoredReject[]>();
  let skipped = 0;
  let gke = 0;
  for (const r of rejects) {
    if (r.item === null || r.item_truncated) {
      skipped++;
      continue;
    }
    const form = replayForm({ ...r, item: r.item });
    if (form === 'gke') {
      gke++;
      continue;
    }
    const key = JSON.stringify([r.tenant_id, r.cluster_name, form]);
    (groups.get(key) ?? groups.set(key, []).get(key) ?? []).push(r);
  }
  let failed = 0;
  let replayed = 0;
  const counts = { accepted: 0, duplicates: 0, rejected: 0 };
  for (const group of groups.values()) {
    const first = group[0] as StoredReject;
    const items = group.map((r) => r.item).join(',');
    const body =
      replayForm({ ...first, item: first.item as string }) === 'aks'
        ? `{"records":[${items}]}`
        : `${EVENT_LIST_PREFIX}${items}${EVENT_LIST_SUFFIX}`;
    const res = await postEventList(body, {
      url: `${base}${INGEST_PREFIX}${encodeURIComponent(first.tenant_id)}`,
      token,
      clusterName: first.cluster_name,
      gzip: false,
      timeoutMs: 30_000,
    });
    if (res.kind === 'answer' && res.status === 200) {
      done(group);
      replayed += group.length;
      try {
        const answer = JSON.parse(res.text) as Partial<typeof counts>;
        for (const k of ['accepted', 'duplicates', 'rejected'] as const) counts[k] += Number(answer[k]) || 0;
      } catch {
        // Not our ingest's answer: the line below shows it as it came.
      }
      io.stderr.write(`tenant ${first.tenant_id} cluster ${first.cluster_name ?? '-'}: ${res.text}\n`);
    } else {
      failed++;
      const why = res.kind === 'answer' ? `HTTP ${res.status} ${res.text.slice(0, 300)}` : res.message;
      io.stderr.write(`tenant ${first.tenant_id} cluster ${first.cluster_name ?? '-'}: not replayed: ${why}\n`);
    }
  }
  // What the ingest made of them: an item rejected again is kept again, with its reason.
  const outcome = replayed > 0 ? ` (${counts.accepted} accepted, ${counts.duplicates} duplicates, ${counts.rejected} rejected again)` : '';
  io.stderr.write(
    `replayed ${replayed} item(s)${outcome}${skipped > 0 ? `, ${skipped} kept without their whole text (cut to the bound, or not JSON) and not replayed` : ''}${gke > 0 ? `, ${gke} GKE push item(s) kept and not replayed (only the GKE push route reads them, from Pub/Sub)` : ''}${failed > 0 ? `, ${failed} batch(es) failed` : ''}\n`,
  );
  return failed > 0 ? 1 : 0;
}
