import { REDACTED } from './redact.js';
import { CREDENTIAL_NAME_PATTERN, isCredentialParamName, redactedValue, scrubTextUrls } from './redact-uri.js';

// Credentials on a command line: what `kubectl exec` sends as `pods/exec?command=…` (one
// `command` parameter per argument, in order: the apiserver logs the query as sent), the
// kubelet's `/run/…?cmd=…` through `nodes/proxy` (one shell-split string), and a container's
// `command` and `args` in a pod spec. The command name and every flag stay (what was run is the
// evidence); what goes is a value that is a credential, by this rule:
// - `--name=value`, `-name=value`, `name=value` and `name: value` (a header given to `curl -H`)
//   whose name is a credential's by the same rule as a query parameter's (redact-uri.ts:
//   `isCredentialParamName`): the value goes. This is Datadog's process-argument scrubber
//   (datadog-agent pkg/process/procutil/data_scrubber.go: a sensitive word as the key, then
//   ` `, `=` or `:`, then the value), with the query rule's names instead of its word list;
// - `--name value` (a flag so named, then a separate value): the next word goes, unless it is
//   another flag (`psql --password -h db`: psql's `--password` only asks for a prompt);
// - after such a name, an HTTP authentication scheme (`Bearer`, `Basic`, `Token`, `Digest`,
//   `Negotiate`: RFC 7235, 6750, 7617) stays and the word after it goes;
// - `-p<password>` glued, for the MySQL and MariaDB clients (`mysql`, `mysqldump`,
//   `mariadb-dump`, …): their manual's short form of `--password`, with no space allowed;
// - `-u user:password`, `--user …`, `-U`, `--proxy-user` for `curl` (its manual): the user
//   stays, the password goes;
// - a URL's password and credential query values (redact-uri.ts), a JWT's signature.
// Words are split on whitespace, so an argument that is a whole shell line (`sh -c "…"`) is
// read word by word, a quote at a word's edge kept. A value that is a JWT keeps its header and
// claims, as everywhere else.

const AUTH_SCHEMES = new Set(['bearer', 'basic', 'token', 'digest', 'negotiate']);
const CURL_USER_FLAGS = new Set(['-u', '--user', '-U', '--proxy-user']);

/** The word a `-p` glued value follows: a MySQL or MariaDB client's name (after its path). */
function isMysqlClient(word: string): boolean {
  const base = word.slice(word.lastIndexOf('/') + 1);
  return base.startsWith('mysql') || base.startsWith('mariadb');
}

interface ArgvState {
  /** What the next word is: a credential's value, a curl user:password, or nothing. */
  pending: 'value' | 'userinfo' | null;
  mysql: boolean;
  curl: boolean;
}

/** One word (its quotes stripped) as it is kept. */
function scrubWord(word: string, state: ArgvState): string {
  const pending = state.pending;
  state.pending = null;
  if (pending === 'value') {
    if (word.startsWith('-')) return scrubWordAsFlag(word, state);
    if (AUTH_SCHEMES.has(word.toLowerCase())) {
      state.pending = 'value';
      return word;
    }
    return redactedValue(word);
  }
  if (pending === 'userinfo' && !word.startsWith('-')) {
    const colon = word.indexOf(':');
    return colon === -1 ? word : `${word.slice(0, colon + 1)}${REDACTED}`;
  }
  return scrubWordAsFlag(word, state);
}

function scrubWordAsFlag(word: string, state: ArgvState): string {
  if (word.includes('://')) return scrubTextUrls(word);
  const base = word.slice(word.lastIndexOf('/') + 1);
  if (isMysqlClient(word)) state.mysql = true;
  else if (base === 'curl') state.curl = true;
  if (state.mysql && word.length > 2 && word.startsWith('-p') && word[2] !== '-') return `-p${REDACTED}`;
  if (state.curl && CURL_USER_FLAGS.has(word)) {
    state.pending = 'userinfo';
    return word;
  }
  const eq = word.indexOf('=');
  const colon = word.indexOf(':');
  const delim = eq === -1 ? colon : colon === -1 ? eq : Math.min(eq, colon);
  if (delim > 0) {
    const name = word.slice(0, delim).replace(/^-+/, '');
    if (!isCredentialParamName(name)) return word;
    const value = word.slice(delim + 1);
    if (value === '' || AUTH_SCHEMES.has(value.toLowerCase())) {
      state.pending = 'value';
      return word;
    }
    return `${word.slice(0, delim + 1)}${redactedValue(value)}`;
  }
  // A negated flag takes no value (`--no-password`: psql, mysql and others ask for none).
  if (word.startsWith('-') && !/^--?no-/i.test(word) && isCredentialParamName(word.replace(/^-+/, ''))) state.pending = 'value';
  return word;
}

const QUOTES = /^["']*|["']*$/g;

/** One argument with each of its words scrubbed; the same string when nothing changed. */
function scrubArg(arg: string, state: ArgvState): string {
  let out = '';
  let copied = 0;
  for (const m of arg.matchAll(/\S+/g)) {
    const raw = m[0];
    const lead = raw.length - raw.replace(/^["']+/, '').length;
    const core = raw.replace(QUOTES, '');
    if (core === '') continue;
    const scrubbed = scrubWord(core, state);
    if (scrubbed !== core) {
      const at = m.index + lead;
      out += arg.slice(copied, at) + scrubbed;
      copied = at + core.length;
    }
  }
  return copied === 0 ? arg : out + arg.slice(copied);
}

/**
 * Whether a command line may hold a credential by the rule above: a name the query rule takes
 * holds one of its words, split or not by a separator the rule drops (`--p-w-d`), and the other cases name their client, a URL, a JWT's `.ey`/`.ew` or a percent-escape.
 * Most containers' command lines hold none, and cost this one pass instead of a walk word by word.
 */
const MAY_HOLD = new RegExp(`${CREDENTIAL_NAME_PATTERN}|mysql|mariadb|curl|://|\\.e[yw]|%`);

/** A command line (its arguments in order) with its credentials redacted (see above); the same array when it holds none. */
export function scrubArgv(argv: readonly string[]): readonly string[] {
  if (!MAY_HOLD.test(argv.join(' ').toLowerCase())) return argv;
  const state: ArgvState = { pending: null, mysql: false, curl: false };
  let out: string[] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const scrubbed = scrubArg(arg, state);
    if (scrubbed !== arg) {
      out ??= argv.slice();
      out[i] = scrubbed;
    }
  }
  return out ?? argv;
}

function decodeQueryValue(raw: string): string {
  const spaced = raw.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}

/** A value as a query writes it, the marker's brackets left readable. */
function encodeQueryValue(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, '+').replace(/%5B/g, '[').replace(/%5D/g, ']');
}

/**
 * `uri` with the credentials in its command line redacted: the `command` parameters of an exec
 * (pods/exec, or the kubelet's `/exec/` through nodes/proxy) and the `cmd` of the kubelet's
 * `/run/`. The same string when it has none, or holds no credential.
 */
export function scrubCommandQuery(uri: string): string {
  const q = uri.indexOf('?');
  if (q === -1 || (!uri.includes('command=', q) && !uri.includes('cmd=', q))) return uri;
  const hash = uri.indexOf('#', q);
  const end = hash === -1 ? uri.length : hash;
  const params = uri.slice(q + 1, end).split('&');
  const isRun = uri.lastIndexOf('/run/', q) !== -1;
  const at: number[] = [];
  const argv: string[] = [];
  params.forEach((param, i) => {
    const eq = param.indexOf('=');
    const name = eq === -1 ? '' : param.slice(0, eq);
    if (name === 'command' || (isRun && name === 'cmd')) {
      at.push(i);
      argv.push(decodeQueryValue(param.slice(eq + 1)));
    }
  });
  const scrubbed = scrubArgv(argv);
  if (scrubbed === argv) return uri;
  at.forEach((i, k) => {
    if (scrubbed[k] !== argv[k]) {
      const param = params[i] as string;
      params[i] = `${param.slice(0, param.indexOf('=') + 1)}${encodeQueryValue(scrubbed[k] as string)}`;
    }
  });
  return `${uri.slice(0, q + 1)}${params.join('&')}${uri.slice(end)}`;
}
