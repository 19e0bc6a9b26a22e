import type { GetSecretValueCommandOutput } from '@aws-sdk/client-secrets-manager';
import { isJsonObject, jsonErrorReason } from '../json.js';
import { CLUSTER_HEADER, SENDER_CLUSTER_NAME, SENDER_CLUSTER_NAME_RULE, TOKEN_HEADER, tenantFromIngestUrl } from '../protocol.js';
import { ConfigError } from './env.js';

// What an HTTP header value can carry as sent by every client here: visible ASCII, with spaces or
// tabs only inside (RFC 9110 field-value, without obs-text: bytes past 0x7F would reach the ingest
// as whatever encoding the sender used). Node refuses control characters with "Invalid character
// in header content", so a secret with a newline inside could never be sent.
const HEADER_SAFE_SECRET = /^[\x21-\x7e](?:[\x20-\x7e\t]*[\x21-\x7e])?$/;

/**
 * The one reader of the shared secret, for every path (ingest, forwarder, `tail`,
 * `test-connection`, `backfill`, `redrive`; from the environment, a config file or Secrets
 * Manager): surrounding whitespace is stripped (the newline `openssl rand -base64 32` prints, or a
 * file saved with one), empty is `null`, and a value that cannot go in the X-AiSOC-K8s-Token
 * header is refused with a problem naming `name`, never the value. With `problems`, the problem is
 * pushed there (an EnvReader collecting every bad variable) instead of thrown.
 */
export function readSharedSecret(raw: string | null | undefined, name: string, problems?: string[]): string | null {
  if (raw === null || raw === undefined) return null;
  const value = raw.trim();
  if (value === '') return null;
  if (HEADER_SAFE_SECRET.test(value)) return value;
  const problem = `${name} holds a character that cannot be sent in the ${TOKEN_HEADER} header (a control character, a line break inside, or non-ASCII): use printable ASCII, e.g. the output of openssl rand -base64 32`;
  if (problems === undefined) throw new ConfigError([problem]);
  problems.push(problem);
  return null;
}

/**
 * Below this many bytes a shared secret is short enough to guess. The connector documentation: "Pick a long
 * random value (openssl rand -base64 32)", whose output is 44 characters; 16 bytes is what a
 * 128-bit random token takes even as raw bytes.
 */
export const MIN_SHARED_SECRET_BYTES = 16;

/**
 * A warning when a shared secret is shorter than `MIN_SHARED_SECRET_BYTES`, naming `name` (the
 * variable, field or secret it came from) and never the value or its length; else null. A
 * warning, not a refusal: deployments that already use a short secret keep working.
 */
export function shortSecretWarning(secret: string | null, name: string): string | null {
  if (secret === null || Buffer.byteLength(secret, 'utf8') >= MIN_SHARED_SECRET_BYTES) return null;
  return `${name} is shorter than ${MIN_SHARED_SECRET_BYTES} bytes, short enough to guess: the AiSOC connector documentation says to pick a long random value (openssl rand -base64 32)`;
}

/** Reads a secret's value by ARN; injected so tests need no AWS. */
export type SecretReader = (arn: string) => Promise<string>;

/** The region field of an ARN (`arn:aws:secretsmanager:<region>:<account>:secret:<name>`), if it has one. */
export function arnRegion(arn: string): string | undefined {
  const parts = arn.split(':');
  return parts[0] === 'arn' && parts.length >= 6 && parts[3] !== '' ? parts[3] : undefined;
}

/** Reads a Secrets Manager secret with the AWS SDK (imported only when a secret ARN is configured). */
export const readSecretsManagerSecret: SecretReader = async (arn) => {
  const { GetSecretValueCommand, SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
  // Sent to the secret's own region, which its ARN names: GetSecretValue is answered only there,
  // and `serve` on a workstation needs no AWS_REGION for it. Without one (a name, not an ARN),
  // the SDK's own resolution (AWS_REGION, the profile) applies.
  const client = new SecretsManagerClient({ region: arnRegion(arn) });
  let out: GetSecretValueCommandOutput;
  try {
    out = await client.send(new GetSecretValueCommand({ SecretId: arn }));
  } catch (err) {
    // The SDK's own message names neither the variable nor the secret ("Region is missing",
    // "Access denied"). What the caller can fix (4xx: not found, denied, no region) is a
    // configuration error; a network failure stays a runtime one. Neither can hold the value.
    const e = err as Error & { $metadata?: { httpStatusCode?: number } };
    const problem = `the secret ${arn} cannot be read from Secrets Manager: ${e.name}: ${e.message}`;
    const status = e.$metadata?.httpStatusCode;
    if ((status !== undefined && status >= 400 && status < 500) || /region is missing/i.test(e.message)) throw new ConfigError([problem]);
    throw new Error(problem, { cause: err });
  }
  if (out.SecretString !== undefined) return out.SecretString;
  if (out.SecretBinary !== undefined) return Buffer.from(out.SecretBinary).toString('utf8');
  throw new ConfigError([`the secret ${arn} has no value`]);
};

/** `read(arn)`, with its errors naming `variable` (the one that gave the ARN) before the secret. */
export async function readSecretOf(variable: string, arn: string, read: SecretReader): Promise<string> {
  try {
    return await read(arn);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(err.problems.map((p) => `${variable}: ${p}`));
    if (err instanceof Error) throw new Error(`${variable}: ${err.message}`, { cause: err });
    throw err;
  }
}

/** The shared secret K8S_AUDIT_SHARED_SECRET_ARN names, current and previous, read once (the ingest and the forwarder alike). */
export async function sharedSecretsFromArn(
  arn: string,
  read: SecretReader = readSecretsManagerSecret,
): Promise<{ current: string; previous: string | null }> {
  return sharedSecretsValue(await readSecretOf('K8S_AUDIT_SHARED_SECRET_ARN', arn, read), arn);
}

/** The current shared secret K8S_AUDIT_SHARED_SECRET_ARN names: what a sender sends. */
export async function sharedSecretFromArn(arn: string, read: SecretReader = readSecretsManagerSecret): Promise<string> {
  return (await sharedSecretsFromArn(arn, read)).current;
}

/**
 * The shared secret as stored in Secrets Manager: a plain string, or a JSON object holding it
 * under `K8S_AUDIT_SHARED_SECRET`, `token` or `secret` (or its only key), as the Secrets Manager
 * console's key/value editor stores it; and, during a rotation, the previous one the same JSON
 * carries under `K8S_AUDIT_SHARED_SECRET_PREVIOUS` (the ingest accepts both, so the changeover
 * needs no value in a template or a function's configuration). Errors name the ARN, never a value.
 */
export function sharedSecretsValue(stored: string, arn: string): { current: string; previous: string | null } {
  const trimmed = stored.trim();
  const name = `K8S_AUDIT_SHARED_SECRET_ARN (the secret ${arn})`;
  if (trimmed === '') throw new ConfigError([`K8S_AUDIT_SHARED_SECRET_ARN: the secret ${arn} is empty`]);
  let obj: unknown;
  if (trimmed.startsWith('{')) {
    try {
      obj = JSON.parse(trimmed);
    } catch (err) {
      // A value opening with `{` is the console's key/value JSON gone wrong (a trailing comma, a
      // missing quote), not a secret: taken whole, it would make every sender's secret a 401 with
      // no clue why. The reason names the position only (jsonErrorReason drops V8's quoted
      // excerpt), counted in the stored value as Secrets Manager shows it.
      const lead = stored.length - stored.trimStart().length;
      const reason = jsonErrorReason(err).replace(/ at position (\d+)$/, (_, n: string) => ` at position ${Number(n) + lead}`);
      throw new ConfigError([
        `K8S_AUDIT_SHARED_SECRET_ARN: the secret ${arn} starts with { but is not valid JSON (${reason}): store the JSON object {"K8S_AUDIT_SHARED_SECRET": "<secret>"} or the plain secret`,
      ]);
    }
  }
  if (!isJsonObject(obj)) return { current: readSharedSecret(trimmed, name) as string, previous: null };
  const keys = Object.keys(obj).filter((k) => k !== 'K8S_AUDIT_SHARED_SECRET_PREVIOUS');
  const key =
    ['K8S_AUDIT_SHARED_SECRET', 'token', 'secret'].find((k) => typeof obj[k] === 'string') ?? (keys.length === 1 ? keys[0] : undefined);
  const value = key === undefined ? undefined : obj[key];
  const current = typeof value === 'string' ? readSharedSecret(value, name) : null;
  if (current === null) {
    throw new ConfigError([`K8S_AUDIT_SHARED_SECRET_ARN: the secret ${arn} is a JSON object without a K8S_AUDIT_SHARED_SECRET key`]);
  }
  const old = obj.K8S_AUDIT_SHARED_SECRET_PREVIOUS;
  if (old === undefined || old === null || old === '') return { current, previous: null };
  const previousName = `K8S_AUDIT_SHARED_SECRET_ARN (the secret ${arn}, its K8S_AUDIT_SHARED_SECRET_PREVIOUS)`;
  if (typeof old !== 'string') throw new ConfigError([`${previousName} must be a string`]);
  return { current, previous: readSharedSecret(old, previousName) };
}

/** The current shared secret out of its stored form (`sharedSecretsValue`). */
export function sharedSecretValue(stored: string, arn: string): string {
  return sharedSecretsValue(stored, arn).current;
}

/** Checks the pair K8S_AUDIT_SHARED_SECRET / K8S_AUDIT_SHARED_SECRET_ARN; returns the problem, or null. */
export function sharedSecretSourceProblem(value: string | null, arn: string | null, required: boolean): string | null {
  if (value !== null && arn !== null) return 'set only one of K8S_AUDIT_SHARED_SECRET and K8S_AUDIT_SHARED_SECRET_ARN';
  if (arn !== null && !arn.startsWith('arn:')) {
    // `sam local` resolves the template's `!Ref SharedSecret` to the logical id itself.
    const samLocal = /^[A-Za-z0-9]+$/.test(arn)
      ? `, got the logical id ${JSON.stringify(arn)} as sam local resolves !Ref; locally, set it to "" and K8S_AUDIT_SHARED_SECRET in the --env-vars file`
      : '';
    return `K8S_AUDIT_SHARED_SECRET_ARN must be a Secrets Manager secret ARN (arn:aws:secretsmanager:...)${samLocal}`;
  }
  if (required && value === null && arn === null)
    return 'K8S_AUDIT_SHARED_SECRET or K8S_AUDIT_SHARED_SECRET_ARN is required (the ingest shared secret)';
  return null;
}

/**
 * Notes a problem when an ingest URL's tenant id is the shared secret sent with it (the secret
 * typed in the tenant's place): the ingest refuses every such request, and the URL, which a proxy
 * or a log may show, would carry the secret.
 */
export function noteSecretAsTenant(problems: string[], ingestUrl: string, token: string | null, source = 'AISOC_INGEST_URL'): void {
  if (token === null || token === '' || ingestUrl === '' || tenantFromIngestUrl(ingestUrl) !== token) return;
  problems.push(`${source} has the shared secret where the tenant id goes: the URL names the tenant, ${TOKEN_HEADER} carries the secret`);
}

/**
 * The problem with a sender's cluster name that is its shared secret (both of the front's headers
 * given the secret, CLUSTER_NAME set to it), or null: the name is logged on every line and sent as
 * a header the ingest stores, so the ingest refuses it and a sender stops before sending it.
 */
export function secretAsClusterProblem(clusterName: string | null | undefined, token: string | null, source: string): string | null {
  if (token === null || token === '' || clusterName !== token) return null;
  return `${source} is the shared secret: it names the cluster (sent as ${CLUSTER_HEADER}), ${TOKEN_HEADER} carries the secret`;
}

/**
 * The problem with a sender's cluster name (`source`: CLUSTER_NAME, `--cluster`), or null: a name
 * that cannot be a header, or that is the shared secret. The one check the forwarder, tail,
 * backfill and redrive make at start, so none of them sends or logs it.
 */
export function senderClusterProblem(cluster: string | null | undefined, token: string | null, source: string): string | null {
  if (cluster === undefined || cluster === null) return null;
  if (!SENDER_CLUSTER_NAME.test(cluster))
    return `${source} must be ${SENDER_CLUSTER_NAME_RULE} (it is sent as the ${CLUSTER_HEADER} header)`;
  return secretAsClusterProblem(cluster, token, source);
}
