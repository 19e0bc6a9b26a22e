// The columns of the commands' tables (events, rejected, status). Their values come from audit
// events, which any client of the apiserver writes: a user name, a namespace or a reason can hold
// terminal escapes (clear the screen, set the window title, move the cursor to forge a row), line
// breaks, Unicode's bidirectional overrides (text shown in another order than it reads), or
// characters that take no space (`system:kube-sched\u200buler` looks like the scheduler). A table
// shows each of those as an escape instead of passing it to the terminal.

import { HIDDEN_CHARACTERS } from '../bidi.js';

// lib/bidi.ts: the same characters the web console spells out.
const UNPRINTABLE = new RegExp(HIDDEN_CHARACTERS, 'g');

/** `text` with every control, bidirectional and invisible character shown as an escape (`\x1b`, `\u202e`, `\u{e0041}`). */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
    const code = c.codePointAt(0) ?? 0;
    if (code > 0xffff) return `\\u{${code.toString(16)}}`;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** A value in a column `width` characters wide: escaped, cut with `…` or padded; `empty` for null. */
export function cell(value: string | number | null, width: number, empty = '-'): string {
  const text = value === null ? empty : printable(String(value));
  return text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);
}

/** A fixed-width column: its title, its width, the value it shows of a row, and what it shows for null (`-`). */
export interface Column<T> {
  readonly title: string;
  readonly width: number;
  readonly value: (row: T) => string | number | null;
  readonly empty?: string;
}

/** `column` widened to its longest value in `rows` as shown (escaped), up to `max`; never narrower. */
export function fitted<T>(column: Column<T>, rows: readonly T[], max: number): Column<T> {
  let width = column.width;
  for (const row of rows) {
    const v = column.value(row);
    width = Math.max(width, Math.min(max, v === null ? 0 : printable(String(v)).length));
  }
  return { ...column, width };
}

/** A table of fixed-width columns only: the header, then a line per row, each without trailing spaces. */
export function tableLines<T>(columns: readonly Column<T>[], rows: readonly T[]): string[] {
  const line = (cells: string[]) => cells.join(' ').trimEnd();
  return [
    line(columns.map((c) => cell(c.title, c.width))),
    ...rows.map((r) => line(columns.map((c) => cell(c.value(r), c.width, c.empty)))),
  ];
}

/**
 * A table's header: each column's title in its width, then the title of the last column, which
 * is shown whole. The titles and widths are written once, in the columns, for header and rows.
 */
export function headerLine<T>(columns: readonly Column<T>[], last: string): string {
  let line = '';
  for (const c of columns) line += `${cell(c.title, c.width)} `;
  return line + last;
}

/** A row of a table: each column's cell, then `last` shown whole (escaped). */
export function rowLine<T>(columns: readonly Column<T>[], row: T, last: string): string {
  let line = '';
  for (const c of columns) line += `${cell(c.value(row), c.width, c.empty)} `;
  return line + printable(last);
}
