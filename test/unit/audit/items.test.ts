import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eventListItemTexts, normaliseAuditEvent, parseAuditPayload, serialiseRecord } from '../../../lib/audit/index.js';
import { nestsDeeperThan } from '../../../lib/audit/items.js';
import { allFalcoEvents } from '../../helpers/fixtures.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 500);
const ctx = { tenantId: 't', clusterName: 'c', receivedAt: Date.UTC(2026, 0, 1) };

/** An EventList text with `sep` between every token the test controls (whitespace JSON allows). */
function eventListText(items: unknown[], sep: string, indent: number): string {
  const texts = items.map((i) => JSON.stringify(i, null, indent));
  return `{${sep}"kind"${sep}:${sep}"EventList",${sep}"items"${sep}:${sep}[${sep}${texts.join(`${sep},${sep}`)}${sep}]${sep},"metadata":{"items":[1]}}`;
}

describe('eventListItemTexts', () => {
  it('finds each item of a real EventList as the exact slice of its source', () => {
    const events = allFalcoEvents();
    const text = `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[${events.map((e) => JSON.stringify(e)).join(',')}]}`;

    const texts = eventListItemTexts(text, events.length);

    expect(texts).toEqual(events.map((e) => JSON.stringify(e)));
  });

  it('gives texts that parse back to the parsed items, whatever the whitespace, strings and nesting', () => {
    const item = fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 5 });
    fc.assert(
      fc.property(
        fc.array(item, { maxLength: 6 }),
        fc.constantFrom('', ' ', '\n', '\t', '\r\n  '),
        fc.constantFrom(0, 2),
        (items, sep, indent) => {
          const text = eventListText(items, sep, indent);
          const parsed = (JSON.parse(text) as { items: unknown[] }).items;

          const texts = eventListItemTexts(text, parsed.length);

          expect(texts?.map((t) => JSON.parse(t as string))).toEqual(parsed);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('takes the last of duplicate items keys, as JSON.parse does', () => {
    const text = '{"items":[{"a":1}],"kind":"EventList","items":[{"b":"]}\\""},{"c":[]}]}';

    expect(eventListItemTexts(text, 2)).toEqual(['{"b":"]}\\""}', '{"c":[]}']);
  });

  it('vouches for nothing when a key is escaped, an item is not an object, or the count differs', () => {
    expect(eventListItemTexts('{"items":[{"a":1}],"\\u0069tems":[{"b":2}]}', 1)).toBeNull();
    expect(eventListItemTexts('{"kind":"items","items":[{"a":"x"},1]}', 2)).toBeNull();
    expect(eventListItemTexts('{"items":["x"]}', 1)).toBeNull();
    expect(eventListItemTexts('{"items":[[]]}', 1)).toBeNull();
    expect(eventListItemTexts('{"items":[{"a":1}]}', 2)).toBeNull();
  });

  it('leaves out the text of an item nested deeper than the record depth limit', () => {
    const deep = `${'{"a":'.repeat(70)}1${'}'.repeat(70)}`;

    expect(eventListItemTexts(`{"items":[{"x":1},${deep}]}`, 2)).toEqual(['{"x":1}', undefined]);
    expect(nestsDeeperThan(deep)).toBe(true);
    expect(nestsDeeperThan('{"a":"{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{"}')).toBe(false);
  });
});

describe('parseAuditPayload with item texts', () => {
  it('serialises each record of an EventList to the same JSON value as serialising the record object', () => {
    const events = allFalcoEvents().slice(0, 20);
    const parsed = parseAuditPayload(`{"kind":"EventList","items":[\n${events.map((e) => JSON.stringify(e)).join(',\n')}\n]}`);

    expect(parsed.texts.every((t) => t !== undefined)).toBe(true);
    parsed.events.forEach((event, i) => {
      const record = normaliseAuditEvent(event, ctx);
      expect(JSON.parse(serialiseRecord(record, event, parsed.texts[i]))).toEqual(JSON.parse(JSON.stringify(record)));
    });
  });
});
