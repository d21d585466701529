import { hash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { SwitchboardError } from '../core/errors.js';

// One-shot crypto.hash: a third cheaper than createHash() on the per-request path.
const digest = (value: string) => hash('sha256', value, 'buffer');

/**
 * Bearer API keys. Keys are compared as SHA-256 digests with timingSafeEqual: equal-length inputs whatever the
 * key's length, and every configured key is compared (no early exit), so timing tells nothing about a key.
 */
export function bearerAuth(apiKeys: readonly string[]): (request: FastifyRequest) => Promise<void> {
  const digests = apiKeys.map(digest);
  return async (request) => {
    if (digests.length === 0) throw new SwitchboardError('api_keys_not_configured');
    const header = request.headers.authorization;
    const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
    if (!match) throw new SwitchboardError('unauthorized');
    const presented = digest(match[1] as string);
    let ok = false;
    for (const d of digests) ok = timingSafeEqual(d, presented) || ok;
    if (!ok) throw new SwitchboardError('unauthorized', 'The API key is not valid.');
  };
}
