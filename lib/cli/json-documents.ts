// What `normalise` does with text that is neither one JSON document nor JSON lines: pretty-printed
// documents one after another (`jq . audit.log`, several `kubectl get --raw` outputs saved
// together), or one pretty-printed document with a mistake in it. Either way the user needs the
// line and column of the first thing that is wrong, which JSON.parse gives only as an offset
// (Node 20: "… in JSON at position 42").

/** A place in a text, both 1-based, as editors show it. */
export interface TextPosition {
  line: number;
  column: number;
}

/** The documents of a JSON text stream, each with the line it starts on; or where it first goes wrong. */
export type JsonDocuments = { ok: true; docs: { value: unknown; line: number }[] } | { ok: false; error: string; at: TextPosition };

/** The line and column of a character offset in `text`. */
export function positionAt(text: string, offset: number): TextPosition {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

/** The offset a JSON.parse error names ("at position 42"), if it names one. */
function errorOffset(err: unknown): number | null {
  const m = /at position (\d+)/.exec(err instanceof Error ? err.message : '');
  return m ? Number(m[1]) : null;
}

/** A JSON.parse message without the offset, which the caller turns into a line and column. */
function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err))
    .replace(/ in JSON at position \d+.*$/, '')
    .replace(/ \(line \d+ column \d+\)$/, '');
}

/**
 * Splits a text into the JSON objects and arrays it holds one after another (whitespace between
 * them), and parses each. Stops at the first problem: a document that is not valid JSON, text
 * between documents, or a document the text ends inside (a cut-off file); the position is that
 * problem's line and column in the whole text.
 */
export function splitJsonDocuments(text: string): JsonDocuments {
  const docs: { value: unknown; line: number }[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0xfeff) {
      i++;
      continue;
    }
    const ch = text[i] as string;
    if (ch !== '{' && ch !== '[') {
      const what = docs.length === 0 ? 'expected a JSON object or array' : 'expected another JSON object or array after the last one';
      return { ok: false, error: `${what}, got ${JSON.stringify(text.slice(i, i + 20))}`, at: positionAt(text, i) };
    }
    const start = i;
    let depth = 0;
    let inString = false;
    for (; i < n; i++) {
      const k = text[i];
      if (inString) {
        if (k === '\\') i++;
        else if (k === '"') inString = false;
        continue;
      }
      if (k === '"') inString = true;
      else if (k === '{' || k === '[') depth++;
      else if (k === '}' || k === ']') {
        depth--;
        if (depth === 0) break;
      }
    }
    const slice = text.slice(start, Math.min(i + 1, n));
    try {
      docs.push({ value: JSON.parse(slice), line: positionAt(text, start).line });
    } catch (err) {
      const offset = errorOffset(err);
      if (i >= n) {
        const opened = positionAt(text, start);
        const at = offset === null || offset >= slice.length ? positionAt(text, n) : positionAt(text, start + offset);
        return {
          ok: false,
          error: `${errorText(err)}; the text ends inside the document that starts at line ${opened.line} (cut off?)`,
          at,
        };
      }
      return { ok: false, error: errorText(err), at: positionAt(text, start + (offset ?? 0)) };
    }
    i++;
  }
  return { ok: true, docs };
}
