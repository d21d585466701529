import { Type, type TSchema } from '@sinclair/typebox';

/** A string enum as JSON Schema (`enum`, which ajv checks and OpenAPI shows) typed as the union of its values. */
export const literalUnion = <T extends readonly string[]>(values: T) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values] });

const nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/**
 * A message as the API returns it (core/message.ts Message). As a response schema it is also what Fastify
 * serializes with (fast-json-stringify: several times faster than JSON.stringify on the accept path).
 */
export const MessageSchema = Type.Object({
  id: Type.String(),
  provider: Type.String(),
  providerMessageId: nullable(Type.String()),
  direction: Type.String(),
  channel: Type.String(),
  from: Type.String(),
  to: Type.String(),
  cc: Type.Array(Type.String()),
  body: Type.String(),
  media: Type.Array(Type.Object({ url: Type.String(), contentType: nullable(Type.String()) })),
  status: Type.String(),
  providerStatus: nullable(Type.String()),
  segments: nullable(Type.Integer()),
  encoding: nullable(Type.String()),
  errorCode: nullable(Type.String()),
  errorMessage: nullable(Type.String()),
  statusCallback: nullable(Type.String()),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
