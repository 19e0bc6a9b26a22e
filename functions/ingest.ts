import { loadIngestConfig, withSharedSecret } from '../lib/config.js';
import { createIngestService } from '../lib/ingest/create.js';
import { createIngestLambdaHandler } from '../lib/ingest/lambda.js';

// Config is read and validated once, at init: a bad or missing variable fails the cold start with
// a ConfigError that names it, instead of failing every request. A secret given by ARN is read
// from Secrets Manager here, once per execution environment.
const config = await withSharedSecret(loadIngestConfig(process.env, { runtime: 'lambda' }));
// One JSON line per request on stdout: Lambda ships it to CloudWatch Logs.
const log = (entry: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(entry)}\n`);
};
// Sink clients are created once per execution environment and reused by every invocation.
const service = await createIngestService(config, { log });

/** POST /v1/ingest/k8s-audit/{tenant_id} and POST /v1/inbox/{token} behind API Gateway (HTTP API or REST). */
export const handler = createIngestLambdaHandler(service, log);
