// The console's page script: plain DOM, no framework. Every value from the store is set with
// textContent (never as HTML): audit events carry names chosen by whoever sent the request.
import type { Severity } from '../../lib/audit/types.js';
import { HIDDEN_CHARACTERS } from '../../lib/bidi.js';
import type { AlertSummary, EventSummary, ApiPage as Page, TenantStatus, Timeline } from '../../lib/console/api-types.js';

const SEVERITIES: Severity[] = ['high', 'medium', 'low', 'info'];

const $ = <T extends HTMLElement = HTMLElement>(selector: string): T => {
  const found = document.querySelector<T>(selector);
  if (found === null) throw new Error(`missing ${selector}`);
  return found;
};

/** Makes a table row open something on click and on Enter (rows are focusable with Tab). */
function clickable(tr: HTMLElement, open: () => void): void {
  tr.tabIndex = 0;
  tr.addEventListener('click', open);
  tr.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') open();
  });
}

// Unicode's bidirectional controls (lib/bidi.ts), the marks too, the characters that take no space
// (zero-width spaces and joiners, the soft hyphen, the TAG characters) and the C0 and C1 controls
// (a NUL in a name): any field of an event can hold them, and a value with them can look exactly
// like another (`system:kube-sched\u200buler`), so every value is shown with them spelled out.
const HIDDEN = new RegExp(HIDDEN_CHARACTERS, 'g');
// A table cell shows at most this much of a value (a 100 KB user name laid out in an auto-width
// table held the page's main thread for minutes); the event's detail shows it whole.
const MAX_CELL_CHARS = 300;

/**
 * `text` with every hidden character shown as its code point, ⟨U+202E⟩. `lines` keeps line breaks
 * as they are: in the raw and OCSF views they are JSON.stringify's layout (which escapes those in
 * strings), not a value's.
 */
function shown(text: string, lines = false): string {
  return text.replace(HIDDEN, (c) =>
    lines && c === '\n' ? c : `⟨U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}⟩`,
  );
}

function el(tag: string, text?: string | null, className?: string): HTMLElement {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) {
    const cut = tag === 'td' && text.length > MAX_CELL_CHARS ? `${text.slice(0, MAX_CELL_CHARS)}… (${text.length} characters)` : text;
    e.textContent = shown(cut);
  }
  if (className !== undefined) e.className = className;
  return e;
}

/** "2026-12-04 15:09:27Z": UTC, as the audit log writes it, readable. */
function when(iso: string | null): string {
  if (iso === null) return '—';
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z`;
}

function objectOf(e: EventSummary): string {
  const resource = e.k8s_subresource === null ? e.k8s_resource : `${e.k8s_resource}/${e.k8s_subresource}`;
  const parts = [e.k8s_namespace, resource, e.k8s_object_name].filter((p) => p !== null && p !== '');
  return parts.join(' / ') || '—';
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(`/console/api/${path}`, { credentials: 'same-origin', ...init });
  const body = (await res.json().catch(() => ({}))) as { error?: string };
  if (res.status === 401 && path !== 'login') {
    showLogin();
    throw new ApiError(401, body.error ?? 'log in first');
  }
  if (!res.ok) throw new ApiError(res.status, body.error ?? `HTTP ${res.status}`);
  return body as T;
}

let stream: EventSource | null = null;
let view = 'overview';
let refreshTimer: number | undefined;

function showLogin(): void {
  stream?.close();
  stream = null;
  for (const s of document.querySelectorAll<HTMLElement>('.view, #detail')) s.hidden = true;
  $('#nav').hidden = true;
  $('#who').hidden = true;
  $('#login').hidden = false;
  $('#secret').focus();
}

function showApp(tenant: string): void {
  $('#login').hidden = true;
  $('#nav').hidden = false;
  $('#who').hidden = false;
  $('#tenant-name').textContent = `tenant ${tenant}`;
  openStream();
  route();
}

function openStream(): void {
  stream?.close();
  const live = $('#live');
  stream = new EventSource('/console/api/stream');
  stream.addEventListener('hello', () => {
    live.textContent = 'live';
    live.className = 'on';
  });
  stream.addEventListener('stored', () => {
    // A burst of batches refreshes once.
    window.clearTimeout(refreshTimer);
    refreshTimer = window.setTimeout(() => void refresh(false), 300);
  });
  stream.onerror = () => {
    live.textContent = 'reconnecting';
    live.className = '';
    // A stream the server refused (401: the session ended, logged out in another tab or idle)
    // closes for good, where a dropped connection is retried. Before, the page then kept the
    // tenant's events on screen, "reconnecting", until the next click; asking for the session
    // gets the same 401, and api() shows the login form.
    if (stream?.readyState === EventSource.CLOSED) void api('session').catch(() => {});
  };
}

function route(): void {
  const wanted = location.hash.slice(1) || 'overview';
  view = ['overview', 'alerts', 'events'].includes(wanted) ? wanted : 'overview';
  for (const s of document.querySelectorAll<HTMLElement>('.view')) s.hidden = s.id !== view;
  for (const a of document.querySelectorAll<HTMLElement>('#nav a')) a.classList.toggle('active', a.dataset.view === view);
  void refresh(true);
}

async function refresh(full: boolean): Promise<void> {
  try {
    if (view === 'overview') await Promise.all([drawTimeline(), drawStatus()]);
    else if (view === 'alerts') await loadAlerts(null);
    else if (full || $('#events-table tbody').childElementCount <= 50) await loadEvents(null);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) console.error(err);
  }
}

// ---- overview: the timeline and the clusters

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag: string, attrs: Record<string, string | number>): SVGElement {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

async function drawTimeline(): Promise<void> {
  const hours = Number(($('#range') as HTMLSelectElement).value);
  const until = Date.now();
  const since = until - hours * 3_600_000;
  const t = await api<Timeline>(`timeline?since=${new Date(since).toISOString()}&until=${new Date(until).toISOString()}`);
  $('#bucket-unit').textContent = t.bucketMs === 60_000 ? 'minute' : 'hour';
  const from = Math.floor(Date.parse(t.since) / t.bucketMs) * t.bucketMs;
  const slots = Math.ceil((Date.parse(t.until) - from) / t.bucketMs);
  const byStart = new Map(t.buckets.map((b) => [Date.parse(b.start), b]));
  const max = Math.max(1, ...t.buckets.map((b) => b.high + b.medium + b.low + b.info));
  const box = $('#timeline');
  // Drawn at the box's own width, so text and bars keep their size whatever the window.
  const W = Math.max(480, box.clientWidth);
  const H = 180;
  const left = 40;
  const bottom = 20;
  const plotH = H - bottom - 8;
  const slotW = (W - left) / slots;
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'events per bucket by severity' });
  root.append(svg('line', { x1: left, y1: H - bottom, x2: W, y2: H - bottom, class: 'axis' }));
  for (const frac of [0.5, 1]) {
    const y = H - bottom - plotH * frac;
    root.append(svg('line', { x1: left, y1: y, x2: W, y2: y, class: 'grid' }));
    const label = svg('text', { x: left - 4, y: y + 4, 'text-anchor': 'end' });
    label.textContent = String(Math.round(max * frac));
    root.append(label);
  }
  let total = 0;
  for (let i = 0; i < slots; i++) {
    const start = from + i * t.bucketMs;
    const b = byStart.get(start);
    const x = left + i * slotW;
    if (i % Math.ceil(slots / 6) === 0) {
      const label = svg('text', { x, y: H - 4 });
      label.textContent = new Date(start)
        .toISOString()
        .slice(t.bucketMs === 60_000 ? 11 : 5, 16)
        .replace('T', ' ');
      root.append(label);
    }
    if (b === undefined) continue;
    let y = H - bottom;
    const g = svg('g', { class: 'bucket' });
    const title = svg('title', {});
    title.textContent = `${b.start}: ${SEVERITIES.map((s) => `${b[s]} ${s}`).join(', ')}`;
    g.append(title);
    // Stacked with info at the bottom, high on top, where the eye lands.
    for (const s of [...SEVERITIES].reverse()) {
      if (b[s] === 0) continue;
      const h = (b[s] / max) * plotH;
      y -= h;
      g.append(svg('rect', { x: x + 0.5, y, width: Math.max(1, slotW - 1), height: h, class: `sev-${s}` }));
      total += b[s];
    }
    root.append(g);
  }
  box.replaceChildren(root);
  box.dataset.total = String(total);
}

async function drawStatus(): Promise<void> {
  const s = await api<TenantStatus>('status');
  const body = $('#clusters tbody');
  body.replaceChildren(
    ...s.clusters.map((c) => {
      const tr = el('tr');
      tr.append(
        el('td', c.cluster_name ?? '(no cluster name)', c.cluster_name === null ? 'warn' : undefined),
        el('td', when(c.last_event)),
        el('td', String(c.events_last_hour), 'num'),
        el('td', String(c.alerts_last_hour), c.alerts_last_hour > 0 ? 'num sev-text-high' : 'num'),
        el('td', String(c.rejects_last_hour), c.rejects_last_hour > 0 ? 'num warn' : 'num'),
      );
      return tr;
    }),
  );
  if (s.clusters.length === 0) {
    const tr = el('tr');
    const td = el('td', 'No events yet: POST a batch to /v1/ingest/k8s-audit/<tenant_id>.');
    td.setAttribute('colspan', '5');
    tr.append(td);
    body.append(tr);
  }
  const none = $('#no-cluster');
  none.hidden = s.events_without_cluster_last_hour === 0;
  none.textContent = `${s.events_without_cluster_last_hour} event(s) in the last hour arrived without a cluster name: set X-AiSOC-Cluster-Name on the sender.`;
}

// ---- alerts and events

let alertsNext: string | null = null;
async function loadAlerts(cursor: string | null): Promise<void> {
  const page = await api<Page<AlertSummary>>(`alerts?limit=50${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
  const body = $('#alerts-table tbody');
  const rows = page.items.map((a) => {
    const tr = el('tr');
    tr.append(
      el('td', when(a.event_time), 'nowrap'),
      el('td', a.rule_ids.join(', '), 'rule'),
      el('td', a.attack_techniques.join(', ') || '—', 'nowrap'),
      el('td', a.k8s_user ?? '—'),
      el('td', a.src_ip ?? '—', 'nowrap'),
      el('td', a.k8s_verb ?? '—', 'nowrap'),
      el('td', objectOf(a)),
      el('td', a.cluster_name ?? '—'),
    );
    if (a.event_id !== null) {
      const id = a.event_id;
      clickable(tr, () => void openDetail(id));
    }
    return tr;
  });
  if (cursor === null) body.replaceChildren(...rows);
  else body.append(...rows);
  alertsNext = page.next;
  $('#alerts-more').hidden = alertsNext === null;
}

let eventsNext: string | null = null;
function searchQuery(): string {
  const form = new FormData($<HTMLFormElement>('#search-form'));
  const q = new URLSearchParams();
  for (const [k, v] of form) if (typeof v === 'string' && v.trim() !== '') q.set(k, v.trim());
  q.set('limit', '50');
  return q.toString();
}

async function loadEvents(cursor: string | null): Promise<void> {
  const error = $('#search-error');
  let page: Page<EventSummary>;
  try {
    page = await api<Page<EventSummary>>(`events?${searchQuery()}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
    error.textContent = '';
  } catch (err) {
    if (err instanceof ApiError && err.status === 400) {
      error.textContent = err.message;
      return;
    }
    throw err;
  }
  const body = $('#events-table tbody');
  const rows = page.items.map((e) => {
    const tr = el('tr');
    tr.dataset.id = String(e.id);
    tr.append(
      el('td', when(e.event_time), 'nowrap'),
      el('td', e.severity, `sev-text-${e.severity}`),
      el('td', e.severity_reason),
      el('td', e.k8s_user ?? '—'),
      el('td', e.k8s_verb ?? '—'),
      el('td', e.k8s_subresource === null ? e.k8s_resource : `${e.k8s_resource}/${e.k8s_subresource}`),
      el('td', e.k8s_namespace ?? '—'),
      el('td', e.k8s_object_name ?? '—'),
      el('td', e.k8s_response_code === null ? '—' : String(e.k8s_response_code), 'num'),
      el('td', e.src_ip ?? '—', 'nowrap'),
      el('td', e.cluster_name ?? '—'),
    );
    clickable(tr, () => void openDetail(e.id));
    return tr;
  });
  if (cursor === null) body.replaceChildren(...rows);
  else body.append(...rows);
  eventsNext = page.next;
  const more = $('#events-more');
  more.hidden = eventsNext === null;
  // A search that matched little stops at its scan budget: say how far back it looked.
  more.textContent = page.scanned_to ? `Searched back to ${when(page.scanned_to)}: search older events` : 'More';
}

// ---- one event: the flat record, the raw event, the OCSF record

async function openDetail(id: number): Promise<void> {
  const { record } = await api<{ record: Record<string, unknown> }>(`events/${id}`);
  $('#detail-id').textContent = shown(String(record.audit_id ?? id));
  const body = $('#detail-flat tbody');
  body.replaceChildren(
    ...Object.entries(record)
      .filter(([k]) => k !== 'raw_event' && k !== 'ocsf')
      .map(([k, v]) => {
        const tr = el('tr');
        tr.append(el('th', k), el('td', v === null ? '—' : typeof v === 'string' ? v : JSON.stringify(v)));
        return tr;
      }),
  );
  $('#detail-raw').textContent = shown(JSON.stringify(record.raw_event, null, 2), true);
  $('#detail-ocsf').textContent = shown(JSON.stringify(record.ocsf, null, 2), true);
  showTab('flat');
  $('#detail').hidden = false;
}

function showTab(tab: string): void {
  for (const b of document.querySelectorAll<HTMLElement>('#detail .tabs button')) b.classList.toggle('active', b.dataset.tab === tab);
  $('#detail-flat').hidden = tab !== 'flat';
  $('#detail-raw').hidden = tab !== 'raw';
  $('#detail-ocsf').hidden = tab !== 'ocsf';
}

// ---- wiring

$('#login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const tenant = ($('#tenant') as HTMLInputElement).value.trim();
  const secret = ($('#secret') as HTMLInputElement).value;
  const error = $('#login-error');
  error.textContent = '';
  void api<{ tenant: string }>('login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ tenant, secret }),
  })
    .then((s) => {
      ($('#secret') as HTMLInputElement).value = '';
      showApp(s.tenant);
    })
    .catch((err: Error) => {
      error.textContent = err.message;
    });
});
$('#logout').addEventListener('click', () => {
  void api('logout', { method: 'POST' })
    .catch(() => {})
    .finally(showLogin);
});
$('#search-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  void loadEvents(null);
});
$('#search-form').addEventListener('reset', () => window.setTimeout(() => void loadEvents(null), 0));
$('#alerts-more').addEventListener('click', () => void loadAlerts(alertsNext));
$('#events-more').addEventListener('click', () => void loadEvents(eventsNext));
$('#range').addEventListener('change', () => void drawTimeline());
$('#detail-close').addEventListener('click', () => {
  $('#detail').hidden = true;
});
for (const b of document.querySelectorAll<HTMLElement>('#detail .tabs button')) {
  b.addEventListener('click', () => showTab(b.dataset.tab ?? 'flat'));
}
window.addEventListener('hashchange', route);

void api<{ tenant: string }>('session')
  .then((s) => showApp(s.tenant))
  .catch(() => showLogin());
