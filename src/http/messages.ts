import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { SwitchboardError } from '../core/errors.js';
import { PROVIDER_IDS, STATUSES } from '../core/message.js';
import { normalizeAddress } from '../core/phone.js';
import type { OutboundService } from '../core/outbound.js';
import type { Store } from '../core/store.js';
import { apiErrors, bearer, MessageWithHistorySchema, pageOf } from './response-schemas.js';
import { IdParams, literalUnion, MessageSchema, pageQueryFields, parseSince, queryPhone } from './schema.js';
import { sendRoutes } from './send.js';
import { messageFor } from './visibility.js';
import { requestKey } from './auth.js';

const ListQuery = Type.Object(
  {
    direction: Type.Optional(literalUnion(['inbound', 'outbound'] as const)),
    status: Type.Optional(literalUnion(STATUSES)),
    provider: Type.Optional(literalUnion(PROVIDER_IDS)),
    channel: Type.Optional(literalUnion(['sms', 'mms', 'whatsapp'] as const)),
    from: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    to: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    ...pageQueryFields,
  },
  { additionalProperties: false },
);
type ListQuery = Static<typeof ListQuery>;

function queryNumber(value: string): string {
  return normalizeAddress(queryPhone(value));
}

const CALLBACK_VISIBILITY =
  '`statusCallback` is shown in full to admin keys and to the key that sent the message; to other keys, its origin.';

/** The /v1 messages API: reading needs the `read` scope, sending (send.ts) `send`. */
export const messageRoutes: FastifyPluginAsync<{ store: Store; outbound: OutboundService }> = async (
  app,
  { store, outbound },
) => {
  const read = { scope: 'read' } as const;
  await app.register(sendRoutes, { outbound });

  app.get<{ Querystring: ListQuery }>(
    '/v1/messages',
    {
      schema: {
        tags: ['messages'],
        summary: 'List messages, newest first',
        description: CALLBACK_VISIBILITY,
        security: bearer,
        querystring: ListQuery,
        response: { 200: pageOf(MessageSchema), ...apiErrors },
      },
      config: read,
    },
    async (request) => {
      const q = request.query;
      const viewer = requestKey(request);
      const page = await store.listMessages(
        {
          direction: q.direction,
          status: q.status,
          provider: q.provider,
          channel: q.channel,
          from: q.from === undefined ? undefined : queryNumber(q.from),
          to: q.to === undefined ? undefined : queryNumber(q.to),
          since: q.since === undefined ? undefined : parseSince(q.since),
        },
        { cursor: q.cursor, limit: q.limit },
      );
      return { data: page.data.map((m) => messageFor(viewer, m)), nextCursor: page.nextCursor };
    },
  );

  const oneMessage = {
    tags: ['messages'],
    summary: 'A message with its status history and send attempts',
    description: CALLBACK_VISIBILITY,
    security: bearer,
    params: IdParams,
    response: { 200: MessageWithHistorySchema, ...apiErrors },
  };
  app.get<{ Params: IdParams }>('/v1/messages/:id', { schema: oneMessage, config: read }, async (request) => {
    const message = await store.getMessage(request.params.id);
    if (!message) throw new SwitchboardError('message_not_found');
    return messageFor(requestKey(request), message);
  });
};
