import { describe, expect, it } from 'vitest';
import { lowerCaseHeaders, matchRoute, queryParam, TENANT_ID_PATTERN } from '../../../lib/ingest/request.js';

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
