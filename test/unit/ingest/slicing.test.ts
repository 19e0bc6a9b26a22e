import { describe, expect, it } from 'vitest';
import { TooManyRequestsError } from '../../../lib/ingest/errors.js';
import { IngestService } from '../../../lib/ingest/service.js';
import { RecordWriter } from '../../../lib/sinks/writer.js';
import { eventList, ingestConfig, MemorySink, SECRET, uniqueFalcoEvents } from '../../helpers/ingest.js';

// While the core works on a batch, the event loop gets turns: the local server must see new
// connections and request heads meanwhile, or they wait in the kernel's accept queue where
// admission control cannot refuse them (lib/ingest/service.ts, SLICE_MS).
function harness(sliceMs?: number) {
  const events = new MemorySink('events');
  const service = new IngestService({
    config: ingestConfig(),
    writer: new RecordWriter(events, new MemorySink('alerts')),
    ...(sliceMs === undefined ? {} : { sliceMs }),
  });
  return { service, events };
}

/** Loop turns (setImmediate callbacks) that ran while `work` was under way, and its result. */
async function turnsDuring<T>(work: () => Promise<T>): Promise<{ turns: number; result: T }> {
  let turns = 0;
  let done = false;
  const tick = () => {
    if (done) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  const result = await work();
  done = true;
  return { turns, result };
}

const post = (body: string) => ({
  method: 'POST',
  path: '/v1/ingest/k8s-audit/acme',
  headers: { 'content-type': 'application/json', 'x-aisoc-k8s-token': SECRET },
  body: Buffer.from(body),
});

describe('the ingest core gives the event loop turns while it normalises a batch', () => {
  const falco = uniqueFalcoEvents();

  it('yields between events once a slice is used up, and stores the batch whole', async () => {
    const { service, events } = harness(0);
    const { turns, result } = await turnsDuring(() => service.handle(post(eventList(falco))));
    expect(result.status).toBe(200);
    expect(events.records).toHaveLength(falco.length);
    // A slice of 0 ms: a turn before each event, and one before the write.
    expect(turns).toBeGreaterThanOrEqual(falco.length);
  });

  it('keeps a small batch in one stretch with the default slice', async () => {
    const { service, events } = harness();
    const { turns, result } = await turnsDuring(() => service.handle(post(eventList(falco.slice(0, 2)))));
    expect(result.status).toBe(200);
    expect(events.records).toHaveLength(2);
    expect(turns).toBeLessThanOrEqual(2);
  });

  it('lets batches take turns, first come first served: one given up while it waits spends no work and is answered at once', async () => {
    const { service, events } = harness(0);
    const head = { method: 'POST', path: '/v1/ingest/k8s-audit/acme', query: new URLSearchParams(), headers: post('').headers };
    const first = await service.admit(head);
    const second = await service.admit(head);
    if (!('route' in first) || !('route' in second)) throw new Error('not admitted');
    const order: string[] = [];
    const a = service.complete(first, Buffer.from(eventList(falco))).then((r) => order.push(`first ${r.status}`));
    const giveUp = new AbortController();
    const b = service.complete(second, Buffer.from(eventList(falco)), giveUp.signal).then((r) => order.push(`second ${r.status}`));
    // The first batch is being normalised, a turn per event; the second waits for its turn.
    await new Promise((resolve) => setImmediate(resolve));
    giveUp.abort(new TooManyRequestsError('deadline passed', 1));
    await Promise.all([a, b]);
    // Sliced without turns, the second would have been normalised beside the first and answered after it.
    expect(order).toEqual(['second 429', 'first 200']);
    expect(events.records).toHaveLength(falco.length);
  });
});
