// The build's check of the shipped rule pack (rules/*.yaml): every condition compiled as an
// operator's is at load, through every check, and the build stopped with each problem's file, id
// and CEL error. The ingest compiles a shipped condition only the first time a request reaches
// it (lib/rules/engine.ts, compileRule), so this is where "a rule that does not compile fails"
// holds for the shipped pack: before a bundle exists, not at a cold start or a first request.
// Also a command: `node scripts/check-rules.mjs [dir]` exits 1 naming every problem.
import { readdir, readFile, rm } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Every problem of the rule files in `dir` (default: the shipped pack), as `file: id: problem` lines. */
export async function shippedRuleProblems(dir = join(ROOT, 'rules')) {
  const files = {};
  const problems = [];
  const names = (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n)).sort();
  for (const name of names) {
    const path = resolve(dir, name);
    const shown = relative(ROOT, path);
    // The name the bundles give it (lib/rules/shipped.ts: rules/<file>), or the path outside the repository.
    const file = shown.startsWith('..') || isAbsolute(shown) ? path : shown;
    try {
      // As the build's YAML plugin parses it (scripts/yaml-data.mjs).
      files[file] = parse(await readFile(path, 'utf8'));
    } catch (err) {
      problems.push(`${file}: not valid YAML: ${String(err?.message ?? err).split('\n')[0]}`);
    }
  }
  // The engine is TypeScript: bundled for this one call, beside node_modules so its packages
  // (cel-js, RE2JS, yaml) resolve from there.
  const out = join(ROOT, 'node_modules', '.cache', `aisoc-check-rules-${process.pid}.mjs`);
  await build({
    entryPoints: [join(ROOT, 'lib', 'rules', 'check-pack.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    packages: 'external',
    outfile: out,
    logLevel: 'error',
  });
  try {
    const { packProblems } = await import(pathToFileURL(out).href);
    return [...problems, ...packProblems(files)];
  } finally {
    await rm(out, { force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const problems = await shippedRuleProblems(process.argv[2]);
  if (problems.length > 0) {
    process.stderr.write(
      `the rule pack does not load (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  ${p}\n`).join('')}`,
    );
    process.exit(1);
  }
}
