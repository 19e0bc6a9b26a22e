import {
  type AttributeValue,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { hashToken } from './auth.js';
import { type InboxStore, type InboxToken, type NewInboxToken, newBinding } from './inbox.js';

/** Options of the DynamoDB inbox store. */
export interface DynamoInboxStoreOptions {
  /** INBOX_TABLE: partition key `token_hash` (string). */
  table: string;
  client?: DynamoDBClient;
  /**
   * How long a looked-up binding is reused by this Lambda environment (default 30 s): a warm
   * function then does not read DynamoDB on every batch; a revocation takes effect within it.
   */
  cacheTtlMs?: number;
  now?: () => number;
}

type Item = Record<string, AttributeValue>;

function s(item: Item, key: string): string | null {
  const v = item[key];
  return v !== undefined && 'S' in v && typeof v.S === 'string' ? v.S : null;
}

function toToken(item: Item): InboxToken {
  return {
    id: s(item, 'id') ?? '',
    tenantId: s(item, 'tenant_id') ?? '',
    clusterName: s(item, 'cluster_name'),
    label: s(item, 'label') ?? '',
    template: s(item, 'template') ?? '',
    createdAt: s(item, 'created_at') ?? '',
    revokedAt: s(item, 'revoked_at'),
  };
}

/** Inbox tokens in a DynamoDB table (INBOX_TABLE), keyed by the token's SHA-256 hex. */
export class DynamoInboxStore implements InboxStore {
  readonly #client: DynamoDBClient;
  // A client passed in belongs to the caller, who may share it: only a client made here is destroyed.
  readonly #ownsClient: boolean;
  readonly #cache = new Map<string, { at: number; token: InboxToken | null }>();
  readonly #ttl: number;
  readonly #now: () => number;

  constructor(readonly opts: DynamoInboxStoreOptions) {
    this.#client = opts.client ?? new DynamoDBClient({});
    this.#ownsClient = opts.client === undefined;
    this.#ttl = opts.cacheTtlMs ?? 30_000;
    this.#now = opts.now ?? Date.now;
  }

  async create(input: NewInboxToken): Promise<{ token: string; binding: InboxToken }> {
    const { token, tokenHash, binding } = newBinding(input);
    const item: Item = {
      token_hash: { S: tokenHash },
      id: { S: binding.id },
      tenant_id: { S: binding.tenantId },
      label: { S: binding.label },
      template: { S: binding.template },
      created_at: { S: binding.createdAt },
    };
    if (binding.clusterName !== null) item.cluster_name = { S: binding.clusterName };
    await this.#client.send(
      new PutItemCommand({ TableName: this.opts.table, Item: item, ConditionExpression: 'attribute_not_exists(token_hash)' }),
    );
    return { token, binding };
  }

  async lookup(token: string): Promise<InboxToken | null> {
    const hash = hashToken(token);
    const cached = this.#cache.get(hash);
    if (cached !== undefined && this.#now() - cached.at < this.#ttl) return cached.token;
    const out = await this.#client.send(
      new GetItemCommand({ TableName: this.opts.table, Key: { token_hash: { S: hash } }, ConsistentRead: true }),
    );
    const found = out.Item === undefined ? null : toToken(out.Item);
    if (this.#cache.size > 1000) this.#cache.clear();
    this.#cache.set(hash, { at: this.#now(), token: found });
    return found;
  }

  async list(): Promise<InboxToken[]> {
    const items = await this.#scan();
    return items.map(toToken).sort((a, b) => b.createdAt.localeCompare(a.createdAt) || a.id.localeCompare(b.id));
  }

  async revoke(id: string): Promise<boolean> {
    const items = await this.#scan(id);
    for (const item of items) {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.opts.table,
          Key: { token_hash: item.token_hash as AttributeValue },
          UpdateExpression: 'SET revoked_at = if_not_exists(revoked_at, :now)',
          ExpressionAttributeValues: { ':now': { S: new Date(this.#now()).toISOString() } },
        }),
      );
    }
    this.#cache.clear();
    return items.length > 0;
  }

  // `list` and `revoke` are operator commands on a small table: a Scan is fine there, and keeps
  // the table to one key with no index to provision.
  async #scan(id?: string): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const out = await this.#client.send(
        new ScanCommand({
          TableName: this.opts.table,
          ...(id === undefined ? {} : { FilterExpression: 'id = :id', ExpressionAttributeValues: { ':id': { S: id } } }),
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start !== undefined);
    return items;
  }

  async close(): Promise<void> {
    if (this.#ownsClient) this.#client.destroy();
  }
}

/** The key schema of INBOX_TABLE (partition key `token_hash`, a string), for templates and tests. */
export const INBOX_TABLE_KEY_SCHEMA = {
  AttributeDefinitions: [{ AttributeName: 'token_hash', AttributeType: 'S' as const }],
  KeySchema: [{ AttributeName: 'token_hash', KeyType: 'HASH' as const }],
};
