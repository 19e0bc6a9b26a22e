// "Is this line an audit event?" has one definition (readAuditLine in lib/audit), used by the three
// paths that read lines: the CloudWatch forwarder's line check, the ingest's NDJSON parser and the
// file tailer. These tests feed all three the same real lines (the Falco traces as captured from a
// real apiserver, the EKS sample of the OCSF examples, the messages of the public CloudWatch Logs
// subscription samples, Google's GKE LogEntries) and a few cut from them, and compare the verdicts
// line by line with what each path lets through.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAuditPayload, readAuditLine } from '../../../lib/audit/index.js';
import { checkAuditLine } from '../../../lib/cloudwatch/index.js';
import { FileTailer, tailShipper } from '../../../lib/tail/index.js';
import { splitLines } from '../../../lib/tail/lines.js';
import { EKS_RAW, FALCO_DIR, FIXTURES, gkeEntries } from '../../helpers/fixtures.js';
import { RecordingShipper, tempDir } from '../../helpers/tail.js';

/** Every non-blank line of every Falco trace file, as published (the `{"kind": 0}` input included). */
function falcoTraceLines(): string[] {
  return readdirSync(FALCO_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .flatMap((f) => readFileSync(join(FALCO_DIR, f), 'utf8').split('\n'))
    .filter((l) => l.trim() !== '');
}

/** The log messages inside the public CloudWatch Logs subscription samples (application logs, not audit events). */
function cloudWatchSampleMessages(): string[] {
  const dir = join(FIXTURES, 'cwl');
  const out: string[] = [];
  for (const file of readdirSync(dir).sort()) {
    const event = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { awslogs?: { data: string } };
    if (event.awslogs === undefined) continue;
    const payload = JSON.parse(gunzipSync(Buffer.from(event.awslogs.data, 'base64')).toString('utf8')) as {
      logEvents: { message: string }[];
    };
    out.push(...payload.logEvents.map((e) => e.message));
  }
  return out;
}

/** Real lines, and lines derived from them the way they go wrong in practice. */
function realLines(): string[] {
  const falco = falcoTraceLines();
  const eks = JSON.stringify(JSON.parse(readFileSync(EKS_RAW, 'utf8')));
  const cut = falco.slice(0, 5).map((l) => l.slice(0, Math.floor(l.length / 2)));
  return [
    ...falco,
    eks,
    // Written with CRLF line ends (a file copied through Windows): still the same events.
    `${falco[3]}\r`,
    ...cloudWatchSampleMessages().filter((m) => !m.includes('\n')),
    ...[...gkeEntries().values()].map((e) => JSON.stringify(e)),
    // A write cut short (a full disk, a crash mid-line) and a plain text log line.
    ...cut,
    'I1204 18:01:02.000000       1 trace.go:205] Trace[1]: "Create" url:/api/v1/namespaces',
  ];
}

let dir: string;
let cleanup: () => void;

beforeEach(() => {
  ({ dir, cleanup } = tempDir('aisoc-line-check-'));
});

afterEach(() => cleanup());

describe('one audit-line check for the forwarder, the parser and the tailer', () => {
  it('the real lines hold both verdicts, so agreement below is not agreement on one answer', () => {
    const verdicts = realLines().map((l) => readAuditLine(l).kind);

    expect(verdicts.filter((v) => v === 'event').length).toBeGreaterThan(50);
    expect(verdicts.filter((v) => v === 'invalid').length).toBeGreaterThanOrEqual(3);
    expect(verdicts.filter((v) => v === 'not-json').length).toBeGreaterThanOrEqual(6);
    expect(readAuditLine('{"kind": 0}')).toMatchObject({ kind: 'invalid', reason: 'kind must be "Event", got number' });
  });

  it('the CloudWatch line check accepts exactly the lines lib/audit calls events', () => {
    for (const line of realLines()) {
      expect({ line, event: checkAuditLine(line).kind === 'event' }).toEqual({ line, event: readAuditLine(line).kind === 'event' });
    }
  });

  it('the NDJSON parser accepts exactly those lines, and rejects every other one by its line number', () => {
    const lines = realLines();

    const parsed = parseAuditPayload(lines.join('\n'));

    expect(parsed.form).toBe('ndjson');
    const rejectedLines = new Set(parsed.rejected.map((r) => r.line));
    lines.forEach((line, i) => {
      expect({ line, event: !rejectedLines.has(i + 1) }).toEqual({ line, event: readAuditLine(line).kind === 'event' });
    });
    expect(parsed.events.map((e) => e.auditID)).toEqual(
      lines.flatMap((l) => {
        const r = readAuditLine(l);
        return r.kind === 'event' ? [r.event.auditID] : [];
      }),
    );
  });

  it('the tailer ships exactly those lines from a file and passes over the rest', async () => {
    const lines = realLines();
    const logPath = join(dir, 'audit.log');
    writeFileSync(logPath, lines.map((l) => `${l}\n`).join(''));
    const shipper = new RecordingShipper();
    // With alerts on, the tailer checks every line itself before it ships it.
    const tailer = new FileTailer({
      logPath,
      cursorPath: `${logPath}.aisoc-cursor`,
      maxBytes: 8 * 1024 * 1024,
      ship: shipper.ship,
      alerts: { tenantId: null, clusterName: null },
    });

    const r = await tailer.poll();

    const events = lines.filter((l) => readAuditLine(l).kind === 'event');
    expect(r).toMatchObject({ complete: true, lines: lines.length, delivered: events.length, invalid: lines.length - events.length });
    expect(shipper.shipped).toEqual(events.map((l) => l.replace(/\r$/, '')));
  });

  it("the tailer's splitter, which ships audit-shaped lines unparsed, passes over exactly the lines lib/audit refuses", () => {
    const lines = realLines();
    const buf = Buffer.from(lines.map((l) => `${l}\n`).join(''));

    const split = splitLines(buf, buf.length, 0, { checkAll: false });

    const starts: number[] = [];
    lines.reduce((at, l) => {
      starts.push(at);
      return at + Buffer.byteLength(l) + 1;
    }, 0);
    const skipped = new Set(split.skipped.map((s) => s.offset));
    const shipped = new Set(split.lines.map((l) => l.offset));
    lines.forEach((line, i) => {
      const at = starts[i] as number;
      // Each real line is shipped or passed over, never lost; none of these real non-events looks
      // enough like an audit line to be shipped unparsed, so the splitter's verdict is the check's.
      expect({ line, shipped: shipped.has(at), passedOver: skipped.has(at) }).toEqual({
        line,
        shipped: readAuditLine(line).kind === 'event',
        passedOver: readAuditLine(line).kind !== 'event',
      });
    });
    expect(split.count).toBe(lines.length);
  });

  it('an ingest in front of the unparsed path delivers the same events and counts the same rejects', async () => {
    const lines = realLines();
    const logPath = join(dir, 'audit.log');
    writeFileSync(logPath, lines.map((l) => `${l}\n`).join(''));
    const accepted: string[] = [];
    const ingest = (async (_url: unknown, init?: RequestInit) => {
      const parsed = parseAuditPayload(Buffer.from(init?.body as Uint8Array));
      if (parsed.form !== 'EventList') return new Response('{"error":"body is not JSON"}', { status: 400 });
      accepted.push(...parsed.events.map((e) => e.auditID));
      const errors = parsed.rejected.map((x) => ({ index: x.index, reason: x.reason }));
      return new Response(JSON.stringify({ accepted: parsed.events.length, rejected: errors.length, duplicates: 0, errors }), {
        status: 200,
        headers: { 'content-type': 'application/json' },
      });
    }) as typeof fetch;
    const { ship, isOversize } = tailShipper({
      url: 'https://ingest.test/v1/ingest/k8s-audit/acme',
      token: 't0ken',
      clusterName: 'c',
      fetch: ingest,
    });

    const r = await new FileTailer({ logPath, cursorPath: `${logPath}.aisoc-cursor`, maxBytes: 8 * 1024 * 1024, ship, isOversize }).poll();

    const events = lines.flatMap((l) => {
      const x = readAuditLine(l);
      return x.kind === 'event' ? [x.event.auditID] : [];
    });
    expect(r).toMatchObject({ complete: true, delivered: events.length, invalid: lines.length - events.length });
    expect(accepted).toEqual(events);
  });

  it('an EventList on one line is the one place the paths differ, by design: the parser reads its items (an ingest body may be NDJSON of EventLists), a log line must be one Event', () => {
    const event = falcoTraceLines()[0] as string;
    const line = `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[${event}]}`;

    expect(readAuditLine(line)).toMatchObject({ kind: 'invalid', reason: 'kind must be "Event", got "EventList"' });
    expect(checkAuditLine(line)).toMatchObject({ kind: 'invalid' });
    expect(parseAuditPayload(`${line}\n${event}`).events).toHaveLength(2);
  });
});
