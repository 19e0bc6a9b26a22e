import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient, ScanCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IngestServer, startIngestServer } from '../../lib/ingest/adapters/server.js';
import { hashToken } from '../../lib/ingest/auth.js';
import { DynamoInboxStore, INBOX_TABLE_KEY_SCHEMA } from '../../lib/ingest/inbox-dynamodb.js';
import { type EventStore, openEventStore } from '../../lib/sinks/sqlite.js';
import { answer, eventList, ingestConfig, runCli, tempDataDir, uniqueFalcoEvents } from '../helpers/ingest.js';

// dynalite: an in-process server speaking the DynamoDB API (CommonJS, no types).
const require = createRequire(import.meta.url);
const dynalite = require('dynalite') as (opts: { createTableMs?: number }) => Server;

const TABLE = 'aisoc-inbox-it';
const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' };

describe('DynamoDB inbox store against dynalite', () => {
  let server: Server;
  let endpoint: string;
  let client: DynamoDBClient;

  beforeAll(async () => {
    server = dynalite({ createTableMs: 0 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    await client.send(new CreateTableCommand({ TableName: TABLE, BillingMode: 'PAY_PER_REQUEST', ...INBOX_TABLE_KEY_SCHEMA }));
    await waitUntilTableExists({ client, maxWaitTime: 20, minDelay: 0.1, maxDelay: 0.2 }, { TableName: TABLE });
  });

  afterAll(async () => {
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('creates, finds, lists and revokes tokens, storing only their hash', async () => {
    const store = new DynamoInboxStore({ table: TABLE, client, cacheTtlMs: 0 });
    const { token, binding } = await store.create({ tenantId: 'acme', clusterName: 'eks-prod', label: 'legacy' });

    const found = await store.lookup(token);
    const items = (await client.send(new ScanCommand({ TableName: TABLE }))).Items ?? [];
    const revoked = await store.revoke(binding.id);

    expect(found).toEqual(binding);
    expect(JSON.stringify(items)).not.toContain(token);
    expect(items.some((i) => i.token_hash?.S === hashToken(token))).toBe(true);
    expect((await store.list()).map((t) => t.id)).toContain(binding.id);
    expect(revoked).toBe(true);
    expect((await store.lookup(token))?.revokedAt).not.toBeNull();
    expect(await store.lookup('aik8s_unknownunknownunknownunknown')).toBeNull();
  });

  it('reuses a looked-up binding for the cache period, then reads it again', async () => {
    let now = 1_000_000;
    const store = new DynamoInboxStore({ table: TABLE, client, cacheTtlMs: 30_000, now: () => now });
    const admin = new DynamoInboxStore({ table: TABLE, client, cacheTtlMs: 0 });
    const { token, binding } = await store.create({ tenantId: 'cache-co', label: 'c' });
    await store.lookup(token);

    await admin.revoke(binding.id);
    const cached = await store.lookup(token);
    now += 30_001;
    const fresh = await store.lookup(token);

    expect(cached?.revokedAt).toBeNull();
    expect(fresh?.revokedAt).not.toBeNull();
  });

  describe('the inbox flow with INBOX_TABLE', () => {
    let ingest: IngestServer;
    let store: EventStore;
    let tmp: ReturnType<typeof tempDataDir>;
    beforeAll(async () => {
      tmp = tempDataDir();
      ingest = await startIngestServer({ config: ingestConfig({ AISOC_DATA_DIR: tmp.dir, INBOX_TABLE: TABLE }), dynamodb: client });
      store = openEventStore(tmp.dir);
    });
    afterAll(async () => {
      await ingest.close();
      store.close();
      tmp.remove();
    });

    it('creates the token with the CLI in DynamoDB and the server accepts events with it', async () => {
      const created = await runCli(['inbox', 'create', '--tenant', 'dyn-co', '--cluster', 'eks-a', '--label', 'l'], {
        INBOX_TABLE: TABLE,
        AWS_ENDPOINT_URL_DYNAMODB: endpoint,
        ...CREDENTIALS,
      });
      const items = uniqueFalcoEvents().slice(0, 7);

      const res = await fetch(`${ingest.url}/v1/inbox/${created.stdout.trim()}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: eventList(items),
      });

      expect(created.code).toBe(0);
      expect([res.status, (await answer(res)).accepted]).toEqual([200, 7]);
      expect(store.queryEvents({ tenant: 'dyn-co' }).map((r) => r.cluster_name)).toEqual(Array(7).fill('eks-a'));
    });

    it('names the table and the endpoint when DynamoDB refuses a call (a table that does not exist)', async () => {
      const listed = await runCli(['inbox', 'list'], { INBOX_TABLE: 'no-such-table', AWS_ENDPOINT_URL_DYNAMODB: endpoint, ...CREDENTIALS });
      expect(listed.code).toBe(1);
      expect(listed.stderr).toContain(`DynamoDB table no-such-table at ${endpoint}: ResourceNotFoundException`);
    });

    it('names the endpoint without the user, password or query written into AWS_ENDPOINT_URL_DYNAMODB', async () => {
      const [user, password, query] = ['ddb-endpoint-user-Tm4', 'ddb-endpoint-password-Yc8', 'ddb-endpoint-query-Pn2'];
      const withSecrets = `${endpoint.replace('http://', `http://${user}:${password}@`)}/?X-Amz-Security-Token=${query}`;
      const listed = await runCli(['inbox', 'list'], {
        INBOX_TABLE: 'no-such-table',
        AWS_ENDPOINT_URL_DYNAMODB: withSecrets,
        ...CREDENTIALS,
      });
      expect(listed.code).toBe(1);
      expect(listed.stderr).toContain(`DynamoDB table no-such-table at ${endpoint}: ResourceNotFoundException`);
      for (const secret of [user, password, query]) expect(`${listed.stdout}${listed.stderr}`).not.toContain(secret);
    });
  });
});
