// The esbuild options every test-side bundle shares (the CLI built for a test, each benchmark,
// the load run): ESM for the Node that runs the tests here (the shipped Lambda bundles target
// node22 in scripts/build.mjs), native and CLI-only packages left external, and a `require` for
// the CJS dependencies bundled in.
import { versionDefine } from '../../scripts/version-define.mjs';
import { yamlData } from '../../scripts/yaml-data.mjs';

export const NODE_TEST_BUNDLE = Object.freeze({
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['better-sqlite3', 'esbuild'],
  // The shipped detection rules, parsed and bundled as data as scripts/build.mjs does.
  plugins: [yamlData],
  // The connector's version, as scripts/build.mjs defines it.
  define: versionDefine,
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'error',
});
