import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { SwitchboardError } from '../core/errors.js';

/** A string enum as JSON Schema (`enum`, which ajv checks and OpenAPI shows) typed as the union of its values. */
export const literalUnion = <T extends readonly string[]>(values: T) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values] });

/**
 * A phone number from a query string as it was meant: an unencoded `+` decodes to a space (`?from=+1415...`
 * arrives as " 1415..."), a mistake so common with E.164 numbers that it is repaired rather than answered with
 * nothing found.
 */
export function queryPhone(value: string): string {
  return /^ \d/.test(value) ? `+${value.slice(1)}` : value;
}

/** The query fields every list shares: newest first, from `since`, a page of `limit` after `cursor`. */
export const pageQueryFields = {
  since: Type.Optional(Type.String({ format: 'date-time' })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
};

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export type IdParams = Static<typeof IdParams>;

/** A `since` the schema let through (`date-time`) as milliseconds. */
export function parseSince(value: string): number {
  const since = Date.parse(value);
  if (Number.isNaN(since))
    throw new SwitchboardError('invalid_request', 'since must be an ISO 8601 date-time.');
  return since;
}

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
  redactedAt: nullable(Type.String()),
});
