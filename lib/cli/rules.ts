import { BUILT_IN_ROUTINE } from '../audit/severity.js';
import { ConfigError } from '../config/env.js';
import type { RuleEngine } from '../rules/engine.js';
import { runExamples } from '../rules/examples.js';
import { compilePack, compileRulesObject, parseRulesObjectUrl, type RulesObjectReader, readS3RulesObject } from '../rules/load.js';
import { RulePackError, RulesDirError } from '../rules/pack.js';
import { ROUTINE_LISTS } from '../rules/types.js';
import { asksForHelp, parseArgs, UsageError } from './args.js';
import type { CommandIo } from './io.js';

/** The built-in routine identities, by the name an operators' `routine:` section gives each list. */
const BUILT_IN_LISTS = Object.entries(ROUTINE_LISTS).map(([list, key]) => [list, BUILT_IN_ROUTINE[key]] as const);

const HELP = `Usage: aisoc-k8s-audit rules list [DIR] [--json]
       aisoc-k8s-audit rules test [DIR]

The detection rules: CEL conditions over each audit event that raise its severity (highest of
the spec's table and every rule that fires; the record lists the rules in rule_ids).

  list   prints the pack: id, severity, MITRE ATT&CK techniques, title, where it comes from;
         then the identities whose routine traffic is scored low or info (the built-in ones,
         then those DIR's files declare, each with its file); --json prints one rule per line with every field, then one line per routine identity,
         built-in and declared: {"routine": list, "user": name, "built_in": bool, "file": ...}
  test   runs every rule's examples through the normaliser: each "match" event must fire its
         rule, each "no_match" event must not

DIR is an operators' rules directory as K8S_AUDIT_RULES names one (*.yaml, *.yml, *.json): its
rules override shipped rules with the same id, "{id, disabled: true}" turns one off, and new ids
are added. DIR may also be s3://bucket/key, one rule file in S3 as the ingest reads it at init
(with the AWS credentials and region of the environment). Without DIR: K8S_AUDIT_RULES when set,
else the shipped pack alone. A rule that does not compile is reported with its file, id and the
CEL error. DIR's files may declare routine identities (a "routine" section: secret_watchers,
node_drainers, webhook_ca_injectors). Format: docs/detection-rules.md. Any other word starting with - is an option: a
DIR whose name starts with - comes after --, as in rules test -- -my-rules.

Exit status: 0 when the pack compiles (and, for test, every example behaves), 1 when not,
2 for usage errors, a DIR that cannot be read or holds no rule file, and an s3:// object that
cannot be fetched (as every command that reads K8S_AUDIT_RULES).
`;

/** `aisoc-k8s-audit rules list|test [DIR]`. */
export async function run(argv: string[], io: CommandIo): Promise<number> {
  const [sub, ...rest] = argv;
  // Help of list and test is read by their parser (after `--` a -h is a directory's name).
  if (sub === undefined || (sub !== 'list' && sub !== 'test' && asksForHelp(argv))) {
    io.stdout.write(HELP);
    return sub === undefined ? 2 : 0;
  }
  const args = parseArgs(rest, [], ['json']);
  if (args.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (args.positionals.length > 1) throw new UsageError('at most one rules directory');
  if (sub !== 'list' && sub !== 'test') throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}; use list or test`);
  const dir = args.positionals[0] ?? (io.env.K8S_AUDIT_RULES || undefined);
  // Named as the user gave it: DIR alone, or K8S_AUDIT_RULES when the variable named it.
  const named = (problem: string) => (args.positionals[0] === undefined ? problem : problem.replace(/^K8S_AUDIT_RULES: /, ''));
  const object = dir?.startsWith('s3://') ? parseRulesObjectUrl(dir) : undefined;
  // An s3:// that is no bucket and key, or an object that cannot be fetched (NoSuchKey,
  // NoSuchBucket, AccessDenied), is the configuration error a missing directory is: exit 2, worded
  // as serve words it at init. What the object holds is the pack's finding (exit 1), below.
  if (typeof object === 'string') throw new ConfigError([named(object)]);
  let fetched: RulesObjectReader | undefined;
  if (object !== undefined) {
    try {
      const text = await readS3RulesObject(object);
      fetched = async () => text;
    } catch (err) {
      if (err instanceof ConfigError) throw new ConfigError(err.problems.map(named));
      throw err;
    }
  }
  let engine: RuleEngine;
  try {
    engine = object === undefined ? await compilePack(dir) : await compileRulesObject(object, fetched);
  } catch (err) {
    // A directory that cannot be read or holds no rule file is a configuration error, exit 2 and
    // worded as normalise, serve and connector run word K8S_AUDIT_RULES naming it.
    if (err instanceof RulesDirError)
      throw new ConfigError(err.problems.map((p) => (args.positionals[0] === undefined ? `K8S_AUDIT_RULES: ${p}` : p)));
    if (!(err instanceof RulePackError) && !(err instanceof ConfigError)) throw err;
    for (const p of err.problems) io.stderr.write(`${p}\n`);
    io.stderr.write(`the pack does not load: ${err.problems.length} problem(s)\n`);
    return 1;
  }
  if (sub === 'list') {
    if (args.flags.has('json')) {
      for (const r of engine.rules) {
        const { test: _t, admitsUser: _a, ...spec } = r;
        io.stdout.write(`${JSON.stringify(spec)}\n`);
      }
      // After the rules, every identity counted routine, each a line with `routine` (not `id`):
      // the built-in ones, then those DIR's files declare, with their file.
      for (const [list, users] of BUILT_IN_LISTS) {
        for (const user of users) io.stdout.write(`${JSON.stringify({ routine: list, user, built_in: true })}\n`);
      }
      for (const e of engine.declared)
        io.stdout.write(`${JSON.stringify({ routine: e.list, user: e.user, built_in: false, file: e.file })}\n`);
    } else {
      for (const r of engine.rules) {
        io.stdout.write(`${r.id.padEnd(38)} ${r.severity.padEnd(7)} ${r.mitre.join(',').padEnd(24)} ${r.title}\n`);
        io.stdout.write(`${''.padEnd(38)} ${r.file}; after ${r.source}\n`);
      }
      // Routine identities change severities as much as a rule does: shown with them, the built-in
      // ones (docs/detection-rules.md, Refinements) then those the operators' files declare.
      let builtIn = 0;
      for (const [list, users] of BUILT_IN_LISTS) {
        for (const user of users) io.stdout.write(`routine ${list.padEnd(16)} ${user}\n${''.padEnd(25)} built in\n`);
        builtIn += users.size;
      }
      for (const e of engine.declared) io.stdout.write(`routine ${e.list.padEnd(16)} ${e.user}\n${''.padEnd(25)} ${e.file}\n`);
      const declared = engine.declared.length === 0 ? '' : `, ${engine.declared.length} declared`;
      io.stdout.write(
        `${engine.rules.length} rules, ${builtIn} built-in routine identities${declared}${dir === undefined ? '' : ` (shipped pack with ${dir})`}\n`,
      );
    }
    return 0;
  }
  const report = runExamples(engine);
  for (const f of report.failures)
    io.stderr.write(`${f.error === undefined ? 'FAIL' : 'ERROR'} ${f.file}: ${f.ruleId}: examples.${f.kind}[${f.index}]: ${f.reason}\n`);
  const errors = report.failures.filter((f) => f.error !== undefined).length;
  io.stdout.write(
    `${report.rules} rules, ${report.examples} examples, ${report.failures.length} failed${errors === 0 ? '' : ` (${errors} with a rule error)`}\n`,
  );
  return report.failures.length === 0 ? 0 : 1;
}
