// The built CLI's `normalise` handed what people actually hand it: the real public CloudWatch Logs
// subscription events (test/fixtures/cwl), real audit events (the Falco traces, the OCSF examples'
// EKS sample) wrapped the way CloudWatch Logs wraps them (raw base64 of gzip, the gzip bytes, the
// decoded JSON, the Lambda event, arrays and lines of these), pretty-printed EventLists and Events,
// `jq .` output; and what it cannot read (a broken or cut-off file, YAML, a web page, binary).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCliBundle, PROJECT_CACHE, runBuiltCli } from '../helpers/cli-bundle.js';
import { controlPayload, eksPayload } from '../helpers/envelopes.js';
import { allFalcoEvents, EKS_RAW, eksRawEvent, FALCO_DIR, FIXTURES } from '../helpers/fixtures.js';

let bundle = { cli: '', cleanup: () => {} };
let dir = '';

beforeAll(async () => {
  bundle = await buildCliBundle(PROJECT_CACHE, 'aisoc-normalise-');
  dir = mkdtempSync(join(tmpdir(), 'aisoc-normalise-input-'));
}, 60_000);
afterAll(() => {
  bundle.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs `normalise` on a file (or stdin for input given as bytes). */
function normalise(input: { file: string } | { stdin: Buffer | string }): Promise<{ code: number; stdout: string; stderr: string }> {
  return 'file' in input
    ? runBuiltCli(bundle.cli, ['normalise', input.file])
    : runBuiltCli(bundle.cli, ['normalise'], { stdin: input.stdin });
}

function write(name: string, content: Buffer | string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const auditIds = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { audit_id: string }).audit_id);

// Real audit lines as EKS writes them to CloudWatch Logs, one auditID each.
const eks = eksRawEvent();
const falco = allFalcoEvents().map((e, i) => ({ ...e, auditID: `falco-${i}` }));
const payload = eksPayload([JSON.stringify(eks), ...falco.slice(0, 9).map((e) => JSON.stringify(e))], { cluster: 'demo' });
const gzipped = gzipSync(JSON.stringify(payload));
const base64 = gzipped.toString('base64');
// The health check CloudWatch Logs sends a new destination: no audit events in it.
const control = gzipSync(JSON.stringify(controlPayload())).toString('base64');
const expectedIds = [eks.auditID, ...falco.slice(0, 9).map((e) => e.auditID)];

describe('normalise recognises CloudWatch Logs subscription shapes', () => {
  it.each([
    [
      'the raw payload as Lambda receives it in awslogs.data',
      () => ({ stdin: `${base64}\n` }),
      /a raw CloudWatch Logs subscription payload \(base64 of gzip, as in awslogs\.data\): 1 payload, log group \/aws\/eks\/demo\/cluster/,
    ],
    ['the gzip bytes', () => ({ file: write('payload.gz', gzipped) }), /the gzip bytes of a CloudWatch Logs subscription payload/],
    [
      'the decoded payload, pretty-printed',
      () => ({ file: write('decoded.json', JSON.stringify(payload, null, 2)) }),
      /a decoded CloudWatch Logs subscription payload \(the JSON with logEvents\): 1 payload/,
    ],
    [
      'the whole Lambda event',
      () => ({ stdin: JSON.stringify({ awslogs: { data: base64 } }) }),
      /a CloudWatch Logs subscription Lambda event: 1 payload/,
    ],
    [
      'a JSON array of raw payloads',
      () => ({ stdin: JSON.stringify([base64]) }),
      /a JSON array of 1 raw CloudWatch Logs subscription payloads \(base64 of gzip, as in awslogs\.data\): 1 payload/,
    ],
    [
      'Lambda events one per line',
      () => ({ stdin: `${JSON.stringify({ awslogs: { data: base64 } })}\n${JSON.stringify({ awslogs: { data: control } })}\n` }),
      /one per line: 2 CloudWatch Logs subscription Lambda events: 2 payloads/,
    ],
  ])('reads %s', async (_name, input, shape) => {
    const { code, stdout, stderr } = await normalise(input());

    expect(stderr).toMatch(shape);
    expect(auditIds(stdout)).toEqual(expectedIds);
    expect((JSON.parse(stdout.split('\n')[0] as string) as { cluster_name: string }).cluster_name).toBe('demo');
    expect(stderr.trimEnd().split('\n').at(-1)).toBe('normalised 10, rejected 0');
    expect(code).toBe(0);
  });

  it('reads an array of Lambda events and says how many payloads it found', async () => {
    const second = gzipSync(
      JSON.stringify(
        eksPayload(
          falco.slice(9, 12).map((e) => JSON.stringify(e)),
          { cluster: 'demo' },
        ),
      ),
    ).toString('base64');

    const { code, stdout, stderr } = await normalise({
      stdin: JSON.stringify([{ awslogs: { data: base64 } }, { awslogs: { data: second } }], null, 2),
    });

    expect(stderr).toMatch(/a JSON array of 2 CloudWatch Logs subscription Lambda events: 2 payloads/);
    expect(auditIds(stdout)).toEqual([...expectedIds, 'falco-9', 'falco-10', 'falco-11']);
    expect(code).toBe(0);
  });

  it('reads the real public subscription events and names their log group, which is not EKS', async () => {
    const { code, stdout, stderr } = await normalise({ file: join(FIXTURES, 'cwl', 'sumologic__testevent.json') });

    expect(stdout).toBe('');
    expect(stderr).toContain(
      'a CloudWatch Logs subscription Lambda event: 1 payload, log group testLogGroup (not an EKS control-plane log group',
    );
    expect(stderr).toMatch(/rejected .* item 0: testLogStream event eventId1: line is not JSON/);
    expect(code).toBe(1);

    const kinesis = await normalise({ file: join(FIXTURES, 'cwl', 'powertools-ts__kinesis-stream-cloudwatch-logs.json') });
    expect(kinesis.stderr).toMatch(/a Kinesis event of CloudWatch Logs payloads: 2 payloads, log group /);
    expect(kinesis.stderr).toContain('normalised 0, rejected 6');
  });
});

// What Amazon Data Firehose writes to S3 from a CloudWatch Logs subscription (Firehose Developer
// Guide, "Decompress CloudWatch Logs"; API Reference, Processor): each record is a payload as
// CloudWatch Logs sends it (gzip of the JSON), and the object is the records one after another.
// Built here the way Firehose builds it, from real audit events in the documented envelope.
describe('normalise reads CloudWatch Logs that Firehose archived to S3', () => {
  const payloads = [
    controlPayload(),
    eksPayload(
      falco.slice(0, 4).map((e) => JSON.stringify(e)),
      { cluster: 'demo' },
    ),
    eksPayload([JSON.stringify(eks), ...falco.slice(4, 7).map((e) => JSON.stringify(e))], { cluster: 'demo' }),
    eksPayload(
      falco.slice(7, 10).map((e) => JSON.stringify(e)),
      { cluster: 'demo' },
    ),
  ];
  const ids = [...falco.slice(0, 4).map((e) => e.auditID), eks.auditID, ...falco.slice(4, 10).map((e) => e.auditID)];
  const members = payloads.map((p) => gzipSync(JSON.stringify(p)));
  const json = payloads.map((p) => JSON.stringify(p));
  const firstLine = (stderr: string) => stderr.split('\n')[0] ?? '';
  const account = (stdout: string) =>
    (JSON.parse(stdout.split('\n')[0] as string) as { ocsf: { cloud: { account: { uid: string } } } }).ocsf.cloud.account.uid;

  it.each([
    [
      'gzip members, one payload each (without decompression)',
      () => Buffer.concat(members),
      '(gzip members one after another, as Firehose writes them without decompression): 4 payloads in 4 gzip members, 1 CONTROL_MESSAGE skipped, log group /aws/eks/demo/cluster',
    ],
    [
      'decoded payloads with no separator (with decompression)',
      () => json.join(''),
      '(decoded payloads one after another, as Firehose writes them with decompression): 4 payloads, 1 CONTROL_MESSAGE skipped',
    ],
    [
      'decoded payloads gzip-compressed as one object (with decompression and GZIP compression)',
      () => gzipSync(json.join('')),
      '(gzip of decoded payloads one after another, as Firehose writes them with decompression and GZIP compression): 4 payloads, 1 CONTROL_MESSAGE skipped',
    ],
  ])('reads %s', async (_name, object, shape) => {
    const { code, stdout, stderr } = await normalise({ file: write('firehose-object', object()) });

    expect(firstLine(stderr)).toContain(`Firehose-archived CloudWatch Logs ${shape}`);
    expect(auditIds(stdout)).toEqual(ids);
    expect((JSON.parse(stdout.split('\n')[0] as string) as { cluster_name: string }).cluster_name).toBe('demo');
    expect(account(stdout)).toBe('123456789012');
    expect(stderr.trimEnd().split('\n').at(-1)).toBe('normalised 11, rejected 0');
    expect(code).toBe(0);
  });

  it('reads decoded payloads with the newline delimiter (AppendDelimiterToRecord)', async () => {
    const { code, stdout, stderr } = await normalise({ stdin: `${json.join('\n')}\n` });

    expect(firstLine(stderr)).toContain('one per line: 4 decoded CloudWatch Logs subscription payloads');
    expect(firstLine(stderr)).toContain('1 CONTROL_MESSAGE skipped');
    expect(auditIds(stdout)).toEqual(ids);
    expect(code).toBe(0);
  });

  it('writes the events of a large object payload by payload, within a heap that could not hold them all', async () => {
    // 60 payloads of 250 real events each (15,000 events, 2 MB gzip'd, 25 MB of JSON): held
    // whole as parsed events they need more than a 40 MB heap; read a payload at a time, not.
    const object = Buffer.concat(
      Array.from({ length: 60 }, (_, p) =>
        gzipSync(
          JSON.stringify(
            eksPayload(
              Array.from({ length: 250 }, (_, i) =>
                JSON.stringify({ ...falco[(p * 250 + i) % falco.length], auditID: `big-${p * 250 + i}` }),
              ),
              { cluster: 'demo' },
            ),
          ),
        ),
      ),
    );
    const file = write('firehose-large.gz', object);

    const { code, stdout, stderr } = await runBuiltCli(bundle.cli, ['normalise', file], {
      env: { NODE_OPTIONS: '--max-old-space-size=40' },
      timeoutMs: 120_000,
    });

    expect(firstLine(stderr)).toContain('60 payloads in 60 gzip members');
    expect(stderr.trimEnd().split('\n').at(-1)).toBe('normalised 15000, rejected 0');
    const ids = auditIds(stdout);
    expect([ids.length, ids[0], ids.at(-1)]).toEqual([15000, 'big-0', 'big-14999']);
    expect(code).toBe(0);
  }, 150_000);

  it('reads extracted messages that Firehose compressed (JSON lines in gzip), as an audit.log.gz', async () => {
    // With message extraction Firehose writes the audit lines alone, one a line; with GZIP
    // compression the object is their gzip, as the apiserver's rotated audit.log.gz is too.
    const trace = readFileSync(join(FALCO_DIR, 'create_configmap_sensitive_values.json'));
    const file = write('firehose-messages.gz', gzipSync(trace));

    const { code, stdout, stderr } = await normalise({ file });

    expect(firstLine(stderr)).toBe(`normalise: ${file}: gzip of JSON lines (6 items)`);
    expect(auditIds(stdout)).toHaveLength(6);
    expect(stderr.trimEnd().split('\n').at(-1)).toBe('normalised 6, rejected 0');
    expect(code).toBe(0);
  });

  it('reports a corrupt member by number and byte, and still reads the members before and after it', async () => {
    const corrupt = members.map((m) => Buffer.from(m));
    // A flipped byte inside the second data member's deflate data, as a bad disk or copy leaves it.
    const second = corrupt[2] as Buffer;
    second[40] = (second[40] as number) ^ 0xff;
    const at = (corrupt[0] as Buffer).length + (corrupt[1] as Buffer).length;
    const file = write('firehose-corrupt.gz', Buffer.concat(corrupt));

    const { code, stdout, stderr } = await normalise({ file });

    expect(firstLine(stderr)).toContain('Firehose-archived CloudWatch Logs (gzip members one after another');
    expect(stderr).toMatch(new RegExp(`^rejected ${file} item \\d+: gzip member 2 at byte ${at}: not valid gzip: `, 'm'));
    expect(auditIds(stdout)).toEqual([...ids.slice(0, 4), ...ids.slice(8)]);
    expect(stderr.trimEnd().split('\n').at(-1)).toBe('normalised 7, rejected 1');
    expect(code).toBe(1);
  });

  it('reports a last member cut short (an object copied while it was written), keeping the members before it', async () => {
    const whole = Buffer.concat(members);
    const last = whole.length - (members[3] as Buffer).length;
    const file = write('firehose-cut.gz', whole.subarray(0, whole.length - 100));

    const { code, stdout, stderr } = await normalise({ file });

    expect(stderr).toContain(`rejected ${file} item 8: gzip member 3 at byte ${last}: cut short (unexpected end of file)\n`);
    expect(auditIds(stdout)).toEqual(ids.slice(0, 8));
    expect(code).toBe(1);
  });

  it('reports a decoded payload cut short between two others, and reads both', async () => {
    const cut = [...json];
    cut[2] = (cut[2] as string).slice(0, 300);
    const file = write('firehose-cut.json', cut.join(''));
    const at = Buffer.byteLength((json[0] as string) + (json[1] as string));

    const { code, stdout, stderr } = await normalise({ file });

    expect(firstLine(stderr)).toContain('Firehose-archived CloudWatch Logs (decoded payloads one after another');
    expect(stderr).toContain(`rejected ${file} item 4: byte ${at}: payload cut short (not closed before the next one starts)\n`);
    expect(auditIds(stdout)).toEqual([...ids.slice(0, 4), ...ids.slice(8)]);
    expect(code).toBe(1);
  });
});

describe('normalise recognises audit payloads however they are printed', () => {
  it('reads a pretty-printed EventList and a pretty-printed Event', async () => {
    const list = await normalise({
      stdin: JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: falco.slice(0, 5) }, null, 2),
    });
    expect(list.stderr).toMatch(/^normalise: <stdin>: an audit.k8s.io EventList \(5 items\)$/m);
    expect(auditIds(list.stdout)).toEqual(falco.slice(0, 5).map((e) => e.auditID));

    const one = await normalise({ stdin: JSON.stringify(eks, null, 4) });
    expect(one.stderr).toMatch(/^normalise: <stdin>: a single audit Event$/m);
    expect(auditIds(one.stdout)).toEqual([eks.auditID]);
  });

  it('reads `jq .` output: pretty-printed Events one after another', async () => {
    const text = falco
      .slice(0, 4)
      .map((e) => JSON.stringify(e, null, 2))
      .join('\n');

    const { code, stdout, stderr } = await normalise({ file: write('jq.json', text) });

    expect(stderr).toMatch(/: 4 pretty-printed JSON documents, one after another \(4 items\)$/m);
    expect(auditIds(stdout)).toEqual(falco.slice(0, 4).map((e) => e.auditID));
    expect(code).toBe(0);
  });

  it('reads JSON lines (a Falco trace as saved) and says so', async () => {
    const { stderr, code } = await normalise({ file: join(FALCO_DIR, 'create_configmap_sensitive_values.json') });

    expect(stderr).toMatch(/: JSON lines \(6 items\)$/m);
    expect(code).toBe(0);
  });

  it('points at the rejected document of a `jq .` stream by the line it starts on', async () => {
    const docs = [falco[0], { kind: 'Event', verb: 'get' }, falco[1]].map((e) => JSON.stringify(e, null, 2));
    const secondAt = docs[0]?.split('\n').length ?? 0;
    const file = write('jq-reject.json', docs.join('\n'));

    const { code, stderr } = await normalise({ file });

    expect(stderr).toContain(`rejected ${file}:${secondAt + 1} item 1: item has no auditID`);
    expect(code).toBe(1);
  });
});

describe('normalise and the tokens inside events', () => {
  it('writes a JWT without its signature, and ends on a hostile run of "eyJ" that holds the mark', async () => {
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const signature = Buffer.from('not-a-real-rs256-signature-but-its-shape').toString('base64url');
    const jwt = `${b64({ alg: 'RS256', kid: 'k1' })}.${b64({ sub: 'system:serviceaccount:monitoring:grafana' })}.${signature}`;
    const proxied = {
      ...falco[0],
      auditID: 'jwt-1',
      requestURI: `/api/v1/namespaces/monitoring/services/grafana:3000/proxy/api/search?auth_token=${jwt}`,
    };
    // A search for a token tried from each position of this run to its end would not end for
    // minutes (the lookbehind in lib/audit/redact.ts); the bundle is killed after 30 s.
    const run = 'eyJ'.repeat(200_000);
    const hostile = { ...falco[1], auditID: 'jwt-2', userAgent: `${run}.eyJ${run}` };

    const { code, stdout } = await runBuiltCli(bundle.cli, ['normalise'], {
      stdin: [proxied, hostile].map((e) => JSON.stringify(e)).join('\n'),
      timeoutMs: 30_000,
    });

    expect(code).toBe(0);
    expect(auditIds(stdout)).toEqual(['jwt-1', 'jwt-2']);
    expect(stdout).not.toContain(signature);
    expect(stdout).toContain(`auth_token=${jwt.slice(0, jwt.lastIndexOf('.'))}.[REDACTED]`);
  }, 60_000);
});

describe('normalise says what it got and what to do when it cannot read the input', () => {
  const pretty = JSON.stringify(eks, null, 2);

  it('gives file:line:column of the first JSON error in a pretty-printed file', async () => {
    // A missing comma after "verb": line and column of the next member, as an editor shows them.
    const broken = pretty.replace('"verb": "create",', '"verb": "create"');
    const lines = broken.split('\n');
    const line = lines.findIndex((l) => l.includes('"verb": "create"')) + 2;
    const column = (lines[line - 1]?.indexOf('"') ?? 0) + 1;
    const file = write('broken.json', broken);

    const { code, stdout, stderr } = await normalise({ file });

    expect(stdout).toBe('');
    expect(stderr).toContain(`rejected ${file}:${line}:${column}: not valid JSON: Expected ',' or '}' after property value;`);
    expect(stderr).toContain('normalise reads an audit.k8s.io EventList or Event');
    expect(code).toBe(1);
  });

  it('says a cut-off file ends inside a document', async () => {
    const { stderr } = await normalise({ stdin: pretty.slice(0, 400) });

    expect(stderr).toMatch(
      /rejected <stdin>:\d+:\d+: not valid JSON: .*the text ends inside the document that starts at line 1 \(cut off\?\)/,
    );
  });

  it.each([
    [
      'YAML',
      readFileSync(join(FIXTURES, 'gke', 'khi__container_recorder_test_1_1.yaml')),
      /got YAML, not JSON: convert it first \(yq -o=json FILE/,
    ],
    ['a web page', '<!DOCTYPE html><html><body>502 Bad Gateway</body></html>', /got HTML or XML, not JSON/],
    [
      'binary data',
      Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0, 0x08, 0]),
      /got binary data \(10 bytes, starting 50 4b 03 04\), not text/,
    ],
    ['an empty input', '', /the input is empty; normalise reads/],
    [
      'plain text',
      'I0501 10:00:00.000000 1 scheduler.go:123] scheduled pod',
      /got text that is not JSON, starting "I0501 10:00:00.000000 1 scheduler.go:123…"/,
    ],
  ])('names %s', async (_name, stdin, message) => {
    const { code, stderr } = await normalise({ stdin });

    expect(stderr).toMatch(message);
    expect(stderr).toContain('see aisoc-k8s-audit normalise --help');
    expect(code).toBe(1);
  });

  it('still reads the EKS sample file as it was saved', async () => {
    const { code, stderr } = await normalise({ file: EKS_RAW });

    expect(stderr).toMatch(/: a single audit Event$/m);
    expect(code).toBe(0);
  });
});

describe('normalise piped into a reader that stops early', () => {
  it('ends quietly with exit 1 when its stdout is closed (| head), without a stack trace', async () => {
    // About 5 MB of records: far more than a pipe buffers, so writes go on after the reader left.
    const lines = Array.from({ length: 1500 }, (_, i) => JSON.stringify({ ...(falco[i % falco.length] as object), auditID: `pipe-${i}` }));
    const file = write('many.ndjson', `${lines.join('\n')}\n`);
    const child = spawn(process.execPath, [bundle.cli, 'normalise', file], {
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    // What `head -1` does: read the first line, then close its end of the pipe.
    const first = await new Promise<string>((resolve) => child.stdout.once('data', (c: Buffer) => resolve(c.toString())));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));

    expect((JSON.parse(first.split('\n')[0] as string) as { audit_id: string }).audit_id).toBe('pipe-0');
    expect(code).toBe(1);
    expect(stderr).not.toMatch(/EPIPE|Unhandled|\n\s+at /);
  });
});
