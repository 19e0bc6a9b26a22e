// `npm run bench`: bundles every test/bench/*.bench.ts with esbuild, runs each in its own child
// process (so one benchmark's heap does not skew the next), and prints one table of figures,
// floors and ratios. `--json FILE` also writes them for machines; `--quick` makes short runs;
// `--only NAME` runs one benchmark; `--seed N` changes the generated inputs (default 1).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const argv = process.argv.slice(2);
const opt = (name) => {
  const i = argv.indexOf(`--${name}`);
  return i === -1 ? undefined : argv[i + 1];
};
if (argv.includes('--help')) {
  console.log('Usage: npm run bench -- [--quick] [--only NAME] [--seed N] [--json FILE]');
  process.exit(0);
}
const seed = Number(opt('seed') ?? 1);
const quick = argv.includes('--quick');
const only = opt('only');
const jsonOut = opt('json');

const benchDir = join(root, 'test', 'bench');
const names = readdirSync(benchDir)
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.replace(/\.bench\.ts$/, ''))
  .filter((n) => only === undefined || n === only)
  .sort();
const out = mkdtempSync(join(tmpdir(), 'aisoc-bench-'));
const figures = [];
for (const name of names) {
  const entry = join(out, `${name}.mjs`);
  await build({
    stdin: {
      contents: `import { run } from ${JSON.stringify(join(benchDir, `${name}.bench.ts`))};\nconst figures = await run(${JSON.stringify({ seed, root, quick })});\nprocess.stdout.write('\\n@@FIGURES@@' + JSON.stringify(figures) + '\\n');\n`,
      resolveDir: benchDir,
      loader: 'ts',
    },
    outfile: entry,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['better-sqlite3', 'esbuild', 'autocannon'],
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: 'error',
  });
  process.stderr.write(`bench: running ${name} ...\n`);
  const child = spawnSync(process.execPath, ['--expose-gc', entry], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, NODE_PATH: join(root, 'node_modules') },
  });
  const marker = child.stdout.lastIndexOf('@@FIGURES@@');
  if (child.status !== 0 || marker === -1) {
    figures.push({
      bench: name,
      figure: `${name}: failed (exit ${child.status})`,
      value: 0,
      unit: '',
      floor: null,
      floorLabel: '',
      ratio: null,
      goal: '',
      pass: false,
    });
    continue;
  }
  for (const f of JSON.parse(child.stdout.slice(marker + 11).split('\n')[0])) figures.push({ bench: name, ...f });
}

const fmt = (n) => (n === null || n === undefined ? '—' : Number.isInteger(n) ? n.toLocaleString('en-US') : n.toFixed(2));
const rows = figures.map((f) => [
  f.figure,
  `${fmt(f.value)} ${f.unit}`,
  f.floor === null ? '—' : `${fmt(f.floor)} (${f.floorLabel})`,
  fmt(f.ratio),
  f.goal,
  f.pass ? 'yes' : 'NO',
  f.notes ?? '',
]);
const header = ['figure', 'value', 'floor (same run)', 'ratio', 'goal', 'met', 'notes'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
console.log(line(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));
const machine = `node ${process.version}, ${(await import('node:os')).cpus().length} × ${(await import('node:os')).cpus()[0]?.model ?? 'cpu'}, seed ${seed}${quick ? ', quick' : ''}`;
console.log(`\n${machine}`);
if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify({ machine, seed, quick, figures }, null, 2)}\n`);
if (figures.some((f) => f.figure.endsWith('failed'))) process.exitCode = 1;
