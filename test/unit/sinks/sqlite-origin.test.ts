import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEvent, AuditSource, NormaliseContext } from '../../../lib/audit/index.js';
import { normaliseAuditEvent, parseAuditPayload, recordedText } from '../../../lib/audit/index.js';
import { IngestService } from '../../../lib/ingest/service.js';
import { EVENT_STORE_FILE, type EventStore, openEventStore, SqliteSink } from '../../../lib/sinks/sqlite.js';
import type { OutgoingRecord } from '../../../lib/sinks/types.js';
import { RecordWriter } from '../../../lib/sinks/writer.js';
import { eksRawEvent, falcoEvent } from '../../helpers/fixtures.js';
import { eventList, ingestConfig, outgoingRecords, SECRET, tempDataDir, uniqueFalcoEvents } from '../../helpers/ingest.js';

const RECEIVED = Date.parse('2026-01-02T03:04:05.678Z');

/** Records as the ingest hands them to a sink: with the text the normaliser wrote for the event as their origin. */
function withOrigin(events: AuditEvent[], ctx: NormaliseContext): OutgoingRecord[] {
  const parsed = parseAuditPayload(eventList(events));
  return parsed.events.map((event) => {
    const record = normaliseAuditEvent(event, ctx);
    const rawEventJson = recordedText(record.raw_event) ?? JSON.stringify(record.raw_event);
    return { record, json: 'not read by the SQLite sink', bytes: 0, origin: { rawEventJson, source: ctx.source ?? null } };
  });
}

describe('EventStore rows stored as their raw event', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let store: EventStore;
  beforeEach(() => {
    tmp = tempDataDir();
    store = openEventStore(tmp.dir);
  });
  afterEach(() => {
    store.close();
    tmp.remove();
  });

  it('reads every fixture event back as the record the normaliser made, secrets redacted, alerts included', async () => {
    // A Secret created with its body in the event (RequestResponse level): redacted before it is stored.
    const secret = { ...falcoEvent('create_secret.json'), auditID: 'secret-with-body', level: 'RequestResponse' } as AuditEvent;
    secret.requestObject = { kind: 'Secret', apiVersion: 'v1', metadata: { name: 'example-secret' }, data: { password: 'aHVudGVyMg==' } };
    const events = [...uniqueFalcoEvents(), eksRawEvent(), secret];
    const ctx = { tenantId: 'acme', clusterName: 'prod', receivedAt: RECEIVED };
    const records = withOrigin(events, ctx);

    await new SqliteSink(store, 'events+alerts').write(records);

    const byKey = (rs: { dedup_key: string }[]) => [...rs].sort((a, b) => a.dedup_key.localeCompare(b.dedup_key));
    expect(byKey(store.queryEvents({ limit: 10_000 }))).toEqual(byKey(records.map((r) => r.record)));
    expect(byKey(store.queryAlerts({ limit: 10_000 }).map(({ finding: _f, ...r }) => r))).toEqual(
      byKey(records.map((r) => r.record).filter((r) => r.severity === 'high')),
    );
    const [stored] = store.queryEvents({ auditId: 'secret-with-body' });
    expect(JSON.stringify(stored?.raw_event)).toContain('"password":"[REDACTED]"');
    expect(JSON.stringify(store.db.prepare('SELECT raw_event FROM events').pluck().all())).not.toContain('aHVudGVyMg==');
  });

  it('keeps the source and the receive time of an event without a time of its own', async () => {
    const source: AuditSource = { platform: 'eks', accountId: '123456789012', region: 'eu-west-1' };
    const { requestReceivedTimestamp: _r, stageTimestamp: _s, timestamp: _t, ...timeless } = falcoEvent('create_configmap.json');
    const [record] = withOrigin([timeless as AuditEvent], { tenantId: 'acme', clusterName: null, receivedAt: RECEIVED, source });

    await new SqliteSink(store, 'events').write([record as OutgoingRecord]);

    const [back] = store.queryEvents();
    expect(back).toEqual(record?.record);
    expect(back?.event_time).toBe(new Date(RECEIVED).toISOString());
  });

  it('stores the raw event instead of the record JSON, and nothing twice', async () => {
    const records = withOrigin(uniqueFalcoEvents().slice(0, 10), { tenantId: 'acme', clusterName: 'prod', receivedAt: RECEIVED });

    await new SqliteSink(store, 'events+alerts').write(records);

    const rows = store.db.prepare('SELECT record, raw_event FROM events').all() as { record: string | null; raw_event: string }[];
    expect(rows.every((r) => r.record === null && r.raw_event.length > 0)).toBe(true);
    expect(store.db.prepare('SELECT count(*) FROM alerts WHERE record IS NOT NULL OR raw_event IS NOT NULL').pluck().get()).toBe(0);
  });

  it('counts a resend as duplicates, also for events without a time of their own', async () => {
    const { requestReceivedTimestamp: _r, stageTimestamp: _s, timestamp: _t, ...timeless } = falcoEvent('create_configmap.json');
    const first = withOrigin([timeless as AuditEvent, ...uniqueFalcoEvents().slice(0, 3)], {
      tenantId: 'a',
      clusterName: 'c',
      receivedAt: 1,
    });
    const resent = withOrigin([timeless as AuditEvent, ...uniqueFalcoEvents().slice(0, 3)], {
      tenantId: 'a',
      clusterName: 'c',
      receivedAt: 2,
    });
    const sink = new SqliteSink(store, 'events+alerts');

    await sink.write(first);
    const again = await sink.write(resent);

    expect([...again.duplicates].sort()).toEqual([0, 1, 2, 3]);
    expect(store.countEvents()).toBe(4);
  });
});

describe('rows sent to the commit thread (group commit)', () => {
  it('arrive byte for byte: raw events and whole records, multi-byte UTF-8, two batches in one commit', async () => {
    const tmp = tempDataDir();
    const store = openEventStore(tmp.dir, { groupCommit: true });
    try {
      const ctx = { tenantId: 'acme', clusterName: 'prod', receivedAt: RECEIVED };
      // Falco's traces, one of them annotated and named outside ASCII (two-, three- and four-byte
      // UTF-8): annotation values may hold any text, and a request for a name the apiserver then
      // refuses is audited with that name.
      const events = uniqueFalcoEvents().slice(0, 30);
      const wide = { ...falcoEvent('create_configmap.json'), auditID: 'wide-text' } as AuditEvent;
      wide.objectRef = { ...wide.objectRef, name: 'konfig-ünïcødé-日本語' };
      wide.annotations = { ...(wide.annotations as object), 'example.com/note': 'Grüße, 世界 🚀' };
      const withRaw = withOrigin([...events.slice(0, 15), wide], ctx);
      // Records without an origin are stored as their whole JSON (the record column).
      const whole: OutgoingRecord[] = events.slice(15).map((event) => {
        const record = normaliseAuditEvent({ ...event, auditID: `${event.auditID}-whole` }, ctx);
        const json = JSON.stringify(record);
        return { record, json, bytes: Buffer.byteLength(json) };
      });
      const sink = new SqliteSink(store, 'events+alerts');

      // Sent in one turn, as concurrent requests are: one group, one commit.
      await Promise.all([sink.write(withRaw), sink.write(whole)]);

      expect(store.commitStats).toEqual({ commits: 1, batches: 2 });
      const rows = store.db.prepare('SELECT audit_id, raw_event, record FROM events').all() as {
        audit_id: string;
        raw_event: string | null;
        record: string | null;
      }[];
      const byId = new Map(rows.map((r) => [r.audit_id, r]));
      expect(rows).toHaveLength(withRaw.length + whole.length);
      for (const r of withRaw) expect(byId.get(r.record.audit_id)?.raw_event).toBe(r.origin?.rawEventJson);
      for (const r of whole) expect(byId.get(r.record.audit_id)?.record).toBe(r.json);
      const [back] = store.queryEvents({ auditId: 'wide-text' });
      expect(back?.k8s_object_name).toBe('konfig-ünïcødé-日本語');
      expect(back).toEqual(withRaw.at(-1)?.record);
    } finally {
      store.close();
      tmp.remove();
    }
  });
});

describe('the ingest with the SQLite sink', () => {
  it('stores what it normalised: the records read back equal the normaliser output for the posted events', async () => {
    const tmp = tempDataDir();
    const store = openEventStore(tmp.dir);
    const now = () => RECEIVED;
    const service = new IngestService({
      config: ingestConfig(),
      writer: new RecordWriter(new SqliteSink(store, 'events+alerts'), null, 'sqlite'),
      now,
    });
    try {
      const events = uniqueFalcoEvents();
      const answer = await service.handle({
        method: 'POST',
        path: '/v1/ingest/k8s-audit/acme',
        query: new URLSearchParams(),
        headers: {
          'x-aisoc-k8s-token': SECRET,
          'x-aisoc-cluster-name': 'prod',
          'x-aisoc-source-account': '123456789012',
          'content-type': 'application/json',
        },
        body: Buffer.from(eventList(events)),
      });

      expect(answer.status).toBe(200);
      const ctx = {
        tenantId: 'acme',
        clusterName: 'prod',
        receivedAt: RECEIVED,
        source: { platform: 'eks' as const, accountId: '123456789012', region: null },
      };
      const expected = events.map((e) => normaliseAuditEvent(e, ctx)).sort((a, b) => a.dedup_key.localeCompare(b.dedup_key));
      const stored = store.queryEvents({ limit: 10_000 }).sort((a, b) => a.dedup_key.localeCompare(b.dedup_key));
      expect(stored).toEqual(expected);
    } finally {
      await service.close();
      tmp.remove();
    }
  });
});

describe('opening a store of the previous layout', () => {
  // The layout before the dedup index led with the event time: key_hash alone, full records.
  const V1 = `
    CREATE TABLE events (id INTEGER PRIMARY KEY, tenant_id TEXT, cluster_name TEXT, audit_id TEXT NOT NULL, k8s_stage TEXT,
      event_time TEXT NOT NULL, stored_at TEXT NOT NULL, severity TEXT NOT NULL, severity_reason TEXT NOT NULL, k8s_user TEXT,
      k8s_verb TEXT, k8s_resource TEXT, k8s_subresource TEXT, k8s_namespace TEXT, k8s_object_name TEXT, k8s_response_code INTEGER,
      src_ip TEXT, dedup_key TEXT NOT NULL, key_hash INTEGER, record TEXT NOT NULL);
    CREATE UNIQUE INDEX events_key ON events (key_hash);
    CREATE TABLE alerts (id INTEGER PRIMARY KEY, tenant_id TEXT, cluster_name TEXT, audit_id TEXT NOT NULL, k8s_stage TEXT,
      event_time TEXT NOT NULL, stored_at TEXT NOT NULL, severity TEXT NOT NULL, severity_reason TEXT NOT NULL, dedup_key TEXT NOT NULL,
      key_hash INTEGER, event_id INTEGER REFERENCES events (id), record TEXT, CHECK (event_id IS NOT NULL OR record IS NOT NULL));
    CREATE UNIQUE INDEX alerts_key ON alerts (key_hash);`;

  it('moves its events and alerts into this layout, readable and deduplicated as before', async () => {
    const tmp = tempDataDir();
    const records = outgoingRecords(12);
    try {
      const old = new Database(join(tmp.dir, EVENT_STORE_FILE));
      old.exec(V1);
      const insert = old.prepare(
        `INSERT INTO events (tenant_id, cluster_name, audit_id, k8s_stage, event_time, stored_at, severity, severity_reason, dedup_key, key_hash, record)
         VALUES (?, ?, ?, ?, ?, 'then', ?, ?, ?, ?, ?)`,
      );
      const insertAlert = old.prepare(
        `INSERT INTO alerts (tenant_id, cluster_name, audit_id, k8s_stage, event_time, stored_at, severity, severity_reason, dedup_key, key_hash, event_id)
         VALUES (?, ?, ?, ?, ?, 'then', ?, ?, ?, ?, ?)`,
      );
      for (const [i, { record: r, json }] of records.slice(0, 8).entries()) {
        const hash = BigInt.asIntN(64, BigInt(`0x${r.dedup_key.slice(0, 16)}`));
        const id = insert.run(
          r.tenant_id,
          r.cluster_name,
          r.audit_id,
          r.k8s_stage,
          r.event_time,
          r.severity,
          r.severity_reason,
          r.dedup_key,
          hash,
          json,
        ).lastInsertRowid;
        if (i % 2 === 0)
          insertAlert.run(
            r.tenant_id,
            r.cluster_name,
            r.audit_id,
            r.k8s_stage,
            r.event_time,
            'high',
            r.severity_reason,
            r.dedup_key,
            hash,
            id,
          );
      }
      old.close();

      const store = openEventStore(tmp.dir);
      const result = await new SqliteSink(store, 'events').write(records);

      expect([...result.duplicates].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      expect(store.countEvents()).toBe(12);
      expect(
        store
          .queryAlerts()
          .map((a) => a.audit_id)
          .sort(),
      ).toEqual([0, 2, 4, 6].map((i) => records[i]?.record.audit_id).sort());
      expect(store.queryEvents({ auditId: records[3]?.record.audit_id })).toEqual([records[3]?.record]);
      store.close();
    } finally {
      tmp.remove();
    }
  });

  it('refuses a store older than that with a message naming the file', () => {
    const tmp = tempDataDir();
    try {
      const old = new Database(join(tmp.dir, EVENT_STORE_FILE));
      old.exec('CREATE TABLE events (id INTEGER PRIMARY KEY, dedup_key TEXT UNIQUE, record TEXT NOT NULL)');
      old.close();

      expect(() => openEventStore(tmp.dir)).toThrow(
        `the event store ${join(tmp.dir, EVENT_STORE_FILE)} was written by an older aisoc-k8s-audit`,
      );
    } finally {
      tmp.remove();
    }
  });
});
