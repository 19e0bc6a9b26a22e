import { execFile } from 'node:child_process';
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
