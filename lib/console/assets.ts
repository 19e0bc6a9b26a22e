import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The console's static files, as `scripts/build.mjs` writes them to `dist/console/`. */
export interface ConsoleAssets {
  html: Buffer;
  js: Buffer;
  css: Buffer;
}

/** The files of the console bundle, by the name the browser asks for. */
export const ASSET_FILES = { html: 'index.html', js: 'app.js', css: 'app.css' } as const;

/** Reads the console's files from a directory; null when they are not all there (not built). */
export function readConsoleAssets(dir: string): ConsoleAssets | null {
  const paths = Object.values(ASSET_FILES).map((f) => join(dir, f));
  if (!paths.every((p) => existsSync(p))) return null;
  return {
    html: readFileSync(join(dir, ASSET_FILES.html)),
    js: readFileSync(join(dir, ASSET_FILES.js)),
    css: readFileSync(join(dir, ASSET_FILES.css)),
  };
}

/**
 * Finds the built console next to the running bundle: `dist/console/` beside `dist/cli.mjs`, or
 * beside the `dist/chunks/` a split chunk runs from. Null when the console was not built.
 */
export function findConsoleAssets(moduleUrl: string = import.meta.url): ConsoleAssets | null {
  const here = dirname(fileURLToPath(moduleUrl));
  for (const dir of [join(here, 'console'), join(here, '..', 'console')]) {
    const assets = readConsoleAssets(dir);
    if (assets !== null) return assets;
  }
  return null;
}
