import { describe, expect, it } from 'vitest';
import { hashToken } from '../../../lib/ingest/auth.js';
import { loggablePath, lowerCaseHeaders, matchRoute, queryParam } from '../../../lib/ingest/request.js';
import { TENANT_ID_PATTERN } from '../../../lib/protocol.js';

// No configured secret matches: what the path's shape alone hides.
const NO_SECRET = (): boolean => false;
describe('matchRoute', () => {
  it.each([
    ['/v1/ingest/k8s-audit/acme', { kind: 'ingest', tenant: 'acme' }],
    ['/v1/ingest/k8s-audit/acme/', { kind: 'ingest', tenant: 'acme' }],
    ['/v1/inbox/aik8s_tok', { kind: 'inbox', token: 'aik8s_tok' }],
    ['/v1/ingest/gke-audit/acme', { kind: 'gke', tenant: 'acme' }],
    ['/v1/ingest/gke-audit/', { kind: 'none' }],
    ['/v1/ingest/k8s-audit/', { kind: 'none' }],
    ['/v1/ingest/k8s-audit/a/b', { kind: 'none' }],
    ['/v1/ingest/other/acme', { kind: 'none' }],
    ['/', { kind: 'none' }],
  ])('%s', (path, route) => {
    expect(matchRoute(path)).toEqual(route);
  });
});

describe('lowerCaseHeaders', () => {
  it('folds names to lower case and joins repeated values', () => {
    expect(lowerCaseHeaders({ 'X-A': '1', 'x-a': ['2', '3'], 'Content-Type': 'application/json', Skip: undefined })).toEqual({
      'x-a': '1, 2, 3',
      'content-type': 'application/json',
    });
  });
});

describe('queryParam', () => {
  it('reads URLSearchParams and plain objects', () => {
    expect([
      queryParam(new URLSearchParams('cluster=a'), 'cluster'),
      queryParam({ cluster: 'b' }, 'cluster'),
      queryParam(undefined, 'cluster'),
    ]).toEqual(['a', 'b', undefined]);
  });
});

describe('TENANT_ID_PATTERN', () => {
  it('allows 1 to 128 characters starting with a letter or digit', () => {
    expect(['a', '0', 'a.b_c:d-e', 'x'.repeat(128)].every((t) => TENANT_ID_PATTERN.test(t))).toBe(true);
    expect(['', '_a', 'x'.repeat(129), 'a b', 'a/b', 'é'].some((t) => TENANT_ID_PATTERN.test(t))).toBe(false);
  });
});

describe('loggablePath', () => {
  const secret = 'k8s-audit-shared-secret-Zq4vN8pW2xR7tY1u';
  const token = 'aik8s_Qm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg';

  it('keeps the ingest route and plain route words', () => {
    expect(loggablePath('/v1/ingest/k8s-audit/acme', NO_SECRET)).toBe('/v1/ingest/k8s-audit/acme');
    expect(loggablePath('/v1/ingest/gke-audit/acme', NO_SECRET)).toBe('/v1/ingest/gke-audit/acme');
    expect(loggablePath('/healthz', NO_SECRET)).toBe('/healthz');
    expect(loggablePath('/forward', NO_SECRET)).toBe('/forward');
  });

  it('replaces an inbox token by the id `inbox list` shows, and whatever follows it', () => {
    const id = hashToken(token).slice(0, 16);
    expect(loggablePath(`/v1/inbox/${token}`, NO_SECRET)).toBe(`/v1/inbox/<id:${id}>`);
    expect(loggablePath(`/v1/inbox/${token}/x/y`, NO_SECRET)).toBe(`/v1/inbox/<id:${id}>/<redacted>`);
    expect(loggablePath(`/v1/inbox/${token}?cluster=a`, NO_SECRET)).toBe(`/v1/inbox/<id:${id}>`);
    expect(loggablePath('/v1/inbox/', NO_SECRET)).toBe('/v1/inbox/');
    // Not a token inbox create makes (the shared secret pasted there): no id, so no hash of it either.
    expect(loggablePath(`/v1/inbox/${secret}`, NO_SECRET)).toBe('/v1/inbox/<redacted>');
    expect(loggablePath(`/v1/inbox/${secret}/x`, NO_SECRET)).toBe('/v1/inbox/<redacted>/<redacted>');
  });

  it('redacts anything else that could be a credential sent to the wrong path', () => {
    expect(loggablePath(`/v1/ingest/${secret}`, NO_SECRET)).toBe('/v1/ingest/<redacted>');
    expect(loggablePath(`/v1/ingest/k8s-audit/${encodeURIComponent('a/../b')}`, NO_SECRET)).toBe('/v1/ingest/k8s-audit/<redacted>');
    expect(loggablePath(`/inbox/${token}`, NO_SECRET)).toBe('/inbox/<redacted>');
    // A base64 secret cut at its own slashes: pieces of 16 characters or more, or with + or =, are not shown.
    expect(loggablePath('/v1/inbox-typo/Zq4vN8pW2xR7tY1u/abc+def=', NO_SECRET)).toBe('/v1/inbox-typo/<redacted>/<redacted>');
    expect(loggablePath(`/${'a/'.repeat(300)}`, NO_SECRET).length).toBeLessThanOrEqual(257);
  });
});
