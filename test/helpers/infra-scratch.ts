import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './source.js';

const run = promisify(execFile);

/** The root of this checkout. */
export const ROOT = REPO_ROOT;

/**
 * A scratch copy of the checkout in a temporary directory: sources, scripts and node_modules are
 * symlinks, package.json and serverless.yml are copies. `npm run build` / `npm run package` run
 * there write their own dist/ and .serverless/, so a test never races another test (or a
 * developer) rebuilding the real dist/.
 */
export function scratchCheckout(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'aisoc-deploy-'));
  for (const name of ['lib', 'functions', 'scripts', 'web', 'node_modules', 'infra', 'test', 'tsconfig.json']) {
    symlinkSync(join(ROOT, name), join(dir, name));
  }
  for (const name of ['package.json', 'serverless.yml']) copyFileSync(join(ROOT, name), join(dir, name));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs an npm script in `dir`; resolves with its output, rejects with it on a non-zero exit. */
export async function npmRun(
  dir: string,
  script: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ stdout: string; stderr: string }> {
  return run('npm', ['run', '--silent', script], { cwd: dir, env, maxBuffer: 64 * 1024 * 1024 });
}

/** Builds the Lambda bundles into a scratch checkout with the real build script; returns its dist/ path. */
export async function buildScratchBundles(dir: string): Promise<string> {
  await run(process.execPath, ['scripts/build.mjs', '--quiet'], { cwd: dir });
  return join(dir, 'dist');
}
