import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SwitchboardError } from '../core/errors.js';

export interface RateLimitOptions {
  /** Requests per window per API key unless the key has its own limit; 0: no limit. */
  perMinute: number;
  /** The window. @default 60000 (tests shorten it) */
  windowMs?: number;
}

/**
 * Registers @fastify/rate-limit on the root (not applied to any route by itself): one count per API key, shared by
 * every route that adds `perKeyRateLimit(app)` after authenticating (the API and the dashboard's data), so a key's
 * requests count against its limit whichever route they go to.
 */
export async function registerRateLimit(app: FastifyInstance, options: RateLimitOptions): Promise<void> {
  const limitOf = (request: FastifyRequest) => request.apiKey?.rateLimitPerMinute ?? options.perMinute;
  await app.register(rateLimit, {
    global: false,
    timeWindow: options.windowMs ?? 60_000,
    // Authentication runs first, so every request counted has a key.
    keyGenerator: (request) => `key:${request.apiKey?.id ?? request.ip}`,
    max: (request) => limitOf(request),
    allowList: (request) => limitOf(request) === 0,
    errorResponseBuilder: (request, context) =>
      new SwitchboardError(
        'rate_limited',
        `API key ${request.apiKey?.id ?? ''} is limited to ${context.max} requests per ` +
          `${options.windowMs === undefined ? 'minute' : `${options.windowMs} ms`}; retry in ${context.after}.`,
      ),
  });
}

/** An onRequest hook counting the request against its API key; add it after the hook that authenticates. */
export function perKeyRateLimit(
  app: FastifyInstance,
): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const handler = app.rateLimit();
  return async (request, reply) => {
    await handler.call(app, request, reply);
  };
}
