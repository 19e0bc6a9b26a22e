// `npm run load [-- --duration 20 --connections 15 --seed 1]`: bundles test/load/load.ts with
// esbuild (as the bench runner bundles benchmarks) and runs it. The bundle goes under
// node_modules/.cache so its external packages (better-sqlite3, autocannon) resolve from the
// project. Needs dist/cli.mjs: `npm run load` builds it first.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { NODE_TEST_BUNDLE } from '../helpers/node-bundle.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cache = join(root, 'node_modules', '.cache');
mkdirSync(cache, { recursive: true });
const out = mkdtempSync(join(cache, 'aisoc-load-'));
try {
  const entry = join(out, 'load.mjs');
  await build({
    entryPoints: [join(root, 'test', 'load', 'load.ts')],
    outfile: entry,
    ...NODE_TEST_BUNDLE,
  });
  const { main } = await import(pathToFileURL(entry).href);
  process.exitCode = await main(process.argv.slice(2), root);
} finally {
  rmSync(out, { recursive: true, force: true });
}
