// `aisoc-k8s-audit serve` as a child process and its memory from /proc, for tests, the ingest
// benchmark and `npm run load`. Kept apart from serve.ts (which builds the CLI with esbuild and so
// imports scripts/version-define.mjs, which reads ../package.json beside itself when loaded) so a
// benchmark or load run bundled into a temp dir can use it.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';

/** A running `serve` child process. */
export interface ServeProcess {
  url: string;
  port: number;
  pid: number;
  child: ChildProcess;
  /** The server's JSON log lines (stderr), parsed. */
  logs: Record<string, unknown>[];
  /** Everything it wrote to stdout and stderr. */
  output: () => string;
  /** SIGTERM, then the exit code. */
  stop: () => Promise<number | null>;
}

/** Spawns `node <cli> serve --port 0 --data-dir <dir> [serveArgs]` with only the given environment (and PATH). */
export async function spawnServe(
  cli: string,
  dataDir: string,
  env: Record<string, string>,
  nodeArgs: string[] = [],
  serveArgs: string[] = [],
): Promise<ServeProcess> {
  const child = spawn(process.execPath, [...nodeArgs, cli, 'serve', '--port', '0', '--data-dir', dataDir, ...serveArgs], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let out = '';
  let pending = '';
  child.stderr?.on('data', (c: Buffer) => {
    out += c.toString();
    pending += c.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // Not a log line: kept in `output` only.
      }
    }
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on (https?:\/\/[\d.]+:\d+)/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
  return {
    url,
    port: Number(new URL(url).port),
    pid: child.pid as number,
    child,
    logs,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/**
 * CPU time (user + system, ms) a whole process used so far, threads that ended included, from
 * /proc/<pid>/stat. Zero without Linux's /proc.
 */
export function processCpuMs(pid: number): number {
  return existsSync(`/proc/${pid}/stat`) ? statCpuMs(`/proc/${pid}/stat`) : 0;
}

/** utime + stime (ms) of a /proc stat file: fields 14 and 15 of the line, 12 and 13 after the command name (clock ticks of 10 ms). */
function statCpuMs(path: string): number {
  const fields = readFileSync(path, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** CPU time (user + system, ms) a thread used so far, from /proc/<pid>/task/<tid>/stat (clock ticks of 10 ms). */
function taskCpuMs(pid: number, tid: string): number {
  return statCpuMs(`/proc/${pid}/task/${tid}/stat`);
}

/**
 * CPU time (ms) a process used so far: its main thread (where node runs JavaScript and, without
 * group commit, SQLite) and its other threads together (V8's garbage-collection helpers, the
 * checkpoint and commit threads, libuv's pool). Zeros without Linux's /proc.
 */
export function threadCpuMs(pid: number): { main: number; others: number } {
  if (!existsSync(`/proc/${pid}/task`)) return { main: 0, others: 0 };
  let main = 0;
  let others = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const ms = taskCpuMs(pid, tid);
      if (tid === String(pid)) main = ms;
      else others += ms;
    } catch {
      // The thread ended while the list was read.
    }
  }
  return { main, others };
}

/** Whether /proc/<pid>/status can be read (Linux). */
export const HAS_PROCFS = existsSync('/proc/self/status');

function statusField(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m?.[1]) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** The resident set of a process, in bytes. */
export function rssBytes(pid: number): number {
  return statusField(pid, 'VmRSS');
}

/** The peak resident set of a process, in bytes (since it started or since `resetPeakRss`). */
export function peakRssBytes(pid: number): number {
  return statusField(pid, 'VmHWM');
}

/** Resets the peak resident set to the current one (Linux ≥ 4.0: `echo 5 > /proc/<pid>/clear_refs`); false if not allowed. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}
