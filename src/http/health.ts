import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { SwitchboardError } from '../core/errors.js';
import type { Store } from '../core/store.js';
import { ErrorSchema } from './response-schemas.js';

/** /readyz answers within 2 s: its own wait for the store, plus the round trip. */
const READY_TIMEOUT_MS = 1_500;

/** Liveness and readiness, with no API key: load balancers and orchestrators call them. */
export const healthRoutes: FastifyPluginAsync<{ store: Store }> = async (app, { store }) => {
  const status = (summary: string, value: string) => ({
    tags: ['health'],
    summary,
    response: { 200: Type.Object({ status: Type.Literal(value) }), '5xx': ErrorSchema },
  });
  app.get('/healthz', { schema: status('The process is up', 'ok') }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: status('The database takes writes', 'ready') }, async () => {
    try {
      await store.checkReady(READY_TIMEOUT_MS);
    } catch (err) {
      throw new SwitchboardError('service_unavailable', `Not ready: ${(err as Error).message}.`, {
        cause: err,
      });
    }
    return { status: 'ready' };
  });
};
