import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { RE2JS } from 're2js';

// RE2JS loaded the first time a pattern is compiled, not when the ingest starts: its ~150 kB
// (minified) cost every cold start ~15 ms of CPU to parse (docs/performance.md, "Cold start"),
// and most requests never reach a rule that runs matches() (the shipped ones are scoped to
// anonymous requests, node and service proxies, tokens and hostPath volumes). Rule conditions are
// synchronous and an ES module cannot be imported synchronously, so the bundles carry RE2JS as a
// CommonJS file of its own (re2js.cjs beside the bundle's entry, scripts/build.mjs) and it is
// required from there; the sources (tests, tsc) require the package from node_modules.

const require = createRequire(import.meta.url);

// Where the bundled file is from the module running this code: the entry's directory, or its
// chunks/ directory when the bundler put this code in a chunk. Then the package.
const BUNDLED = ['./re2js.cjs', '../re2js.cjs'];
const CANDIDATES = [...BUNDLED, 're2js'];

let path: string | undefined;
let loaded: typeof RE2JS | undefined;

/**
 * Where RE2JS will be loaded from, found without loading it (a few stats, once). Throws when it
 * is nowhere: a pack that compiles its patterns later checks this at load, so a bundle missing the
 * file fails its start instead of every matches() failing, silently, as no match.
 */
export function re2jsPath(): string {
  if (path === undefined) {
    // The bundled files are looked for with a stat: require.resolve of a candidate that is not
    // there throws MODULE_NOT_FOUND, and the ingest's init paid 1.4-2.2 ms (against 0.2-0.3 ms)
    // for the one it tries first from chunks/ (fresh processes, 7 December).
    path = BUNDLED.map((file) => fileURLToPath(new URL(file, import.meta.url))).find((file) => existsSync(file));
    if (path === undefined) {
      try {
        path = require.resolve('re2js');
      } catch {
        // Not installed either: named below.
      }
    }
    if (path === undefined) throw new Error(`RE2JS (matches()) is not installed: none of ${CANDIDATES.join(', ')} resolves`);
  }
  return path;
}

/** The RE2JS class, loaded on first call. */
export function re2js(): typeof RE2JS {
  loaded ??= (require(re2jsPath()) as { RE2JS: typeof RE2JS }).RE2JS;
  return loaded;
}
