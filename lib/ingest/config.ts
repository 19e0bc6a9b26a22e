import type { Detection } from '../audit/types.js';
import { type Env, EnvReader } from '../config/env.js';
import { type IngestSettings, type LoadIngestOptions, readIngestSettings } from '../config/ingest.js';
import { readDetection } from '../rules/load.js';

/**
 * The ingest's configuration: lib/config's settings and the detection they name, compiled here
 * because lib/config imports nothing of lib (the rule pack is lib/rules' to compile).
 */
export interface IngestConfig extends IngestSettings {
  /** K8S_AUDIT_SEVERITY and K8S_AUDIT_RULES; absent: the refined table and the shipped pack. */
  readonly detection?: Detection;
}

/**
 * Reads the ingest endpoint's configuration, the rule pack of K8S_AUDIT_SEVERITY and K8S_AUDIT_RULES
 * compiled; throws one `ConfigError` naming every bad variable (a rule that does not compile too).
 */
export function loadIngestConfig(env: Env, opts: LoadIngestOptions = {}): IngestConfig {
  const r = new EnvReader(env);
  const settings = readIngestSettings(r, opts);
  const detection = readDetection(r);
  r.done();
  return Object.freeze({ ...settings, detection });
}
