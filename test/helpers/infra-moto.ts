import { spawn } from 'node:child_process';
import { freePort, hasCommand } from './host.js';

/** True when moto's standalone server (`pip install 'moto[server]'`) is on PATH. */
export function hasMoto(): boolean {
  return hasCommand('moto_server');
}

export interface RunningMoto {
  endpoint: string;
  close(): Promise<void>;
}

/**
 * Starts `moto_server` on a free loopback port in its own process group (the pyenv shim and the
 * Python process it runs end together) and resolves once it answers HTTP.
 */
export async function startMoto(): Promise<RunningMoto> {
  const port = await freePort();
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    process.kill(-child.pid, 'SIGTERM');
    const timer = setTimeout(() => child.pid !== undefined && child.exitCode === null && process.kill(-child.pid, 'SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`moto_server exited: ${stderr.trim()}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/`);
      if (res.ok) return { endpoint, close: stop };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`moto_server did not answer on ${endpoint}: ${stderr.trim()}`);
}
