import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { shippedDetection } from '../audit/index.js';
import { ConfigError } from '../config/env.js';
import type { InboxStoreSpec } from '../config/ingest.js';
import { shortSecretWarning } from '../config/secret.js';
import type { IngestOutcome } from '../metrics/names.js';
import { rulesSourceName } from '../rules/load.js';
import { shippedRules } from '../rules/shipped.js';
import { createRecordWriter, createRejectSink, type RejectSink, type SinkOptions } from '../sinks/index.js';
import type { RecordWriter } from '../sinks/writer.js';
import type { IngestConfig } from './config.js';
import type { InboxStore } from './inbox.js';
import { IngestService, type LogEntry } from './service.js';

/** Everything `createIngestService` can take instead of building it from the config. */
export interface CreateIngestOptions {
  log?: (entry: LogEntry) => void;
  /** Replaces the sinks the config names (tests, benchmarks). */
  writer?: RecordWriter;
  /** Replaces the rejects sink the config names (null: rejected items are only counted, as in tests). */
  rejects?: RejectSink | null;
  /** Replaces the inbox store the config names. */
  inbox?: InboxStore | null;
  /** Passed to the sinks: stdout stream, preconfigured AWS clients. */
  sinks?: Omit<SinkOptions, 'dataDir' | 'maxAttempts'>;
  dynamodb?: DynamoDBClient;
  now?: () => number;
  /** Told what each request did (metrics). */
  observe?: (outcome: IngestOutcome) => void;
  /** Other secrets of this installation, refused as a tenant id (the console token). */
  otherSecrets?: readonly string[];
}

/** Opens the inbox store a config names: SQLite in the data dir, DynamoDB, or none. */
export async function openInboxStore(spec: InboxStoreSpec, dynamodb?: DynamoDBClient): Promise<InboxStore | null> {
  switch (spec.kind) {
    case 'sqlite': {
      const { SqliteInboxStore } = await import('./inbox-sqlite.js');
      return new SqliteInboxStore(spec.dataDir);
    }
    case 'dynamodb': {
      const { DynamoInboxStore } = await import('./inbox-dynamodb.js');
      return new DynamoInboxStore({ table: spec.table, ...(dynamodb ? { client: dynamodb } : {}) });
    }
    case 'none':
      return null;
  }
}

/** A warning for each secret the ingest accepts that is too short (`shortSecretWarning`). */
function shortSecretWarnings(config: IngestConfig): string[] {
  const current =
    config.sharedSecretArn === null ? 'K8S_AUDIT_SHARED_SECRET' : `the secret ${config.sharedSecretArn} (K8S_AUDIT_SHARED_SECRET_ARN)`;
  const found = [
    shortSecretWarning(config.sharedSecret, current),
    shortSecretWarning(config.previousSharedSecret, 'K8S_AUDIT_SHARED_SECRET_PREVIOUS'),
    ...[...(config.tenantSecrets ?? new Map<string, string>())].map(([tenant, secret]) =>
      shortSecretWarning(
        secret,
        `the shared secret of tenant ${JSON.stringify(tenant)} (${config.tenantSecretsArn === null ? 'K8S_AUDIT_TENANT_SECRETS_FILE' : 'K8S_AUDIT_TENANT_SECRETS_ARN'})`,
      ),
    ),
  ];
  return found.filter((w): w is string => w !== null);
}

/** Builds the ingest core from a validated config: sinks and inbox store, each imported only when configured. */
export async function createIngestService(config: IngestConfig, opts: CreateIngestOptions = {}): Promise<IngestService> {
  // Scoring with the shipped pack instead of the operators' rules would pass for working: refuse.
  if (config.pendingRules !== null) {
    throw new ConfigError([`K8S_AUDIT_RULES: ${rulesSourceName(config.pendingRules)} was not read at init (withRules)`]);
  }
  // At init (serve's start, the Lambda's cold start), once the secrets are read from wherever they
  // live: a guessable secret keeps working but is said, naming where it came from, never its value.
  for (const warning of shortSecretWarnings(config)) opts.log?.({ level: 'warn', msg: warning });
  const writer =
    opts.writer ??
    (await createRecordWriter(config.eventsSink, config.alertsSink, {
      dataDir: config.dataDir,
      maxAttempts: config.sinkMaxAttempts,
      describeRule: (id) => (config.detection ?? shippedDetection()).rules?.describe?.(id),
      groupCommit: config.groupCommit,
      kinesisClientAt: config.kinesisClientAt,
      ...opts.sinks,
    }));
  const inbox = opts.inbox !== undefined ? opts.inbox : await openInboxStore(config.inbox, opts.dynamodb);
  // Load the shipped rule pack now, at init: its conditions are compiled as requests first reach
  // them (lib/rules/engine.ts compileRule; docs/performance.md, "Cold start").
  if (config.detection === undefined || config.detection === shippedDetection()) shippedRules();
  const rejects =
    opts.rejects !== undefined
      ? opts.rejects
      : await createRejectSink(config.rejectsSink, { dataDir: config.dataDir, maxAttempts: config.sinkMaxAttempts, ...opts.sinks });
  return new IngestService({
    config,
    writer,
    inbox,
    rejects,
    ...(opts.log ? { log: opts.log } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.observe ? { observe: opts.observe } : {}),
    ...(opts.otherSecrets ? { otherSecrets: opts.otherSecrets } : {}),
  });
}
