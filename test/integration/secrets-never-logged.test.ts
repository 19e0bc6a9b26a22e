// No secret or token ever reaches a log line, a metric or an answer. Every request path runs with
// known values (the shared secret, the previous secret during a rotation, inbox tokens, the
// forwarder's and tailer's token), some of them sent back by a hostile ingest or padded into a
// wrong token, and everything captured is searched for each value and its SHA-256 hex.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyEventV2, APIGatewayProxyResult, Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AuditEvent } from '../../lib/audit/index.js';
import { main } from '../../lib/cli/main.js';
import { type IngestServer, startIngestServer } from '../../lib/ingest/adapters/server.js';
import { hashToken } from '../../lib/ingest/auth.js';
import { SqliteInboxStore } from '../../lib/ingest/inbox-sqlite.js';
import { type EventStore, openEventStore } from '../../lib/sinks/sqlite.js';
import { awslogsEvent, eksPayload } from '../helpers/envelopes.js';
import { captureStdout, lambdaContext, loadForwarder } from '../helpers/forwarder.js';
import { eventList, ingestConfig, tempDataDir, uniqueFalcoEvents } from '../helpers/ingest.js';
import { rawRequest } from '../helpers/serve.js';
import { distinctLines, type Fault, ok, startFaultServer, status } from '../helpers/ship.js';
import { captureIo } from '../helpers/tail-ingest.js';

// Distinct, recognisable values: any of them (or its SHA-256 hex) in captured output is a leak.
const SECRET = 'k8s-audit-shared-secret-Zq4vN8pW2xR7tY1u';
const PREVIOUS = 'k8s-audit-previous-secret-Hm3bC6dF9gJ0kL5';
const FORWARDER_TOKEN = SECRET;
const CONSOLE_TOKEN = 'console-token-Vb7nQ2mX9kD4sW6e';
const inboxTokens: Record<'ok' | 'revoked' | 'otherTemplate', string> = { ok: '', revoked: '', otherTemplate: '' };

function secrets(): string[] {
  const values = [SECRET, PREVIOUS, CONSOLE_TOKEN, ...Object.values(inboxTokens)].filter((v) => v !== '');
  return [...values, ...values.map(hashToken)];
}

/** Every captured text, with where it came from, for the failure message. */
const captured: { where: string; text: string }[] = [];
function capture(where: string, text: string): void {
  captured.push({ where, text });
}

function expectNoSecretIn(items: { where: string; text: string }[]): void {
  const leaks: string[] = [];
  for (const { where, text } of items) {
    for (const s of secrets()) {
      const at = text.indexOf(s);
      if (at !== -1)
        leaks.push(
          `${where} holds ${s.length === 64 ? 'a SHA-256 of a secret' : 'a secret'}: …${text.slice(Math.max(0, at - 300), at + 20).replace(/\n/g, ' | ')}…`,
        );
    }
  }
  expect(leaks).toEqual([]);
}

const events = uniqueFalcoEvents().slice(0, 5);
const body = eventList(events);

describe('the local ingest server', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let server: IngestServer;
  let off: IngestServer;
  let store: EventStore;
  const logs: Record<string, unknown>[] = [];

  beforeAll(async () => {
    tmp = tempDataDir('aisoc-secrets-');
    const inbox = new SqliteInboxStore(tmp.dir);
    inboxTokens.ok = (await inbox.create({ tenantId: 'inbox-co', clusterName: 'legacy', label: 'ok' })).token;
    const revoked = await inbox.create({ tenantId: 'inbox-co', label: 'revoked' });
    inboxTokens.revoked = revoked.token;
    await inbox.revoke(revoked.binding.id);
    inboxTokens.otherTemplate = (await inbox.create({ tenantId: 'inbox-co', label: 'other', template: 'cloudtrail' })).token;
    await inbox.close();
    server = await startIngestServer({
      config: ingestConfig({
        K8S_AUDIT_SHARED_SECRET: SECRET,
        K8S_AUDIT_SHARED_SECRET_PREVIOUS: PREVIOUS,
        AISOC_DATA_DIR: tmp.dir,
        K8S_AUDIT_MAX_BATCH_SIZE: '10',
      }),
      log: (e) => logs.push(e),
      console: { assets: null, consoleToken: CONSOLE_TOKEN },
    });
    off = await startIngestServer({
      config: ingestConfig({ K8S_AUDIT_SHARED_SECRET: '', AISOC_DATA_DIR: join(tmp.dir, 'off') }),
      log: (e) => logs.push(e),
    });
    store = openEventStore(tmp.dir);
  });

  afterAll(async () => {
    await server?.close();
    await off?.close();
    store?.close();
    tmp?.remove();
  });

  async function call(
    label: string,
    path: string,
    token: string | null,
    payload: string | Buffer,
    headers: Record<string, string> = {},
    base = server.url,
  ) {
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(token === null ? {} : { 'X-AiSOC-K8s-Token': token }), ...headers },
      body: payload,
    });
    const text = await res.text();
    capture(`${label}: answer`, `${JSON.stringify([...res.headers])}\n${text}`);
    return res.status;
  }

  it('answers every route and status without a secret or token in any answer or log line', async () => {
    const statuses: Record<string, number> = {};
    const route = '/v1/ingest/k8s-audit/acme';
    statuses.ok = await call('ok', route, SECRET, body);
    statuses.previous = await call(
      'previous secret',
      route,
      PREVIOUS,
      eventList(events.map((e: AuditEvent) => ({ ...e, auditID: `p-${e.auditID}` }))),
    );
    statuses.missing = await call('no token', route, null, body);
    statuses.prefix = await call('a token sharing a prefix', route, `${SECRET.slice(0, -3)}xyz`, body);
    statuses.padded = await call('the secret padded', route, `${SECRET}-and-more`, body);
    statuses.disabled = await call('webhook off', route, SECRET, body, {}, off.url);
    statuses.badTenant = await call('bad tenant', '/v1/ingest/k8s-audit/..%2fx', SECRET, body);
    // The secret typed where the tenant id goes (it is a valid tenant id by its characters), with
    // the right header, with none, percent-encoded, and the previous secret there.
    statuses.secretAsTenant = await call('the secret as the tenant', `/v1/ingest/k8s-audit/${SECRET}`, SECRET, body);
    statuses.secretAsTenantNoToken = await call('the secret as the tenant, no token', `/v1/ingest/k8s-audit/${SECRET}/`, null, body);
    statuses.secretAsTenantEncoded = await call(
      'the secret as the tenant, encoded',
      `/v1/ingest/k8s-audit/${encodeURIComponent(SECRET).replace(/-/g, '%2D')}`,
      SECRET,
      body,
    );
    statuses.previousAsTenant = await call('the previous secret as the tenant', `/v1/ingest/k8s-audit/${PREVIOUS}`, SECRET, body);
    statuses.consoleTokenAsTenant = await call('the console token as the tenant', `/v1/ingest/k8s-audit/${CONSOLE_TOKEN}`, SECRET, body);
    const statusOfSecret = await fetch(`${server.url}/v1/status/k8s-audit/${SECRET}`, { headers: { 'X-AiSOC-K8s-Token': SECRET } });
    capture('status of the secret as tenant: answer', await statusOfSecret.text());
    statuses.badBody = await call('bad body', route, SECRET, `{"token":"${SECRET}"`);
    // A body that is the secret itself, or holds it right where the parser stops: V8's message
    // quotes the text around an unexpected token.
    statuses.secretAsBody = await call('the secret as the body', route, SECRET, SECRET);
    statuses.secretAfterJunk = await call('the secret after junk', route, SECRET, `[1,2,${SECRET}]`);
    const declared = await rawRequest(
      server.port,
      `POST ${route} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-AiSOC-K8s-Token: ${SECRET}\r\nContent-Length: 99999999999`,
      Buffer.alloc(1024),
    );
    capture('declared too large: answer', `${JSON.stringify(declared.headers)}\n${declared.body}`);
    statuses.declaredTooLarge = declared.status;
    statuses.batchTooLarge = await call('batch too large', route, SECRET, eventList(uniqueFalcoEvents().slice(0, 11)));
    statuses.notJson = await call('not JSON', route, SECRET, body, { 'Content-Type': 'text/plain' });
    statuses.inboxOk = await call('inbox ok', `/v1/inbox/${inboxTokens.ok}`, null, body);
    statuses.inboxUnknown = await call('inbox unknown', `/v1/inbox/aik8s_${'x'.repeat(43)}`, null, body);
    statuses.inboxRevoked = await call('inbox revoked', `/v1/inbox/${inboxTokens.revoked}`, null, body);
    statuses.inboxOtherTemplate = await call('inbox other template', `/v1/inbox/${inboxTokens.otherTemplate}`, null, body);
    store.db.exec("CREATE TRIGGER secrets_poison BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END");
    statuses.sinkDown = await call(
      'sink down',
      route,
      SECRET,
      eventList(events.map((e: AuditEvent) => ({ ...e, auditID: `s-${e.auditID}` }))),
    );
    store.db.exec('DROP TRIGGER secrets_poison');
    const health = await fetch(`${server.url}/healthz`);
    capture('healthz: answer', await health.text());
    const notFound = await fetch(`${server.url}/v1/ingest/${SECRET}`, { method: 'POST' });
    capture('404: answer', await notFound.text());
    // A secret pasted into a console path: logged as <redacted>, as any other path.
    for (const path of [`/console/api/${SECRET}`, `/console/${SECRET}`]) {
      const res = await fetch(`${server.url}${path}`);
      capture(`console ${path.slice(0, 14)}…: answer`, await res.text());
    }
    const wrongMethod = await fetch(`${server.url}${route}`, { headers: { 'X-AiSOC-K8s-Token': SECRET } });
    capture('405: answer', await wrongMethod.text());
    const headerTooLarge = await rawRequest(
      server.port,
      `POST ${route} HTTP/1.1\r\nHost: x\r\nX-AiSOC-K8s-Token: ${SECRET}${'A'.repeat(64 * 1024)}\r\nContent-Length: 2`,
      Buffer.from('{}'),
    );
    capture('431: answer', `${JSON.stringify(headerTooLarge.headers)}\n${headerTooLarge.body}`);
    // The console: logins with each secret, a near miss, and reads with the session they open.
    const consoleCall = async (label: string, path: string, init: RequestInit = {}) => {
      const res = await fetch(`${server.url}/console/api/${path}`, init);
      capture(`console ${label}: answer`, `${JSON.stringify([...res.headers])}\n${await res.text()}`);
      return res;
    };
    const login2 = (label: string, tenant: string, secret: string) =>
      consoleCall(label, 'login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ tenant, secret }),
      });
    // The two fields swapped, and the console token typed as the tenant.
    statuses['login, swapped'] = (await login2('login, swapped', SECRET, 'acme')).status;
    statuses['login, token as tenant'] = (await login2('login, token as tenant', CONSOLE_TOKEN, SECRET)).status;
    for (const [label, secret] of [
      ['login, secret', SECRET],
      ['login, previous', PREVIOUS],
      ['login, token', CONSOLE_TOKEN],
      ['login, prefix', `${CONSOLE_TOKEN.slice(0, -2)}xx`],
    ] as const) {
      const res = await login2(label, 'acme', secret);
      statuses[label] = res.status;
      const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] as string;
      if (res.status === 200) {
        for (const path of ['events', 'alerts', 'status', 'session']) await consoleCall(path, path, { headers: { Cookie: cookie } });
      }
    }
    capture('server log', logs.map((l) => JSON.stringify(l)).join('\n'));
    // No event was stored under a secret as its tenant id.
    const tenants = store.db.prepare('SELECT DISTINCT tenant_id FROM events ORDER BY 1').all() as { tenant_id: string }[];
    capture('tenants in the store', JSON.stringify(tenants));
    expect(tenants.map((t) => t.tenant_id)).toEqual(['acme', 'inbox-co']);

    expect(statusOfSecret.status).toBe(400);
    expect(statuses).toEqual({
      'login, swapped': 401,
      'login, token as tenant': 401,
      'login, secret': 200,
      'login, previous': 200,
      'login, token': 200,
      'login, prefix': 401,
      ok: 200,
      previous: 200,
      missing: 401,
      prefix: 401,
      padded: 401,
      disabled: 503,
      badTenant: 400,
      secretAsTenant: 400,
      secretAsTenantNoToken: 401,
      secretAsTenantEncoded: 400,
      previousAsTenant: 400,
      consoleTokenAsTenant: 400,
      badBody: 400,
      secretAsBody: 400,
      secretAfterJunk: 400,
      declaredTooLarge: 413,
      batchTooLarge: 413,
      notJson: 415,
      inboxOk: 200,
      inboxUnknown: 401,
      inboxRevoked: 401,
      inboxOtherTemplate: 403,
      sinkDown: 503,
    });
    expect([health.status, notFound.status, wrongMethod.status, headerTooLarge.status]).toEqual([200, 404, 405, 431]);
    // One line per request (the 404 and 405 too; not /healthz, nor what the HTTP parser refused).
    const consoleLogins = Object.keys(statuses).filter((k) => k.startsWith('login')).length;
    expect(logs.filter((l) => l.msg === 'ingest request')).toHaveLength(Object.keys(statuses).length - consoleLogins + 3);
    // The console's too: 4 logins, 4 reads after each of the 3 that worked, and the 2 secret paths.
    expect(logs.filter((l) => l.msg === 'console request')).toHaveLength(consoleLogins + 3 * 4 + 2);
    expectNoSecretIn(captured);
  });

  it('logs an inbox request path with the token replaced by its id, however the path is written', async () => {
    const seen = logs.length;
    const id = hashToken(inboxTokens.ok).slice(0, 16);
    const paths = [
      `/v1/inbox/${inboxTokens.ok}`,
      `/v1/inbox/${inboxTokens.ok}/`,
      `/v1/inbox/${inboxTokens.ok}/extra`,
      `/v1/inbox/${encodeURIComponent(inboxTokens.ok).replace(/_/g, '%5F')}`,
      `/V1/INBOX/${inboxTokens.ok}`,
      `/v1//inbox/${inboxTokens.ok}`,
      `/v1/inbox/${inboxTokens.ok}?cluster=legacy`,
    ];
    for (const [i, path] of paths.entries()) {
      const events5 = eventList(events.map((e: AuditEvent) => ({ ...e, auditID: `ib-${i}-${e.auditID}` })));
      await call(`inbox path ${path.replace(inboxTokens.ok, '<token>')}`, path, null, events5);
    }
    const lines = logs.slice(seen).filter((l) => l.msg === 'ingest request');
    capture('server log (inbox paths)', lines.map((l) => JSON.stringify(l)).join('\n'));
    expect(lines.map((l) => [l.status, l.path])).toEqual([
      [200, `/v1/inbox/<id:${id}>`],
      [200, `/v1/inbox/<id:${id}>/`],
      [404, `/v1/inbox/<id:${id}>/<redacted>`],
      [200, `/v1/inbox/<id:${id}>`],
      [404, '/V1/INBOX/<redacted>'],
      [404, '/v1//inbox/<redacted>'],
      [200, `/v1/inbox/<id:${id}>`],
    ]);
    // The id is the one `inbox list` shows for the token, so an operator can find and revoke it.
    const inbox = new SqliteInboxStore(tmp.dir);
    try {
      expect((await inbox.list()).map((b) => b.id)).toContain(id);
    } finally {
      await inbox.close();
    }
    expectNoSecretIn(captured);
  });
});

type Handler = (event: unknown, ctx: Context) => Promise<APIGatewayProxyResult>;

/** Imports the ingest Lambda afresh with `env`, its stdout captured. */
async function loadIngestLambda(env: Record<string, string>): Promise<{ handler: Handler; out: () => string }> {
  // stdout and stderr: Powertools Logger writes warnings and errors to stderr, CloudWatch gets both.
  const captured = captureStdout();
  vi.resetModules();
  vi.stubEnv('AWS_LAMBDA_FUNCTION_NAME', 'aisoc-k8s-audit-ingest');
  for (const name of [
    'ALERTS_SINK',
    'INBOX_TABLE',
    'K8S_AUDIT_SHARED_SECRET',
    'K8S_AUDIT_SHARED_SECRET_PREVIOUS',
    'K8S_AUDIT_SHARED_SECRET_ARN',
  ])
    vi.stubEnv(name, '');
  for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
  const mod = (await import('../../functions/ingest.js')) as { handler: Handler };
  return { handler: mod.handler, out: captured.text };
}

// A short, plain shared secret (an operator's own pick, not `openssl rand`) and console token
// pasted into console URLs: shorter than the length that hides any segment, so only knowing them
// as secrets keeps them out of the access log, as it does on the ingest's routes.
describe('the console access log with a short secret', () => {
  it('hides the shared secret, the previous one and the console token in a console path', async () => {
    const [short, previous, token] = ['Pa55-word-9', 'Old-pass-7', 'Dev-token-3'];
    const tmp = tempDataDir('aisoc-secrets-console-');
    const logs: Record<string, unknown>[] = [];
    const server = await startIngestServer({
      config: ingestConfig({ K8S_AUDIT_SHARED_SECRET: short, K8S_AUDIT_SHARED_SECRET_PREVIOUS: previous, AISOC_DATA_DIR: tmp.dir }),
      log: (e) => logs.push(e),
      console: { assets: null, consoleToken: token },
    });
    try {
      const paths = [short, previous, token].flatMap((s) => [`/console/${s}`, `/console/api/${s}`, `/console/api/events/${s}`]);
      const statuses: number[] = [];
      for (const path of paths) statuses.push((await fetch(`${server.url}${path}`)).status);

      const lines = logs.filter((l) => l.msg === 'console request');
      expect(statuses).toEqual([404, 401, 401, 404, 401, 401, 404, 401, 401]);
      expect(lines.map((l) => l.path)).toEqual(
        Array(3).fill(['/console/<redacted>', '/console/api/<redacted>', '/console/api/events/<redacted>']).flat(),
      );
      const text = JSON.stringify(logs);
      expect([short, previous, token].filter((s) => text.includes(s))).toEqual([]);
    } finally {
      await server.close();
      tmp.remove();
    }
  });
});

describe('the ingest Lambda', () => {
  const context = { awsRequestId: 'req-secrets', getRemainingTimeInMillis: () => 29_000 } as unknown as Context;

  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  function v2(path: string, payload: string, headers: Record<string, string>): APIGatewayProxyEventV2 {
    return {
      version: '2.0',
      routeKey: 'POST /v1/ingest/k8s-audit/{tenant_id}',
      rawPath: path,
      rawQueryString: '',
      headers: { 'content-type': 'application/json', ...headers },
      pathParameters: { tenant_id: path.split('/').pop() ?? '' },
      requestContext: { stage: '$default', http: { method: 'POST', path } },
      body: payload,
      isBase64Encoded: false,
    } as unknown as APIGatewayProxyEventV2;
  }

  it('answers 200, 401, 400, 413 and 503 without a secret in any answer or log line', async () => {
    const on = await loadIngestLambda({
      EVENTS_SINK: 'stdout',
      K8S_AUDIT_SHARED_SECRET: SECRET,
      K8S_AUDIT_SHARED_SECRET_PREVIOUS: PREVIOUS,
      // The most an operator can turn on: debug everywhere, and Powertools' own event logging
      // (the event holds the token header), which the middleware overrides.
      LOG_LEVEL: 'DEBUG',
      POWERTOOLS_LOGGER_LOG_EVENT: 'true',
      POWERTOOLS_LOGGER_SAMPLE_RATE: '1',
    });
    const route = '/v1/ingest/k8s-audit/acme';
    const answers = [
      await on.handler(v2(route, body, { 'x-aisoc-k8s-token': SECRET }), context),
      await on.handler(v2(route, body, { 'x-aisoc-k8s-token': `${SECRET}x` }), context),
      await on.handler(v2(route, `{"a":"${SECRET}"`, { 'x-aisoc-k8s-token': SECRET }), context),
      await on.handler(v2(route, ' '.repeat(6_400_000), { 'x-aisoc-k8s-token': SECRET }), context),
    ];
    const onOut = on.out();
    vi.restoreAllMocks();
    const disabled = await loadIngestLambda({ EVENTS_SINK: 'stdout' });
    answers.push(await disabled.handler(v2(route, body, { 'x-aisoc-k8s-token': SECRET }), context));

    expect(answers.map((a) => a.statusCode)).toEqual([200, 401, 400, 413, 503]);
    // The lines were written (and checked), one per request, in the Powertools shape.
    expect(onOut.match(/"message":"ingest request"/g)).toHaveLength(4);
    expect(onOut).not.toContain('Lambda invocation event');
    expectNoSecretIn([
      ...answers.map((a, i) => ({ where: `lambda answer ${i}`, text: JSON.stringify(a) })),
      { where: 'lambda stdout (logs and the stdout sink)', text: onOut },
      { where: 'lambda stdout, webhook off', text: disabled.out() },
    ]);
  });
});

describe('the ingest Lambda with its secret in Secrets Manager', () => {
  const secretsManager = mockClient(SecretsManagerClient);
  const context = { awsRequestId: 'req-secrets-arn', getRemainingTimeInMillis: () => 29_000 } as unknown as Context;

  afterEach(() => {
    secretsManager.reset();
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it('reads the secret by ARN and logs neither it nor its hash', async () => {
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:aisoc-k8s-audit-AbCdEf';
    secretsManager
      .on(GetSecretValueCommand, { SecretId: arn })
      .resolves({ SecretString: JSON.stringify({ K8S_AUDIT_SHARED_SECRET: SECRET }) });
    const { handler, out } = await loadIngestLambda({ EVENTS_SINK: 'stdout', AWS_REGION: 'eu-west-1', K8S_AUDIT_SHARED_SECRET_ARN: arn });
    const event = (token: string) => ({
      version: '2.0',
      routeKey: 'POST /v1/ingest/k8s-audit/{tenant_id}',
      rawPath: '/v1/ingest/k8s-audit/acme',
      rawQueryString: '',
      headers: { 'content-type': 'application/json', 'x-aisoc-k8s-token': token },
      pathParameters: { tenant_id: 'acme' },
      requestContext: { stage: '$default', http: { method: 'POST', path: '/v1/ingest/k8s-audit/acme' } },
      body,
      isBase64Encoded: false,
    });

    const answers = [await handler(event(SECRET), context), await handler(event(`${SECRET.slice(0, -1)}?`), context)];

    expect(answers.map((a) => a.statusCode)).toEqual([200, 401]);
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expectNoSecretIn([
      ...answers.map((a, i) => ({ where: `lambda answer ${i}`, text: JSON.stringify(a) })),
      { where: 'lambda stdout', text: out() },
    ]);
  });
});

describe('the forwarder Lambda and its EMF metrics', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it.each<[string, (n: number) => Fault]>([
    ['an ingest that takes everything', () => ok()],
    ['an ingest that answers 401 and echoes the token back', () => status(401, `token ${FORWARDER_TOKEN} does not match`)],
    [
      'an ingest that answers 503 with the token in its error',
      (n) => (n <= 2 ? status(503, `retry, ${FORWARDER_TOKEN}`, { 'Retry-After': '0' }) : ok()),
    ],
    ['an ingest that resets the connection and then stalls', (n) => (n === 1 ? { kind: 'reset' } : { kind: 'stall' })],
  ])('logs and counts nothing secret against %s', async (_name, plan) => {
    const server = await startFaultServer(plan);
    try {
      const out = captureStdout();
      const handler = await loadForwarder({
        AISOC_INGEST_URL: server.url,
        K8S_AUDIT_SHARED_SECRET: FORWARDER_TOKEN,
        FORWARDER_MAX_ATTEMPTS: '3',
        FORWARDER_REQUEST_TIMEOUT_MS: '200',
      });

      const outcome = await handler(awslogsEvent(eksPayload(distinctLines(20, 'secret-fwd'))), lambdaContext()).then(
        () => 'ok',
        (err: Error) => `${err.name}: ${err.message}\n${err.stack ?? ''}`,
      );

      expect(out.emf()).toHaveLength(1);
      expect(server.requests.every((r) => r.headers['x-aisoc-k8s-token'] === FORWARDER_TOKEN)).toBe(true);
      expectNoSecretIn([
        { where: 'forwarder stdout (log lines and EMF metrics)', text: out.text() },
        { where: 'forwarder outcome (the error Lambda logs)', text: outcome },
      ]);
    } finally {
      await server.close();
    }
  });
});

describe('the tail command', () => {
  it.each<[string, (n: number) => Fault]>([
    ['an ingest that takes everything', () => ok()],
    ['an ingest that answers 401 and echoes the token back', () => status(401, `bad token ${SECRET}`)],
    [
      'an ingest that resets, answers 503 with the token, then takes the batch',
      (n) => (n === 1 ? { kind: 'reset' } : n === 2 ? status(503, SECRET, { 'Retry-After': '0' }) : ok()),
    ],
    [
      'an ingest that answers 200 and echoes the token in its per-item reasons',
      () => ({
        kind: 'answer',
        status: 200,
        body: JSON.stringify({
          accepted: 9,
          rejected: 1,
          duplicates: 0,
          errors: [{ index: 0, auditID: null, reason: `token ${SECRET}`, [SECRET]: 1 }],
        }),
      }),
    ],
  ])('prints no secret in its log lines against %s', async (_name, plan) => {
    const server = await startFaultServer(plan);
    const tmp = tempDataDir('aisoc-secrets-tail-');
    try {
      const log = join(tmp.dir, 'audit.log');
      writeFileSync(
        log,
        distinctLines(10, 'secret-tail')
          .map((l) => `${l}\n`)
          .join(''),
      );
      const cap = captureIo({ AISOC_INGEST_URL: server.url, K8S_AUDIT_SHARED_SECRET: SECRET, CLUSTER_NAME: 'tail-secrets' });

      const code = await main(['tail', '--path', log, '--cursor', join(tmp.dir, 'cursor'), '--once'], cap.io);

      expect(server.requests.length).toBeGreaterThan(0);
      expect(cap.err()).toMatch(/"message":"poll"/);
      expect(code).toBe(server.delivered.length === 10 ? 0 : 1);
      expectNoSecretIn([
        { where: 'tail stderr', text: cap.err() },
        { where: 'tail stdout', text: cap.out() },
      ]);
    } finally {
      await server.close();
      tmp.remove();
    }
  });
});
