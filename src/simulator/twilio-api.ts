import type { IncomingMessage } from 'node:http';
import type { Answer, CarrierDialect, Parsed, QueuePolicy, Route, SendRequest } from './carrier.js';
import { TWILIO_API_ERRORS, fillTemplate, twilioCodeForStatus } from './carrier-errors.js';
import { rfc2822, twilioSid } from './ids.js';
import { twilioSegments } from './twilio-segments.js';
import type { SimulatedMessage } from './types.js';

export const TWILIO_API_VERSION = '2010-04-01';
/** Twilio's magic test number that is always a valid From: the number a Messaging Service "picks" by default. */
export const SANDBOX_TWILIO_FROM = '+15005550006';
/** Twilio's cap on Body. */
export const TWILIO_MAX_BODY = 1600;
/**
 * Twilio's sender queue (https://www.twilio.com/docs/api/errors/21611 and /30001, checked 2025): each sender queues
 * what is sent faster than its rate, up to 10 hours of sending, which is also the longest ValidityPeriod
 * (1..36000 s, else 21624). A new message for a From number whose queue is full is refused with 21611; one sent
 * through a Messaging Service is accepted and then fails with 30001 "Queue overflow". A message that waits past
 * its ValidityPeriod is not sent: it fails with 30036 "Validity Period Expired".
 */
export const TWILIO_MAX_QUEUE_SECONDS = 36_000;

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
  readonly queue: QueuePolicy = {
    maxQueueSeconds: TWILIO_MAX_QUEUE_SECONDS,
    validitySeconds: TWILIO_MAX_QUEUE_SECONDS,
    // A Messaging Service without From queues on its pool: one queue for the service.
    sender: (request) => (request.senderGiven ? request.from : `service:${request.messagingServiceSid}`),
    queueFull: (request) =>
      request.senderGiven ? { refuse: this.recipientError('21611', request.to) } : { failWith: '30001' },
    expired: () => '30036',
  };

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
    const validity = p.get('ValidityPeriod');
    const validitySeconds = validity === null || validity === '' ? undefined : Number(validity);
    if (
      validitySeconds !== undefined &&
      !(
        Number.isInteger(validitySeconds) &&
        validitySeconds >= 1 &&
        validitySeconds <= TWILIO_MAX_QUEUE_SECONDS
      )
    )
      return this.#fail('21624');

    const text = twilioSegments(body);
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
      ...(validitySeconds === undefined ? {} : { validitySeconds }),
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

  /** Twilio's API request limit (20429); it sends no Retry-After and no rate headers. */
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
