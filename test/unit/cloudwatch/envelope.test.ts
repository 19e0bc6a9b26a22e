import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EnvelopeError, type PayloadView, viewSubscriptionJson } from '../../../lib/cloudwatch/index.js';
import { eksPayload } from '../../helpers/envelopes.js';
import { distinctLines } from '../../helpers/ship.js';

function all(view: PayloadView): unknown[] {
  return Array.from({ length: view.count }, (_, i) => view.event(i));
}

describe('viewSubscriptionJson', () => {
  it('reads the envelope and every log event of a real-shaped payload', () => {
    const payload = eksPayload(distinctLines(20), { cluster: 'blue' });

    const view = viewSubscriptionJson(Buffer.from(JSON.stringify(payload)));

    expect(view).toMatchObject({
      messageType: 'DATA_MESSAGE',
      owner: payload.owner,
      logGroup: '/aws/eks/blue/cluster',
      logStream: payload.logStream,
      count: 20,
    });
    expect(view.subscriptionFilters).toEqual(['aisoc-k8s-audit']);
    expect(all(view)).toEqual(payload.logEvents);
  });

  it('takes the members in any order, with whitespace, as moto writes logEvents first', () => {
    const payload = eksPayload(distinctLines(3));
    const { logEvents, ...rest } = payload;

    const view = viewSubscriptionJson(Buffer.from(JSON.stringify({ logEvents, ...rest }, null, 2)));

    expect(view.logGroup).toBe(payload.logGroup);
    expect(all(view)).toEqual(logEvents);
  });

  it('keeps escaped quotes, backslashes, brackets and non-ASCII text inside messages', () => {
    const messages = ['{"a":"\\"}]{[,"}', 'back\\slash \\\\" end', 'ünïcødé 名前 😀 \u2028', ''];
    const payload = {
      ...eksPayload([]),
      logEvents: messages.map((message, i) => ({ id: `${i}`, timestamp: i, message, extractedFields: { k: '}' } })),
    };

    const view = viewSubscriptionJson(Buffer.from(JSON.stringify(payload)));

    expect(all(view).map((e) => (e as { message: string }).message)).toEqual(messages);
  });

  it('reads exactly what JSON.parse reads, for any messages and layout', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'binary', maxLength: 40 }), { maxLength: 20 }),
        fc.integer({ min: 0, max: 3 }),
        (messages, indent) => {
          const payload = {
            ...eksPayload([]),
            logEvents: messages.map((message, i) => ({ id: `${i}`, timestamp: 1700000000000 + i, message })),
          };

          const view = viewSubscriptionJson(Buffer.from(JSON.stringify(payload, null, indent)));

          expect(all(view)).toEqual(payload.logEvents);
        },
      ),
    );
  });

  it.each([
    ['not an object', '[]', /object expected/],
    ['unterminated string', '{"messageType":"DATA_MESSAGE","logEvents":[{"message":"abc', /unterminated/],
    ['trailing data', '{"messageType":"DATA_MESSAGE","logEvents":[]} x', /unexpected data after the payload/],
    ['no logEvents', '{"messageType":"DATA_MESSAGE"}', /no logEvents array/],
    ['no messageType', '{"logEvents":[]}', /no messageType/],
    ['a missing comma', '{"messageType":"DATA_MESSAGE" "logEvents":[]}', /"," or "}" expected/],
  ])('refuses a payload with %s', (_what, text, message) => {
    expect(() => viewSubscriptionJson(Buffer.from(text))).toThrow(EnvelopeError);
    expect(() => viewSubscriptionJson(Buffer.from(text))).toThrow(message);
  });

  it('refuses, per event, a log event without a message', () => {
    const view = viewSubscriptionJson(
      Buffer.from('{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","timestamp":1,"message":"ok"},{"id":"2"},7]}'),
    );

    expect(view.event(0).message).toBe('ok');
    expect(() => view.event(1)).toThrow(/logEvents\[1\] has no message string/);
    expect(() => view.event(2)).toThrow(EnvelopeError);
  });
});
