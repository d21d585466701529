import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Config } from './config.js';
import { InboundGateway, type InboundHandler } from './core/inbound.js';
import type { Store } from './core/store.js';
import { SqliteStore } from './db/sqlite.js';
import { errorBody, registerErrorHandling } from './http/errors.js';
import { registerGracefulClose } from './http/graceful-close.js';
import { logFact, registerRequestLog, RequestLog } from './http/request-log.js';
import { healthRoutes } from './http/health.js';
import { loggerOptions } from './http/logging.js';
import { messageRoutes } from './http/messages.js';
import { webhookRoutes } from './http/webhooks.js';
import { buildProviders } from './providers/index.js';

export interface AppDeps {
  /** A store the caller owns (and closes). Default: SQLite at config.databaseUrl, closed with the app. */
  store?: Store;
  /** Processing of inbound messages; without it messages are stored and acknowledged only. */
  onInbound?: InboundHandler;
  /** A logger instance to use instead of the default pino at config.logLevel. */
  logger?: FastifyBaseLogger;
  /** Clock for webhook freshness checks. */
  now?: () => number;
}

/**
 * Builds the gateway without listening: the only place that knows every part. main.ts listens; tests call this
 * and listen on an ephemeral port.
 */
export async function buildApp(config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: loggerOptions(config.logLevel) }),
    // Behind a proxy, X-Forwarded-* are read deliberately in http/external-url.ts; nothing else trusts them.
    trustProxy: false,
    // One line per request, on completion (http/request-log.ts).
    logController: new RequestLog(),
    return503OnClosing: true,
    // Fastify strips unknown properties by default; a mistyped filter would then silently match everything.
    // With additionalProperties: false in the schemas, an unknown parameter is a 400 instead.
    ajv: { customOptions: { removeAdditional: false } },
    // Errors Fastify raises before routing (a malformed URL, say) skip the error handler; same shape here.
    frameworkErrors: (err, request, reply) => {
      logFact(request, { code: 'invalid_request' });
      // The option's type is generic over route types that do not apply before routing.
      void (reply as FastifyReply)
        .code(400)
        .send(errorBody('invalid_request', `The request is malformed (${err.code}).`));
    },
  });
  const ownsStore = deps.store === undefined;
  const store = deps.store ?? (await SqliteStore.open({ path: config.databaseUrl }));
  const providers = buildProviders(config, deps.now);
  for (const line of providers.summary) app.log.info(line);
  if (config.unsafeSkipWebhookVerification) {
    app.log.warn(
      'UNSAFE_SKIP_WEBHOOK_VERIFICATION=true: webhook signatures are NOT checked. Anyone who can reach this ' +
        'server can inject messages. Never run this in production.',
    );
  }
  if (config.twilio !== null && config.publicBaseUrl === null) {
    app.log.warn(
      'PUBLIC_BASE_URL is not set: the URL Twilio signed is rebuilt from X-Forwarded-Proto/Host, which any client ' +
        'can set, so a Twilio signature made for another of your URLs would be accepted here. Set PUBLIC_BASE_URL.',
    );
  }
  if (config.apiKeys.length === 0) {
    app.log.warn('SWITCHBOARD_API_KEYS is not set: the /v1 API answers 401 until a key is configured.');
  }

  const inbound = new InboundGateway({
    detectors: providers.detectors,
    enabled: providers.enabled,
    store,
    handler: deps.onInbound,
    mode: config.processingMode,
    computeTimeoutMs: config.computeTimeoutMs,
    log: app.log,
  });

  registerRequestLog(app);
  registerGracefulClose(app);
  registerErrorHandling(app);
  await app.register(healthRoutes, { store });
  await app.register(webhookRoutes, { inbound, publicBaseUrl: config.publicBaseUrl });
  await app.register(messageRoutes, { store, apiKeys: config.apiKeys });

  app.addHook('onClose', async () => {
    await inbound.idle();
    if (ownsStore) await store.close();
  });
  return app;
}
