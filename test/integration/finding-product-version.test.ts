// A Detection Finding's product is the detector, this connector: metadata.product.version is the
// connector's version (package.json's, fixed in the bundle at build time), never the audit API
// version the API Activity record carries there (audit.k8s.io/v1, as Security Lake's EKS mapping
// has it). Through the built CLI as a user runs it: `serve`, a POST, then `events --alerts --json`.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { falcoEvent } from '../helpers/fixtures.js';
import { eventList, SECRET, tempDataDir } from '../helpers/ingest.js';
import { findingErrors, ocsfErrors } from '../helpers/ocsf.js';
import { type ServeProcess, spawnServe } from '../helpers/serve.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli.mjs');
const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

type Metadata = { product: { name: string; vendor_name: string; version?: string } };
type Alert = {
  audit_id: string;
  finding: { metadata: Metadata; evidences: { data: { api_activity: { metadata: Metadata } } }[] };
};

describe("a finding's product version", () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let serve: ServeProcess;
  // Falco's trace of a Secret created (high: a credential object changed), which names its
  // apiVersion, audit.k8s.io/v1.
  const secret = falcoEvent('create_secret.json');

  beforeAll(async () => {
    tmp = tempDataDir();
    serve = await spawnServe(CLI, tmp.dir, { K8S_AUDIT_SHARED_SECRET: SECRET });
    const res = await fetch(`${serve.url}/v1/ingest/k8s-audit/acme`, {
      method: 'POST',
      headers: { 'x-aisoc-k8s-token': SECRET, 'x-aisoc-cluster-name': 'prod', 'content-type': 'application/json' },
      body: eventList([secret]),
    });
    expect(res.status).toBe(200);
    expect(await serve.stop()).toBe(0);
  });
  afterAll(async () => {
    await serve?.stop();
    tmp?.remove();
  });

  it("is the connector's version; the API Activity record in its evidence keeps the audit API version", async () => {
    const { stdout } = await run(process.execPath, [CLI, 'events', '--alerts', '--json', '--data-dir', tmp.dir], {
      env: { PATH: process.env.PATH ?? '' },
      timeout: 30_000,
    });
    const alerts = stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Alert);
    const finding = alerts.find((a) => a.audit_id === secret.auditID)?.finding;

    expect(findingErrors(finding)).toEqual([]);
    expect(finding?.metadata.product).toMatchObject({ name: 'AiSOC K8s Audit', vendor_name: 'AiSOC', version });
    const activity = finding?.evidences[0]?.data.api_activity;
    expect(ocsfErrors(activity)).toEqual([]);
    expect(activity?.metadata.product.version).toBe('audit.k8s.io/v1');
  });
});
