import type { FastifyPluginAsync } from 'fastify';
import type { Metrics } from '../metrics.js';
import { apiErrors, bearer } from './response-schemas.js';

/**
 * GET /metrics in Prometheus' text format. It needs an API key with the `read` scope (Prometheus sends it as
 * `authorization`): the numbers are not secret, but they tell an outsider a lot about traffic, and a scrape key
 * that can only read gives nothing away if it leaks from the monitoring system.
 */
export const metricsRoutes: FastifyPluginAsync<{ metrics: Metrics }> = async (app, { metrics }) => {
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
      config: { scope: 'read' },
    },
    async (_request, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
};
