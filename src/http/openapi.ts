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
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description:
              'An API key (`switchboard keys create`, or SWITCHBOARD_API_KEYS). Each operation says the scope it ' +
              'needs: send, read or admin (admin has them all). Rate limited per key: 429 `rate_limited`.',
          },
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
  // OpenAPI 3.0 has no scopes for bearer keys, so each operation's description says which one it needs.
  app.addHook('onRoute', (route) => {
    const scope = route.config?.scope;
    if (scope === undefined || route.schema === undefined) return;
    const schema = route.schema as { description?: string };
    // A GET's HEAD twin shares its schema object: said once.
    if (schema.description?.includes('Needs an API key with the')) return;
    const needs = `Needs an API key with the \`${scope}\` scope${scope === 'admin' ? '' : ' (or admin)'}.`;
    schema.description = schema.description ? `${schema.description}\n\n${needs}` : needs;
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
