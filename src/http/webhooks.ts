import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Metrics } from '../metrics.js';
import { SwitchboardError } from '../core/errors.js';
import type { InboundGateway } from '../core/inbound.js';
import { isProviderId, PROVIDER_IDS, type ProviderId } from '../core/message.js';
import { RawWebhook } from '../core/webhook.js';
import { externalUrl, type ExternalUrlOptions } from './external-url.js';
import { logFact } from './request-log.js';

/** Carriers send a few KiB at most; anything larger is not a carrier webhook. */
export const WEBHOOK_BODY_LIMIT = 64 * 1024;

const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';
const OTHER_METHODS = ['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

export interface WebhookRoutesOptions {
  inbound: InboundGateway;
  /** How the URL the carrier called is rebuilt (Twilio signs it). */
  externalUrl: ExternalUrlOptions;
  metrics: Metrics;
}

/**
 * POST /webhooks (carrier detected) and POST /webhooks/:provider (carrier named).
 *
 * Encapsulated on purpose: the body parsers here keep the raw bytes (signatures are computed over them) and exist
 * only inside this plugin, so the JSON API elsewhere keeps Fastify's normal parsing.
 */
export const webhookRoutes: FastifyPluginAsync<WebhookRoutesOptions> = async (
  app,
  { inbound, externalUrl: urlOptions, metrics },
) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    [FORM, JSON_TYPE],
    { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT },
    (_req, body, done) => done(null, body),
  );

  // A refused webhook's line says so (its code comes from the error handler).
  app.addHook('onError', async (request) => logFact(request, { outcome: 'rejected' }));
  app.addHook('onResponse', async (request) => metrics.webhook(request.logFacts));

  const handle = async (request: FastifyRequest, reply: FastifyReply, hint?: ProviderId) => {
    const body = request.body;
    if (!Buffer.isBuffer(body) || body.length === 0) {
      throw new SwitchboardError('malformed_body', 'The webhook body is empty.');
    }
    const contentType = (request.headers['content-type'] ?? '').toLowerCase().startsWith(FORM)
      ? 'form'
      : 'json';
    const raw = new RawWebhook({
      method: request.method,
      // Built only if the carrier's verification asks (Twilio): Telnyx does not sign the URL, and a Host it
      // cannot be built from must not refuse a Telnyx webhook.
      url: () => externalUrl(request, urlOptions),
      headers: request.headers,
      body,
      contentType,
      receivedAt: Date.now(),
    });
    const result = await inbound.receive(raw, hint, (provider) => logFact(request, { provider }));
    logFact(request, { provider: result.provider, outcome: result.outcome });
    return reply.code(result.reply.statusCode).type(result.reply.contentType).send(result.reply.body);
  };

  // Documentation only: the body is parsed after the signature is checked, not by a schema.
  const doc = (summary: string) => ({
    tags: ['webhooks'],
    summary,
    description:
      'Twilio (form-encoded, X-Twilio-Signature) or Telnyx (JSON, Ed25519 telnyx-signature-ed25519). Answered ' +
      'as each carrier expects (TwiML for Twilio, JSON for Telnyx) once stored; 403 when the signature fails.',
  });
  app.post('/webhooks', { schema: doc('Any carrier: detected from headers, then body') }, (request, reply) =>
    handle(request, reply),
  );
  app.post<{ Params: { provider: string } }>(
    '/webhooks/:provider',
    { schema: doc('One carrier, named in the path') },
    (request, reply) => {
      const { provider } = request.params;
      if (!isProviderId(provider)) {
        throw new SwitchboardError(
          'not_found',
          `No carrier "${provider}"; use one of: ${PROVIDER_IDS.join(', ')}.`,
        );
      }
      return handle(request, reply, provider);
    },
  );

  const notAllowed = async (_request: FastifyRequest, reply: FastifyReply) => {
    reply.header('allow', 'POST');
    throw new SwitchboardError('method_not_allowed', 'Webhooks are POSTed.');
  };
  const hidden = { schema: { hide: true }, handler: notAllowed, exposeHeadRoute: false };
  app.route({ method: [...OTHER_METHODS], url: '/webhooks', ...hidden });
  app.route({ method: [...OTHER_METHODS], url: '/webhooks/:provider', ...hidden });
};
