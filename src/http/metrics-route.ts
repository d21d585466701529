import type { FastifyPluginAsync } from 'fastify';
import type { Metrics } from '../metrics.js';
import { bearerAuth } from './auth.js';
import { apiErrors, bearer } from './response-schemas.js';

/** GET /metrics in Prometheus' text format, behind the API key (Prometheus sends it as `authorization`). */
export const metricsRoutes: FastifyPluginAsync<{ metrics: Metrics; apiKeys: readonly string[] }> = async (
  app,
  { metrics, apiKeys },
) => {
  app.addHook('onRequest', bearerAuth(apiKeys));
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics',
        description:
          'Webhooks, verification failures, send queues and attempts, delivery ratio, event deliveries.',
        security: bearer,
        response: apiErrors,
      },
    },
    async (_request, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
};
