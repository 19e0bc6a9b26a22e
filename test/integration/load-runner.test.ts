import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');

// `npm run load` and `npm run soak` (docs/reliability.md, CONTRIBUTING.md) bundle test/load/load.ts
// under node_modules/.cache and import it: a module in that bundle that reads a file relative to
// its own location (scripts/version-define.mjs reads ../package.json) finds nothing there, and
// the run died before printing a line. `--help` is the cheapest run that imports the whole bundle.
describe('npm run load', () => {
  it('bundles and starts: --help prints the usage the docs show and exits 0', async () => {
    const { stdout } = await run(process.execPath, ['test/load/run.mjs', '--help'], { cwd: ROOT });
    expect(stdout).toContain('Usage: npm run load -- [--duration SECONDS (20)] [--connections N (15)] [--seed N (1)]');
    expect(stdout).toContain('npm run load -- --overload');
    expect(stdout).toContain('npm run load -- --soak');
  }, 60_000);
});
