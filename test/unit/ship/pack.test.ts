import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EVENT_LIST_PREFIX, EVENT_LIST_SUFFIX, eventListBytes, packEventLists } from '../../../lib/ship/index.js';
import { eventListChunks, type JoinedLines, withoutJoins } from '../../../lib/ship/pack.js';
import { distinctLines } from '../../helpers/ship.js';

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

function withName(line: string, name: string): string {
  const event = JSON.parse(line) as { objectRef?: { name?: string } };
  return line.replace(`"name":"${event.objectRef?.name}"`, `"name":"${name}"`);
}

describe('packEventLists', () => {
  it('packs every event once, in order, into EventLists of at most maxEvents', () => {
    const events = distinctLines(1001);

    const { bodies, oversize } = packEventLists(events, 400, 16 * 1024 * 1024);

    expect(oversize).toEqual([]);
    expect(bodies.map((b) => b.count)).toEqual([400, 400, 201]);
    const ids = bodies.flatMap((b) => {
      const doc = JSON.parse(b.body) as { kind: string; apiVersion: string; items: { auditID: string }[] };
      expect(doc.kind).toBe('EventList');
      expect(doc.apiVersion).toBe('audit.k8s.io/v1');
      return doc.items.map((i) => i.auditID);
    });
    expect(ids).toEqual(events.map((_, i) => `evt-${i}`));
  });

  it('puts the original text of each event in the body, not a re-serialisation', () => {
    const [a, b] = distinctLines(2);
    const spaced = (a as string).replace('{"kind":"Event"', '{ "kind" : "Event"');

    const { bodies } = packEventLists([spaced, b as string], 400, 1 << 20);

    expect(bodies[0]?.body).toBe(`${EVENT_LIST_PREFIX}${spaced},${b}${EVENT_LIST_SUFFIX}`);
  });

  it('measures multi-byte UTF-8 exactly: bodies fit the cap and the next event would not', () => {
    const events = distinctLines(300).map((line, i) => withName(line, `naïve-名前-😀-${i}`));
    const maxBytes = 9000;

    const { bodies, oversize } = packEventLists(events, 400, maxBytes);

    expect(oversize).toEqual([]);
    for (const [k, body] of bodies.entries()) {
      expect(bytes(body.body)).toBeLessThanOrEqual(maxBytes);
      const next = events[body.first + body.count];
      if (k < bodies.length - 1 && next !== undefined) expect(bytes(body.body) + 1 + bytes(next)).toBeGreaterThan(maxBytes);
    }
    expect(bodies.reduce((n, b) => n + b.count, 0)).toBe(300);
  });

  it('fills a body to exactly the cap', () => {
    const [a, b] = distinctLines(2) as [string, string];
    const exact = bytes(EVENT_LIST_PREFIX) + bytes(a) + 1 + bytes(b) + bytes(EVENT_LIST_SUFFIX);

    expect(packEventLists([a, b], 400, exact).bodies.map((x) => x.count)).toEqual([2]);
    expect(packEventLists([a, b], 400, exact - 1).bodies.map((x) => x.count)).toEqual([1, 1]);
  });

  it('reports an event bigger than the cap as oversize and keeps bodies contiguous around it', () => {
    const events = distinctLines(5);
    events[2] = withName(events[2] as string, 'x'.repeat(40_000));

    const { bodies, oversize } = packEventLists(events, 400, 30_000);

    expect(oversize).toEqual([2]);
    expect(bodies.map((b) => [b.first, b.count])).toEqual([
      [0, 2],
      [3, 2],
    ]);
  });

  it('accounts for every index exactly once whatever the sizes and caps', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'grapheme', maxLength: 60 }), { maxLength: 60 }),
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 70, max: 400 }),
        (names, maxEvents, maxBytes) => {
          const events = names.map((name, i) => JSON.stringify({ kind: 'Event', auditID: `a-${i}`, objectRef: { name } }));

          const { bodies, oversize } = packEventLists(events, maxEvents, maxBytes);

          const seen = [...oversize];
          for (const b of bodies) {
            expect(b.count).toBeLessThanOrEqual(maxEvents);
            expect(bytes(b.body)).toBeLessThanOrEqual(maxBytes);
            const items = (JSON.parse(b.body) as { items: { auditID: string }[] }).items.map((x) => x.auditID);
            expect(items).toEqual(events.slice(b.first, b.first + b.count).map((_, k) => `a-${b.first + k}`));
            for (let i = b.first; i < b.first + b.count; i++) seen.push(i);
          }
          expect(seen.sort((x, y) => x - y)).toEqual(events.map((_, i) => i));
        },
      ),
    );
  });
});

describe('eventListChunks', () => {
  /**
   * Events as views of one buffer, each followed by the given separator (as the tailer's read holds
   * them), with a join claimed where the separator is one comma (as the tailer's `joinLines` does).
   */
  function viewsOf(texts: string[], separators: string[]): JoinedLines & { events: Buffer[] } {
    const buf = Buffer.from(texts.map((t, i) => t + (separators[i] ?? '')).join(''), 'utf8');
    const views: Buffer[] = [];
    let at = 0;
    texts.forEach((t, i) => {
      const n = Buffer.byteLength(t);
      views.push(buf.subarray(at, at + n));
      at += n + Buffer.byteLength(separators[i] ?? '');
    });
    return { events: views, joined: views.map((_, i) => i > 0 && separators[i - 1] === ',') };
  }

  it('sends events that lie one comma apart as one view of their buffer, byte for byte the packed body', () => {
    const texts = ['{"a":1}', '{"b":"ü"}', '{"c":3}'];
    const views = viewsOf(texts, [',', ',', '\n']);

    const body = eventListChunks(views, 0, 3);

    expect(body.chunks).toHaveLength(3);
    expect(Buffer.concat(body.chunks).toString()).toBe(`${EVENT_LIST_PREFIX}${texts.join(',')}${EVENT_LIST_SUFFIX}`);
    expect(body.length).toBe(Buffer.concat(body.chunks).length);
  });

  it('copies events given as a plain array: no join is assumed from the bytes around them', () => {
    const texts = ['{"a":1}', '{"b":"ü"}', '{"c":3}'];
    const views = viewsOf(texts, [',', ',', '\n']);

    const body = eventListChunks(withoutJoins(views.events), 0, 3);

    expect(body.chunks).toHaveLength(1);
    expect(Buffer.concat(body.chunks).toString()).toBe(`${EVENT_LIST_PREFIX}${texts.join(',')}${EVENT_LIST_SUFFIX}`);
  });

  it('checks every claimed join: a claim over a newline, a gap or another buffer still gives the right bytes', () => {
    const texts = ['{"a":1}', '{"b":2}', '{"c":3}', '{"d":4}'];
    const views = viewsOf(texts, ['\n', ',,', ',', '']);
    const other = Buffer.from(texts[3] as string);
    const lying: JoinedLines = { events: [...views.events.slice(0, 3), other], joined: [false, true, true, true] };

    const body = eventListChunks(lying, 0, 4);

    expect(Buffer.concat(body.chunks).toString()).toBe(`${EVENT_LIST_PREFIX}${texts.join(',')}${EVENT_LIST_SUFFIX}`);
    expect(body.length).toBe(Buffer.concat(body.chunks).length);
  });

  it('builds the same bytes as eventListBytes for any events, separators, claims and range', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.string({ unit: 'grapheme', maxLength: 20 }), fc.constantFrom(',', '\n', '\r\n', ',,', '', ' ,'), fc.boolean()),
          {
            minLength: 1,
            maxLength: 40,
          },
        ),
        fc.nat(),
        fc.nat(),
        fc.boolean(),
        (items, a, b, asText) => {
          const texts = items.map(([name], i) => JSON.stringify({ auditID: `a-${i}`, name }));
          const joinedViews = viewsOf(
            texts,
            items.map(([, sep]) => sep),
          );
          const views: (string | Buffer)[] = [...joinedViews.events];
          if (asText) views[a % views.length] = texts[a % views.length] as string;
          // Claims as the tailer makes them, some flipped: a false claim must never change the bytes.
          const joined = joinedViews.joined.map((j, i) => (items[i]?.[2] === true ? !j : j));
          const first = a % views.length;
          const count = 1 + (b % (views.length - first));

          const body = eventListChunks({ events: views, joined }, first, count);

          const all = Buffer.concat(body.chunks);
          expect(all.equals(eventListBytes(views, first, count))).toBe(true);
          expect(body.length).toBe(all.length);
        },
      ),
    );
  });
});
