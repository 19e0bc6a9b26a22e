import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** The repository root. */
export const REPO_ROOT = join(import.meta.dirname, '../..');

/** Every `.ts` file under `dir` (relative to the repository root), as repository-relative paths, sorted. */
export function sourceFiles(dir: string): string[] {
  const walk = (abs: string): string[] =>
    readdirSync(abs, { withFileTypes: true }).flatMap((d) =>
      d.isDirectory() ? walk(join(abs, d.name)) : d.name.endsWith('.ts') ? [join(abs, d.name)] : [],
    );
  return walk(join(REPO_ROOT, dir))
    .map((f) => relative(REPO_ROOT, f))
    .sort();
}

/** A source file's text. */
export function sourceText(file: string): string {
  return readFileSync(join(REPO_ROOT, file), 'utf8');
}

/** The lines of a source text that are code: block, doc and `//` line comments blanked, line numbers kept. */
export function codeLines(text: string): string[] {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ''))
    .split('\n')
    .map((line) => (line.trimStart().startsWith('//') ? '' : line));
}

// `import … from 'x'`, `export … from 'x'`, `import('x')` and `import 'x'`, over one or more lines.
const IMPORT =
  /(?:^|[\s;])(?:import|export)\s[^;'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm;

/** The module specifiers a source text imports or re-exports (static and dynamic), as written. */
export function importsOf(text: string): string[] {
  const code = codeLines(text).join('\n');
  return [...code.matchAll(IMPORT)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
}
