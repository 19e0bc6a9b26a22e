import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { jsonErrorReason } from '../json.js';
import { UsageError } from './args.js';

/**
 * Reads a connector config file (JSON or YAML) as a plain value, for `parseConnectorConfig`.
 * A file that cannot be read or parsed is a usage error (exit 2), named with the reason.
 */
export async function readConnectorFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    // YAML 1.2 is a superset of JSON, but JSON.parse gives the better message for a .json file.
    return /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new UsageError(`cannot parse ${file}: ${/\.json$/i.test(file) ? jsonErrorReason(err) : (err as Error).message.split('\n')[0]}`);
  }
}
