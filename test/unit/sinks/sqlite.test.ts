import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EVENT_STORE_FILE, type EventStore, keyHash, openEventStore, SqliteSink } from '../../../lib/sinks/sqlite.js';
import { SinkUnavailableError } from '../../../lib/sinks/types.js';
import { outgoingRecords, tempDataDir } from '../../helpers/ingest.js';

describe('EventStore and SqliteSink', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let store: EventStore;
  beforeEach(() => {
    tmp = tempDataDir();
    store = openEventStore(join(tmp.dir, 'nested', 'data'));
  });
  afterEach(() => {
    store.close();
    tmp.remove();
  });

  it('creates the data dir and an owner-only file in WAL mode', () => {
    const file = join(tmp.dir, 'nested', 'data', EVENT_STORE_FILE);

    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
  });

  it("adds the alerts' rules column to a store written before it, keeping its alerts readable", async () => {
    const dir = join(tmp.dir, 'nested', 'data');
    await new SqliteSink(store, 'events+alerts').write(outgoingRecords(20));
    store.db.exec('ALTER TABLE alerts DROP COLUMN rules');
    store.close();

    store = openEventStore(dir);
    const columns = (store.db.pragma('table_info(alerts)') as { name: string }[]).map((c) => c.name);
    const alerts = store.queryAlerts({ limit: 1000 });
    expect(columns).toContain('rules');
    expect(alerts.length).toBeGreaterThan(0);
    for (const a of alerts) expect(a.finding.class_uid).toBe(2004);
  });

  it('stores a batch and reads the records back as they were normalised', async () => {
    const records = outgoingRecords(20);

    const result = await new SqliteSink(store, 'events+alerts').write(records);

    expect(result.duplicates.size).toBe(0);
    expect(store.countEvents()).toBe(20);
    const back = store.queryEvents({ limit: 1000 });
    expect(back.map((r) => r.dedup_key).sort()).toEqual(records.map((r) => r.record.dedup_key).sort());
    expect(back.find((r) => r.audit_id === records[0]?.record.audit_id)).toEqual(records[0]?.record);
  });

  it('reports records already stored as duplicates, by position', async () => {
    const sinkEvents = new SqliteSink(store, 'events+alerts');
    const records = outgoingRecords(6);
    await sinkEvents.write(records.slice(0, 4));

    const result = await sinkEvents.write(records);

    expect([...result.duplicates].sort()).toEqual([0, 1, 2, 3]);
    expect(store.countEvents()).toBe(6);
  });

  it('treats a record without cluster or stage as the same key when resent (NULLs do not escape the unique key)', async () => {
    const [r] = outgoingRecords(1);
    const bare = { ...r!, record: { ...r!.record, cluster_name: null, k8s_stage: null } };

    await new SqliteSink(store, 'events').write([bare]);
    const again = await new SqliteSink(store, 'events').write([bare]);

    expect([...again.duplicates]).toEqual([0]);
  });

  it('keeps two records whose dedup keys share the indexed first 64 bits, and still dedups each', async () => {
    const [a, b] = outgoingRecords(2);
    const prefix = 'ab'.repeat(8);
    const clash = (r: typeof a, tail: string) => ({
      ...r!,
      record: { ...r!.record, severity: 'high' as const, dedup_key: `${prefix}${tail.repeat(48)}` },
    });
    const first = clash(a, '0');
    const second = clash(b, '1');
    const sink = new SqliteSink(store, 'events+alerts');

    const once = await sink.write([first, second]);
    const again = await sink.write([first, second]);

    expect([once.duplicates.size, [...again.duplicates].sort()]).toEqual([0, [0, 1]]);
    expect([store.countEvents(), store.countAlerts()]).toEqual([2, 2]);
    expect(keyHash(first.record.dedup_key)).toBe(keyHash(second.record.dedup_key));
  });

  it('writes the high records to the alerts table in the same transaction', async () => {
    const records = outgoingRecords(50);
    const high = records.filter((r) => r.record.severity === 'high');

    await new SqliteSink(store, 'events+alerts').write(records);

    expect(high.length).toBeGreaterThan(0);
    expect(
      store
        .queryAlerts({ limit: 1000 })
        .map((r) => r.dedup_key)
        .sort(),
    ).toEqual(high.map((r) => r.record.dedup_key).sort());
  });

  it('links an alert to its events row instead of storing the record twice', async () => {
    const records = outgoingRecords(50);

    await new SqliteSink(store, 'events+alerts').write(records);

    const copies = store.db.prepare('SELECT count(*) FROM alerts WHERE record IS NOT NULL').pluck().get();
    expect(copies).toBe(0);
    expect(store.queryAlerts({ limit: 1 })[0]?.raw_event).toBeDefined();
  });

  it('adds the missing alert for an event stored earlier without one', async () => {
    const records = outgoingRecords(50);
    const high = records.filter((r) => r.record.severity === 'high');
    await new SqliteSink(store, 'events').write(records);

    const again = await new SqliteSink(store, 'events+alerts').write(records);

    expect(again.duplicates.size).toBe(50);
    expect(
      store
        .queryAlerts({ limit: 1000 })
        .map((r) => r.dedup_key)
        .sort(),
    ).toEqual(high.map((r) => r.record.dedup_key).sort());
  });

  it('filters by tenant, cluster, severity and time', async () => {
    await new SqliteSink(store, 'events').write([...outgoingRecords(10, 'a'), ...outgoingRecords(5, 'b')]);

    expect(store.queryEvents({ tenant: 'b' })).toHaveLength(5);
    expect(store.countEvents({ tenant: 'a', cluster: 'nope' })).toBe(0);
    const sev = store.queryEvents({ severity: ['high', 'medium'], limit: 1000 });
    expect(sev.every((r) => r.severity === 'high' || r.severity === 'medium')).toBe(true);
    expect(store.queryEvents({ since: '2999-01-01T00:00:00Z' })).toEqual([]);
    expect(store.queryEvents({ limit: 3 })).toHaveLength(3);
  });

  it('writes nothing of a batch that fails part way (one transaction)', async () => {
    const records = outgoingRecords(10);
    store.db.exec(
      `CREATE TRIGGER fail_one BEFORE INSERT ON events WHEN NEW.audit_id = '${records[7]?.record.audit_id}' BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`,
    );

    await expect(new SqliteSink(store, 'events+alerts').write(records)).rejects.toBeInstanceOf(SinkUnavailableError);

    expect([store.countEvents(), store.countAlerts()]).toEqual([0, 0]);
  });

  it('writes only alerts in alerts mode', async () => {
    const records = outgoingRecords(3);

    await new SqliteSink(store, 'alerts').write(records);

    expect([store.countEvents(), store.countAlerts()]).toEqual([0, 3]);
  });

  it('keeps the write-ahead log a few batches long under sustained writes, with checkpoints in the background', async () => {
    const dir = join(tmp.dir, 'busy');
    const busy = openEventStore(dir, { backgroundCheckpoints: true });
    const wal = join(dir, `${EVENT_STORE_FILE}-wal`);
    try {
      const sink = new SqliteSink(busy, 'events+alerts');
      await sink.write(outgoingRecords(50, 'tenant-0'));
      const oneBatch = statSync(wal).size;
      let written = oneBatch;
      // A steady stream of batches, each a short moment after the last, as requests arrive.
      for (let k = 1; k < 150; k++) {
        await sink.write(outgoingRecords(50, `tenant-${k}`));
        written += oneBatch;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }

      expect(busy.countEvents()).toBe(150 * 50);
      // Checkpointed only on a timer, the log was never reset while batches kept coming: it
      // held every batch written (here about 150 batches' worth).
      expect(statSync(wal).size).toBeLessThan(written / 10);
    } finally {
      await busy.closeAndWait();
    }
  });
});
