import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { SwitchboardError } from '../core/errors.js';
import { DELIVERY_STATES, EVENT_TYPES } from '../core/events.js';
import type { Store } from '../core/store.js';
import type { EventDeliverer } from '../events/deliverer.js';
import {
  apiErrors,
  bearer,
  DeliveryInfoSchema,
  EndpointStateSchema,
  EventDetailSchema,
  EventSummarySchema,
  pageOf,
} from './response-schemas.js';
import { IdParams, literalUnion, pageQueryFields, parseSince } from './schema.js';
import { requestKey } from './auth.js';
import { endpointFor, eventFor } from './visibility.js';

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
 * replay; the endpoints, enabled and disabled at run time. Reads need the `read` scope, changes `admin`.
 */
export const eventRoutes: FastifyPluginAsync<{ store: Store; deliverer: EventDeliverer }> = async (
  app,
  { store, deliverer },
) => {
  const read = { scope: 'read' } as const;
  const admin = { scope: 'admin' } as const;

  const list = {
    tags: ['events'],
    summary: 'List events, newest first',
    description: 'With `endpointId` and/or `state`: only events with such a delivery (e.g. dead ones).',
    security: bearer,
    querystring: ListQuery,
    response: { 200: pageOf(EventSummarySchema), ...apiErrors },
  };
  app.get<{ Querystring: ListQuery }>('/v1/events', { schema: list, config: read }, async (request) => {
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
  });

  const one = {
    tags: ['events'],
    summary: 'An event: its payload as sent, and every delivery with its attempts',
    description:
      "The message's `statusCallback` in the payload is shown in full to admin keys and to the key that sent the " +
      'message; to other keys, its origin.',
    security: bearer,
    params: IdParams,
    response: { 200: EventDetailSchema, ...apiErrors },
  };
  app.get<{ Params: IdParams }>('/v1/events/:id', { schema: one, config: read }, async (request) => {
    const event = await store.getEvent(request.params.id);
    if (!event) throw new SwitchboardError('event_not_found');
    return eventFor(requestKey(request), event);
  });

  app.post<{ Params: IdParams; Body: RedeliverBody }>(
    '/v1/events/:id/redeliver',
    {
      schema: {
        tags: ['events'],
        summary: 'Deliver an event again',
        description: 'To every enabled endpoint that takes it, or to `endpointId`. Same `webhook-id`.',
        security: bearer,
        params: IdParams,
        body: RedeliverBody,
        response: { 202: Type.Object({ deliveries: Type.Array(DeliveryInfoSchema) }), ...apiErrors },
      },
      config: admin,
    },
    async (request, reply) => {
      const deliveries = await store.redeliver(request.params.id, request.body?.endpointId ?? null);
      if (deliveries === null) throw new SwitchboardError('event_not_found');
      return reply.code(202).send({ deliveries });
    },
  );

  const endpoints = {
    tags: ['endpoints'],
    summary: "The apps' endpoints, enabled or not, with their backlog",
    description:
      'URLs in full for admin keys; for other keys, their origin (a path or query may carry a token).',
    security: bearer,
    response: { 200: Type.Object({ data: Type.Array(EndpointStateSchema) }), ...apiErrors },
  };
  app.get('/v1/endpoints', { schema: endpoints, config: read }, async (request) => {
    const viewer = requestKey(request);
    return { data: (await store.listEndpoints()).map((e) => endpointFor(viewer, e)) };
  });

  for (const action of ['enable', 'disable'] as const) {
    app.post<{ Params: IdParams }>(
      `/v1/endpoints/:id/${action}`,
      {
        schema: {
          tags: ['endpoints'],
          summary: action === 'enable' ? 'Enable an endpoint' : 'Disable an endpoint',
          security: bearer,
          params: IdParams,
          body: NoBody,
          response: { 200: EndpointStateSchema, ...apiErrors },
        },
        config: admin,
      },
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
    {
      schema: {
        tags: ['endpoints'],
        summary: 'Send an endpoint everything it missed since a time',
        description: 'Events since `since` it takes and has neither received nor waiting.',
        security: bearer,
        params: IdParams,
        querystring: ReplayQuery,
        body: NoBody,
        response: {
          202: Type.Object({ endpointId: Type.String(), replayed: Type.Integer() }),
          ...apiErrors,
        },
      },
      config: admin,
    },
    async (request, reply) => {
      const replayed = await store.replay(request.params.id, parseSince(request.query.since));
      return reply.code(202).send({ endpointId: request.params.id, replayed });
    },
  );
};
