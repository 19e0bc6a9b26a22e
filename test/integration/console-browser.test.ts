// The console in a real browser: Debian's chromium driven by puppeteer-core, against the built
// `serve --dev` as `npm start` runs it. Skipped with a message where no chromium is installed
// (`.ci/run` installs it). Screenshots of each page go to test-artifacts/console/ for review;
// CONSOLE_SCREENSHOT_DOCS=1 also refreshes docs/console.png, the README's picture.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../lib/audit/index.js';
import { DEV_CONSOLE_TOKEN_FILE, DEV_SECRET_FILE } from '../../lib/cli/serve.js';
import { buildCliBundle, PROJECT_CACHE } from '../helpers/cli-bundle.js';
import { falcoEvent } from '../helpers/fixtures.js';
import { eventList, tempDataDir, uniqueFalcoEvents } from '../helpers/ingest.js';
import { type ServeProcess, spawnServe } from '../helpers/serve-process.js';

const ROOT = join(import.meta.dirname, '..', '..');
const ARTIFACTS = join(ROOT, 'test-artifacts', 'console');
const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find(
  (p): p is string => p !== undefined && p !== '' && existsSync(p),
);
if (CHROMIUM === undefined) {
  console.warn('console-browser: no chromium found (apt-get install chromium, or set CHROMIUM_PATH); the browser test is skipped');
}

// The page's globals, as far as the callbacks below (which run in the browser) use them: the
// project's tsconfig is Node's and has no DOM types.
interface PageElement {
  textContent: string | null;
  value: string;
  childElementCount: number;
  children: ArrayLike<PageElement>;
  dataset: Record<string, string | undefined>;
}
declare const document: {
  cookie: string;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement>;
};
declare const window: { __xss?: number };
declare const location: { href: string };
declare const localStorage: Record<string, string>;
declare const sessionStorage: Record<string, string>;

// A user name that is markup: the console must show it as text and never run it.
const XSS_USER = '<img src=x onerror="window.__xss=1">';
const BIDI_USER = 'admin\u202Egnp.exe\u202C';
// Names that look exactly like a system account's: a zero-width space in one, a NUL in the other
// (the apiserver writes what the authenticator or an Impersonate-User header gave it).
const ZERO_WIDTH_USER = 'system:kube-sched\u200Buler';
const NUL_USER = 'system:kube-sched\u0000uler';

/** Real Falco events re-timed into the last 40 minutes (the timeline and status views show the last hour). */
function batch(tag: string): AuditEvent[] {
  const now = new Date().toISOString();
  const events = uniqueFalcoEvents().map((e, i) => {
    const t = new Date(Date.now() - ((i * 7) % 40) * 60_000).toISOString();
    return { ...e, auditID: `${tag}-${i}`, requestReceivedTimestamp: t, stageTimestamp: t };
  });
  const exec = { ...falcoEvent('exec_pod.json'), auditID: `${tag}-exec`, requestReceivedTimestamp: now, stageTimestamp: now };
  const marked = { ...falcoEvent('create_configmap.json'), auditID: `${tag}-xss`, requestReceivedTimestamp: now, stageTimestamp: now };
  marked.user = { username: XSS_USER, groups: ['system:authenticated'] };
  // Every other field a client of the apiserver chooses holds markup too: a user agent, the
  // object's name and namespace, the request's path, a forwarded address, an annotation, a status
  // message, the request body.
  Object.assign(marked, {
    userAgent: '</script><script>window.__xss=2</script>',
    objectRef: {
      ...(marked.objectRef as object),
      name: '<svg onload="window.__xss=3">',
      namespace: '{{constructor.constructor("window.__xss=4")()}}',
    },
    requestURI: '/api/v1/namespaces/x/configmaps?name=javascript:window.__xss=5',
    sourceIPs: ['<img src=x onerror="window.__xss=6">'],
    annotations: { '<b onmouseover="window.__xss=7">': 'x{background:expression(window.__xss=8)}' },
    responseStatus: { code: 201, message: '"><iframe src="javascript:window.__xss=9">' },
    requestObject: {
      kind: 'ConfigMap',
      apiVersion: 'v1',
      metadata: { name: '<img src=x onerror="window.__xss=10">' },
      data: { k: '<script>window.__xss=11</script>' },
    },
  });
  // Bidirectional overrides that would show "adminexe.png", and a name of 100,000 characters.
  const spoof = { ...falcoEvent('create_configmap.json'), auditID: `${tag}-bidi`, requestReceivedTimestamp: now, stageTimestamp: now };
  spoof.user = { username: BIDI_USER, groups: ['system:authenticated'] };
  spoof.objectRef = { ...(spoof.objectRef as object), name: 'n'.repeat(100_000) };
  const lookalikes = [ZERO_WIDTH_USER, NUL_USER].map((username, i) => ({
    ...falcoEvent('create_configmap.json'),
    auditID: `${tag}-lookalike-${i}`,
    requestReceivedTimestamp: now,
    stageTimestamp: now,
    user: { username, groups: ['system:authenticated'] },
  }));
  return [...events, exec, marked, spoof, ...lookalikes];
}

describe.skipIf(CHROMIUM === undefined)('console in chromium', () => {
  const tmp = tempDataDir('aisoc-console-browser-');
  let bundle: { cli: string; cleanup: () => void };
  let serve: ServeProcess;
  let browser: Browser;
  let page: Page;
  let consoleToken: string;
  let secret: string;

  const shot = async (name: string) => {
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) as `${string}.png`, fullPage: true });
  };
  const rows = (table: string) =>
    page.$$eval(`${table} tbody tr`, (trs) =>
      trs.map((tr) => Array.from(tr.children as unknown as ArrayLike<PageElement>, (td) => td.textContent ?? '')),
    );
  const ingest = (items: unknown[]) =>
    fetch(`${serve.url}/v1/ingest/k8s-audit/dev`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': secret, 'X-AiSOC-Cluster-Name': 'kind-e2e' },
      body: eventList(items),
    });

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    bundle = await buildCliBundle(PROJECT_CACHE, 'aisoc-console-', { console: true });
    serve = await spawnServe(bundle.cli, tmp.dir, {}, [], ['--dev']);
    // `serve --dev` names the token's file; the token itself is never printed.
    consoleToken = readFileSync(join(tmp.dir, DEV_CONSOLE_TOKEN_FILE), 'utf8').trim();
    expect(serve.output()).not.toContain(consoleToken);
    secret = readFileSync(join(tmp.dir, DEV_SECRET_FILE), 'utf8').trim();
    browser = await puppeteer.launch({
      executablePath: CHROMIUM as string,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
    });
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 860 });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await serve?.stop();
    bundle?.cleanup();
    tmp.remove();
  });

  it('logs in, sees a posted batch arrive without a reload, filters, opens a raw event and logs out', async () => {
    expect(consoleToken).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(String(err)));
    // Nothing an event holds may open a dialog or make the page fetch from anywhere else.
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const elsewhere: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(`${serve.url}/`)) elsewhere.push(r.url());
    });

    // Log in: a wrong secret first, then the console token `serve --dev` printed.
    const first = await page.goto(`${serve.url}/console/`);
    expect(first?.headers()).toMatchObject({
      'content-security-policy': expect.stringMatching(/default-src 'none'; script-src 'self'.*frame-ancestors 'none'/),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    });
    await page.waitForSelector('#login-form', { visible: true });
    await shot('login');
    await page.type('#tenant', 'dev');
    await page.type('#secret', 'not-the-secret');
    await page.click('#login-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#login-error')?.textContent !== '');
    expect(await page.$eval('#login-error', (e) => e.textContent)).toMatch(/neither the shared secret nor the console token/);
    await page.$eval('#secret', (e) => {
      (e as unknown as PageElement).value = '';
    });
    await page.type('#secret', consoleToken);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#overview', { visible: true });
    await page.waitForFunction(() => document.querySelector('#live')?.textContent === 'live');
    // The session cookie is HttpOnly: the page's script cannot read it.
    expect(await page.evaluate(() => document.cookie)).toBe('');

    // A batch posted through the ingest shows up on the open page: timeline, clusters.
    const items = batch('e2e');
    const answer = (await (await ingest(items)).json()) as { accepted: number };
    expect(answer.accepted).toBe(items.length);
    await page.waitForFunction(() => Number(document.querySelector('#timeline')?.dataset.total ?? 0) > 0);
    await page.waitForFunction(() => document.querySelector('#clusters tbody')?.textContent?.includes('kind-e2e'));
    expect(await page.$eval('#timeline', (e) => Number((e as unknown as PageElement).dataset.total))).toBe(items.length);
    const clusters = await rows('#clusters');
    expect(clusters[0]?.[0]).toBe('kind-e2e');
    expect(Number(clusters[0]?.[2])).toBe(items.length);
    await shot('overview');
    if (process.env.CONSOLE_SCREENSHOT_DOCS === '1') {
      await page.screenshot({ path: join(ROOT, 'docs', 'console.png'), clip: { x: 0, y: 0, width: 1280, height: 440 } });
    }

    // Alerts: the exec into a pod, with its rule and ATT&CK technique.
    await page.click('a[data-view=alerts]');
    await page.waitForFunction(() => (document.querySelector('#alerts-table tbody')?.childElementCount ?? 0) > 0);
    const alerts = await rows('#alerts-table');
    const exec = alerts.find((r) => r[1] === 'pod-interactive-access');
    expect(exec?.[2]).toBe('T1609');
    // A shipped detection rule that fired, with the techniques its pack entry names.
    expect(alerts.find((r) => r[1] === 'cluster-admin-binding')?.[2]).toBe('T1098.006');
    expect(exec?.[5]).toBe('create');
    expect(exec?.[6]).toContain('pods/exec');
    await shot('alerts');

    // A second batch while on the alerts page: it appears without a reload.
    const before = alerts.length;
    const late = { ...falcoEvent('exec_pod.json'), auditID: 'e2e-late-exec', requestReceivedTimestamp: new Date().toISOString() };
    expect((await ingest([late])).status).toBe(200);
    await page.waitForFunction((n) => (document.querySelector('#alerts-table tbody')?.childElementCount ?? 0) > n, {}, before);

    // Events: filter by verb and severity.
    await page.click('a[data-view=events]');
    await page.waitForFunction(() => (document.querySelector('#events-table tbody')?.childElementCount ?? 0) > 0);
    await page.type('#search-form input[name=verb]', 'delete');
    await page.select('#search-form select[name=severity]', 'high');
    await page.click('#search-form button[type=submit]');
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll('#events-table tbody tr')).every((tr) => tr.children[4]?.textContent === 'delete'),
    );
    const deletes = await rows('#events-table');
    const expected = items.filter((e) => e.verb === 'delete');
    expect(deletes.length).toBeGreaterThan(0);
    expect(deletes.length).toBeLessThan(expected.length + 1);
    expect(deletes.every((r) => r[1] === 'high' && r[4] === 'delete')).toBe(true);
    await shot('events-filtered');

    // A bad time is the API's 400, shown next to the form.
    await page.type('#search-form input[name=since]', 'yesterday');
    await page.click('#search-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#search-error')?.textContent !== '');
    expect(await page.$eval('#search-error', (e) => e.textContent)).toMatch(/since must be an ISO 8601 time/);
    await page.click('#search-form button[type=reset]');
    await page.waitForFunction(() => document.querySelector('#search-error')?.textContent === '');

    // The markup user name is shown as text, and nothing of it ran.
    await page.type('#search-form input[name=user]', XSS_USER);
    await page.click('#search-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#events-table tbody')?.childElementCount === 1);
    expect((await rows('#events-table'))[0]?.[3]).toBe(XSS_USER);
    expect(await page.evaluate(() => window.__xss)).toBeUndefined();

    // One click to the record, one more to the raw event.
    await page.click('#events-table tbody tr');
    await page.waitForSelector('#detail', { visible: true });
    const flat = await page.$$eval('#detail-flat tr', (trs) =>
      Object.fromEntries(trs.map((tr) => [tr.children[0]?.textContent, tr.children[1]?.textContent])),
    );
    expect(flat.audit_id).toBe('e2e-xss');
    expect(flat.k8s_user).toBe(XSS_USER);
    expect(flat.cluster_name).toBe('kind-e2e');
    await page.click('#detail .tabs button[data-tab=raw]');
    await page.waitForSelector('#detail-raw', { visible: true });
    const raw = JSON.parse((await page.$eval('#detail-raw', (e) => e.textContent)) as string) as AuditEvent;
    expect(raw.auditID).toBe('e2e-xss');
    expect(raw.user).toEqual({ username: XSS_USER, groups: ['system:authenticated'] });
    await shot('event-raw');
    await page.click('#detail .tabs button[data-tab=ocsf]');
    await page.waitForSelector('#detail-ocsf', { visible: true });
    expect(await page.$eval('#detail-ocsf', (e) => e.textContent)).toContain('<img src=x onerror=');
    expect(await page.evaluate(() => window.__xss)).toBeUndefined();

    // A user name with bidirectional overrides shows them spelled out, and a 100,000-character
    // name is cut in its cell: the whole table lays out at once.
    await page.click('#detail-close');
    await page.click('#search-form button[type=reset]');
    await page.click('#search-form button[type=submit]');
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll('#events-table tbody tr')).some((tr) => (tr.children[3]?.textContent ?? '').includes('gnp')),
    );
    const all = await rows('#events-table');
    const spoofRow = all.find((r) => (r[3] ?? '').includes('gnp'));
    expect(spoofRow?.[3]).toBe('admin⟨U+202E⟩gnp.exe⟨U+202C⟩');
    // Look-alikes of system:kube-scheduler show what sets them apart: before, the zero-width space
    // was not shown at all, and the row read "system:kube-scheduler".
    const users = all.map((r) => r[3]);
    expect(users).toContain('system:kube-sched⟨U+200B⟩uler');
    expect(users).toContain('system:kube-sched⟨U+0000⟩uler');
    expect(users).not.toContain(ZERO_WIDTH_USER);
    expect(Math.max(...all.flat().map((cell) => cell.length))).toBeLessThan(400);

    // The session ends elsewhere (another tab logs out; an idle session expires alike): the server
    // ends the event stream, and the page goes to the login form instead of showing the tenant's
    // events with "reconnecting" until the next click.
    await page.evaluate(async () => {
      await fetch('/console/api/logout', { method: 'POST' });
    });
    await page.waitForSelector('#login', { visible: true, timeout: 20_000 });
    expect(await page.$eval('#events', (e) => (e as unknown as { hidden: boolean }).hidden)).toBe(true);
    await page.type('#secret', consoleToken);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#events', { visible: true });

    // Log out: back to the login form, and the API refuses the browser.
    await page.click('#logout');
    await page.waitForSelector('#login', { visible: true });
    const status = await page.evaluate(async () => (await fetch('/console/api/events')).status);
    expect(status).toBe(401);
    await shot('logged-out');
    expect(errors).toEqual([]);
    expect(dialogs).toEqual([]);
    expect(elsewhere).toEqual([]);
    // Neither the console token nor the secret is left in the page, its storage or its address.
    const kept = await page.evaluate(
      () => `${location.href} ${JSON.stringify({ ...localStorage })} ${JSON.stringify({ ...sessionStorage })} ${document.cookie}`,
    );
    const html = await page.content();
    for (const text of [kept, html]) {
      expect(text).not.toContain(consoleToken);
      expect(text).not.toContain(secret);
    }
  });
});
