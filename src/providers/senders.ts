import type { Config } from '../config.js';
import type { ProviderId } from '../core/message.js';
import type { Sender } from '../core/sending.js';
import { createTelnyxSender } from './telnyx/send.js';
import { createTwilioSender } from './twilio/send.js';

/**
 * The carriers that can send: those with sending credentials and a sending section in the configuration.
 * @param statusCallbackUrl where carriers should post status callbacks; null: none requested
 */
export function buildSenders(
  config: Config,
  statusCallbackUrl: () => string | null,
): Map<ProviderId, Sender> {
  const senders = new Map<ProviderId, Sender>();
  const { providers } = config.sending;
  if (config.twilio && providers.twilio) {
    senders.set(
      'twilio',
      createTwilioSender({
        accountSid: config.twilio.accountSid,
        // The first token is the current one; the others only verify webhooks during a rotation.
        authToken: config.twilio.authTokens[0] ?? '',
        apiBaseUrl: config.twilioApiBaseUrl,
        messagingServiceSid: providers.twilio.messagingServiceSid,
        timeoutMs: providers.twilio.timeoutMs,
        statusCallbackUrl,
      }),
    );
  }
  if (config.telnyx?.apiKey && providers.telnyx) {
    senders.set(
      'telnyx',
      createTelnyxSender({
        apiKey: config.telnyx.apiKey,
        apiBaseUrl: config.telnyxApiBaseUrl,
        messagingProfileId: providers.telnyx.messagingProfileId,
        timeoutMs: providers.telnyx.timeoutMs,
        webhookUrl: statusCallbackUrl,
      }),
    );
  }
  return senders;
}
