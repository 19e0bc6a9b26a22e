/**
 * Environment → frozen typed config, validated once at start. Each area keeps its loader in
 * `lib/config/<area>.ts`; this module is the one place entry points import them from.
 */

export type { Env } from './config/env.js';
export { ConfigError, EnvReader } from './config/env.js';
export * from './config/forwarder.js';
export * from './config/ingest.js';
export * from './config/secret.js';
export * from './config/tail.js';
export * from './config/tls.js';
