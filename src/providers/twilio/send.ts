import twilio from 'twilio';
import type { FailureClass, OutboundRequest, Sender, SendFailure, SendResult } from '../../core/sending.js';
import { countSegments } from '../../core/segments.js';
import { classByStatus, networkFailure } from '../send-failures.js';
import { TwilioApiError, TwilioHttpClient } from './http-client.js';

export interface TwilioSenderOptions {
  accountSid: string;
  authToken: string;
  /** Replaces https://api.twilio.com (TWILIO_API_BASE_URL); null: Twilio itself. */
  apiBaseUrl: string | null;
  messagingServiceSid: string | null;
  timeoutMs: number;
  /** Where Twilio posts status callbacks (PUBLIC_BASE_URL/webhooks); null: none requested. */
  statusCallbackUrl: () => string | null;
}

// Twilio's error codes (https://www.twilio.com/docs/api/errors/<code>), by what they mean for the dispatcher.
const CODES: Readonly<Record<string, FailureClass>> = {
  // Too many requests; queue overflow (30001: a Messaging Service's pool over 10 hours of queued messages); 21611:
  // this From number's queue already holds more than 10 hours of sending at its rate. Slow down and retry (21611
  // slowly, and for that sender only: see SENDER_LIMITED).
  '20429': 'rate_limited',
  '30001': 'rate_limited',
  '21611': 'rate_limited',
  // The recipient replied STOP to this sender.
  '21610': 'opted_out',
  // The destination cannot receive: invalid number, not SMS-capable, landline or unreachable carrier.
  '21211': 'recipient',
  '21217': 'recipient',
  '21401': 'recipient',
  '21421': 'recipient',
  '21614': 'recipient',
  '30006': 'recipient',
  // The account cannot send: authentication, suspended or inactive account. Another carrier may well succeed.
  '20003': 'provider',
  '20005': 'provider',
  '30002': 'provider',
  // The sender or the account's settings refuse this message; another carrier, sending from its own number, may
  // well take it. None says anything about the recipient or Twilio's health (fail over; the circuit stays closed):
  // 21606: the From is not a message-capable number of this account for this destination.
  // 21612: the To cannot be reached from this From ("not currently reachable using the 'From' phone number").
  // 21408: the account's Geo Permissions do not allow sending to the To number's region.
  // 21212: the From is not a valid phone number, short code or alphanumeric sender id (or is on a DNO list).
  // 21659: the From is not a Twilio number, or a short code sending to another country.
  '21606': 'sender',
  '21612': 'sender',
  '21408': 'sender',
  '21212': 'sender',
  '21659': 'sender',
};

/**
 * Rate errors of one From number, not of the account: https://www.twilio.com/docs/api/errors/21611 ("This 'From'
 * number has exceeded the maximum number of queued messages"), answered as HTTP 400 with no Retry-After. Other
 * senders of the account are not held; this message waits long (its queue drains at the number's rate).
 */
const SENDER_LIMITED: ReadonlySet<string> = new Set(['21611']);

const TWILIO_CHANNELS = {
  channels: new Set(['sms', 'mms', 'whatsapp'] as const),
  maxGroupRecipients: 0,
  segments: countSegments,
};

/** Sends through the official Twilio SDK (Messages API). */
export function createTwilioSender(options: TwilioSenderOptions): Sender {
  const client = twilio(options.accountSid, options.authToken, {
    httpClient: new TwilioHttpClient({ baseUrl: options.apiBaseUrl, timeoutMs: options.timeoutMs }),
  });
  return {
    id: 'twilio',
    // https://www.twilio.com/docs/messaging/api/message-resource: Body up to 1600 characters, up to 10 media;
    // WhatsApp through the same API; segments counted in GSM 03.38. Group MMS is not a Messages API feature.
    limits: { ...TWILIO_CHANNELS, maxBodyLength: 1600, maxSegments: null, maxMedia: 10 },
    async send(request: OutboundRequest): Promise<SendResult> {
      // The SDK takes no AbortSignal; its own timeout (the client's) bounds the call instead.
      const callback = options.statusCallbackUrl();
      // WhatsApp goes through the same Messages API, with `whatsapp:` addresses.
      const address = (number: string) => (request.channel === 'whatsapp' ? `whatsapp:${number}` : number);
      const message = await client.messages.create({
        to: address(request.to),
        ...(request.from !== null
          ? { from: address(request.from) }
          : options.messagingServiceSid !== null
            ? { messagingServiceSid: options.messagingServiceSid }
            : {}),
        ...(request.body !== '' ? { body: request.body } : {}),
        ...(request.media.length > 0 ? { mediaUrl: request.media.map((m) => m.url) } : {}),
        ...(callback !== null ? { statusCallback: callback } : {}),
      });
      return { providerMessageId: message.sid, providerStatus: message.status, from: message.from ?? null };
    },
    classify: classifyTwilio,
  };
}

export function classifyTwilio(error: unknown): SendFailure {
  if (error instanceof twilio.RestException) {
    const code = error.code === undefined || error.code === null ? null : String(error.code);
    const status = error.status;
    const known = code !== null ? CODES[code] : undefined;
    const klass = classByStatus(status, known, [401, 403]);
    return {
      class: klass,
      code: code ?? `http_${status}`,
      message: error.message,
      httpStatus: status,
      retryAfterMs: error instanceof TwilioApiError ? error.retryAfterMs : null,
      ...(klass === 'rate_limited' && code !== null && SENDER_LIMITED.has(code) && { senderLimited: true }),
    };
  }
  return networkFailure(error);
}
