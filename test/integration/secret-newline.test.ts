// The case: a shared secret with a trailing newline (what `openssl rand -base64 32`
// prints) works on every path, and a secret that cannot go in a header is refused by name on
// every path, by the same reader (lib/config/secret.ts readSharedSecret).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../lib/cli/main.js';
import { run as runTail } from '../../lib/cli/tail.js';
import { run as runTestConnection } from '../../lib/cli/test-connection.js';
import type { IngestServer } from '../../lib/ingest/adapters/server.js';
import { type EventStore, openEventStore } from '../../lib/sinks/sqlite.js';
import { asFile, tempDir, uniqueEvents } from '../helpers/tail.js';
import { captureIo, startLocalIngest } from '../helpers/tail-ingest.js';

const SECRET = 'q3Vb8yV0mZ2c9QeH1rT5uW7xA4sD6fG8hJ0kL2nP4rQ=';
let tmp: { dir: string; cleanup: () => void };
let ingest: IngestServer;
let store: EventStore;

beforeAll(async () => {
  tmp = tempDir('aisoc-newline-');
  // The ingest side was configured from the same file, newline and all.
  ingest = await startLocalIngest(join(tmp.dir, 'data'), `${SECRET}\n`);
  store = openEventStore(join(tmp.dir, 'data'));
});

afterAll(async () => {
  store?.close();
  await ingest?.close();
  tmp?.cleanup();
});

describe('a shared secret with a trailing newline', () => {
  it('is sent by tail and accepted by the ingest, and test-connection agrees', async () => {
    const path = join(tmp.dir, 'audit.log');
    writeFileSync(path, asFile(uniqueEvents(5, 'nl')));
    const env = { AISOC_INGEST_URL: `${ingest.url}/v1/ingest/k8s-audit/t-nl`, K8S_AUDIT_SHARED_SECRET: `${SECRET}\n`, CLUSTER_NAME: 'c1' };
    const tail = captureIo(env);
    const config = join(tmp.dir, 'connector.json');
    writeFileSync(
      config,
      JSON.stringify({ mode: 'file_tail', cluster_name: 'c1', audit_log_path: path, ingest_url: env.AISOC_INGEST_URL }),
    );
    const check = captureIo(env);

    const tailCode = await runTail(['--path', path, '--once'], tail.io);
    const checkCode = await runTestConnection(['--config', config, '--json'], check.io);

    expect(tailCode).toBe(0);
    expect(store.countEvents({ tenant: 't-nl' })).toBe(5);
    expect(checkCode).toBe(0);
    expect(JSON.parse(check.out()).checks).toContainEqual(expect.objectContaining({ check: 'ingest-route', status: 'ok' }));
    expect(tail.err()).not.toContain(SECRET);
  });
});

describe('a shared secret that cannot go in a header', () => {
  it('is refused by tail and by test-connection, naming the variable and not the value', async () => {
    const bad = 'first-half\nsecond-half';
    const path = join(tmp.dir, 'audit-bad.log');
    writeFileSync(path, asFile(uniqueEvents(1, 'bad')));
    const env = { AISOC_INGEST_URL: `${ingest.url}/v1/ingest/k8s-audit/t-bad`, K8S_AUDIT_SHARED_SECRET: bad, CLUSTER_NAME: 'c1' };
    const config = join(tmp.dir, 'connector-bad.json');
    writeFileSync(
      config,
      JSON.stringify({ mode: 'file_tail', cluster_name: 'c1', audit_log_path: path, ingest_url: env.AISOC_INGEST_URL }),
    );
    const tail = captureIo(env);
    const check = captureIo(env);

    const tailCode = await main(['tail', '--path', path, '--once'], tail.io);
    const checkCode = await main(['test-connection', '--config', config], check.io);

    expect(tailCode).toBe(2);
    expect(checkCode).not.toBe(0);
    for (const text of [tail.err(), check.out() + check.err()]) {
      expect(text).toContain('K8S_AUDIT_SHARED_SECRET holds a character that cannot be sent');
      expect(text).not.toContain('second-half');
    }
    expect(store.countEvents({ tenant: 't-bad' })).toBe(0);
  });
});
