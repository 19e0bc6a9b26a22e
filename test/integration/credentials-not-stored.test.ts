// The two leaks end to end: a JSON patch on a Secret and a TokenRequest answer sent to the
// local ingest leave no trace of the value in the SQLite file, its WAL, the answer or the log.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EVENT_STORE_FILE, openEventStore } from '../../lib/sinks/sqlite.js';
import { answer, eventList, SECRET, tempDataDir } from '../helpers/ingest.js';
import { startLocalIngest } from '../helpers/tail-ingest.js';

const PASSWORD = 'c3VwZXJzZWNyZXQtcGFzc3dvcmQtOTg3NjU0MzIx';
const TOKEN = 'eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDphcHAifQ.c2lnbmF0dXJl';

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

describe('credentials sent to the local ingest', () => {
  it('are stored nowhere: not in the SQLite file or its WAL, the answer or the log', async () => {
    const tmp = tempDataDir('aisoc-creds-');
    const logs: Record<string, unknown>[] = [];
    const server = await startLocalIngest(tmp.dir, SECRET, (e) => logs.push(e));
    try {
      const patch = {
        ...base,
        auditID: 'creds-0001',
        verb: 'patch',
        requestURI: '/api/v1/namespaces/default/secrets/db',
        objectRef: { resource: 'secrets', namespace: 'default', name: 'db', apiVersion: 'v1' },
        requestObject: [{ op: 'replace', path: '/data/password', value: PASSWORD }],
      };
      const tokenRequest = {
        ...base,
        auditID: 'creds-0002',
        verb: 'create',
        requestURI: '/api/v1/namespaces/default/serviceaccounts/app/token',
        objectRef: { resource: 'serviceaccounts', subresource: 'token', namespace: 'default', name: 'app', apiVersion: 'v1' },
        responseObject: {
          kind: 'TokenRequest',
          apiVersion: 'authentication.k8s.io/v1',
          spec: { audiences: ['api'] },
          status: { token: TOKEN },
        },
      };
      const res = await fetch(`${server.url}/v1/ingest/k8s-audit/acme`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET },
        body: eventList([patch, tokenRequest]),
      });
      const body = await answer(res);
      const store = openEventStore(tmp.dir);
      const stored = store.queryEvents({ tenant: 'acme' });
      store.close();
      await server.close();

      expect(body).toMatchObject({ accepted: 2, rejected: 0 });
      expect(stored.map((r) => r.k8s_resource).sort()).toEqual(['secrets', 'serviceaccounts']);
      const files = readdirSync(tmp.dir).filter((f) => f.startsWith(EVENT_STORE_FILE));
      const bytes = files.map((f) => readFileSync(join(tmp.dir, f)).toString('latin1')).join('');
      const everything = [bytes, JSON.stringify(stored), JSON.stringify(body), JSON.stringify(logs)].join('\n');
      expect(everything).toContain('[REDACTED]');
      expect(everything).not.toContain(PASSWORD);
      expect(everything).not.toContain(TOKEN);
    } finally {
      await server.close().catch(() => {});
      tmp.remove();
    }
  });
});
