import type { Writable } from 'node:stream';

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
