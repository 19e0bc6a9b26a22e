// Builds one tree-shaken ESM bundle per Lambda and the CLI with esbuild.
// Lambda runtime is nodejs22.x, hence --target=node22 (nodejs20.x is deprecated on Lambda).
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { build } from 'esbuild';
import { shippedRuleProblems } from './check-rules.mjs';
import { buildConsole } from './console-build.mjs';
import { lazyBuiltins } from './lazy-builtins.mjs';
import { bundledPackages, writeNotices } from './notices.mjs';
import { buildRe2jsFile } from './re2js-file.mjs';
import { versionDefine } from './version-define.mjs';
import { yamlData } from './yaml-data.mjs';

const quiet = process.argv.includes('--quiet');
// --if-changed (npm run cli, npm start, npm test): skip the build when its inputs are the ones
// dist/ was built from, and otherwise put the new files in place one rename at a time, keeping
// the old chunks: a running `npm start` that lazily imports a chunk after the rebuild still finds
// it. A plain build (npm run build, npm run package) replaces dist/ whole, without stale chunks.
const ifChanged = process.argv.includes('--if-changed');
const STAMP = '.build-inputs';

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
  // The inputs each bundle read: its third-party packages' licences go beside it (scripts/notices.mjs).
  metafile: true,
  // The shipped detection rules (rules/*.yaml), parsed here and bundled as data.
  plugins: [yamlData],
  // The connector's version as a literal (lib/version.ts): a Detection Finding's product version.
  define: versionDefine,
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
  for (const file of ['scripts/build.mjs', 'package.json', 'package-lock.json', 'tsconfig.json'])
    hash.update(`${file}\0`).update(await readFile(file).catch(() => ''));
  return hash.digest('hex');
}

const digest = await inputsDigest();
if (ifChanged && (await readFile(join('dist', STAMP), 'utf8').catch(() => '')) === digest) process.exit(0);

const out = `dist.tmp-${process.pid}`;
await rm(out, { recursive: true, force: true });
// Every shipped condition compiled through every check of the load, beside the bundling: the
// ingest compiles each only when a request first reaches it, so a pack that does not compile
// stops here, before dist/ is replaced (scripts/check-rules.mjs).
const ruleProblems = shippedRuleProblems();
// Awaited after the bundles; a bundling error thrown first is the one reported.
ruleProblems.catch(() => {});
try {
  const [forwarder, ingest, cli, aks, re2Ingest, re2Cli] = await Promise.all([
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
    // RE2JS beside each bundle that evaluates rules (the ingest, the CLI), required on first use.
    buildRe2jsFile(`${out}/ingest/re2js.cjs`, { quiet }),
    buildRe2jsFile(`${out}/re2js.cjs`, { quiet }),
    // The console `serve` hosts under /console, served from dist/console/ beside the CLI.
    buildConsole(process.cwd(), `${out}/console`, { quiet }),
  ]);
  const problems = await ruleProblems;
  if (problems.length > 0) {
    process.stderr.write(`build: the shipped rule pack does not load (${problems.length}):\n${problems.map((p) => `  ${p}\n`).join('')}`);
    await rm(out, { recursive: true, force: true });
    process.exit(1);
  }
  await Promise.all([
    writeNotices(`${out}/forwarder/THIRD-PARTY-NOTICES.txt`, bundledPackages(forwarder)),
    writeNotices(`${out}/ingest/THIRD-PARTY-NOTICES.txt`, bundledPackages(ingest, re2Ingest)),
    writeNotices(`${out}/THIRD-PARTY-NOTICES.txt`, bundledPackages(cli, re2Cli)),
    writeNotices(`${out}/azure/THIRD-PARTY-NOTICES.txt`, bundledPackages(aks)),
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
