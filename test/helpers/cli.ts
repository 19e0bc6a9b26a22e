import { PassThrough } from 'node:stream';
import type { CommandIo } from '../../lib/cli/io.js';
import { main } from '../../lib/cli/main.js';

/** Command I/O whose stdout and stderr are collected as text, as a user would read them. */
export function captureIo(
  env: Record<string, string | undefined> = {},
  stdinText = '',
): { io: CommandIo; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const stdin = new PassThrough();
  stdin.end(stdinText);
  return { io: { stdout, stderr, stdin, env }, out: () => Buffer.concat(out).toString(), err: () => Buffer.concat(err).toString() };
}

/** Runs an `aisoc-k8s-audit` command in-process; resolves to its exit code and what it printed. */
export async function runCli(
  argv: string[],
  env: Record<string, string | undefined> = {},
  stdinText = '',
): Promise<{ code: number; stdout: string; stderr: string }> {
  const cap = captureIo(env, stdinText);
  const code = await main(argv, cap.io);
  return { code, stdout: cap.out(), stderr: cap.err() };
}

/** Every line of a command's stderr parsed as JSON (fails the test on a line that is not), as a log shipper reads them. */
export function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        throw new Error(`stderr line is not JSON: ${l}`);
      }
    });
}

/** The progress lines (`<command> progress`) and the final one (`<command> done`) of a command's JSON stderr. */
export function progressLines(
  text: string,
  command: string,
): { progress: Record<string, unknown>[]; done: Record<string, unknown> | undefined } {
  const lines = jsonLines(text);
  return {
    progress: lines.filter((l) => l.message === `${command} progress`),
    done: lines.find((l) => l.message === `${command} done`),
  };
}
