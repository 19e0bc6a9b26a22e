// Shared by the tail integration tests: a private build of the CLI (so a test never races
// `npm run build` of another test over dist/), a real local ingest with the SQLite sink, and a
// CommandIo that captures what a command printed.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { loadIngestConfig } from '../../lib/config/ingest.js';
import { type IngestServer, startIngestServer } from '../../lib/ingest/server.js';

const ROOT = join(import.meta.dirname, '../..');

/** Bundles `lib/cli/bin.ts` as `npm run build` does, into a temp dir; returns the path of cli.mjs. */
export async function buildCliBundle(): Promise<{ cli: string; cleanup: () => void }> {
  const outdir = mkdtempSync(join(tmpdir(), 'aisoc-tail-cli-'));
  await build({
    absWorkingDir: ROOT,
    entryPoints: { cli: 'lib/cli/bin.ts' },
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['better-sqlite3'],
    logLevel: 'error',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  // Readable by an unprivileged user too (the unreadable-file check runs as `nobody` under root).
  chmodSync(outdir, 0o755);
  return { cli: join(outdir, 'cli.mjs'), cleanup: () => rmSync(outdir, { recursive: true, force: true }) };
}

/** The real local ingest on 127.0.0.1 with the SQLite sink in `dataDir`. */
export async function startLocalIngest(dataDir: string, secret: string | null): Promise<IngestServer> {
  const env: Record<string, string> = { EVENTS_SINK: 'sqlite', AISOC_DATA_DIR: dataDir };
  if (secret !== null) env.K8S_AUDIT_SHARED_SECRET = secret;
  return startIngestServer({ config: loadIngestConfig(env, { runtime: 'local' }) });
}

/** A CommandIo whose stdout and stderr are collected as text. */
export { captureIo } from '../helpers/cli.js';
