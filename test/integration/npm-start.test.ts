// `npm start` as the README gives it: a SIGTERM to npm (a process manager, a terminal closing)
// stops the ingest too. npm signals the shell it runs the script in; the script execs the server
// in that shell's place, so the signal reaches it instead of leaving it orphaned on its port.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/host.js';
import { tempDataDir } from '../helpers/ingest.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('npm start', () => {
  it('stops the ingest when npm itself is sent SIGTERM', async () => {
    const tmp = tempDataDir('aisoc-npm-start-');
    const port = await freePort();
    const npm = spawn('npm', ['start', '--silent', '--', '--port', String(port), '--data-dir', tmp.dir], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'INFO' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let up = false;
      for (let i = 0; i < 300 && !up; i++) {
        up = await fetch(`http://127.0.0.1:${port}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
        if (!up) await new Promise((r) => setTimeout(r, 200));
      }
      expect(up).toBe(true);

      npm.kill('SIGTERM');
      await once(npm, 'exit');
      let down = false;
      for (let i = 0; i < 50 && !down; i++) {
        down = await fetch(`http://127.0.0.1:${port}/healthz`).then(
          () => false,
          () => true,
        );
        if (!down) await new Promise((r) => setTimeout(r, 100));
      }
      expect(down).toBe(true);
    } finally {
      npm.kill('SIGKILL');
      tmp.remove();
    }
  }, 90_000);
});
