import type { Writable } from 'node:stream';
import type { SecretReader } from '../config/secret.js';

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
