import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import type { SecretReader } from '../config/secret.js';
import { UsageError } from './args.js';

/** Where a command writes, and the environment it reads: injected so tests can capture both. */
export interface CommandIo {
  stdout: Writable;
  stderr: Writable;
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
}

/** A command: takes its arguments (after the command name) and resolves to an exit code. */
export type Command = (argv: string[], io: CommandIo) => Promise<number>;

/** Writes a chunk and waits for the stream to drain when it is full (stdout piped to a slow reader). */
export function write(stream: Writable, chunk: string): Promise<void> | undefined {
  if (stream.write(chunk)) return undefined;
  return new Promise((resolve) => stream.once('drain', resolve));
}

/** Injectable pieces of the commands that ship like the forwarder (backfill, redrive), for tests. */
export interface ShippingCommandDeps {
  fetch?: typeof fetch;
  readSecret?: SecretReader;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** The flags (or variables) that move a listening server, named in the error when it cannot listen. */
export interface ListenFlags {
  host: string;
  port: string;
  /** Who usually holds the port, when there is a likely answer. */
  usualHolder?: string;
}

/**
 * Why a server could not listen, saying what to do: Node's own message
 * (`listen EADDRINUSE: address already in use 127.0.0.1:8080`) names the errno and nothing else,
 * and a second `npm start` beside a running one is the first thing a new operator meets.
 * `what` names the server; an error that is not a listen error comes back unchanged.
 */
export function listenFailure(err: unknown, what: string, flags: ListenFlags): unknown {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (e?.syscall !== 'listen' || e.address === undefined) return err;
  // The errno stays in the message (`listen EADDRINUSE` is what an operator searches for).
  const where = `${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port} (${e.code})`;
  switch (e.code) {
    case 'EADDRINUSE':
      return new Error(
        `${what} cannot listen on ${where}: another process already listens there${flags.usualHolder === undefined ? '' : ` (${flags.usualHolder})`}: stop it, or choose another port with ${flags.port}`,
      );
    case 'EADDRNOTAVAIL':
      return new Error(
        `${what} cannot listen on ${where}: no network interface of this machine has the address ${e.address} (ip -4 addr lists them): give ${flags.host} one of its addresses`,
      );
    case 'EACCES':
      return new Error(
        `${what} cannot listen on ${where}: a port below 1024 needs privileges this user does not have: choose a port from 1024 up with ${flags.port}`,
      );
    default:
      return err;
  }
}

/** `tail`'s and `connector run`'s metrics endpoint: its flags, or the variables they default to. */
const METRICS_FLAGS: ListenFlags = {
  host: '--metrics-host (or AISOC_TAIL_METRICS_HOST)',
  port: '--metrics-port (or AISOC_TAIL_METRICS_PORT)',
};

/** For `startTailMetrics(...).catch(...)` in `tail` and `connector run`: the listen error that says which flag moves it. */
export function metricsListenFailure(err: unknown): never {
  throw listenFailure(err, 'the metrics endpoint', METRICS_FLAGS);
}

/**
 * Why `--health-file PATH` could never be written, or null: its directory is missing, not a
 * directory, or not writable. Checked at start (exit 2) because a health file that is never
 * written leaves `connector health` answering `cannot read ...: ENOENT` while every poll logs only
 * `ENOENT`, and the Deployment's probe restarts a tailer that was working.
 */
function healthFileProblem(path: string): string | null {
  const dir = dirname(resolve(path));
  try {
    if (!statSync(dir).isDirectory())
      return `--health-file ${path}: ${dir} is not a directory: give a path in a directory this user can write`;
    accessSync(dir, constants.W_OK);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      return `--health-file ${path}: the directory ${dir} does not exist: create it, or give a path in a directory this user can write`;
    }
    return `--health-file ${path}: the directory ${dir} is not writable by this user (${code}): give a path in a directory this user can write`;
  }
}

/** `--health-file`, when given, checked at start: a usage error (exit 2) naming why it could never be written. */
export function checkHealthFile(path: string | undefined): void {
  const problem = path === undefined ? null : healthFileProblem(path);
  if (problem !== null) throw new UsageError(problem);
}
