import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_SECRET_FILE } from '../../lib/cli/serve.js';
import type { ClusterStatus, TenantStatus } from '../../lib/ingest/status.js';
import { falcoEvents } from '../helpers/fixtures.js';
import { freePort } from '../helpers/host.js';
import { eventList, SECRET, tempDataDir } from '../helpers/ingest.js';
import { buildServeBundle, type ServeProcess, spawnServe } from '../helpers/serve.js';

const exec = promisify(execFile);

/** Runs the built CLI as a user would; resolves to its exit code and output. */
async function cli(bundle: string, args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [bundle, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

// Real apiserver events (Falco's k8saudit traces), posted to the built `serve` the way the
// documented wiring does (with X-AiSOC-Cluster-Name) and the way a sender that forgot it does.
const withCluster = falcoEvents('create_clusterrolebinding.json');
const withoutCluster = falcoEvents('exec_pod.json');

describe('status: GET /v1/status/k8s-audit/{tenant} and aisoc-k8s-audit status', () => {
  let bundle = { cli: '', cleanup: () => {} };
  const data = tempDataDir('aisoc-status-');
  const strictData = tempDataDir('aisoc-status-strict-');
  let serve: ServeProcess;
  let strict: ServeProcess;

  const post = (base: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${base}/v1/ingest/k8s-audit/acme`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET, ...headers },
      body,
    });

  beforeAll(async () => {
    bundle = await buildServeBundle();
    [serve, strict] = await Promise.all([
      spawnServe(bundle.cli, data.dir, { K8S_AUDIT_SHARED_SECRET: SECRET }),
      spawnServe(bundle.cli, strictData.dir, { K8S_AUDIT_SHARED_SECRET: SECRET, K8S_AUDIT_REQUIRE_CLUSTER: 'true' }),
    ]);
    expect((await post(serve.url, eventList(withCluster), { 'X-AiSOC-Cluster-Name': 'prod-eu-1' })).status).toBe(200);
    expect((await post(serve.url, eventList(withoutCluster))).status).toBe(200);
    // One item that is not an Event (rejected inside a 200), one body that is not JSON (400).
    const mixed = await post(serve.url, eventList([{ kind: 'Event', apiVersion: 'audit.k8s.io/v1' }]), {
      'X-AiSOC-Cluster-Name': 'prod-eu-1',
    });
    expect(await mixed.json()).toMatchObject({ accepted: 0, rejected: 1 });
    expect((await post(serve.url, 'not json', { 'X-AiSOC-Cluster-Name': 'prod-eu-1' })).status).toBe(400);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([serve?.stop(), strict?.stop()]);
    bundle.cleanup();
    data.remove();
    strictData.remove();
  });

  it('answers the tenant status to the shared secret only', async () => {
    const url = `${serve.url}/v1/status/k8s-audit/acme`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { 'X-AiSOC-K8s-Token': 'wrong' } })).status).toBe(401);
    expect((await fetch(url, { method: 'POST', headers: { 'X-AiSOC-K8s-Token': SECRET } })).status).toBe(405);
    const res = await fetch(url, { headers: { 'X-AiSOC-K8s-Token': SECRET } });
    expect(res.status).toBe(200);
    const status = (await res.json()) as TenantStatus;
    expect(status).toMatchObject({
      tenant: 'acme',
      events_last_hour: withCluster.length + withoutCluster.length,
      events_without_cluster_last_hour: withoutCluster.length,
      rejected_items_last_hour: 1,
      refused_requests_last_hour: 1,
    });
    expect(status.clusters.map((c) => c.cluster_name).sort()).toEqual([null, 'prod-eu-1'].sort());
    const prod = status.clusters.find((c) => c.cluster_name === 'prod-eu-1') as ClusterStatus;
    const newest = withCluster
      .map((e) => e.requestReceivedTimestamp as string)
      .sort()
      .at(-1) as string;
    expect(Date.parse(prod.last_event_time)).toBe(Date.parse(newest));
    expect(prod.events).toBe(withCluster.length);
    // The alerts of the hour are the high records the batches held, read from the alerts table.
    expect(status.alerts_last_hour).toBeGreaterThan(0);
    // Another tenant sees nothing of acme's.
    const other = await (await fetch(`${serve.url}/v1/status/k8s-audit/other`, { headers: { 'X-AiSOC-K8s-Token': SECRET } })).json();
    expect(other).toMatchObject({ clusters: [], events_last_hour: 0 });
  });

  it('`status` prints a table with the missing cluster flagged, -o wide more columns, --json the route answer; never the secret', async () => {
    const env = { K8S_AUDIT_SHARED_SECRET: SECRET };
    const table = await cli(bundle.cli, ['status', '--tenant', 'acme', '--url', serve.url], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^CLUSTER\s+LAST EVENT\s+EVENTS\/1H$/m);
    expect(table.stdout).toMatch(new RegExp(`^prod-eu-1\\s+\\S+\\s+${withCluster.length}$`, 'm'));
    expect(table.stdout).toMatch(new RegExp(`^\\(none\\)\\s+\\S+\\s+${withoutCluster.length}$`, 'm'));
    expect(table.stdout).toContain(`warning: ${withoutCluster.length} events`);
    expect(table.stdout).toContain('K8S_AUDIT_REQUIRE_CLUSTER=true');
    const wide = await cli(bundle.cli, ['status', '--tenant', 'acme', '--url', serve.url, '-o', 'wide'], env);
    expect(wide.stdout).toMatch(/^CLUSTER\s+LAST EVENT\s+EVENTS\/1H\s+EVENTS\s+LAST RECEIVED$/m);
    const json = await cli(bundle.cli, ['status', '--url', serve.url, '--json'], {
      ...env,
      AISOC_INGEST_URL: `${serve.url}/v1/ingest/k8s-audit/acme`,
    });
    expect(JSON.parse(json.stdout)).toMatchObject({ tenant: 'acme', events_without_cluster_last_hour: withoutCluster.length });
    for (const out of [table, wide, json]) expect(out.stdout + out.stderr).not.toContain(SECRET);
  });

  it('`status` exits 1 naming the endpoint when the ingest refuses or cannot be reached, 2 on usage errors', async () => {
    const wrong = await cli(bundle.cli, ['status', '--tenant', 'acme', '--url', serve.url], { K8S_AUDIT_SHARED_SECRET: 'not-it' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`ingest at ${serve.url}/v1/status/k8s-audit/acme: 401`);
    expect(wrong.stderr).not.toContain('not-it');
    const nobody = `http://127.0.0.1:${await freePort()}`;
    const down = await cli(bundle.cli, ['status', '--tenant', 'acme', '--url', nobody], { K8S_AUDIT_SHARED_SECRET: SECRET });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`ingest at ${nobody}/v1/status/k8s-audit/acme: ECONNREFUSED`);
    // a first `status` with no server running: what to do, not only the errno
    expect(down.stderr).toContain(
      'ECONNREFUSED: nothing listens there: start the ingest (npm start, or aisoc-k8s-audit serve), or give --url',
    );
    expect((await cli(bundle.cli, ['status', '--url', serve.url], { K8S_AUDIT_SHARED_SECRET: SECRET })).code).toBe(2);
    expect((await cli(bundle.cli, ['status', '--tenant', 'acme', '-o', 'yaml'], { K8S_AUDIT_SHARED_SECRET: SECRET })).code).toBe(2);
    expect((await cli(bundle.cli, ['status', '--tenant', 'a b', '--url', serve.url], { K8S_AUDIT_SHARED_SECRET: SECRET })).code).toBe(2);
    // The secret typed as the tenant: refused before anything is sent, and not printed.
    const swapped = await cli(bundle.cli, ['status', '--tenant', SECRET, '--url', serve.url], { K8S_AUDIT_SHARED_SECRET: SECRET });
    expect(swapped.code).toBe(2);
    expect(swapped.stderr).toContain('--tenant is the shared secret');
    expect(swapped.stderr + swapped.stdout).not.toContain(SECRET);
    expect(swapped.stderr + swapped.stdout).not.toContain(encodeURIComponent(SECRET));
  });

  // An ingest that takes the connection and never answers (a hung proxy): the timeout said in
  // words, not as the number a DOMException's code is.
  it('`status` against an ingest that never answers gives up after 10 s, saying so', { timeout: 30_000 }, async () => {
    const silent = createServer((socket) => socket.on('data', () => {}));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const r = await cli(bundle.cli, ['status', '--tenant', 'acme', '--url', url], { K8S_AUDIT_SHARED_SECRET: SECRET });
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(`aisoc-k8s-audit status: ingest at ${url}/v1/status/k8s-audit/acme: no answer within 10 s`);
    } finally {
      silent.close();
    }
  });

  // `status --url https://127.0.0.1:8080` against `npm start` (plain http): the TLS handshake is
  // answered with HTTP and fetch reports a bare ECONNRESET, all status printed; test-connection
  // already said what to do about it.
  it('`status` with an https:// --url to a plain-http serve says the TLS handshake failed and to use http://', async () => {
    const https = serve.url.replace(/^http:/, 'https:');
    const r = await cli(bundle.cli, ['status', '--tenant', 'acme', '--url', https], { K8S_AUDIT_SHARED_SECRET: SECRET });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `^aisoc-k8s-audit status: ingest at ${https.replace(/[.]/g, '\\.')}/v1/status/k8s-audit/acme: (ECONNRESET|EPROTO); ` +
          'the TLS handshake failed: if the ingest serves plain http \\(serve without --tls-cert, npm start\\), use http:// for a loopback ingest',
      ),
    );
    expect(r.stderr + r.stdout).not.toContain(SECRET);
  });

  it('`status` refused with 401 says which secret it sent: a dev secret an earlier npm start left, or K8S_AUDIT_SHARED_SECRET', async () => {
    // An earlier `npm start` (serve --dev) kept its secret in the data dir; this serve was started
    // with K8S_AUDIT_SHARED_SECRET, as docs/deploy.md's sam local line starts it.
    const earlier = tempDataDir('aisoc-status-earlier-dev-');
    try {
      writeFileSync(join(earlier.dir, DEV_SECRET_FILE), 'left-by-an-earlier-npm-start\n', { mode: 0o600 });
      const stale = await cli(bundle.cli, ['status', '--tenant', 'acme', '--url', serve.url], { AISOC_DATA_DIR: earlier.dir });
      expect(stale.code).toBe(1);
      expect(stale.stderr).toBe(
        `aisoc-k8s-audit status: ingest at ${serve.url}/v1/status/k8s-audit/acme: 401 X-AiSOC-K8s-Token does not match the shared secret; ` +
          `this command sent the dev secret in ${join(earlier.dir, DEV_SECRET_FILE)}: set K8S_AUDIT_SHARED_SECRET to the secret this ingest was started with\n`,
      );
      expect(stale.stderr).not.toContain('left-by-an-earlier-npm-start');
      const wrong = await cli(bundle.cli, ['status', '--tenant', 'acme', '--url', serve.url], { K8S_AUDIT_SHARED_SECRET: 'not-it' });
      expect(wrong.stderr).toContain(
        '401 X-AiSOC-K8s-Token does not match the shared secret; this command sent K8S_AUDIT_SHARED_SECRET: set it to the secret this ingest was started with',
      );
    } finally {
      earlier.remove();
    }
  });

  it('K8S_AUDIT_REQUIRE_CLUSTER=true answers 400 for a batch without a cluster name and counts it', async () => {
    const refused = await post(strict.url, eventList(withoutCluster));
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: string }).error).toContain('X-AiSOC-Cluster-Name');
    expect((await post(strict.url, eventList(withCluster), { 'X-AiSOC-Cluster-Name': 'prod-eu-1' })).status).toBe(200);
    expect((await post(`${strict.url}`, eventList(withCluster).replace('"items"', '"items"'), {})).status).toBe(400);
    const status = (await (
      await fetch(`${strict.url}/v1/status/k8s-audit/acme`, { headers: { 'X-AiSOC-K8s-Token': SECRET } })
    ).json()) as TenantStatus;
    expect(status).toMatchObject({
      events_without_cluster_last_hour: 0,
      refused_without_cluster_last_hour: 2,
      refused_requests_last_hour: 2,
    });
    expect(status.clusters).toHaveLength(1);
  });
});
