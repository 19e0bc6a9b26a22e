import { type Dirent, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { shippedDetection } from '../audit/detect.js';
import type { Detection } from '../audit/types.js';
import { ConfigError, type Env, EnvReader } from '../config/env.js';
import { compileRules, compileRulesAll, mergeRulesAll, type RuleEngine } from './engine.js';
import { parseOperatorFile, RulePackError, RulesDirError } from './pack.js';
import { shippedRuleSpecs } from './shipped.js';
import type { RoutineEntry, RuleDisable, RuleSpec } from './types.js';

const RULE_FILE = /\.(ya?ml|json)$/i;

/**
 * Whether a directory entry named like a rule file is one to read: a file, or a symbolic link to
 * one. A ConfigMap or Secret mounted as a volume shows each key as a link (`rules.yaml ->
 * ..data/rules.yaml`: the kubelet's atomic writer, kubernetes/kubernetes
 * pkg/volume/util/atomic_writer.go), so links must be followed or a mounted pack is silently
 * skipped; a link to a directory is not a rule file. A link that leads nowhere is read, so the
 * read names it (ENOENT) instead of the pack starting without it.
 */
function isRuleFile(dir: string, entry: Dirent): boolean {
  if (!RULE_FILE.test(entry.name)) return false;
  if (entry.isFile()) return true;
  if (!entry.isSymbolicLink()) return false;
  try {
    return statSync(join(dir, entry.name)).isFile();
  } catch {
    return true;
  }
}

/**
 * Reads every rule file (`*.yaml`, `*.yml`, `*.json`, or a link to one) of an operators'
 * directory, in name order: the rules of the files that parse, and a problem for each file that
 * cannot be read or holds a bad rule; throws RulesDirError when the directory cannot be read or
 * holds no rule file.
 */
async function readRulesDirAll(dir: string): Promise<{ entries: (RuleSpec | RuleDisable)[]; routine: RoutineEntry[]; problems: string[] }> {
  let names: string[];
  let all: Dirent[];
  try {
    all = readdirSync(dir, { withFileTypes: true });
    names = all
      .filter((d) => isRuleFile(dir, d))
      .map((d) => d.name)
      .sort();
  } catch (err) {
    throw new RulesDirError([`${dir}: cannot read the rules directory (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  if (names.length === 0) {
    // A directory named but holding no rule file is a wrong path (the mount's parent, a layer's
    // other folder) or files misnamed: starting on the shipped pack alone would drop the
    // operators' overrides and disables without a word, as an S3 object not read would.
    const held = all
      .map((d) => d.name)
      .filter((n) => !n.startsWith('..'))
      .sort();
    const shown =
      held.length === 0
        ? 'it is empty'
        : `it holds ${held.slice(0, 5).join(', ')}${held.length > 5 ? `, and ${held.length - 5} more` : ''}`;
    throw new RulesDirError([`${dir}: no rule files (*.yaml, *.yml, *.json) in the rules directory; ${shown}`]);
  }
  const entries: (RuleSpec | RuleDisable)[] = [];
  const routine: RoutineEntry[] = [];
  const problems: string[] = [];
  for (const name of names) {
    const file = join(dir, name);
    try {
      const content = await parseOperatorFile(readFileSync(file, 'utf8'), file);
      entries.push(...content.entries);
      routine.push(...content.routine);
    } catch (err) {
      if (err instanceof RulePackError) problems.push(...err.problems);
      else problems.push(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  }
  return { entries, routine, problems };
}

/**
 * The shipped pack with operators' entries merged over it, compiled; rejects with every problem of
 * every stage at once (`earlier`: those of reading the files), so an operator fixing a directory
 * sees a YAML error in one file, a duplicate id and a condition that does not compile in others
 * together, not one per start. `routine`: every file's routine identities, merged (a name in two
 * files is the same declaration, so no conflict).
 */
function packOf(entries: readonly (RuleSpec | RuleDisable)[], routine: readonly RoutineEntry[], earlier: readonly string[]): RuleEngine {
  const merged = mergeRulesAll(shippedRuleSpecs(), entries);
  const compiled = compileRulesAll(merged.rules, routine);
  const problems = [...earlier, ...merged.problems, ...compiled.problems];
  if (problems.length > 0 || compiled.engine === null) throw new RulePackError(problems);
  return compiled.engine;
}

/** The shipped pack with an operators' directory applied (overrides, disables, additions), compiled. */
export async function compilePack(dir: string | undefined): Promise<RuleEngine> {
  if (dir === undefined) return compileRules(shippedRuleSpecs());
  const { entries, routine, problems } = await readRulesDirAll(dir);
  return packOf(entries, routine, problems);
}

/** An S3 object holding one rule file (`rules: [...]`), as K8S_AUDIT_RULES=s3://bucket/key names it. */
export interface RulesObject {
  bucket: string;
  key: string;
}

// S3 bucket names (docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html): 3-63
// lower-case letters, digits, dots and hyphens. Keys: up to 1024 bytes of UTF-8.
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** `s3://bucket/key` read as a bucket and key; a string naming the problem when it is not one. */
export function parseRulesObjectUrl(value: string): RulesObject | string {
  const m = /^s3:\/\/([^/]*)\/(.*)$/.exec(value);
  if (m === null) return `K8S_AUDIT_RULES: ${JSON.stringify(value)} is not s3://bucket/key`;
  const [, bucket, key] = m as unknown as [string, string, string];
  if (!BUCKET.test(bucket)) return `K8S_AUDIT_RULES: ${JSON.stringify(bucket)} is not an S3 bucket name`;
  if (key === '' || key.endsWith('/') || Buffer.byteLength(key) > 1024)
    return `K8S_AUDIT_RULES: s3://${bucket}/${key} does not name one object (a YAML file holding a rules list)`;
  return { bucket, key };
}

/** The largest rules object read at init: a pack is kilobytes; anything near this is not one. */
export const MAX_RULES_OBJECT_BYTES = 1024 * 1024;

/** Reads an S3 object's text; injected so tests can use a stand-in. Throws `ConfigError` naming the object. */
export type RulesObjectReader = (object: RulesObject) => Promise<string>;

/** Reads a rules object with the AWS SDK, imported only when K8S_AUDIT_RULES names one. */
export const readS3RulesObject: RulesObjectReader = async ({ bucket, key }) => {
  const { GetObjectCommand, S3Client } = await import('@aws-sdk/client-s3');
  const where = `K8S_AUDIT_RULES: s3://${bucket}/${key}`;
  let text: string;
  try {
    const out = await new S3Client({}).send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if ((out.ContentLength ?? 0) > MAX_RULES_OBJECT_BYTES)
      throw new ConfigError([`${where} is ${out.ContentLength} bytes, more than a rules file holds (at most ${MAX_RULES_OBJECT_BYTES})`]);
    text = (await out.Body?.transformToString('utf8')) ?? '';
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    // The SDK's error name and message (NoSuchKey, NoSuchBucket, AccessDenied, ...) say what is
    // wrong; neither carries the function's credentials.
    const e = err as Error;
    throw new ConfigError([`${where} cannot be read: ${e.name}: ${e.message.split('\n')[0]?.slice(0, 200)}`]);
  }
  if (Buffer.byteLength(text) > MAX_RULES_OBJECT_BYTES)
    throw new ConfigError([`${where} is more than a rules file holds (at most ${MAX_RULES_OBJECT_BYTES} bytes)`]);
  return text;
};

/**
 * Operators' rules K8S_AUDIT_RULES names: a directory (a Lambda layer, a mounted volume) or one
 * S3 object. Read and compiled once at init by `compileRulesSource`, asynchronously, so the YAML
 * parser is loaded only when there are operators' files to parse.
 */
export type RulesSource = { kind: 'dir'; dir: string } | { kind: 's3'; object: RulesObject };

/** The detection settings as read from the environment: ready, or waiting for operators' rules. */
export interface DetectionSetting {
  /** The detection to use when `rules` is null; with operators' rules, `compileRulesSource` makes it. */
  detection: Detection;
  rules: RulesSource | null;
}

/**
 * K8S_AUDIT_SEVERITY (`default`, or `spec` for the spec's table alone) and K8S_AUDIT_RULES (a
 * directory of operators' rules, or `s3://bucket/key` of one rule file). Problems go to the
 * reader, so one ConfigError names them all; the rules themselves are read by `compileRulesSource`,
 * which names a rule that does not compile with its file, id and CEL error.
 */
export function readDetectionSetting(r: EnvReader): DetectionSetting {
  const mode = r.string('K8S_AUDIT_SEVERITY')?.trim().toLowerCase() ?? 'default';
  const named = r.string('K8S_AUDIT_RULES')?.trim() || undefined;
  const ready = (detection: Detection): DetectionSetting => ({ detection, rules: null });
  if (mode !== 'default' && mode !== 'spec') {
    r.problems.push(`K8S_AUDIT_SEVERITY must be default or spec, got ${JSON.stringify(r.string('K8S_AUDIT_SEVERITY'))}`);
    return ready(shippedDetection());
  }
  if (mode === 'spec') return ready({ severity: 'spec', rules: null });
  if (named === undefined) return ready(shippedDetection());
  if (!named.startsWith('s3://')) return { detection: shippedDetection(), rules: { kind: 'dir', dir: named } };
  const object = parseRulesObjectUrl(named);
  if (typeof object === 'string') {
    r.problems.push(object);
    return ready(shippedDetection());
  }
  return { detection: shippedDetection(), rules: { kind: 's3', object } };
}

/** How `source` is named in errors: its directory, or s3://bucket/key. */
export function rulesSourceName(source: RulesSource): string {
  return source.kind === 'dir' ? source.dir : `s3://${source.object.bucket}/${source.object.key}`;
}

/**
 * The shipped pack with the operators' rules of `source` applied (overrides, disables, additions),
 * compiled. Rejects with a ConfigError naming the directory's files or s3://bucket/key and every
 * problem (an object the reader cannot fetch is a ConfigError of the reader's).
 */
export async function compileRulesSource(source: RulesSource, read: RulesObjectReader = readS3RulesObject): Promise<RuleEngine> {
  try {
    if (source.kind === 'dir') return await compilePack(source.dir);
    const content = await parseOperatorFile(await read(source.object), rulesSourceName(source));
    return packOf(content.entries, content.routine, []);
  } catch (err) {
    if (!(err instanceof RulePackError)) throw err;
    throw new ConfigError([`K8S_AUDIT_RULES: ${err.problems.join('; ')}`]);
  }
}

/** `compileRulesSource` of one S3 object (`rules test s3://...`). */
export function compileRulesObject(object: RulesObject, read: RulesObjectReader = readS3RulesObject): Promise<RuleEngine> {
  return compileRulesSource({ kind: 's3', object }, read);
}

/**
 * K8S_AUDIT_SEVERITY and K8S_AUDIT_RULES for the commands that read no S3 object (`s3://` is a
 * problem named for them), compiled; rejects with a ConfigError naming every problem.
 */
export async function loadDetection(env: Env): Promise<Detection> {
  const r = new EnvReader(env);
  const setting = readDetectionSetting(r);
  if (setting.rules?.kind === 's3') {
    r.problems.push(
      'K8S_AUDIT_RULES: an s3:// rules object is read by the ingest (serve and the Lambda) only; here, download it (aws s3 cp) and name its directory',
    );
  }
  r.done();
  if (setting.rules === null) return setting.detection;
  return { severity: 'default', rules: await compileRulesSource(setting.rules) };
}
