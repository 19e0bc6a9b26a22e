// `normalise` of a kube-apiserver log written with --audit-log-format=legacy: lines printed as
// the apiserver's EventString prints them (test/helpers/legacy-audit.ts) from a real log
// (audit2rbac's demo.log), with the cases the format has: <deferred> at RequestReceived, escapes,
// a watch, a non-resource URL, impersonation, a malformed line and a line that is neither format.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AuditEvent, NormalisedRecord } from '../../../lib/audit/index.js';
import { runCli } from '../../helpers/cli.js';
import { FIXTURES } from '../../helpers/fixtures.js';
import { eventString } from '../../helpers/legacy-audit.js';

const dir = mkdtempSync(join(tmpdir(), 'aisoc-legacy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const demo = readFileSync(join(FIXTURES, 'audit2rbac', 'demo.log'), 'utf8')
  .split('\n')
  .filter((l) => l !== '')
  .map((l) => JSON.parse(l) as AuditEvent);

function records(stdout: string): NormalisedRecord[] {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as NormalisedRecord);
}

describe('normalise: kube-apiserver legacy audit lines', () => {
  it('reads a legacy log into records scored as its JSON twin is, and names the lines it cannot read', async () => {
    const at = '2024-05-06T07:08:09.123456789+02:00';
    const lines = [
      ...demo.slice(0, 40).map((ev) => eventString(ev)),
      eventString(
        {
          auditID: 'w-1',
          stage: 'RequestReceived',
          verb: 'watch',
          user: { username: 'system:kube-scheduler' },
          sourceIPs: ['10.0.0.5'],
          requestURI: '/api/v1/pods?watch=true&resourceVersion=7',
        },
        at,
      ),
      'I0506 07:08:09.000000       1 trace.go:205] Trace[1]: not an audit line',
      `${at} AUDIT: id="cut-1" stage="ResponseComplete" ip="10.0.0.9" method="get" user="ali\\"ce`,
      eventString(
        {
          auditID: 'h-1',
          stage: 'ResponseComplete',
          verb: 'get',
          user: { username: 'system:anonymous', groups: ['system:unauthenticated'] },
          sourceIPs: ['203.0.113.7'],
          requestURI: '/healthz',
          responseStatus: { code: 200 },
        },
        at,
      ),
    ];
    const file = join(dir, 'legacy.log');
    writeFileSync(file, `${lines.join('\n')}\n`);

    const legacy = await runCli(['normalise', file]);
    const json = await runCli(
      ['normalise'],
      {},
      `${demo
        .slice(0, 40)
        .map((e) => JSON.stringify(e))
        .join('\n')}\n`,
    );

    expect(legacy.stderr.split('\n')).toEqual([
      `normalise: ${file}: kube-apiserver legacy audit lines (42 lines; 42 events)`,
      `rejected ${file}:42 item 41: line is neither JSON nor a kube-apiserver legacy audit line (<time> AUDIT: id="..." ...)`,
      `rejected ${file}:43 item 42 (auditID cut-1): legacy audit line: user: a quoted value starting at column 112 is not closed`,
      'normalised 42, rejected 2',
      '',
    ]);
    expect(legacy.code).toBe(1);
    const got = records(legacy.stdout);
    const twin = records(json.stdout);
    // The same request, the same reading: who, what, where, the answer, and the severity and rules.
    const view = (r: NormalisedRecord) => [
      r.audit_id,
      r.k8s_stage,
      r.k8s_user,
      r.k8s_impersonated_user,
      r.k8s_verb,
      r.k8s_resource,
      r.k8s_namespace,
      r.k8s_response_code,
      r.src_ip,
      r.severity,
      r.severity_reason,
      r.rule_ids,
    ];
    expect(got.slice(0, 40).map(view)).toEqual(twin.map(view));
    expect(got.some((r) => r.k8s_impersonated_user === 'bob' && r.severity === 'high')).toBe(true);
    const watch = got.find((r) => r.audit_id === 'w-1');
    expect(watch).toMatchObject({
      k8s_verb: 'watch',
      k8s_resource: 'pods',
      k8s_response_code: null,
      event_time: '2024-05-06T05:08:09.123Z',
    });
    expect(watch?.raw_event).not.toHaveProperty('level');
    const health = got.find((r) => r.audit_id === 'h-1');
    expect(health).toMatchObject({ k8s_resource: null, request_uri: '/healthz', k8s_response_code: 200, src_ip: '203.0.113.7' });
  });

  it('reads the one-line example of the kube-apiserver documentation from stdin', async () => {
    const line =
      '2017-03-21T03:57:09.106841886-04:00 AUDIT: id="c939d2a7-1c37-4ef1-b2f7-4ba9b1e43b53" stage="RequestReceived" ip="127.0.0.1" method="get" user="admin" groups="\\"system:masters\\",\\"system:authenticated\\"" as="<self>" asgroups="<lookup>" namespace="default" uri="/api/v1/namespaces/default/pods"\n';
    const { code, stdout, stderr } = await runCli(['normalise'], {}, line);
    expect(stderr).toBe('normalise: <stdin>: kube-apiserver legacy audit lines (1 line; 1 event)\nnormalised 1, rejected 0\n');
    expect(code).toBe(0);
    expect(records(stdout)[0]).toMatchObject({
      audit_id: 'c939d2a7-1c37-4ef1-b2f7-4ba9b1e43b53',
      k8s_user: 'admin',
      k8s_user_groups: ['system:masters', 'system:authenticated'],
      k8s_verb: 'get',
      k8s_resource: 'pods',
      k8s_namespace: 'default',
      severity: 'info',
      severity_reason: 'request-received-stage',
    });
  });
});
