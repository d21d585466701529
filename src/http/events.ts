import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { SwitchboardError } from '../core/errors.js';
import { DELIVERY_STATES, EVENT_TYPES } from '../core/events.js';
import type { Store } from '../core/store.js';
import type { EventDeliverer } from '../events/deliverer.js';
import { bearerAuth } from './auth.js';
import { IdParams, literalUnion, pageQueryFields, parseSince } from './schema.js';

const ListQuery = Type.Object(
  {
    type: Type.Optional(literalUnion(EVENT_TYPES)),
    messageId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    endpointId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    state: Type.Optional(literalUnion(DELIVERY_STATES)),
    ...pageQueryFields,
  },
  { additionalProperties: false },
);
type ListQuery = Static<typeof ListQuery>;

const RedeliverBody = Type.Union([
  Type.Object(
    { endpointId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) },
    {
      additionalProperties: false,
    },
  ),
  Type.Null(),
]);
type RedeliverBody = Static<typeof RedeliverBody>;

// Enable, disable and replay take no body; one sent by mistake (a misspelt option) is refused, not ignored.
const NoBody = Type.Union([Type.Object({}, { additionalProperties: false }), Type.Null()]);

const ReplayQuery = Type.Object(
  { since: Type.String({ format: 'date-time' }) },
  { additionalProperties: false },
);
type ReplayQuery = Static<typeof ReplayQuery>;

/**
 * The events API: what Switchboard told (or is telling) the apps, each delivery with its attempts; redelivery and
 * replay; the endpoints, enabled and disabled at run time. Behind bearer API keys.
 */
export const eventRoutes: FastifyPluginAsync<{
  store: Store;
  deliverer: EventDeliverer;
  apiKeys: readonly string[];
}> = async (app, { store, deliverer, apiKeys }) => {
  app.addHook('onRequest', bearerAuth(apiKeys));

  app.get<{ Querystring: ListQuery }>(
    '/v1/events',
    { schema: { querystring: ListQuery } },
    async (request) => {
      const q = request.query;
      return store.listEvents(
        {
          type: q.type,
          messageId: q.messageId,
          endpointId: q.endpointId,
          state: q.state,
          since: q.since === undefined ? undefined : parseSince(q.since),
        },
        { cursor: q.cursor, limit: q.limit },
      );
    },
  );

  app.get<{ Params: IdParams }>('/v1/events/:id', { schema: { params: IdParams } }, async (request) => {
    const event = await store.getEvent(request.params.id);
    if (!event) throw new SwitchboardError('event_not_found');
    return event;
  });

  app.post<{ Params: IdParams; Body: RedeliverBody }>(
    '/v1/events/:id/redeliver',
    { schema: { params: IdParams, body: RedeliverBody } },
    async (request, reply) => {
      const deliveries = await store.redeliver(request.params.id, request.body?.endpointId ?? null);
      if (deliveries === null) throw new SwitchboardError('event_not_found');
      return reply.code(202).send({ deliveries });
    },
  );

  app.get('/v1/endpoints', async () => ({ data: await store.listEndpoints() }));

  for (const action of ['enable', 'disable'] as const) {
    app.post<{ Params: IdParams }>(
      `/v1/endpoints/:id/${action}`,
      { schema: { params: IdParams, body: NoBody } },
      async (request) => {
        const enabled = action === 'enable';
        const endpoint = await store.setEndpointEnabled(
          request.params.id,
          enabled,
          enabled ? null : 'disabled through the API',
        );
        if (!endpoint) throw new SwitchboardError('endpoint_not_found');
        deliverer.setEnabled(endpoint.id, enabled);
        return endpoint;
      },
    );
  }

  app.post<{ Params: IdParams; Querystring: ReplayQuery }>(
    '/v1/endpoints/:id/replay',
    { schema: { params: IdParams, querystring: ReplayQuery, body: NoBody } },
    async (request, reply) => {
      const replayed = await store.replay(request.params.id, parseSince(request.query.since));
      return reply.code(202).send({ endpointId: request.params.id, replayed });
    },
  );
};
