import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { StdoutSink } from '../../../lib/sinks/stdout.js';
import { SinkUnavailableError } from '../../../lib/sinks/types.js';
import { outgoingRecords } from '../../helpers/ingest.js';

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString() };
}

describe('StdoutSink', () => {
  it('writes one record per line (NDJSON)', async () => {
    const out = capture();
    const records = outgoingRecords(3);

    await new StdoutSink(out.stream).write(records);

    expect(out.text()).toBe(records.map((r) => `${r.json}\n`).join(''));
  });

  it('wraps alert lines as {"alert": record}', async () => {
    const out = capture();
    const [r] = outgoingRecords(1);

    await new StdoutSink(out.stream, 'alerts').write([r!]);

    expect(JSON.parse(out.text())).toEqual({ alert: r?.record });
  });

  it('throws SinkUnavailableError when the stream fails', async () => {
    const broken = new Writable({
      write(_chunk, _enc, cb) {
        cb(new Error('EPIPE'));
      },
    });
    broken.on('error', () => {});

    await expect(new StdoutSink(broken).write(outgoingRecords(1))).rejects.toBeInstanceOf(SinkUnavailableError);
  });
});
