import { describe, expect, it } from 'vitest';
import { AdmissionGate } from '../../../lib/ingest/admission.js';

const limits = { maxRequests: 3, maxBytes: 1000, queueDeadlineMs: 5000, retryAfterSeconds: 1 };

describe('AdmissionGate', () => {
  it('admits up to the request bound and refuses past it, until a ticket is released', () => {
    const gate = new AdmissionGate(limits);
    const tickets = [gate.enter(10), gate.enter(10), gate.enter(10)];
    expect(tickets.every((t) => t !== null)).toBe(true);
    expect(gate.enter(10)).toBeNull();
    tickets[0]?.release();
    // Released twice: counted once.
    tickets[0]?.release();
    expect(gate.held).toEqual({ requests: 2, bytes: 20 });
    expect(gate.enter(10)).not.toBeNull();
    expect(gate.enter(10)).toBeNull();
  });

  it('refuses a request that would pass the byte bound, but always admits a lone one', () => {
    const gate = new AdmissionGate(limits);
    const lone = gate.enter(5000);
    expect(lone).not.toBeNull();
    expect(gate.enter(1)).toBeNull();
    lone?.release();
    const a = gate.enter(600);
    expect(gate.enter(500)).toBeNull();
    expect(gate.enter(400)).not.toBeNull();
    expect(gate.held).toEqual({ requests: 2, bytes: 1000 });
    // A body smaller than charged (a chunked request charged the largest size) gives the rest back.
    a?.resize(100);
    expect(gate.held.bytes).toBe(500);
    expect(gate.enter(500)).not.toBeNull();
    a?.release();
    a?.resize(900);
    expect(gate.held).toEqual({ requests: 2, bytes: 900 });
  });
});
