import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');

// docs/performance.md: `npm run bench -- --only ingest`, "one benchmark: normalise, forwarder,
// ingest, tail, coldstart, console". A name that is none of them (`normalize`) ran nothing and
// printed an empty table with exit 0, which reads as a benchmark with no figures.
describe('npm run bench -- --only', () => {
  it('refuses a name that is no benchmark, naming the ones there are, with exit 2', async () => {
    const err = await run(process.execPath, ['test/bench/run.mjs', '--only', 'normalize'], { cwd: ROOT }).then(
      () => undefined,
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(err?.code).toBe(2);
    expect(err?.stderr).toContain('no benchmark "normalize"');
    expect(err?.stderr).toContain('coldstart, console, forwarder, ingest, normalise, tail');
    expect(err?.stdout).toBe('');
  }, 60_000);
});

// docs/performance.md: AISOC_BENCH_NODE=/path/to/node runs the cold-start benchmark's measured
// processes (the `node -e ''` floor and the bundle imports alike) on that binary, e.g. Node 22 as
// the Lambda runtime (nodejs22.x) on a machine that runs another node. The binary here is a
// stand-in: a script that logs each command line (on one line), answers --version with its own version and
// runs this node, so the test sees which processes went through it and what the table names.
describe('npm run bench -- --only coldstart with AISOC_BENCH_NODE', () => {
  it('runs the floor and every import on the binary named, and the notes say its version', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aisoc-bench-node-'));
    try {
      const log = join(dir, 'argv.log');
      const node = join(dir, 'node');
      writeFileSync(
        node,
        `#!/bin/sh\nif [ "$1" = --version ]; then echo v22.99.0-standin; exit 0; fi\n{ printf '%s' "$*" | tr '\\n' ' '; echo; } >> '${log}'\nexec '${process.execPath}' "$@"\n`,
      );
      chmodSync(node, 0o755);
      const { stdout } = await run(process.execPath, ['test/bench/run.mjs', '--only', 'coldstart', '--quick'], {
        cwd: ROOT,
        env: { ...process.env, AISOC_BENCH_NODE: node },
      });
      const rows = stdout.split('\n').filter((l) => l.startsWith('| cold start'));
      expect(rows).toHaveLength(5);
      for (const row of rows) expect(row).toContain(`node v22.99.0-standin from AISOC_BENCH_NODE (${node})`);
      const lines = readFileSync(log, 'utf8').trim().split('\n');
      // --quick: 5 pairs for each of the three import rows and for the first 400-event batch
      // (floor and process), 5 pairs of first requests.
      expect(lines.filter((l) => l === '-e ')).toHaveLength(20);
      const imports = (fn: string) =>
        lines.filter((l) => l.startsWith('--input-type=module -e await import(') && l.includes(`/${fn}/index.mjs`));
      expect(imports('ingest')).toHaveLength(10);
      expect(imports('forwarder')).toHaveLength(5);
      expect(lines.filter((l) => l.includes('@@FIRST@@'))).toHaveLength(15);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
