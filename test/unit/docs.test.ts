import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { codeLines, REPO_ROOT, sourceFiles, sourceText } from '../helpers/source.js';

// What a newcomer types from the docs must exist: each flag docs/commands.md shows is one its
// command's --help lists (and the reverse), each variable the code reads is in
// docs/configuration.md (and the reverse), and each source or test file a page names is there.

const doc = (name: string): string => readFileSync(join(REPO_ROOT, name), 'utf8');
const PAGES = [
  'README.md',
  'CONTRIBUTING.md',
  ...readdirSync(join(REPO_ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** docs/commands.md's table: each row's command words (`inbox create`, `rules list`) and every flag the row names. */
function commandRows(): { commands: string[]; flags: Set<string> }[] {
  return doc('docs/commands.md')
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((row) => {
      const usageCell = row.split(' | ')[0] ?? '';
      const usages = [...usageCell.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '');
      const commands = usages.map((u) => (/^([a-z][a-z-]*(?: [a-z][a-z-]*)?)(?=\s[-[<A-Z]|$)/.exec(u)?.[1] ?? u).trim());
      return { commands, flags: new Set(flagsIn(row)) };
    });
}

/** The long flags (`--tenant`) and short ones (`-o`, `-e`) a text names. */
function flagsIn(text: string): string[] {
  return [...text.matchAll(/(?<![\w-])(--[a-z][a-z-]*|-[a-z])(?![\w-])/g)].map((m) => m[1] ?? '');
}

/** The options a command's --help lists under "Options:", each as its spellings (`-e, --event`). */
function optionFlags(help: string): string[][] {
  const options = help.split(/^Options:$/m)[1] ?? '';
  return options
    .split('\n')
    .filter((line) => /^\s{2}-/.test(line))
    .map((line) => flagsIn(line.trim().split(/\s{2,}/)[0] ?? ''))
    .filter((spellings) => spellings.length > 0 && !spellings.includes('--help'));
}

describe('docs/commands.md against each command’s --help', () => {
  const rows = commandRows();

  it('has a row for every command the CLI lists', async () => {
    const { stdout } = await runCli(['--help']);
    const listed = [...(stdout.split(/^Commands:$/m)[1] ?? '').matchAll(/^ {2}([a-z-]+)/gm)].map((m) => m[1]);
    const documented = new Set(rows.flatMap((r) => r.commands.map((c) => c.split(' ')[0])));
    expect(listed.length).toBeGreaterThan(10);
    expect(listed.filter((c) => !documented.has(c))).toEqual([]);
  });

  it('every docs page a --help names exists', async () => {
    const helps = await Promise.all(rows.flatMap((r) => r.commands).map(async (c) => (await runCli([...c.split(' '), '--help'])).stdout));
    const named = [...new Set(helps.flatMap((h) => [...h.matchAll(/\bdocs\/[a-z-]+\.md\b/g)].map((m) => m[0])))];
    expect(named.length).toBeGreaterThan(3);
    expect(named.filter((page) => !existsSync(join(REPO_ROOT, page)))).toEqual([]);
  });

  it.each(rows.map((r) => [r.commands.join(', '), r] as const))(
    '%s: every flag the row names is in --help, and every option --help lists is in the row',
    async (_, row) => {
      const helps = await Promise.all(row.commands.map(async (c) => (await runCli([...c.split(' '), '--help'])).stdout));
      const help = helps.join('\n');
      expect(help).toContain('Usage:');
      expect([...row.flags].filter((flag) => !flagsIn(help).includes(flag))).toEqual([]);
      const undocumented = helps.flatMap(optionFlags).filter((spellings) => !spellings.some((flag) => row.flags.has(flag)));
      expect([...new Set(undocumented.map((spellings) => spellings.join(', ')))]).toEqual([]);
    },
  );
});

// A variable is a name a reader passes as a string literal (`r.int('FORWARDER_CONCURRENCY', …)`,
// `pick('tls-cert', 'AISOC_TLS_CERT_FILE')`) or an `env.NAME` access, in the code the commands and
// the Lambdas run. Only this project's prefixes and the sink/cluster names count as literals, so
// error codes (`ERR_…`, `CERT_HAS_EXPIRED`) and the capability names are left out.
const PROJECT_VARIABLE =
  /^(?:K8S_AUDIT_\w+|AISOC_\w+|FORWARDER_\w+|AUDIT_LOG_\w+|POWERTOOLS_\w+|AWS_ENDPOINT_URL\w*|(?:EVENTS|ALERTS|REJECTS)_SINK|SINK_MAX_ATTEMPTS|INBOX_TABLE|CLUSTER_NAME|LOG_LEVEL|AWS_REGION|AWS_DEFAULT_REGION|AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|AWS_LAMBDA_FUNCTION_NAME)$/;
// Read by code but no configuration: set by Lambda for its logger, or by the CLI itself.
const NOT_CONFIGURATION = new Set([
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED',
]);
// Documented, and read by a library rather than by this code: the Powertools Logger samples debug
// logging from POWERTOOLS_LOGGER_SAMPLE_RATE itself (lib/log/index.ts).
const READ_BY_LIBRARIES = new Set(['POWERTOOLS_LOGGER_SAMPLE_RATE']);

function variablesReadByCode(): Set<string> {
  const names = new Set<string>();
  const files = [...sourceFiles('lib'), ...sourceFiles('functions'), ...sourceFiles('infra/azure')];
  for (const file of files) {
    const code = codeLines(sourceText(file)).join('\n');
    for (const m of code.matchAll(/\benv\??\.([A-Z][A-Z0-9_]+)|\benv\[['"]([A-Z][A-Z0-9_]+)['"]\]/g)) names.add(m[1] ?? m[2] ?? '');
    for (const m of code.matchAll(/['"`]([A-Z][A-Z0-9]*_[A-Z0-9_]+)['"`]/g)) if (PROJECT_VARIABLE.test(m[1] ?? '')) names.add(m[1] ?? '');
  }
  for (const name of NOT_CONFIGURATION) names.delete(name);
  return names;
}

/** The variables docs/configuration.md's table documents (its first column). */
function documentedVariables(): Set<string> {
  const rows = doc('docs/configuration.md')
    .split('\n')
    .filter((line) => line.startsWith('| `'));
  return new Set(rows.flatMap((row) => [...(row.split(' | ')[0] ?? '').matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1] ?? '')));
}

describe('docs/configuration.md against the variables the code reads', () => {
  it('every variable the code reads has a row', () => {
    const documented = documentedVariables();
    const read = variablesReadByCode();
    expect(read.size).toBeGreaterThan(60);
    expect([...read].filter((v) => !documented.has(v)).sort()).toEqual([]);
  });

  it('every variable with a row is read by the code', () => {
    const read = variablesReadByCode();
    // The per-service endpoints are read as `AWS_ENDPOINT_URL_${service}` (lib/config/forwarder.ts).
    const templated = (v: string) =>
      /^AWS_ENDPOINT_URL_[A-Z_]+$/.test(v) && sourceText('lib/config/forwarder.ts').includes('`AWS_ENDPOINT_URL_${');
    expect([...documentedVariables()].filter((v) => !read.has(v) && !templated(v) && !READ_BY_LIBRARIES.has(v)).sort()).toEqual([]);
  });
});

describe('docs/configuration.md against the knobs the tests read', () => {
  it('names every variable a test, benchmark or load run reads that the test does not set itself', () => {
    const configuration = doc('docs/configuration.md');
    const files = [...sourceFiles('test'), 'test/bench/run.mjs', 'test/load/run.mjs'];
    const unnamed = new Set<string>();
    for (const file of files) {
      const text = codeLines(sourceText(file)).join('\n');
      for (const m of codeLines(text)
        .join('\n')
        .matchAll(/process\.env\.([A-Z][A-Z0-9_]+)|process\.env\[['"]([A-Z][A-Z0-9_]+)['"]\]/g)) {
        const name = m[1] ?? m[2] ?? '';
        // PATH is the system's; a name the file also assigns (`NAME: …`, `NAME=…`) is the test's own fixture.
        const setHere = new RegExp(`\\b${name}(?::\\s*['"\`]|=)`).test(text);
        if (name !== 'PATH' && !setHere && !configuration.includes(`\`${name}\``)) unnamed.add(`${file}: ${name}`);
      }
    }
    expect([...unnamed].sort()).toEqual([]);
  });
});

describe('the files the docs name', () => {
  it('every source, script and test file a page names exists', () => {
    const missing = PAGES.flatMap((page) =>
      [...doc(page).matchAll(/(?<![\w./-])((?:lib|test|functions|scripts|infra|web)\/[\w./-]+\.(?:ts|mjs))\b/g)]
        .map((m) => m[1] ?? '')
        .filter((path) => !existsSync(join(REPO_ROOT, path)))
        .map((path) => `${page}: ${path}`),
    );
    expect(missing).toEqual([]);
  });

  it('every test a page runs by name (`vitest run [FILE] -t NAME`) exists (in FILE when one is given)', () => {
    const runs = PAGES.flatMap((page) =>
      [...doc(page).matchAll(/vitest run ((?:test\/[\w./-]+\.ts )*)-t '([^']+)'/g)].map((m) => ({
        page,
        files: (m[1] ?? '').split(' ').filter((f) => f !== ''),
        name: m[2] ?? '',
      })),
    );
    expect(runs.length).toBeGreaterThan(0);
    const everyTest = [...sourceFiles('test/unit'), ...sourceFiles('test/integration')];
    const missing = runs
      .filter(
        ({ files, name }) =>
          !(files.length > 0 ? files : everyTest).some((f) => existsSync(join(REPO_ROOT, f)) && sourceText(f).includes(name)),
      )
      .map(({ page, name }) => `${page}: ${name}`);
    expect(missing).toEqual([]);
  });
});
