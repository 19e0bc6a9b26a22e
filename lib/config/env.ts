/** The environment as a plain map; `lib` receives it from an entry point, never reads `process.env`. */
export type Env = Readonly<Record<string, string | undefined>>;

/** One or more invalid or missing variables, all named in one message. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
  }
}

/**
 * A URL as an error message or a log line may show it: scheme, host, port and path. The user
 * name and password (`https://user:pass@host`), the query (`?token=…`, `?X-Amz-Security-Token=…`)
 * and the fragment are where an operator puts a credential, and are left out; a value that does
 * not parse as an http(s) URL is not shown at all, since it may be a secret set in the wrong
 * variable or a password whose `#`, `@` or `/` broke the URL.
 */
export function loggableUrl(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return '<not a URL>';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `<a ${u.protocol} URL>`;
  return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
}

/**
 * What a message says of a value that should have been an http(s) URL and is not: never the value
 * itself (a secret set in the wrong variable, or a password whose `#`, `@` or `/` broke the URL),
 * only its scheme when it has one, and how a user name or password must be written.
 */
export function notAnHttpUrl(value: string): string {
  // `127.0.0.1:8080/...` and `localhost:8080/...` are the usual slip: the second even parses, as
  // a URL of the scheme `localhost:`. Whether `://` is there says nothing of a secret's text.
  const noScheme = value.includes('://') ? '' : '; it has no http:// or https:// in front';
  return `${loggableUrl(value)} (not shown: it may hold a credential${noScheme}; a user name or password in a URL must be percent-encoded)`;
}

/**
 * Why a value cannot be an SQS queue URL (`https://sqs.<region>.amazonaws.com/<account>/<queue>`),
 * or null when it can. A queue URL has no user, password, query or fragment, so one that does holds
 * something else, often a credential; the AWS SDK would print the whole URL in its warning that
 * the queue's host differs from the client's endpoint, and the redrive's set-aside file would keep it.
 */
export function queueUrlProblem(value: string): string | null {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return `must be an SQS queue URL, got ${notAnHttpUrl(value)}`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `must be an SQS queue URL, got ${notAnHttpUrl(value)}`;
  if (u.username !== '' || u.password !== '' || u.search !== '' || u.hash !== '') {
    return `must be an SQS queue URL without a user, password, query or fragment (${loggableUrl(value)}): AWS signs the request, and the URL is printed and kept`;
  }
  return null;
}

/** The levels the logger takes (Powertools Logger's), in any case. */
export const LOG_LEVELS: readonly string[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT'];

/** The largest TCP port; 0 asks the system for a free one. */
export const MAX_PORT = 65_535;

/**
 * A TCP port as a flag or a variable spells it, 0 (the system picks a free one) to 65,535, or
 * `undefined` when the text is no port. Flags and variables read ports through this one function
 * and say `portProblem`, so `--metrics-port 0` and `AISOC_TAIL_METRICS_PORT=0` mean the same.
 */
export function parsePort(text: string): number | undefined {
  const v = text.trim();
  return /^\d+$/.test(v) && Number(v) <= MAX_PORT ? Number(v) : undefined;
}

/** What is wrong with a port given as `label` (a flag or a variable). */
export function portProblem(label: string, text: string): string {
  return `${label} must be a port from 0 to ${MAX_PORT} (0 picks a free one), got ${JSON.stringify(text)}`;
}

/**
 * Collects problems while reading variables, so one error names every bad variable instead of
 * the first. Call `done()` at the end: it throws a `ConfigError` when anything was wrong.
 */
export class EnvReader {
  readonly problems: string[] = [];
  constructor(readonly env: Env) {}

  /** A string variable; empty counts as unset. */
  string(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v === '' ? undefined : v;
  }

  /**
   * LOG_LEVEL and POWERTOOLS_LOG_LEVEL (which wins, as in Powertools), for the parts that log: a
   * misspelt level would otherwise run at INFO without a word.
   */
  logLevel(): void {
    for (const name of ['POWERTOOLS_LOG_LEVEL', 'LOG_LEVEL']) {
      const v = this.string(name);
      if (v !== undefined && !LOG_LEVELS.includes(v.trim().toUpperCase())) {
        this.problems.push(`${name} must be DEBUG, INFO, WARN or ERROR (or TRACE, CRITICAL, SILENT), got ${JSON.stringify(v)}`);
      }
    }
  }

  /** A string variable that must be set. */
  required(name: string, hint = ''): string {
    const v = this.string(name);
    if (v === undefined) {
      this.problems.push(`${name} is required${hint ? ` (${hint})` : ''}`);
      return '';
    }
    return v;
  }

  /** An integer variable within [min, max], or the default when unset. */
  int(name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.string(name);
    if (v === undefined) return fallback;
    if (!/^\d+$/.test(v.trim()) || Number(v) < min || Number(v) > max) {
      this.problems.push(`${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(v)}`);
      return fallback;
    }
    return Number(v);
  }

  /** A port variable (`parsePort`), or null when unset. */
  port(name: string): number | null {
    const v = this.string(name);
    if (v === undefined) return null;
    const port = parsePort(v);
    if (port === undefined) this.problems.push(portProblem(name, v));
    return port ?? null;
  }

  /** A boolean variable (`true/false/1/0/yes/no`), or the default when unset. */
  bool(name: string, fallback: boolean): boolean {
    const raw = this.string(name);
    const v = raw?.toLowerCase();
    if (v === undefined) return fallback;
    if (['true', '1', 'yes'].includes(v)) return true;
    if (['false', '0', 'no'].includes(v)) return false;
    // Every spelling taken is named (docs/configuration.md), and the value as it was typed.
    this.problems.push(`${name} must be true or false (or 1/0, yes/no), got ${JSON.stringify(raw)}`);
    return fallback;
  }

  /** A URL variable (http or https). */
  url(name: string, required: boolean, hint = ''): string | undefined {
    const v = required ? this.required(name, hint) : this.string(name);
    if (v === undefined || v === '') return undefined;
    try {
      const u = new URL(v);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http');
      return v;
    } catch {
      this.problems.push(`${name} must be an http(s) URL, got ${notAnHttpUrl(v)}`);
      return undefined;
    }
  }

  /** Throws one `ConfigError` naming every problem seen so far. */
  done(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
  }
}
