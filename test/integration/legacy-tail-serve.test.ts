// A kube-apiserver log written with --audit-log-format=legacy takes a self-hosted cluster's path:
// `tail --once` into a running `serve`. The log is a real one: audit2rbac's demo.log (757 events of
// 2017, impersonation, RBAC writes, 403s and 404s, both stages; test/fixtures/SOURCES.md), each
// event printed as the apiserver's EventString prints it (test/helpers/legacy-audit.ts), with three
// lines the tailer must pass over, each named: a line cut in a quoted value, a line of another
// log, and a pre-1.7 response line (id and code only).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../lib/audit/index.js';
import { run as tail } from '../../lib/cli/tail.js';
import { captureIo } from '../helpers/cli.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { tempDataDir } from '../helpers/ingest.js';
import { eventString } from '../helpers/legacy-audit.js';
import { cliJson, type StoredAlert, type StoredRecord, startServe } from '../helpers/through-serve.js';

const SECRET = 'legacy-tail-serve-secret-0123456789';
const events = readFileSync(join(FIXTURES, 'audit2rbac', 'demo.log'), 'utf8')
  .split('\n')
  .filter((l) => l !== '')
  .map((l) => JSON.parse(l) as AuditEvent);
const CUT = '2017-09-11T19:55:05Z AUDIT: id="cut-1" stage="ResponseComplete" ip="::1" method="get" user="ali';
const OTHER = 'I0911 19:55:05.000000    1 trace.go:205] Trace[1]: "List" url:/api/v1/pods (started: 2017-09-11 19:55:05)';
const RESPONSE = '2017-09-11T19:55:06Z AUDIT: id="033d17af-082d-4b24-aa22-627752e83d71" response="403"';
const legacyLines = events.map((ev) => eventString(ev));
const fileLines = [...legacyLines.slice(0, 100), CUT, ...legacyLines.slice(100, 300), OTHER, RESPONSE, ...legacyLines.slice(300)];
const text = `${fileLines.join('\n')}\n`;

let tailCode = 0;
let tailLog: Record<string, unknown>[] = [];
let records: StoredRecord[] = [];
let alerts: StoredAlert[] = [];
const tmp = tempDataDir('aisoc-legacy-tail-');

beforeAll(async () => {
  const path = join(tmp.dir, 'audit.log');
  writeFileSync(path, text);
  const dataDir = join(tmp.dir, 'data');
  const server = await startServe(dataDir, SECRET);
  const env = { AISOC_INGEST_URL: `${server.url}/v1/ingest/k8s-audit/acme`, K8S_AUDIT_SHARED_SECRET: SECRET, CLUSTER_NAME: 'legacy' };
  const tailed = captureIo(env);
  tailCode = await tail(['--path', path, '--once'], tailed.io);
  await server.stop();
  tailLog = tailed
    .err()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  records = await cliJson<StoredRecord>(['events', '--json', '--limit', '10000', '--data-dir', dataDir]);
  alerts = await cliJson<StoredAlert>(['events', '--alerts', '--json', '--limit', '10000', '--data-dir', dataDir]);
});
afterAll(() => tmp.remove());

describe('a legacy-format audit log, tailed into serve', () => {
  it('delivers every legacy event and passes over the three other lines, each with its offset and reason', () => {
    expect(tailCode).toBe(0);
    expect(tailLog.find((l) => l.message === 'poll')).toMatchObject({ lines: 760, delivered: 757, invalid: 3, undelivered: 0 });
    const offsetOf = (line: string) => Buffer.byteLength(text.slice(0, text.indexOf(`${line}\n`)));
    expect(tailLog.filter((l) => l.message === 'line passed over').map((l) => [l.offset, l.reason, l.auditID])).toEqual([
      [offsetOf(CUT), 'legacy audit line: user: a quoted value starting at column 92 is not closed', 'cut-1'],
      [offsetOf(OTHER), 'line is neither JSON nor a kube-apiserver legacy audit line (<time> AUDIT: id="..." ...)', undefined],
      [
        offsetOf(RESPONSE),
        'a legacy response line (id 033d17af-082d-4b24-aa22-627752e83d71, code 403): its request line is the event',
        '033d17af-082d-4b24-aa22-627752e83d71',
      ],
    ]);
    expect(records).toHaveLength(757);
  });

  it('stores each event with the fields of the line, scored as the JSON log is: 259 high, 82 medium, 96 low, 320 info', () => {
    const byKey = new Map(records.map((r) => [`${r.audit_id} ${r.k8s_stage}`, r]));
    for (const ev of events) {
      const r = byKey.get(`${ev.auditID} ${ev.stage}`);
      expect(r, `${ev.auditID} ${ev.stage}`).toMatchObject({
        cluster_name: 'legacy',
        k8s_user: ev.user?.username,
        k8s_impersonated_user: ev.impersonatedUser?.username ?? null,
        k8s_verb: ev.verb,
        request_uri: ev.requestURI,
        k8s_response_code: ev.responseStatus?.code ?? null,
        event_time: new Date(ev.timestamp as string).toISOString(),
      });
    }
    // The same counts as the JSON log's (test/integration/audit2rbac-tail-serve.test.ts): a legacy
    // line loses the level and the stage's time, nothing the severity table or these rules read.
    const count = (s: string) => records.filter((r) => r.severity === s).length;
    expect([count('high'), count('medium'), count('low'), count('info')]).toEqual([259, 82, 96, 320]);
    expect(alerts).toHaveLength(259);
    expect(alerts.filter((a) => a.severity_reason === 'impersonation')).toHaveLength(37);
  });
});
