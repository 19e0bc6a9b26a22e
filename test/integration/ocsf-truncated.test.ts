// An event that arrived truncated is partial, and its OCSF records say so: the 6003 record and
// the finding set metadata.is_truncated. Through the built CLI (dist/cli.mjs) as a user runs it:
// `serve`, then `events`; and `normalise` on a CloudWatch Logs payload.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../lib/audit/index.js';
import { eksPayload } from '../helpers/envelopes.js';
import { EKS_RAW, falcoEvent } from '../helpers/fixtures.js';
import { eventList, SECRET, tempDataDir } from '../helpers/ingest.js';
import { findingErrors, ocsfErrors } from '../helpers/ocsf.js';
import { type ServeProcess, spawnServe } from '../helpers/serve.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli.mjs');

type Ocsf = { metadata: { is_truncated?: boolean; product: { version?: string } } };
type Stored = { audit_id: string; severity: string; ocsf: Ocsf; finding?: Ocsf & { message: string } };

/**
 * What kube-apiserver's truncate backend sends for an event over --audit-log-truncate-max-event-size
 * (k8s.io/apiserver/plugin/pkg/audit/truncate, `truncate`): a copy with RequestObject and
 * ResponseObject nil (omitted from the JSON) and the annotation audit.k8s.io/truncated = "true"
 * added to the event's annotations.
 */
function apiserverTruncated(event: AuditEvent): AuditEvent {
  const { requestObject: _request, responseObject: _response, ...rest } = event;
  return { ...rest, annotations: { ...(event.annotations ?? {}), 'audit.k8s.io/truncated': 'true' } } as AuditEvent;
}

async function cli(args: string[]): Promise<string[]> {
  const { stdout } = await run(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '' }, timeout: 30_000 });
  return stdout.split('\n').filter((l) => l !== '');
}

describe('an event the apiserver truncated, through serve and events', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let serve: ServeProcess;
  // Falco's trace of a ClusterRoleBinding created at RequestResponse level (high: an RBAC binding).
  const binding = falcoEvent('create_clusterrolebinding.json');
  const whole = falcoEvent('attach_cluster_admin_role.json');

  beforeAll(async () => {
    tmp = tempDataDir();
    serve = await spawnServe(CLI, tmp.dir, { K8S_AUDIT_SHARED_SECRET: SECRET });
    const res = await fetch(`${serve.url}/v1/ingest/k8s-audit/acme`, {
      method: 'POST',
      headers: { 'x-aisoc-k8s-token': SECRET, 'x-aisoc-cluster-name': 'prod', 'content-type': 'application/json' },
      body: eventList([apiserverTruncated(binding), whole]),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ accepted: 2, rejected: 0 });
    expect(await serve.stop()).toBe(0);
  });
  afterAll(async () => {
    await serve?.stop();
    tmp?.remove();
  });

  it('sets metadata.is_truncated in the API Activity record and the finding; a whole event has neither', async () => {
    const events = (await cli(['events', '--json', '--data-dir', tmp.dir])).map((l) => JSON.parse(l) as Stored);
    const cut = events.find((e) => e.audit_id === binding.auditID);
    const kept = events.find((e) => e.audit_id === whole.auditID);
    expect(cut?.severity).toBe('high');
    expect(ocsfErrors(cut?.ocsf)).toEqual([]);
    expect(cut?.ocsf.metadata.is_truncated).toBe(true);
    expect(ocsfErrors(kept?.ocsf)).toEqual([]);
    expect(kept?.ocsf.metadata).not.toHaveProperty('is_truncated');

    const alerts = (await cli(['events', '--alerts', '--json', '--data-dir', tmp.dir])).map((l) => JSON.parse(l) as Stored);
    const finding = alerts.find((a) => a.audit_id === binding.auditID)?.finding;
    expect(findingErrors(finding)).toEqual([]);
    expect(finding?.metadata.is_truncated).toBe(true);
    expect(finding?.message).toContain('[event truncated (audit.k8s.io/truncated): bodies missing]');
    expect(alerts.find((a) => a.audit_id === whole.auditID)?.finding?.metadata).not.toHaveProperty('is_truncated');
  });
});

describe('a line cut at the CloudWatch Logs event-size limit, through normalise', () => {
  it('salvages it into an API Activity record flagged is_truncated', async () => {
    const tmp = tempDataDir();
    try {
      // The public EKS sample (ocsf/examples), its responseObject grown past 256 KB and the line
      // cut there, as EKS writes such a line (see forwarder-cut-lines.test.ts).
      const e = JSON.parse(readFileSync(EKS_RAW, 'utf8'));
      e.responseObject.metadata.annotations = { 'example.com/blob': 'x'.repeat(256 * 1024) };
      const line = `${JSON.stringify(e).slice(0, 256 * 1024 - 14)}[Truncated...]`;
      const file = join(tmp.dir, 'payload.json');
      writeFileSync(file, JSON.stringify(eksPayload([line], { cluster: 'cut-eks', startMs: 1_714_557_600_000 })));

      const [out, ...more] = await cli(['normalise', '--tenant', 'acme', file]);
      const record = JSON.parse(out ?? 'null') as Stored;
      expect(more).toEqual([]);
      expect(record.audit_id).toBe(e.auditID);
      expect(ocsfErrors(record.ocsf)).toEqual([]);
      expect(record.ocsf.metadata.is_truncated).toBe(true);
    } finally {
      tmp.remove();
    }
  });
});
