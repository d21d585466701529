import { detectKeyword, optOutChange, type Keyword } from './compliance.js';
import { SwitchboardError } from './errors.js';
import type { Logger } from './logger.js';
import type { Channel, ProviderId } from './message.js';
import type {
  HttpReply,
  InboundMessageEvent,
  NormalizedEvent,
  Provider,
  ProviderDetector,
  Reply,
} from './provider.js';
import type { Store } from './store.js';
import type { RawWebhook } from './webhook.js';

/** An inbound message as the app's handler sees it: stored, with its Switchboard id. */
export type InboundMessage = Pick<
  InboundMessageEvent,
  'provider' | 'providerMessageId' | 'channel' | 'from' | 'to' | 'cc' | 'body' | 'media'
> & {
  id: string;
  /** A compliance keyword the whole text consists of; STOP/START have already updated the opt-out list. */
  keyword: Keyword | null;
};

/**
 * The app's processing of an inbound message. Returning a Reply answers the sender: inline (TwiML) when Twilio is
 * waiting in compute mode, otherwise as a queued outbound message.
 */
export type InboundHandler = (message: InboundMessage) => Reply | undefined | Promise<Reply | undefined>;

export type ProcessingMode = 'fast' | 'compute';

/** Sends an app's reply that could not go inline (OutboundService). */
export interface ReplyQueue {
  queueReply(
    inbound: { id: string; provider: ProviderId; channel: Channel; from: string; to: string; cc?: string[] },
    reply: Reply,
  ): Promise<{ outcome: string; reason: string | null }>;
}

export interface InboundOptions {
  detectors: readonly ProviderDetector[];
  enabled: ReadonlyMap<ProviderId, Provider>;
  store: Store;
  replies: ReplyQueue;
  handler?: InboundHandler;
  /**
   * Compute mode without an in-process handler: asks the app over HTTP (events/deliverer.ts deliverNow) and
   * resolves its reply, or undefined for none or not within `timeoutMs`.
   */
  inline?: (message: InboundMessage, timeoutMs: number) => Promise<Reply | undefined>;
  mode: ProcessingMode;
  computeTimeoutMs: number;
  log: Logger;
  /** Told of every new event stored, message or status report (metrics, the dashboard's activity). */
  observe?: (event: NormalizedEvent, messageId: string) => void;
}

export interface InboundOutcome {
  provider: ProviderId;
  /** accepted: at least one new event stored; duplicate: all seen before; ignored: an event type not stored. */
  outcome: 'accepted' | 'duplicate' | 'ignored';
  reply: HttpReply;
}

// Carriers cap a message well below these; a reply beyond them is refused rather than queued to fail later.
const MAX_REPLY_BODY = 1600;
const MAX_REPLY_MEDIA = 10;

const TIMED_OUT = Symbol('timed out');

// Characters XML 1.0 does not allow, and UTF-16 surrogates without their pair. Matching control characters is the
// point here, hence the rule turned off.
const XML_INVALID =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * receive(): select the carrier -> verify -> parse -> store (dedupe) -> process in fast or compute mode.
 *
 * Invariant: nothing is acknowledged before it is stored; the store resolves only after a durable commit. A
 * duplicate is acknowledged and not processed again.
 */
export class InboundGateway {
  readonly #o: InboundOptions;
  readonly #background = new Set<Promise<void>>();

  constructor(options: InboundOptions) {
    this.#o = options;
  }

  /** @param onProvider told which carrier the webhook is taken for, before it is verified (logs, metrics). */
  async receive(
    req: RawWebhook,
    hint?: ProviderId,
    onProvider?: (provider: ProviderId) => void,
  ): Promise<InboundOutcome> {
    const provider = this.#select(req, hint);
    onProvider?.(provider.id);
    const verification = await provider.verify(req);
    if (!verification.ok) {
      throw new SwitchboardError(verification.code, undefined, { cause: verification.reason });
    }
    const events = provider.parse(req);
    if (events.length === 0)
      return { provider: provider.id, outcome: 'ignored', reply: provider.webhookResponse() };

    const keywords = events.map((e) => (e.kind === 'inbound_message' ? detectKeyword(e.body) : null));
    // Per carrier: one carrier's signature says nothing about another's.
    const replayKey =
      verification.replayKey === undefined ? null : `${provider.id} ${verification.replayKey}`;
    let results;
    try {
      results = await this.#o.store.ingest(
        events.map((event, i) => ({
          event,
          optOut: optOutChange(keywords[i] ?? null),
        })),
        replayKey,
      );
    } catch (err) {
      if (err instanceof SwitchboardError && err.code === 'signature_replayed') throw err;
      // Not stored, so not acknowledged: a 503 makes the carrier retry later.
      this.#o.log.error({ err, provider: provider.id }, 'storing a webhook failed');
      throw new SwitchboardError('service_unavailable', 'The webhook could not be stored; retry later.', {
        cause: err,
      });
    }

    const fresh: InboundMessage[] = [];
    events.forEach((event, i) => {
      const result = results[i];
      if (result?.outcome !== 'stored') return;
      this.#o.observe?.(event, result.messageId);
      if (event.kind === 'inbound_message') {
        fresh.push(toInboundMessage(event, result.messageId, keywords[i] ?? null));
      } else if (event.status === null) {
        // Kept in the history with the carrier's word; logged so the status table can learn it.
        this.#o.log.warn(
          { provider: event.provider, providerStatus: event.providerStatus, messageId: result.messageId },
          'unknown carrier status stored without a canonical status',
        );
      }
    });
    const outcome =
      fresh.length > 0 || results.some((r) => r.outcome === 'stored') ? 'accepted' : 'duplicate';
    const handler = this.#o.handler;
    // Never an inline answer to STOP: the opt-out is stored, and a reply through the send pipeline is refused.
    const inlineMode =
      this.#o.mode === 'compute' &&
      provider.repliesInline &&
      fresh.length === 1 &&
      fresh[0]?.keyword !== 'stop';
    if (handler === undefined && inlineMode && this.#o.inline) {
      // The app answers over HTTP; past the deadline its reply, when it comes, is queued by the deliverer.
      const message = fresh[0] as InboundMessage;
      const reply = await this.#o.inline(message, this.#o.computeTimeoutMs);
      return { provider: provider.id, outcome, reply: this.#inlineResponse(provider, message, reply) };
    }
    if (fresh.length === 0 || handler === undefined) {
      return { provider: provider.id, outcome, reply: provider.webhookResponse() };
    }

    if (inlineMode) {
      const message = fresh[0] as InboundMessage;
      const processing = this.#process(handler, message);
      const reply = await this.#withinDeadline(processing);
      if (reply !== TIMED_OUT)
        return { provider: provider.id, outcome, reply: this.#inlineResponse(provider, message, reply) };
      // Past the deadline: acknowledge now; the answer, when it comes, goes out as a queued message.
      this.#o.log.warn(
        { provider: provider.id, messageId: message.id },
        'compute deadline passed; reply will be queued',
      );
      this.#track(processing.then((late) => this.#queueReply(message, late)));
      return { provider: provider.id, outcome, reply: provider.webhookResponse() };
    }

    for (const message of fresh) {
      this.#track(this.#process(handler, message).then((reply) => this.#queueReply(message, reply)));
    }
    return { provider: provider.id, outcome, reply: provider.webhookResponse() };
  }

  /**
   * The carrier's answer carrying a reply. Should the carrier's writer refuse the reply after all (replyProblem
   * is meant to catch that first), the carrier gets a plain acknowledgement and the reply is queued instead.
   */
  #inlineResponse(provider: Provider, message: InboundMessage, reply: Reply | undefined): HttpReply {
    try {
      return provider.webhookResponse(reply);
    } catch (err) {
      this.#o.log.error({ err, messageId: message.id }, 'the reply could not be written inline; queuing it');
      this.#track(this.#queueReply(message, reply));
      return provider.webhookResponse();
    }
  }

  /** Resolves when all background processing started so far has finished (graceful shutdown, tests). */
  async idle(): Promise<void> {
    while (this.#background.size > 0) await Promise.allSettled([...this.#background]);
  }

  #select(req: RawWebhook, hint: ProviderId | undefined): Provider {
    const { detectors, enabled } = this.#o;
    const id =
      hint ?? (detectors.find((d) => d.detectByHeader(req)) ?? detectors.find((d) => d.detect(req)))?.id;
    if (id === undefined) {
      // A body that does not even parse says more than "unknown carrier": parsing throws malformed_body.
      if (req.contentType === 'json') req.json();
      else req.form();
      throw new SwitchboardError('unknown_provider');
    }
    const provider = enabled.get(id);
    if (!provider) {
      throw new SwitchboardError('provider_not_configured', `${id} is not configured on this gateway.`);
    }
    return provider;
  }

  /** Runs the handler; a throwing handler is logged and treated as no reply, never as a failed webhook. */
  async #process(handler: InboundHandler, message: InboundMessage): Promise<Reply | undefined> {
    try {
      const reply = await handler(message);
      if (reply === undefined || reply === null) return undefined;
      const problem = replyProblem(reply);
      if (problem) {
        this.#o.log.warn({ messageId: message.id, reason: problem }, 'handler reply refused');
        return undefined;
      }
      return reply;
    } catch (err) {
      this.#o.log.error({ messageId: message.id, err }, 'inbound handler failed');
      return undefined;
    }
  }

  async #withinDeadline<T>(work: Promise<T>): Promise<T | typeof TIMED_OUT> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(resolve, this.#o.computeTimeoutMs, TIMED_OUT);
    });
    try {
      return await Promise.race([work, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A reply that could not be carried inline becomes an outbound message for the send pipeline. */
  async #queueReply(message: InboundMessage, reply: Reply | undefined): Promise<void> {
    if (!reply) return;
    const { outcome, reason } = await this.#o.replies.queueReply(message, reply);
    if (outcome === 'refused' || outcome === 'opted_out') {
      this.#o.log.warn({ messageId: message.id, outcome, reason }, 'reply not queued');
    }
  }

  #track(work: Promise<void>): void {
    const tracked = work.catch((err: unknown) => {
      this.#o.log.error({ err }, 'background processing failed');
    });
    this.#background.add(tracked);
    void tracked.finally(() => this.#background.delete(tracked));
  }
}

function toInboundMessage(event: InboundMessageEvent, id: string, keyword: Keyword | null): InboundMessage {
  return {
    id,
    provider: event.provider,
    providerMessageId: event.providerMessageId,
    channel: event.channel,
    from: event.from,
    to: event.to,
    cc: event.cc,
    body: event.body,
    media: event.media,
    keyword,
  };
}

/** Why a handler's reply cannot be sent, or null when it can. */
export function replyProblem(reply: Reply): string | null {
  if (typeof reply !== 'object') return 'reply is not an object';
  const body = reply.body ?? '';
  const media = reply.mediaUrls ?? [];
  if (typeof body !== 'string') return 'reply.body is not a string';
  if (!Array.isArray(media)) return 'reply.mediaUrls is not an array';
  if (body.length === 0 && media.length === 0) return 'reply has neither body nor media';
  // TwiML is XML: these cannot be written into it (the TwiML writer throws), and no carrier sends them.
  if (XML_INVALID.test(body)) return 'reply.body holds a control character or a lone surrogate';
  if (body.length > MAX_REPLY_BODY)
    return `reply.body is ${body.length} characters; the limit is ${MAX_REPLY_BODY}`;
  if (media.length > MAX_REPLY_MEDIA)
    return `reply has ${media.length} media URLs; the limit is ${MAX_REPLY_MEDIA}`;
  for (const url of media) {
    if (typeof url !== 'string' || XML_INVALID.test(url) || !/^https?:\/\//.test(url) || !URL.canParse(url)) {
      return 'reply.mediaUrls holds an invalid http(s) URL';
    }
  }
  return null;
}
