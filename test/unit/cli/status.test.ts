// `aisoc-k8s-audit status`'s table as a user reads it, from a status answered as the ingest's
// route answers it (lib/ingest/status.ts TenantStatus): every column of every row starts under its
// title, whatever the length of the names the clusters were sent with.
import { describe, expect, it } from 'vitest';
import { run } from '../../../lib/cli/status.js';
import type { ClusterStatus, TenantStatus } from '../../../lib/ingest/status.js';
import { captureIo } from '../../helpers/cli.js';

// Two clusters named alike up to their last characters, as blue/green EKS clusters are; EKS takes
// names up to 100 characters (EKS API reference, CreateCluster `name`), and the ingest up to 256.
const BLUE = 'prod-eu-west-1-payments-platform-blue';
const GREEN = 'prod-eu-west-1-payments-platform-green';
const LONGEST_EKS = `${'a'.repeat(60)}-${'b'.repeat(39)}`;
const BEYOND_EKS = `gke_acme-prod_europe-west1_${'c'.repeat(140)}`;

const cluster = (name: string | null, events: number): ClusterStatus => ({
  cluster_name: name,
  last_event_time: '2026-12-07T14:03:11.482Z',
  last_received_at: '2026-12-07T14:03:12.907Z',
  events,
  events_last_hour: events - 1,
});

function answer(clusters: ClusterStatus[]): TenantStatus {
  return {
    tenant: 'acme',
    generated_at: '2026-12-07T14:10:00.000Z',
    window_start: '2026-12-07T13:10:00.000Z',
    clusters,
    events_last_hour: 0,
    alerts_last_hour: 0,
    events_without_cluster_last_hour: 0,
    rejected_items_last_hour: null,
    refused_requests_last_hour: null,
    refused_without_cluster_last_hour: null,
    counted_since: null,
  };
}

async function status(clusters: ClusterStatus[], extra: string[] = []): Promise<string[]> {
  const cap = captureIo({ K8S_AUDIT_SHARED_SECRET: 'bench-k3J9xQ2mV7pL0aZ4wR8tY6uE1iO5sD3fG7hJ9kL=' });
  const body = JSON.stringify(answer(clusters));
  const get = async () => ({ kind: 'answer' as const, status: 200, text: body, retryAfter: null });
  expect(await run(['--tenant', 'acme', ...extra], { ...cap.io, get })).toBe(0);
  const lines = cap.out().split('\n');
  return lines.slice(lines.findIndex((l) => l.startsWith('CLUSTER')));
}

/** Each title's offset in the header, and each row of the table (up to the blank line after it) cut at those offsets. */
function columnsOf(table: string[], titles: string[]): { header: number[]; rows: string[][] } {
  const [head = '', ...rest] = table;
  const header = titles.map((t) => head.indexOf(t));
  const end = rest.indexOf('');
  const rows = rest
    .slice(0, end === -1 ? rest.length : end)
    .map((l) => header.map((at, i) => l.slice(at, header[i + 1] ?? l.length).trimEnd()));
  return { header, rows };
}

describe('aisoc-k8s-audit status', () => {
  it('shows each cluster name whole up to EKS’s 100 characters, every column under its title', async () => {
    const table = await status([cluster(BLUE, 1200), cluster(GREEN, 980), cluster(LONGEST_EKS, 7), cluster(null, 3)]);
    const titles = ['CLUSTER', 'LAST EVENT', 'EVENTS/1H'];
    const { header, rows } = columnsOf(table, titles);
    expect(header.every((at, i) => i === 0 || at > (header[i - 1] as number))).toBe(true);
    // Before, every name was cut to 23 characters and `…`: the blue and green clusters read alike.
    expect(rows).toEqual([
      [BLUE, '2026-12-07T14:03:11.482Z', '1199'],
      [GREEN, '2026-12-07T14:03:11.482Z', '979'],
      [LONGEST_EKS, '2026-12-07T14:03:11.482Z', '6'],
      ['(none)', '2026-12-07T14:03:11.482Z', '2'],
    ]);
  });

  it('-o wide: the added columns line up too; a name beyond 100 characters is cut with …', async () => {
    const table = await status([cluster(BEYOND_EKS, 40), cluster('dev', 2)], ['-o', 'wide']);
    const titles = ['CLUSTER', 'LAST EVENT', 'EVENTS/1H', 'EVENTS ', 'LAST RECEIVED'];
    const { header, rows } = columnsOf(table, titles);
    expect(header[1]).toBe(101);
    expect(rows).toEqual([
      [`${BEYOND_EKS.slice(0, 99)}…`, '2026-12-07T14:03:11.482Z', '39', '40', '2026-12-07T14:03:12.907Z'],
      ['dev', '2026-12-07T14:03:11.482Z', '1', '2', '2026-12-07T14:03:12.907Z'],
    ]);
  });
});
