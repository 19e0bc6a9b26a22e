import type { Detection } from '../audit/types.js';
import { type Env, EnvReader } from '../config/env.js';
import { type IngestSettings, type LoadIngestOptions, readIngestSettings } from '../config/ingest.js';
import { compileRulesSource, type RulesObjectReader, type RulesSource, readDetectionSetting, readS3RulesObject } from '../rules/load.js';

/**
 * The ingest's configuration: lib/config's settings and the detection they name, compiled here
 * because lib/config imports nothing of lib (the rule pack is lib/rules' to compile).
 */
export interface IngestConfig extends IngestSettings {
  /** K8S_AUDIT_SEVERITY and K8S_AUDIT_RULES; absent: the refined table and the shipped pack. */
  readonly detection?: Detection;
  /**
   * K8S_AUDIT_RULES: the operators' rules (a directory or s3://bucket/key) `withRules` reads once
   * at init (it then sets `detection` and clears this). The ingest core refuses to start while it is set.
   */
  readonly pendingRules: RulesSource | null;
}

/**
 * Reads the ingest endpoint's configuration and K8S_AUDIT_SEVERITY; the operators' rules
 * K8S_AUDIT_RULES names are only named here (`withRules` reads them). Throws one `ConfigError`
 * naming every bad variable.
 */
export function loadIngestConfig(env: Env, opts: LoadIngestOptions = {}): IngestConfig {
  const r = new EnvReader(env);
  r.logLevel();
  const settings = readIngestSettings(r, opts);
  const { detection, rules } = readDetectionSetting(r);
  r.done();
  return Object.freeze({ ...settings, detection, pendingRules: rules });
}

/**
 * The config with the operators' rules K8S_AUDIT_RULES names (a directory, or one file in S3)
 * read once, at init, like the secrets (the entry point keeps the result), merged over the shipped
 * pack and compiled. A missing, unreadable or malformed source, or a rule that does not compile,
 * fails the start with a ConfigError naming the file and rule. Otherwise the config as it is.
 */
export async function withRules(config: IngestConfig, read: RulesObjectReader = readS3RulesObject): Promise<IngestConfig> {
  if (config.pendingRules === null) return config;
  const rules = await compileRulesSource(config.pendingRules, read);
  return Object.freeze({ ...config, detection: { severity: 'default' as const, rules }, pendingRules: null });
}
