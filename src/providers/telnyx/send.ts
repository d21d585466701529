import Telnyx from 'telnyx';
import type { FailureClass, OutboundRequest, Sender, SendFailure, SendResult } from '../../core/sending.js';
import { classByStatus, networkFailure } from '../send-failures.js';
import { parseRetryAfter } from '../retry-after.js';

export interface TelnyxSenderOptions {
  apiKey: string;
  /** Replaces https://api.telnyx.com/v2 (TELNYX_API_BASE_URL); null: Telnyx itself. */
  apiBaseUrl: string | null;
  messagingProfileId: string | null;
  timeoutMs: number;
  /** Where Telnyx posts this message's events (PUBLIC_BASE_URL/webhooks); null: the messaging profile's URL. */
  webhookUrl: () => string | null;
}

// Telnyx messaging error codes (https://developers.telnyx.com/docs/messaging/messages/error-codes).
const CODES: Readonly<Record<string, FailureClass>> = {
  // Blocked because the recipient replied STOP.
  '40300': 'opted_out',
  // Queue full / rate limited: back off.
  '40318': 'rate_limited',
  '10011': 'rate_limited',
  // The destination cannot receive: invalid or unroutable 'to', landline, not SMS-capable.
  '40310': 'recipient',
  '40311': 'recipient',
  '40305': 'recipient',
  '40001': 'recipient',
  // Authentication, account or sender problems on this carrier.
  '10009': 'provider',
  '40013': 'provider',
};

/** Sends through the official Telnyx SDK (POST /v2/messages). */
export function createTelnyxSender(options: TelnyxSenderOptions): Sender {
  const client = new Telnyx({
    apiKey: options.apiKey,
    ...(options.apiBaseUrl !== null ? { baseURL: options.apiBaseUrl } : {}),
    // The dispatcher retries, with jitter, across carriers; the SDK's own retries would hide failures from it.
    maxRetries: 0,
    timeout: options.timeoutMs,
  });
  return {
    id: 'telnyx',
    // Telnyx rejects SMS beyond 10 segments (40302) and MMS beyond 10 media.
    limits: { maxBodyLength: null, maxSegments: 10, maxMedia: 10 },
    async send(request: OutboundRequest, signal: AbortSignal): Promise<SendResult> {
      if (request.channel === 'whatsapp') {
        // Telnyx carries WhatsApp through a separate API that Switchboard does not use yet.
        throw new UnsupportedChannelError('Telnyx messaging does not send WhatsApp messages');
      }
      // The SDK adds an abort listener to the signal it is given and never removes it: handed the dispatcher's
      // long-lived shutdown signal, every send would leave one behind (a leak). It gets a signal of its own per
      // call, linked to the shutdown signal only while the call runs.
      const call = new AbortController();
      const cut = () => call.abort(signal.reason);
      signal.addEventListener('abort', cut, { once: true });
      const webhookUrl = options.webhookUrl();
      const response = await client.messages
        .send(
          {
            to: request.to,
            ...(request.from !== null ? { from: request.from } : {}),
            ...(options.messagingProfileId !== null
              ? { messaging_profile_id: options.messagingProfileId }
              : {}),
            ...(request.body !== '' ? { text: request.body } : {}),
            ...(request.media.length > 0
              ? { media_urls: request.media.map((m) => m.url), type: 'MMS' as const }
              : {}),
            ...(webhookUrl !== null ? { webhook_url: webhookUrl } : {}),
          },
          { signal: call.signal },
        )
        .finally(() => signal.removeEventListener('abort', cut));
      const data = response.data;
      if (!data?.id) throw new Error('Telnyx accepted the message but returned no id');
      return {
        providerMessageId: data.id,
        providerStatus: data.to?.[0]?.status ?? 'queued',
        from: data.from?.phone_number ?? null,
      };
    },
    classify: classifyTelnyx,
  };
}

class UnsupportedChannelError extends Error {}

export function classifyTelnyx(error: unknown): SendFailure {
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
    return {
      class: klass,
      code: code ?? `http_${status}`,
      message: first?.detail ?? first?.title ?? error.message,
      httpStatus: status,
      retryAfterMs: parseRetryAfter(headers?.get('retry-after')),
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
