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
    throw new UsageError(`cannot parse ${file}: ${/\.json$/i.test(file) ? jsonErrorReason(err) : yamlErrorReason(err)}`);
  }
}

// yaml's error codes whose messages are fixed texts (yaml 2.x, dist/compose and dist/parse): their
// first line (`Missing closing "quote at line 6, column 1`) quotes nothing of the file.
const CONTENT_FREE_YAML_ERRORS = new Set([
  'MISSING_CHAR',
  'BAD_INDENT',
  'TAB_AS_INDENT',
  'DUPLICATE_KEY',
  'MULTILINE_IMPLICIT_KEY',
  'BLOCK_AS_IMPLICIT_KEY',
]);

/**
 * Why `yaml` refused a config file, without the file's text: its other messages may quote the
 * token they stopped at (`Block scalar header includes extra characters: |…`, `Unresolved alias
 * …: <name>`), and a secret written unquoted that starts with `|`, `>`, `*` or `&` is that token.
 * Those keep only the position (YAMLParseError's `linePos`) and the error code.
 */
function yamlErrorReason(err: unknown): string {
  const e = err as { code?: unknown; linePos?: { line: number; col: number }[]; message?: unknown };
  if (typeof e.code === 'string' && CONTENT_FREE_YAML_ERRORS.has(e.code) && typeof e.message === 'string') {
    return (e.message.split('\n')[0] as string).replace(/:$/, '');
  }
  const at = e.linePos?.[0];
  const where = at === undefined ? '' : ` at line ${at.line}, column ${at.col}`;
  const code = typeof e.code === 'string' ? ` (${e.code})` : '';
  return `the text is not valid YAML${where}${code}; quote a value that starts with one of | > * & ! % @ \` or holds ": " or " #"`;
}
