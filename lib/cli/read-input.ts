import { readFile } from 'node:fs/promises';

/** Reads a file, or standard input for `-`, fully into memory. */
export async function readInput(path: string, stdin: NodeJS.ReadableStream): Promise<Buffer> {
  if (path !== '-') return readFile(path);
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}
