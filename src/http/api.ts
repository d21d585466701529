import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync } from 'fastify';
import { SwitchboardError } from '../core/errors.js';
import type { OutboundService } from '../core/outbound.js';
import type { Store } from '../core/store.js';
import type { EventDeliverer } from '../events/deliverer.js';
import type { Metrics } from '../metrics.js';
import { apiAuth, type KeyVerifier } from './auth.js';
import { eventRoutes } from './events.js';
import { messageRoutes } from './messages.js';
import { metricsRoutes } from './metrics-route.js';

export interface ApiOptions {
  store: Store;
  outbound: OutboundService;
  deliverer: EventDeliverer;
  metrics: Metrics;
  keys: KeyVerifier;
  /** Requests per window per API key unless the key has its own limit; 0: no limit. */
  rateLimitPerMinute: number;
  /** The limit's window. @default 60000 (tests shorten it) */
  rateLimitWindowMs?: number;
}

/**
 * Everything behind API keys (/v1 and /metrics), in one context: the key is checked first (onRequest), then the
 * key's rate limit (@fastify/rate-limit, a route-level onRequest hook, so it runs after the key is known), so a
 * key's requests count against its limit whichever route they go to.
 */
export const apiRoutes: FastifyPluginAsync<ApiOptions> = async (app, options) => {
  app.addHook('onRequest', apiAuth(options.keys));
  await app.register(rateLimit, {
    global: true,
    timeWindow: options.rateLimitWindowMs ?? 60_000,
    // Authentication runs first, so every request that gets here has a key.
    keyGenerator: (request) => `key:${request.apiKey?.id ?? request.ip}`,
    max: (request) => request.apiKey?.rateLimitPerMinute ?? options.rateLimitPerMinute,
    allowList: (request) => (request.apiKey?.rateLimitPerMinute ?? options.rateLimitPerMinute) === 0,
    errorResponseBuilder: (request, context) =>
      new SwitchboardError(
        'rate_limited',
        `API key ${request.apiKey?.id ?? ''} is limited to ${context.max} requests per ` +
          `${options.rateLimitWindowMs === undefined ? 'minute' : `${options.rateLimitWindowMs} ms`}; retry in ` +
          `${context.after}.`,
      ),
  });
  await app.register(messageRoutes, { store: options.store, outbound: options.outbound });
  await app.register(eventRoutes, { store: options.store, deliverer: options.deliverer });
  await app.register(metricsRoutes, { metrics: options.metrics });
};
