import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAuditPayload } from '../../../lib/audit/index.js';
import { eventListLayout } from '../../../lib/audit/items.js';
import { allFalcoEvents } from '../../helpers/fixtures.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 500);

/** An EventList text with `sep` between every token the test controls (whitespace JSON allows). */
function eventListText(items: unknown[], sep: string, indent: number): string {
  const texts = items.map((i) => JSON.stringify(i, null, indent));
  return `{${sep}"kind"${sep}:${sep}"EventList",${sep}"items"${sep}:${sep}[${sep}${texts.join(`${sep},${sep}`)}${sep}]${sep},"metadata":{"items":[1]}}`;
}

describe('reading an EventList from its bytes', () => {
  const realBody = () => {
    const events = allFalcoEvents();
    return `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[${events.map((e) => JSON.stringify(e)).join(',')}]}`;
  };

  it('finds every item of a real EventList at its exact bytes', () => {
    const text = realBody();
    const bytes = Buffer.from(text, 'utf8');

    const layout = eventListLayout(bytes, 0);

    expect(layout).not.toBeNull();
    const texts = [];
    for (let k = 0; k < (layout?.deep.length ?? 0); k++)
      texts.push(bytes.toString('utf8', layout?.ranges[2 * k], layout?.ranges[2 * k + 1]));
    expect(texts).toEqual(allFalcoEvents().map((e) => JSON.stringify(e)));
    expect(bytes.toString('utf8', layout?.open, (layout?.close ?? 0) + 1)).toBe(`[${texts.join(',')}]`);
  });

  it('parses bytes exactly as it parses the same text: events, texts, rejections and form', () => {
    const item = fc.oneof(
      fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 5 }),
      fc.record({ auditID: fc.uuid(), verb: fc.constantFrom('get', 'create'), note: fc.string({ unit: 'binary' }) }),
      fc.jsonValue({ maxDepth: 2 }),
    );
    fc.assert(
      fc.property(
        fc.array(item, { maxLength: 6 }),
        fc.constantFrom('', ' ', '\n', '\t', '\r\n  '),
        fc.constantFrom(0, 2),
        (items, sep, indent) => {
          const text = eventListText(items, sep, indent);

          expect(parseAuditPayload(Buffer.from(text, 'utf8'))).toEqual(parseAuditPayload(text));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('gives the same answer as the text for every body it does not vouch for', () => {
    const bodies = [
      '{"kind":"EventList","items":[{"auditID":"a"},]}', // trailing comma
      '{"kind":"EventList","items":[,{"auditID":"a"}]}', // leading comma
      '{"kind":"EventList","items":[{"auditID":"a"}{"auditID":"b"}]}', // missing comma
      '{"kind":"EventList","items":[{"auditID":"a"}],"items":[{"auditID":"b"}]}', // two items keys
      '{"kind":"EventList","\\u0069tems":[{"auditID":"a"}]}', // escaped key
      '{"kind":"EventList","items":[{"auditID":"a"},1,"x",null]}', // scalars as items
      '{"kind":"EventList","items":[{"auditID":"a"}]} trailing',
      '{"kind":"EventList","items":[{"auditID":"a"}]}{"kind":"EventList"}',
      '{"kind":"Event","auditID":"a","items":[{"auditID":"b"}]}', // not an EventList
      '{"kind":"EventList","items":{"auditID":"a"}}',
      '{"kind":"EventList","items":[{"auditID":"a",}]}', // an item that is not JSON
      '{"kind":"EventList","items":[{"auditID":"a"}],}', // an envelope that is not JSON
      '{"kind":"EventList","items":[{"auditID":"a\\"}]"}]}', // brackets and quotes inside strings
      '{"kind":"EventList","items":[{"auditID":"a","user":{"username":"ünïcødé ✓ 🚀"}}]}',
      '\uFEFF{"kind":"EventList","items":[{"auditID":"a"}]}',
      '  \n{"kind":"EventList","items":[]}\n',
      '[{"auditID":"a"}]',
      '{"auditID":"a"}\n{"auditID":"b"}',
      '',
      '{',
    ];
    for (const body of bodies) {
      expect(parseAuditPayload(Buffer.from(body, 'utf8')), body).toEqual(parseAuditPayload(body));
    }
    // Invalid UTF-8: decoded with replacement characters, whole, as the text path would.
    const invalid = Buffer.concat([
      Buffer.from('{"kind":"EventList","items":[{"auditID":"a","verb":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}]}'),
    ]);
    expect(parseAuditPayload(invalid)).toEqual(parseAuditPayload(new TextDecoder().decode(invalid)));
    expect(parseAuditPayload(invalid).events[0]?.verb).toBe('\uFFFD\uFFFD');
  });

  it('vouches only for a plain EventList of objects', () => {
    expect(eventListLayout(Buffer.from('{"kind":"EventList","items":[{"a":1},{"b":"]"}]}'), 0)?.ranges).toEqual([29, 36, 37, 46]);
    for (const body of [
      '{"items":[{"a":1},]}',
      '{"items":[1]}',
      '{"items":[{"a":1}],"items":[]}',
      '{"items":[]} x',
      '[{"a":1}]',
      '{"items":[{"a":1}]',
    ]) {
      expect(eventListLayout(Buffer.from(body), 0), body).toBeNull();
    }
  });

  it('marks an item nested deeper than the depth limit, so its text is not used', () => {
    const deepItem = `{"auditID":"d","requestObject":${'['.repeat(40)}${']'.repeat(40)}}`;
    const text = `{"kind":"EventList","items":[{"auditID":"a"},${deepItem}]}`;

    expect(eventListLayout(Buffer.from(text), 0, 32)?.deep).toEqual([false, true]);
    expect(parseAuditPayload(Buffer.from(text))).toEqual(parseAuditPayload(text));
  });
});
