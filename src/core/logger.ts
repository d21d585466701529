/**
 * The logging core/ needs; pino (Fastify's logger) satisfies it. Callers pass ids, codes and masked numbers only:
 * message bodies, full phone numbers and secrets never go into a log object.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
