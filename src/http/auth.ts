import type { FastifyRequest } from 'fastify';
import type { Scope } from '../core/api-keys.js';
import { SwitchboardError } from '../core/errors.js';

export type { Scope };

/** Who presented a valid API key. */
export interface ApiKeyIdentity {
  /**
   * The id of a key made with `switchboard keys`, or for a SWITCHBOARD_API_KEYS entry `env-` and a hash of the key
   * (see envKeyId): stable across restarts and reorderings, since idempotency keys and messages are tied to it.
   */
  id: string;
  name: string;
  scopes: readonly Scope[];
  /** Requests per minute for this key; null: the server's default (API_RATE_LIMIT_PER_MINUTE). */
  rateLimitPerMinute: number | null;
}

export interface KeyVerifier {
  /** The active key a presented token belongs to; null for an unknown or revoked key. */
  verify(token: string): Promise<ApiKeyIdentity | null>;
  /** The key with this id while it is active (a dashboard session checks its key on every request). */
  active(id: string): Promise<ApiKeyIdentity | null>;
  /** False while no key exists at all: the API then answers `api_keys_not_configured`, not `unauthorized`. */
  configured(): boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The API key the request authenticated with (set by apiAuth). */
    apiKey: ApiKeyIdentity | null;
  }
  interface FastifyContextConfig {
    /** The scope a route needs; a route under apiAuth without one needs `admin` (fail closed). */
    scope?: Scope;
  }
}

export function hasScope(identity: ApiKeyIdentity, scope: Scope): boolean {
  return identity.scopes.includes('admin') || identity.scopes.includes(scope);
}

/** The key a request authenticated with (set by apiAuth or the dashboard); throws `unauthorized` if none was. */
export function requestKey(request: FastifyRequest): ApiKeyIdentity {
  if (request.apiKey === null) throw new SwitchboardError('unauthorized');
  return request.apiKey;
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(request: FastifyRequest): string | null {
  const match = request.headers.authorization?.match(/^Bearer\s+(\S+)\s*$/i);
  return match ? (match[1] as string) : null;
}

/** Throws `insufficient_scope` unless the key has the scope; `what` names what needs it in the message. */
export function checkScope(identity: ApiKeyIdentity, scope: Scope, what = 'this route'): void {
  if (!hasScope(identity, scope)) {
    throw new SwitchboardError(
      'insufficient_scope',
      `This API key (${identity.id}) has the scopes ${identity.scopes.join(', ')}; ${what} needs "${scope}".`,
    );
  }
}

/** The active key a presented token belongs to; throws `unauthorized` (`api_keys_not_configured` while none exists). */
export async function authenticate(keys: KeyVerifier, token: string): Promise<ApiKeyIdentity> {
  const identity = await keys.verify(token);
  if (identity !== null) return identity;
  if (!keys.configured()) throw new SwitchboardError('api_keys_not_configured');
  throw new SwitchboardError('unauthorized', 'The API key is not valid (unknown or revoked).');
}

/**
 * onRequest hook for the API: a bearer key that is valid and has the route's scope (`config.scope`), else 401 or
 * 403. Sets `request.apiKey`, which the per-key rate limit then uses.
 */
export function apiAuth(keys: KeyVerifier): (request: FastifyRequest) => Promise<void> {
  return async (request) => {
    const token = bearerToken(request);
    if (token === null) {
      throw new SwitchboardError(keys.configured() ? 'unauthorized' : 'api_keys_not_configured');
    }
    const identity = await authenticate(keys, token);
    request.apiKey = identity;
    checkScope(identity, request.routeOptions.config.scope ?? 'admin');
  };
}
