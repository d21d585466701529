import { hash, randomBytes } from 'node:crypto';

export const SCOPES = ['send', 'read', 'admin'] as const;
/** `send`: send messages; `read`: read messages, events, endpoints, metrics, the dashboard; `admin`: all of it. */
export type Scope = (typeof SCOPES)[number];

/** An API key as stored: never the key itself, only its SHA-256. */
export interface ApiKeyRecord {
  id: string;
  name: string;
  /** Hex SHA-256 of the whole key. */
  hash: string;
  scopes: Scope[];
  /** Requests per minute; null: the server's default. */
  rateLimitPerMinute: number | null;
  createdAt: number;
  revokedAt: number | null;
}

/** API keys in the database (created and revoked with `switchboard keys`). */
export interface ApiKeyStore {
  createApiKey(record: ApiKeyRecord): Promise<void>;
  /** Marks the key revoked (the first revocation's time stays); null when no key has this id. */
  revokeApiKey(id: string, at: number): Promise<ApiKeyRecord | null>;
  /** Every key, revoked ones included, oldest first. */
  listApiKeys(): Promise<ApiKeyRecord[]>;
}

/** `sb_<id>_<secret>`: the id finds the record without a search, the secret is 32 random bytes. */
const KEY_PATTERN = /^sb_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$/;

/**
 * SHA-256, not a slow password hash: the key is 256 random bits, so there is nothing to guess and a fast hash
 * keeps verification off the request's critical path.
 */
export function hashApiKey(key: string): string {
  return hash('sha256', key, 'hex');
}

/** The id inside a key of ours, or null for anything else (a SWITCHBOARD_API_KEYS entry, say). */
export function apiKeyId(key: string): string | null {
  return KEY_PATTERN.exec(key)?.[1] ?? null;
}

/** A new key: the secret to hand out once, and the record to store. */
export function newApiKey(
  name: string,
  scopes: Scope[],
  rateLimitPerMinute: number | null,
  now: number,
): { key: string; record: ApiKeyRecord } {
  const id = randomBytes(6).toString('hex');
  const key = `sb_${id}_${randomBytes(32).toString('base64url')}`;
  return {
    key,
    record: { id, name, hash: hashApiKey(key), scopes, rateLimitPerMinute, createdAt: now, revokedAt: null },
  };
}
