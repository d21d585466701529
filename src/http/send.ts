import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { FastifyPluginAsync } from 'fastify';
import { SwitchboardError } from '../core/errors.js';
import { PROVIDER_IDS } from '../core/message.js';
import {
  idempotencyKeys,
  type OutboundService,
  type SendItem,
  type SendOutcome,
  type SendRequest,
} from '../core/outbound.js';
import { requestKey } from './auth.js';
import { errorBody } from './errors.js';
import { apiErrors, bearer, ErrorSchema } from './response-schemas.js';
import { MessageSchema } from './schema.js';

// Without `format: 'uri'`: TypeBox's compiler (used for batch items) has no formats; the OutboundService parses
// every URL anyway.
const httpUrl = Type.String({ pattern: '^https?://', maxLength: 2048 });

// Shapes only; numbers, sizes per carrier, routing and opt-outs are checked by the OutboundService.
const sendFields = {
  to: Type.String({ minLength: 1, maxLength: 64 }),
  body: Type.Optional(Type.String({ maxLength: 10_000 })),
  mediaUrls: Type.Optional(Type.Array(httpUrl, { maxItems: 50 })),
  from: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  provider: Type.Optional(Type.Union(PROVIDER_IDS.map((id) => Type.Literal(id)))),
  statusCallback: Type.Optional(httpUrl),
  // `sms` (an MMS with media) or `whatsapp`; a whatsapp: address in `to` or `from` also asks for WhatsApp.
  channel: Type.Optional(Type.Union([Type.Literal('sms'), Type.Literal('whatsapp')])),
};
const SendBody = Type.Object(sendFields, { additionalProperties: false });
type SendBody = Static<typeof SendBody>;

const IdempotencyKey = Type.String({ minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7E]+$' });
const SendHeaders = Type.Object({ 'idempotency-key': Type.Optional(IdempotencyKey) });
type SendHeaders = Static<typeof SendHeaders>;

export const MAX_BATCH = 1000;
const BatchItem = Type.Object(
  { ...sendFields, idempotencyKey: Type.Optional(IdempotencyKey) },
  { additionalProperties: false },
);
// Items are checked one by one (below) so that one bad item is refused alone rather than failing the batch.
const BatchBody = Type.Object(
  { messages: Type.Array(Type.Unknown(), { minItems: 1, maxItems: MAX_BATCH }) },
  { additionalProperties: false },
);
type BatchBody = Static<typeof BatchBody>;
const checkItem = TypeCompiler.Compile(BatchItem);

const BatchResult = Type.Object({
  accepted: Type.Integer(),
  rejected: Type.Integer(),
  data: Type.Array(
    Type.Object({
      index: Type.Integer(),
      status: Type.Integer(),
      replayed: Type.Optional(Type.Boolean()),
      message: Type.Optional(MessageSchema),
      error: Type.Optional(ErrorSchema.properties.error),
    }),
  ),
});

/** POST /v1/messages and /v1/messages/batch (registered inside the authenticated /v1 plugin). */
export const sendRoutes: FastifyPluginAsync<{ outbound: OutboundService }> = async (app, { outbound }) => {
  app.post<{ Body: SendBody; Headers: SendHeaders }>(
    '/v1/messages',
    {
      schema: {
        tags: ['messages'],
        summary: 'Send a message',
        description:
          'Validates, routes and stores the message with its outbox row, then answers 202 (status `queued`); a ' +
          'carrier sends it after. An `Idempotency-Key` makes a retried request return the first message.',
        security: bearer,
        body: SendBody,
        headers: SendHeaders,
        response: { 202: MessageSchema, ...apiErrors },
      },
      config: { scope: 'send' },
    },
    async (request, reply) => {
      const idempotencyKey = request.headers['idempotency-key'] ?? null;
      const apiKeyId = requestKey(request).id;
      const result = await stored(() => outbound.send(toRequest(request.body), { apiKeyId, idempotencyKey }));
      if (result.replayed) void reply.header('idempotent-replayed', 'true');
      return reply.code(202).send(result.message);
    },
  );

  app.post<{ Body: BatchBody; Headers: SendHeaders }>(
    '/v1/messages/batch',
    // 1000 messages of up to 1600 characters (in JSON escapes up to six bytes each) do not fit Fastify's 1 MiB.
    {
      schema: {
        tags: ['messages'],
        summary: 'Send up to 1000 messages',
        description:
          'Each item is answered on its own (202, or its error): HTTP 202 when all were accepted, 207 otherwise.',
        security: bearer,
        body: BatchBody,
        headers: SendHeaders,
        response: { 202: BatchResult, 207: BatchResult, ...apiErrors },
      },
      bodyLimit: 16 * 1024 * 1024,
      config: { scope: 'send' },
    },
    async (request, reply) => {
      const headerKey = request.headers['idempotency-key'] ?? null;
      const apiKeyId = requestKey(request).id;
      const results: (SendOutcome | null)[] = [];
      const valid: SendItem[] = [];
      const slots: number[] = [];
      request.body.messages.forEach((item, index) => {
        if (!checkItem.Check(item)) {
          const first = checkItem.Errors(item).First();
          const where = first?.path ? `${first.path.slice(1).replace(/\//g, '.')}: ` : '';
          results.push({
            ok: false,
            error: new SwitchboardError('invalid_request', `${where}${first?.message ?? 'invalid message'}`),
          });
          return;
        }
        const { idempotencyKey, ...fields } = item;
        // An item's own key is like a single send's header; the batch's header keys items by their content.
        const idempotency =
          idempotencyKey !== undefined
            ? { key: idempotencyKeys.api(apiKeyId, idempotencyKey) }
            : headerKey !== null
              ? { batchKey: headerKey, apiKeyId }
              : null;
        valid.push({ request: toRequest(fields), idempotency, createdBy: apiKeyId });
        slots.push(index);
        results.push(null);
      });
      const outcomes = valid.length > 0 ? await stored(() => outbound.sendMany(valid)) : [];
      outcomes.forEach((outcome, i) => {
        results[slots[i] as number] = outcome;
      });
      const data = (results as SendOutcome[]).map((r, index) =>
        r.ok
          ? { index, status: 202, replayed: r.replayed, message: r.message }
          : { index, status: r.error.statusCode, error: errorBody(r.error.code, r.error.message).error },
      );
      const accepted = data.filter((d) => d.status === 202).length;
      // 202 when every message was accepted; 207 (Multi-Status) when some were refused: see each item's status.
      return reply.code(accepted === data.length ? 202 : 207).send({
        accepted,
        rejected: data.length - accepted,
        data,
      });
    },
  );
};

function toRequest(body: SendBody): SendRequest {
  return {
    to: body.to,
    ...(body.body !== undefined && { body: body.body }),
    ...(body.mediaUrls !== undefined && { mediaUrls: body.mediaUrls }),
    ...(body.from !== undefined && { from: body.from }),
    ...(body.provider !== undefined && { provider: body.provider }),
    ...(body.statusCallback !== undefined && { statusCallback: body.statusCallback }),
    ...(body.channel !== undefined && { channel: body.channel }),
  };
}

/** A store failure while queuing is a 503 (nothing was stored; retry), never a 500. */
async function stored<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof SwitchboardError) throw err;
    throw new SwitchboardError('service_unavailable', 'The message could not be stored; retry later.', {
      cause: err,
    });
  }
}
