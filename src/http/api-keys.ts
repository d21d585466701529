import { hash, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { apiKeyId, type ApiKeyRecord, type ApiKeyStore } from '../core/api-keys.js';
import type { Logger } from '../core/logger.js';
import type { ApiKeyIdentity, KeyVerifier } from './auth.js';

// One-shot crypto.hash: a third cheaper than createHash() on the per-request path.
const digest = (value: string) => hash('sha256', value, 'buffer');

/** How often the keys are read again, so a key revoked by the CLI (another process) stops working. */
const DEFAULT_REFRESH_MS = 2_000;
/**
 * Reads caused by an unknown key id (a key just created, or a made-up one) are at most this often: requests
 * wait for the next read rather than each causing one, so a flood of made-up keys costs 10 small reads a second.
 */
const MISS_READ_SPACING_MS = 100;

interface Known {
  digest: Buffer;
  identity: ApiKeyIdentity;
}

export interface ApiKeysOptions {
  /** SWITCHBOARD_API_KEYS: keys from the environment, with every scope. */
  envKeys: readonly string[];
  store: ApiKeyStore;
  log: Logger;
  refreshMs?: number;
}

/**
 * The API keys the server accepts: SWITCHBOARD_API_KEYS entries (every scope) and the keys in the database
 * (`switchboard keys create`, with their scopes). The database's keys are held in memory and read again every
 * `refreshMs`, so verifying a key costs a hash and no database round trip, and a revocation takes effect within
 * that time.
 *
 * Keys are compared as SHA-256 digests with timingSafeEqual (equal lengths whatever the key). A database key's id
 * is part of the key, so one comparison is made; environment keys are all compared (no early exit), so timing
 * tells nothing about which one matched.
 */
export class ApiKeys implements KeyVerifier {
  readonly #env: Known[];
  #stored = new Map<string, Known>();
  /** When the read that gave #stored started (performance.now()). */
  #readAt = Number.NEGATIVE_INFINITY;
  #loading: Promise<void> | null = null;
  #missRead: Promise<void> | null = null;
  #lastMissReadAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | null = null;
  readonly #o: ApiKeysOptions;

  constructor(options: ApiKeysOptions) {
    this.#o = options;
    this.#env = options.envKeys.map((key) => ({
      digest: digest(key),
      identity: {
        id: envKeyId(key),
        name: 'SWITCHBOARD_API_KEYS',
        scopes: ['admin'],
        rateLimitPerMinute: null,
      },
    }));
  }

  /** Reads the keys, then keeps reading them every `refreshMs` until stop(). */
  async start(): Promise<void> {
    await this.#reload();
    this.#timer = setInterval(() => {
      this.#reload().catch((err: unknown) =>
        this.#o.log.warn({ err }, 'reading the API keys failed; the keys read last stay in force'),
      );
    }, this.#o.refreshMs ?? DEFAULT_REFRESH_MS);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  configured(): boolean {
    return this.#env.length > 0 || this.#stored.size > 0;
  }

  async verify(token: string): Promise<ApiKeyIdentity | null> {
    const presented = digest(token);
    // Every environment key is compared, whatever the token looks like (one may be shaped like a CLI key).
    let fromEnv: ApiKeyIdentity | null = null;
    for (const k of this.#env) if (timingSafeEqual(k.digest, presented)) fromEnv ??= k.identity;
    const id = apiKeyId(token);
    if (id === null || fromEnv !== null) return fromEnv;
    let known = this.#stored.get(id);
    if (known === undefined) {
      // Perhaps created a moment ago (`switchboard keys create`): read the keys as they are now.
      const asked = performance.now();
      try {
        while (this.#readAt < asked) await this.#readForMiss();
      } catch {
        // The keys read last stay in force.
      }
      known = this.#stored.get(id);
    }
    return known !== undefined && timingSafeEqual(known.digest, presented) ? known.identity : null;
  }

  async active(id: string): Promise<ApiKeyIdentity | null> {
    return this.#stored.get(id)?.identity ?? this.#env.find((k) => k.identity.id === id)?.identity ?? null;
  }

  /** A read for an unknown id: shared by every request waiting, and spaced MISS_READ_SPACING_MS apart. */
  #readForMiss(): Promise<void> {
    this.#missRead ??= (async () => {
      const wait = this.#lastMissReadAt + MISS_READ_SPACING_MS - performance.now();
      if (wait > 0) await sleep(wait);
      this.#lastMissReadAt = performance.now();
      await this.#reload();
    })().finally(() => {
      this.#missRead = null;
    });
    return this.#missRead;
  }

  #reload(): Promise<void> {
    const startedAt = performance.now();
    this.#loading ??= this.#o.store
      .listApiKeys()
      .then((records) => {
        this.#stored = new Map(
          records.filter((r) => r.revokedAt === null).map((r) => [r.id, toKnown(r)] as const),
        );
        this.#readAt = startedAt;
      })
      .finally(() => {
        this.#loading = null;
      });
    return this.#loading;
  }
}

/**
 * A SWITCHBOARD_API_KEYS entry's id: `env-` and 12 hex characters of a SHA-256 of the key, so it stays the same when
 * the list is reordered or another key is added (idempotency keys, message ownership and dashboard sessions are
 * tied to it), and changes when the key itself does. The hash is domain-separated, so the id is not a prefix of
 * any digest kept elsewhere; 48 bits tell nothing useful about a key of 16 or more characters chosen at random.
 */
export function envKeyId(key: string): string {
  return `env-${hash('sha256', `switchboard environment key id\0${key}`, 'hex').slice(0, 12)}`;
}

function toKnown(record: ApiKeyRecord): Known {
  return {
    digest: Buffer.from(record.hash, 'hex'),
    identity: {
      id: record.id,
      name: record.name,
      scopes: record.scopes,
      rateLimitPerMinute: record.rateLimitPerMinute,
    },
  };
}
