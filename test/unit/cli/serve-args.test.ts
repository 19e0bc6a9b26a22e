import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';

describe('serve --port', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it.each(['99999', '65536', 'abc', '-1'])('%s is a usage error (exit 2) naming the range, not a stack trace from listen', async (port) => {
    const dir = mkdtempSync(join(tmpdir(), 'aisoc-serve-port-'));
    dirs.push(dir);

    const { code, stderr } = await runCli(['serve', '--port', port, '--data-dir', dir, '--no-console']);

    expect(code).toBe(2);
    expect(stderr).toContain(`--port must be a port from 0 to 65535 (0 picks a free one), got "${port}"`);
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});

// A new operator learns serve's routes and what --dev shows from this text: it must list every
// route serve answers (the GKE push route and the status route were missing) and not say the dev
// secret is printed, which serve never does (the banner's curl reads it from the file).
describe('serve --help', () => {
  it('lists every route serve answers and says the dev secret and console token stay in their files', async () => {
    const { code, stdout } = await runCli(['serve', '--help']);

    expect(code).toBe(0);
    for (const route of [
      'POST /v1/ingest/k8s-audit/<tenant_id>',
      'POST /v1/ingest/gke-audit/<tenant_id>',
      'POST /v1/inbox/<token>',
      'GET /v1/status/k8s-audit/<tenant_id>',
      'GET /healthz',
      'GET /metrics',
    ])
      expect(stdout).toContain(route);
    expect(stdout).toContain('(the secret is never printed)');
    expect(stdout).toContain('<data-dir>/dev-console-token');
    expect(stdout).not.toMatch(/print it with|prints a console token/);
  });
});
