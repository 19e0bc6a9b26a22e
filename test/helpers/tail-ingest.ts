import { tmpdir } from 'node:os';
import { type IngestServer, startIngestServer } from '../../lib/ingest/adapters/server.js';
import { loadIngestConfig } from '../../lib/ingest/config.js';
import { buildCliBundle } from './cli-bundle.js';

/** A private build of the CLI under the temp dir, where any user can run it (see `buildCliBundle`). */
export function buildTailCliBundle(): Promise<{ cli: string; cleanup: () => void }> {
  return buildCliBundle(tmpdir(), 'aisoc-tail-cli-');
}

/** The real local ingest on 127.0.0.1 with the SQLite sink in `dataDir`; `extraEnv` sets more of its configuration. */
export async function startLocalIngest(
  dataDir: string,
  secret: string | null,
  log?: (entry: Record<string, unknown>) => void,
  extraEnv: Record<string, string> = {},
): Promise<IngestServer> {
  const env: Record<string, string> = { EVENTS_SINK: 'sqlite', AISOC_DATA_DIR: dataDir, ...extraEnv };
  if (secret !== null) env.K8S_AUDIT_SHARED_SECRET = secret;
  return startIngestServer({ config: loadIngestConfig(env, { runtime: 'local' }), ...(log ? { log } : {}) });
}

/** A CommandIo whose stdout and stderr are collected as text. */
export { captureIo } from './cli.js';
