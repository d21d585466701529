import type { FastifyPluginAsync } from 'fastify';
import type { OutboundService } from '../core/outbound.js';
import type { Store } from '../core/store.js';
import type { EventDeliverer } from '../events/deliverer.js';
import type { Metrics } from '../metrics.js';
import { apiAuth, type KeyVerifier } from './auth.js';
import { eventRoutes } from './events.js';
import { messageRoutes } from './messages.js';
import { metricsRoutes } from './metrics-route.js';
import { perKeyRateLimit } from './rate-limit.js';

export interface ApiOptions {
  store: Store;
  outbound: OutboundService;
  deliverer: EventDeliverer;
  metrics: Metrics;
  keys: KeyVerifier;
}

/**
 * Everything behind API keys (/v1 and /metrics), in one context: the key and the route's scope are checked first,
 * then the request counts against the key's rate limit (http/rate-limit.ts; hooks of one kind run in the order
 * they were added).
 */
export const apiRoutes: FastifyPluginAsync<ApiOptions> = async (app, options) => {
  app.addHook('onRequest', apiAuth(options.keys));
  app.addHook('onRequest', perKeyRateLimit(app));
  await app.register(messageRoutes, { store: options.store, outbound: options.outbound });
  await app.register(eventRoutes, { store: options.store, deliverer: options.deliverer });
  await app.register(metricsRoutes, { metrics: options.metrics });
};
