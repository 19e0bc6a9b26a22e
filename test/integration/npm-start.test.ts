// `npm start` as the README gives it: a SIGTERM to npm (a process manager, a terminal closing)
// stops the ingest too. npm signals the shell it runs the script in; the script execs the server
// in that shell's place, so the signal reaches it instead of leaving it orphaned on its port.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { promisify } from 'node:util';
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

  // The banner's "Stored events:" line is a command to type next. In this checkout `npm start` is
  // how the README starts the server, and `aisoc-k8s-audit` is on no PATH (the package is not
  // installed or linked), so the line must be one that runs here: the README's `npm run cli --`.
  it('prints a "Stored events" command that runs from the checkout and lists what was stored', async () => {
    const tmp = tempDataDir('aisoc-npm-start-hint-');
    const port = await freePort();
    const npm = spawn('npm', ['start', '--silent', '--', '--port', String(port), '--data-dir', tmp.dir], {
      cwd: ROOT,
      env: { ...process.env, K8S_AUDIT_SHARED_SECRET: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let banner = '';
    npm.stdout?.on('data', (chunk: Buffer) => {
      banner += chunk.toString();
    });
    try {
      for (let i = 0; i < 300 && !/^Stored events: .+$/m.test(banner); i++) await new Promise((r) => setTimeout(r, 200));
      const command = /^Stored events: (.+)$/m.exec(banner)?.[1] ?? '';
      expect(command).toBe(`npm run cli -- events --data-dir ${tmp.dir}`);
      const [file = '', ...args] = command.split(' ');
      const { stdout } = await promisify(execFile)(file, args, { cwd: ROOT });
      expect(stdout).toMatch(/^TIME +SEV +TENANT +CLUSTER/m);
    } finally {
      npm.kill('SIGTERM');
      await once(npm, 'exit');
      tmp.remove();
    }
  }, 90_000);
});
