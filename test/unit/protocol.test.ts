import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { matchRoute, matchStatusRoute } from '../../lib/ingest/request.js';
import {
  GKE_PREFIX,
  INBOX_PREFIX,
  INGEST_PREFIX,
  STATUS_PREFIX,
  splitIngestPath,
  TENANT_ID_PATTERN,
  tenantFromIngestUrl,
} from '../../lib/protocol.js';
import { codeLines, sourceFiles, sourceText } from '../helpers/source.js';

describe('the wire protocol', () => {
  it('routes the documented paths (docs/ingest.md) to the kinds the ingest serves', () => {
    expect(matchRoute('/v1/ingest/k8s-audit/acme')).toEqual({ kind: 'ingest', tenant: 'acme' });
    expect(matchRoute('/v1/ingest/gke-audit/acme')).toEqual({ kind: 'gke', tenant: 'acme' });
    expect(matchRoute('/v1/inbox/tok')).toEqual({ kind: 'inbox', token: 'tok' });
    expect(matchStatusRoute('/v1/status/k8s-audit/acme')).toBe('acme');
    expect([INGEST_PREFIX, GKE_PREFIX, INBOX_PREFIX, STATUS_PREFIX]).toEqual([
      '/v1/ingest/k8s-audit/',
      '/v1/ingest/gke-audit/',
      '/v1/inbox/',
      '/v1/status/k8s-audit/',
    ]);
  });

  it('splits a sender URL at the dedicated route, keeping an API Gateway stage prefix', () => {
    expect(splitIngestPath('/prod/v1/ingest/k8s-audit/acme')).toEqual({ prefix: '/prod', tenant: 'acme', trailingSlash: false });
    expect(splitIngestPath('/v1/ingest/k8s-audit/acme/')).toEqual({ prefix: '', tenant: 'acme', trailingSlash: true });
    expect(splitIngestPath('/v1/ingest/k8s-audit/')).toBeNull();
    expect(splitIngestPath('/v1/ingest/k8s-audit/a/b')).toBeNull();
    expect(splitIngestPath('/v1/inbox/tok')).toBeNull();
  });

  it('reads the tenant of an ingest URL, decoded, and null for anything else', () => {
    expect(tenantFromIngestUrl('https://aisoc.example/v1/ingest/k8s-audit/acme%3Aprod')).toBe('acme:prod');
    expect(tenantFromIngestUrl('https://aisoc.example/stage/v1/ingest/k8s-audit/acme/')).toBe('acme');
    expect(tenantFromIngestUrl('https://aisoc.example/v1/inbox/tok')).toBeNull();
    expect(tenantFromIngestUrl('https://aisoc.example/v1/ingest/k8s-audit/%E0%A4%A')).toBeNull();
    expect(tenantFromIngestUrl('not a url')).toBeNull();
    expect(TENANT_ID_PATTERN.test('acme:prod')).toBe(true);
  });
});

// Code (not comments) under lib/, functions/ and infra/azure/ that spells a header name or a route
// prefix itself instead of importing lib/protocol.ts: a second spelling is how the two sides drift.
const SPELLED = /x-aisoc-[a-z0-9-]+|\/v1\/(?:ingest|inbox|status)\//i;

describe('protocol names are spelled once', () => {
  it('no file but lib/protocol.ts spells a header name or a route prefix in code', () => {
    const offenders: string[] = [];
    for (const file of ['lib', 'functions', 'infra/azure'].flatMap(sourceFiles)) {
      if (file === join('lib', 'protocol.ts')) continue;
      codeLines(sourceText(file)).forEach((line, i) => {
        if (SPELLED.test(line)) offenders.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });

  it('the check sees a spelled header and ignores one in a comment', () => {
    expect(codeLines("// X-AiSOC-K8s-Token\nconst h = 'X-AiSOC-K8s-Token';").filter((l) => SPELLED.test(l))).toHaveLength(1);
  });
});
