import { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { maskPhonesInUrl } from '../core/phone.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Facts a handler adds to the request's log line: provider, outcome, error code. Ids and codes only. */
    logFacts: Record<string, string | number | undefined> | null;
  }
}

/** Adds facts to the request's one log line. */
export function logFact(
  request: { logFacts: Record<string, string | number | undefined> | null },
  facts: Record<string, string | number | undefined>,
): void {
  request.logFacts = request.logFacts === null ? facts : { ...request.logFacts, ...facts };
}

/**
 * One log line per request, written when the response is done: method, URL (phone numbers masked), status,
 * latency, and the facts the handlers added. It replaces Fastify's two lines per request ("incoming request",
 * "request completed"), which cost twice the logging and said less. Fastify's LogController is the hook for it.
 */
export class RequestLog extends LogController {
  override incomingRequest(): void {
    // Nothing: the request's one line is written on completion, when its outcome is known.
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const line = {
      method: request.method,
      url: maskPhonesInUrl(request.url),
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
      ...request.logFacts,
    };
    if (error) request.log.error({ ...line, err: error }, 'request');
    else request.log.info(line, 'request');
  }
}

/** Declares the per-request facts slot; must run before routes are registered. */
export function registerRequestLog(app: FastifyInstance): void {
  app.decorateRequest('logFacts', null);
}
