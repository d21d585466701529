import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Config } from './config.js';
import { Dispatcher, type LaneSettings } from './core/dispatcher.js';
import { STATUS_CALLBACK_ENDPOINT } from './core/events.js';
import { InboundGateway, type InboundHandler, type InboundMessage } from './core/inbound.js';
import type { ProviderId } from './core/message.js';
import { OutboundService } from './core/outbound.js';
import { DAY_MS, Retention, type RetentionOptions } from './core/retention.js';
import type { RoutingTable, SenderIdentity } from './core/routing.js';
import type { SendLimits } from './core/sending.js';
import type { Store } from './core/store.js';
import { SqliteStore } from './db/sqlite/sqlite.js';
import { EventDeliverer } from './events/deliverer.js';
import { Activity } from './dashboard/activity.js';
import { apiRoutes } from './http/api.js';
import { ApiKeys } from './http/api-keys.js';
import { dashboardCookiePath, dashboardRoutes, type DashboardOptions } from './http/dashboard.js';
import { registerRateLimit } from './http/rate-limit.js';
import { errorBody, registerErrorHandling } from './http/errors.js';
import { registerGracefulClose } from './http/graceful-close.js';
import { logFact, registerRequestLog, RequestLog } from './http/request-log.js';
import { healthRoutes } from './http/health.js';
import { registerOpenApi } from './http/openapi.js';
import { Metrics } from './metrics.js';
import { loggerOptions } from './http/logging.js';
import { webhookRoutes } from './http/webhooks.js';
import { buildProviders } from './providers/index.js';
import { buildSenders } from './providers/senders.js';
import { AddressPolicy } from './net/address-policy.js';
import { CallbackGuard } from './net/callback-guard.js';
import { dnsResolve, type ResolveHost } from './net/resolve.js';
import { startSandbox } from './sandbox.js';
import { ShutdownBudget, shutdownDeadlineMs } from './shutdown.js';
import type { ProviderSimulator } from './simulator/simulator.js';

export interface AppDeps {
  /** A store the caller owns (and closes). Default: SQLite at config.databaseUrl, closed with the app. */
  store?: Store;
  /** Processing of inbound messages; without it messages are stored and acknowledged only. */
  onInbound?: InboundHandler;
  /** A logger instance to use instead of the default pino at config.logLevel. */
  logger?: FastifyBaseLogger;
  /** The wall clock: webhook freshness checks, the send pipeline's stored times. */
  now?: () => number;
  /**
   * The whole shutdown's time budget, from close() to the store closed (serve's deadline), shared by every step.
   * @default shutdownDeadlineMs(config.computeTimeoutMs)
   */
  shutdownMs?: number;
  /** Resolves the host names of messages' status callbacks (the SSRF guard). @default DNS A and AAAA (c-ares) */
  resolveHost?: ResolveHost;
  /** Outbox messages each carrier holds in memory (Dispatcher `capacity`). @default 10000 */
  outboxCapacity?: number;
  /** Event deliveries each endpoint holds ready to send in memory (EventDeliverer `capacity`). @default 10000 */
  deliveryCapacity?: number;
  /** The API rate limit's window (API_RATE_LIMIT_PER_MINUTE counts per minute). @default 60000 */
  rateLimitWindowMs?: number;
  /** The dashboard's sign-in throttle and its cap on live streams per key (tests shorten and lower them). */
  dashboard?: Pick<DashboardOptions, 'signInThrottle' | 'maxStreamsPerKey'>;
  /** Retention's pace and clock (its policy comes from config.retention). */
  retention?: Pick<RetentionOptions, 'stepSize' | 'minPauseMs' | 'intervalMs' | 'firstRunDelayMs' | 'now'>;
}

/** The gateway plus what tests and the sandbox need to reach. */
export interface Gateway {
  dispatcher: Dispatcher;
  deliverer: EventDeliverer;
  /** RETENTION_DAYS and REDACT_BODIES_AFTER_DAYS, run periodically once the server listens. */
  retention: Retention;
  /** Sandbox mode only: the simulator playing both carriers. */
  simulator: ProviderSimulator | null;
}

declare module 'fastify' {
  interface FastifyInstance {
    gateway: Gateway;
  }
}

// The end of the shutdown budget, kept for the last steps: closing the store (and the process exiting), and before
// it the last records of deliveries and sends cut off. Requests still open are cut before both.
const STORE_CLOSE_MS = 1_000;
const LAST_RECORDS_MS = 500;

/**
 * Builds the gateway without listening: the only place that knows every part. main.ts listens; tests call this
 * and listen on an ephemeral port.
 */
export async function buildApp(givenConfig: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const sandbox = givenConfig.sandbox ? await startSandbox(givenConfig) : null;
  const config = sandbox?.config ?? givenConfig;
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: loggerOptions(config.logLevel) }),
    // TRUST_PROXY=true: one proxy of the operator's stands in front, so the client's address (the dashboard's sign-in
    // throttle, the log) is the one it appended to X-Forwarded-For; entries before it are the client's own say, and
    // trusting them would let a client pick its address. X-Forwarded-Proto/Host are read in http/external-url.ts.
    trustProxy: config.trustProxy ? (_address: string, hop: number) => hop === 0 : false,
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
  let store: Store;
  try {
    store = deps.store ?? (await SqliteStore.open({ path: config.databaseUrl }));
  } catch (err) {
    await sandbox?.simulator.close();
    throw err;
  }
  const providers = buildProviders(config, deps.now);
  for (const line of providers.summary) app.log.info(line);
  if (sandbox) {
    app.log.warn(
      `SANDBOX MODE: no carrier credentials are set, so Twilio and Telnyx are played by the built-in simulator at ` +
        `${sandbox.simulator.url}. Messages you send are accepted and get delivery receipts, but nothing reaches a ` +
        'real phone. Set carrier credentials (see the README) to send for real.',
    );
  }
  if (config.unsafeSkipWebhookVerification) {
    app.log.warn(
      'UNSAFE_SKIP_WEBHOOK_VERIFICATION=true: webhook signatures are NOT checked. Anyone who can reach this ' +
        'server can inject messages. Never run this in production.',
    );
  }
  if (config.twilio !== null && config.publicBaseUrl === null && config.trustProxy && !sandbox) {
    app.log.warn(
      'TRUST_PROXY=true without PUBLIC_BASE_URL: the URL Twilio signed is rebuilt from X-Forwarded-Proto and ' +
        'X-Forwarded-Host, so only your proxy may reach this server (anyone who can set those headers can replay a ' +
        'Twilio signature made for another of your URLs). PUBLIC_BASE_URL is safer.',
    );
  }

  // Where carriers post status callbacks: the public URL, or in the sandbox this server's own address.
  const statusCallbackUrl = (): string | null => {
    if (config.publicBaseUrl !== null) return `${config.publicBaseUrl}/webhooks`;
    if (!sandbox) return null;
    const address = app.server.address();
    return address !== null && typeof address === 'object'
      ? `http://127.0.0.1:${address.port}/webhooks`
      : null;
  };
  const senders = buildSenders(config, statusCallbackUrl);
  if (senders.size > 0 && config.publicBaseUrl === null && !sandbox) {
    app.log.warn(
      'PUBLIC_BASE_URL is not set: messages are sent without a status callback URL, so delivery receipts arrive ' +
        'only if the carrier has a webhook configured for the number (Telnyx messaging profile, Twilio number).',
    );
  }
  const lanes = new Map<ProviderId, LaneSettings>();
  const identities = new Map<ProviderId, SenderIdentity>();
  const limits = new Map<ProviderId, SendLimits>();
  for (const [id, sender] of senders) {
    const settings = config.sending.providers[id];
    if (!settings) continue;
    lanes.set(id, settings);
    identities.set(id, {
      from: settings.from,
      pool: settings.messagingProfileId !== null || settings.messagingServiceSid !== null,
      whatsappFrom: settings.whatsappFrom,
      channels: sender.limits.channels,
    });
    limits.set(id, sender.limits);
    app.log.info(
      { provider: id, mps: settings.mps, concurrency: settings.concurrency },
      `${id} sending enabled`,
    );
  }
  const routing: RoutingTable = {
    defaultProvider: config.sending.defaultProvider,
    routes: config.sending.routes,
    senders: identities,
    failover: config.sending.failover,
  };
  const metrics = new Metrics();
  const activity = new Activity();
  const dispatcher = new Dispatcher({
    store,
    senders,
    lanes,
    routing,
    retry: config.sending.retry,
    log: app.log,
    observe: (applied, attempt) => {
      metrics.sendDecision(applied, attempt);
      activity.sendDecision(applied, attempt);
    },
    ...(deps.outboxCapacity !== undefined && { capacity: deps.outboxCapacity }),
    ...(deps.now !== undefined && { now: deps.now }),
  });
  const { events } = config;
  // Messages' status callbacks go where API clients say: public addresses only, unless the operator allows more.
  const callbackGuard = new CallbackGuard(
    new AddressPolicy(config.callbackAllowedNetworks),
    deps.resolveHost ?? dnsResolve(),
  );
  const outbound = new OutboundService({
    store,
    routing,
    limits,
    dispatcher,
    statusCallbacks: events.statusCallbacks !== null,
    callbackCheck: callbackGuard,
  });

  const endpoints = [...events.endpoints, ...(events.statusCallbacks ? [events.statusCallbacks] : [])];
  let endpointStates;
  const keys = new ApiKeys({ envKeys: config.apiKeys, store, log: app.log });
  try {
    endpointStates = await store.syncEndpoints(
      endpoints.map(({ id, url, events: types }) => ({ id, url, events: types })),
    );
    await keys.start();
  } catch (err) {
    if (ownsStore) await store.close();
    await sandbox?.simulator.close();
    throw err;
  }
  if (!keys.configured()) {
    app.log.warn(
      'No API key exists: the /v1 API answers 401 until one does. Create one with `switchboard keys create ' +
        '--name NAME --scopes send,read` (or set SWITCHBOARD_API_KEYS).',
    );
  }
  // An in-process handler answers messages itself; then no endpoint's answer is read as a reply (two replies).
  const replyEndpoint =
    deps.onInbound !== undefined
      ? null
      : (events.endpoints.find((e) => e.events.includes('message.received'))?.id ?? null);
  const deliverer = new EventDeliverer({
    store,
    endpoints,
    retryScheduleMs: events.retryScheduleMs,
    timeoutMs: events.timeoutMs,
    replies: { endpointId: replyEndpoint, queue: outbound },
    log: app.log,
    observe: (endpointId, outcome) => {
      metrics.eventDelivery(endpointId, outcome);
      activity.eventDelivery(endpointId, outcome);
    },
    ...(deps.deliveryCapacity !== undefined && { capacity: deps.deliveryCapacity }),
    ...(deps.now !== undefined && { now: deps.now }),
    callbackGuard,
  });
  for (const state of endpointStates) {
    if (state.id === STATUS_CALLBACK_ENDPOINT) continue;
    app.log.info(
      { endpointId: state.id, events: state.events, enabled: state.enabled },
      // The origin only: an endpoint's path or query may carry a token.
      `events go to ${new URL(state.url).origin}${state.enabled ? '' : ' (disabled)'}`,
    );
  }
  if (config.processingMode === 'compute' && replyEndpoint === null && deps.onInbound === undefined) {
    app.log.warn(
      'PROCESSING_MODE=compute, but no app endpoint takes message.received (APP_WEBHOOK_URL): there is no app to ' +
        'ask for a reply, so inbound messages are only stored and acknowledged.',
    );
  }
  metrics.watch(dispatcher, deliverer);
  const days = (n: number | null) => (n === null ? null : n * DAY_MS);
  const retention = new Retention({
    store,
    policy: {
      deleteAfterMs: days(config.retention.deleteAfterDays),
      redactAfterMs: days(config.retention.redactBodiesAfterDays),
    },
    log: app.log,
    ...deps.retention,
  });
  if (retention.enabled) {
    app.log.info(
      { ...config.retention },
      'retention: old messages are deleted or redacted every hour (RETENTION_DAYS, REDACT_BODIES_AFTER_DAYS)',
    );
  }
  app.decorate('gateway', { dispatcher, deliverer, retention, simulator: sandbox?.simulator ?? null });

  const inbound = new InboundGateway({
    detectors: providers.detectors,
    enabled: providers.enabled,
    store,
    replies: outbound,
    handler: deps.onInbound,
    ...(replyEndpoint !== null && {
      inline: (message: InboundMessage, timeoutMs: number) => deliverer.deliverNow(message, timeoutMs),
    }),
    mode: config.processingMode,
    computeTimeoutMs: config.computeTimeoutMs,
    log: app.log,
    observe: (event, messageId) => {
      metrics.stored(event);
      activity.stored(event, messageId);
    },
  });

  const budget = new ShutdownBudget(deps.shutdownMs ?? shutdownDeadlineMs(config.computeTimeoutMs));
  let sendsStopped: Promise<void> = Promise.resolve();
  app.addHook('preClose', async () => {
    budget.start();
    // No new send starts once shutdown begins; those in flight finish (and are recorded) while the server
    // answers its last requests. A reply an app gives meanwhile is queued in the outbox for the next start.
    sendsStopped = dispatcher.stop(budget.left(STORE_CLOSE_MS + LAST_RECORDS_MS));
  });
  registerRequestLog(app);
  registerGracefulClose(app, budget, STORE_CLOSE_MS + LAST_RECORDS_MS);
  registerErrorHandling(app);
  await registerOpenApi(app);
  await app.register(healthRoutes, { store });
  await app.register(webhookRoutes, {
    inbound,
    externalUrl: { publicBaseUrl: config.publicBaseUrl, trustProxy: config.trustProxy },
    metrics,
  });
  app.decorateRequest('apiKey', null);
  await registerRateLimit(app, {
    perMinute: config.apiRateLimitPerMinute,
    ...(deps.rateLimitWindowMs !== undefined && { windowMs: deps.rateLimitWindowMs }),
  });
  await app.register(apiRoutes, { store, outbound, deliverer, metrics, keys });
  await app.register(dashboardRoutes, {
    store,
    keys,
    activity,
    dispatcher,
    deliverer,
    secureCookies: config.publicBaseUrl?.startsWith('https:') ?? false,
    cookiePath: dashboardCookiePath(config.publicBaseUrl),
    ...deps.dashboard,
  });

  // Sending starts once the server listens: status callback URLs (in the sandbox) need its address, and
  // messages left in the outbox by a previous run go out from here.
  app.addHook('onListen', async () => {
    sandbox?.simulator.setDefaultWebhookUrl(statusCallbackUrl());
    dispatcher.start();
    deliverer.start(new Map(endpointStates.map((e) => [e.id, e.enabled])));
    retention.start();
  });
  // After the server has answered its last requests (or cut them at the budget): every step shares what is left,
  // keeping STORE_CLOSE_MS for the store.
  app.addHook('onClose', async () => {
    // First: a step in progress ends within milliseconds, and none starts once the store begins to close.
    await retention.stop();
    keys.stop();
    const steps: [string, Promise<unknown>][] = [
      ['inbound processing', inbound.idle()],
      ['event deliveries', deliverer.stop(budget.left(STORE_CLOSE_MS + LAST_RECORDS_MS))],
      ['sends', sendsStopped],
    ];
    for (const [name, step] of steps) {
      if (!(await budget.within(step, STORE_CLOSE_MS))) {
        app.log.warn(`shutdown: ${name} did not finish within the deadline; going on without them`);
      }
    }
    if (ownsStore) await store.close();
    await sandbox?.simulator.close();
  });
  return app;
}
