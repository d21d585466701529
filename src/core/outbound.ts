import { createHash } from 'node:crypto';
import { SwitchboardError } from './errors.js';
import type { Channel, Message, ProviderId } from './message.js';
import { normalizeSender, toE164 } from './phone.js';
import { chooseRoute, type RoutingTable } from './routing.js';
import { countSegments } from './segments.js';
import type { SendLimits } from './sending.js';
import type { EnqueueResult, NewOutboundMessage, OutboxItem, Store } from './store.js';

/** A send request as the API takes it (already shape-checked by its schema). */
export interface SendRequest {
  to: string;
  body?: string;
  mediaUrls?: string[];
  from?: string;
  provider?: ProviderId;
  statusCallback?: string;
  /** Internal (replies): a WhatsApp conversation is answered on WhatsApp. Not part of the API. */
  channel?: 'whatsapp';
}

export type SendOutcome =
  { ok: true; replayed: boolean; message: Message } | { ok: false; error: SwitchboardError };

/** What became of a reply: queued (`stored`), queued before (`duplicate`), or not sent, and why. */
export interface ReplyOutcome {
  outcome: EnqueueResult['outcome'] | 'refused';
  /** Why it was not queued (the send API's message for the refusal); null when it was. */
  reason: string | null;
}

/** Where freshly committed outbox rows go (the dispatcher). */
export interface OutboxListener {
  notify(items: readonly OutboxItem[]): void;
}

export interface OutboundOptions {
  store: Store;
  routing: RoutingTable;
  limits: ReadonlyMap<ProviderId, SendLimits>;
  dispatcher: OutboxListener;
  /** Whether messages' status callbacks can be delivered (they are signed: APP_WEBHOOK_SECRET). */
  statusCallbacks: boolean;
  /** Refuses statusCallback URLs the gateway must not post to (net/callback-guard.ts). None: all are taken. */
  callbackCheck?: CallbackCheck;
}

/** Checks statusCallback URLs before a message is stored: an API client must not aim the gateway at its own network. */
export interface CallbackCheck {
  /** The URLs that are refused, each with the error to answer; may resolve names (only called with URLs to check). */
  check(urls: readonly string[]): Promise<Map<string, SwitchboardError>>;
}

/**
 * Idempotency keys, one namespace per source, so that a client's key can never collide with another's or with a
 * queued reply. A batch's header key maps each item by its content (and its occurrence among identical items), not
 * its position, so a batch retried without its refused items still matches item for item.
 */
export const idempotencyKeys = {
  api: (key: string) => `api:${key}`,
  /** @param contentHash requestHash of the item; @param occurrence how many identical items came before it */
  batchItem: (key: string, contentHash: string, occurrence: number) =>
    `batch:${key}:${contentHash}:${occurrence}`,
  reply: (inboundId: string) => `reply:${inboundId}`,
};

/**
 * send(): validate -> route -> (in one transaction: idempotency, opt-out check, message + outbox row) -> hand to the
 * dispatcher. Answers once the message is durable; delivery happens after.
 */
export class OutboundService {
  readonly #o: OutboundOptions;

  constructor(options: OutboundOptions) {
    this.#o = options;
  }

  /**
   * One message, with the client's own Idempotency-Key (or null). Throws a SwitchboardError for a request that
   * cannot be sent.
   */
  async send(
    request: SendRequest,
    idempotencyKey: string | null,
  ): Promise<{ replayed: boolean; message: Message }> {
    const key = idempotencyKey === null ? null : idempotencyKeys.api(idempotencyKey);
    const [result] = await this.sendMany([{ request, idempotencyKey: key }]);
    if (!result) throw new SwitchboardError('internal_error');
    if (!result.ok) throw result.error;
    return result;
  }

  /**
   * Several messages in one transaction, each with its own outcome: a bad item is refused alone. Keys are final
   * (see idempotencyKeys). Throws only when the store fails (then nothing was stored).
   */
  async sendMany(items: { request: SendRequest; idempotencyKey: string | null }[]): Promise<SendOutcome[]> {
    const outcomes: (SendOutcome | null)[] = [];
    let valid: NewOutboundMessage[] = [];
    let slots: number[] = [];
    items.forEach(({ request, idempotencyKey }, i) => {
      try {
        valid.push(this.#prepare(request, idempotencyKey));
        slots.push(i);
        outcomes.push(null);
      } catch (err) {
        if (!(err instanceof SwitchboardError)) throw err;
        outcomes.push({ ok: false, error: err });
      }
    });
    // Last, and only for messages that have one: it may wait for DNS.
    const callbacks = valid.flatMap((m) => (m.statusCallback === null ? [] : [m.statusCallback]));
    if (callbacks.length > 0 && this.#o.callbackCheck) {
      const refused = await this.#o.callbackCheck.check([...new Set(callbacks)]);
      if (refused.size > 0) {
        const kept = valid.map((m, j) => {
          const error = m.statusCallback === null ? undefined : refused.get(m.statusCallback);
          if (error) outcomes[slots[j] as number] = { ok: false, error };
          return error === undefined;
        });
        slots = slots.filter((_, j) => kept[j]);
        valid = valid.filter((_, j) => kept[j]);
      }
    }
    if (valid.length > 0) {
      const results = await this.#o.store.enqueue(valid);
      const fresh: OutboxItem[] = [];
      results.forEach((result, j) => {
        const outcome = toOutcome(result);
        outcomes[slots[j] as number] = outcome;
        if (result.outcome === 'stored') fresh.push(toOutboxItem(result.message));
      });
      if (fresh.length > 0) this.#o.dispatcher.notify(fresh);
    }
    return outcomes as SendOutcome[];
  }

  /**
   * An app's reply to an inbound message that could not go inline (Telnyx, or past the compute deadline): sent
   * through the carrier the message came in on, from the number it was sent to. Queued once per inbound message.
   */
  async queueReply(
    inbound: { id: string; provider: ProviderId; channel: Channel; from: string; to: string },
    reply: { body?: string; mediaUrls?: string[] },
  ): Promise<ReplyOutcome> {
    const [result] = await this.sendMany([
      {
        request: {
          to: inbound.from,
          from: inbound.to,
          provider: inbound.provider,
          ...(inbound.channel === 'whatsapp' ? { channel: 'whatsapp' as const } : {}),
          ...(reply.body ? { body: reply.body } : {}),
          ...(reply.mediaUrls?.length ? { mediaUrls: reply.mediaUrls } : {}),
        },
        idempotencyKey: idempotencyKeys.reply(inbound.id),
      },
    ]);
    if (!result) return { outcome: 'refused', reason: 'no result' };
    if (!result.ok) {
      // The key is taken by a reply that went inline (TwiML): this inbound message has had its answer.
      if (result.error.code === 'idempotency_conflict') return { outcome: 'duplicate', reason: null };
      return {
        outcome: result.error.code === 'recipient_opted_out' ? 'opted_out' : 'refused',
        reason: result.error.message,
      };
    }
    return { outcome: result.replayed ? 'duplicate' : 'stored', reason: null };
  }

  #prepare(request: SendRequest, idempotencyKey: string | null): NewOutboundMessage {
    const to = phoneNumber(request.to, 'to');
    const from = request.from === undefined ? null : sender(request.from);
    const route = chooseRoute(this.#o.routing, to, from, request.provider);
    const body = request.body ?? '';
    const mediaUrls = request.mediaUrls ?? [];
    if (body.length === 0 && mediaUrls.length === 0) throw new SwitchboardError('body_or_media_required');
    for (const url of mediaUrls) checkUrl(url, 'mediaUrls');
    if (request.statusCallback !== undefined) {
      if (!this.#o.statusCallbacks) throw new SwitchboardError('status_callback_unavailable');
      checkUrl(request.statusCallback, 'statusCallback');
      const { username, password } = new URL(request.statusCallback);
      if (username !== '' || password !== '') {
        throw new SwitchboardError(
          'invalid_request',
          'statusCallback must not carry a user name or password; the signature authenticates the request.',
        );
      }
    }
    const segments = body.length > 0 ? countSegments(body) : null;
    const limits = this.#o.limits.get(route.provider);
    if (limits) checkLimits(route.provider, limits, body, mediaUrls.length, segments?.segments ?? 0);
    return {
      provider: route.provider,
      channel: request.channel === 'whatsapp' ? 'whatsapp' : mediaUrls.length > 0 ? 'mms' : 'sms',
      from: route.from,
      to,
      body,
      media: mediaUrls.map((url) => ({ url, contentType: null })),
      segments: segments?.segments ?? null,
      encoding: segments?.encoding ?? null,
      statusCallback: request.statusCallback ?? null,
      idempotencyKey,
      // Only compared under an idempotency key; without one, not worth a SHA-256 per message.
      requestHash: idempotencyKey === null ? '' : requestHash(request),
    };
  }
}

function checkUrl(value: string, field: string): void {
  const url = URL.canParse(value) ? new URL(value) : null;
  if (url === null || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.hostname === '') {
    throw new SwitchboardError('invalid_request', `${field} must hold absolute http(s) URLs.`);
  }
}

function checkLimits(
  provider: ProviderId,
  limits: SendLimits,
  body: string,
  media: number,
  segments: number,
): void {
  if (limits.maxBodyLength !== null && body.length > limits.maxBodyLength) {
    throw new SwitchboardError(
      'body_too_long',
      `The body is ${body.length} characters; ${provider} accepts at most ${limits.maxBodyLength}.`,
    );
  }
  if (limits.maxSegments !== null && media === 0 && segments > limits.maxSegments) {
    throw new SwitchboardError(
      'body_too_long',
      `The body needs ${segments} SMS segments; ${provider} accepts at most ${limits.maxSegments}.`,
    );
  }
  if (media > limits.maxMedia) {
    throw new SwitchboardError(
      'too_many_media',
      `The message has ${media} media URLs; ${provider} accepts at most ${limits.maxMedia}.`,
    );
  }
}

/** A phone number in E.164, validated against libphonenumber's metadata (so "+1 415 555 0123" is accepted). */
function phoneNumber(raw: string, field: string): string {
  const number = toE164(raw);
  if (number === null) {
    throw new SwitchboardError(
      'invalid_phone_number',
      `"${field}" must be a valid phone number in international form (+14155550123).`,
    );
  }
  return number;
}

function sender(raw: string): string {
  const normalized = normalizeSender(raw);
  if (normalized === null) {
    throw new SwitchboardError(
      'invalid_phone_number',
      '"from" must be a valid phone number in international form, a short code or an alphanumeric sender id.',
    );
  }
  return normalized;
}

/**
 * What makes two requests "the same" under one Idempotency-Key: the fields as the client sent them, in a fixed
 * order (so the order of JSON keys does not matter).
 */
export function requestHash(r: SendRequest): string {
  const canonical = JSON.stringify([
    r.to,
    r.from ?? null,
    r.body ?? null,
    r.mediaUrls ?? [],
    r.provider ?? null,
    r.statusCallback ?? null,
  ]);
  return createHash('sha256').update(canonical).digest('base64url');
}

function toOutcome(result: EnqueueResult): SendOutcome {
  switch (result.outcome) {
    case 'stored':
    case 'duplicate':
      return { ok: true, replayed: result.outcome === 'duplicate', message: result.message };
    case 'conflict':
      return {
        ok: false,
        error: new SwitchboardError(
          'idempotency_conflict',
          `This Idempotency-Key was already used for a different request (message ${result.messageId}).`,
        ),
      };
    case 'opted_out':
      return { ok: false, error: new SwitchboardError('recipient_opted_out') };
  }
}

function toOutboxItem(message: Message): OutboxItem {
  return {
    messageId: message.id,
    provider: message.provider,
    from: message.from,
    to: message.to,
    body: message.body,
    media: message.media,
    segments: message.segments,
    channel: message.channel,
    attempts: 0,
    nextAttemptAt: 0,
  };
}
