import { uuid } from './ids.js';
import { CARRIER_WEBHOOK_TIMEOUT_MS } from './status-callbacks.js';
import { telnyxEventBody, telnyxInboundPayload, type TelnyxSigner } from './telnyx-webhooks.js';
import { signedTwilioRequest, twilioInboundParams, type TwilioAccount } from './twilio-webhooks.js';
import type { InboundInput } from './types.js';
import type { WebhookSender } from './webhook-sender.js';

export interface InboundDeps {
  sender: WebhookSender;
  twilio: TwilioAccount;
  telnyx: TelnyxSigner;
  telnyxMessagingProfileId: string | null;
  defaultWebhookUrl: string | null;
  now: () => number;
  timeoutMs: number | undefined;
}

/**
 * Posts one inbound message webhook, signed as the carrier signs it, and reports the receiver's HTTP status. One
 * attempt: the caller (a test) wants to see what the gateway answered, not a retry hiding it. Rejects when no URL is
 * known or the receiver cannot be reached.
 */
export async function injectInbound(
  input: InboundInput,
  deps: InboundDeps,
): Promise<{ status: number; providerMessageId: string }> {
  const url = input.webhookUrl ?? deps.defaultWebhookUrl;
  if (url === null || url === undefined || url === '') {
    throw new Error('injectInbound needs a webhookUrl (or the simulator a defaultWebhookUrl)');
  }
  const message = { from: input.from, to: input.to, body: input.body, mediaUrls: input.mediaUrls ?? [] };

  if (input.provider === 'twilio') {
    // Twilio's messaging webhooks have no group MMS: refused rather than silently sent as a 1:1 message.
    if (input.cc !== undefined && input.cc.length > 0) throw new TypeError('cc is for Telnyx group MMS only');
    const { sid, params } = twilioInboundParams(deps.twilio, message);
    const status = await deps.sender.post(
      signedTwilioRequest(deps.twilio.authToken, url, params),
      deps.timeoutMs ?? CARRIER_WEBHOOK_TIMEOUT_MS.twilio,
    );
    return { status, providerMessageId: sid };
  }

  const id = uuid();
  const now = deps.now();
  const payload = telnyxInboundPayload({
    ...message,
    cc: input.cc ?? [],
    id,
    messagingProfileId: deps.telnyxMessagingProfileId,
    webhookUrl: url,
    receivedAt: now,
  });
  const body = telnyxEventBody({ id: uuid(), type: 'message.received', occurredAt: now, payload }, 1, url);
  const status = await deps.sender.post(
    await deps.telnyx.request(url, body, now),
    deps.timeoutMs ?? CARRIER_WEBHOOK_TIMEOUT_MS.telnyx,
  );
  return { status, providerMessageId: id };
}
