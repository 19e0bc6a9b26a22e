// Builds one tree-shaken ESM bundle per Lambda and the CLI with esbuild.
// Lambda runtime is nodejs22.x, hence --target=node22 (nodejs20.x is deprecated on Lambda).
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { build } from 'esbuild';
import { buildConsole } from './console-build.mjs';
import { yamlData } from './yaml-data.mjs';

const quiet = process.argv.includes('--quiet');
// --if-changed (npm run cli, npm start, npm test): skip the build when its inputs are the ones
// dist/ was built from, and otherwise put the new files in place one rename at a time, keeping
// the old chunks: a running `npm start` that lazily imports a chunk after the rebuild still finds
// it. A plain build (npm run build, npm run package) replaces dist/ whole, without stale chunks.
const ifChanged = process.argv.includes('--if-changed');
const STAMP = '.build-inputs';

// Two Node builtins the AWS SDK imports at the top of modules every SDK client loads at init,
// which cost a Lambda's cold start for nothing (docs/performance.md, "Cold start"):
// - `node:http2` (with assert and the http2 internals: 10-25 ms of init here) is imported by
//   @smithy/node-http-handler for its HTTP/2 handler, which the Kinesis client defaults to for
//   SubscribeToShard. Our sinks send over HTTP/1.1 (NodeHttpHandler), so no Lambda of ours opens
//   an HTTP/2 session; the stand-in loads the real module the first time anything touches it
//   (`process.getBuiltinModule`: Node >= 20.16 and 22.3).
// - `node:process` as an ES module (imported by the SDK's user-agent code) is a facade built by
//   reading every property of `process`, lazily computed getters included (~7 ms here), where
//   the global `process` is the same object for free.
// A name a bundled module imports and a stand-in does not export fails the build, not a run.
const LAZY_BUILTINS = {
  http2: `
let real;
const load = () => (real ??= process.getBuiltinModule('node:http2'));
export const connect = (...args) => load().connect(...args);
export const constants = new Proxy({}, { get: (_, name) => load().constants[name] });
export default { connect, constants };
`,
  process: `
const p = globalThis.process;
export const env = p.env;
export const versions = p.versions;
export default p;
`,
};
const lazyBuiltins = {
  name: 'aisoc-lazy-builtins',
  setup(b) {
    b.onResolve({ filter: /^(node:)?(http2|process)$/ }, (args) => ({ path: args.path.replace(/^node:/, ''), namespace: 'aisoc-builtin' }));
    b.onLoad({ filter: /.*/, namespace: 'aisoc-builtin' }, (args) => ({ contents: LAZY_BUILTINS[args.path], loader: 'js' }));
  },
};

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
  // The shipped detection rules (rules/*.yaml), parsed here and bundled as data.
  plugins: [yamlData],
  banner: {
    js: "import { createRequire as __aisocCreateRequire } from 'node:module'; const require = __aisocCreateRequire(import.meta.url);",
  },
};
// The Lambda bundles: builtins above, and minified (V8 compiles ~half the bytes at init: a few ms
// per cold start with an SDK client); keepNames keeps function and class names in stack traces
// and `constructor.name`.
const lambda = { ...common, minify: true, keepNames: true, plugins: [lazyBuiltins, yamlData] };

/** A digest of everything the bundles are built from. */
async function inputsDigest() {
  const hash = createHash('sha256');
  const walk = async (dir) => {
    // A directory a checkout does not have (a scratch copy without rules/) adds nothing.
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile())
        hash
          .update(`${path}\0`)
          .update(await readFile(path))
          .update('\0');
    }
  };
  for (const dir of ['lib', 'functions', 'rules', 'infra/azure', 'web', 'scripts']) await walk(dir);
  for (const file of ['scripts/build.mjs', 'package-lock.json', 'tsconfig.json'])
    hash.update(`${file}\0`).update(await readFile(file).catch(() => ''));
  return hash.digest('hex');
}

const digest = await inputsDigest();
if (ifChanged && (await readFile(join('dist', STAMP), 'utf8').catch(() => '')) === digest) process.exit(0);

const out = `dist.tmp-${process.pid}`;
await rm(out, { recursive: true, force: true });
try {
  await Promise.all([
    build({
      ...lambda,
      entryPoints: { index: 'functions/forwarder.ts' },
      outdir: `${out}/forwarder`,
      outExtension: { '.js': '.mjs' },
      splitting: true,
      chunkNames: 'chunks/[name]-[hash]',
    }),
    build({
      ...lambda,
      entryPoints: { index: 'functions/ingest.ts' },
      outdir: `${out}/ingest`,
      outExtension: { '.js': '.mjs' },
      splitting: true,
      chunkNames: 'chunks/[name]-[hash]',
    }),
    build({
      ...common,
      entryPoints: { cli: 'lib/cli/bin.ts' },
      outdir: out,
      outExtension: { '.js': '.mjs' },
      splitting: true,
      chunkNames: 'chunks/[name]-[hash]',
      banner: { js: `#!/usr/bin/env node\n${common.banner.js}` },
    }),
    // The AKS forwarder for Azure Functions: one file (the v3 model loads `scriptFile` as is), with
    // host.json and function.json beside it, so dist/azure is the function app to zip-deploy.
    build({
      ...common,
      minify: true,
      keepNames: true,
      entryPoints: { index: 'infra/azure/aks-forwarder/index.ts' },
      outdir: `${out}/azure/aks-forwarder`,
      outExtension: { '.js': '.mjs' },
    }),
    // The console `serve` hosts under /console, served from dist/console/ beside the CLI.
    buildConsole(process.cwd(), `${out}/console`, { quiet }),
  ]);
  await chmod(`${out}/cli.mjs`, 0o755);
  await mkdir(`${out}/azure/aks-forwarder`, { recursive: true });
  await copyFile('infra/azure/host.json', `${out}/azure/host.json`);
  await copyFile('infra/azure/aks-forwarder/function.json', `${out}/azure/aks-forwarder/function.json`);
  await writeFile(join(out, STAMP), digest);
  if (ifChanged) {
    // Chunks first, entry points last: an entry point never names a chunk that is not there yet.
    const files = [];
    const walk = async (dir) => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await walk(path);
        else files.push(relative(out, path));
      }
    };
    await walk(out);
    files.sort((a, b) => Number(a.includes('chunks/') === false) - Number(b.includes('chunks/') === false));
    for (const file of files) {
      await mkdir(join('dist', file, '..'), { recursive: true });
      await rename(join(out, file), join('dist', file));
    }
  } else {
    const old = `dist.old-${process.pid}`;
    const had = await stat('dist').then(
      () => true,
      () => false,
    );
    if (had) await rename('dist', old);
    await rename(out, 'dist');
    if (had) await rm(old, { recursive: true, force: true });
  }
} finally {
  await rm(out, { recursive: true, force: true });
}
