import Telnyx from 'telnyx';
import type { FailureClass, OutboundRequest, Sender, SendFailure, SendResult } from '../../core/sending.js';
import { classByStatus, networkFailure } from '../send-failures.js';
import { parseRetryAfter } from '../retry-after.js';
import { telnyxSegments } from './encoding.js';
import { rateLimitResetMs } from './rate-limit.js';

export interface TelnyxSenderOptions {
  apiKey: string;
  /** Replaces https://api.telnyx.com/v2 (TELNYX_API_BASE_URL); null: Telnyx itself. */
  apiBaseUrl: string | null;
  messagingProfileId: string | null;
  timeoutMs: number;
  /** Where Telnyx posts this message's events (PUBLIC_BASE_URL/webhooks); null: the messaging profile's URL. */
  webhookUrl: () => string | null;
  /** Milliseconds since the epoch, for an x-ratelimit-reset given as a Unix time. @default Date.now */
  now?: () => number;
}

// Telnyx's codes for a refused send, each checked against its error dictionary: the messaging error codes
// (https://developers.telnyx.com/docs/messaging/messages/error-codes), the API error codes
// (https://developers.telnyx.com/development/api-fundamentals/api-errors) and the per-code pages
// (https://developers.telnyx.com/api/errors/<code>). Codes not listed are classed by HTTP status (send-failures.ts).
const CODES: Readonly<Record<string, FailureClass>> = {
  // 40300 "Blocked due to STOP message" (HTTP 409): the recipient sent STOP to this sender.
  '40300': 'opted_out',
  // 40318 "Message queue full: wait before resending" (429); 10011 "Too many requests" (429).
  '40318': 'rate_limited',
  '10011': 'rate_limited',
  // The destination cannot receive: 40310 "Invalid 'to' address"; 40001 "Not routable" (landline or non-routable
  // number); 40012 "Invalid destination number" (the carrier rejected it).
  '40310': 'recipient',
  '40001': 'recipient',
  '40012': 'recipient',
  // The sender, not the recipient: 40305 "Invalid 'from' address" (not a number, short code or alphanumeric id of
  // this account); 40013 "Invalid source number" (not active or not messaging-enabled). The next carrier sends from
  // its own number, and a client's `from` says nothing about Telnyx's health.
  '40305': 'sender',
  '40013': 'sender',
  // The account cannot send on Telnyx at all: 10009 "Authentication failed" (401); 40311 "Invalid messaging profile
  // secret" (403: the profile's secret was not recognized, e.g. rotated). Another carrier may well succeed.
  '10009': 'provider',
  '40311': 'provider',
};

// Telnyx's Messaging API carries SMS and MMS (and group MMS). Its WhatsApp API (the SDK's
// `client.messages.whatsapp`, POST /v2/messages/whatsapp) is a different product: a `whatsapp_message` object of
// typed content, templates outside WhatsApp's 24-hour window, WhatsApp-enabled numbers and its own events, so
// Switchboard does not send WhatsApp through Telnyx; such messages are refused before they are queued.
const TELNYX_CHANNELS = {
  channels: new Set(['sms', 'mms'] as const),
  // POST /v2/messages/group_mms: "No more than 8 destinations are allowed" (the SDK's MessageSendGroupMmsParams).
  maxGroupRecipients: 8,
  segments: telnyxSegments,
};

/** Sends through the official Telnyx SDK (POST /v2/messages; a group MMS through POST /v2/messages/group_mms). */
export function createTelnyxSender(options: TelnyxSenderOptions): Sender {
  const client = new Telnyx({
    apiKey: options.apiKey,
    ...(options.apiBaseUrl !== null ? { baseURL: options.apiBaseUrl } : {}),
    // The dispatcher retries, with jitter, across carriers; the SDK's own retries would hide failures from it.
    maxRetries: 0,
    timeout: options.timeoutMs,
  });
  const now = options.now ?? Date.now;
  return {
    id: 'telnyx',
    // At most 10 parts, counted as Telnyx encodes (encoding.ts); MMS up to 10 media.
    limits: { ...TELNYX_CHANNELS, maxBodyLength: null, maxSegments: 10, maxMedia: 10 },
    async send(request: OutboundRequest, signal: AbortSignal): Promise<SendResult> {
      if (request.channel === 'whatsapp') {
        // Unreachable through the API (routing refuses it); kept so that nothing can send one as an SMS.
        throw new UnsupportedChannelError('Telnyx messaging does not send WhatsApp messages');
      }
      // The SDK adds an abort listener to the signal it is given and never removes it: handed the dispatcher's
      // long-lived shutdown signal, every send would leave one behind (a leak). It gets a signal of its own per
      // call, linked to the shutdown signal only while the call runs.
      const call = new AbortController();
      const cut = () => call.abort(signal.reason);
      signal.addEventListener('abort', cut, { once: true });
      const webhookUrl = options.webhookUrl();
      const content = {
        ...(request.body !== '' ? { text: request.body } : {}),
        ...(request.media.length > 0 ? { media_urls: request.media.map((m) => m.url) } : {}),
        ...(webhookUrl !== null ? { webhook_url: webhookUrl } : {}),
      };
      const response = await (
        request.cc.length > 0
          ? // A reply to a group: one message to the sender and every other participant. The group API needs
            // the sender's number (it has no messaging-profile pool).
            client.messages.sendGroupMms(
              { from: request.from ?? '', to: [request.to, ...request.cc], ...content },
              { signal: call.signal },
            )
          : client.messages.send(
              {
                to: request.to,
                ...(request.from !== null ? { from: request.from } : {}),
                ...(options.messagingProfileId !== null
                  ? { messaging_profile_id: options.messagingProfileId }
                  : {}),
                ...content,
                // An MMS stays one even with no media: a reply to a group whose other participants all opted out.
                ...(request.channel === 'mms' ? { type: 'MMS' as const } : {}),
              },
              { signal: call.signal },
            )
      ).finally(() => signal.removeEventListener('abort', cut));
      const data = response.data;
      if (!data?.id) throw new Error('Telnyx accepted the message but returned no id');
      return {
        providerMessageId: data.id,
        providerStatus: data.to?.[0]?.status ?? 'queued',
        from: data.from?.phone_number ?? null,
      };
    },
    classify: (error) => classifyTelnyx(error, now()),
  };
}

class UnsupportedChannelError extends Error {}

export function classifyTelnyx(error: unknown, now = Date.now()): SendFailure {
  if (error instanceof UnsupportedChannelError) {
    return {
      class: 'rejected',
      code: 'unsupported_channel',
      message: error.message,
      httpStatus: null,
      retryAfterMs: null,
    };
  }
  if (error instanceof Telnyx.APIError && typeof error.status === 'number') {
    const status = error.status;
    const first = firstError(error.error);
    const code = first?.code ?? null;
    const known = code !== null ? CODES[code] : undefined;
    const klass = classByStatus(status, known, [401, 402, 403]);
    const headers = error.headers as Headers | undefined;
    // Retry-After wins when present; Telnyx's own 429s carry x-ratelimit-* instead (rate-limit.ts).
    const retryAfterMs =
      parseRetryAfter(headers?.get('retry-after'), now) ??
      (status === 429 ? rateLimitResetMs(headers, now) : null);
    return {
      class: klass,
      code: code ?? `http_${status}`,
      message: first?.detail ?? first?.title ?? error.message,
      httpStatus: status,
      retryAfterMs,
    };
  }
  return networkFailure(error);
}

/** The first of Telnyx's `{ errors: [{ code, title, detail }] }`, whatever shape the body really has. */
function firstError(body: unknown): { code: string | null; title?: string; detail?: string } | null {
  const errors = (body as { errors?: unknown } | undefined)?.errors;
  if (!Array.isArray(errors) || errors.length === 0) return null;
  const e = errors[0] as { code?: unknown; title?: unknown; detail?: unknown };
  return {
    code: e.code === undefined || e.code === null ? null : String(e.code),
    ...(typeof e.title === 'string' ? { title: e.title } : {}),
    ...(typeof e.detail === 'string' ? { detail: e.detail } : {}),
  };
}
