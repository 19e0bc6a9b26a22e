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
});
