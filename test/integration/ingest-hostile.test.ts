// The hostile corpus against the real local ingest: `aisoc-k8s-audit serve` (startIngestServer on
// 127.0.0.1:0, the SQLite sink) as its own process, so its memory can be measured apart from the
// test's. Every body gets its documented answer (test/fixtures/hostile/README.md), the server's
// memory stays bounded while it refuses a body (a gzip bomb, a 1 GiB upload), and it keeps
// answering /healthz after each one.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPTH_MARKER } from '../../lib/audit/index.js';
import { DEFAULT_INGEST_MAX_BATCH_SIZE, DEFAULT_INGEST_MAX_BODY_BYTES } from '../../lib/config/defaults.js';
import { type EventStore, openEventStore } from '../../lib/sinks/sqlite.js';
import { FIXTURES } from '../helpers/fixtures.js';
import {
  chunks,
  deepArrays,
  deepObjects,
  deepRequestEvent,
  emptyItemsEventList,
  gzipBomb,
  hugeStringEvent,
  singleString,
} from '../helpers/hostile.js';
import { SECRET, tempDataDir } from '../helpers/ingest.js';
import {
  buildServeBundle,
  HAS_PROCFS,
  peakRssBytes,
  type RawAnswer,
  rawRequest,
  resetPeakRss,
  rssBytes,
  type ServeProcess,
  spawnServe,
} from '../helpers/serve.js';

const CAP = DEFAULT_INGEST_MAX_BODY_BYTES;
const MiB = 1024 * 1024;
const HOSTILE = join(FIXTURES, 'hostile');

let cli: { cli: string; cleanup: () => void };
let tmp: ReturnType<typeof tempDataDir>;
let serve: ServeProcess;
let store: EventStore;
const figures: string[] = [];

beforeAll(async () => {
  cli = await buildServeBundle();
  tmp = tempDataDir('aisoc-hostile-');
  // The defaults of a stock install: 16 MiB body cap, 5,000 items per batch.
  serve = await spawnServe(cli.cli, tmp.dir, { K8S_AUDIT_SHARED_SECRET: SECRET });
  store = openEventStore(tmp.dir);
});

afterAll(async () => {
  if (figures.length > 0) console.log(`[hostile] server memory while answering:\n  ${figures.join('\n  ')}`);
  store?.close();
  await serve?.stop();
  tmp?.remove();
  cli?.cleanup();
});

interface Send {
  path?: string;
  headers?: Record<string, string>;
  /** Sent as is with Content-Length, or streamed chunked when a generator. */
  body?: Buffer | Iterable<Buffer>;
}

/** One request over a fresh connection, with the token and a JSON content type unless told otherwise. */
function send({ path = '/v1/ingest/k8s-audit/hostile', headers = {}, body = Buffer.alloc(0) }: Send): Promise<RawAnswer> {
  const h: Record<string, string> = {
    Host: `127.0.0.1:${serve.port}`,
    'Content-Type': 'application/json',
    'X-AiSOC-K8s-Token': SECRET,
    Connection: 'close',
    ...headers,
  };
  let payload: Buffer | Iterable<Buffer> = body;
  if (Buffer.isBuffer(body)) {
    h['Content-Length'] ??= String(body.length);
  } else {
    h['Transfer-Encoding'] = 'chunked';
    payload = (function* () {
      for (const c of body) yield Buffer.concat([Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n')]);
      yield Buffer.from('0\r\n\r\n');
    })();
  }
  const head = [`POST ${path} HTTP/1.1`, ...Object.entries(h).map(([k, v]) => `${k}: ${v}`)].join('\r\n');
  return rawRequest(serve.port, head, payload);
}

/** Runs a request and measures how far the server's resident set rose above where it was. */
async function measured(label: string, run: () => Promise<RawAnswer>): Promise<{ answer: RawAnswer; growth: number }> {
  if (!HAS_PROCFS) return { answer: await run(), growth: 0 };
  const before = rssBytes(serve.pid);
  const exactPeak = resetPeakRss(serve.pid);
  let peak = before;
  // Without clear_refs, sample instead (coarser, so the bound is checked on less).
  const timer = exactPeak ? null : setInterval(() => (peak = Math.max(peak, rssBytes(serve.pid))), 2);
  const answer = await run();
  if (timer) clearInterval(timer);
  if (exactPeak) peak = peakRssBytes(serve.pid);
  const growth = Math.max(0, peak - before);
  figures.push(`${label}: ${answer.status}, peak RSS +${(growth / MiB).toFixed(1)} MiB (body cap ${CAP / MiB} MiB)`);
  return { answer, growth };
}

function error(answer: RawAnswer): string {
  expect(answer.headers['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(answer.body) as { error?: unknown };
  expect(body.error).toMatch(/\S/);
  return body.error as string;
}

function counts(answer: RawAnswer): { accepted: number; rejected: number; errors: { index: number; reason: string }[] } {
  expect(answer.status).toBe(200);
  return JSON.parse(answer.body) as { accepted: number; rejected: number; errors: { index: number; reason: string }[] };
}

async function expectHealthy(): Promise<void> {
  const res = await fetch(`${serve.url}/healthz`);
  expect([res.status, await res.json()]).toEqual([200, { status: 'ok' }]);
  expect(serve.child.exitCode).toBeNull();
}

const fixture = (name: string): Buffer => readFileSync(join(HOSTILE, name));

describe('bodies the server must refuse without holding them', () => {
  it('answers a gzip bomb (1 GiB of zeros in ~1 MB) with 413, inflating no more than the cap', async () => {
    const bomb = gzipBomb();

    const { answer, growth } = await measured('gzip bomb, 1 GiB inflated', () =>
      send({ headers: { 'Content-Encoding': 'gzip' }, body: bomb }),
    );

    expect(bomb.length).toBeLessThan(2 * MiB);
    expect(answer.status).toBe(413);
    expect(error(answer)).toMatch(/inflates to more than 16777216 bytes \(K8S_AUDIT_MAX_BODY_BYTES\)/);
    expect(growth).toBeLessThan(2 * CAP);
    await expectHealthy();
  });

  it('answers a request claiming Content-Length: 1073741824 with 413 before reading its body', async () => {
    const { answer, growth } = await measured('Content-Length: 1073741824 (1 KiB sent)', () =>
      send({ headers: { 'Content-Length': '1073741824' }, body: Buffer.alloc(1024, 0x20) }),
    );

    expect(answer.status).toBe(413);
    expect(error(answer)).toMatch(/request body is 1073741824 bytes, over 16777216 bytes \(K8S_AUDIT_MAX_BODY_BYTES\)/);
    expect(growth).toBeLessThan(2 * CAP);
    await expectHealthy();
  });

  it('stops reading a chunked upload of 1 GiB at the cap and answers 413', async () => {
    const { answer, growth } = await measured('chunked upload of 1 GiB, no Content-Length', () => send({ body: chunks(1024 * MiB) }));

    expect(answer.status).toBe(413);
    expect(error(answer)).toMatch(/request body is at least \d+ bytes, over 16777216 bytes/);
    expect(answer.sent).toBeLessThan(1024 * MiB);
    // The cap's worth of chunks, plus what the server reads and drops after answering (so the
    // client sees the 413 instead of a reset), which node frees at its next collection.
    expect(growth).toBeLessThan(3 * CAP);
    await expectHealthy();
  });

  it('answers one byte over the cap with 413', async () => {
    const { answer } = await measured('a 16 MiB + 1 byte JSON string', () => send({ body: singleString(CAP + 1) }));

    expect(answer.status).toBe(413);
    expect(error(answer)).toMatch(/request body is 16777217 bytes, over 16777216 bytes/);
    await expectHealthy();
  });

  it('answers an X-AiSOC-K8s-Token header of 1 MB with a JSON 431 from the HTTP parser', async () => {
    const answer = await send({ headers: { 'X-AiSOC-K8s-Token': `${SECRET}${'A'.repeat(MiB)}` }, body: Buffer.from('{}') });

    expect(answer.status).toBe(431);
    expect(error(answer)).toBe('request header fields too large');
    expect(answer.body).not.toContain(SECRET);
    await expectHealthy();
  });
});

describe('bodies within the cap that are not what they claim', () => {
  it('answers a 16 MiB body that is one JSON string with 400, memory bounded by a few times the cap', async () => {
    const { answer, growth } = await measured('a 16 MiB body that is one JSON string', () => send({ body: singleString(CAP) }));

    expect(answer.status).toBe(400);
    expect(error(answer)).toMatch(/expected an EventList, an Event or an array of Events, got string/);
    // Held at once: the bytes, their decoded text and the parsed string (each 16 MiB).
    expect(growth).toBeLessThan(6 * CAP);
    await expectHealthy();
  });

  it('answers JSON nested 100,000 deep: an array of arrays is one rejected item, an object of objects a 400', async () => {
    const arrays = await measured('JSON arrays nested 100,000 deep', () => send({ body: deepArrays(100_000) }));
    const objects = await measured('JSON objects nested 100,000 deep', () => send({ body: deepObjects(100_000) }));

    expect(counts(arrays.answer)).toEqual({
      accepted: 0,
      rejected: 1,
      duplicates: 0,
      errors: [{ index: 0, auditID: null, reason: 'item is not a JSON object (got array)' }],
    });
    expect(objects.answer.status).toBe(400);
    expect(error(objects.answer)).toBe('body is not an audit Event: item has no auditID');
    await expectHealthy();
  });

  it('answers an EventList of 100,000 empty items with 413 naming K8S_AUDIT_MAX_BATCH_SIZE, storing none', async () => {
    const before = store.countEvents();

    const { answer, growth } = await measured('EventList of 100,000 empty items', () => send({ body: emptyItemsEventList(100_000) }));

    expect(answer.status).toBe(413);
    expect(error(answer)).toBe(
      `batch has 100000 items, over K8S_AUDIT_MAX_BATCH_SIZE (${DEFAULT_INGEST_MAX_BATCH_SIZE}); lower the apiserver's --audit-webhook-batch-max-size`,
    );
    expect(store.countEvents()).toBe(before);
    // 100,000 parsed objects, each checked before the batch size is: a few times the body, not more.
    expect(growth).toBeLessThan(6 * CAP);
    await expectHealthy();
  });

  it('keeps an event whose request body nests 100,000 deep, cut and flagged', async () => {
    const { answer } = await measured('an event whose requestObject nests 100,000 deep', () =>
      send({ body: deepRequestEvent('hostile-deep-request', 100_000) }),
    );

    expect(counts(answer)).toMatchObject({ accepted: 1, rejected: 0 });
    const [record] = store.queryEvents({ auditId: 'hostile-deep-request' });
    expect(JSON.stringify(record?.raw_event)).toContain(DEPTH_MARKER);
    expect(record?.k8s_verb).toBe('create');
    await expectHealthy();
  });

  it('keeps an event nesting 100,000 deep that holds a JWT: cut and flagged when read back, the signature gone', async () => {
    const signature = 'c2lnbmF0dXJlLW9mLWEtZGVlcC1ldmVudA';
    const uri = `/api/v1/namespaces/default/services/app:80/proxy/?token=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaSJ9.${signature}`;
    const { answer } = await measured('an event nesting 100,000 deep with a JWT', () =>
      send({ body: deepRequestEvent('hostile-deep-jwt', 100_000, uri) }),
    );

    expect(counts(answer)).toMatchObject({ accepted: 1, rejected: 0 });
    const [record] = store.queryEvents({ auditId: 'hostile-deep-jwt' });
    expect(JSON.stringify(record)).not.toContain(signature);
    expect(JSON.stringify(record?.raw_event)).toContain(DEPTH_MARKER);
    expect(record?.ocsf.metadata).toMatchObject({ is_truncated: true });
    await expectHealthy();
  });

  it('stores an event carrying a string of almost 16 MiB', async () => {
    const body = hugeStringEvent('hostile-huge-string', CAP - 200);

    const { answer, growth } = await measured('an event with a 16 MiB userAgent, stored', () => send({ body }));

    expect(body.length).toBeLessThanOrEqual(CAP);
    expect(counts(answer)).toMatchObject({ accepted: 1, rejected: 0 });
    expect(store.queryEvents({ auditId: 'hostile-huge-string' })[0]?.k8s_user_agent).toHaveLength(CAP - 200);
    // Bounded, but not small: the string is held as the body, its text, the parsed event, three
    // times in the record's JSON (k8s_user_agent, raw_event, OCSF http_request.user_agent), its
    // UTF-8 copy for SQLite and the pages written (95-260 MiB measured). See docs/reliability.md.
    expect(growth).toBeLessThan(24 * CAP);
    await expectHealthy();
  });
});

describe('tenant ids that try to leave their tenant', () => {
  it.each([
    ['..%2f..%2fetc', 400],
    ['%2e%2e%2fother-tenant', 400],
    ['%2E%2E%2F%2E%2E%2Fetc%2Fpasswd', 400],
    ['acme%00', 400],
    ['..', 404],
    ['%2e%2e', 404],
    ['../../../etc/passwd', 404],
    ['acme/..%2f..%2fother', 404],
  ])('answers /v1/ingest/k8s-audit/%s with %i and stores nothing', async (segment, status) => {
    const before = store.countEvents();

    const answer = await send({ path: `/v1/ingest/k8s-audit/${segment}`, body: fixture('bom.json') });

    expect(answer.status).toBe(status);
    error(answer);
    expect(store.countEvents()).toBe(before);
  });

  it('resolves dot segments before routing, as any HTTP server does (RFC 3986 §5.2.4): the result is still one valid tenant', async () => {
    const answer = await send({ path: '/v1/ingest/k8s-audit/elsewhere/../hostile-dots', body: fixture('bom.json') });

    expect(counts(answer).accepted).toBe(1);
    expect(store.queryEvents({ auditId: 'hostile-bom-1' }).map((r) => r.tenant_id)).toEqual(['hostile-dots']);
  });
});

describe('the crafted files of test/fixtures/hostile', () => {
  it.each([
    ['truncated-gzip.json.gz', { 'Content-Encoding': 'gzip' }, 400, /^request body is not valid gzip data/],
    ['gzip-not-json.gz', { 'Content-Encoding': 'gzip' }, 400, /^body is not JSON/],
    ['not-json.txt', {}, 400, /^body is not JSON/],
    ['json-null.json', {}, 400, /expected an EventList, an Event or an array of Events, got null/],
    ['kind-zero.json', {}, 400, /^body is not an audit Event: kind must be "Event", got number/],
    ['eventlist-items-object.json', {}, 400, /EventList.items must be an array, got object/],
    ['gke-protopayload.json', {}, 400, /GKE Cloud Audit Logs entry/],
    ['ndjson.ndjson', {}, 400, /^body is not a JSON document.*NDJSON/],
    ['eventlist.xml', { 'Content-Type': 'application/xml' }, 415, /Content-Type "application\/xml" is not JSON/],
    ['bom.json', { 'Content-Type': 'text/plain' }, 415, /is not JSON/],
    ['bom.json', { 'Content-Type': 'application/x-www-form-urlencoded' }, 415, /is not JSON/],
    ['bom.json', { 'Content-Type': 'multipart/form-data; boundary=x' }, 415, /is not JSON/],
    ['bom.json', { 'Content-Encoding': 'br' }, 415, /Content-Encoding "br" is not supported; send identity, gzip or deflate$/],
  ] as const)('answers %s (%j) with %i and a reason', async (name, headers, status, reason) => {
    const answer = await send({ headers, body: fixture(name) });

    expect(answer.status).toBe(status);
    expect(error(answer)).toMatch(reason);
  });

  it('stores the good item of wrong-types.json and lists every other one with its reason', async () => {
    const body = counts(await send({ body: fixture('wrong-types.json') }));

    expect(body.accepted).toBe(1);
    expect(body.rejected).toBe(9);
    expect(body.errors.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(body.errors.map((e) => e.reason)).toEqual([
      'auditID must be a string, got number',
      'item is not a JSON object (got string)',
      'item is not a JSON object (got null)',
      'item is not a JSON object (got array)',
      'item has no auditID',
      'verb must be a string, got number',
      'user must be an object, got array',
      'sourceIPs must be an array of strings, got string',
      'objectRef must be an object, got string',
    ]);
  });

  it('keeps __proto__ and constructor keys as plain data', async () => {
    const body = counts(await send({ body: fixture('proto-pollution.json') }));
    const [record] = store.queryEvents({ auditId: 'hostile-proto-1' });

    expect(body.accepted).toBe(1);
    expect(Object.hasOwn(record?.raw_event as object, '__proto__')).toBe(true);
    expect(Object.hasOwn(record?.raw_event as object, 'constructor')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await expectHealthy();
  });

  it('reads duplicate keys (the last wins), numbers past 2^53, invalid UTF-8 and a byte order mark', async () => {
    const answers = await Promise.all(
      ['duplicate-keys.json', 'big-numbers.json', 'invalid-utf8.json', 'bom.json'].map((f) => send({ body: fixture(f) })),
    );

    expect(answers.map((a) => counts(a).accepted)).toEqual([1, 3, 1, 1]);
    expect(store.queryEvents({ auditId: 'hostile-dupkey-last' })[0]?.k8s_verb).toBe('delete');
    expect(store.queryEvents({ auditId: 'hostile-dupkey-first' })).toEqual([]);
    const codes = ['hostile-bignum-1', 'hostile-bignum-2', 'hostile-bignum-3'].map(
      (id) => store.queryEvents({ auditId: id })[0]?.k8s_response_code,
    );
    expect(codes.every((c) => c === null || Number.isSafeInteger(c))).toBe(true);
    expect(store.queryEvents({ auditId: 'hostile-utf8-1' })[0]?.k8s_user_agent).toContain('\uFFFD');
  });
});

describe('after the corpus', () => {
  it('still takes an ordinary batch and answers /healthz', async () => {
    const answer = await send({ path: '/v1/ingest/k8s-audit/after-corpus', body: fixture('wrong-types.json') });

    expect(counts(answer).accepted).toBe(1);
    await expectHealthy();
    expect(serve.logs.filter((l) => l.status === 500)).toEqual([]);
    expect(serve.logs.some((l) => l.message === 'unexpected error' || l.message === 'unexpected server error')).toBe(false);
  });
});
