import type { IncomingMessage } from 'node:http';
import { countSegments } from '../core/segments.js';
import type { Answer, CarrierDialect, Parsed, Route, SendRequest } from './carrier.js';
import { TWILIO_API_ERRORS, fillTemplate, twilioCodeForStatus } from './carrier-errors.js';
import { rfc2822, twilioSid } from './ids.js';
import type { SimulatedMessage } from './types.js';

export const TWILIO_API_VERSION = '2010-04-01';
/** Twilio's magic test number that is always a valid From: the number a Messaging Service "picks" by default. */
export const SANDBOX_TWILIO_FROM = '+15005550006';
/** Twilio's cap on Body. */
export const TWILIO_MAX_BODY = 1600;

const API_PREFIX = `/${TWILIO_API_VERSION}/`;
const MESSAGES_PATH = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/;
// E.164, optionally on the WhatsApp channel; anything else is Twilio's 21211.
const TO_NUMBER = /^(whatsapp:)?\+[1-9]\d{6,14}$/;

export interface TwilioDialectOptions {
  accountSid: string;
  authToken: string;
  messagingServiceFrom?: Record<string, string>;
}

/** Twilio's Messages API: POST /2010-04-01/Accounts/{AccountSid}/Messages.json with a form body and Basic auth. */
export class TwilioDialect implements CarrierDialect {
  readonly provider = 'twilio' as const;
  readonly #accountSid: string;
  readonly #expectedAuthorization: string;
  readonly #serviceFrom: Record<string, string>;
  readonly #accountPath: string;

  constructor(options: TwilioDialectOptions) {
    this.#accountSid = options.accountSid;
    // Compared as a whole header string: one comparison per request instead of decoding base64.
    this.#expectedAuthorization = `Basic ${Buffer.from(`${options.accountSid}:${options.authToken}`).toString('base64')}`;
    this.#serviceFrom = { ...options.messagingServiceFrom };
    this.#accountPath = `${API_PREFIX}Accounts/${options.accountSid}/`;
  }

  route(method: string, path: string): Route {
    if (!path.startsWith(API_PREFIX) || !MESSAGES_PATH.test(path)) return 'not-found';
    return method === 'POST' ? 'send' : 'method-not-allowed';
  }

  checkAuth(req: IncomingMessage, path: string): Answer | null {
    if (req.headers.authorization !== this.#expectedAuthorization) {
      return { ...this.error(401), headers: { 'www-authenticate': 'Basic realm="Twilio API"' } };
    }
    // Right credentials, another account's URL: Twilio does not reveal that the account exists.
    return path.startsWith(this.#accountPath) ? null : this.error(404, '20404', { path });
  }

  parse(_req: IncomingMessage, raw: Buffer): Parsed {
    const p = new URLSearchParams(raw.toString('utf8'));
    const to = p.get('To') ?? '';
    if (to === '') return this.#fail('21604');
    const from = p.get('From') || null;
    const messagingServiceSid = p.get('MessagingServiceSid') || null;
    if (from === null && messagingServiceSid === null) return this.#fail('21603');
    const body = p.get('Body') ?? '';
    const mediaUrls = p.getAll('MediaUrl');
    if (body === '' && mediaUrls.length === 0) return this.#fail('21619');
    if (body.length > TWILIO_MAX_BODY) return this.#fail('21617');
    if (!TO_NUMBER.test(to)) return this.#fail('21211', to);

    const text = countSegments(body);
    const request: SendRequest = {
      from: from ?? this.#serviceFrom[messagingServiceSid ?? ''] ?? SANDBOX_TWILIO_FROM,
      to,
      body,
      mediaUrls,
      // An MMS is metered as one message whatever its text.
      segments: mediaUrls.length > 0 ? 1 : text.segments,
      encoding: text.encoding,
      messagingProfileId: null,
      messagingServiceSid,
      statusCallback: p.get('StatusCallback') || null,
      webhookFailoverUrl: null,
      // Without From, Twilio first has to pick a sender from the service's pool: the message is only `accepted`.
      initialStatus: from === null ? 'accepted' : 'queued',
      senderGiven: from !== null,
    };
    return { ok: true, request };
  }

  #fail(code: string, to?: string): Parsed {
    return { ok: false, answer: this.recipientError(code, to ?? '') };
  }

  error(
    status: number,
    code?: string,
    options: { to?: string; retryAfterSeconds?: number; path?: string } = {},
  ): Answer {
    const c = code ?? twilioCodeForStatus(status);
    const known = TWILIO_API_ERRORS[c];
    const message = known ? fillTemplate(known.message, options) : `Error ${c}`;
    const body = JSON.stringify({
      // Twilio's code is a JSON number.
      code: /^\d+$/.test(c) ? Number(c) : c,
      message,
      more_info: `https://www.twilio.com/docs/errors/${c}`,
      status,
    });
    return options.retryAfterSeconds === undefined
      ? { status, body }
      : { status, body, retryAfterSeconds: options.retryAfterSeconds };
  }

  recipientError(code: string, to: string): Answer {
    return this.error(TWILIO_API_ERRORS[code]?.status ?? 400, code, { to });
  }

  /** Twilio sends no Retry-After with its 429. */
  rateLimited(): Answer {
    return this.error(429, '20429');
  }

  newMessageId(hasMedia: boolean): string {
    return twilioSid(hasMedia ? 'MM' : 'SM');
  }

  accepted(message: SimulatedMessage, request: SendRequest): Answer {
    const created = rfc2822(message.acceptedAt);
    const base = `${this.#accountPath}Messages/${message.id}`;
    // The Message resource as Twilio answers a create, fields in Twilio's order.
    const body = JSON.stringify({
      account_sid: this.#accountSid,
      api_version: TWILIO_API_VERSION,
      body: message.body,
      date_created: created,
      date_sent: null,
      date_updated: created,
      direction: 'outbound-api',
      error_code: null,
      error_message: null,
      from: request.senderGiven ? message.from : null,
      messaging_service_sid: message.messagingServiceSid,
      num_media: String(message.mediaUrls.length),
      num_segments: String(message.segments),
      price: null,
      price_unit: 'USD',
      sid: message.id,
      status: request.initialStatus,
      subresource_uris: { media: `${base}/Media.json` },
      to: message.to,
      uri: `${base}.json`,
    });
    return { status: 201, body };
  }
}
