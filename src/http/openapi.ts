import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/**
 * The OpenAPI 3 document, generated from the route schemas (@fastify/swagger collects every route registered after
 * it), at GET /openapi.json, and a browsable page at /docs. Both without an API key: they describe the API, they
 * hold nothing of it. Registered before the routes.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Switchboard',
        version,
        description:
          'Provider-agnostic messaging gateway: one webhook endpoint for every carrier, one API to send and read ' +
          'messages, signed events to your app. Errors are `{ "error": { "code", "message" } }`.',
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'SWITCHBOARD_API_KEYS' },
        },
      },
      tags: [
        { name: 'messages', description: 'Send and read messages.' },
        { name: 'events', description: 'Events delivered to apps: inspect, redeliver.' },
        { name: 'endpoints', description: "Apps' endpoints: list, enable, disable, replay." },
        { name: 'webhooks', description: 'Where carriers post (signed by the carrier).' },
        { name: 'health', description: 'Liveness and readiness.' },
        { name: 'operations', description: 'For the people who run it.' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
