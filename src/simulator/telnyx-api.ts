import type { IncomingMessage } from 'node:http';
import { telnyxSegments } from '../providers/telnyx/encoding.js';
import type { Answer, CarrierDialect, Parsed, QueuePolicy, Route, SendRequest } from './carrier.js';
import { TELNYX_API_ERRORS, fillTemplate, telnyxCodeForStatus } from './carrier-errors.js';
import { pathOf } from './http-io.js';
import { telnyxTime, uuid } from './ids.js';
import { telnyxQueuePolicy } from './telnyx-queue.js';
import type { SimulatedMessage } from './types.js';

const MESSAGES_PATH = '/v2/messages';
const GROUP_MMS_PATH = '/v2/messages/group_mms';
/** "A list of destinations. No more than 8 destinations are allowed." (MessageSendGroupMmsParams in the SDK) */
const MAX_GROUP_DESTINATIONS = 8;
/**
 * Telnyx's 429 carries x-ratelimit-limit, x-ratelimit-remaining and x-ratelimit-reset ("the time in seconds until
 * the rate limit resets", https://developers.telnyx.com/development/api-fundamentals/reliability/rate-limiting),
 * and no Retry-After. The simulator does not model Telnyx's per-endpoint request quota, so the limit it reports
 * is nominal; the reset is the real wait.
 */
const NOMINAL_REQUEST_LIMIT = '100';
const E164 = /^\+[1-9]\d{6,14}$/;
/** Telnyx's documented examples use this organization; it only has to look real. */
export const TELNYX_ORGANIZATION_ID = '47a530f8-4362-4526-829b-bcee17fd9f7a';
const RECIPIENT_CARRIER = { carrier: 'T-MOBILE USA, INC.', line_type: 'Wireless' } as const;

export interface TelnyxDialectOptions {
  apiKey: string;
  messagingProfileFrom: Record<string, string>;
  /** Read per request: the gateway's URL may only be known after the simulator started. */
  defaultWebhookUrl: () => string | null;
}

/** Telnyx's POST /v2/messages: JSON in and out, Bearer API key. */
export class TelnyxDialect implements CarrierDialect {
  readonly provider = 'telnyx' as const;
  readonly #expectedAuthorization: string;
  readonly #profileFrom: Record<string, string>;
  readonly #profileOfNumber = new Map<string, string>();
  readonly #defaultProfileId: string | null;
  readonly #defaultWebhookUrl: () => string | null;
  /** Per-number queueing, 40318 when full, 40014 on expiry: telnyx-queue.ts. */
  readonly queue: QueuePolicy = telnyxQueuePolicy(this);

  constructor(options: TelnyxDialectOptions) {
    this.#expectedAuthorization = `Bearer ${options.apiKey}`;
    this.#profileFrom = { ...options.messagingProfileFrom };
    for (const [profile, number] of Object.entries(this.#profileFrom))
      this.#profileOfNumber.set(number, profile);
    this.#defaultProfileId = Object.keys(this.#profileFrom)[0] ?? null;
    this.#defaultWebhookUrl = options.defaultWebhookUrl;
  }

  route(method: string, path: string): Route {
    // Telnyx answers an unknown method like an unknown path: 404, 10005.
    return (path === MESSAGES_PATH || path === GROUP_MMS_PATH) && method === 'POST' ? 'send' : 'not-found';
  }

  checkAuth(req: IncomingMessage): Answer | null {
    return req.headers.authorization === this.#expectedAuthorization ? null : this.error(401);
  }

  parse(req: IncomingMessage, raw: Buffer): Parsed {
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      return this.#fail('10015');
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return this.#fail('10015');
    const b = json as Record<string, unknown>;

    const group = pathOf(req.url) === GROUP_MMS_PATH;
    let to: string;
    let cc: string[] | undefined;
    if (group) {
      // A group MMS: `to` is a list of 1 to 8 destinations; Telnyx reports the first in `to` and the rest in `cc`.
      if (!Array.isArray(b.to) || b.to.length === 0) return this.#fail('10004', '/to');
      if (b.to.length > MAX_GROUP_DESTINATIONS) return this.#fail('10015', '/to');
      if (!b.to.every((n): n is string => typeof n === 'string' && E164.test(n)))
        return this.#fail('40310', '/to');
      [to] = b.to as [string];
      cc = (b.to as string[]).slice(1);
    } else {
      // Telnyx takes `to` as a string or an array of exactly one.
      const toValue = Array.isArray(b.to) && b.to.length === 1 ? b.to[0] : b.to;
      if (toValue === undefined || toValue === null || toValue === '') return this.#fail('10004', '/to');
      if (typeof toValue !== 'string' || !E164.test(toValue)) return this.#fail('40310', '/to');
      to = toValue;
    }

    const profileParam = optionalString(b.messaging_profile_id);
    let from = optionalString(b.from);
    // The group API needs the sender's own number: it has no messaging profile to pick one from.
    if (group && from === null) return this.#fail('10004', '/from');
    if (from === null) {
      if (profileParam === null) return this.#fail('10004', '/from');
      // Number pool: Telnyx picks a number of the profile.
      from = this.#profileFrom[profileParam] ?? null;
      if (from === null) return this.#fail('40305', '/messaging_profile_id');
    }

    const text = optionalString(b.text) ?? '';
    const mediaUrls = Array.isArray(b.media_urls)
      ? b.media_urls.filter((u): u is string => typeof u === 'string')
      : [];
    if (text === '' && mediaUrls.length === 0) return this.#fail('10004', '/text');

    const webhookUrl = optionalString(b.webhook_url);
    const useProfileWebhooks = b.use_profile_webhooks !== false;
    // Telnyx's own encoding: its GSM-7 subset, ASCII-7 from short codes, UTF-16 otherwise (encoding.ts).
    const counted = telnyxSegments(text, from);
    const request: SendRequest = {
      from,
      to,
      ...(cc !== undefined && { cc }),
      body: text,
      mediaUrls,
      segments: mediaUrls.length > 0 || group ? 1 : counted.segments,
      encoding: counted.encoding,
      messagingProfileId: profileParam ?? this.#profileOfNumber.get(from) ?? this.#defaultProfileId,
      messagingServiceSid: null,
      // Without a URL on the message, events go to the messaging profile's (the simulator's default) URL.
      statusCallback: webhookUrl ?? (useProfileWebhooks ? this.#defaultWebhookUrl() : null),
      webhookFailoverUrl: optionalString(b.webhook_failover_url),
      initialStatus: 'queued',
      senderGiven: true,
    };
    return { ok: true, request };
  }

  #fail(code: string, pointer?: string): Parsed {
    return { ok: false, answer: this.#answer(TELNYX_API_ERRORS[code]?.status ?? 400, code, {}, pointer) };
  }

  error(status: number, code?: string, options: { to?: string; retryAfterSeconds?: number } = {}): Answer {
    return this.#answer(status, code ?? telnyxCodeForStatus(status), options);
  }

  #answer(
    status: number,
    code: string,
    options: { to?: string; retryAfterSeconds?: number },
    pointer?: string,
  ): Answer {
    const known = TELNYX_API_ERRORS[code];
    const error: Record<string, unknown> = {
      code,
      title: known?.title ?? 'Error',
      detail: known ? fillTemplate(known.detail, options) : `Error ${code}`,
      meta: { url: `https://developers.telnyx.com/docs/overview/errors/${code}` },
    };
    if (pointer !== undefined) error.source = { pointer };
    const body = JSON.stringify({ errors: [error] });
    if (status !== 429) {
      return options.retryAfterSeconds === undefined
        ? { status, body }
        : { status, body, retryAfterSeconds: options.retryAfterSeconds };
    }
    // Telnyx says when to come back after a 429 in its x-ratelimit-* headers, not in Retry-After.
    return {
      status,
      body,
      headers: {
        'x-ratelimit-limit': NOMINAL_REQUEST_LIMIT,
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(options.retryAfterSeconds ?? 1),
      },
    };
  }

  recipientError(code: string, to: string): Answer {
    return this.error(TELNYX_API_ERRORS[code]?.status ?? 400, code, { to });
  }

  rateLimited(
    retryAfterSeconds: number,
    window?: { limit: number; remaining: number; resetSeconds: number },
  ): Answer {
    const answer = this.error(429, '10011', { retryAfterSeconds: window?.resetSeconds ?? retryAfterSeconds });
    if (window === undefined) return answer;
    return {
      ...answer,
      headers: {
        ...answer.headers,
        'x-ratelimit-limit': String(window.limit),
        'x-ratelimit-remaining': String(window.remaining),
      },
    };
  }

  newMessageId(): string {
    return uuid();
  }

  accepted(message: SimulatedMessage): Answer {
    return {
      status: 200,
      body: JSON.stringify({ data: telnyxMessagePayload(message, { toStatus: 'queued' }) }),
    };
  }
}

/**
 * The Telnyx message record: the `data` of the send answer and the `payload` of message.sent / message.finalized
 * events, which Telnyx builds from the same record.
 */
export function telnyxMessagePayload(
  message: SimulatedMessage,
  state: {
    toStatus: string;
    sentAt?: number;
    completedAt?: number;
    errors?: { code: string; title: string; detail: string }[];
  },
): Record<string, unknown> {
  const receivedAt = message.acceptedAt;
  const completedAt = state.completedAt;
  return {
    record_type: 'message',
    direction: 'outbound',
    id: message.id,
    type: message.mediaUrls.length > 0 || (message.cc?.length ?? 0) > 0 ? 'MMS' : 'SMS',
    messaging_profile_id: message.messagingProfileId,
    organization_id: TELNYX_ORGANIZATION_ID,
    from: { phone_number: message.from, carrier: 'Telnyx', line_type: 'Wireless' },
    to: [{ phone_number: message.to, status: state.toStatus, ...RECIPIENT_CARRIER }],
    cc: (message.cc ?? []).map((n) => ({ phone_number: n, status: state.toStatus, ...RECIPIENT_CARRIER })),
    text: message.body,
    subject: null,
    media: message.mediaUrls.map((url) => ({ url, content_type: null, sha256: null, size: null })),
    webhook_url: message.statusCallback,
    webhook_failover_url: message.webhookFailoverUrl,
    encoding: message.encoding,
    parts: message.segments,
    tags: [],
    // Telnyx prices a message once it is finalized.
    cost:
      completedAt === undefined ? null : { amount: (0.004 * message.segments).toFixed(4), currency: 'USD' },
    received_at: telnyxTime(receivedAt),
    sent_at: state.sentAt === undefined ? null : telnyxTime(state.sentAt),
    completed_at: completedAt === undefined ? null : telnyxTime(completedAt),
    // Kept on the final event too, as in Telnyx's documented message.finalized.
    valid_until: telnyxTime(message.validUntil),
    errors: state.errors ?? [],
  };
}

function optionalString(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}
