import type Database from 'better-sqlite3';
import { openDatabase } from '../sinks/sqlite.js';
import { hashToken } from './auth.js';
import { type InboxStore, type InboxToken, type NewInboxToken, newBinding } from './inbox.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS inbox_tokens (
  token_hash TEXT PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  tenant_id TEXT NOT NULL,
  cluster_name TEXT,
  label TEXT NOT NULL,
  template TEXT NOT NULL,
  created_at TEXT NOT NULL,
  revoked_at TEXT
);`;

interface Row {
  id: string;
  tenant_id: string;
  cluster_name: string | null;
  label: string;
  template: string;
  created_at: string;
  revoked_at: string | null;
}

function toToken(row: Row): InboxToken {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    clusterName: row.cluster_name,
    label: row.label,
    template: row.template,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}

/** Inbox tokens in the local SQLite file (table `inbox_tokens`), keyed by the token's SHA-256. */
export class SqliteInboxStore implements InboxStore {
  readonly #db: Database.Database;
  readonly #lookup: Database.Statement<[string], Row>;

  constructor(dataDir: string) {
    this.#db = openDatabase(dataDir);
    this.#db.exec(SCHEMA);
    this.#lookup = this.#db.prepare<[string], Row>('SELECT * FROM inbox_tokens WHERE token_hash = ?');
  }

  async create(input: NewInboxToken): Promise<{ token: string; binding: InboxToken }> {
    const { token, tokenHash, binding } = newBinding(input);
    this.#db
      .prepare(
        'INSERT INTO inbox_tokens (token_hash, id, tenant_id, cluster_name, label, template, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)',
      )
      .run(tokenHash, binding.id, binding.tenantId, binding.clusterName, binding.label, binding.template, binding.createdAt);
    return { token, binding };
  }

  async lookup(token: string): Promise<InboxToken | null> {
    const row = this.#lookup.get(hashToken(token));
    return row === undefined ? null : toToken(row);
  }

  async list(): Promise<InboxToken[]> {
    return (this.#db.prepare('SELECT * FROM inbox_tokens ORDER BY created_at DESC, id').all() as Row[]).map(toToken);
  }

  async revoke(id: string): Promise<boolean> {
    const info = this.#db
      .prepare('UPDATE inbox_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?')
      .run(new Date().toISOString(), id);
    return info.changes > 0;
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}
