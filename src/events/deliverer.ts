import { setMaxListeners } from 'node:events';
import {
  STATUS_CALLBACK_ENDPOINT,
  type DeliveryAttemptRecord,
  type DeliveryResult,
  type EventPayload,
  type EventStore,
  type PendingDelivery,
} from '../core/events.js';
import type { InboundMessage, ReplyQueue } from '../core/inbound.js';
import type { Logger } from '../core/logger.js';
import { idempotencyKeys } from '../core/outbound.js';
import type { Reply } from '../core/provider.js';
import type { EndpointSettings } from '../events-config.js';
import { postEvent, type PostResult } from './post.js';
import { readAnswer } from './reply.js';
import { signatureHeaders } from './signature.js';

export interface DelivererOptions {
  store: EventStore;
  endpoints: readonly EndpointSettings[];
  /** Waits before each retry; once they are used up, a delivery is dead. */
  retryScheduleMs: readonly number[];
  /** Per request. */
  timeoutMs: number;
  /**
   * The endpoint whose answers to `message.received` are replies (the first endpoint that takes that event), and
   * where replies that cannot go inline are queued. Null endpoint: answers are not read.
   */
  replies: { endpointId: string | null; queue: ReplyQueue };
  log: Logger;
  /**
   * Deliveries each endpoint holds in memory at most; beyond it they wait in the database and are loaded as the
   * endpoint's queue drains. Per endpoint, so that one endpoint's backlog never holds up another's events.
   * @default 10000
   */
  capacity?: number;
  /** How often the database is checked for deliveries nobody announced. @default 1000 */
  pollMs?: number;
  /** Told of every attempt once it is recorded (metrics). */
  observe?: (endpointId: string, outcome: DeliveryAttemptRecord['outcome']) => void;
  now?: () => number;
}

interface Delivery extends PendingDelivery {
  /** An attempt is under way (posting, or its record being written): the conversation waits. */
  inFlight: boolean;
  /** The attempt holds one of the endpoint's `concurrency` slots (until the endpoint has answered). */
  slot: boolean;
  timer: NodeJS.Timeout | null;
  /** A compute-mode request waiting for this delivery's answer, until its deadline. */
  waiter: Waiter | null;
}

interface Lane {
  settings: EndpointSettings;
  enabled: boolean;
  /** Retry-After from the endpoint: nothing is sent to it before this time. */
  pausedUntil: number;
  pauseTimer: NodeJS.Timeout | null;
  inFlight: number;
  /** Each conversation's deliveries in id order; only the head is ever sent. */
  conversations: Map<string, Delivery[]>;
  /** Conversations whose head is due and not in flight, in the order they became ready. */
  ready: Set<string>;
  /**
   * Conversations compute-mode requests wait on (how many): their heads start even when the endpoint is at its
   * concurrency.
   */
  urgent: Map<string, number>;
  /** The reply endpoint's `message.received` deliveries, by message id (compute mode looks them up). */
  received: Map<string, Delivery>;
  /** Compute-mode requests whose delivery is not loaded yet, by message id: attached as it is loaded. */
  expecting: Map<string, (delivery: Delivery) => void>;
  held: number;
  /** The highest delivery id loaded; rows after it may wait in the database. */
  cursor: number;
  spilled: boolean;
  loading: Promise<void> | null;
  /** A load was asked for while one ran: run again, it may have missed rows. */
  missed: boolean;
  /** The last record could not be written: no new attempts until one is (see #record). */
  recordsFailing: boolean;
}

interface Waiter {
  /** Answers the request; the first call wins. */
  settle(reply: Reply | undefined): void;
  /** Stops the deadline: from now on the request waits for `settle` (the answer is being recorded). */
  hold(): boolean;
}

const DEFAULT_CAPACITY = 10_000;
const LOAD_BATCH = 500;
/** A record that could not be committed is written again after this, doubling up to the maximum. */
const RECORD_RETRY_MS = 500;
const RECORD_RETRY_MAX_MS = 30_000;
/** The longest Retry-After honoured (the schedule's own waits can be longer). */
const MAX_RETRY_AFTER_MS = 24 * 3_600_000;
/** Answers that mean "slow down": with a Retry-After, the whole endpoint waits. */
const SLOW_DOWN = new Set([429, 502, 503, 504]);

/**
 * Delivers stored events to the apps' endpoints: signed (Standard Webhooks), at least once, in order per
 * conversation, retried on the configured schedule.
 *
 * The database is the source of truth (see db/event-writes.ts): deliveries are loaded per endpoint in id order, and
 * a conversation's next delivery is sent only once the record of the one before is committed. A crash repeats at
 * most the attempts in flight. The endpoint's concurrency slot, though, is freed as soon as it answers, so other
 * conversations do not wait for that commit.
 *
 * Order: a conversation (the other party's number) has at most one delivery in flight per endpoint, and its next
 * is sent only after the one before is delivered or dead. A delivery waiting for a retry holds up its conversation
 * on that endpoint, and only that conversation.
 */
export class EventDeliverer {
  readonly #o: DelivererOptions;
  readonly #lanes = new Map<string, Lane>();
  readonly #now: () => number;
  readonly #capacity: number;
  readonly #attempts = new Set<Promise<void>>();
  /** Backoff waits of records (see #record), cut short when stopping begins. */
  readonly #wakers = new Set<() => void>();
  /** Aborted when the grace on stop runs out: cuts off requests still waiting for an answer. */
  readonly #halt = new AbortController();
  #poll: NodeJS.Timeout | null = null;
  #stopping = false;

  constructor(options: DelivererOptions) {
    this.#o = options;
    // Every request in flight listens to it (post.ts), far more than Node's default warning threshold of 10.
    setMaxListeners(0, this.#halt.signal);
    this.#now = options.now ?? Date.now;
    this.#capacity = options.capacity ?? DEFAULT_CAPACITY;
    for (const settings of options.endpoints) {
      this.#lanes.set(settings.id, {
        settings,
        enabled: true,
        pausedUntil: 0,
        pauseTimer: null,
        inFlight: 0,
        conversations: new Map(),
        ready: new Set(),
        urgent: new Map(),
        received: new Map(),
        expecting: new Map(),
        held: 0,
        cursor: 0,
        spilled: false,
        loading: null,
        missed: false,
        recordsFailing: false,
      });
    }
  }

  /** Starts delivering: `enabled` is each endpoint's stored state (EventStore.syncEndpoints). */
  start(enabled: ReadonlyMap<string, boolean>): void {
    if (this.#lanes.size === 0) return;
    for (const lane of this.#lanes.values()) lane.enabled = enabled.get(lane.settings.id) ?? true;
    this.#o.store.onDeliveries(() => this.#loadAll());
    this.#poll = setInterval(() => this.#loadAll(), this.#o.pollMs ?? 1000);
    this.#poll.unref();
    this.#loadAll();
  }

  /** The API enabled or disabled an endpoint (already stored). */
  setEnabled(endpointId: string, enabled: boolean): void {
    const lane = this.#lanes.get(endpointId);
    if (!lane || lane.enabled === enabled) return;
    lane.enabled = enabled;
    if (!enabled) {
      this.#releaseWaiters(lane);
      return;
    }
    void this.#load(lane);
    for (const conversation of lane.conversations.keys()) this.#scheduleHead(lane, conversation);
  }

  /**
   * Compute mode: delivers a stored inbound message's `message.received` to the reply endpoint now and waits for
   * the app's reply until `timeoutMs` has passed. Resolves undefined for no reply, or when the answer does not come
   * in time; then delivery goes on as usual (retries included) and a reply that comes later is queued as a
   * message. Never rejects.
   */
  deliverNow(message: InboundMessage, timeoutMs: number): Promise<Reply | undefined> {
    const lane = this.#replyLane();
    if (!lane || !lane.enabled || this.#stopping) return Promise.resolve(undefined);
    // Inbound: the conversation is the sender (as EventWrites.emit has it).
    const conversation = message.from;
    return new Promise<Reply | undefined>((resolve) => {
      let done = false;
      let attached: Delivery | null = null;
      const finish = (reply: Reply | undefined) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (lane.expecting.get(message.id) === attach) lane.expecting.delete(message.id);
        if (attached?.waiter === waiter) attached.waiter = null;
        const waiting = (lane.urgent.get(conversation) ?? 1) - 1;
        if (waiting > 0) lane.urgent.set(conversation, waiting);
        else lane.urgent.delete(conversation);
        resolve(reply);
      };
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      const waiter: Waiter = {
        settle: finish,
        hold: () => {
          if (done) return false;
          clearTimeout(timer);
          return true;
        },
      };
      const attach = (delivery: Delivery) => {
        const head = lane.conversations.get(delivery.conversation)?.[0];
        // An earlier event of this conversation is waiting for a retry: order comes first, so no inline answer.
        const blocked = head !== delivery && head !== undefined && !head.inFlight && head.timer !== null;
        if (done || delivery.waiter !== null || blocked || !lane.enabled || lane.pausedUntil > this.#now()) {
          finish(undefined);
          return;
        }
        delivery.waiter = waiter;
        attached = delivery;
        this.#pump(lane);
      };
      lane.urgent.set(conversation, (lane.urgent.get(conversation) ?? 0) + 1);
      const known = lane.received.get(message.id);
      if (known) {
        attach(known);
        return;
      }
      // Registered before the load, so that whichever load brings the delivery in attaches this request before
      // the delivery can start (a poll's load may be under way already).
      lane.expecting.set(message.id, attach);
      void this.#load(lane).then(() => {
        if (done || attached !== null) return;
        lane.expecting.delete(message.id);
        const delivery = lane.received.get(message.id);
        if (delivery) attach(delivery);
        else finish(undefined); // not loaded (the endpoint's backlog is beyond memory): asynchronous delivery
      });
    });
  }

  /** Deliveries in memory and in flight per endpoint (diagnostics, metrics). */
  stats(): Map<string, { pending: number; inFlight: number; enabled: boolean }> {
    return new Map(
      [...this.#lanes].map(([id, lane]) => [
        id,
        { pending: lane.held, inFlight: lane.inFlight, enabled: lane.enabled },
      ]),
    );
  }

  /**
   * Stops sending; requests in flight get `graceMs` to be answered (and recorded), then are cut off. Whatever is
   * not delivered stays pending in the database and goes out after the next start.
   */
  async stop(graceMs: number): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    if (this.#poll) clearInterval(this.#poll);
    for (const lane of this.#lanes.values()) {
      if (lane.pauseTimer) clearTimeout(lane.pauseTimer);
      for (const queue of lane.conversations.values()) {
        for (const delivery of queue) {
          if (delivery.timer) clearTimeout(delivery.timer);
          // One in flight answers its waiter itself (a held one with the inline reply, once recorded).
          if (!delivery.inFlight) this.#answer(delivery, undefined);
        }
      }
    }
    for (const wake of [...this.#wakers]) wake();
    const grace = setTimeout(() => this.#halt.abort(new Error('stopping')), graceMs);
    while (this.#attempts.size > 0) await Promise.allSettled([...this.#attempts]);
    clearTimeout(grace);
  }

  #replyLane(): Lane | undefined {
    const id = this.#o.replies.endpointId;
    return id === null ? undefined : this.#lanes.get(id);
  }

  #loadAll(): void {
    for (const lane of this.#lanes.values()) void this.#load(lane);
  }

  /** Loads the endpoint's pending deliveries after its cursor, up to its capacity. Never rejects. */
  #load(lane: Lane): Promise<void> {
    if (!lane.enabled || this.#stopping) return Promise.resolve();
    if (lane.loading) {
      lane.missed = true;
      return lane.loading;
    }
    if (lane.held >= this.#capacity) {
      // Full: the rest waits in the database, loaded as the queue drains (see #finish).
      lane.spilled = true;
      return Promise.resolve();
    }
    const loading = (async () => {
      try {
        do {
          lane.missed = false;
          while (lane.held < this.#capacity && !this.#stopping) {
            const limit = Math.min(LOAD_BATCH, this.#capacity - lane.held);
            const rows = await this.#o.store.loadDeliveries(lane.settings.id, lane.cursor, limit);
            for (const row of rows) this.#add(lane, row);
            lane.spilled = rows.length === limit;
            if (rows.length < limit) break;
          }
        } while (lane.missed && lane.held < this.#capacity && !this.#stopping);
      } catch (err) {
        // Tried again by the next poll.
        this.#o.log.error({ err, endpointId: lane.settings.id }, 'loading event deliveries failed');
      }
    })();
    lane.loading = loading;
    // Cleared once settled (never before it is set, even if the load ends at once), unless replaced meanwhile.
    void loading.finally(() => {
      if (lane.loading === loading) lane.loading = null;
    });
    return loading;
  }

  #add(lane: Lane, row: PendingDelivery): void {
    lane.cursor = Math.max(lane.cursor, row.id);
    const delivery: Delivery = { ...row, inFlight: false, slot: false, timer: null, waiter: null };
    lane.held += 1;
    const attach = lane.expecting.get(row.messageId);
    if (row.type === 'message.received' && lane.settings.id === this.#o.replies.endpointId) {
      lane.received.set(row.messageId, delivery);
    }
    const queue = lane.conversations.get(row.conversation);
    if (queue) queue.push(delivery);
    else lane.conversations.set(row.conversation, [delivery]);
    if (attach && row.type === 'message.received') {
      lane.expecting.delete(row.messageId);
      attach(delivery);
    }
    this.#scheduleHead(lane, row.conversation);
  }

  /** Makes the conversation's head ready now, or when its next attempt is due. */
  #scheduleHead(lane: Lane, conversation: string): void {
    const head = lane.conversations.get(conversation)?.[0];
    if (!head || head.inFlight || head.timer !== null || this.#stopping) return;
    const wait = head.nextAttemptAt - this.#now();
    if (wait <= 0) {
      lane.ready.add(conversation);
      this.#pump(lane);
      return;
    }
    head.timer = setTimeout(() => {
      head.timer = null;
      lane.ready.add(conversation);
      this.#pump(lane);
    }, wait);
    head.timer.unref();
  }

  /** Starts ready heads: those a compute request waits on first (past the concurrency), then the rest in turn. */
  #pump(lane: Lane): void {
    if (!lane.enabled || lane.recordsFailing || this.#stopping) return;
    const now = this.#now();
    if (lane.pausedUntil > now) {
      if (lane.pauseTimer === null) {
        lane.pauseTimer = setTimeout(() => {
          lane.pauseTimer = null;
          this.#pump(lane);
        }, lane.pausedUntil - now);
        lane.pauseTimer.unref();
      }
      return;
    }
    for (const conversation of lane.urgent.keys()) {
      if (lane.ready.delete(conversation)) this.#start(lane, conversation);
    }
    while (lane.inFlight < lane.settings.concurrency && lane.ready.size > 0) {
      const conversation = lane.ready.values().next().value as string;
      lane.ready.delete(conversation);
      this.#start(lane, conversation);
    }
  }

  #start(lane: Lane, conversation: string): void {
    const delivery = lane.conversations.get(conversation)?.[0];
    if (!delivery || delivery.inFlight) return;
    delivery.inFlight = true;
    delivery.slot = true;
    lane.inFlight += 1;
    const attempt = this.#attempt(lane, delivery).catch((err: unknown) => {
      // A bug, not an answer: the delivery stays at its conversation's head and is tried again later.
      this.#o.log.error({ err, deliveryId: delivery.id }, 'event delivery failed unexpectedly');
      this.#answer(delivery, undefined);
      delivery.nextAttemptAt = this.#now() + RECORD_RETRY_MAX_MS;
      if (delivery.inFlight) this.#finish(lane, delivery, 'kept');
    });
    this.#attempts.add(attempt);
    void attempt.finally(() => this.#attempts.delete(attempt));
  }

  async #attempt(lane: Lane, delivery: Delivery): Promise<void> {
    const { settings } = lane;
    const startedAt = this.#now();
    const readsReply = delivery.type === 'message.received' && settings.id === this.#o.replies.endpointId;
    const headers = signatureHeaders(
      delivery.eventId,
      Math.floor(Date.now() / 1000),
      delivery.payload,
      settings.secrets,
    );
    const post = await postEvent(delivery.url ?? settings.url, headers, delivery.payload, {
      timeoutMs: this.#o.timeoutMs,
      signal: this.#halt.signal,
      readBody: readsReply,
    });
    if (this.#halt.signal.aborted) {
      // Cut off by shutdown: not an answer from the app. It stays pending and is sent again after the restart.
      this.#answer(delivery, undefined);
      this.#finish(lane, delivery, 'kept');
      return;
    }
    const attempt = {
      statusCode: post.statusCode,
      error: post.error,
      startedAt,
      durationMs: post.durationMs,
    };
    let result: DeliveryResult;
    let inline: Reply | undefined;
    if (post.statusCode !== null && post.statusCode >= 200 && post.statusCode < 300) {
      result = {
        deliveryId: delivery.id,
        attempt: { ...attempt, outcome: 'delivered' },
        nextAttemptAt: 0,
        disable: null,
        claimReply: null,
      };
      if (readsReply) {
        const handled = await this.#reply(delivery, post);
        if (handled.kind === 'inline') {
          inline = handled.reply;
          // Recorded with the delivery: no later post of this event (a retry after a failed record, a crash, a
          // redelivery) can queue a second reply.
          result = { ...result, claimReply: idempotencyKeys.reply(delivery.messageId) };
        } else if (handled.kind === 'failed') {
          result = this.#failure(
            lane,
            delivery,
            { ...attempt, error: 'the reply could not be stored' },
            null,
          );
        }
      }
    } else {
      result = this.#failure(lane, delivery, attempt, post);
    }
    // The endpoint's slot is free once it has answered: other conversations go on while this record commits.
    this.#releaseSlot(lane, delivery);
    if (inline === undefined) {
      // A compute-mode request does not wait for a retry: the carrier is answered now, the reply comes later.
      this.#answer(delivery, undefined);
    }
    // With an inline reply, Twilio is waiting: one try, no backoff.
    let recorded = await this.#record(lane, result, inline !== undefined);
    if (!recorded && inline !== undefined && !this.#stopping) {
      // The claim could not be written: no inline answer. The reply in hand is queued instead (its key is free),
      // and the delivery is recorded without the claim.
      this.#answer(delivery, undefined);
      const queued = await this.#queue(delivery, inline);
      result = queued
        ? { ...result, claimReply: null }
        : this.#failure(lane, delivery, { ...attempt, error: 'the reply could not be stored' }, null);
      inline = undefined;
      recorded = await this.#record(lane, result);
    }
    if (!recorded) {
      // Stopping before the record could be written: the delivery is still pending in the database and is made
      // again after the restart (at least once).
      this.#answer(delivery, undefined);
      this.#finish(lane, delivery, 'kept');
      return;
    }
    // Only now does the conversation move on: its next event is never sent before this one's record is durable.
    this.#answer(delivery, inline);
    this.#apply(lane, delivery, result);
  }

  /**
   * Writes an attempt's record; written again with backoff until it is (the app has its answer: the event is not
   * posted again for a failed write). While an endpoint's records fail, it starts no new attempts (see #pump), so
   * what waits for a record is bounded by its concurrency. False: stopping came first, or `once` and it failed.
   */
  async #record(lane: Lane, result: DeliveryResult, once = false): Promise<boolean> {
    for (let wait = RECORD_RETRY_MS; ; wait = Math.min(wait * 2, RECORD_RETRY_MAX_MS)) {
      try {
        await this.#o.store.recordDelivery(result);
        if (lane.recordsFailing) {
          lane.recordsFailing = false;
          this.#pump(lane);
        }
        return true;
      } catch (err) {
        if (!lane.recordsFailing) {
          this.#o.log.error(
            { err, endpointId: lane.settings.id },
            'recording event deliveries fails; no new attempts until it works again',
          );
        }
        lane.recordsFailing = true;
        if (once || this.#stopping) return false;
        await this.#sleep(wait);
        if (this.#stopping) return false;
      }
    }
  }

  /** Waits `ms`, or less if stopping begins. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#wakers.add(wake);
    });
  }

  /**
   * A failed attempt: another on the schedule (never sooner than a Retry-After), dead once the schedule is used
   * up, or, on 410 Gone, the endpoint disabled. `post` null: the endpoint answered, but we failed.
   */
  #failure(
    lane: Lane,
    delivery: Delivery,
    attempt: Omit<DeliveryAttemptRecord, 'outcome'>,
    post: PostResult | null,
  ): DeliveryResult {
    const now = this.#now();
    const base = { deliveryId: delivery.id, nextAttemptAt: now, disable: null, claimReply: null };
    const status = post?.statusCode ?? null;
    let asked = 0;
    if (post?.retryAfterMs != null) {
      asked = Math.min(post.retryAfterMs, MAX_RETRY_AFTER_MS);
      // "Slow down" holds the whole endpoint, whether or not this delivery has attempts left; not the status
      // callbacks, whose URLs are as many as the messages (one of them must not hold up the others).
      if (status !== null && SLOW_DOWN.has(status) && lane.settings.id !== STATUS_CALLBACK_ENDPOINT) {
        lane.pausedUntil = Math.max(lane.pausedUntil, now + asked);
      }
    }
    if (status === 410) {
      // A message's own callback URL that is gone ends that delivery; it says nothing of other messages' URLs.
      if (lane.settings.id === STATUS_CALLBACK_ENDPOINT)
        return { ...base, attempt: { ...attempt, outcome: 'dead' } };
      return {
        ...base,
        attempt: { ...attempt, outcome: 'disabled' },
        disable: { endpointId: lane.settings.id, reason: 'the endpoint answered 410 Gone' },
      };
    }
    const schedule = this.#o.retryScheduleMs;
    const made = delivery.attempts + 1;
    if (made > schedule.length) return { ...base, attempt: { ...attempt, outcome: 'dead' } };
    // Never sooner than the endpoint asked, nor sooner than the schedule.
    const wait = Math.max(schedule[made - 1] as number, asked);
    return { ...base, attempt: { ...attempt, outcome: 'retry' }, nextAttemptAt: now + wait };
  }

  /**
   * The reply endpoint answered `message.received`. Its reply goes inline to a compute-mode request still waiting
   * (`inline`: the caller gives it once the delivery is recorded), or is queued as a message before the delivery
   * is recorded, so a crash in between repeats the delivery rather than lose the reply (the queue sends one reply
   * per inbound message). `failed`: it could not be queued.
   */
  async #reply(
    delivery: Delivery,
    post: PostResult,
  ): Promise<{ kind: 'inline'; reply: Reply } | { kind: 'done' } | { kind: 'failed' }> {
    const reading = readAnswer(post);
    if (reading.kind === 'refused') {
      this.#o.log.warn({ messageId: delivery.messageId, reason: reading.reason }, 'app reply refused');
    }
    if (reading.kind !== 'reply') return { kind: 'done' };
    // Held: the request no longer times out; it waits for the record (a commit) and then gets the reply.
    if (delivery.waiter?.hold()) return { kind: 'inline', reply: reading.reply };
    return (await this.#queue(delivery, reading.reply)) ? { kind: 'done' } : { kind: 'failed' };
  }

  /** Queues a reply to the delivery's inbound message as an outbound message. False: the store failed. */
  async #queue(delivery: Delivery, reply: Reply): Promise<boolean> {
    const message = (JSON.parse(delivery.payload) as EventPayload).data;
    try {
      const { outcome, reason } = await this.#o.replies.queue.queueReply(message, reply);
      if (outcome === 'refused' || outcome === 'opted_out') {
        this.#o.log.warn({ messageId: message.id, outcome, reason }, 'app reply not sent');
      }
      return true;
    } catch (err) {
      this.#o.log.error({ err, messageId: message.id }, 'queuing an app reply failed');
      return false;
    }
  }

  #answer(delivery: Delivery, reply: Reply | undefined): void {
    const waiter = delivery.waiter;
    delivery.waiter = null;
    waiter?.settle(reply);
  }

  /** Compute-mode requests waiting on a disabled endpoint answer now rather than at their deadline. */
  #releaseWaiters(lane: Lane): void {
    for (const delivery of lane.received.values()) if (!delivery.inFlight) this.#answer(delivery, undefined);
  }

  #apply(lane: Lane, delivery: Delivery, result: DeliveryResult): void {
    const { outcome } = result.attempt;
    this.#o.observe?.(lane.settings.id, outcome);
    if (outcome === 'delivered' || outcome === 'dead') {
      if (outcome === 'dead') {
        this.#o.log.warn(
          { endpointId: lane.settings.id, eventId: delivery.eventId, attempts: delivery.attempts + 1 },
          'event delivery dead: no attempts left',
        );
      }
      this.#finish(lane, delivery, 'done');
      return;
    }
    delivery.attempts += 1;
    delivery.nextAttemptAt = result.nextAttemptAt;
    if (result.disable) {
      lane.enabled = false;
      this.#o.log.warn({ endpointId: lane.settings.id }, `endpoint disabled: ${result.disable.reason}`);
      this.#releaseWaiters(lane);
    }
    this.#finish(lane, delivery, 'kept');
  }

  #releaseSlot(lane: Lane, delivery: Delivery): void {
    if (!delivery.slot) return;
    delivery.slot = false;
    lane.inFlight -= 1;
    this.#pump(lane);
  }

  /** The attempt is over: the delivery leaves its conversation (`done`) or stays at its head (`kept`). */
  #finish(lane: Lane, delivery: Delivery, fate: 'done' | 'kept'): void {
    delivery.inFlight = false;
    this.#releaseSlot(lane, delivery);
    if (fate === 'done') {
      const queue = lane.conversations.get(delivery.conversation);
      queue?.shift();
      if (queue?.length === 0) lane.conversations.delete(delivery.conversation);
      if (lane.received.get(delivery.messageId) === delivery) lane.received.delete(delivery.messageId);
      lane.held -= 1;
      if (lane.spilled && lane.held < this.#capacity / 2) void this.#load(lane);
    }
    this.#scheduleHead(lane, delivery.conversation);
    this.#pump(lane);
  }
}
