import type { FastifyError, FastifyInstance } from 'fastify';
import { ERRORS, isSwitchboardError, type ErrorCode } from '../core/errors.js';
import { logFact } from './request-log.js';

export interface ErrorBody {
  error: { code: string; message: string };
}

export function errorBody(code: ErrorCode, message: string = ERRORS[code].message): ErrorBody {
  return { error: { code, message } };
}

// Fastify's own errors for bad requests, in our vocabulary.
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'malformed_body',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_body',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_body',
  FST_ERR_ASYNC_CONSTRAINT: 'invalid_request',
};

const BY_STATUS: Record<number, ErrorCode> = {
  400: 'invalid_request',
  401: 'unauthorized',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

/**
 * The one error handler: every error leaves as `{ "error": { "code", "message" } }` with its status. Errors of
 * the request (4xx) add their code to the request's log line; anything else is a bug, logged in full and answered
 * 500 without internals.
 */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (isSwitchboardError(err)) {
      // On the request's one line (why a signature failed, say), not a line of its own.
      logFact(request, { code: err.code, reason: typeof err.cause === 'string' ? err.cause : undefined });
      return reply.code(err.statusCode).send(errorBody(err.code, err.message));
    }
    if (err.validation) {
      logFact(request, { code: 'invalid_request' });
      return reply.code(400).send(errorBody('invalid_request', err.message));
    }
    const code =
      FASTIFY_CODES[err.code] ??
      (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500
        ? (BY_STATUS[err.statusCode] ?? 'invalid_request')
        : undefined);
    if (code !== undefined) {
      logFact(request, { code });
      return reply.code(ERRORS[code].status).send(errorBody(code));
    }
    request.log.error({ err }, 'unhandled error');
    return reply.code(500).send(errorBody('internal_error'));
  });

  app.setNotFoundHandler((request, reply) => {
    reply
      .code(404)
      .send(errorBody('not_found', `No route for ${request.method} ${request.url.split('?')[0]}.`));
  });
}
