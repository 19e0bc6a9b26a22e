// `npm run bench`: bundles every test/bench/*.bench.ts with esbuild, runs each in its own child
// process (so one benchmark's heap does not skew the next), and prints one table of figures,
// floors and ratios. `--json FILE` also writes them for machines; `--quick` makes short runs;
// `--only NAME` runs one benchmark; `--seed N` changes the generated inputs (default 1).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { NODE_TEST_BUNDLE } from '../helpers/node-bundle.mjs';

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
const every = readdirSync(benchDir)
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.replace(/\.bench\.ts$/, ''))
  .sort();
// A mistyped --only (normalize) would otherwise run nothing and print an empty table, exit 0.
if (only !== undefined && !every.includes(only)) {
  process.stderr.write(`bench: no benchmark ${JSON.stringify(only)}; --only takes one of ${every.join(', ')}\n`);
  process.exit(2);
}
const names = every.filter((n) => only === undefined || n === only);
// The bundles as built for this run, copied aside: another build (a test, a second terminal)
// deletes and rewrites dist/ and would pull them out from under a running benchmark. The copy
// lives under node_modules/ so the bundles still resolve their external better-sqlite3.
if (!existsSync(join(root, 'dist', 'cli.mjs')))
  throw new Error('dist/ is missing: npm run bench builds it; run node scripts/build.mjs first');
const cache = join(root, 'node_modules', '.cache');
mkdirSync(cache, { recursive: true });
// The bundled benchmarks live under node_modules/ too: one that opens the SQLite store itself
// (the console's) imports the external better-sqlite3, which ESM resolves only by walking up.
const out = mkdtempSync(join(cache, 'aisoc-bench-run-'));
const dist = join(mkdtempSync(join(cache, 'aisoc-bench-')), 'dist');
cpSync(join(root, 'dist'), dist, { recursive: true });
const loadBefore = loadavg()[0];
const figures = [];
for (const name of names) {
  const entry = join(out, `${name}.mjs`);
  await build({
    stdin: {
      contents: `import { run } from ${JSON.stringify(join(benchDir, `${name}.bench.ts`))};\nconst figures = await run(${JSON.stringify({ seed, root, dist, quick })});\nprocess.stdout.write('\\n@@FIGURES@@' + JSON.stringify(figures) + '\\n');\n`,
      resolveDir: benchDir,
      loader: 'ts',
    },
    outfile: entry,
    ...NODE_TEST_BUNDLE,
  });
  process.stderr.write(`bench: running ${name} ...\n`);
  // AISOC_BENCH_FLAGS: node flags for each benchmark process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const flags = (process.env.AISOC_BENCH_FLAGS ?? '').split(' ').filter((f) => f !== '');
  const child = spawnSync(process.execPath, [...flags, '--expose-gc', entry], {
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
      failed: true,
    });
    continue;
  }
  for (const f of JSON.parse(child.stdout.slice(marker + 11).split('\n')[0])) figures.push({ bench: name, ...f });
}

// Rows in the order of issue 7's goal table; anything else after them, in run order.
const ROW_ORDER = [/^normalise/, /^forwarder MB\/s/, /^ingest/, /^tail/, /^cold start/, /^forwarder Lambda peak RSS/];
const rank = (f) => {
  const i = ROW_ORDER.findIndex((re) => re.test(f.figure));
  return i === -1 ? ROW_ORDER.length : i;
};
figures.sort((a, b) => rank(a) - rank(b));

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
rmSync(dirname(dist), { recursive: true, force: true });
rmSync(out, { recursive: true, force: true });
// The machine and how busy it was: every figure is a ratio to a floor of the same run because
// the machines these run on are shared, but a loaded machine still widens the tails (p99).
const machine = {
  node: process.version,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  loadAverage1m: { start: Math.round(loadBefore * 100) / 100, end: Math.round(loadavg()[0] * 100) / 100 },
};
console.log(
  `\nnode ${machine.node}, ${machine.cpus} × ${machine.cpuModel}, load average (1 min) ${machine.loadAverage1m.start} at the start, ${machine.loadAverage1m.end} at the end; seed ${seed}${quick ? ', quick' : ''}`,
);
if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify({ machine, seed, quick, figures }, null, 2)}\n`);
if (figures.some((f) => f.failed)) process.exitCode = 1;
