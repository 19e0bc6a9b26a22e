import { parsePort, portProblem } from '../config/env.js';

/** A usage error: the command prints it with a pointer to `--help` and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Parsed command line: flags by name and the positional arguments in order. */
export interface ParsedArgs {
  flags: Map<string, string | true>;
  positionals: string[];
  /** Every value of each flag listed as repeatable, in order. */
  repeated: Map<string, string[]>;
  /** `--help` or `-h` was given as an option (not as an option's value, not after `--`). */
  help: boolean;
}

/** How a value that is an option is named in the error: an option's name, or not at all (it may be anything). */
const OPTION_LIKE = /^--?[A-Za-z][A-Za-z0-9-]*$/;

/**
 * Parses `--name value`, `--name=value` and boolean `--name` flags. `booleans` lists the flags
 * that take no value; anything else that is not listed in `known` is a usage error, so a typo
 * never silently falls back to a default. A flag listed in `repeatable` may be given more than once.
 * A word starting with `-` (other than `-` alone, standard input) is an option too: one the
 * command does not map to a long name first is unknown, never a file or a directory named `-z`;
 * nor is it ever the value of the option before it (`invoke Ingest -e -h` printed the help: the
 * error names `--event`), which takes such a value as `--name=-x`.
 * After `--` every word is positional, so a file whose name starts with `-` is still reachable.
 * `--help` / `-h` as an option sets `help`, and then wins over every usage error of the line.
 */
export function parseArgs(
  argv: string[],
  known: readonly string[],
  booleans: readonly string[] = [],
  repeatable: readonly string[] = [],
): ParsedArgs {
  const flags = new Map<string, string | true>();
  const repeated = new Map<string, string[]>();
  const positionals: string[] = [];
  let help = false;
  let problem: string | undefined;
  const refuse = (message: string) => {
    problem ??= message;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--')) {
      refuse(`unknown option ${arg}`);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    if (booleans.includes(name)) {
      if (eq !== -1) refuse(`--${name} takes no value`);
      else flags.set(name, true);
      continue;
    }
    if (!known.includes(name)) {
      refuse(`unknown option --${name}`);
      continue;
    }
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) {
      refuse(`--${name} needs a value`);
      continue;
    }
    // A negative number is a value (said out of range by the flag's own check), as argparse reads it.
    if (eq === -1 && value.startsWith('-') && value !== '-' && !/^-\d/.test(value)) {
      const shown = OPTION_LIKE.test(value) ? `${value} is an option` : 'a word starting with - is an option';
      refuse(`--${name} needs a value (${shown}; a value that starts with - goes as --${name}=<value>)`);
      continue;
    }
    flags.set(name, value);
    if (repeatable.includes(name)) repeated.set(name, [...(repeated.get(name) ?? []), value]);
  }
  if (!help && problem !== undefined) throw new UsageError(problem);
  return { flags, positionals, repeated, help };
}

/** Whether `--help` or `-h` was given as an option: after `--` they are names (a file called `-h`). */
export function asksForHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  const options = end === -1 ? argv : argv.slice(0, end);
  return options.includes('--help') || options.includes('-h');
}

/** Every value of a repeatable flag, in the order given. */
export function multiFlag(args: ParsedArgs, name: string): string[] {
  return args.repeated.get(name) ?? [];
}

/** The string value of a flag, or `undefined` when it was not given. */
export function flag(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

/**
 * The environment with the variables whose flag was given left out (`twins`: flag name to its
 * variable). A flag wins over the variable it defaults from (docs/configuration.md), so the
 * variable's value is not read at all: a bad one no longer stops a command the flag configures.
 */
export function envUnderFlags(env: NodeJS.ProcessEnv, args: ParsedArgs, twins: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const [name, variable] of Object.entries(twins)) if (args.flags.has(name)) delete out[variable];
  return out;
}

/** A flag that must be a positive integer (seconds, counts, ports), at least `min` and, when given, at most `max`. */
export function intFlag(args: ParsedArgs, name: string, min = 0, max?: number): number | undefined {
  const v = flag(args, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || (max !== undefined && Number(v) > max)) {
    const range = max === undefined ? `>= ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`--${name} must be an integer ${range}, got ${JSON.stringify(v)}`);
  }
  return Number(v);
}

/** A port flag (`parsePort`: 0 picks a free one), said wrong in the words its variable's problem uses. */
export function portFlag(args: ParsedArgs, name: string): number | undefined {
  const v = flag(args, name);
  if (v === undefined) return undefined;
  const port = parsePort(v);
  if (port === undefined) throw new UsageError(portProblem(`--${name}`, v));
  return port;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Reads a time flag: ISO 8601, epoch ms, `now`, or an age like `6h` (s, m, h, d), as kubectl's --since. */
export function parseTime(value: string, name: string, now: number): number {
  const v = value.trim();
  if (v === 'now') return now;
  if (/^\d{12,}$/.test(v)) return Number(v);
  const age = /^(\d+)([smhd])$/.exec(v);
  if (age) return now - Number(age[1]) * (UNIT_MS[age[2] as string] as number);
  const t = Date.parse(v);
  if (Number.isNaN(t))
    throw new UsageError(`--${name} must be an ISO 8601 time, epoch milliseconds, "now" or an age like 6h, got ${JSON.stringify(value)}`);
  return t;
}

/** The output format of a listing command: `-o wide`, `-o json` or `--json`, else the table. */
export function outputFormat(args: ParsedArgs): 'table' | 'wide' | 'json' {
  const o = flag(args, 'output');
  if (args.flags.get('json') === true || o === 'json') return 'json';
  if (o === undefined) return 'table';
  if (o === 'wide') return 'wide';
  throw new UsageError(`-o takes wide or json, got ${JSON.stringify(o)}`);
}

/** `-o X` as `--output X`, so listing commands take kubectl's short form. */
export function withShortOutput(argv: readonly string[]): string[] {
  return argv.map((a) => (a === '-o' ? '--output' : a));
}
