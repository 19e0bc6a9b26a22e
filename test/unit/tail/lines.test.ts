// The tailer's line splitter, on bytes alone (no file, no shipper): real audit lines from the Falco
// traces, with the line ends, blank lines, bad bytes and oversize events a real log can hold.
import { describe, expect, it } from 'vitest';
import { EVENT_LIST_PREFIX, EVENT_LIST_SUFFIX, type EventText, eventListBytes, eventString } from '../../../lib/ship/index.js';
import { eventListChunks } from '../../../lib/ship/pack.js';
import { checkLine, isUnfinishedLine, joinLines, splitLines } from '../../../lib/tail/lines.js';
import { eventString as legacyLine } from '../../helpers/legacy-audit.js';
import { auditIdOf, uniqueEvents } from '../../helpers/tail.js';

const texts = (lines: readonly { data: string | Uint8Array }[]): string[] => lines.map((l) => eventString(l.data));

describe('splitLines', () => {
  it('splits LF and CRLF lines, skips blank ones and gives each line its file offset', () => {
    const [a, b, c] = uniqueEvents(3, 'split') as [string, string, string];
    const buf = Buffer.from(`${a}\n\n${b}\r\n   \n${c}\n`);

    const split = splitLines(buf, buf.length, 1000, { checkAll: false });

    expect(texts(split.lines)).toEqual([a, b, c]);
    expect(split.lines.map((l) => l.offset)).toEqual([1000, 1000 + a.length + 2, 1000 + a.length + 2 + b.length + 2 + 4]);
    expect(split.count).toBe(3);
    expect(split.skipped).toEqual([]);
  });

  it('reads only up to `end`: bytes after it belong to the next poll', () => {
    const [a, b] = uniqueEvents(2, 'end') as [string, string];
    const buf = Buffer.from(`${a}\n${b.slice(0, 40)}`);

    const split = splitLines(buf, a.length + 1, 0, { checkAll: false });

    expect(texts(split.lines)).toEqual([a]);
  });

  it('ships audit-shaped lines unparsed unless asked to check all, and checks every other line', () => {
    const [a] = uniqueEvents(1, 'shape') as [string];
    const shapedButNot = '{"auditID":"x-1","user":"not-an-object"}';
    const buf = Buffer.from(`${a}\n${shapedButNot}\nnot json at all\n{"kind": 0}\n`);

    const fast = splitLines(buf, buf.length, 0, { checkAll: false });
    const checked = splitLines(buf, buf.length, 0, { checkAll: true });

    expect(texts(fast.lines)).toEqual([a, shapedButNot]);
    expect(fast.lines.every((l) => l.event === undefined)).toBe(true);
    expect(fast.skipped.map((s) => s.kind === 'invalid' && s.reason)).toEqual([
      'line is neither JSON nor a kube-apiserver legacy audit line (<time> AUDIT: id="..." ...)',
      'not a valid audit event: kind must be "Event", got number',
    ]);
    expect(texts(checked.lines)).toEqual([a]);
    expect(checked.lines[0]?.event?.auditID).toBe('shape-0');
    expect(checked.skipped).toEqual([
      { kind: 'invalid', offset: a.length + 1, reason: 'not a valid audit event: user must be an object, got string', auditID: 'x-1' },
      {
        kind: 'invalid',
        offset: a.length + 1 + shapedButNot.length + 1,
        reason: 'line is neither JSON nor a kube-apiserver legacy audit line (<time> AUDIT: id="..." ...)',
      },
      {
        kind: 'invalid',
        offset: a.length + 1 + shapedButNot.length + 1 + 16,
        reason: 'not a valid audit event: kind must be "Event", got number',
      },
    ]);
    expect(checked.count).toBe(4);
  });

  it('ships a line unparsed only when "auditID" starts within its first 512 bytes, wherever the key lies in that window', () => {
    // A valid event whose auditID key is pushed to a given byte offset by a padding field before it.
    const at = (offset: number, id: string): string => {
      const head = '{"kind":"Event","pad":"';
      const rest = `","auditID":"${id}","stage":"ResponseComplete","level":"Metadata","apiVersion":"audit.k8s.io/v1","verb":"get","requestURI":"/api","user":{"username":"u"}}`;
      const pad = 'p'.repeat(offset - head.length - 2);
      const line = head + pad + rest;
      expect(line.indexOf('"auditID"')).toBe(offset);
      return line;
    };
    // Near misses of the key before it: the search must not stop at them or skip past the key.
    const decoys = `{"x":"auditI","y":"auditIDx","z":"AUDITID",${at(200, 'd').slice(1)}`;
    const lines = [at(40, 'a'), at(512, 'b'), at(513, 'c'), decoys];
    const buf = Buffer.from(`${lines.join('\n')}\n`);

    const split = splitLines(buf, buf.length, 0, { checkAll: false });

    // The first, second and fourth go out as bytes, unchecked; the third was parsed here.
    expect(split.lines.map((l) => l.event === undefined)).toEqual([true, true, false, true]);
    expect(texts(split.lines)).toEqual(lines);
  });

  it('sends a line that is not valid UTF-8 as its decoded text, and its neighbours as bytes', () => {
    const [a, b] = uniqueEvents(2, 'utf') as [string, string];
    const bad = Buffer.from(b.replace('"verb":"', '"verb":"\u00ff'), 'latin1');
    const buf = Buffer.concat([Buffer.from(`${a}\n`), bad, Buffer.from('\n')]);

    const split = splitLines(buf, buf.length, 0, { checkAll: false });

    expect(typeof split.lines[0]?.data).not.toBe('string');
    expect(typeof split.lines[1]?.data).toBe('string');
    expect(split.lines[1]?.data).toContain('\ufffd');
  });

  it("leaves an event too large for one body out of the batches, with its bytes and auditID, as the shipper's cap says", () => {
    const [a, big, c] = uniqueEvents(3, 'big') as [string, string, string];
    const buf = Buffer.from(`${a}\n${big}\n${c}\n`);

    const split = splitLines(buf, buf.length, 0, { checkAll: false, isOversize: (line) => eventString(line).includes('big-1') });

    expect(texts(split.lines)).toEqual([a, c]);
    expect(split.skipped).toEqual([
      { kind: 'oversize', offset: a.length + 1, bytes: big.length, data: expect.anything(), auditID: auditIdOf(big) },
    ]);
    expect(eventString((split.skipped[0] as { data: EventText }).data)).toBe(big);
    expect(split.count).toBe(3);
  });
});

describe('checkLine: an event appended to the bytes of a line its writer did not finish', () => {
  // A killed apiserver's next life appends to the same file: its first event follows the cut.
  const [cutWhole, appended] = uniqueEvents(2, 'glue') as [string, string];

  it('reads the appended event whole and salvages the cut one (flagged truncated), in file order', () => {
    const cut = cutWhole.slice(0, cutWhole.indexOf('"auditID"') + 200);
    const checked = checkLine(`${cut}${appended}`) as {
      items: { auditID: string; annotations: Record<string, string> }[];
      unreadable?: string;
    };

    expect(checked.items.map((e) => e.auditID)).toEqual([auditIdOf(cutWhole), auditIdOf(appended)]);
    expect(checked.items[0]?.annotations['audit.k8s.io/truncated']).toBe('true');
    expect(checked.items[1]).toEqual(JSON.parse(appended));
    expect(checked.unreadable).toBeUndefined();
  });

  it('reads the appended event and names the cut bytes unreadable when they hold no auditID', () => {
    const cut = cutWhole.slice(0, cutWhole.indexOf('"auditID"') - 1);
    const checked = checkLine(`${cut}${appended}`) as { items: unknown[]; unreadable?: string };

    expect(checked.items).toEqual([JSON.parse(appended)]);
    expect(checked.unreadable).toMatch(/^line is not JSON: bytes a writer did not finish, with no auditID/);
  });

  it('leaves a line that holds no whole event after its cut as not JSON', () => {
    expect(checkLine(`${cutWhole.slice(0, 400)}${appended.slice(0, 400)}`)).toEqual({ reason: 'line is not JSON' });
  });
});

describe('joinLines', () => {
  it('turns the newline between adjacent lines into a comma and claims those joins, so lib/ship sends one view', () => {
    const events = uniqueEvents(4, 'join');
    const buf = Buffer.from(events.map((e) => `${e}\n`).join(''));
    const split = splitLines(buf, buf.length, 0, { checkAll: false });

    const joined = joinLines(buf, split.lines);

    expect(joined.joined).toEqual([false, true, true, true]);
    expect(buf.toString()).toBe(`${events.join(',')}\n`);
    const body = eventListChunks(joined, 0, 4);
    expect(body.chunks).toHaveLength(3);
    expect(Buffer.concat(body.chunks).toString()).toBe(`${EVENT_LIST_PREFIX}${events.join(',')}${EVENT_LIST_SUFFIX}`);
  });

  it('claims no join across a CRLF, a passed-over line or a decoded line, and still builds the exact body', () => {
    const [a, b, c, d] = uniqueEvents(4, 'gap') as [string, string, string, string];
    const bad = Buffer.from(d.replace('"verb":"', '"verb":"\u00ff'), 'latin1');
    const buf = Buffer.concat([Buffer.from(`${a}\r\n${b}\nnot json\n${c}\n`), bad, Buffer.from('\n')]);
    const split = splitLines(buf, buf.length, 0, { checkAll: false });

    const joined = joinLines(buf, split.lines);

    expect(joined.joined).toEqual([false, false, false, false]);
    expect(buf.includes(',not json')).toBe(false);
    const body = eventListChunks(joined, 0, 4);
    expect(Buffer.concat(body.chunks).equals(eventListBytes(joined.events, 0, 4))).toBe(true);
  });

  it('called again on the lines left after a re-check, claims only the joins still adjacent', () => {
    const events = uniqueEvents(5, 'again');
    const buf = Buffer.from(events.map((e) => `${e}\n`).join(''));
    const lines = splitLines(buf, buf.length, 0, { checkAll: false }).lines;
    joinLines(buf, lines);

    const rest = joinLines(buf, [lines[0], lines[1], lines[3], lines[4]] as typeof lines);

    expect(rest.joined).toEqual([false, true, false, true]);
    const body = eventListChunks(rest, 0, 4);
    expect(body.chunks).toHaveLength(5);
    expect(Buffer.concat(body.chunks).toString()).toBe(
      `${EVENT_LIST_PREFIX}${[0, 1, 3, 4].map((i) => events[i]).join(',')}${EVENT_LIST_SUFFIX}`,
    );
  });
});

describe('kube-apiserver legacy audit lines (--audit-log-format=legacy)', () => {
  const line = legacyLine(
    {
      auditID: 'lg-1',
      stage: 'ResponseComplete',
      verb: 'delete',
      user: { username: 'mallory' },
      sourceIPs: ['198.51.100.4'],
      requestURI: '/api/v1/namespaces/prod/secrets/db',
      responseStatus: { code: 200 },
    },
    '2024-01-02T03:04:05.000006Z',
  );

  it('ships a legacy line as the JSON Event it stands for, whether or not every line is checked', () => {
    const buf = Buffer.from(`${line}\n`);
    for (const checkAll of [false, true]) {
      const split = splitLines(buf, buf.length, 0, { checkAll });
      expect(split.skipped).toEqual([]);
      expect(split.lines.map((l) => JSON.parse(texts([l])[0] as string))).toEqual([
        {
          kind: 'Event',
          apiVersion: 'audit.k8s.io/v1',
          auditID: 'lg-1',
          requestReceivedTimestamp: '2024-01-02T03:04:05.000006Z',
          stage: 'ResponseComplete',
          requestURI: '/api/v1/namespaces/prod/secrets/db',
          verb: 'delete',
          user: { username: 'mallory' },
          sourceIPs: ['198.51.100.4'],
          objectRef: { apiVersion: 'v1', namespace: 'prod', resource: 'secrets', name: 'db' },
          responseStatus: { metadata: {}, code: 200 },
        },
      ]);
    }
  });

  it("takes a rotated file's last legacy line without a newline as complete, and a cut one as unfinished", () => {
    expect(isUnfinishedLine(Buffer.from(line))).toBe(false);
    expect(isUnfinishedLine(Buffer.from(line.slice(0, 120)))).toBe(true);
  });
});
