import { randomBytes } from 'node:crypto';
import { hashToken } from './auth.js';

/** The normalisation template an inbox token must be bound to for the k8s-audit pipeline. */
export const INBOX_TEMPLATE = 'k8s-audit';

// 32 random bytes: the same strength as the connector documentation's `openssl rand -base64 32` shared secret.
const TOKEN_BYTES = 32;
export const TOKEN_PREFIX = 'aik8s_';
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{16,256}$/;

/** A generated inbox token anywhere in a text (a URL path, a log line), for redaction. */
export const INBOX_TOKEN_IN_TEXT = new RegExp(`${TOKEN_PREFIX}[A-Za-z0-9_-]{16,}`, 'g');

/** An inbox token's binding as stored (never the token itself, only its hash). */
export interface InboxToken {
  /** Short public id for `list` and `revoke`: the first 16 hex digits of the token's SHA-256. */
  id: string;
  tenantId: string;
  clusterName: string | null;
  label: string;
  template: string;
  createdAt: string;
  revokedAt: string | null;
}

/** What `inbox create` needs. */
export interface NewInboxToken {
  tenantId: string;
  clusterName?: string | null;
  label: string;
  template?: string;
}

/** Where inbox tokens are kept: SQLite locally, DynamoDB on AWS. Tokens are looked up by hash only. */
export interface InboxStore {
  /** Stores a new binding and returns the token: the only time it is ever seen in clear. */
  create(input: NewInboxToken): Promise<{ token: string; binding: InboxToken }>;
  /** The binding of a presented token (revoked ones included, with `revokedAt`), or null. */
  lookup(token: string): Promise<InboxToken | null>;
  /** Every binding, newest first. */
  list(): Promise<InboxToken[]>;
  /** Marks a token revoked by id; false when no such id. */
  revoke(id: string): Promise<boolean>;
  close(): Promise<void>;
}

/** A new random inbox token (URL-safe, so it can stand in the path `/v1/inbox/<token>`). */
export function generateInboxToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(TOKEN_BYTES).toString('base64url')}`;
}

/** The public id of a token hash. */
export function inboxTokenId(tokenHash: string): string {
  return tokenHash.slice(0, 16);
}

/** Whether a path segment could be an inbox token at all (anything else is refused before a lookup). */
export function looksLikeInboxToken(value: string): boolean {
  return TOKEN_SHAPE.test(value);
}

/** A new binding for a generated token: the token, its hash and what is stored. */
export function newBinding(input: NewInboxToken, now: Date = new Date()): { token: string; tokenHash: string; binding: InboxToken } {
  const token = generateInboxToken();
  const tokenHash = hashToken(token);
  return {
    token,
    tokenHash,
    binding: {
      id: inboxTokenId(tokenHash),
      tenantId: input.tenantId,
      clusterName: input.clusterName ?? null,
      label: input.label,
      template: input.template ?? INBOX_TEMPLATE,
      createdAt: now.toISOString(),
      revokedAt: null,
    },
  };
}
