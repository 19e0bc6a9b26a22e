import { constants } from 'node:fs';
import { access, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { loggableUrl } from '../config/env.js';
import { plaintextUrlProblem, type ShipTls } from '../config/tls.js';
import { INBOX_PREFIX, INGEST_PREFIX, splitIngestPath, TOKEN_HEADER } from '../protocol.js';
import { httpPost } from '../ship/http.js';
import { plainHttpHint, postEventList } from '../ship/post.js';
import type { ConnectorConfig } from './connector-config.js';
import { readCursor } from './cursor.js';
import { describeOpenError } from './file.js';

/** The connector documentation's smoke test body: an empty EventList, which a working route answers with 200. */
export const EMPTY_EVENT_LIST = '{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]}';

/** A test-connection answer is quick or it is a failure: the UI waits on it. */
export const DEFAULT_TEST_TIMEOUT_MS = 10_000;

/** One check and what it found, in words a user can act on. */
export interface ConnectionCheck {
  check: 'config' | 'audit-log' | 'cursor' | 'ingest-route' | 'inbox-route';
  status: 'ok' | 'warn' | 'fail';
  message: string;
}

/** The test-connection answer: `ok` unless a check failed. */
export interface ConnectionReport {
  ok: boolean;
  mode: ConnectorConfig['mode'];
  checks: ConnectionCheck[];
}

export interface TestConnectionDeps {
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** The shippers' transport settings (AISOC_CA_FILE, mTLS, AISOC_ALLOW_INSECURE_HTTP), so the test sees what they will. */
  tls?: ShipTls | null;
}

/** Why the check must not send its credential to `url` (plain http off loopback, not allowed), or null. */
function plaintextRefusal(url: string, deps: TestConnectionDeps): string | null {
  if (deps.tls?.allowInsecureHttp) return null;
  const problem = plaintextUrlProblem(url, 'ingest_url (AISOC_INGEST_URL)');
  return problem === null ? null : `not sent: ${problem}`;
}

/**
 * The legacy inbox URL on the same host (and API Gateway stage prefix) as the dedicated route:
 * `<prefix>/v1/ingest/k8s-audit/<tenant>` → `<prefix>/v1/inbox/<token>`.
 */
export function inboxUrlFor(ingestUrl: string, token: string): string {
  const u = new URL(ingestUrl);
  const prefix = splitIngestPath(u.pathname)?.prefix ?? '';
  return `${u.origin}${prefix}${INBOX_PREFIX}${encodeURIComponent(token)}`;
}

async function checkAuditLog(path: string): Promise<ConnectionCheck> {
  try {
    const st = await stat(path);
    if (st.isDirectory()) return { check: 'audit-log', status: 'fail', message: `audit log path ${path} is a directory, not a file` };
    const fh = await open(path, 'r');
    try {
      await fh.read(Buffer.alloc(1), 0, 1, 0);
    } finally {
      await fh.close();
    }
    return { check: 'audit-log', status: 'ok', message: `audit log path ${path} exists and is readable (${st.size} bytes)` };
  } catch (err) {
    return { check: 'audit-log', status: 'fail', message: describeOpenError(path, err) };
  }
}

async function checkCursor(cursorPath: string): Promise<ConnectionCheck> {
  const dir = dirname(cursorPath);
  try {
    await access(dir, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : 'is not writable';
    return {
      check: 'cursor',
      status: 'fail',
      message: `cursor directory ${dir} ${why}: mount a writeable volume there (a PVC, so the cursor survives pod restarts) or set cursor_path`,
    };
  }
  const found = await readCursor(cursorPath);
  if (found.state === 'corrupt') {
    return {
      check: 'cursor',
      status: 'warn',
      message: `cursor file ${cursorPath} is unusable (${found.problem}); the tailer will restart from offset 0`,
    };
  }
  if (found.state === 'ok') {
    return { check: 'cursor', status: 'ok', message: `cursor file ${cursorPath} is at byte ${found.cursor.offset}` };
  }
  return {
    check: 'cursor',
    status: 'ok',
    message: `cursor directory ${dir} is writable; the cursor file will be created at ${cursorPath}`,
  };
}

/** The `error` of an ingest answer's JSON body, or ''. */
function errorOf(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: unknown };
    return typeof body?.error === 'string' ? body.error : '';
  } catch {
    return '';
  }
}

async function post(
  url: string,
  headers: Record<string, string>,
  deps: TestConnectionDeps,
): Promise<{ status: number; error: string } | { network: string }> {
  const timeoutMs = deps.timeoutMs ?? DEFAULT_TEST_TIMEOUT_MS;
  if (deps.fetch === undefined) {
    // lib/ship's transport: the same trust (AISOC_CA_FILE) and client certificate as the shippers.
    const res = await httpPost(
      url,
      { 'Content-Type': 'application/json', ...headers },
      Buffer.from(EMPTY_EVENT_LIST),
      timeoutMs,
      deps.tls ?? null,
    );
    if (res.kind === 'unsendable') return { network: res.message };
    if (res.kind === 'error') {
      const e = res.error as Error & { code?: string };
      return { network: e.name === 'TimeoutError' || e.name === 'AbortError' ? `no answer within ${timeoutMs} ms` : (e.code ?? e.message) };
    }
    let error = '';
    try {
      const body = JSON.parse(res.text) as { error?: unknown };
      if (typeof body?.error === 'string') error = body.error;
    } catch {
      error = '';
    }
    return { status: res.status, error };
  }
  const f = deps.fetch;
  try {
    const res = await f(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: EMPTY_EVENT_LIST,
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: res.status, error: errorOf(await res.text()) };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    if (e.name === 'TimeoutError' || e.name === 'AbortError') return { network: `no answer within ${timeoutMs} ms` };
    return { network: e.cause?.code ?? e.message };
  }
}

async function checkDedicatedRoute(config: ConnectorConfig, deps: TestConnectionDeps, required: boolean): Promise<ConnectionCheck> {
  const missing = required ? 'fail' : 'warn';
  if (config.ingest_url === null) {
    return {
      check: 'ingest-route',
      status: missing,
      message: `ingest route not checked: set ingest_url (or AISOC_INGEST_URL) to the full ${INGEST_PREFIX}<tenant_id> route`,
    };
  }
  if (config.shared_secret === null) {
    return {
      check: 'ingest-route',
      status: missing,
      message: 'ingest route not checked: set shared_secret (or K8S_AUDIT_SHARED_SECRET) to the secret configured on the ingest service',
    };
  }
  const url = config.ingest_url;
  const refusal = plaintextRefusal(url, deps);
  if (refusal !== null) return { check: 'ingest-route', status: 'fail', message: refusal };
  // The request the tailer and the forwarder send (lib/ship): same headers, same client, so a
  // secret or cluster name they could not send fails here too instead of passing.
  const timeoutMs = deps.timeoutMs ?? DEFAULT_TEST_TIMEOUT_MS;
  const res = await postEventList(EMPTY_EVENT_LIST, {
    url,
    token: config.shared_secret,
    clusterName: config.cluster_name,
    gzip: false,
    timeoutMs,
    fetch: deps.fetch ?? null,
    tls: deps.tls ?? null,
  });
  if (res.kind === 'unsendable')
    return { check: 'ingest-route', status: 'fail', message: `cannot send to ${loggableUrl(url)}: ${res.message}` };
  if (res.kind === 'network') {
    const why = res.timeout ? `no answer within ${timeoutMs} ms` : res.code;
    const plainHttp = res.timeout ? '' : plainHttpHint(url, res.code);
    return { check: 'ingest-route', status: 'fail', message: `cannot reach the ingest at ${loggableUrl(url)}: ${why}${plainHttp}` };
  }
  return { check: 'ingest-route', ...dedicatedAnswer(res.status, errorOf(res.text), url) };
}

function dedicatedAnswer(status: number, error: string, url: string): Pick<ConnectionCheck, 'status' | 'message'> {
  if (status >= 200 && status < 300) {
    return {
      status: 'ok',
      message: `the dedicated route ${loggableUrl(url)} is reachable and the shared secret is configured on the ingest service`,
    };
  }
  if (status === 503 && (error === '' || error.includes('K8S_AUDIT_SHARED_SECRET'))) {
    return {
      status: 'fail',
      message:
        'the shared secret is not configured on the ingest service (HTTP 503): set K8S_AUDIT_SHARED_SECRET on the ingest service and restart it',
    };
  }
  if (status === 401) {
    return {
      status: 'fail',
      message: `the shared secret does not match the one on the ingest service (HTTP 401): check the value sent as ${TOKEN_HEADER} against the ingest's K8S_AUDIT_SHARED_SECRET, or this tenant's own secret when the ingest has one`,
    };
  }
  if (status === 404 || status === 405) {
    return {
      status: 'fail',
      message: `no ingest route at ${loggableUrl(url)} (HTTP ${status}): ingest_url must be the full ${INGEST_PREFIX}<tenant_id> route`,
    };
  }
  if (status === 400)
    return {
      status: 'fail',
      message: `the ingest refused the request (HTTP 400${error ? `: ${error}` : ''}): check the tenant id in ingest_url`,
    };
  return { status: 'fail', message: `the ingest answered HTTP ${status}${error ? `: ${error}` : ''}` };
}

async function checkInboxRoute(config: ConnectorConfig, deps: TestConnectionDeps): Promise<ConnectionCheck> {
  const token = config.inbox_token as string;
  // The route is what webhook mode's Test connection confirms; with no host to try it on, nothing
  // was confirmed, so the check fails as the dedicated route's does instead of passing with a warning.
  if (config.ingest_url === null) {
    return {
      check: 'inbox-route',
      status: 'fail',
      message: 'inbox route not checked: set ingest_url (or AISOC_INGEST_URL) so the connector knows the AiSOC host',
    };
  }
  const url = inboxUrlFor(config.ingest_url, token);
  const where = `${new URL(url).origin}${INBOX_PREFIX}<token>`;
  const refusal = plaintextRefusal(url, deps);
  if (refusal !== null) return { check: 'inbox-route', status: 'fail', message: refusal };
  const res = await post(url, {}, deps);
  if ('network' in res) return { check: 'inbox-route', status: 'fail', message: `cannot reach the inbox at ${where}: ${res.network}` };
  if (res.status >= 200 && res.status < 300) {
    return { check: 'inbox-route', status: 'ok', message: `the inbox route ${where} is reachable and accepts the token` };
  }
  if (res.status === 401) {
    return {
      check: 'inbox-route',
      status: 'fail',
      message: 'the inbox token is unknown or revoked (HTTP 401): create one under Inbox → Tokens with the k8s-audit template',
    };
  }
  if (res.status === 403) {
    return {
      check: 'inbox-route',
      status: 'fail',
      message: 'the inbox token is bound to another template (HTTP 403): create one with the k8s-audit template',
    };
  }
  return { check: 'inbox-route', status: 'fail', message: `the inbox answered HTTP ${res.status}${res.error ? `: ${res.error}` : ''}` };
}

/**
 * The connector documentation's "Test connection": webhook mode checks the route the apiserver will use (the
 * dedicated route by POSTing the connector documentation's empty EventList, or the legacy inbox with the token);
 * file_tail checks the audit log exists and is readable, the cursor can be written, and, when
 * configured, the route the tailer delivers to. No secret appears in any message.
 */
export async function testConnection(config: ConnectorConfig, deps: TestConnectionDeps = {}): Promise<ConnectionReport> {
  const checks: ConnectionCheck[] = [];
  if (config.mode === 'webhook') {
    checks.push(config.webhook_route === 'inbox' ? await checkInboxRoute(config, deps) : await checkDedicatedRoute(config, deps, true));
  } else {
    checks.push(await checkAuditLog(config.audit_log_path));
    checks.push(await checkCursor(config.cursor_path));
    checks.push(await checkDedicatedRoute(config, deps, false));
  }
  return { ok: checks.every((c) => c.status !== 'fail'), mode: config.mode, checks };
}
