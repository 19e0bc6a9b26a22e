import { rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditEvent, decideEventSeverity } from '../../lib/audit/index.js';
import { withSharedSecret } from '../../lib/config/ingest.js';
import type { ConsoleAssets } from '../../lib/console/assets.js';
import { ConsoleRoutes } from '../../lib/console/routes.js';
import { type IngestServer, startIngestServer } from '../../lib/ingest/adapters/server.js';
import { TenantAccess } from '../../lib/ingest/auth.js';
import { EVENT_STORE_FILE } from '../../lib/sinks/sqlite.js';
import { falcoEvent } from '../helpers/fixtures.js';
import { eventList, ingestConfig, PREVIOUS_SECRET, SECRET, tempDataDir, uniqueFalcoEvents } from '../helpers/ingest.js';

const CONSOLE_TOKEN = 'console-token-for-tests-0123456789';
const ASSETS: ConsoleAssets = {
  html: Buffer.from('<!doctype html><title>console</title>'),
  js: Buffer.from('void 0;'),
  css: Buffer.from('body{}'),
};

/** Every console API route a browser uses, with its method. */
const API_ROUTES: [string, string][] = [
  ['GET', 'session'],
  ['GET', 'status'],
  ['GET', 'timeline'],
  ['GET', 'events'],
  ['GET', 'events?user=admin&severity=high'],
  ['GET', 'events/1'],
  ['GET', 'alerts'],
  ['GET', 'stream'],
  ['POST', 'logout'],
  ['GET', 'no-such-route'],
];

/** Real Falco events, re-timed to now so the last hour's views see them. */
function freshEvents(tag: string, n?: number): AuditEvent[] {
  const now = new Date().toISOString();
  return uniqueFalcoEvents()
    .slice(0, n)
    .map((e, i) => ({ ...e, auditID: `${tag}-${i}`, requestReceivedTimestamp: now, stageTimestamp: now }));
}

describe('console API: access control and tenant scoping', () => {
  const tmp = tempDataDir('aisoc-console-api-');
  let server: IngestServer;
  const base = () => `${server.url}/console/api`;

  const ingest = (tenant: string, items: unknown[], cluster = 'prod') =>
    fetch(`${server.url}/v1/ingest/k8s-audit/${tenant}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET, 'X-AiSOC-Cluster-Name': cluster },
      body: eventList(items),
    });
  const login = (tenant: string, secret: string, headers: Record<string, string> = {}) =>
    fetch(`${base()}/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify({ tenant, secret }),
    });
  const cookieOf = (res: Response) => (res.headers.get('set-cookie') ?? '').split(';')[0] as string;
  const get = (path: string, cookie: string) => fetch(`${base()}/${path}`, { headers: { Cookie: cookie } });

  beforeAll(async () => {
    server = await startIngestServer({
      config: ingestConfig({ AISOC_DATA_DIR: tmp.dir, K8S_AUDIT_SHARED_SECRET_PREVIOUS: PREVIOUS_SECRET }),
      console: { assets: ASSETS, consoleToken: CONSOLE_TOKEN },
    });
    expect((await ingest('acme', freshEvents('acme'))).status).toBe(200);
    expect((await ingest('globex', freshEvents('globex', 10), 'globex-prod')).status).toBe(200);
  });
  afterAll(async () => {
    await server.close();
    tmp.remove();
  });

  it('answers every API route with a JSON 401 without a session, and with a made-up or stale cookie', async () => {
    for (const cookie of [undefined, 'aisoc_console=forged', 'aisoc_console=']) {
      for (const [method, route] of API_ROUTES) {
        const res = await fetch(`${base()}/${route}`, { method, headers: cookie === undefined ? {} : { Cookie: cookie } });
        expect([route, res.status]).toEqual([route, 401]);
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(await res.json()).toEqual({ error: 'log in to the console first' });
      }
    }
  });

  it('logs in with the shared secret, the previous one during a rotation, or the console token; the cookie is HttpOnly and SameSite=Strict', async () => {
    for (const secret of [SECRET, PREVIOUS_SECRET, CONSOLE_TOKEN]) {
      const res = await login('acme', secret);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ tenant: 'acme' });
      const cookie = res.headers.get('set-cookie') ?? '';
      expect(cookie).toMatch(/^aisoc_console=[A-Za-z0-9_-]{43}; /);
      expect(cookie).toMatch(/; HttpOnly/);
      expect(cookie).toMatch(/; SameSite=Strict/);
      expect(cookie).toMatch(/; Path=\/console/);
      expect(cookie).not.toContain(secret);
      expect((await get('session', cookieOf(res))).status).toBe(200);
    }
  });

  it("refuses bad logins with the ingest's error shapes, and never echoes the secret", async () => {
    const cases: [RequestInit, number, RegExp][] = [
      [{ body: JSON.stringify({ tenant: 'acme', secret: 'wrong-secret' }) }, 401, /neither the shared secret nor the console token/],
      [{ body: JSON.stringify({ tenant: '../etc', secret: SECRET }) }, 400, /tenant must match/],
      [{ body: JSON.stringify({ tenant: 'acme' }) }, 400, /secret is required/],
      [{ body: '{"tenant":' }, 400, /not JSON/],
      [{ body: JSON.stringify({ tenant: 'acme', secret: SECRET }), headers: { 'Content-Type': 'text/plain' } }, 415, /application\/json/],
      [{ body: 'x'.repeat(5000) }, 413, /over 4096 bytes/],
    ];
    for (const [init, status, message] of cases) {
      const res = await fetch(`${base()}/login`, {
        method: 'POST',
        ...init,
        headers: { 'Content-Type': 'application/json', ...(init.headers as Record<string, string>) },
      });
      const text = await res.text();
      expect([status, res.status]).toEqual([status, res.status]);
      expect(res.status).toBe(status);
      expect(JSON.parse(text).error).toMatch(message);
      expect(text).not.toContain(SECRET);
      expect(res.headers.get('set-cookie')).toBeNull();
    }
    const get = await fetch(`${base()}/login`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    // A login posted from another site's page (its Origin) is refused even with the secret.
    const cross = await login('acme', SECRET, { Origin: 'https://evil.example' });
    expect(cross.status).toBe(403);
    expect(cross.headers.get('set-cookie')).toBeNull();
  });

  it('shows a session only its own tenant: lists, status, timeline and single events', async () => {
    const acme = cookieOf(await login('acme', SECRET));
    const globex = cookieOf(await login('globex', SECRET));

    const acmeEvents = (await (await get('events?limit=200', acme)).json()) as { items: { id: number; cluster_name: string }[] };
    const globexEvents = (await (await get('events?limit=200', globex)).json()) as { items: { id: number; cluster_name: string }[] };
    expect(acmeEvents.items.length).toBe(freshEvents('acme').length);
    expect(globexEvents.items.length).toBe(10);
    expect(acmeEvents.items.every((e) => e.cluster_name === 'prod')).toBe(true);
    expect(globexEvents.items.every((e) => e.cluster_name === 'globex-prod')).toBe(true);

    const globexId = globexEvents.items[0]?.id as number;
    const mine = await get(`events/${globexId}`, globex);
    expect(mine.status).toBe(200);
    expect(((await mine.json()) as { record: { tenant_id: string } }).record.tenant_id).toBe('globex');
    const theirs = await get(`events/${globexId}`, acme);
    const missing = await get('events/999999999', acme);
    expect([theirs.status, await theirs.json()]).toEqual([404, { error: 'no such event' }]);
    expect([missing.status, await missing.json()]).toEqual([404, { error: 'no such event' }]);

    const alerts = (await (await get('alerts', acme)).json()) as { items: { cluster_name: string; rule_ids: string[] }[] };
    expect(alerts.items.length).toBeGreaterThan(0);
    expect(alerts.items.every((a) => a.cluster_name === 'prod' && a.rule_ids.length > 0)).toBe(true);

    const status = (await (await get('status', acme)).json()) as {
      tenant: string;
      clusters: { cluster_name: string; events_last_hour: number }[];
    };
    expect(status.tenant).toBe('acme');
    expect(status.clusters.map((c) => c.cluster_name)).toEqual(['prod']);
    expect(status.clusters[0]?.events_last_hour).toBe(acmeEvents.items.length);

    const timeline = (await (await get('timeline', acme)).json()) as {
      buckets: { high: number; medium: number; low: number; info: number }[];
    };
    expect(timeline.buckets.reduce((n, b) => n + b.high + b.medium + b.low + b.info, 0)).toBe(acmeEvents.items.length);
  });

  it('shows the alert of an event whose auditID was reused flagged, as the events list and the store have it', async () => {
    const high = freshEvents('reuse').find((e) => decideEventSeverity(e).severity === 'high') as AuditEvent;
    // The same auditID and stage with other content: a client choosing its own Audit-ID.
    const twin = { ...high, userAgent: 'another-client/1.0' };
    expect((await ingest('reuse', [high, twin])).status).toBe(200);
    const cookie = cookieOf(await login('reuse', SECRET));

    const events = (await (await get('events', cookie)).json()) as { items: { severity_reason: string }[] };
    const alerts = (await (await get('alerts', cookie)).json()) as { items: { severity_reason: string }[] };

    expect(events.items.map((e) => e.severity_reason)).toContain('reused-audit-id');
    expect(alerts.items.map((a) => a.severity_reason)).toContain('reused-audit-id');
    expect(alerts.items.map((a) => a.severity_reason).sort()).toEqual(events.items.map((e) => e.severity_reason).sort());
  });

  it('pages with the cursor it hands out and refuses bad parameters with 400', async () => {
    const acme = cookieOf(await login('acme', SECRET));
    const first = (await (await get('events?limit=7', acme)).json()) as { items: { id: number }[]; next: string };
    const second = (await (await get(`events?limit=7&cursor=${first.next}`, acme)).json()) as { items: { id: number }[] };
    expect(first.items).toHaveLength(7);
    expect(second.items).toHaveLength(7);
    expect(second.items.some((e) => first.items.some((f) => f.id === e.id))).toBe(false);

    for (const [query, message] of [
      ['events?limit=0', /limit must be 1 to 200/],
      ['events?limit=201', /limit must be 1 to 200/],
      ['events?severity=critical', /severity must be/],
      ['events?since=yesterday', /since must be an ISO 8601 time/],
      ['events?cursor=not-a-cursor', /cursor is not one this API handed out/],
      ['timeline?since=2026-01-01T00:00:00Z&until=2025-01-01T00:00:00Z', /since must be before until/],
      ['timeline?since=2020-01-01T00:00:00Z&until=2026-01-01T00:00:00Z', /at most 7 days/],
      ['events?since=2020-01-01T00:00:00Z&until=2019-01-01T00:00:00Z', /since must be before until/],
      ['events?no_cluster=maybe', /no_cluster must be true or false/],
      ['events?bogus=1', /unknown parameter bogus; events takes user, verb, /],
      ['alerts?severity=high', /unknown parameter severity; alerts takes limit, cursor/],
      ['status?tenant=globex', /status takes no parameters, got tenant/],
      // Times Date.parse takes but the API does not: no zone (the server's local time), not a date, a year past 9999.
      ['events?since=2026-12-07T00:00:00', /since must be an ISO 8601 time with its zone/],
      ['events?since=March%207', /since must be an ISO 8601 time/],
      ['events?since=1', /since must be an ISO 8601 time/],
      ['events?until=%2B010000-01-01T00:00:00Z', /until must be an ISO 8601 time/],
      // A parameter given twice, and parameters of routes that take none.
      ['events?limit=1&limit=500', /give limit once/],
      ['events/1?foo=bar', /events\/1 takes no parameters, got foo/],
      ['stream?x=1', /stream takes no parameters, got x/],
    ] as const) {
      const res = await get(query, acme);
      expect([query, res.status]).toEqual([query, 400]);
      expect(((await res.json()) as { error: string }).error).toMatch(message);
    }
    const far = await get('events/9999999999999999', acme);
    expect([far.status, ((await far.json()) as { error: string }).error]).toEqual([404, 'no such event']);
    expect((await get('events?since=2026-12-07T00:00:00%2B01:00', acme)).status).toBe(200);
  });

  it('logs out: the cookie is cleared and no longer opens anything', async () => {
    const acme = cookieOf(await login('acme', SECRET));
    const out = await fetch(`${base()}/logout`, { method: 'POST', headers: { Cookie: acme } });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toMatch(/^aisoc_console=; .*Max-Age=0/);
    for (const [method, route] of API_ROUTES) {
      const res = await fetch(`${base()}/${route}`, { method, headers: { Cookie: acme } });
      expect([route, res.status]).toEqual([route, 401]);
    }
  });

  it('serves the page with a strict Content-Security-Policy; /console redirects to it', async () => {
    const page = await fetch(`${server.url}/console/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(page.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    expect(await page.text()).toBe(ASSETS.html.toString());
    const redirect = await fetch(`${server.url}/console`, { redirect: 'manual' });
    expect([redirect.status, redirect.headers.get('location')]).toEqual([302, '/console/']);
    const unknown = await fetch(`${server.url}/console/../../etc/passwd`);
    expect(unknown.status).toBe(404);
    expect((await fetch(`${server.url}/console/secrets.json`)).status).toBe(404);
  });

  it("counts a batch's rejected items in the cluster's status", async () => {
    const cookie = cookieOf(await login('initech', SECRET));
    const good = freshEvents('initech', 2);
    const res = await ingest('initech', [...good, { kind: 'Event', stage: 'ResponseComplete' }, 42], 'initech-eks');
    expect(((await res.json()) as { rejected: number }).rejected).toBe(2);

    const status = (await (await get('status', cookie)).json()) as { clusters: Record<string, unknown>[] };
    expect(status.clusters).toEqual([expect.objectContaining({ cluster_name: 'initech-eks', events_last_hour: 2, rejects_last_hour: 2 })]);
  });
});

describe('per-tenant secrets guard every route that reads a tenant, as they guard its ingest', () => {
  const tmp = tempDataDir('aisoc-console-tenant-secrets-');
  const OWN = 'acme-own-secret-7Yq2LmZ0pW4rT8vX';
  let server: IngestServer;

  beforeAll(async () => {
    const file = join(tmp.dir, 'tenants.json');
    writeFileSync(file, JSON.stringify({ acme: OWN }));
    const config = await withSharedSecret(ingestConfig({ AISOC_DATA_DIR: tmp.dir, K8S_AUDIT_TENANT_SECRETS_FILE: file }));
    server = await startIngestServer({ config, console: { assets: ASSETS } });
  });
  afterAll(async () => {
    await server.close();
    tmp.remove();
  });

  const post = (tenant: string, token: string) =>
    fetch(`${server.url}/v1/ingest/k8s-audit/${tenant}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': token },
      body: eventList([]),
    }).then((r) => r.status);
  const status = (tenant: string, token: string) =>
    fetch(`${server.url}/v1/status/k8s-audit/${tenant}`, { headers: { 'X-AiSOC-K8s-Token': token } }).then((r) => r.status);
  const login = (tenant: string, secret: string) =>
    fetch(`${server.url}/console/api/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ tenant, secret }),
    }).then((r) => r.status);

  it('acme with its own secret only; the installation-wide secret for the tenants without one', async () => {
    const answers = {
      ingest: [await post('acme', OWN), await post('acme', SECRET), await post('initech', SECRET), await post('initech', OWN)],
      status: [await status('acme', OWN), await status('acme', SECRET), await status('initech', SECRET), await status('initech', OWN)],
      console: [await login('acme', OWN), await login('acme', SECRET), await login('initech', SECRET), await login('initech', OWN)],
    };
    expect(answers).toEqual({ ingest: [200, 401, 200, 401], status: [200, 401, 200, 401], console: [200, 401, 200, 401] });
  });

  // Before, acme's wrong secret was told it "does not match the shared secret", which acme does not
  // use. The answer must not tell a prober which tenants have their own secret either (as the GKE
  // route answers alike): one text, true of both, for acme (its own) and initech (the shared one).
  it('answers a wrong secret with the same bytes for a tenant with its own secret and one without, naming neither as the shared secret', async () => {
    const answer = async (res: Response) => ({
      status: res.status,
      type: res.headers.get('content-type'),
      length: res.headers.get('content-length'),
      body: await res.text(),
    });
    const wrong = 'not-any-secret-here-Vb7Pq2Lx9Zs4';
    const ask = (tenant: string) =>
      Promise.all([
        fetch(`${server.url}/v1/ingest/k8s-audit/${tenant}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': wrong },
          body: eventList([]),
        }).then(answer),
        fetch(`${server.url}/v1/status/k8s-audit/${tenant}`, { headers: { 'X-AiSOC-K8s-Token': wrong } }).then(answer),
        fetch(`${server.url}/console/api/login`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ tenant, secret: wrong }),
        }).then(answer),
      ]);
    const [acme, initech] = [await ask('acme'), await ask('initech')];

    expect(acme).toEqual(initech);
    expect(acme.map((a) => [a.status, JSON.parse(a.body)])).toEqual([
      [401, { error: 'X-AiSOC-K8s-Token does not match the secret for this tenant' }],
      [401, { error: 'X-AiSOC-K8s-Token does not match the secret for this tenant' }],
      [401, { error: 'the secret is neither the secret for this tenant nor the console token' }],
    ]);
  });
});

describe('console API: logins are throttled per address', () => {
  const tmp = tempDataDir('aisoc-console-throttle-');
  let server: IngestServer;
  beforeAll(async () => {
    server = await startIngestServer({ config: ingestConfig({ AISOC_DATA_DIR: tmp.dir }), console: { assets: null } });
  });
  afterAll(async () => {
    await server.close();
    tmp.remove();
  });

  it('answers 429 with Retry-After after 10 failures, even to the right secret; no console token without dev mode', async () => {
    const attempt = (secret: string) =>
      fetch(`${server.url}/console/api/login`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ tenant: 'acme', secret }),
      });
    // Without a console token configured, no token-looking value logs in.
    expect((await attempt(CONSOLE_TOKEN)).status).toBe(401);
    for (let i = 0; i < 9; i++) expect((await attempt(`guess-${i}`)).status).toBe(401);
    const blocked = await attempt(SECRET);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await blocked.json()) as { error: string }).error).toMatch(/too many failed logins/);
  });

  it('counts a base64 shared secret typed as the tenant (which the tenant pattern refuses) as a failed login', async () => {
    const dir = tempDataDir('aisoc-console-swap-');
    const base64Secret = 'q3Vb8yV0mZ2c9QeH1rT5uW7xA4sD6fG8hJ0kL2n/P4r+Q=';
    const swapped = await startIngestServer({
      config: ingestConfig({ AISOC_DATA_DIR: dir.dir, K8S_AUDIT_SHARED_SECRET: base64Secret }),
      console: { assets: null },
    });
    try {
      const attempt = () =>
        fetch(`${swapped.url}/console/api/login`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ tenant: base64Secret, secret: 'acme' }),
        });
      const statuses: number[] = [];
      for (let i = 0; i < 11; i++) statuses.push((await attempt()).status);
      expect(statuses.slice(0, 10)).toEqual(Array(10).fill(400));
      expect(statuses[10]).toBe(429);
    } finally {
      await swapped.close();
      dir.remove();
    }
  });

  // Before, failed logins were counted per exact address: each of 127.0.0.2, 127.0.0.3, … (or each
  // address of an IPv6 client's /64) had a fresh budget. All of 127.0.0.0/8 is this one host.
  it('throttles a client that rotates its loopback address, and over IPv6 (::1)', async () => {
    const dir = tempDataDir('aisoc-console-rotate-');
    // Servers of their own: this file's server has already throttled 127.0.0.1, hence all of 127/8.
    const v4 = await startIngestServer({ config: ingestConfig({ AISOC_DATA_DIR: dir.dir }), console: { assets: null } });
    const v6 = await startIngestServer({ config: ingestConfig({ AISOC_DATA_DIR: dir.dir }), console: { assets: null }, host: '::1' });
    try {
      const fromAddress = (url: string, localAddress: string | undefined) =>
        new Promise<number>((resolve, reject) => {
          const body = JSON.stringify({ tenant: 'acme', secret: 'wrong-guess' });
          const req = httpRequest(
            `${url}/console/api/login`,
            {
              method: 'POST',
              localAddress,
              agent: false,
              headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
            },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          );
          req.on('error', reject);
          req.end(body);
        });
      const rotating: number[] = [];
      for (let i = 2; i <= 12; i++) rotating.push(await fromAddress(v4.url, `127.0.0.${i}`));
      expect(rotating).toEqual([...Array(10).fill(401), 429]);
      const overV6: number[] = [];
      for (let i = 0; i < 11; i++) overV6.push(await fromAddress(v6.url, '::1'));
      expect(v6.url).toMatch(/^http:\/\/\[::1\]:/);
      expect(overV6).toEqual([...Array(10).fill(401), 429]);
    } finally {
      await Promise.all([v4.close(), v6.close()]);
      dir.remove();
    }
  });

  it('answers a bare JSON 500 when the store cannot be read, and logs why', async () => {
    const dir = tempDataDir('aisoc-console-gone-');
    const logs: Record<string, unknown>[] = [];
    const gone = await startIngestServer({
      config: ingestConfig({ AISOC_DATA_DIR: dir.dir }),
      console: { assets: null },
      log: (e) => logs.push(e),
    });
    try {
      const login = await fetch(`${gone.url}/console/api/login`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ tenant: 'acme', secret: SECRET }),
      });
      const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
      // The file is gone before the console first opens it (its read connection is opened on first use).
      rmSync(join(dir.dir, EVENT_STORE_FILE));
      const res = await fetch(`${gone.url}/console/api/events`, { headers: { Cookie: cookie } });
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ error: 'internal error' });
      expect(logs.find((l) => l.msg === 'console error')).toMatchObject({ level: 'error', path: '/console/api/events' });
      expect(logs.find((l) => l.msg === 'console request' && l.status === 500)).toMatchObject({ tenant: 'acme' });
    } finally {
      await gone.close();
      dir.remove();
    }
  });

  it('says what to set when there is neither a shared secret nor a console token', async () => {
    const dir = tempDataDir('aisoc-console-off-');
    const off = await startIngestServer({
      config: ingestConfig({ AISOC_DATA_DIR: dir.dir, K8S_AUDIT_SHARED_SECRET: '' }),
      console: { assets: null },
    });
    try {
      const res = await fetch(`${off.url}/console/api/login`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ tenant: 'acme', secret: 'anything' }),
      });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: string }).error).toMatch(/set K8S_AUDIT_SHARED_SECRET/);
    } finally {
      await off.close();
      dir.remove();
    }
  });

  it('says how to build the page when it was not built', async () => {
    const res = await fetch(`${server.url}/console/`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: string }).error).toMatch(/npm run build/);
  });
});

/**
 * Reads Server-Sent Events off a response until `count` events of type `type` arrived. It has no
 * timer of its own: it is called before the work whose events it awaits (so none is missed), and a
 * timer started then ran out during that work on a loaded machine (1,001 logins took over 10 s:
 * "only 0 stored events"). The wait is bounded by the test's timeout instead.
 */
function readEvents(res: IncomingMessage, type: string, count: number): Promise<Record<string, unknown>[]> {
  return new Promise((resolve) => {
    let text = '';
    const found: Record<string, unknown>[] = [];
    res.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      let end = text.indexOf('\n\n');
      while (end !== -1) {
        const block = text.slice(0, end);
        text = text.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event === type && data !== undefined) found.push(JSON.parse(data) as Record<string, unknown>);
        end = text.indexOf('\n\n');
      }
      if (found.length >= count) resolve(found);
    });
  });
}

describe('console API: new events are pushed as Server-Sent Events', () => {
  const tmp = tempDataDir('aisoc-console-sse-');
  let server: IngestServer;
  beforeAll(async () => {
    server = await startIngestServer({ config: ingestConfig({ AISOC_DATA_DIR: tmp.dir }), console: { assets: ASSETS } });
  });
  afterAll(async () => {
    await server.close();
    tmp.remove();
  });

  it("tells a tenant's stream about its stored batches and not about another tenant's; logout ends the stream", async () => {
    const login = await fetch(`${server.url}/console/api/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ tenant: 'acme', secret: SECRET }),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(`${server.url}/console/api/stream`, { headers: { Cookie: cookie } }, resolve);
      req.on('error', reject);
      req.end();
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    const hello = readEvents(res, 'hello', 1);
    expect(await hello).toEqual([{ tenant: 'acme' }]);
    const stored = readEvents(res, 'stored', 1);

    const post = (tenant: string, items: unknown[], cluster: string) =>
      fetch(`${server.url}/v1/ingest/k8s-audit/${tenant}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET, 'X-AiSOC-Cluster-Name': cluster },
        body: eventList(items),
      });
    // Another tenant's batch first: the acme stream must not hear of it.
    expect((await post('globex', freshEvents('globex', 3), 'globex-prod')).status).toBe(200);
    expect((await post('acme', [falcoEvent('exec_pod.json')], 'prod')).status).toBe(200);

    expect(await stored).toEqual([{ accepted: 1, alerts: 1, cluster: 'prod' }]);

    const ended = new Promise<void>((resolve) => res.once('end', resolve));
    await fetch(`${server.url}/console/api/logout`, { method: 'POST', headers: { Cookie: cookie } });
    await ended;
  });
});

/** Logs in to the console at `url`; the session cookie (name=value). */
async function loggedIn(url: string, tenant: string, secret: string): Promise<string> {
  const res = await fetch(`${url}/console/api/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ tenant, secret }),
  });
  expect(res.status).toBe(200);
  return (res.headers.get('set-cookie') ?? '').split(';')[0] as string;
}

/** Opens the console's event stream with a session cookie; the response is kept in `open` to be destroyed after. */
function openStream(url: string, cookie: string, open: IncomingMessage[]): Promise<IncomingMessage> {
  return new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpRequest(`${url}/console/api/stream`, { headers: { Cookie: cookie }, agent: false }, (res) => {
      open.push(res);
      res.resume();
      resolve(res);
    });
    req.on('error', reject);
    req.end();
  });
}

describe("console API: one tenant's logins and streams cannot log another tenant out or lock it out", () => {
  const tmp = tempDataDir('aisoc-console-tenant-bounds-');
  // Each tenant with its own secret (K8S_AUDIT_TENANT_SECRETS_FILE): acme's holder is the hostile
  // tenant here, and can open nothing of globex's.
  const ACME = 'acme-own-secret-7Yq2LmZ0pW4rT8vX';
  const GLOBEX = 'globex-own-secret-Q3nV8sK1dF6hJ9bM';
  let server: IngestServer;
  const open: IncomingMessage[] = [];

  beforeAll(async () => {
    const file = join(tmp.dir, 'tenants.json');
    writeFileSync(file, JSON.stringify({ acme: ACME, globex: GLOBEX }));
    const config = await withSharedSecret(ingestConfig({ AISOC_DATA_DIR: tmp.dir, K8S_AUDIT_TENANT_SECRETS_FILE: file }));
    server = await startIngestServer({ config, console: { assets: ASSETS } });
  });
  afterAll(async () => {
    for (const res of open) res.destroy();
    await server.close();
    tmp.remove();
  });

  const login = (tenant: string, secret: string) => loggedIn(server.url, tenant, secret);
  const stream = (cookie: string) => openStream(server.url, cookie, open);

  it("keeps globex's session and event stream through 1,001 logins and 300 streams of acme, and lets it open another", async () => {
    const globex = await login('globex', GLOBEX);
    const globexStream = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(`${server.url}/console/api/stream`, { headers: { Cookie: globex }, agent: false }, resolve);
      req.on('error', reject);
      req.end();
    });
    open.push(globexStream);
    expect(await readEvents(globexStream, 'hello', 1)).toEqual([{ tenant: 'globex' }]);
    const stored = readEvents(globexStream, 'stored', 1);

    // acme logs in past the server's bound on sessions (1,000), then opens 4 streams in each of
    // 75 of its sessions: more than the server holds in all (256).
    const acme: string[] = [];
    for (let i = 0; i <= 1000; i++) acme.push(await login('acme', ACME));
    const statuses = new Map<number, number>();
    for (const cookie of acme.slice(-75)) {
      for (let j = 0; j < 4; j++) {
        const code = (await stream(cookie)).statusCode ?? 0;
        statuses.set(code, (statuses.get(code) ?? 0) + 1);
      }
    }
    // acme is answered too: its own oldest streams give way.
    expect(Object.fromEntries(statuses)).toEqual({ 200: 300 });

    // globex is still logged in, its stream still hears of its batches, and it can open another.
    const session = await fetch(`${server.url}/console/api/session`, { headers: { Cookie: globex } });
    expect([session.status, await session.json()]).toEqual([200, { tenant: 'globex' }]);
    const post = await fetch(`${server.url}/v1/ingest/k8s-audit/globex`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': GLOBEX, 'X-AiSOC-Cluster-Name': 'globex-prod' },
      body: eventList([falcoEvent('exec_pod.json')]),
    });
    expect(post.status).toBe(200);
    expect(await stored).toEqual([{ accepted: 1, alerts: 1, cluster: 'globex-prod' }]);
    expect((await stream(globex)).statusCode).toBe(200);
  });

  // Before, a successful login cleared the address's failed logins: acme's holder logged in to acme
  // after every 9 wrong guesses at globex's secret and was never answered 429.
  it("does not let acme's holder reset the throttle by logging in to acme between guesses at globex's secret", async () => {
    const attempt = (tenant: string, secret: string) =>
      fetch(`${server.url}/console/api/login`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ tenant, secret }),
      }).then(async (r) => [r.status, ((await r.json()) as { error?: string }).error ?? 'ok'] as const);
    const guesses: number[] = [];
    const own: number[] = [];
    for (let i = 0; i < 12; i++) {
      if (i % 3 === 0) own.push((await attempt('acme', ACME))[0]);
      guesses.push((await attempt('globex', `guess-${i}-Vb7Pq2Lx9Zs4`))[0]);
    }
    // The 10th failed login from this address is its last: the rest are 429, acme's own login too.
    expect(guesses).toEqual([...Array(10).fill(401), 429, 429]);
    expect(own).toEqual([200, 200, 200, 200]);
    expect(await attempt('acme', ACME)).toEqual([429, expect.stringMatching(/too many failed logins/)]);
  });
});

describe('console API: past the bound of all event streams, the tenant holding the most gives one up', () => {
  const tmp = tempDataDir('aisoc-console-stream-bound-');
  let server: IngestServer;
  const open: IncomingMessage[] = [];

  beforeAll(async () => {
    server = await startIngestServer({ config: ingestConfig({ AISOC_DATA_DIR: tmp.dir }), console: { assets: ASSETS } });
  });
  afterAll(async () => {
    for (const res of open) res.destroy();
    await server.close();
    tmp.remove();
  });

  const login = (tenant: string) => loggedIn(server.url, tenant, SECRET);
  const stream = (cookie: string) => openStream(server.url, cookie, open);

  it('ends the oldest stream of the first tenant at its bound when another tenant opens one', async () => {
    // Eight tenants at their bound of 32 streams (8 sessions of 4) fill the server's 256.
    const ended: string[] = [];
    for (let t = 1; t <= 8; t++) {
      for (let s = 0; s < 8; s++) {
        const cookie = await login(`tenant-${t}`);
        for (let i = 0; i < 4; i++) {
          const res = await stream(cookie);
          expect(res.statusCode).toBe(200);
          const name = `tenant-${t}#${s * 4 + i}`;
          res.once('end', () => ended.push(name));
        }
      }
    }
    expect(ended).toEqual([]);
    // All hold 32: the tie goes to the tenant whose stream came first, and its oldest stream ends.
    const newcomer = await stream(await login('tenant-9'));
    expect(newcomer.statusCode).toBe(200);
    await new Promise<void>((resolve) => {
      const check = () => (ended.length > 0 ? resolve() : setTimeout(check, 10));
      check();
    });
    expect(ended).toEqual(['tenant-1#0']);
  });
});

// Before, the event stream's keep-alive (every 20 s) touched the session: a console tab left open
// on a quiet tenant kept its session for 24 hours, never ending after 8 hours without a request.
describe('console API: an open event stream does not keep an idle session alive', () => {
  const tmp = tempDataDir('aisoc-console-idle-');
  let clock = Date.parse('2026-12-07T08:00:00Z');
  const routes = new ConsoleRoutes({
    dataDir: tmp.dir,
    access: new TenantAccess(SECRET, null, null),
    assets: ASSETS,
    now: () => clock,
    streamPingMs: 20,
  });
  const server = createServer((req, res) => void routes.handle(req, res, new URL(req.url ?? '/', 'http://127.0.0.1')));
  let url = '';
  const open: IncomingMessage[] = [];
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const res of open) res.destroy();
    routes.close();
    await new Promise((resolve) => server.close(resolve));
    tmp.remove();
  });

  it('ends the session (401) and its stream after 8 hours without a request, the stream open all along', async () => {
    const cookie = await loggedIn(url, 'acme', SECRET);
    const stream = await openStream(url, cookie, open);
    let pings = 0;
    let ended = false;
    let wake = () => {};
    stream.on('data', (chunk: Buffer) => {
      pings += chunk.toString().split(': ping').length - 1;
      wake();
    });
    stream.on('end', () => {
      ended = true;
      wake();
    });
    // The second keep-alive line from now (the first may have left before the clock moved), or the end.
    const next = () => {
      const seen = pings;
      return new Promise<void>((resolve) => {
        wake = () => {
          if (pings > seen + 1 || ended) resolve();
        };
      });
    };
    // Nine hours pass, an hour at a time, with keep-alives sent all along and no request made.
    for (let hour = 1; hour <= 9 && !ended; hour++) {
      clock += 3_600_000;
      await next();
    }
    expect(ended).toBe(true);
    const session = await fetch(`${url}/console/api/session`, { headers: { Cookie: cookie } });
    expect([session.status, await session.json()]).toEqual([401, { error: 'log in to the console first' }]);
  });
});
