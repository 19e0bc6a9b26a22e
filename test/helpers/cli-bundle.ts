import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { buildConsole } from '../../scripts/console-build.mjs';
import { buildRe2jsFile } from '../../scripts/re2js-file.mjs';
import { NODE_TEST_BUNDLE } from './node-bundle.mjs';

const ROOT = join(import.meta.dirname, '..', '..');

/** Where a private CLI bundle goes: under node_modules (so `better-sqlite3` resolves) or any dir. */
export const PROJECT_CACHE = join(ROOT, 'node_modules', '.cache');

/**
 * Bundles `lib/cli/bin.ts` as `npm run build` does, into a private directory under `parent`, so a
 * test never races another one rebuilding dist/. The directory is world-readable: a test may run
 * the bundle as an unprivileged user. Commands that open the SQLite store need `PROJECT_CACHE`,
 * where the bundle's external `better-sqlite3` resolves from the project's node_modules.
 */
export async function buildCliBundle(
  parent: string,
  prefix = 'aisoc-cli-',
  opts: { console?: boolean } = {},
): Promise<{ cli: string; cleanup: () => void }> {
  mkdirSync(parent, { recursive: true });
  const outdir = mkdtempSync(join(parent, prefix));
  await build({
    absWorkingDir: ROOT,
    entryPoints: { cli: 'lib/cli/bin.ts' },
    outdir,
    outExtension: { '.js': '.mjs' },
    ...NODE_TEST_BUNDLE,
    splitting: true,
  });
  // RE2JS (the rules' matches()) beside the CLI, as in dist/: a bundle outside the project has no
  // node_modules to find it in.
  await buildRe2jsFile(join(outdir, 're2js.cjs'), { quiet: true });
  // `serve` finds the console's files in console/ beside the CLI, as in dist/.
  if (opts.console) await buildConsole(ROOT, join(outdir, 'console'));
  chmodSync(outdir, 0o755);
  return { cli: join(outdir, 'cli.mjs'), cleanup: () => rmSync(outdir, { recursive: true, force: true }) };
}

/**
 * Runs a built CLI bundle as a user would (its own process, `env` on top of PATH alone, `stdin`
 * piped in); resolves to its exit code and what it wrote. Killed after `timeoutMs`.
 */
export function runBuiltCli(
  cli: string,
  args: string[],
  opts: { env?: Record<string, string>; stdin?: Buffer | string; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], {
      env: { PATH: process.env.PATH ?? '', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    child.stdin.end(opts.stdin ?? '');
  });
}
