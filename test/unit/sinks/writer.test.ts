import { describe, expect, it } from 'vitest';
import { normaliseAuditEvent } from '../../../lib/audit/index.js';
import { RecordWriter } from '../../../lib/sinks/writer.js';
import { falcoEvent } from '../../helpers/fixtures.js';
import { MemorySink, outgoingRecords } from '../../helpers/ingest.js';

describe('RecordWriter', () => {
  it('sends every record to the events sink and the high ones to the alerts sink, duplicates included', async () => {
    const events = new MemorySink('events');
    const alerts = new MemorySink('alerts', Number.POSITIVE_INFINITY, false);
    const writer = new RecordWriter(events, alerts);
    const records = outgoingRecords(40);
    const high = records.filter((r) => r.record.severity === 'high');

    await writer.write(records);
    const second = await writer.write(records);

    expect(events.records).toHaveLength(40);
    expect(second.duplicates.size).toBe(40);
    expect(alerts.records.map((r) => r.dedup_key)).toEqual([...high, ...high].map((r) => r.record.dedup_key));
    expect(second.alertsSent).toBe(high.length);
  });

  it('does not touch the alerts sink when the events sink fails', async () => {
    const events = new MemorySink('events');
    events.failWith = new Error('down');
    const alerts = new MemorySink('alerts');

    await expect(new RecordWriter(events, alerts).write(outgoingRecords(40))).rejects.toThrow('down');
    expect(alerts.calls).toEqual([]);
  });

  it('reports records the alerts sink refused, without failing the batch', async () => {
    const alerts = new MemorySink('alerts');
    alerts.refuse = () => 'too big';
    const records = outgoingRecords(40);

    const out = await new RecordWriter(new MemorySink('events'), alerts).write(records);

    expect(out.alertsRefused).toEqual(records.filter((r) => r.record.severity === 'high').map(() => 'too big'));
  });

  it('describes its sinks and the smallest record limit', () => {
    const writer = new RecordWriter(new MemorySink('kinesis:s', 1000), new MemorySink('sqs:q', 500));

    expect([writer.describe(), writer.maxRecordBytes]).toEqual(['events=kinesis:s alerts=sqs:q', 500]);
    expect(new RecordWriter(new MemorySink('stdout'), null, 'none').describe()).toBe('events=stdout alerts=none');
  });
});

describe('RecordWriter alerts', () => {
  it('sends one alert per request to a separate alerts sink: the first high stage of each auditID', async () => {
    const exec = falcoEvent('exec_pod.json');
    const records = ['ResponseStarted', 'ResponseComplete'].flatMap((stage) =>
      ['a', 'b'].map((id) => {
        const record = normaliseAuditEvent({ ...exec, auditID: id, stage }, { tenantId: 't', clusterName: null, receivedAt: 0 });
        const json = JSON.stringify(record);
        return { record, json, bytes: json.length };
      }),
    );
    const events = new MemorySink('events');
    const alerts = new MemorySink('alerts');

    const outcome = await new RecordWriter(events, alerts).write(records);

    expect(events.records).toHaveLength(4);
    expect(alerts.records.map((r) => [r.audit_id, r.k8s_stage])).toEqual([
      ['a', 'ResponseStarted'],
      ['b', 'ResponseStarted'],
    ]);
    expect(outcome.alertsSent).toBe(2);
  });
});
