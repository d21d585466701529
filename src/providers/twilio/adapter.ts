import twilio from 'twilio';
import type { HttpReply, Provider, Reply } from '../../core/provider.js';
import type { TwilioConfig } from '../../config.js';
import { parseTwilio } from './parse.js';
import { verifyTwilio } from './verify.js';

const TWIML = 'text/xml; charset=utf-8';
// Built once with the SDK: the acknowledgement of every webhook that needs no reply.
const EMPTY_RESPONSE = new twilio.twiml.MessagingResponse().toString();

/** TwiML for a webhook response, built with the SDK so bodies and URLs are escaped correctly. */
export function twimlReply(reply?: Reply): string {
  if (!reply) return EMPTY_RESPONSE;
  const response = new twilio.twiml.MessagingResponse();
  // Body and Media as child nouns (rather than the message's text) so one message can carry both.
  const message = response.message('');
  if (reply.body) message.body(reply.body);
  for (const url of reply.mediaUrls ?? []) message.media(url);
  return response.toString();
}

/** `unverified`: the operator turned verification off (UNSAFE_SKIP_WEBHOOK_VERIFICATION); see providers/index.ts. */
export function createTwilioProvider(config: TwilioConfig | 'unverified'): Provider {
  return {
    id: 'twilio',
    repliesInline: true,
    verify: (req) =>
      config === 'unverified' ? { ok: true } : verifyTwilio(req, config.authTokens, config.accountSid),
    parse: parseTwilio,
    webhookResponse: (reply?: Reply): HttpReply => ({
      statusCode: 200,
      contentType: TWIML,
      body: twimlReply(reply),
    }),
  };
}
