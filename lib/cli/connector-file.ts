import { readFile } from 'node:fs/promises';
import { isMap, isScalar, parseDocument } from 'yaml';
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
  // YAML 1.2 is a superset of JSON, but JSON.parse gives the better message for a .json file.
  if (/\.json$/i.test(file)) {
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new UsageError(`cannot parse ${file}: ${jsonErrorReason(err)}`);
    }
  }
  // parseDocument, not parse: yaml's parse hands every warning to process.emitWarning, which prints
  // the source line, and an unquoted secret is that line.
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new UsageError(`cannot parse ${file}: ${yamlErrorReason(doc.errors[0])}`);
  const tag = doc.warnings.find((w) => w.code === 'TAG_RESOLVE_FAILED');
  if (tag !== undefined) throw new UsageError(`cannot parse ${file}: ${unresolvedTagReason(doc.contents, tag)}`);
  try {
    return doc.toJS();
  } catch (err) {
    // An alias without its anchor (a secret starting with `*`) fails only here.
    throw new UsageError(`cannot parse ${file}: ${yamlErrorReason(err)}`);
  }
}

/**
 * An unquoted value that starts with `!` (a random secret may) is a YAML tag: yaml keeps the
 * value as an empty string, or the text after a space, and the field then reads as unset. Names
 * the top-level field and the place, never the value (the tag is the value).
 */
function unresolvedTagReason(contents: unknown, warning: { pos: [number, number]; linePos?: { line: number; col: number }[] }): string {
  let field: string | null = null;
  if (isMap(contents)) {
    for (const pair of contents.items) {
      const start = isScalar(pair.key) ? pair.key.range?.[0] : undefined;
      if (start !== undefined && start <= warning.pos[0]) field = String((pair.key as { value: unknown }).value);
    }
  }
  const at = warning.linePos?.[0];
  const where = at === undefined ? '' : ` at line ${at.line}, column ${at.col}`;
  const what = field === null ? 'a value' : `the value of ${field}`;
  return `${what}${where} starts with !, which YAML reads as a tag, not text: quote it (${field ?? 'field'}: "!...")`;
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
