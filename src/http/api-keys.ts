import { hash, timingSafeEqual } from 'node:crypto';
import { apiKeyId, type ApiKeyRecord, type ApiKeyStore } from '../core/api-keys.js';
import type { Logger } from '../core/logger.js';
import type { ApiKeyIdentity, KeyVerifier } from './auth.js';

// One-shot crypto.hash: a third cheaper than createHash() on the per-request path.
const digest = (value: string) => hash('sha256', value, 'buffer');

/** How often the keys are read again, so a key revoked by the CLI (another process) stops working. */
const DEFAULT_REFRESH_MS = 2_000;

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
  #timer: NodeJS.Timeout | null = null;
  readonly #o: ApiKeysOptions;

  constructor(options: ApiKeysOptions) {
    this.#o = options;
    this.#env = options.envKeys.map((key, i) => ({
      digest: digest(key),
      identity: {
        id: `env-${i + 1}`,
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
    const id = apiKeyId(token);
    if (id === null) {
      let match: ApiKeyIdentity | null = null;
      for (const k of this.#env) if (timingSafeEqual(k.digest, presented)) match ??= k.identity;
      return match;
    }
    let known = this.#stored.get(id);
    if (known === undefined) {
      // Perhaps created a moment ago (`switchboard keys create`): read the keys as they are now. Concurrent
      // requests share one read, so a flood of made-up ids costs one small query at a time.
      const asked = performance.now();
      try {
        while (this.#readAt < asked) await this.#reload();
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
