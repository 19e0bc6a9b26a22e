import type { RE2JS } from 're2js';
import { re2js } from './re2.js';

// Which `matches()` patterns a rule may use, and the engine that runs them. CEL and Kubernetes run
// `matches()` with RE2, whose time is linear in the input (github.com/google/re2/wiki/Syntax).
// cel-js runs its built-in `string.matches` with JavaScript's backtracking RegExp
// (node_modules/@marcbachmann/cel-js/lib/functions.js, `new RegExp(b).test(a)`), where a pattern
// an operator writes takes polynomial or exponential time on a field the requester writes:
// `.*.*.*=` on 500 'a's took 19.9 s, `.*=` on 100,000 took 4.8 s. So every `matches()` a rule runs
// goes through RE2JS instead (the `re2js` package, MIT, a pure-JS port of RE2 with its linear-time
// guarantee: the same pattern on 100,000 'a's takes a few ms), wired by the engine (engine.ts,
// `linearMatches`), and a pattern is compiled by RE2 at load, so one RE2 does not read fails the
// load as it would fail in Kubernetes. Measured and not chosen (docs/detection-rules.md):
// V8's own linear engine (`--enable-experimental-regexp-engine`, the `l` flag) is a process-wide
// flag and took 483 ms on the 100,000 'a's; `re2` and `re2-wasm` ship a native or WASM binary.
// The shapes that backtrack exponentially in a backtracking engine are still refused at load, as
// before the engine was linear: a pack that loads here stays safe under cel-js's own matches().

const LINEAR = new Map<string, RE2JS>();

/**
 * `pattern` compiled by RE2, kept for the life of the process: the patterns are string literals of
 * the rules loaded (the engine refuses any other), so the map holds one entry per pattern written.
 * Throws RE2's error for a pattern RE2 does not read.
 */
export function linearRegex(pattern: string): RE2JS {
  let re = LINEAR.get(pattern);
  if (re === undefined) {
    re = re2js().compile(pattern);
    LINEAR.set(pattern, re);
  }
  return re;
}

/** One group being read: what it holds, as far as backtracking is concerned. */
interface Frame {
  /** Where the group's `(` is (the whole pattern: -1). */
  start: number;
  /** A quantifier anywhere inside. */
  quantified: boolean;
  /** A group anywhere inside whose alternatives one input can take more than one way. */
  branches: boolean;
  /** Its alternatives so far: the plain text each matches, or null when one is more than text. */
  alternatives: (string | null)[];
}

// Escapes that stand for one literal character (`\.`, `\/`, `\-`): any non-alphanumeric one.
const LITERAL_ESCAPE = /^[^A-Za-z0-9]$/;

/** The quantifier at `i` (`*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}`, each maybe lazy): its length and whether it repeats (allows more than one). */
function quantifierAt(pattern: string, i: number): { length: number; repeats: boolean } | null {
  const c = pattern[i];
  let length = 0;
  let repeats = false;
  if (c === '*' || c === '+') {
    length = 1;
    repeats = true;
  } else if (c === '?') {
    length = 1;
  } else if (c === '{') {
    // As JavaScript reads it without the u flag: a `{` that is not a well-formed count is a literal.
    const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
    if (m === null) return null;
    length = m[0].length;
    repeats = m[2] === undefined ? Number(m[1]) > 1 : m[3] === '' || Number(m[3]) > 1;
  } else {
    return null;
  }
  if (pattern[i + length] === '?') length++;
  return { length, repeats };
}

/** Whether some alternative is a prefix of another (so one input is read more than one way), or any is more than text. */
function ambiguous(alternatives: readonly (string | null)[]): boolean {
  if (alternatives.some((a) => a === null)) return true;
  const texts = alternatives as string[];
  return texts.some((a, i) => texts.some((b, j) => i !== j && b.startsWith(a)));
}

/**
 * Why a `matches()` pattern is refused, or null when it may be used: not a regular expression RE2
 * reads; a backreference or a lookaround (RE2 has neither, named as such rather than by RE2's parse
 * error); a repeated group holding a
 * quantifier (`(a+)+`, `(\w+\s?)*`) or alternatives one input can take more than one way
 * (`(a|aa)+`, `(\w|\d)+`), the shapes that backtrack exponentially. A repeated group of plain text
 * alternatives none of which begins another (`(ab|cd)+`) reads each input one way and is allowed.
 */
export function patternProblem(pattern: string): string | null {
  let re2Error: string | null = null;
  // Outside the try: an engine that cannot be loaded is the install's problem, not the pattern's.
  re2js();
  try {
    linearRegex(pattern);
  } catch (err) {
    re2Error = `is not a regular expression RE2 reads (${(err as Error).message}), so the rule would not load in Kubernetes' CEL either`;
  }
  let shape: string | null;
  try {
    shape = shapeProblem(pattern);
  } catch {
    // Only a pattern RE2 refused gets here (an unbalanced `)`): its error says why.
    shape = null;
  }
  return shape ?? re2Error;
}

/** The backreferences, lookarounds and exponential shapes of `patternProblem`, read from the pattern's text. */
function shapeProblem(pattern: string): string | null {
  const stack: Frame[] = [{ start: -1, quantified: false, branches: false, alternatives: [''] }];
  const top = () => stack.at(-1) as Frame;
  // Appends to the current alternative: plain text, or null once it is more than text.
  const append = (text: string | null) => {
    const f = top();
    const last = f.alternatives.length - 1;
    const current = f.alternatives[last] as string | null;
    f.alternatives[last] = current === null || text === null ? null : current + text;
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      if (/[1-9]/.test(next) || (next === 'k' && pattern[i + 2] === '<')) {
        return `uses the backreference \\${next === 'k' ? 'k<...>' : next}, which RE2 (the regular expressions of CEL and Kubernetes) does not have; write the repeated text out, or compare the parts with ==`;
      }
      append(LITERAL_ESCAPE.test(next) ? next : null);
      i++;
    } else if (c === '[') {
      // A class: up to its closing `]` (JavaScript: a `]` right after `[` or `[^` closes it too).
      let j = i + 1;
      if (pattern[j] === '^') j++;
      while (j < pattern.length && pattern[j] !== ']') j += pattern[j] === '\\' ? 2 : 1;
      append(null);
      i = j;
    } else if (c === '(') {
      const look = /^\(\?(=|!|<=|<!)/.exec(pattern.slice(i));
      if (look !== null) {
        const kind = look[1] === '=' || look[1] === '!' ? 'lookahead' : 'lookbehind';
        return `uses the ${kind} ${look[0]}, which RE2 (the regular expressions of CEL and Kubernetes) does not have; test the other part with a second matches() (negated with !, joined with &&)`;
      }
      stack.push({ start: i, quantified: false, branches: false, alternatives: [''] });
      // Skip a group's prefix: `(?:`, `(?<name>`.
      const prefix = /^\((\?:|\?<[A-Za-z_$][\w$]*>)?/.exec(pattern.slice(i));
      i += (prefix?.[0].length ?? 1) - 1;
    } else if (c === ')') {
      const group = stack.pop() as Frame;
      const q = quantifierAt(pattern, i + 1);
      const text = pattern.slice(group.start, i + 1 + (q?.length ?? 0));
      if (q?.repeats && group.quantified) {
        return `repeats the group ${text}, which holds a quantifier: nested quantifiers backtrack exponentially in a backtracking engine (JavaScript's RegExp, cel-js's own matches()) on a failing input the requester writes; quantify the characters once (^a+$ for ^(a+)+$, [\\w\\s]* for (\\w+\\s?)*)`;
      }
      const branches = group.branches || (group.alternatives.length > 1 && ambiguous(group.alternatives));
      if (q?.repeats && branches) {
        return `repeats the group ${text}, whose alternatives (or a group's inside) one input can match more than one way: it backtracks exponentially in a backtracking engine (JavaScript's RegExp, cel-js's own matches()) on a failing input the requester writes; use a character class ([ab]+ for (a|b)+) or plain-text alternatives none of which begins another`;
      }
      top().quantified ||= group.quantified || q !== null;
      // `((a|ab)c)+` repeats the ambiguity as surely as `(a|ab)+`.
      top().branches ||= branches;
      // A group's text is its one alternative's when it has one and is not quantified.
      append(q === null && group.alternatives.length === 1 ? (group.alternatives[0] as string | null) : null);
      i += q?.length ?? 0;
    } else if (c === '|') {
      top().alternatives.push('');
    } else {
      const q = quantifierAt(pattern, i);
      if (q !== null) {
        top().quantified = true;
        // The quantified atom is more than text now.
        append(null);
        i += q.length - 1;
      } else {
        append(c === '.' || c === '^' || c === '$' ? null : c);
      }
    }
  }
  return null;
}
