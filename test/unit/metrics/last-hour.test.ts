import { describe, expect, it } from 'vitest';
import { RejectCounter } from '../../../lib/console/status.js';
import { RecentCounts } from '../../../lib/ingest/status.js';
import { LastHourCounts } from '../../../lib/metrics/last-hour.js';

const NOW = Date.parse('2026-12-05T06:00:30Z');
const MIN = 60_000;

describe('LastHourCounts', () => {
  it('counts what came in the hour before now, by minute, and forgets what is older', () => {
    const c = new LastHourCounts(NOW - 2 * 60 * MIN);
    c.add('a', 2, NOW - 61 * MIN); // over an hour ago
    c.add('a', 3, NOW - 59 * MIN);
    c.add('a', 4, NOW);
    c.add('b', 1, NOW - 30 * MIN);
    c.add('b', 0, NOW);
    c.add('b', -5, NOW);
    expect(c.total('a', NOW)).toBe(7);
    expect(c.total('b', NOW)).toBe(1);
    expect(c.total('none', NOW)).toBe(0);
    // Half an hour on, only what came in the last hour still counts.
    expect(c.total('a', NOW + 30 * MIN)).toBe(4);
    expect([...c.entries(NOW + 45 * MIN)]).toEqual([['a', 4]]);
  });

  it('holds at most maxKeys keys: those idle for an hour go first, then the least recently counted', () => {
    const c = new LastHourCounts(NOW, 3);
    c.add('old', 1, NOW - 2 * 60 * MIN);
    c.add('x', 1, NOW);
    c.add('y', 1, NOW);
    c.add('z', 1, NOW); // full: 'old' is idle and is dropped
    expect(new Map(c.entries(NOW))).toEqual(
      new Map([
        ['x', 1],
        ['y', 1],
        ['z', 1],
      ]),
    );
    c.add('x', 1, NOW); // x is now the most recently counted
    c.add('w', 1, NOW); // full, nothing idle: y, the least recently counted, goes
    expect(new Map(c.entries(NOW))).toEqual(
      new Map([
        ['z', 1],
        ['x', 2],
        ['w', 1],
      ]),
    );
  });

  it('is what both status views count with: the ingest per tenant and name, the console per tenant and cluster', () => {
    const recent = new RecentCounts(NOW);
    recent.add('acme', 'rejected_items', 5, NOW - 10 * MIN);
    recent.add('acme', 'refused_requests', 1, NOW);
    recent.add('other', 'rejected_items', 9, NOW);
    expect(recent.sum('acme', NOW)).toEqual({ rejected_items: 5, refused_requests: 1, refused_without_cluster: 0 });
    expect(recent.startedAt).toBe(NOW);

    const rejects = new RejectCounter();
    rejects.add('acme', 'prod', 2, NOW);
    rejects.add('acme', null, 1, NOW);
    rejects.add('other', 'prod', 7, NOW);
    expect(rejects.lastHour('acme', NOW)).toEqual(
      new Map<string | null, number>([
        ['prod', 2],
        [null, 1],
      ]),
    );
  });

  it("keeps one tenant's rejects in its status however many cluster names another tenant invents", () => {
    // One counter for all tenants held the 10,000 most recent (tenant, cluster) pairs: a tenant
    // posting rejected batches under 10,000 invented cluster names (?cluster= is the sender's to
    // choose) emptied every other tenant's rejects_last_hour.
    const rejects = new RejectCounter();
    rejects.add('acme', 'acme-eks', 1, NOW - 5 * MIN);
    rejects.add('acme', null, 2, NOW - 5 * MIN);
    for (let i = 0; i <= 10_000; i++) rejects.add('globex', `invented-${i}`, 1, NOW);
    expect(rejects.lastHour('acme', NOW)).toEqual(
      new Map<string | null, number>([
        ['acme-eks', 1],
        [null, 2],
      ]),
    );
    // globex keeps its most recent 1,000 clusters.
    const globex = rejects.lastHour('globex', NOW);
    expect([globex.size, globex.has('invented-10000'), globex.has('invented-9000')]).toEqual([1000, true, false]);
  });

  it('past the bound of all tenants, a cluster of the tenant holding the most goes', () => {
    const rejects = new RejectCounter(5, 3);
    rejects.add('acme', 'a1', 1, NOW);
    rejects.add('globex', 'g1', 1, NOW);
    rejects.add('globex', 'g2', 1, NOW);
    rejects.add('globex', 'g3', 1, NOW);
    rejects.add('initech', 'i1', 1, NOW); // 5 in all
    rejects.add('initech', 'i2', 1, NOW); // globex, holding the most, gives g1 up
    expect([...rejects.lastHour('acme', NOW).keys()]).toEqual(['a1']);
    expect([...rejects.lastHour('globex', NOW).keys()]).toEqual(['g2', 'g3']);
    expect([...rejects.lastHour('initech', NOW).keys()]).toEqual(['i1', 'i2']);
  });
});
