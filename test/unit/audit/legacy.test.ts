// kube-apiserver's legacy text audit format (--audit-log-format=legacy), read into Events. The lines
// are the apiserver's: its own test's expected line (plugin/pkg/audit/log/backend_test.go), the
// pre-1.7 two-line example, and every event of a real audit log (audit2rbac's demo.log) printed as
// EventString prints it (test/helpers/legacy-audit.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { readLegacyLine, readLegacyText, requestInfo } from '../../../lib/audit/legacy.js';
import type { AuditEvent } from '../../../lib/audit/types.js';
import { FIXTURES } from '../../helpers/fixtures.js';
import { eventString, goQuote } from '../../helpers/legacy-audit.js';

function eventOf(line: string): AuditEvent {
  const read = readLegacyLine(line);
  if (read.kind !== 'event') throw new Error(`not an event: ${JSON.stringify(read)}`);
  return read.event;
}

describe('readLegacyLine', () => {
  it('reads the line the apiserver test expects for an event with user, groups, user agent and namespace', () => {
    // TestLogEventsLegacy's second case (kubernetes/kubernetes 05c351a9037bd79bf88c56171a951c3097b658da), its
    // regular expression's id and time filled in.
    const line =
      '2017-09-11T19:55:05.123456789Z AUDIT: id="5b2f0c36-5d5c-4c4c-9d61-0c9a4f3a6e11" stage="RequestReceived" ip="127.0.0.1" method="get" user="admin" groups="\\"system:masters\\",\\"system:authenticated\\"" as="<self>" asgroups="<lookup>" user-agent="kube-admin" namespace="default" uri="/apis/rbac.authorization.k8s.io/v1/roles" response="200"';
    expect(eventOf(line)).toEqual({
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      auditID: '5b2f0c36-5d5c-4c4c-9d61-0c9a4f3a6e11',
      requestReceivedTimestamp: '2017-09-11T19:55:05.123456789Z',
      stage: 'RequestReceived',
      verb: 'get',
      requestURI: '/apis/rbac.authorization.k8s.io/v1/roles',
      user: { username: 'admin', groups: ['system:masters', 'system:authenticated'] },
      sourceIPs: ['127.0.0.1'],
      userAgent: 'kube-admin',
      objectRef: { apiGroup: 'rbac.authorization.k8s.io', apiVersion: 'v1', resource: 'roles', namespace: 'default' },
      responseStatus: { metadata: {}, code: 200 },
    });
  });

  it('reads the placeholders of an empty event as absent fields: no user, IP, namespace or status, no impersonation', () => {
    // TestLogEventsLegacy's first case.
    const event = eventOf(
      '2017-09-11T19:55:05Z AUDIT: id="e1" stage="" ip="<unknown>" method="" user="<none>" groups="<none>" as="<self>" asgroups="<lookup>" user-agent="" namespace="<none>" uri="" response="<deferred>"',
    );
    expect(event).toEqual({
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      auditID: 'e1',
      requestReceivedTimestamp: '2017-09-11T19:55:05Z',
    });
  });

  it('unquotes values with escapes as Go prints them: quotes, backslashes, control characters, unicode', () => {
    const user = 'oidc:"Zoë" \\ \u00e9t\u00e9\n\u200b\u{1F600}\x07';
    const line = eventString({
      auditID: 'q-1',
      verb: 'get',
      user: { username: user, groups: ['a,"b"', 'gr\u00fcn'] },
      impersonatedUser: { username: 'sys\tadmin', groups: ['x'] },
      userAgent: 'kubectl/v1.29 "quoted"',
      requestURI: '/api/v1/namespaces/ns/configmaps/caf\u00e9',
      objectRef: { namespace: 'ns' },
      requestReceivedTimestamp: '2024-01-02T03:04:05.000006Z',
    });
    // What Go's %q makes of the name: \" and \\ for quote and backslash, \n and \a, \u200b for
    // the unprintable zero-width space; é and 😀 are printable and stay.
    expect(line).toContain(`user=${goQuote(user)}`);
    expect(goQuote(user)).toBe('"oidc:\\"Zoë\\" \\\\ été\\n\\u200b😀\\a"');
    const event = eventOf(line);
    expect(event.user).toEqual({ username: user, groups: ['a,"b"', 'gr\u00fcn'] });
    expect(event.impersonatedUser).toEqual({ username: 'sys\tadmin', groups: ['x'] });
    expect(event.userAgent).toBe('kubectl/v1.29 "quoted"');
    expect(event.objectRef).toEqual({ apiVersion: 'v1', namespace: 'ns', resource: 'configmaps', name: 'caf\u00e9' });
    expect(event.responseStatus).toBeUndefined();
  });

  it('reads impersonation: as and asgroups, and asgroups <lookup> as no groups given', () => {
    const event = eventOf(
      eventString(
        {
          auditID: 'i-1',
          verb: 'list',
          user: { username: 'system:admin' },
          impersonatedUser: { username: 'bob' },
          requestURI: '/api/v1/pods',
        },
        '2024-01-02T03:04:05Z',
      ),
    );
    expect(event.impersonatedUser).toEqual({ username: 'bob' });
    expect(event.user).toEqual({ username: 'system:admin' });
  });

  it('reads the pre-1.7 two lines of a request: the HTTP method becomes the verb, the response line gives its code', () => {
    // The legacy example of the Kubernetes 1.6 auditing documentation (website, docs/admin/audit.md).
    const text = [
      '2017-03-21T03:57:09.106841886-04:00 AUDIT: id="c939d2a7-1c37-4ef1-b2f7-4ba9b1e43b53" ip="127.0.0.1" method="GET" user="admin" groups="\\"system:masters\\",\\"system:authenticated\\"" as="<self>" asgroups="<lookup>" namespace="default" uri="/api/v1/namespaces/default/pods"',
      '2017-03-21T03:57:09.108403639-04:00 AUDIT: id="c939d2a7-1c37-4ef1-b2f7-4ba9b1e43b53" response="200"',
      '2017-03-21T03:57:10Z AUDIT: id="lonely" response="404"',
    ].join('\n');
    const read = readLegacyText(text);
    expect(read.events.map((e) => [e.line, e.event.verb, e.event.responseStatus])).toEqual([[1, 'list', { metadata: {}, code: 200 }]]);
    expect(read.skipped).toEqual([
      { index: 2, line: 3, reason: 'a legacy response line (id lonely, code 404) with no request line before it' },
    ]);
    expect(read.rejected).toEqual([]);
  });

  it('rejects a malformed line with its reason and reads the lines around it', () => {
    const good = eventString({ auditID: 'g-1', verb: 'get', requestURI: '/healthz' }, '2024-01-02T03:04:05Z');
    const text = [
      good,
      '2024-01-02T03:04:06Z AUDIT: id="bad-1" uri="/api/v1/pods',
      'some other log line',
      `${good.replace('g-1', 'g-2')}\r`,
    ].join('\n');
    const read = readLegacyText(text);
    expect(read.events.map((e) => e.event.auditID)).toEqual(['g-1', 'g-2']);
    expect(read.rejected).toEqual([
      { index: 1, line: 2, auditID: 'bad-1', reason: 'legacy audit line: uri: a quoted value starting at column 44 is not closed' },
      { index: 2, line: 3, reason: 'line is neither JSON nor a kube-apiserver legacy audit line (<time> AUDIT: id="..." ...)' },
    ]);
    expect(readLegacyLine('2024-01-02T03:04:05Z AUDIT: stage="x"')).toEqual({ kind: 'invalid', reason: 'legacy audit line has no id' });
  });

  it('names the field of a line it cannot read, never its value, and an id that is a token without its signature', () => {
    // A JWT as kubectl sends one (header and claims base64url JSON, then a signature).
    const sig = 'c2lnbmF0dXJlLW9mLXRoZS10b2tlbi1ub3QtdG8tbG9n';
    const jwt = `eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.${sig}`;
    const read = readLegacyLine(
      `2024-01-02T03:04:05Z AUDIT: id="${jwt}" method="get" user="admin" groups="Bearer ${jwt}" uri="/api/v1/pods"`,
    );
    expect(read).toMatchObject({ kind: 'invalid', reason: 'legacy audit line: groups is not a list of quoted names' });
    expect(JSON.stringify(read)).not.toContain(sig);
  });

  it('reads every event of a real audit log printed as legacy lines back into the same fields', () => {
    // liggitt/audit2rbac demo.log (test/fixtures/SOURCES.md): 757 v1beta1 events with impersonation,
    // writes, 403s, both stages. The objectRef the apiserver recorded is what the URI must give.
    const events = readFileSync(join(FIXTURES, 'audit2rbac', 'demo.log'), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as AuditEvent);
    expect(events).toHaveLength(757);
    const wrong: unknown[] = [];
    for (const ev of events) {
      const got = eventOf(eventString(ev));
      const want = {
        auditID: ev.auditID,
        stage: ev.stage,
        verb: ev.verb,
        requestURI: ev.requestURI,
        user: ev.user,
        impersonatedUser: ev.impersonatedUser,
        sourceIPs: ev.sourceIPs?.slice(0, 1),
        code: ev.responseStatus?.code,
        objectRef: ev.objectRef === undefined ? undefined : { ...ev.objectRef },
      };
      // A create names its object in the body, which the apiserver reads into objectRef.name; the
      // URI (all a legacy line has) is the collection's.
      if (ev.verb === 'create' && want.objectRef !== undefined) delete want.objectRef.name;
      const { auditID, stage, verb, requestURI, user, impersonatedUser, sourceIPs } = got;
      const have = {
        auditID,
        stage,
        verb,
        requestURI,
        user,
        impersonatedUser,
        sourceIPs,
        code: got.responseStatus?.code,
        objectRef: got.objectRef,
      };
      if (!isDeepStrictEqual(JSON.parse(JSON.stringify(have)), JSON.parse(JSON.stringify(want)))) wrong.push({ have, want });
    }
    expect(wrong).toEqual([]);
  });
});

describe('requestInfo (RequestInfoFactory)', () => {
  it.each([
    [
      '/api/v1/namespaces/default/pods/web-0/exec?command=sh',
      'POST',
      { apiVersion: 'v1', namespace: 'default', resource: 'pods', name: 'web-0', subresource: 'exec' },
      'create',
    ],
    ['/api/v1/watch/namespaces/default/pods', 'GET', { apiVersion: 'v1', namespace: 'default', resource: 'pods' }, 'watch'],
    [
      '/api/v1/namespaces/default/pods?watch=true&resourceVersion=10',
      'GET',
      { apiVersion: 'v1', namespace: 'default', resource: 'pods' },
      'watch',
    ],
    ['/api/v1/namespaces/default/pods?watch=false', 'GET', { apiVersion: 'v1', namespace: 'default', resource: 'pods' }, 'list'],
    [
      '/apis/apps/v1/namespaces/kube-system/deployments/coredns/scale',
      'PUT',
      { apiGroup: 'apps', apiVersion: 'v1', namespace: 'kube-system', resource: 'deployments', name: 'coredns', subresource: 'scale' },
      'update',
    ],
    [
      '/api/v1/namespaces/doomed/finalize',
      'PUT',
      { apiVersion: 'v1', namespace: 'doomed', resource: 'namespaces', name: 'doomed', subresource: 'finalize' },
      'update',
    ],
    ['/api/v1/namespaces/default/secrets', 'DELETE', { apiVersion: 'v1', namespace: 'default', resource: 'secrets' }, 'deletecollection'],
    [
      '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/admin',
      'GET',
      { apiGroup: 'rbac.authorization.k8s.io', apiVersion: 'v1', resource: 'clusterrolebindings', name: 'admin' },
      'get',
    ],
  ])('%s (%s)', (uri, method, objectRef, verb) => {
    expect(requestInfo(uri, method)).toEqual({ objectRef, verb });
  });

  it('reads a non-resource URL as no objectRef, its verb the lower-case method', () => {
    expect(requestInfo('/healthz', 'GET')).toEqual({ verb: 'get' });
    expect(requestInfo('/apis/apps', 'GET')).toEqual({ verb: 'get' });
    expect(
      eventOf(
        eventString(
          { auditID: 'h', verb: 'get', requestURI: '/healthz?verbose', user: { username: 'system:anonymous' } },
          '2024-01-02T03:04:05Z',
        ),
      ),
    ).not.toHaveProperty('objectRef');
  });
});
