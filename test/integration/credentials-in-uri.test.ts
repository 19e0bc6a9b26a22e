// Credentials in a request URI that are no JWT (an opaque OAuth token, an API key, a password, a
// pre-signed URL's signature, a URL's userinfo), in requests through the proxy subresources as the
// Kubernetes API reference writes them, on real Falco trace events: neither the built `serve`
// (its SQLite file and WAL, its answer, its log) nor `normalise`'s output keeps their values; the
// parameter names stay and the OCSF record still validates.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBuiltCli } from '../helpers/cli-bundle.js';
import { falcoEvent } from '../helpers/fixtures.js';
import { answer, eventList, SECRET, tempDataDir } from '../helpers/ingest.js';
import { ocsfErrors } from '../helpers/ocsf.js';
import { buildServeBundle, spawnServe } from '../helpers/serve.js';

// Canaries: each the value of one credential; none may be found anywhere after the ingest.
const CANARIES = {
  accessToken: 'opaque-access-token-7f3a91',
  apiKey: 'opaque-api-key-52c8e0',
  password: 'opaque-password-d41b77',
  clientSecret: 'opaque-client-secret-0a9e3c',
  amzSignature: 'aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404',
  amzToken: 'FQoGZXIvYXdzEopaqueSessionToken99',
  sas: 'opaqueSasSignature%2BAbC%3D',
  userinfo: 'opaque-userinfo-pass-6be2f1',
  rejected: 'opaque-rejected-token-1c5d2e',
};

// Proxy paths from the Kubernetes API reference (core/v1 Service, Pod and Node proxy subresources).
const SVC = '/api/v1/namespaces/monitoring/services/grafana:3000/proxy';
const POD = '/api/v1/namespaces/default/pods/web-0/proxy';
const NODE = '/api/v1/nodes/ip-10-0-1-7.ec2.internal/proxy';

const URIS: Record<string, { uri: string; ref: Record<string, string>; expected: string }> = {
  'uri-0001': {
    uri: `${SVC}/api/search?query=x&access_token=${CANARIES.accessToken}`,
    ref: { resource: 'services', subresource: 'proxy', namespace: 'monitoring', name: 'grafana:3000' },
    expected: `${SVC}/api/search?query=x&access_token=[REDACTED]`,
  },
  'uri-0002': {
    uri: `${POD}/metrics?API_KEY=${CANARIES.apiKey}&password=${CANARIES.password}`,
    ref: { resource: 'pods', subresource: 'proxy', namespace: 'default', name: 'web-0' },
    expected: `${POD}/metrics?API_KEY=[REDACTED]&password=[REDACTED]`,
  },
  'uri-0003': {
    uri: `${NODE}/oauth/token?client_id=cli&client%5Fsecret=${CANARIES.clientSecret}`,
    ref: { resource: 'nodes', subresource: 'proxy', name: 'ip-10-0-1-7.ec2.internal' },
    expected: `${NODE}/oauth/token?client_id=cli&client%5Fsecret=[REDACTED]`,
  },
  'uri-0004': {
    uri:
      `${SVC}/fetch?url=https%3A%2F%2Fb.s3.amazonaws.com%2Fk%3FX-Amz-Credential%3DAKIAIOSFODNN7EXAMPLE` +
      `&X-Amz-Security-Token=${CANARIES.amzToken}&X-Amz-Signature=${CANARIES.amzSignature}&sig=${CANARIES.sas}`,
    ref: { resource: 'services', subresource: 'proxy', namespace: 'monitoring', name: 'grafana:3000' },
    expected:
      `${SVC}/fetch?url=https%3A%2F%2Fb.s3.amazonaws.com%2Fk%3FX-Amz-Credential%3DAKIAIOSFODNN7EXAMPLE` +
      '&X-Amz-Security-Token=[REDACTED]&X-Amz-Signature=[REDACTED]&sig=[REDACTED]',
  },
  'uri-0005': {
    uri: `${SVC}/datasources/proxy?target=postgres://grafana:${CANARIES.userinfo}@db.internal:5432/metrics`,
    ref: { resource: 'services', subresource: 'proxy', namespace: 'monitoring', name: 'grafana:3000' },
    expected: `${SVC}/datasources/proxy?target=postgres://grafana:[REDACTED]@db.internal:5432/metrics`,
  },
};

/** A real Falco trace event (a GET), given another auditID, requestURI and objectRef. */
function events(): unknown[] {
  const base = falcoEvent('attach_pod.json');
  const good = Object.entries(URIS).map(([auditID, u]) => ({
    ...base,
    auditID,
    verb: 'get',
    requestURI: u.uri,
    objectRef: { apiVersion: 'v1', ...u.ref },
  }));
  // An item the ingest rejects (no auditID) and keeps, redacted, for a person to replay.
  const rejected = { ...base, auditID: undefined, requestURI: `${SVC}/x?token=${CANARIES.rejected}` };
  return [...good, rejected];
}

function expectNoCanary(text: string): void {
  for (const [name, value] of Object.entries(CANARIES)) expect(text.includes(value), name).toBe(false);
}

let cli: { cli: string; cleanup: () => void };
beforeAll(async () => {
  cli = await buildServeBundle();
}, 120_000);
afterAll(() => cli?.cleanup());

describe('credentials in a request URI', () => {
  it('serve stores none of their values: not in the SQLite file or WAL, the answer or the log; names stay, OCSF validates', async () => {
    const tmp = tempDataDir('aisoc-uri-creds-');
    const serve = await spawnServe(cli.cli, tmp.dir, { K8S_AUDIT_SHARED_SECRET: SECRET });
    try {
      const res = await fetch(`${serve.url}/v1/ingest/k8s-audit/acme`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET, 'X-AiSOC-Cluster-Name': 'eks-1' },
        body: eventList(events()),
      });
      const body = await answer(res);
      expect(res.status).toBe(200);
      expect(body).toMatchObject({ accepted: 5, rejected: 1 });

      const list = await runBuiltCli(cli.cli, ['events', '--tenant', 'acme', '--json', '--data-dir', tmp.dir]);
      expect(list.code, list.stderr).toBe(0);
      expect(await serve.stop()).toBe(0);

      const records = list.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { audit_id: string; request_uri: string; raw_event: { requestURI: string }; ocsf: unknown });
      expect(records).toHaveLength(5);
      for (const r of records) {
        const expected = URIS[r.audit_id]?.expected;
        expect(r.request_uri).toBe(expected);
        expect(r.raw_event.requestURI).toBe(expected);
        expect(ocsfErrors(r.ocsf)).toEqual([]);
        expect(JSON.stringify(r.ocsf)).toContain('[REDACTED]');
      }
      const files = readdirSync(tmp.dir).map((f) => readFileSync(join(tmp.dir, f)).toString('latin1'));
      const everything = [...files, list.stdout, JSON.stringify(body), serve.output()].join('\n');
      expect(everything).toContain('access_token=[REDACTED]');
      expectNoCanary(everything);
      // Percent-decoded forms too: a sink that decodes the URI must not find them either.
      expectNoCanary(decodeURIComponent(files.join('\n').replace(/%(?![0-9a-f]{2})/gi, '%25')));
    } finally {
      await serve.stop();
      tmp.remove();
    }
  }, 60_000);

  it('normalise writes none of their values to stdout or stderr; every record validates', async () => {
    const tmp = tempDataDir('aisoc-uri-creds-cli-');
    try {
      const file = join(tmp.dir, 'events.json');
      writeFileSync(file, eventList(events()));
      const out = await runBuiltCli(cli.cli, ['normalise', '--tenant', 'acme', file]);
      expect(out.code).toBe(1); // one item rejected
      expect(out.stderr).toContain('normalised 5, rejected 1');
      const records = out.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { audit_id: string; request_uri: string; ocsf: unknown });
      for (const r of records) {
        expect(r.request_uri).toBe(URIS[r.audit_id]?.expected);
        expect(ocsfErrors(r.ocsf)).toEqual([]);
      }
      expectNoCanary(`${out.stdout}\n${out.stderr}`);
    } finally {
      tmp.remove();
    }
  }, 60_000);
});
