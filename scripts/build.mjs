// Builds one tree-shaken ESM bundle per Lambda and the CLI with esbuild.
// Lambda runtime is nodejs22.x, hence --target=node22 (nodejs20.x is deprecated on Lambda).
import { chmod, rm } from 'node:fs/promises';
import { build } from 'esbuild';

const quiet = process.argv.includes('--quiet');

// better-sqlite3 is a native addon: it cannot be bundled and is loaded only when the
// SQLite sink is configured. The banner gives ESM bundles a `require` for CJS dependencies.
const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  mainFields: ['module', 'main'],
  sourcemap: false,
  legalComments: 'none',
  logLevel: quiet ? 'error' : 'info',
  external: ['better-sqlite3'],
  banner: {
    js: "import { createRequire as __aisocCreateRequire } from 'node:module'; const require = __aisocCreateRequire(import.meta.url);",
  },
};

await rm('dist', { recursive: true, force: true });
await Promise.all([
  build({
    ...common,
    entryPoints: { index: 'functions/forwarder.ts' },
    outdir: 'dist/forwarder',
    outExtension: { '.js': '.mjs' },
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
  }),
  build({
    ...common,
    entryPoints: { index: 'functions/ingest.ts' },
    outdir: 'dist/ingest',
    outExtension: { '.js': '.mjs' },
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
  }),
  build({
    ...common,
    entryPoints: { cli: 'lib/cli/bin.ts' },
    outdir: 'dist',
    outExtension: { '.js': '.mjs' },
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    banner: { js: `#!/usr/bin/env node\n${common.banner.js}` },
  }),
]);
await chmod('dist/cli.mjs', 0o755);
