// RE2JS (linear-time matches(), docs/detection-rules.md) as a CommonJS file of its own, written
// beside each bundle that evaluates rules by scripts/build.mjs: lib/rules/re2.ts requires it the
// first time a pattern is compiled, so a cold start that runs no matches() never parses it.
import { createRequire } from 'node:module';
import { build } from 'esbuild';

/** Writes RE2JS, bundled and minified for Node 22, to `outfile`. */
export function buildRe2jsFile(outfile, { quiet = false } = {}) {
  return build({
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    minify: true,
    legalComments: 'none',
    // Its licence goes beside the bundle (scripts/notices.mjs).
    metafile: true,
    logLevel: quiet ? 'error' : 'info',
    entryPoints: [createRequire(import.meta.url).resolve('re2js')],
    outfile,
  });
}
