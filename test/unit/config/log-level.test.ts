import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../../lib/cli/main.js';
import { ConfigError } from '../../../lib/config/env.js';
import { loadForwarderConfig } from '../../../lib/config/forwarder.js';
import { loadTailConfig } from '../../../lib/config/tail.js';
import { loadIngestConfig } from '../../../lib/ingest/config.js';
import { captureIo } from '../../helpers/cli.js';

const URL_OK = 'https://aisoc.example.com/v1/ingest/k8s-audit/acme';

/** The problems a loader names for `env`, or [] when it accepts it. */
function problemsOf(load: () => unknown): string[] {
  try {
    load();
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

// Every part that logs reads LOG_LEVEL: the ingest (Lambda and serve), the forwarder (Lambda,
// backfill, redrive), tail and connector run. A misspelt level used to run at INFO without a word.
const LOADERS: [string, (env: Record<string, string>) => unknown][] = [
  ['the ingest', (env) => loadIngestConfig({ K8S_AUDIT_SHARED_SECRET: 's3cret', ...env })],
  ['the forwarder', (env) => loadForwarderConfig({ AISOC_INGEST_URL: URL_OK, K8S_AUDIT_SHARED_SECRET: 's3cret', ...env })],
  ['tail', (env) => loadTailConfig({ AISOC_INGEST_URL: URL_OK, K8S_AUDIT_SHARED_SECRET: 's3cret', ...env })],
];

describe('LOG_LEVEL', () => {
  it.each(LOADERS)('%s refuses a level the logger does not know, in the one error that names every bad variable', (_name, load) => {
    const problems = problemsOf(() => load({ LOG_LEVEL: 'verbose', POWERTOOLS_LOG_LEVEL: 'loud', K8S_AUDIT_SEVERITY: 'loud' }));
    expect(problems).toContain('LOG_LEVEL must be DEBUG, INFO, WARN or ERROR (or TRACE, CRITICAL, SILENT), got "verbose"');
    expect(problems).toContain('POWERTOOLS_LOG_LEVEL must be DEBUG, INFO, WARN or ERROR (or TRACE, CRITICAL, SILENT), got "loud"');
  });

  it.each(LOADERS)('%s takes every level in any case, and no level at all', (_name, load) => {
    for (const level of ['debug', 'INFO', 'Warn', 'error', 'TRACE', 'critical', 'SILENT', ' info ']) {
      expect(
        problemsOf(() => load({ LOG_LEVEL: level })),
        level,
      ).toEqual([]);
    }
    expect(problemsOf(() => load({}))).toEqual([]);
  });

  it('stops serve and tail with exit 2, naming it', async () => {
    const data = mkdtempSync(join(tmpdir(), 'aisoc-log-level-'));
    const serve = captureIo({ LOG_LEVEL: 'bogus', K8S_AUDIT_SHARED_SECRET: 's3cret' });
    expect(await main(['serve', '--port', '0', '--data-dir', data], serve.io)).toBe(2);
    rmSync(data, { recursive: true, force: true });
    expect(serve.err()).toContain('LOG_LEVEL must be DEBUG, INFO, WARN or ERROR');
    const tail = captureIo({ LOG_LEVEL: 'bogus', AISOC_INGEST_URL: URL_OK, K8S_AUDIT_SHARED_SECRET: 's3cret' });
    expect(await main(['tail', '--path', '/nonexistent-audit.log', '--once'], tail.io)).toBe(2);
    expect(tail.err()).toContain('LOG_LEVEL must be DEBUG, INFO, WARN or ERROR');
  });
});
