import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { count, formatElapsed, type ProgressOptions, progressIntervalMs, renderBar, startProgress } from '../../../lib/cli/progress.js';

/** A stream that says it is a terminal of `columns` columns, and keeps what was written. */
function fakeTerminal(
  columns: number | undefined,
  isTTY = true,
): { stream: Writable & { isTTY: boolean; columns?: number }; text: () => string } {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(String(chunk));
        cb();
      },
    }),
    { isTTY, ...(columns === undefined ? {} : { columns }) },
  );
  return { stream, text: () => chunks.join('') };
}

function options(stream: ProgressOptions['stream'], clock: { t: number }, intervalMs = 5000): ProgressOptions {
  return {
    command: 'backfill',
    service: 'aisoc-k8s-audit-backfill',
    stream,
    counters: [
      { key: 'eventsRead', label: 'read' },
      { key: 'eventsShipped', label: 'shipped' },
    ],
    rate: { key: 'eventsRead', unit: 'events/s' },
    intervalMs,
    now: () => clock.t,
  };
}

describe('progress on a terminal', () => {
  it('redraws one line in place and ends with the summary line', () => {
    const term = fakeTerminal(140);
    const clock = { t: 0 };
    const p = startProgress(options(term.stream, clock));
    clock.t = 2000;
    p.update({ counts: { eventsRead: 1500, eventsShipped: 1000 }, fraction: 0.5, extra: { at: '2024-05-01T10:00:00Z' } });
    clock.t = 2050; // under the redraw interval: kept, drawn later
    p.update({ counts: { eventsRead: 1600, eventsShipped: 1000 }, fraction: 0.55 });
    clock.t = 4000;
    p.finish({ counts: { eventsRead: 3000, eventsShipped: 3000 } }, 'backfill done: 3000 read');

    const frames = term.text().split('\r\x1b[2K');
    expect(frames).toContain('backfill  0 read, 0 shipped  0:00  0 events/s');
    expect(frames).toContain(
      'backfill  [##########..........]  50%  1,500 read, 1,000 shipped  0:02  750 events/s  at 2024-05-01T10:00:00Z',
    );
    expect(frames.some((f) => f.includes('1,600 read'))).toBe(false);
    expect(term.text().endsWith('\r\x1b[2Kbackfill done: 3000 read  (0:04)\n')).toBe(true);
    expect(p.tty).toBe(true);
  });

  it('cuts the line to the terminal width, and takes 80 columns when the terminal reports none', () => {
    for (const [columns, max] of [
      [40, 39],
      [0, 79],
      [undefined, 79],
    ] as const) {
      const term = fakeTerminal(columns);
      const clock = { t: 1000 };
      const p = startProgress(options(term.stream, clock));
      clock.t = 1200;
      p.update({
        counts: { eventsRead: 123_456_789, eventsShipped: 123_456_789 },
        fraction: 0.9,
        extra: { at: '2024-05-01T10:00:00.123Z' },
      });
      p.stop();
      const frames = term.text().split('\r\x1b[2K').filter(Boolean);
      expect(frames.every((f) => f.length <= max)).toBe(true);
      expect(frames.at(-1)).toMatch(/…$/);
    }
  });

  it('prints notes and log lines above the bar, then redraws it', () => {
    const term = fakeTerminal(120);
    const clock = { t: 0 };
    const p = startProgress(options(term.stream, clock));
    p.note('redrive: message m2: kept in the queue: HTTP 503');
    p.logStream.write('{"level":"WARN","message":"x"}\n');
    p.stop();

    expect(term.text()).toBe(
      [
        '\r\x1b[2Kbackfill  0 read, 0 shipped  0:00  0 events/s',
        '\r\x1b[2Kredrive: message m2: kept in the queue: HTTP 503\n',
        '\r\x1b[2Kbackfill  0 read, 0 shipped  0:00  0 events/s',
        '\r\x1b[2K{"level":"WARN","message":"x"}\n',
        '\r\x1b[2Kbackfill  0 read, 0 shipped  0:00  0 events/s',
        '\r\x1b[2K',
      ].join(''),
    );
  });
});

describe('progress elsewhere', () => {
  it('writes one JSON line per update with interval 0, and a final one with the totals', () => {
    const pipe = fakeTerminal(undefined, false);
    const clock = { t: Date.parse('2024-05-01T10:00:00Z') };
    const p = startProgress(options(pipe.stream, clock, 0));
    clock.t += 500;
    p.update({ counts: { eventsRead: 10, eventsShipped: 0 }, fraction: 0.25 });
    clock.t += 500;
    p.update({ counts: { eventsRead: 20, eventsShipped: 20 }, fraction: 0.5 });
    clock.t += 1000;
    p.finish({ counts: { eventsRead: 20, eventsShipped: 20 }, extra: { resumeFrom: null } }, 'unused on a pipe', 'WARN');

    const lines = pipe
      .text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      {
        level: 'INFO',
        message: 'backfill progress',
        timestamp: '2024-05-01T10:00:00.500Z',
        service: 'aisoc-k8s-audit-backfill',
        eventsRead: 10,
        eventsShipped: 0,
        percent: 25,
        elapsedSeconds: 0.5,
        eventsReadPerSecond: 20,
      },
      expect.objectContaining({ message: 'backfill progress', eventsRead: 20, eventsShipped: 20, percent: 50, elapsedSeconds: 1 }),
      expect.objectContaining({ level: 'WARN', message: 'backfill done', eventsRead: 20, elapsedSeconds: 2, resumeFrom: null }),
    ]);
    expect(p.logStream).toBe(pipe.stream);
  });

  it('writes one line per interval from its timer, with the latest counts', async () => {
    const pipe = fakeTerminal(undefined, false);
    const p = startProgress({ ...options(pipe.stream, { t: 0 }, 20), now: Date.now });
    p.update({ counts: { eventsRead: 5, eventsShipped: 5 } });
    await new Promise((r) => setTimeout(r, 120));
    p.update({ counts: { eventsRead: 9, eventsShipped: 9 } });
    await new Promise((r) => setTimeout(r, 120));
    p.finish({ counts: { eventsRead: 9, eventsShipped: 9 } }, '');
    const before = pipe.text();
    await new Promise((r) => setTimeout(r, 60));

    const lines = before
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { message: string; eventsRead: number });
    expect(lines.filter((l) => l.eventsRead === 5).length).toBeGreaterThanOrEqual(2);
    expect(lines.filter((l) => l.message === 'backfill progress' && l.eventsRead === 9).length).toBeGreaterThanOrEqual(2);
    expect(lines.at(-1)).toMatchObject({ message: 'backfill done', eventsRead: 9 });
    expect(pipe.text()).toBe(before); // the timer stopped
  });
});

describe('progress helpers', () => {
  it.each([
    [0, '0:00'],
    [59_999, '0:59'],
    [61_000, '1:01'],
    [3_723_000, '1:02:03'],
  ])('formats %d ms as %s', (ms, text) => {
    expect(formatElapsed(ms)).toBe(text);
  });

  it('draws the bar within bounds', () => {
    expect(renderBar(0, 10)).toBe('[..........]   0%');
    expect(renderBar(0.333, 10)).toBe('[###.......]  33%');
    expect(renderBar(1.7, 10)).toBe('[##########] 100%');
  });

  it('reads --progress-interval in seconds, decimals allowed', () => {
    expect(progressIntervalMs(undefined)).toBe(5000);
    expect(progressIntervalMs('0')).toBe(0);
    expect(progressIntervalMs('0.25')).toBe(250);
    expect(() => progressIntervalMs('-1')).toThrow(/--progress-interval must be a number of seconds >= 0/);
    expect(() => progressIntervalMs('5s')).toThrow(/got "5s"/);
  });
});

describe('counts in the summary lines', () => {
  it('carry thousands separators whatever the locale, as the bar does (backfill done: 51,000 read)', () => {
    expect([count(0), count(999), count(51_000), count(1_234_567)]).toEqual(['0', '999', '51,000', '1,234,567']);
  });
});
