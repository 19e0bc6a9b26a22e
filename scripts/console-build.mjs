// How the console's browser files are built: shared by scripts/build.mjs (dist/console/) and the
// tests' private CLI bundles, so both serve the same thing.
import { copyFile, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

/** The console's files copied as they are, beside the bundled app.js. */
export const CONSOLE_STATIC_FILES = ['index.html', 'app.css'];

/**
 * Bundles web/console/app.ts into `<outdir>/app.js` and copies the page and stylesheet: one
 * browser script, no framework, nothing fetched from a CDN (the console works offline).
 */
export async function buildConsole(root, outdir, { quiet = true } = {}) {
  root = resolve(root);
  outdir = resolve(root, outdir);
  await build({
    absWorkingDir: root,
    entryPoints: { app: 'web/console/app.ts' },
    outdir,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: quiet ? 'error' : 'info',
  });
  await mkdir(outdir, { recursive: true });
  await Promise.all(CONSOLE_STATIC_FILES.map((f) => copyFile(join(root, 'web', 'console', f), join(outdir, f))));
}
