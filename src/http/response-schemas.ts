import { Type, type TSchema } from '@sinclair/typebox';
import { DELIVERY_STATES, EVENT_TYPES } from '../core/events.js';
import { literalUnion, MessageSchema } from './schema.js';

// What the API answers, as JSON Schema: Fastify serializes with them (only the properties named here are sent, so
// they must name every field) and /openapi.json documents them.

const nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const ErrorSchema = Type.Object(
  { error: Type.Object({ code: Type.String(), message: Type.String() }) },
  { description: 'Every error: a stable code to branch on, and a message for people.' },
);

export const pageOf = <T extends TSchema>(item: T) =>
  Type.Object({
    data: Type.Array(item),
    nextCursor: nullable(
      Type.String({ description: 'Pass as `cursor` for the next page; null on the last.' }),
    ),
  });

const HistoryEntry = Type.Object({
  status: nullable(Type.String()),
  providerStatus: Type.String(),
  provider: Type.String(),
  recipient: nullable(Type.String()),
  errorCode: nullable(Type.String()),
  errorMessage: nullable(Type.String()),
  occurredAt: Type.String({
    description:
      "When it happened: the carrier's time where it is exact (Telnyx), else when the event reached Switchboard " +
      '(Twilio receipts), so a history never reads out of order.',
  }),
  providerTime: nullable(
    Type.String({
      description:
        "The carrier's own time for the event, as it wrote it: Twilio's RawDlrDoneDate (YYMMDDhhmm, minute " +
        'precision, no time zone: the offset varies by carrier). Null when the carrier sent none.',
    }),
  ),
});

const SendAttemptSchema = Type.Object({
  provider: Type.String(),
  outcome: literalUnion(['accepted', 'retry', 'failover', 'failed'] as const),
  errorClass: nullable(Type.String()),
  errorCode: nullable(Type.String()),
  errorMessage: nullable(Type.String()),
  httpStatus: nullable(Type.Integer()),
  providerMessageId: nullable(Type.String()),
  startedAt: Type.String(),
  durationMs: Type.Integer(),
});

export const MessageWithHistorySchema = Type.Composite([
  MessageSchema,
  Type.Object({ events: Type.Array(HistoryEntry), attempts: Type.Array(SendAttemptSchema) }),
]);

// A payload is shown as stored (it is what was signed and sent); those stored before redaction existed have no
// `redactedAt`.
const PayloadMessageSchema = Type.Composite([
  Type.Omit(MessageSchema, ['redactedAt']),
  Type.Object({ redactedAt: Type.Optional(nullable(Type.String())) }),
]);

export const EventSummarySchema = Type.Object({
  id: Type.String(),
  type: literalUnion(EVENT_TYPES),
  messageId: Type.String(),
  createdAt: Type.String(),
});

export const DeliveryInfoSchema = Type.Object({
  id: Type.Integer(),
  endpointId: Type.String(),
  state: literalUnion(DELIVERY_STATES),
  attempts: Type.Integer(),
  nextAttemptAt: nullable(Type.String()),
  createdAt: Type.String(),
  attemptLog: Type.Array(
    Type.Object({
      outcome: literalUnion(['delivered', 'retry', 'dead', 'disabled'] as const),
      statusCode: nullable(Type.Integer()),
      error: nullable(Type.String()),
      startedAt: Type.String(),
      durationMs: Type.Integer(),
    }),
  ),
});

export const EventDetailSchema = Type.Composite([
  EventSummarySchema,
  Type.Object({
    payload: Type.Object(
      {
        id: Type.String(),
        type: literalUnion(EVENT_TYPES),
        timestamp: Type.String(),
        data: PayloadMessageSchema,
      },
      { description: 'The request body as sent to endpoints (and signed).' },
    ),
    deliveries: Type.Array(DeliveryInfoSchema),
  }),
]);

export const EndpointStateSchema = Type.Object({
  id: Type.String(),
  url: Type.String(),
  events: Type.Array(literalUnion(EVENT_TYPES)),
  enabled: Type.Boolean(),
  disabledReason: nullable(Type.String()),
  pending: Type.Integer(),
  dead: Type.Integer(),
  updatedAt: Type.String(),
});

/** The answers every route behind the API key may give besides its own. */
export const apiErrors = { '4xx': ErrorSchema, '5xx': ErrorSchema };

/** Marks a route as behind the bearer API key in the OpenAPI document. */
export const bearer = [{ bearerAuth: [] }];
