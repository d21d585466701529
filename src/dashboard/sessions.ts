import { hash, randomBytes } from 'node:crypto';

/** How long a dashboard session lasts after signing in. @default 12 h */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
/** Sessions held at most; beyond it the oldest is dropped (its operator signs in again). */
export const MAX_SESSIONS = 1_000;

export interface Session {
  /** The API key the operator signed in with: checked again (still active?) on every request. */
  keyId: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

export interface SessionsOptions {
  /** @default SESSION_TTL_MS */
  ttlMs?: number;
  /** @default MAX_SESSIONS */
  max?: number;
  now?: () => number;
}

/**
 * Dashboard sessions, in memory: a restart signs every operator out, which is acceptable for an operator view and
 * keeps session secrets out of the database.
 *
 * A session token is 32 random bytes (base64url) handed to the browser as an HttpOnly cookie; only its SHA-256 is
 * kept. A token is looked up by its digest in a Map: that lookup's timing depends on the digest, never on how much
 * of a guessed token is right, and guessing a 256-bit random token is hopeless anyway, so no constant-time
 * comparison is needed. A leak of this map (a heap dump) gives no usable token.
 */
export class Sessions {
  readonly #byDigest = new Map<string, Session>();
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: SessionsOptions = {}) {
    const { ttlMs = SESSION_TTL_MS, max = MAX_SESSIONS } = options;
    if (!Number.isInteger(ttlMs) || ttlMs <= 0) {
      throw new TypeError(`Expected \`ttlMs\` to be a positive integer, got ${ttlMs}`);
    }
    if (!Number.isInteger(max) || max <= 0) {
      throw new TypeError(`Expected \`max\` to be a positive integer, got ${max}`);
    }
    this.#ttlMs = ttlMs;
    this.#max = max;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#byDigest.size;
  }

  /** A new session for the key: answers the token to set as the cookie, and when it expires. */
  create(keyId: string): { token: string; expiresAt: number } {
    const token = randomBytes(32).toString('base64url');
    const expiresAt = this.#now() + this.#ttlMs;
    this.#sweep();
    // Map order is insertion order, and every session lives as long: the first is the oldest.
    while (this.#byDigest.size >= this.#max) {
      const oldest = this.#byDigest.keys().next().value;
      if (oldest === undefined) break;
      this.#byDigest.delete(oldest);
    }
    this.#byDigest.set(digest(token), { keyId, expiresAt });
    return { token, expiresAt };
  }

  /** The live session a token belongs to; null for an unknown or expired one (which is then forgotten). */
  find(token: string): Session | null {
    const key = digest(token);
    const session = this.#byDigest.get(key);
    if (session === undefined) return null;
    if (session.expiresAt <= this.#now()) {
      this.#byDigest.delete(key);
      return null;
    }
    return session;
  }

  /** Ends a session (logout, or its key was revoked). Unknown tokens are ignored. */
  delete(token: string): void {
    this.#byDigest.delete(digest(token));
  }

  /** Drops expired sessions from the front (the oldest), stopping at the first live one. */
  #sweep(): void {
    const now = this.#now();
    for (const [key, session] of this.#byDigest) {
      if (session.expiresAt > now) break;
      this.#byDigest.delete(key);
    }
  }
}

function digest(token: string): string {
  return hash('sha256', token, 'hex');
}
