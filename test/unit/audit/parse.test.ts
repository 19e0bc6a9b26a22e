import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAuditPayload, validateAuditEvent } from '../../../lib/audit/index.js';
import { FALCO_DIR, falcoEvent } from '../../helpers/fixtures.js';

const exec = falcoEvent('exec_pod.json');
const secret = falcoEvent('create_secret.json');

describe('parseAuditPayload', () => {
  it('reads an EventList', () => {
    const body = JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [exec, secret] });
    const parsed = parseAuditPayload(body);
    expect(parsed.form).toBe('EventList');
    expect(parsed.events.map((e) => e.auditID)).toEqual([exec.auditID, secret.auditID]);
    expect(parsed.rejected).toEqual([]);
    expect(parsed.itemCount).toBe(2);
  });

  it('reads an empty EventList and one without items', () => {
    expect(parseAuditPayload('{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]}')).toMatchObject({
      form: 'EventList',
      itemCount: 0,
    });
    expect(parseAuditPayload('{"kind":"EventList"}')).toMatchObject({ form: 'EventList', itemCount: 0 });
  });

  it('reads a single Event, from bytes as well as text', () => {
    const parsed = parseAuditPayload(Buffer.from(JSON.stringify(exec)));
    expect(parsed.form).toBe('Event');
    expect(parsed.events[0]?.auditID).toBe(exec.auditID);
  });

  it('reads a JSON array of Events', () => {
    const parsed = parseAuditPayload(JSON.stringify([exec, secret]));
    expect(parsed.form).toBe('array');
    expect(parsed.events).toHaveLength(2);
  });

  it('reads NDJSON with a BOM, CRLF line ends, blank lines and an EventList line', () => {
    const list = JSON.stringify({ kind: 'EventList', items: [secret] });
    const text = `\uFEFF${JSON.stringify(exec)}\r\n\r\n${list}\r\n   \n`;
    const parsed = parseAuditPayload(Buffer.from(text, 'utf8'));
    expect(parsed.form).toBe('ndjson');
    expect(parsed.events.map((e) => e.auditID)).toEqual([exec.auditID, secret.auditID]);
    expect(parsed.indexes).toEqual([0, 1]);
  });

  it('reads a Falco trace file with several events, one per line', () => {
    const parsed = parseAuditPayload(readFileSync(join(FALCO_DIR, 'create_configmap_sensitive_values.json')));
    expect(parsed.form).toBe('ndjson');
    expect(parsed.events).toHaveLength(6);
  });

  it('rejects a bad NDJSON line with its line number and keeps the others', () => {
    const text = `${JSON.stringify(exec)}\n{"auditID": "x", oops}\n${JSON.stringify(secret)}\n`;
    const parsed = parseAuditPayload(text);
    expect(parsed.events.map((e) => e.auditID)).toEqual([exec.auditID, secret.auditID]);
    expect(parsed.rejected).toHaveLength(1);
    expect(parsed.rejected[0]).toMatchObject({ index: 1, line: 2 });
    expect(parsed.rejected[0]?.reason).toMatch(/^line 2 is not valid JSON/);
  });

  it('accepts audit.k8s.io/v1, v1beta1 and a missing apiVersion', () => {
    const items = [
      { ...exec, apiVersion: 'audit.k8s.io/v1' },
      { ...exec, auditID: 'b', apiVersion: 'audit.k8s.io/v1beta1' },
      { ...exec, auditID: 'c', apiVersion: undefined },
    ];
    const parsed = parseAuditPayload(JSON.stringify({ kind: 'EventList', items }));
    expect(parsed.events).toHaveLength(3);
    expect(parsed.rejected).toEqual([]);
  });

  it('says why a payload of none of the accepted forms is invalid', () => {
    expect(parseAuditPayload('')).toMatchObject({ form: 'invalid', error: 'body is empty' });
    expect(parseAuditPayload('not json at all')).toMatchObject({ form: 'invalid' });
    expect(parseAuditPayload('not json at all').error).toMatch(/^body is not JSON/);
    expect(parseAuditPayload('42').error).toBe('expected an EventList, an Event or an array of Events, got number');
    expect(parseAuditPayload('{"kind":"EventList","items":{}}').error).toBe('EventList.items must be an array, got object');
  });

  it('rejects each bad item with a reason and never fails the others', () => {
    const items: unknown[] = [
      'a string',
      { ...exec, auditID: undefined },
      { kind: 0 },
      { protoPayload: { '@type': 'type.googleapis.com/google.cloud.audit.AuditLog' }, insertId: 'x' },
      { properties: { log: '{"kind":"Event"}' }, category: 'kube-audit' },
      { ...exec, auditID: 'o1', objectRef: 'pods' },
      { ...exec, auditID: 'u1', user: ['alice'] },
      { ...exec, auditID: 'v1', verb: 7 },
      { ...exec, auditID: 's1', sourceIPs: '10.0.0.1' },
      { ...exec, auditID: 'g1', user: { username: 'bob', groups: 'system:masters' } },
      { ...exec, auditID: 'a1', apiVersion: 'v1' },
      { ...exec, auditID: 42 },
      exec,
    ];
    const parsed = parseAuditPayload(JSON.stringify({ kind: 'EventList', items }));
    expect(parsed.events.map((e) => e.auditID)).toEqual([exec.auditID]);
    expect(parsed.indexes).toEqual([12]);
    const reasons = Object.fromEntries(parsed.rejected.map((r) => [r.index, r.reason]));
    expect(reasons).toEqual({
      0: 'item is not a JSON object (got string)',
      1: 'item has no auditID',
      2: 'kind must be "Event", got number',
      3: expect.stringMatching(/GKE Cloud Audit Logs entry \(protoPayload\)/),
      4: expect.stringMatching(/AKS diagnostic log record \(properties\.log\)/),
      5: 'objectRef must be an object, got string',
      6: 'user must be an object, got array',
      7: 'verb must be a string, got number',
      8: 'sourceIPs must be an array of strings, got string',
      9: 'user.groups must be an array of strings, got string',
      10: 'apiVersion "v1" is not an audit.k8s.io version',
      11: 'auditID must be a string, got number',
    });
    expect(parsed.rejected.find((r) => r.index === 5)?.auditID).toBe('o1');
  });

  it('rejects the {"kind": 0} regression input from Falco cleanly', () => {
    const parsed = parseAuditPayload(readFileSync(join(FALCO_DIR, 'fal_01_003.json')));
    expect(parsed.form).toBe('Event');
    expect(parsed.events).toEqual([]);
    expect(parsed.rejected).toEqual([{ index: 0, reason: 'kind must be "Event", got number', item: { kind: 0 } }]);
  });

  it('reads invalid UTF-8 as replacement characters instead of failing', () => {
    const bytes = Buffer.concat([Buffer.from('{"auditID":"x","verb":"get","userAgent":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const parsed = parseAuditPayload(bytes);
    expect(parsed.events[0]?.userAgent).toBe('\uFFFD\uFFFD');
  });
});

describe('validateAuditEvent', () => {
  it('returns the event itself when it is usable', () => {
    const result = validateAuditEvent(exec);
    expect(result).toEqual({ ok: true, event: exec });
  });

  it('rejects objectRef fields of the wrong type', () => {
    expect(validateAuditEvent({ ...exec, objectRef: { resource: ['pods'] } })).toEqual({
      ok: false,
      reason: 'objectRef.resource must be a string, got array',
      auditID: exec.auditID,
    });
  });
});
