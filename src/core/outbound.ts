import { createHash } from 'node:crypto';
import { SwitchboardError } from './errors.js';
import { fitCarrier, type Fit } from './fit.js';
import type { Channel, Message, ProviderId } from './message.js';
import { normalizeSender, toE164 } from './phone.js';
import { chooseRoute, type RequestChannel, type RoutingTable } from './routing.js';
import { countSegments } from './segments.js';
import type { SendLimits } from './sending.js';
import type { EnqueueResult, NewOutboundMessage, OutboxItem, Store } from './store.js';
import { checkWellFormed } from './unicode.js';

/** A send request as the API takes it (already shape-checked by its schema). */
export interface SendRequest {
  to: string;
  body?: string;
  mediaUrls?: string[];
  from?: string;
  provider?: ProviderId;
  statusCallback?: string;
  /**
   * `sms` (the default; an MMS when it has media) or `whatsapp`. A `whatsapp:` address in `to` or `from` asks for
   * WhatsApp too; with `sms` it is a contradiction. A message goes on its channel or is refused, never on another.
   */
  channel?: RequestChannel;
  /** Internal (a reply to a group MMS): the other participants, besides `to`. Not part of the API. */
  cc?: string[];
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
 * Idempotency keys as stored: one namespace per API key, so that no key can read (a replay) or block (a conflict)
 * another key's message, and one for queued replies, which no client key can match. A batch's header key maps each
 * item by its content (and its occurrence among identical items), not its position, so a batch retried without its
 * refused items still matches item for item.
 *
 * Keys written before the namespaces existed (`api:<key>`, `batch:<key>:...`) had no owner; nothing matches them
 * any more (see the README, Sending messages: Idempotency). The `key:` prefix keeps the new forms apart from them
 * whatever a client's key looks like. An API key's id holds no `:`, so the parts cannot run into each other.
 */
export const idempotencyKeys = {
  /** A client's Idempotency-Key: a single send's header, or a batch item's own `idempotencyKey`. */
  api: (apiKeyId: string, key: string) => `key:${apiKeyId}:api:${key}`,
  /** @param contentHash the item's requestHash; @param occurrence how many identical items came before it */
  batchItem: (apiKeyId: string, key: string, contentHash: string, occurrence: number) =>
    `key:${apiKeyId}:batch:${key}:${contentHash}:${occurrence}`,
  reply: (inboundId: string) => `reply:${inboundId}`,
};

/** Under which idempotency key a message is queued. */
export type Idempotency =
  /** A final key (see idempotencyKeys). */
  | { key: string }
  /** A batch's Idempotency-Key header: each item is keyed by it, its content and its occurrence in the batch. */
  | { batchKey: string; apiKeyId: string };

/** One message for sendMany. */
export interface SendItem {
  request: SendRequest;
  idempotency: Idempotency | null;
  /** The API key that asks for it (its id; see http/auth.ts); null for the gateway's own messages (replies). */
  createdBy: string | null;
}

/**
 * send(): validate -> route -> (in one transaction: idempotency, opt-out check, message + outbox row) -> hand to the
 * dispatcher. Answers once the message is durable; delivery happens after.
 */
export class OutboundService {
  readonly #o: OutboundOptions;
  /** Every sender number configured for any carrier: never a recipient of our own replies. */
  readonly #ourNumbers: ReadonlySet<string>;

  constructor(options: OutboundOptions) {
    this.#o = options;
    this.#ourNumbers = ourNumbers(options.routing);
  }

  /**
   * One message from an API key, with the client's own Idempotency-Key (or null), in that API key's namespace.
   * Throws a SwitchboardError for a request that cannot be sent.
   */
  async send(
    request: SendRequest,
    from: { apiKeyId: string; idempotencyKey: string | null },
  ): Promise<{ replayed: boolean; message: Message }> {
    const { apiKeyId, idempotencyKey } = from;
    const idempotency =
      idempotencyKey === null ? null : { key: idempotencyKeys.api(apiKeyId, idempotencyKey) };
    const [result] = await this.sendMany([{ request, idempotency, createdBy: apiKeyId }]);
    if (!result) throw new SwitchboardError('internal_error');
    if (!result.ok) throw result.error;
    return result;
  }

  /**
   * Several messages in one transaction, each with its own outcome: a bad item is refused alone. Throws only when
   * the store fails (then nothing was stored).
   */
  async sendMany(items: SendItem[]): Promise<SendOutcome[]> {
    const outcomes: (SendOutcome | null)[] = [];
    let valid: NewOutboundMessage[] = [];
    let slots: number[] = [];
    // Identical items under one batch key are distinct messages: the n-th copy gets the n-th key.
    const occurrences = new Map<string, number>();
    items.forEach(({ request, idempotency, createdBy }, i) => {
      try {
        const message = this.#prepare(request, idempotency !== null, createdBy);
        if (idempotency !== null && 'key' in idempotency) message.idempotencyKey = idempotency.key;
        else if (idempotency !== null) {
          const { apiKeyId, batchKey } = idempotency;
          const seen = `${apiKeyId}:${batchKey}:${message.requestHash}`;
          const n = occurrences.get(seen) ?? 0;
          occurrences.set(seen, n + 1);
          message.idempotencyKey = idempotencyKeys.batchItem(apiKeyId, batchKey, message.requestHash, n);
        }
        valid.push(message);
        slots.push(i);
        outcomes.push(null);
      } catch (err) {
        if (!(err instanceof SwitchboardError)) throw err;
        outcomes.push({ ok: false, error: err });
      }
    });
    // Last, and only for messages that have one: it may wait for DNS.
    const checked = this.#o.callbackCheck ? await this.#callbacksToCheck(valid) : [];
    const callbacks = valid.flatMap((m, j) => (checked[j] ? [m.statusCallback as string] : []));
    if (callbacks.length > 0 && this.#o.callbackCheck) {
      const refused = await this.#o.callbackCheck.check([...new Set(callbacks)]);
      if (refused.size > 0) {
        const kept = valid.map((m, j) => {
          const error = checked[j] ? refused.get(m.statusCallback as string) : undefined;
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
    inbound: { id: string; provider: ProviderId; channel: Channel; from: string; to: string; cc?: string[] },
    reply: { body?: string; mediaUrls?: string[] },
  ): Promise<ReplyOutcome> {
    // A group MMS is answered to the group: its sender and every other participant, but never a number of ours
    // (the one it was sent to, or another in the same group, which would get our reply and could answer it: a
    // loop). Participants who opted out of the sender are left out when it is queued (see Store.enqueue).
    const cc = (inbound.cc ?? []).filter(
      (n, i, all) =>
        n !== inbound.to && n !== inbound.from && !this.#ourNumbers.has(n) && all.indexOf(n) === i,
    );
    const [result] = await this.sendMany([
      {
        request: {
          to: inbound.from,
          from: inbound.to,
          provider: inbound.provider,
          ...(inbound.channel === 'whatsapp' ? { channel: 'whatsapp' as const } : {}),
          ...(cc.length > 0 ? { cc } : {}),
          ...(reply.body ? { body: reply.body } : {}),
          ...(reply.mediaUrls?.length ? { mediaUrls: reply.mediaUrls } : {}),
        },
        idempotency: { key: idempotencyKeys.reply(inbound.id) },
        createdBy: null,
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

  /**
   * Which messages' statusCallback is checked: each one's, except a message's whose idempotency key already has a
   * message. That request was judged when it was first queued; enqueue answers it as a replay (or a conflict), and
   * its URL resolving elsewhere by now (or not at all) must not turn a client's retry into a refusal. One read,
   * only when some message has both a callback and a key.
   */
  async #callbacksToCheck(messages: readonly NewOutboundMessage[]): Promise<boolean[]> {
    const keys = messages.flatMap((m) =>
      m.statusCallback !== null && m.idempotencyKey !== null ? [m.idempotencyKey] : [],
    );
    const used = new Set(keys.length > 0 ? await this.#o.store.existingIdempotencyKeys(keys) : []);
    return messages.map(
      (m) => m.statusCallback !== null && (m.idempotencyKey === null || !used.has(m.idempotencyKey)),
    );
  }

  /** The message to store; its idempotency key is set by the caller (sendMany). */
  #prepare(request: SendRequest, keyed: boolean, createdBy: string | null): NewOutboundMessage {
    checkWellFormed(request);
    const { to, from, channel } = readAddresses(request);
    const route = chooseRoute(this.#o.routing, to, from, request.provider, channel);
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
    const cc = request.cc ?? [];
    const stored: Channel =
      channel === 'whatsapp' ? 'whatsapp' : mediaUrls.length > 0 || cc.length > 0 ? 'mms' : 'sms';
    // Sizes and segments by the chosen carrier's own rules (its encoding, its limits); the dispatcher checks them
    // again for any carrier the message fails over to.
    const limits = this.#o.limits.get(route.provider);
    const shape = { channel: stored, body, mediaCount: mediaUrls.length, cc, from: route.from };
    const fit: Fit = limits ? fitCarrier(route.provider, limits, shape) : standardFit(body);
    return {
      provider: route.provider,
      channel: stored,
      from: route.from,
      to,
      cc,
      body,
      media: mediaUrls.map((url) => ({ url, contentType: null })),
      segments: fit.segments,
      encoding: fit.encoding,
      statusCallback: request.statusCallback ?? null,
      idempotencyKey: null,
      // Only compared under an idempotency key; without one, not worth a SHA-256 per message.
      requestHash: keyed
        ? requestHash({
            to,
            from,
            provider: request.provider ?? null,
            // The channel asked for, however it was asked (`channel`, or a whatsapp: address).
            channel,
            body,
            media: mediaUrls,
            statusCallback: request.statusCallback ?? null,
          })
        : '',
      createdBy,
    };
  }
}

/** The numbers the configuration names as ours: each carrier's senders and the senders routing rules match. */
function ourNumbers(routing: RoutingTable): Set<string> {
  const numbers = new Set<string>();
  for (const sender of routing.senders.values()) {
    if (sender.from !== null) numbers.add(sender.from);
    if (sender.whatsappFrom !== null) numbers.add(sender.whatsappFrom);
  }
  for (const rule of routing.routes) if (rule.from !== null) numbers.add(rule.from);
  return numbers;
}

function checkUrl(value: string, field: string): void {
  const url = URL.canParse(value) ? new URL(value) : null;
  if (url === null || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.hostname === '') {
    throw new SwitchboardError('invalid_request', `${field} must hold absolute http(s) URLs.`);
  }
}

/** Segments under GSM 03.38, for a carrier whose limits are unknown (not one that can send). */
function standardFit(body: string): Fit {
  if (body.length === 0) return { segments: null, encoding: null };
  const counted = countSegments(body);
  return { segments: counted.segments, encoding: counted.encoding };
}

const WHATSAPP = /^\s*whatsapp:/i;

/**
 * The request's numbers and channel. `whatsapp:+1...` in `to` or `from` asks for WhatsApp (as Twilio writes
 * WhatsApp addresses); the stored numbers are plain E.164 and the channel says WhatsApp. A WhatsApp sender must be
 * a phone number (no short codes or alphanumeric ids on WhatsApp).
 */
function readAddresses(request: SendRequest): {
  to: string;
  from: string | null;
  channel: RequestChannel;
} {
  const addressed = WHATSAPP.test(request.to) || (request.from !== undefined && WHATSAPP.test(request.from));
  if (request.channel === 'sms' && addressed) {
    throw new SwitchboardError(
      'channel_conflict',
      '"channel" is "sms" but an address is a whatsapp: address; a message goes on one channel only.',
    );
  }
  const channel: RequestChannel = request.channel ?? (addressed ? 'whatsapp' : 'sms');
  const bare = (value: string) => value.replace(WHATSAPP, '');
  const to = phoneNumber(bare(request.to), 'to');
  if (request.from === undefined) return { to, from: null, channel };
  const from = channel === 'whatsapp' ? phoneNumber(bare(request.from), 'from') : sender(request.from);
  return { to, from, channel };
}

/** A phone number in E.164, validated against libphonenumber's metadata (so "+1 415 555 0123" is accepted). */
function phoneNumber(raw: string, field: string): string {
  // libphonenumber finds a number inside "foo:+1415...": an address with a scheme is not a phone number here
  // (`whatsapp:` is read by readAddresses), and must not be sent as if it were one.
  const number = raw.includes(':') ? null : toE164(raw);
  if (number === null) {
    throw new SwitchboardError(
      'invalid_phone_number',
      `"${field}" must be a valid phone number in international form (+14155550123).`,
    );
  }
  return number;
}

function sender(raw: string): string {
  const normalized = raw.includes(':') ? null : normalizeSender(raw);
  if (normalized === null) {
    throw new SwitchboardError(
      'invalid_phone_number',
      '"from" must be a valid phone number in international form, a short code or an alphanumeric sender id.',
    );
  }
  return normalized;
}

/**
 * What makes two requests "the same" under one Idempotency-Key: the request as it will be sent, not as the client
 * wrote it, so `+1 415 555 0123` and `+14155550123` are one request. Numbers in E.164 and the sender normalized;
 * the carrier the request asked for (not the one routing picked: a change of routing rules does not turn a retry
 * into a conflict); URLs as the URL parser writes them (`HTTPS://Example.com` is `https://example.com/`). Fields in
 * a fixed order, so the order of JSON keys does not matter either.
 */
function requestHash(r: {
  to: string;
  from: string | null;
  provider: ProviderId | null;
  channel: string | null;
  body: string;
  media: string[];
  statusCallback: string | null;
}): string {
  const canonical = JSON.stringify([
    r.to,
    r.from,
    r.provider,
    r.channel,
    r.body,
    r.media.map(canonicalUrl),
    r.statusCallback === null ? null : canonicalUrl(r.statusCallback),
  ]);
  return createHash('sha256').update(canonical).digest('base64url');
}

/** Checked by checkUrl before it gets here; an unparsable one (none) is kept as written. */
function canonicalUrl(value: string): string {
  return URL.canParse(value) ? new URL(value).href : value;
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
    cc: message.cc,
    body: message.body,
    media: message.media,
    segments: message.segments,
    channel: message.channel,
    attempts: 0,
    nextAttemptAt: 0,
  };
}
