import type { FastifyRequest, FastifyServerOptions } from 'fastify';
import type { LogLevel } from '../config.js';
import { maskPhonesInUrl } from '../core/phone.js';

/**
 * Logger options. Nothing logs headers, so signatures and API keys never reach the log; request lines carry URLs
 * with phone numbers masked (see request-log.ts), and the `req` serializer masks them too should anything log a
 * request object. (No pino `redact` pass: there is nothing left for it to find, and it costs on every line.)
 */
export function loggerOptions(level: LogLevel): NonNullable<FastifyServerOptions['logger']> {
  return {
    level,
    serializers: {
      req: (req: FastifyRequest) => ({
        method: req.method,
        url: maskPhonesInUrl(req.url),
        remoteAddress: req.ip,
      }),
    },
  };
}
