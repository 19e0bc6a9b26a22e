// The two leaks end to end: a JSON patch on a Secret and a TokenRequest answer sent to the
// local ingest leave no trace of the value in the SQLite file, its WAL, the answer or the log; nor
// does a JWT's signature where the API has no field for a token (a proxied query, a ConfigMap).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EVENT_STORE_FILE, openEventStore } from '../../lib/sinks/sqlite.js';
import { answer, eventList, SECRET, tempDataDir } from '../helpers/ingest.js';
import { startLocalIngest } from '../helpers/tail-ingest.js';

const PASSWORD = 'c3VwZXJzZWNyZXQtcGFzc3dvcmQtOTg3NjU0MzIx';
const TOKEN = 'eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDphcHAifQ.c2lnbmF0dXJl';
const SIGNATURE = TOKEN.slice(TOKEN.lastIndexOf('.') + 1);

const base = {
  kind: 'Event',
  apiVersion: 'audit.k8s.io/v1',
  level: 'RequestResponse',
  stage: 'ResponseComplete',
  user: { username: 'alice' },
  responseStatus: { code: 200 },
  requestReceivedTimestamp: '2024-05-01T12:00:00.000000Z',
  stageTimestamp: '2024-05-01T12:00:00.100000Z',
};

/** A request in the default namespace, as the apiserver logs it at RequestResponse level. */
function request(auditID: string, verb: string, requestURI: string, ref: Record<string, string>, bodies: Record<string, unknown> = {}) {
  return { ...base, auditID, verb, requestURI, objectRef: { namespace: 'default', apiVersion: 'v1', ...ref }, ...bodies };
}

describe('credentials sent to the local ingest', () => {
  it('are stored nowhere: not in the SQLite file or its WAL, the answer or the log', async () => {
    const tmp = tempDataDir('aisoc-creds-');
    const logs: Record<string, unknown>[] = [];
    const server = await startLocalIngest(tmp.dir, SECRET, (e) => logs.push(e));
    try {
      const patch = request(
        'creds-0001',
        'patch',
        '/api/v1/namespaces/default/secrets/db',
        { resource: 'secrets', name: 'db' },
        {
          requestObject: [{ op: 'replace', path: '/data/password', value: PASSWORD }],
        },
      );
      const tokenRequest = request(
        'creds-0002',
        'create',
        '/api/v1/namespaces/default/serviceaccounts/app/token',
        { resource: 'serviceaccounts', subresource: 'token', name: 'app' },
        {
          responseObject: {
            kind: 'TokenRequest',
            apiVersion: 'authentication.k8s.io/v1',
            spec: { audiences: ['api'] },
            status: { token: TOKEN },
          },
        },
      );
      // The same token where the API has no place for one: a query through the service proxy,
      // and a kubeconfig kept in a ConfigMap. Only its signature is a secret; it goes.
      const proxied = request(
        'creds-0003',
        'get',
        `/api/v1/namespaces/default/services/grafana:3000/proxy/api/search?auth_token=${TOKEN}`,
        { resource: 'services', subresource: 'proxy', name: 'grafana:3000' },
      );
      const configMap = request(
        'creds-0004',
        'create',
        '/api/v1/namespaces/default/configmaps',
        { resource: 'configmaps', name: 'deploy' },
        {
          requestObject: {
            kind: 'ConfigMap',
            apiVersion: 'v1',
            metadata: { name: 'deploy' },
            data: { config: `apiVersion: v1\nkind: Config\nusers:\n- name: deployer\n  user:\n    token: ${TOKEN}\n` },
          },
        },
      );
      const res = await fetch(`${server.url}/v1/ingest/k8s-audit/acme`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET },
        body: eventList([patch, tokenRequest, proxied, configMap]),
      });
      const body = await answer(res);
      const store = openEventStore(tmp.dir);
      const stored = store.queryEvents({ tenant: 'acme' });
      store.close();
      await server.close();

      expect(body).toMatchObject({ accepted: 4, rejected: 0 });
      expect(stored.map((r) => r.k8s_resource).sort()).toEqual(['configmaps', 'secrets', 'serviceaccounts', 'services']);
      // Read back from the store, the proxied request still says which token it carried.
      const proxiedBack = stored.find((r) => r.audit_id === 'creds-0003');
      expect(proxiedBack?.request_uri).toBe(
        `/api/v1/namespaces/default/services/grafana:3000/proxy/api/search?auth_token=${TOKEN.slice(0, TOKEN.lastIndexOf('.'))}.[REDACTED]`,
      );
      const files = readdirSync(tmp.dir).filter((f) => f.startsWith(EVENT_STORE_FILE));
      const bytes = files.map((f) => readFileSync(join(tmp.dir, f)).toString('latin1')).join('');
      const everything = [bytes, JSON.stringify(stored), JSON.stringify(body), JSON.stringify(logs)].join('\n');
      expect(everything).toContain('[REDACTED]');
      expect(everything).not.toContain(PASSWORD);
      expect(everything).not.toContain(TOKEN);
      expect(everything).not.toContain(SIGNATURE);
    } finally {
      await server.close().catch(() => {});
      tmp.remove();
    }
  });
});
