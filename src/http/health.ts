import type { FastifyPluginAsync } from 'fastify';
import { SwitchboardError } from '../core/errors.js';
import type { Store } from '../core/store.js';

/** Liveness and readiness, with no API key: load balancers and orchestrators call them. */
export const healthRoutes: FastifyPluginAsync<{ store: Store }> = async (app, { store }) => {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async () => {
    try {
      await store.ping();
    } catch (err) {
      throw new SwitchboardError('service_unavailable', 'The database is not reachable.', { cause: err });
    }
    return { status: 'ready' };
  });
};
