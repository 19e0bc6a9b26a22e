import type { Detection } from '../audit/types.js';
import { type Env, EnvReader } from '../config/env.js';
import { type IngestSettings, type LoadIngestOptions, readIngestSettings } from '../config/ingest.js';
import { compileRulesObject, type RulesObject, type RulesObjectReader, readDetectionSetting, readS3RulesObject } from '../rules/load.js';

/**
 * The ingest's configuration: lib/config's settings and the detection they name, compiled here
 * because lib/config imports nothing of lib (the rule pack is lib/rules' to compile).
 */
export interface IngestConfig extends IngestSettings {
  /** K8S_AUDIT_SEVERITY and K8S_AUDIT_RULES; absent: the refined table and the shipped pack. */
  readonly detection?: Detection;
  /**
   * K8S_AUDIT_RULES=s3://bucket/key: the rule file `withRulesObject` reads once at init (it then
   * sets `detection` and clears this). The ingest core refuses to start while it is set.
   */
  readonly rulesObject: RulesObject | null;
}

/**
 * Reads the ingest endpoint's configuration, the rule pack of K8S_AUDIT_SEVERITY and K8S_AUDIT_RULES
 * compiled (an s3:// rules object is only named here; `withRulesObject` reads it); throws one
 * `ConfigError` naming every bad variable (a rule that does not compile too).
 */
export function loadIngestConfig(env: Env, opts: LoadIngestOptions = {}): IngestConfig {
  const r = new EnvReader(env);
  const settings = readIngestSettings(r, opts);
  const { detection, rulesObject } = readDetectionSetting(r);
  r.done();
  return Object.freeze({ ...settings, detection, rulesObject });
}

/**
 * The config with the operators' rule file read from S3 when K8S_AUDIT_RULES is s3://bucket/key
 * (once, at init, like the secrets: the entry point keeps the result), merged over the shipped
 * pack and compiled. A missing, unreadable or malformed object fails the start with a ConfigError
 * naming the bucket and key. Otherwise the config as it is.
 */
export async function withRulesObject(config: IngestConfig, read: RulesObjectReader = readS3RulesObject): Promise<IngestConfig> {
  if (config.rulesObject === null) return config;
  const rules = await compileRulesObject(config.rulesObject, read);
  return Object.freeze({ ...config, detection: { severity: 'default' as const, rules }, rulesObject: null });
}
