import { describe, expect, it } from 'vitest';
import { AdmissionGate, tenantReserve } from '../../../lib/ingest/admission.js';
import { errorResponse, TooManyRequestsError, tooManyRequestsResponse } from '../../../lib/ingest/errors.js';

const limits = { maxRequests: 3, maxBytes: 1000, queueDeadlineMs: 5000, maxQueueWaitMs: 1000, retryAfterSeconds: 1 };

describe('AdmissionGate', () => {
  it('admits up to the request bound and refuses past it, until a ticket is released', () => {
    const gate = new AdmissionGate(limits);
    const tickets = [gate.enter(10), gate.enter(10), gate.enter(10)];
    expect(tickets.every((t) => t !== null)).toBe(true);
    expect(gate.enter(10)).toBeNull();
    tickets[0]?.release();
    // Released twice: counted once.
    tickets[0]?.release();
    expect(gate.held).toEqual({ requests: 2, bytes: 20, oldestWaitMs: 0 });
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
    expect(gate.held).toMatchObject({ requests: 2, bytes: 1000 });
    // A body smaller than charged (a chunked request charged the largest size) gives the rest back.
    a?.resize(100);
    expect(gate.held.bytes).toBe(500);
    expect(gate.enter(500)).not.toBeNull();
    a?.release();
    a?.resize(900);
    expect(gate.held).toMatchObject({ requests: 2, bytes: 900 });
  });

  it('refuses while the oldest request with its body has waited past maxQueueWaitMs, whatever the count', () => {
    let now = 0;
    const gate = new AdmissionGate({ ...limits, maxRequests: 100, maxBytes: 1e9 }, () => now);
    const first = gate.enter(10);
    const second = gate.enter(10);
    // Still uploading: a slow upload does not count as waiting for the server.
    now = 5000;
    expect(gate.refusal(10)).toBeNull();
    first?.received();
    now = 5900;
    second?.received();
    expect(gate.held.oldestWaitMs).toBe(900);
    expect(gate.enter(10)).not.toBeNull();
    now = 6001;
    expect(gate.refusal(10)).toBe('wait');
    expect(gate.enter(10)).toBeNull();
    // The oldest answered: the next one has waited 101 ms, so the gate opens again.
    first?.release();
    expect(gate.held.oldestWaitMs).toBe(101);
    expect(gate.enter(10)).not.toBeNull();
    // Marked twice: its wait starts at the first mark.
    now = 7000;
    second?.received();
    expect(gate.held.oldestWaitMs).toBe(1100);
    expect(gate.refusal(10)).toBe('wait');
  });

  it('names the bound it refuses at, and never refuses a lone request', () => {
    let now = 0;
    const gate = new AdmissionGate({ ...limits, maxRequests: 2 }, () => now);
    expect(gate.refusal(1e9)).toBeNull();
    const a = gate.enter(600);
    a?.received();
    now = 10_000;
    expect(gate.refusal(500)).toBe('bytes');
    expect(gate.refusal(10)).toBe('wait');
    now = 0;
    expect(gate.enter(10)).not.toBeNull();
    expect(gate.refusal(10)).toBe('requests');
  });
});

describe('AdmissionGate with a tenant reserve', () => {
  const reserve = { requests: 2, bytes: 100 };

  it('admits a tenant that holds nothing from the reserve once another fills the shared bounds, one request at a time', () => {
    const gate = new AdmissionGate(limits, undefined, reserve);
    const a = [gate.enter(10, 'a'), gate.enter(10, 'a'), gate.enter(10, 'a')];
    expect(a.every((t) => t !== null)).toBe(true);
    // a fills the shared bound and, holding requests, never enters the reserve.
    expect(gate.refusal(10, 'a')).toBe('requests');
    expect(gate.enter(10, 'a')).toBeNull();
    // b and c hold nothing: one request each from the reserve.
    const b = gate.enter(10, 'b');
    expect(b).not.toBeNull();
    expect(gate.enter(10, 'b')).toBeNull();
    const c = gate.enter(10, 'c');
    expect(c).not.toBeNull();
    expect(gate.reserveHeld).toEqual({ requests: 2, bytes: 20 });
    expect(gate.held).toMatchObject({ requests: 5, bytes: 50 });
    // The reserve is full: a fourth tenant waits for it.
    expect(gate.refusal(10, 'd')).toBe('requests');
    b?.release();
    expect(gate.enter(10, 'd')).not.toBeNull();
    // A shared slot freed goes to whoever asks first, a too.
    a[0]?.release();
    expect(gate.enter(10, 'a')).not.toBeNull();
    expect(gate.reserveHeld.requests).toBe(2);
  });

  it('holds reserved bytes apart from the shared ones, and gives them back on resize and release', () => {
    const gate = new AdmissionGate(limits, undefined, reserve);
    const a = gate.enter(1000, 'a');
    expect(gate.refusal(1, 'a')).toBe('bytes');
    // Over the reserve's bytes: refused, whoever asks.
    expect(gate.refusal(101, 'b')).toBe('bytes');
    const b = gate.enter(100, 'b');
    expect(b).not.toBeNull();
    b?.resize(40);
    expect(gate.reserveHeld.bytes).toBe(40);
    expect(gate.enter(60, 'c')).not.toBeNull();
    b?.release();
    b?.release();
    expect(gate.reserveHeld).toEqual({ requests: 1, bytes: 60 });
    a?.release();
    expect(gate.held).toMatchObject({ requests: 1, bytes: 60 });
    // The shared bounds are free again: a's next request is admitted there, not from the reserve.
    expect(gate.enter(500, 'a')).not.toBeNull();
    expect(gate.reserveHeld.requests).toBe(1);
  });

  it('gives one party (the holder of the installation-wide secret) one reserved request, whatever tenant ids it writes under', () => {
    const gate = new AdmissionGate(limits, undefined, reserve);
    const shared = 'installation-wide secret';
    for (let i = 0; i < 3; i++) expect(gate.enter(10, 'x', shared)).not.toBeNull();
    // Tenant ids it made up: the first enters the reserve, the next is refused though its id holds nothing.
    const y1 = gate.enter(10, 'y1', shared);
    expect(y1).not.toBeNull();
    expect(gate.refusal(10, 'y2', shared)).toBe('requests');
    expect(gate.enter(10, 'y2', shared)).toBeNull();
    // A tenant with its own secret (its party is its id) still finds the reserve's other request.
    expect(gate.enter(10, 'own')).not.toBeNull();
    // Once the party's reserved request is answered, it may have one again.
    y1?.release();
    expect(gate.enter(10, 'y2', shared)).not.toBeNull();
  });

  it('changes nothing for a single tenant', () => {
    const gate = new AdmissionGate(limits, undefined, reserve);
    const held = [gate.enter(10, 'only'), gate.enter(10, 'only'), gate.enter(10, 'only')];
    expect(held.every((t) => t !== null)).toBe(true);
    expect(gate.enter(10, 'only')).toBeNull();
    expect(gate.reserveHeld.requests).toBe(0);
  });

  it('is a quarter of the shared bounds, at least one request and one largest body', () => {
    expect(tenantReserve({ maxRequests: 16, maxBytes: 128 * 2 ** 20 }, 16 * 2 ** 20)).toEqual({ requests: 4, bytes: 32 * 2 ** 20 });
    expect(tenantReserve({ maxRequests: 2, maxBytes: 32 * 2 ** 20 }, 16 * 2 ** 20)).toEqual({ requests: 1, bytes: 16 * 2 ** 20 });
  });
});

describe('tooManyRequestsResponse', () => {
  it('is the answer errorResponse gives for the same TooManyRequestsError, status, headers and body', () => {
    const message = 'the ingest holds as much work as it may (K8S_AUDIT_MAX_INFLIGHT_REQUESTS 16); nothing was read or stored';
    const answer = tooManyRequestsResponse(message, 2);
    expect(answer).toEqual(errorResponse(new TooManyRequestsError(message, 2)));
    expect(answer.status).toBe(429);
    expect(answer.headers['Retry-After']).toBe('2');
    expect(JSON.parse(answer.body)).toEqual({ error: message });
  });
});
