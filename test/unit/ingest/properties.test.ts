// Property tests of the transport-free ingest core (and its API Gateway adapter) under hostile
// requests: arbitrary bodies, content types, encodings, headers (a 1 MB token among them) and
// tenant ids. Whatever arrives, the core answers: never a throw, never a 500, every 4xx a JSON
// error with a reason, every item of a 200 either stored or listed with a reason.
// CI runs FUZZ_RUNS (default 1,000) cases per property; `npm run fuzz` runs 100,000.
import { deflateSync, gzipSync } from 'node:zlib';
import type { APIGatewayProxyEventV2, APIGatewayProxyResult } from 'aws-lambda';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../lib/audit/index.js';
import { apiGatewayHandler } from '../../../lib/ingest/adapters/lambda.js';
import { hashToken } from '../../../lib/ingest/auth.js';
import { INBOX_TEMPLATE, type InboxStore, type InboxToken } from '../../../lib/ingest/inbox.js';
import { type IngestResult, IngestService, MAX_LISTED_ERRORS } from '../../../lib/ingest/service.js';
import { TENANT_ID_PATTERN } from '../../../lib/protocol.js';
import { NOTHING_TO_REPORT, type OutgoingRecord, type RecordSink, type SinkWriteResult } from '../../../lib/sinks/types.js';
import { RecordWriter } from '../../../lib/sinks/writer.js';
import { hostileJson } from '../../helpers/arbitraries.js';
import { FUZZ_RUNS, FuzzTally, fuzzTimeout } from '../../helpers/fuzz.js';
import { ingestConfig, PREVIOUS_SECRET, SECRET, uniqueFalcoEvents } from '../../helpers/ingest.js';

// Small caps, so 413 (body, inflation, batch size) is reached by cheap cases too.
const MAX_BODY_BYTES = 256 * 1024;
const MAX_BATCH_SIZE = 40;
const config = ingestConfig({
  K8S_AUDIT_SHARED_SECRET_PREVIOUS: PREVIOUS_SECRET,
  K8S_AUDIT_MAX_BODY_BYTES: String(MAX_BODY_BYTES),
  K8S_AUDIT_MAX_BATCH_SIZE: String(MAX_BATCH_SIZE),
});
const ONE_MB_TOKEN = `${SECRET}${'A'.repeat(1024 * 1024 - SECRET.length)}`;
const INBOX = {
  valid: 'aik8s_valid0123456789abcdefghijklmnopqrstuvwxyzAB',
  revoked: 'aik8s_revoked0123456789abcdefghijklmnopqrstuvwxy',
  otherTemplate: 'aik8s_other0123456789abcdefghijklmnopqrstuvwxyzA',
};
const SECRETS = [SECRET, PREVIOUS_SECRET, ...Object.values(INBOX)];
const SECRET_HASHES = SECRETS.map(hashToken);

/** A sink that keeps no records, only what a property needs: keys (for dedup) and tenant checks. */
class CountingSink implements RecordSink {
  readonly name = 'counting';
  readonly maxRecordBytes = Number.POSITIVE_INFINITY;
  readonly keys = new Set<string>();
  stored = 0;
  badTenants: string[] = [];

  async write(records: readonly OutgoingRecord[]): Promise<SinkWriteResult> {
    if (records.length === 0) return NOTHING_TO_REPORT;
    const duplicates = new Set<number>();
    records.forEach((r, i) => {
      if (!TENANT_ID_PATTERN.test(r.record.tenant_id ?? '')) this.badTenants.push(String(r.record.tenant_id));
      // The JSON a real sink stores must be JSON (an event nested too deep for JSON.stringify is cut, not lost).
      JSON.parse(r.json);
      if (this.keys.has(r.record.dedup_key)) {
        duplicates.add(i);
        return;
      }
      // Bounded memory over 100,000 cases: forget keys now and then (dedup is not what is tested here).
      if (this.keys.size > 50_000) this.keys.clear();
      this.keys.add(r.record.dedup_key);
      this.stored++;
    });
    return { duplicates, refused: new Map() };
  }

  async close(): Promise<void> {}
}

class FixedInbox implements InboxStore {
  async create(): Promise<never> {
    throw new Error('not used');
  }
  async lookup(token: string): Promise<InboxToken | null> {
    const base = { tenantId: 'inbox-tenant', clusterName: 'bound', label: 'fuzz', createdAt: '2024-01-01T00:00:00.000Z' };
    if (token === INBOX.valid) return { ...base, id: 'valid', template: INBOX_TEMPLATE, revokedAt: null };
    if (token === INBOX.revoked) return { ...base, id: 'revoked', template: INBOX_TEMPLATE, revokedAt: '2024-02-01T00:00:00.000Z' };
    if (token === INBOX.otherTemplate) return { ...base, id: 'other', template: 'cloudtrail', revokedAt: null };
    return null;
  }
  async list(): Promise<InboxToken[]> {
    return [];
  }
  async revoke(): Promise<boolean> {
    return false;
  }
  async close(): Promise<void> {}
}

const sink = new CountingSink();
const service = new IngestService({ config, writer: new RecordWriter(sink, null, 'none'), inbox: new FixedInbox() });

// ---- generators -------------------------------------------------------------------------------

const jsonValue = hostileJson({ maxItems: 3, maxStringLength: 20 });

const realEvents = uniqueFalcoEvents();
const AKS_ID = '/SUBSCRIPTIONS/0/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/FUZZ';
const FIELDS = ['auditID', 'verb', 'user', 'objectRef', 'responseStatus', 'sourceIPs', 'stage', 'requestObject', 'stageTimestamp', 'kind'];

/** A real audit event, with a fresh (or a repeated) auditID and now and then fields of the wrong type. */
const auditItem = fc
  .record({
    base: fc.integer({ min: 0, max: realEvents.length - 1 }),
    id: fc.oneof(fc.uuid(), fc.constantFrom('dup-1', 'dup-2')),
    mangle: fc.array(fc.tuple(fc.constantFrom(...FIELDS), jsonValue), { maxLength: 2 }),
  })
  .map(({ base, id, mangle }) => {
    const e: Record<string, unknown> = { ...(realEvents[base] as AuditEvent), auditID: id };
    for (const [field, value] of mangle) e[field] = value;
    return e;
  });
const item = fc.oneof({ weight: 4, arbitrary: auditItem }, { weight: 1, arbitrary: jsonValue });

/** A body as bytes, with the number of items it holds when that is known up front. */
interface Body {
  bytes: Buffer;
  items?: number;
}

const deepNest = fc
  .tuple(fc.constantFrom(50, 5_000, 100_000), fc.constantFrom('[', '{"a":'), fc.boolean())
  .map(([depth, open, inEvent]): Body => {
    const nest = `${open.repeat(depth)}1${(open === '[' ? ']' : '}').repeat(depth)}`;
    const text = inEvent ? `{"kind":"EventList","items":[{"auditID":"deep","verb":"create","requestObject":${nest}}]}` : nest;
    return inEvent ? { bytes: Buffer.from(text), items: 1 } : { bytes: Buffer.from(text) };
  });

const plainBody: fc.Arbitrary<Body> = fc.oneof(
  fc.uint8Array({ maxLength: 512 }).map((b) => ({ bytes: Buffer.from(b) })),
  jsonValue.map((v) => ({ bytes: Buffer.from(JSON.stringify(v) ?? 'null') })),
  {
    weight: 6,
    arbitrary: fc.array(item, { maxLength: 50 }).map((items) => ({
      bytes: Buffer.from(JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items })),
      items: items.length,
    })),
  },
  fc.array(item, { maxLength: 10 }).map((items) => ({ bytes: Buffer.from(JSON.stringify(items)), items: items.length })),
  auditItem.map((e) => ({ bytes: Buffer.from(JSON.stringify(e)) })),
  fc
    .array(auditItem, { minLength: 2, maxLength: 5 })
    .map((items) => ({ bytes: Buffer.from(items.map((e) => JSON.stringify(e)).join('\n')) })),
  // Invalid UTF-8 inside an otherwise good EventList: decoded to U+FFFD, never a crash.
  fc.tuple(auditItem, fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([e, junk]) => {
    const text = JSON.stringify({ kind: 'EventList', items: [{ ...e, userAgent: '@@' }] });
    const [head, tail] = text.split('@@') as [string, string];
    return { bytes: Buffer.concat([Buffer.from(head), Buffer.from(junk.map((b) => b | 0x80)), Buffer.from(tail)]) };
  }),
  deepNest,
  fc.constant({ bytes: Buffer.alloc(0) }),
  // Azure diagnostic-settings bodies (AKS): audit items in kube-audit records, other categories,
  // and records that are anything at all.
  fc
    .array(
      fc.oneof(
        { weight: 4, arbitrary: item.map((e) => ({ category: 'kube-audit', resourceId: AKS_ID, properties: { log: JSON.stringify(e) } })) },
        fc.string().map((log) => ({ category: 'kube-apiserver', properties: { log } })),
        jsonValue,
      ),
      { maxLength: 20 },
    )
    .map((records) => ({ bytes: Buffer.from(JSON.stringify({ records })), items: records.length })),
);

// A few gzip bombs built once: 1 to 8 MiB of zeros (or of spaces, valid JSON whitespace) in ~1-8 KiB.
const BOMBS = [1, 8].flatMap((mib) => [gzipSync(Buffer.alloc(mib * 1024 * 1024)), gzipSync(Buffer.alloc(mib * 1024 * 1024, 0x20))]);

/** A body and the Content-Encoding it is sent with (which may not match it). */
type EncodedBody = Body & { encoding: string | undefined };
const encodedBody: fc.Arbitrary<EncodedBody> = fc.oneof(
  { weight: 10, arbitrary: plainBody.map((b) => ({ ...b, encoding: undefined })) },
  plainBody.map((b) => ({ ...b, bytes: gzipSync(b.bytes), encoding: 'gzip' })),
  plainBody.map((b) => ({ ...b, bytes: deflateSync(b.bytes), encoding: 'deflate' })),
  fc
    .tuple(plainBody, fc.integer({ min: 0, max: 200 }))
    .map(([b, cut]) => ({ bytes: gzipSync(b.bytes).subarray(0, cut), encoding: 'gzip' as string | undefined })),
  fc.constantFrom(...BOMBS).map((bytes) => ({ bytes, encoding: 'gzip' as string | undefined })),
  fc
    .tuple(plainBody, fc.constantFrom('br', 'gzip, gzip', 'x-gzip', 'identity', 'GZIP', 'compress', '', 'gzip;q=1'))
    .map(([b, encoding]) => ({ ...b, encoding })),
);

const tenant = fc.oneof(
  { weight: 10, arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,30}$/) },
  fc.string({ maxLength: 40 }),
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
  fc.constantFrom(
    '..',
    '.',
    '../etc',
    '..%2f..%2fetc',
    '%2e%2e%2f',
    '%2e%2e',
    'a%2f..%2fb',
    '%2E%2E%2Fadmin',
    'acme%00',
    '%',
    '%zz',
    'a'.repeat(129),
    'ténant',
    'acme%20',
  ),
);

const token: fc.Arbitrary<string | string[] | undefined> = fc.oneof(
  { weight: 30, arbitrary: fc.constant(SECRET) },
  fc.constant(PREVIOUS_SECRET),
  fc.constant(undefined),
  fc.constantFrom('', ' ', SECRET.slice(0, -1), `${SECRET}x`, ` ${SECRET} `, SECRET.toUpperCase(), ONE_MB_TOKEN),
  fc.string({ maxLength: 64 }),
  fc.constant([SECRET, SECRET] as string[]),
);

const contentType = fc.oneof(
  { weight: 12, arbitrary: fc.constant<string | undefined>('application/json') },
  fc.constantFrom(
    undefined,
    '',
    'application/json; charset=utf-8',
    'APPLICATION/JSON',
    'application/problem+json',
    'application/json-seq',
    'text/plain',
    'text/json',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/xml',
    'application/octet-stream',
    ';',
  ),
  fc.string({ maxLength: 30 }),
);

const path = fc.oneof(
  { weight: 20, arbitrary: tenant.map((t) => `/v1/ingest/k8s-audit/${t}`) },
  fc.constantFrom(...Object.values(INBOX), 'aik8s_unknown0123456789abcdefghijklmnopqrstuv', 'short', '..%2f').map((t) => `/v1/inbox/${t}`),
  fc.string({ maxLength: 40 }).map((p) => `/${p}`),
  tenant.map((t) => `/v1/ingest/k8s-audit/${t}/extra`),
);

const request = fc.record({
  method: fc.oneof({ weight: 40, arbitrary: fc.constant('POST') }, fc.constantFrom('GET', 'PUT', 'post', 'DELETE', 'OPTIONS', '')),
  path,
  token,
  contentType,
  cluster: fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    fc.string({ maxLength: 300 }),
    fc.constantFrom('prod', 'a\nb', '\u0000', ''),
  ),
  contentLength: fc.oneof(
    { weight: 10, arbitrary: fc.constant(undefined) },
    fc.constantFrom('1073741824', '-1', 'abc', '0', '99999999999999999999'),
  ),
  extra: fc.oneof(
    { weight: 3, arbitrary: fc.constant({}) },
    fc.dictionary(
      fc.oneof(
        fc.constantFrom('__proto__', 'constructor', 'hasOwnProperty', 'X-AiSOC-K8S-TOKEN', 'Content-Type'),
        fc.string({ maxLength: 10 }),
      ),
      fc.string({ maxLength: 20 }),
      { maxKeys: 3 },
    ),
  ),
  body: encodedBody,
});

type Req = typeof request extends fc.Arbitrary<infer T> ? T : never;

function headersOf(r: Req): Record<string, string | string[] | undefined> {
  // Extra headers first: the real ones, set after, are what the request means to send.
  const h: Record<string, string | string[] | undefined> = { ...r.extra };
  h['X-AiSOC-K8s-Token'] = r.token;
  if (r.contentType !== undefined) h['Content-Type'] = r.contentType;
  if (r.body.encoding !== undefined) h['Content-Encoding'] = r.body.encoding;
  if (r.cluster !== undefined) h['X-AiSOC-Cluster-Name'] = r.cluster;
  if (r.contentLength !== undefined) h['Content-Length'] = r.contentLength;
  return h;
}

// ---- assertions -------------------------------------------------------------------------------

const ALLOWED = new Set([200, 400, 401, 403, 404, 405, 413, 415]);

/** Checks one answer against the contract and counts it; returns the parsed body. */
function checkAnswer(tally: FuzzTally, status: number, headers: Record<string, unknown> | undefined, text: string, items?: number): void {
  tally.status(status);
  expect(ALLOWED.has(status), `status ${status}: ${text.slice(0, 200)}`).toBe(true);
  expect(String(headers?.['Content-Type'] ?? '')).toMatch(/^application\/json/);
  for (const s of [...SECRETS, ...SECRET_HASHES]) expect(text.includes(s)).toBe(false);
  const body = JSON.parse(text) as Partial<IngestResult> & { error?: unknown };
  if (status >= 400) {
    tally.refusals++;
    if (typeof body.error !== 'string' || body.error.trim() === '') tally.withoutReason++;
    expect(body.error).toMatch(/\S/);
    return;
  }
  const { accepted = -1, rejected = -1, duplicates = -1, errors = [], errorsOmitted = 0 } = body;
  for (const n of [accepted, rejected, duplicates, errorsOmitted]) expect(Number.isSafeInteger(n) && n >= 0).toBe(true);
  expect(errors.length).toBeLessThanOrEqual(MAX_LISTED_ERRORS);
  expect(rejected).toBe(errors.length + errorsOmitted);
  const skipped = body.skipped ?? 0;
  expect(Number.isSafeInteger(skipped) && skipped >= 0).toBe(true);
  if (items !== undefined) expect(accepted + rejected + duplicates + skipped).toBe(items);
  tally.rejectedItems += rejected;
  for (const e of errors) {
    if (typeof e.reason !== 'string' || e.reason.trim() === '') tally.withoutReason++;
    expect(e.reason).toMatch(/\S/);
    expect(Number.isSafeInteger(e.index) && e.index >= 0).toBe(true);
    if (items !== undefined) expect(e.index).toBeLessThan(items);
    expect(e.auditID === null || typeof e.auditID === 'string').toBe(true);
  }
}

/**
 * The contract for the tenant segment, written out independently of lib/ingest/request.ts: one
 * trailing slash is ignored; an empty segment or one with a `/` in it is no route (404); the
 * percent-decoded segment must match the tenant pattern (else 400).
 */
function expectedTenantStatus(t: string): number {
  const segment = t.endsWith('/') ? t.slice(0, -1) : t;
  if (segment === '' || segment.includes('/')) return 404;
  let decoded: string;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    return 400;
  }
  return /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(decoded) ? 200 : 400;
}

const tallies: FuzzTally[] = [];
afterAll(() => {
  for (const t of tallies) console.log(t.summary());
});

describe('the ingest core under hostile requests', () => {
  it('answers every request: never a throw or a 500, each 4xx a JSON error with a reason, each item stored or rejected with a reason', {
    timeout: fuzzTimeout(20),
  }, async () => {
    const tally = new FuzzTally('ingest core (IngestService.handle)');
    tallies.push(tally);
    const storedBefore = sink.stored;
    let accepted = 0;

    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        tally.cases++;
        let res: Awaited<ReturnType<IngestService['handle']>>;
        try {
          res = await service.handle({ method: r.method, path: r.path, headers: headersOf(r), body: r.body.bytes });
        } catch (err) {
          tally.crashes++;
          throw err;
        }
        checkAnswer(tally, res.status, res.headers, res.body, r.body.items);
        if (res.status === 200) accepted += (JSON.parse(res.body) as IngestResult).accepted;
      }),
      { numRuns: FUZZ_RUNS },
    );

    expect(sink.badTenants).toEqual([]);
    expect(sink.stored - storedBefore).toBe(accepted);
    expect([tally.crashes, tally.answers500, tally.withoutReason]).toEqual([0, 0, 0]);
  });

  it('keeps tenant ids to the contract: path traversal, encoded or not, is a 400 and stores nothing', {
    timeout: fuzzTimeout(5),
  }, async () => {
    const tally = new FuzzTally('ingest core (tenant ids)');
    tallies.push(tally);

    await fc.assert(
      fc.asyncProperty(tenant, async (t) => {
        tally.cases++;
        const before = sink.stored;
        const body = Buffer.from(JSON.stringify({ kind: 'EventList', items: [{ ...realEvents[0], auditID: `t-${tally.cases}` }] }));
        const res = await service.handle({
          method: 'POST',
          path: `/v1/ingest/k8s-audit/${t}`,
          headers: { 'X-AiSOC-K8s-Token': SECRET, 'Content-Type': 'application/json' },
          body,
        });
        checkAnswer(tally, res.status, res.headers, res.body, 1);
        const expected = expectedTenantStatus(t);
        expect(res.status).toBe(expected);
        if (expected !== 200) expect(sink.stored).toBe(before);
      }),
      { numRuns: FUZZ_RUNS },
    );

    expect(tally.statuses.get(400) ?? 0).toBeGreaterThan(0);
  });
});

describe('the ingest Lambda adapter under hostile API Gateway events', () => {
  const handler = apiGatewayHandler(service);

  it('answers every HTTP API event with a JSON status that is never a 500', { timeout: fuzzTimeout(20) }, async () => {
    const tally = new FuzzTally('ingest Lambda (API Gateway v2 events)');
    tallies.push(tally);

    await fc.assert(
      fc.asyncProperty(request, fc.boolean(), async (r, base64) => {
        tally.cases++;
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(headersOf(r)))
          if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
        const event = {
          version: '2.0',
          routeKey: '$default',
          rawPath: r.path,
          rawQueryString: '',
          headers,
          requestContext: { stage: '$default', http: { method: r.method, path: r.path } },
          // API Gateway base64-encodes bodies it does not take for text; a text body is the bytes as UTF-8.
          body: base64 ? r.body.bytes.toString('base64') : r.body.bytes.toString('utf8'),
          isBase64Encoded: base64,
        } as unknown as APIGatewayProxyEventV2;
        let res: APIGatewayProxyResult;
        try {
          res = await handler(event);
        } catch (err) {
          tally.crashes++;
          throw err;
        }
        // A text body re-encoded as UTF-8 may no longer be what was counted: only check counts for base64.
        checkAnswer(tally, res.statusCode, res.headers, res.body, base64 ? r.body.items : undefined);
      }),
      { numRuns: FUZZ_RUNS },
    );

    expect([tally.crashes, tally.answers500, tally.withoutReason]).toEqual([0, 0, 0]);
  });
});
