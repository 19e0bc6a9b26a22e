// The slip a new user makes with a URL: the address without its scheme (`127.0.0.1:8080/...`,
// `localhost:8080`). Each command stops with exit 2 and says what is missing, still without
// printing the value (it may be a secret set in the wrong variable).
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const SECRET = 'url-without-scheme-secret-Qm4Tz8';

describe('a URL without http:// or https://', () => {
  it.each([['127.0.0.1:8080/v1/ingest/k8s-audit/dev'], ['localhost:8080/v1/ingest/k8s-audit/dev']])(
    'AISOC_INGEST_URL=%s: tail and status say the scheme is missing (exit 2)',
    async (url) => {
      const env = { AISOC_INGEST_URL: url, K8S_AUDIT_SHARED_SECRET: SECRET };
      const runs = [
        await runCli(['tail', '--path', '/nonexistent/audit.log', '--once', '--cluster', 'c'], env),
        await runCli(['status'], env),
      ];
      expect(runs.map((r) => r.code)).toEqual([2, 2]);
      for (const r of runs) {
        expect(r.stderr).toMatch(
          /AISOC_INGEST_URL must be an http\(s\) URL, got <[^>]+> \(not shown: it may hold a credential; it has no http:\/\/ or https:\/\/ in front;/,
        );
        expect(r.stderr).not.toContain(url);
      }
    },
  );

  it.each([['localhost:8080'], ['127.0.0.1:8080'], ['ftp://127.0.0.1:8080']])(
    'status --url %s is a usage error (exit 2), not an unreachable ingest',
    async (url) => {
      const r = await runCli(['status', '--tenant', 'dev', '--url', url], { K8S_AUDIT_SHARED_SECRET: SECRET });
      expect(r.code).toBe(2);
      expect(r.stderr.split('\n')[0]).toMatch(/^aisoc-k8s-audit status: --url must be an http\(s\) URL, got </);
      expect(r.stderr).toContain(url.includes('://') ? 'got <a ftp: URL>' : 'it has no http:// or https:// in front');
      expect(r.stderr).not.toContain('null/v1/status');
    },
  );
});
