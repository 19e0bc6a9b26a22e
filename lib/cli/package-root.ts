import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: { root: string; version: string } | undefined;

// The same code runs from lib/cli/*.ts (tests, tsx) and from the dist/cli.mjs bundle: the package
// is the nearest directory above this module whose package.json names aisoc-k8s-audit, wherever
// the command is run from.
function find(): { root: string; version: string } {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'aisoc-k8s-audit') return { root: dir, version: pkg.version ?? '0.0.0' };
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the aisoc-k8s-audit package around this command');
    dir = up;
  }
}

/** The directory of the aisoc-k8s-audit package this command belongs to (not the working directory). */
export function packageRoot(): string {
  cached ??= find();
  return cached.root;
}

/** The package's version, from its package.json. */
export function packageVersion(): string {
  cached ??= find();
  return cached.version;
}
