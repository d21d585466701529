import type { FastifyRequest, FastifyServerOptions } from 'fastify';
import type { LogLevel } from '../config.js';
import { maskPhonesIn } from '../core/phone.js';

/**
 * Logger options: request lines carry no headers (so no signatures or API keys) and URLs with phone numbers
 * masked (`/v1/messages?from=%2B1415****234`). Header paths are also redacted in case a handler logs a request.
 */
export function loggerOptions(level: LogLevel): NonNullable<FastifyServerOptions['logger']> {
  return {
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["x-twilio-signature"]',
        'req.headers["telnyx-signature-ed25519"]',
        'headers.authorization',
      ],
      censor: '[redacted]',
    },
    serializers: {
      req: (req: FastifyRequest) => ({
        method: req.method,
        url: maskPhonesIn(req.url),
        remoteAddress: req.ip,
      }),
    },
  };
}
