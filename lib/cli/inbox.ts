import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { awsCallError } from '../config/forwarder.js';
import { type InboxStoreSpec, loadInboxStoreSpec } from '../config/ingest.js';
import { hashToken } from '../ingest/auth.js';
import { openInboxStore } from '../ingest/create.js';
import { INBOX_TEMPLATE, type InboxStore, type InboxToken, inboxTokenId, looksLikeInboxToken } from '../ingest/inbox.js';
import { CLUSTER_NAME_PATTERN, INBOX_PREFIX, TENANT_ID_PATTERN, TENANT_ID_RULE, TOKEN_HEADER } from '../protocol.js';
import { EVENT_STORE_FILE } from '../sinks/sqlite.js';
import { asksForHelp, flag, parseArgs, UsageError } from './args.js';
import type { CommandIo } from './io.js';
import { printable } from './table.js';

const HELP = `Usage: aisoc-k8s-audit inbox create --tenant ID --label LABEL [--cluster NAME] [--template k8s-audit] [--json]
       aisoc-k8s-audit inbox list [--json]
       aisoc-k8s-audit inbox revoke ID|TOKEN

Manages tokens for the legacy inbox path POST ${INBOX_PREFIX}<token>, for control planes that cannot
send the ${TOKEN_HEADER} header. A token is bound at creation to a tenant, an optional cluster
name and a normalisation template (k8s-audit); only its SHA-256 is stored, so \`create\` prints
the token once and it cannot be shown again.

Tokens are kept in DynamoDB when INBOX_TABLE is set (the AWS deployment), else in the SQLite
file of the local ingest (AISOC_DATA_DIR, default .data).

Options:
  --tenant ID        tenant the events are attributed to
  --cluster NAME     cluster name stamped on the events (a header or ?cluster= still overrides it)
  --label LABEL      a human-readable name, e.g. prod-eks-legacy
  --template NAME    normalisation template: k8s-audit (the default, and the only one this
                     connector normalises; anything else is refused)
  --data-dir DIR     SQLite data dir (default AISOC_DATA_DIR or .data)
  --json             one JSON object a line, keys as every command's JSON spells them: id,
                     tenant_id, cluster_name, label, template, created_at, revoked_at (create
                     adds token)
  --help             show this help

revoke takes the token's id (from inbox list) or the token itself; the token is never printed.
`;

/**
 * Where the tokens are kept: INBOX_TABLE, else the SQLite file in --data-dir (or AISOC_DATA_DIR).
 * Read once per command and passed on, so the check for a missing store and the store opened
 * name the same place.
 */
function storeSpec(env: CommandIo['env'], dataDir: string | undefined): InboxStoreSpec {
  const spec = loadInboxStoreSpec(env);
  return dataDir !== undefined && spec.kind === 'sqlite' ? { kind: 'sqlite', dataDir } : spec;
}

/**
 * The local data dir when it holds no store yet (null with INBOX_TABLE, or when it does): `list`
 * and `revoke` then say so instead of opening the store, which would create an empty
 * `.data/aisoc-k8s-audit.sqlite` wherever they ran and answer "no inbox tokens" while the tokens
 * sit in the data dir `serve` uses.
 */
function missingLocalStore(spec: InboxStoreSpec): string | null {
  return spec.kind === 'sqlite' && !existsSync(join(spec.dataDir, EVENT_STORE_FILE)) ? spec.dataDir : null;
}

async function openStore(spec: InboxStoreSpec, env: CommandIo['env']): Promise<InboxStore> {
  if (spec.kind !== 'dynamodb') return (await openInboxStore(spec)) as InboxStore;
  // The CLI's environment is injected (tests), so the client is configured from it, not process.env.
  const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
  const endpoint = env.AWS_ENDPOINT_URL_DYNAMODB || env.AWS_ENDPOINT_URL;
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  const credentials =
    env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? {
          accessKeyId: env.AWS_ACCESS_KEY_ID,
          secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
          ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
        }
      : undefined;
  const client = new DynamoDBClient({
    ...(endpoint ? { endpoint } : {}),
    ...(region ? { region } : {}),
    ...(credentials ? { credentials } : {}),
  });
  const store = (await openInboxStore(spec, client)) as InboxStore;
  // The SDK's own message ("Requested resource not found") names neither the table nor where it
  // was asked: every call's failure says both, as backfill's and redrive's do.
  const where = `DynamoDB table ${spec.table}`;
  const at = endpoint || `https://dynamodb.${region ?? '<region>'}.amazonaws.com`;
  const named =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await call(...args);
      } catch (err) {
        throw awsCallError(where, at, err);
      }
    };
  return {
    create: named((input) => store.create(input)),
    lookup: named((token) => store.lookup(token)),
    list: named(() => store.list()),
    revoke: named((id) => store.revoke(id)),
    close: () => store.close(),
  };
}

/**
 * A token as `--json` prints it: snake_case keys, as every other command's JSON (`events`,
 * `status`, `rejected`, the records themselves), so one script reads them all alike.
 */
function tokenJson(t: InboxToken): Record<string, string | null> {
  return {
    id: t.id,
    tenant_id: t.tenantId,
    cluster_name: t.clusterName,
    label: t.label,
    template: t.template,
    created_at: t.createdAt,
    revoked_at: t.revokedAt,
  };
}

function describe(t: InboxToken): string {
  const state = t.revokedAt === null ? 'active' : `revoked ${t.revokedAt}`;
  return `${t.id}  tenant=${t.tenantId}  cluster=${t.clusterName === null ? '-' : printable(t.clusterName)}  template=${t.template}  label=${JSON.stringify(t.label)}  created ${t.createdAt}  ${state}`;
}

/** `aisoc-k8s-audit inbox create|list|revoke`. */
export async function run(argv: string[], io: CommandIo): Promise<number> {
  const [sub, ...rest] = argv;
  // Help of create, list and revoke is read by their parser: a help word given as an option's value is not help.
  if (sub === undefined || (!['create', 'list', 'revoke'].includes(sub) && asksForHelp(argv))) {
    io.stdout.write(HELP);
    return sub === undefined ? 2 : 0;
  }
  const args = parseArgs(rest, ['tenant', 'cluster', 'label', 'template', 'data-dir'], ['json']);
  if (args.help) {
    io.stdout.write(HELP);
    return 0;
  }
  // revoke takes one id or token, create and list none: a stray word is refused, not ignored, and a
  // token typed in the wrong place is not echoed back.
  const extra = args.positionals[sub === 'revoke' ? 1 : 0];
  if (extra !== undefined && ['create', 'list', 'revoke'].includes(sub)) {
    throw new UsageError(`unexpected argument ${looksLikeInboxToken(extra) ? '(an inbox token, not shown)' : JSON.stringify(extra)}`);
  }
  const json = args.flags.get('json') === true;
  const spec = storeSpec(io.env, flag(args, 'data-dir'));
  switch (sub) {
    case 'create': {
      const tenantId = flag(args, 'tenant');
      const label = flag(args, 'label');
      if (tenantId === undefined) throw new UsageError('inbox create needs --tenant');
      if (!TENANT_ID_PATTERN.test(tenantId)) throw new UsageError(`--tenant must match ${TENANT_ID_RULE}`);
      if (label === undefined || label.trim() === '') throw new UsageError('inbox create needs --label');
      const clusterName = flag(args, 'cluster') ?? null;
      // The ingest refuses every request of a token bound to a name it would refuse in a header.
      if (clusterName !== null && !CLUSTER_NAME_PATTERN.test(clusterName)) {
        throw new UsageError('--cluster must be 1 to 256 printable characters (no control characters)');
      }
      const template = flag(args, 'template') ?? INBOX_TEMPLATE;
      // A token bound to another template would be refused (403) on every request it brings.
      if (template !== INBOX_TEMPLATE) {
        throw new UsageError(
          `--template must be ${INBOX_TEMPLATE} (the only template this connector normalises), got ${JSON.stringify(template)}`,
        );
      }
      const store = await openStore(spec, io.env);
      try {
        const { token, binding } = await store.create({
          tenantId,
          clusterName,
          label,
          template,
        });
        if (json) {
          io.stdout.write(`${JSON.stringify({ token, ...tokenJson(binding) })}\n`);
        } else {
          io.stdout.write(`${token}\n`);
          io.stderr.write(
            `Created inbox token ${binding.id} (${describe(binding)}).\nThis is the only time the token is shown: store it now.\nGive the apiserver: POST https://<your-aisoc-host>${INBOX_PREFIX}<token>\n`,
          );
        }
        return 0;
      } finally {
        await store.close();
      }
    }
    case 'list': {
      const missing = missingLocalStore(spec);
      if (missing !== null) {
        if (!json)
          io.stderr.write(
            `no inbox tokens: no store in ${missing} yet (inbox create makes one; --data-dir or AISOC_DATA_DIR names the data dir serve uses)\n`,
          );
        return 0;
      }
      const store = await openStore(spec, io.env);
      try {
        const tokens = await store.list();
        for (const t of tokens) io.stdout.write(json ? `${JSON.stringify(tokenJson(t))}\n` : `${describe(t)}\n`);
        if (!json && tokens.length === 0) io.stderr.write('no inbox tokens\n');
        return 0;
      } finally {
        await store.close();
      }
    }
    case 'revoke': {
      const given = args.positionals[0];
      if (given === undefined) throw new UsageError('inbox revoke needs the token id (from inbox list) or the token');
      // The token itself is accepted too (an id is 16 hex digits, a token longer): its id is
      // derived from its hash, and it is never echoed.
      const isToken = !/^[0-9a-f]{16}$/.test(given) && looksLikeInboxToken(given);
      const id = isToken ? inboxTokenId(hashToken(given)) : given;
      const missing = missingLocalStore(spec);
      if (missing !== null) {
        io.stderr.write(
          `no inbox token store in ${missing}: nothing to revoke (--data-dir or AISOC_DATA_DIR names the data dir serve uses)\n`,
        );
        return 1;
      }
      const store = await openStore(spec, io.env);
      try {
        if (!(await store.revoke(id))) {
          io.stderr.write(isToken ? 'no inbox token matches the token given\n' : `no inbox token with id ${JSON.stringify(id)}\n`);
          return 1;
        }
        io.stderr.write(`revoked inbox token ${id}\n`);
        return 0;
      } finally {
        await store.close();
      }
    }
    default:
      throw new UsageError(`unknown inbox command ${JSON.stringify(sub)}; use create, list or revoke`);
  }
}
