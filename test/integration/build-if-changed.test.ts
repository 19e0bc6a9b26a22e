import { execFile } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchCheckout } from '../helpers/infra-scratch.js';
import { SECRET, tempDataDir } from '../helpers/ingest.js';
import { type ServeProcess, spawnServe } from '../helpers/serve.js';

const run = promisify(execFile);

// `npm run cli` and `npm start` build with --if-changed: a build whose inputs did not change does
// nothing, and one whose inputs changed puts files in place without pulling the chunks of a
// running `npm start` from under it. A plain build still replaces dist/ whole.
describe('scripts/build.mjs --if-changed', () => {
  let scratch = { dir: '', cleanup: () => {} };
  const data = tempDataDir('aisoc-build-');
  let serve: ServeProcess | undefined;
  const build = (...flags: string[]) => run(process.execPath, ['scripts/build.mjs', '--quiet', ...flags], { cwd: scratch.dir });
  const chunks = () => new Set(readdirSync(join(scratch.dir, 'dist/chunks')));

  beforeAll(async () => {
    scratch = scratchCheckout();
    await build();
  }, 120_000);
  afterAll(async () => {
    await serve?.stop();
    data.remove();
    scratch.cleanup();
  });

  it('leaves dist/ alone when nothing changed, and keeps a running serve working through a rebuild', async () => {
    const cli = join(scratch.dir, 'dist/cli.mjs');
    const before = statSync(cli);
    await build('--if-changed');
    expect(statSync(cli).mtimeMs).toBe(before.mtimeMs);
    expect(statSync(cli).ino).toBe(before.ino);

    serve = await spawnServe(cli, data.dir, { K8S_AUDIT_SHARED_SECRET: SECRET });
    const oldChunks = chunks();
    // An input changed (the lock file is one): the build runs, and swaps files in.
    writeFileSync(join(scratch.dir, 'package-lock.json'), '{"changed":true}\n');
    await build('--if-changed');
    expect(statSync(cli).ino).not.toBe(before.ino);
    for (const c of oldChunks) expect(chunks().has(c)).toBe(true);
    // The server started from the old build answers routes whose code it loads lazily.
    const status = await fetch(`${serve.url}/v1/status/k8s-audit/acme`, { headers: { 'X-AiSOC-K8s-Token': SECRET } });
    expect(status.status).toBe(200);
    const res = await fetch(`${serve.url}/v1/ingest/k8s-audit/acme`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET },
      body: '{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]}',
    });
    expect(res.status).toBe(200);
  }, 120_000);

  it('a plain build replaces dist/ whole', async () => {
    await build();
    const names = readdirSync(join(scratch.dir, 'dist'));
    expect(names.sort()).toEqual([
      '.build-inputs',
      'THIRD-PARTY-NOTICES.txt',
      'azure',
      'chunks',
      'cli.mjs',
      'console',
      'forwarder',
      'ingest',
      're2js.cjs',
    ]);
    expect(readdirSync(scratch.dir).filter((n) => n.startsWith('dist.'))).toEqual([]);
  }, 120_000);
});
