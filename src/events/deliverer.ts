import { setMaxListeners } from 'node:events';
import {
  STATUS_CALLBACK_ENDPOINT,
  type DeliveryAttemptRecord,
  type DeliveryResult,
  type EventPayload,
  type EventStore,
  type LaneAllowance,
  type LaneShare,
  type PendingDelivery,
  type RecordedDelivery,
} from '../core/events.js';
import type { InboundMessage, ReplyQueue } from '../core/inbound.js';
import type { Logger } from '../core/logger.js';
import { idempotencyKeys } from '../core/outbound.js';
import type { Reply } from '../core/provider.js';
import type { EndpointSettings } from '../events-config.js';
import { createAgents, postEvent, type ConnectGuard, type PostResult } from './post.js';
import { readAnswer } from './reply.js';
import { signatureHeaders } from './signature.js';
import { Turns } from './turns.js';

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
   * Deliveries each endpoint holds ready to send (loaded and due, or in flight) at most; the rest wait in the
   * database and are loaded as these go. Per endpoint, so that one endpoint's backlog never holds up another's.
   * A delivery waiting for a retry is not sendable and does not count: up to as many again wait in memory on a
   * timer, and beyond that they are read again from the database when due. On the status-callback endpoint, one
   * client (API key) holds half of it at most, and every client may hold a few (four times the concurrency) even
   * when the rest is full: see Lane.share and Lane.floor.
   * @default 10000
   */
  capacity?: number;
  /** How often the database is checked for deliveries nobody announced (and retries come due). @default 1000 */
  pollMs?: number;
  /** Told of every attempt once it is recorded (metrics). */
  observe?: (endpointId: string, outcome: DeliveryAttemptRecord['outcome']) => void;
  /**
   * The wall clock, for the times that are stored (attempts, next attempts). Waits in memory (Retry-After pauses,
   * retry timers) use a monotonic clock, so a wall clock stepped back holds nothing up.
   */
  now?: () => number;
  /** Where messages' own status callbacks may connect (net/callback-guard.ts); none: anywhere. */
  callbackGuard?: ConnectGuard;
}

interface Delivery extends PendingDelivery {
  /** An attempt is under way (posting, or its record being written): the conversation waits. */
  inFlight: boolean;
  /** The attempt holds one of the endpoint's `concurrency` slots (until the endpoint has answered). */
  slot: boolean;
  /** Waiting for a retry: the timer that makes it ready again. */
  timer: NodeJS.Timeout | null;
  /** The wait before the next attempt that the last failure asked for (ms). */
  retryInMs: number;
  /** A compute-mode request waiting for this delivery's answer, until its deadline. */
  waiter: Waiter | null;
}

interface Lane {
  settings: EndpointSettings;
  enabled: boolean;
  /** Retry-After from the endpoint: nothing is sent to it before this (performance.now() time). */
  pausedUntil: number;
  pauseTimer: NodeJS.Timeout | null;
  inFlight: number;
  /**
   * The conversations this endpoint has in memory, each by its head: the first of its pending deliveries, the only
   * one that can be sent. What comes behind it stays in the database until it is done (see #apply).
   */
  heads: Map<string, Delivery>;
  /**
   * Conversations whose head is due and not in flight, taken in turn per lane key (see Turns): on the
   * status-callback endpoint, the API key that sent the message, so that clients take turns; elsewhere one lane.
   */
  ready: Turns;
  /** Requests in flight per lane key, and the most one lane may have (the status-callback endpoint: half). */
  lanesInFlight: Map<string, number>;
  perLane: number;
  /** Heads held per lane key (loaded, not waiting on a retry timer): what counts against the lane's share. */
  holding: Map<string, number>;
  /**
   * The most heads one lane key holds (the capacity, for an endpoint of one lane; on the status-callback endpoint
   * half of it, so that one client's silent callbacks leave room for the others').
   */
  share: number;
  /**
   * Heads any lane key may hold even when the endpoint holds its capacity (0: none): however many clients fill
   * their shares, another client's callbacks are still loaded, a few at a time.
   */
  floor: number;
  /** Heads waiting on a retry timer (not counted against the capacity). */
  waiting: number;
  /**
   * Conversations compute-mode requests wait on (how many): their heads start even when the endpoint is at its
   * concurrency.
   */
  urgent: Map<string, number>;
  /** The reply endpoint's `message.received` deliveries, by message id (compute mode looks them up). */
  received: Map<string, Delivery>;
  /** Compute-mode requests whose delivery is not loaded yet, by message id: attached as it is loaded. */
  expecting: Map<string, (delivery: Delivery) => void>;
  loading: Promise<void> | null;
  /** A load was asked for while one ran: run again, it may have missed rows. */
  missed: boolean;
  /** The last load stopped at the capacity, or did not run for lack of it: more may be due in the database. */
  spilled: boolean;
  /** Lane keys whose last load stopped at their share: more of theirs may be due. */
  spilledLanes: Set<string>;
  /** The last record could not be written: no new attempts until one is (see #record). */
  recordsFailing: boolean;
}

/** Who may load (see EventDeliverer#eligibility). */
interface Eligibility {
  bulk: boolean;
  /** Held lanes that may load, and how. */
  lanes: Map<string, Eligible>;
  others: Eligible;
}

interface Eligible {
  /** Up to its share, from the capacity's room. */
  bulk: boolean;
  /** Up to the floor, whatever the room. */
  floor: boolean;
}

interface Waiter {
  /** Answers the request; the first call wins. */
  settle(reply: Reply | undefined): void;
  /** Stops the deadline: from now on the request waits for `settle` (the answer is being recorded). */
  hold(): boolean;
}

const DEFAULT_CAPACITY = 10_000;
const LOAD_BATCH = 500;
/** Heads every client may hold on the status-callback endpoint whatever the others hold, per request slot. */
const FLOOR_PER_SLOT = 4;
const NOTHING: LaneShare = { max: 0, floor: 0 };
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
 * The database is the source of truth (see db/event-writes.ts). Each endpoint loads only what it can send: the
 * first pending delivery (head) of each conversation that is due, in the order they became due, up to its
 * capacity. A conversation's next delivery comes from the record of the one before (one transaction hands it the
 * place), so what waits behind a head is never in memory, and a head waiting for a retry sits on a timer that the
 * capacity does not count. However large the backlog, a new conversation's event is loaded as soon as the
 * deliveries ahead of it in due order are: a waiting event holds up its own conversation and nothing else.
 *
 * On the status-callback endpoint, whose URLs API clients choose, deliveries go in lanes, one per API key that sent
 * the message (PendingDelivery.laneKey): a lane has at most half the requests in flight and half the memory, and
 * every lane keeps a few heads loaded however full memory is, so one client's silent hosts hold up only that
 * client's callbacks. The load reads only lanes that may take something; a saturated lane's backlog costs nothing.
 *
 * A conversation's next delivery is sent only once the record of the one before is committed, so a crash repeats
 * at most the attempts in flight. The endpoint's concurrency slot, though, is freed as soon as it answers, so other
 * conversations do not wait for that commit.
 *
 * The shape ports to several instances sharing a database (claim due heads with a lease instead of holding them in
 * memory); this class is the single-instance form.
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
  /** Kept-alive connections: to the operator's endpoints, and (guarded) to messages' own callback URLs. */
  readonly #appAgents = createAgents();
  readonly #callbackAgents = createAgents();
  #poll: NodeJS.Timeout | null = null;
  #stopping = false;

  constructor(options: DelivererOptions) {
    this.#o = options;
    // Every request in flight listens to it (post.ts), far more than Node's default warning threshold of 10.
    setMaxListeners(0, this.#halt.signal);
    this.#now = options.now ?? Date.now;
    this.#capacity = options.capacity ?? DEFAULT_CAPACITY;
    for (const settings of options.endpoints) {
      const callbacks = settings.id === STATUS_CALLBACK_ENDPOINT;
      const share = callbacks ? Math.max(1, Math.ceil(this.#capacity / 2)) : this.#capacity;
      this.#lanes.set(settings.id, {
        settings,
        enabled: true,
        pausedUntil: 0,
        pauseTimer: null,
        inFlight: 0,
        heads: new Map(),
        ready: new Turns(),
        lanesInFlight: new Map(),
        // One client's silent callback hosts may take half the slots at most; the other half serves the rest.
        perLane: callbacks ? Math.max(1, Math.ceil(settings.concurrency / 2)) : settings.concurrency,
        holding: new Map(),
        share,
        floor: callbacks ? Math.min(share, FLOOR_PER_SLOT * settings.concurrency) : 0,
        waiting: 0,
        urgent: new Map(),
        received: new Map(),
        expecting: new Map(),
        loading: null,
        missed: false,
        spilled: false,
        spilledLanes: new Set(),
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
    this.#pump(lane);
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
        if (done || delivery.waiter !== null || this.#blocked(lane, delivery)) {
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
      // Registered before anything is loaded, so that whichever load brings the delivery in (this one, or a poll's
      // under way already) attaches this request before the delivery can start.
      lane.expecting.set(message.id, attach);
      const head = lane.heads.get(conversation);
      if (head && this.#blocked(lane, head)) {
        finish(undefined);
        return;
      }
      this.#o.store.loadDeliveryOf(lane.settings.id, message.id).then(
        (row) => {
          if (done || attached !== null) return;
          if (row && !lane.heads.has(row.conversation)) this.#add(lane, row);
          // Its conversation is in memory (an earlier event in flight): it comes next, and attaches then. Otherwise
          // an earlier event of this conversation waits in the database: order first, the answer comes later.
          else if (!lane.heads.has(conversation)) finish(undefined);
        },
        (err: unknown) => {
          this.#o.log.error({ err, messageId: message.id }, 'loading an event delivery failed');
          finish(undefined);
        },
      );
    });
  }

  /** Deliveries in memory (ready, in flight or waiting for a retry) and in flight, per endpoint (metrics). */
  stats(): Map<string, { pending: number; inFlight: number; enabled: boolean }> {
    return new Map(
      [...this.#lanes].map(([id, lane]) => [
        id,
        { pending: lane.heads.size, inFlight: lane.inFlight, enabled: lane.enabled },
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
      for (const delivery of lane.heads.values()) {
        if (delivery.timer) clearTimeout(delivery.timer);
        // One in flight answers its waiter itself (a held one with the inline reply, once recorded).
        if (!delivery.inFlight) this.#answer(delivery, undefined);
      }
    }
    for (const wake of [...this.#wakers]) wake();
    const grace = setTimeout(() => this.#halt.abort(new Error('stopping')), graceMs);
    while (this.#attempts.size > 0) await Promise.allSettled([...this.#attempts]);
    clearTimeout(grace);
    for (const agents of [this.#appAgents, this.#callbackAgents]) {
      agents.http.destroy();
      agents.https.destroy();
    }
  }

  #replyLane(): Lane | undefined {
    const id = this.#o.replies.endpointId;
    return id === null ? undefined : this.#lanes.get(id);
  }

  /** Whether a compute-mode request cannot have `delivery` answered now (then it answers the carrier at once). */
  #blocked(lane: Lane, delivery: Delivery): boolean {
    const head = lane.heads.get(delivery.conversation);
    // An event of this conversation is waiting for a retry: order comes first, so no inline answer.
    const waiting = head !== undefined && head.timer !== null;
    return waiting || !lane.enabled || lane.pausedUntil > performance.now();
  }

  /** Deliveries that count against the capacity: loaded and sendable, or in flight. */
  #held(lane: Lane): number {
    return lane.heads.size - lane.waiting;
  }

  #loadAll(): void {
    for (const lane of this.#lanes.values()) void this.#load(lane);
  }

  /**
   * Loads the endpoint's due heads up to its capacity, each lane key up to its share, and every lane up to the floor
   * whatever the others hold. Loading waits until there is room for half a share (or a lane is below half its
   * share, or half its floor): each load skips what is held already, so loading in halves keeps that cost to a few
   * rows per delivery, and a lane that may take nothing is not read at all. Never rejects.
   */
  #load(lane: Lane): Promise<void> {
    if (!lane.enabled || this.#stopping) return Promise.resolve();
    if (lane.loading) {
      lane.missed = true;
      return lane.loading;
    }
    if (!this.#worthLoading(this.#eligibility(lane))) {
      // Enough to send: the rest waits in the database, loaded as these go (see #freed).
      lane.spilled = true;
      return Promise.resolve();
    }
    const loading = (async () => {
      // Rows this load was given and did not take (their conversation is in memory): not asked for again.
      const skipped: number[] = [];
      try {
        do {
          lane.missed = false;
          const eligible = this.#eligibility(lane);
          if (!this.#worthLoading(eligible)) break;
          // Lanes held when this round began; any other is new, and may take what new lanes may.
          const held = new Set(lane.holding.keys());
          const shareOf = (laneKey: string) =>
            this.#shareOf(
              lane,
              laneKey,
              eligible.lanes.get(laneKey) ?? (held.has(laneKey) ? null : eligible.others),
            );
          while (lane.enabled && !this.#stopping) {
            const room = Math.max(0, this.#capacity - this.#held(lane));
            const budget = eligible.bulk ? Math.min(LOAD_BATCH, room) : 0;
            if (eligible.bulk && budget === 0) {
              // Filled to the capacity (floors were taken in the first pass): the rest waits in the database.
              lane.spilled = true;
              break;
            }
            const allowance: LaneAllowance = {
              lanes: [...new Set([...held, ...lane.holding.keys()])].map((laneKey) => ({
                laneKey,
                ...shareOf(laneKey),
              })),
              others: this.#shareOf(lane, null, eligible.others),
            };
            const shares = new Map(allowance.lanes.map((l) => [l.laneKey, l]));
            const shareIn = (laneKey: string) => shares.get(laneKey) ?? allowance.others;
            if (allowance.others.max === 0 && !allowance.lanes.some((l) => l.max > 0)) break;
            const now = this.#now();
            // What the lanes read hold and the database would answer as due (a head on a retry timer is not due
            // there yet, unless the wall clock jumped: then it is skipped too, and its own timer decides).
            const exclude = [...lane.heads.values()]
              .filter((d) => d.timer === null || d.attempts === 0 || d.nextAttemptAt <= now)
              .filter((d) => shareIn(d.laneKey).max > 0)
              .map((d) => d.id);
            const rows = await this.#o.store.loadDueDeliveries(
              lane.settings.id,
              now,
              [...exclude, ...skipped],
              budget,
              allowance,
            );
            const taken = new Map<string, number>();
            for (const row of rows) {
              taken.set(row.laneKey, (taken.get(row.laneKey) ?? 0) + 1);
              if (!this.#add(lane, row)) skipped.push(row.id);
            }
            // Which lanes stopped at their share (more of theirs may be due), and whether the budget ran out.
            let fromBudget = 0;
            for (const laneKey of new Set([...shares.keys(), ...taken.keys()])) {
              const share = shareIn(laneKey);
              if (share.max === 0) continue;
              const n = taken.get(laneKey) ?? 0;
              fromBudget += Math.max(0, n - share.floor);
              if (n >= share.max) lane.spilledLanes.add(laneKey);
              else lane.spilledLanes.delete(laneKey);
            }
            const stopped = budget > 0 && fromBudget >= budget;
            lane.spilled = stopped || !eligible.bulk;
            if (!stopped || rows.length === 0) break;
          }
        } while (lane.missed && !this.#stopping);
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

  /**
   * Who may load now. `bulk`: the endpoint has room for half a share; then each lane below half its share may fill
   * it. Whatever the room, a lane below half the floor may fill that. Lanes not held are `others`.
   */
  #eligibility(lane: Lane): Eligibility {
    const bulk = this.#capacity - this.#held(lane) > Math.floor(lane.share / 2);
    const lanes = new Map<string, Eligible>();
    for (const [laneKey, n] of lane.holding) {
      const eligible = {
        bulk: bulk && n < Math.ceil(lane.share / 2),
        floor: lane.floor > 0 && n < Math.ceil(lane.floor / 2),
      };
      if (eligible.bulk || eligible.floor) lanes.set(laneKey, eligible);
    }
    return { bulk, lanes, others: { bulk, floor: lane.floor > 0 } };
  }

  #worthLoading(eligible: Eligibility): boolean {
    return eligible.lanes.size > 0 || eligible.others.bulk || eligible.others.floor;
  }

  /** What a lane may take in one load (`laneKey` null: a lane not held). */
  #shareOf(lane: Lane, laneKey: string | null, eligible: Eligible | null): LaneShare {
    if (eligible === null) return NOTHING;
    const n = laneKey === null ? 0 : (lane.holding.get(laneKey) ?? 0);
    const floor = eligible.floor ? Math.max(0, lane.floor - n) : 0;
    return { max: Math.max(floor, eligible.bulk ? Math.max(0, lane.share - n) : 0), floor };
  }

  /**
   * A head of `laneKey` left memory or went to wait for a retry: load again if that lane stopped at its share and
   * is now below half of it (or of its floor), or if the last load stopped at the capacity and there is room again.
   * Lanes not held are loaded by the notices and polls.
   */
  #freed(lane: Lane, laneKey: string): void {
    if (!lane.enabled || this.#stopping) return;
    const n = lane.holding.get(laneKey) ?? 0;
    const bulk = this.#capacity - this.#held(lane) > Math.floor(lane.share / 2);
    const below =
      (bulk && n < Math.ceil(lane.share / 2)) || (lane.floor > 0 && n < Math.ceil(lane.floor / 2));
    if ((lane.spilledLanes.has(laneKey) && below) || (lane.spilled && bulk)) void this.#load(lane);
  }

  /** Counts a head for its lane's share (+1 when it is held, -1 when it leaves or waits for a retry). */
  #hold(lane: Lane, laneKey: string, delta: number): void {
    const n = (lane.holding.get(laneKey) ?? 0) + delta;
    if (n > 0) lane.holding.set(laneKey, n);
    else lane.holding.delete(laneKey);
  }

  /**
   * A due head joins the endpoint's ready conversations. False when its conversation is in memory already with
   * this delivery, or with one whose record is on its way (that record hands the conversation on, see #apply).
   */
  #add(lane: Lane, row: PendingDelivery): boolean {
    if (this.#stopping) return false;
    const known = lane.heads.get(row.conversation);
    if (known) {
      if (known.id === row.id || known.inFlight) return false;
      // The database has another first delivery for it, and no record of ours is under way: the one held was
      // deleted (its message folded into another, or removed) and its place handed on (see the migration's
      // trigger). It leaves memory; the new first one takes its place.
      this.#answer(known, undefined);
      this.#done(lane, known);
    }
    const delivery: Delivery = {
      ...row,
      inFlight: false,
      slot: false,
      timer: null,
      retryInMs: 0,
      waiter: null,
    };
    lane.heads.set(row.conversation, delivery);
    this.#hold(lane, delivery.laneKey, 1);
    lane.ready.add(row.conversation, delivery.laneKey);
    if (row.type === 'message.received' && lane.settings.id === this.#o.replies.endpointId) {
      lane.received.set(row.messageId, delivery);
      const attach = lane.expecting.get(row.messageId);
      if (attach) {
        lane.expecting.delete(row.messageId);
        attach(delivery);
      }
    }
    this.#pump(lane);
    return true;
  }

  /** Starts ready heads: those a compute request waits on first (past the concurrency), then the rest in turn. */
  #pump(lane: Lane): void {
    if (!lane.enabled || lane.recordsFailing || this.#stopping) return;
    const now = performance.now();
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
    const admits = (laneKey: string) => (lane.lanesInFlight.get(laneKey) ?? 0) < lane.perLane;
    while (lane.inFlight < lane.settings.concurrency && lane.ready.size > 0) {
      const conversation = lane.ready.take(admits);
      if (conversation === undefined) break;
      this.#start(lane, conversation);
    }
  }

  #start(lane: Lane, conversation: string): void {
    const delivery = lane.heads.get(conversation);
    if (!delivery || delivery.inFlight || delivery.timer !== null) return;
    delivery.inFlight = true;
    delivery.slot = true;
    lane.inFlight += 1;
    lane.lanesInFlight.set(delivery.laneKey, (lane.lanesInFlight.get(delivery.laneKey) ?? 0) + 1);
    const attempt = this.#attempt(lane, delivery).catch((err: unknown) => {
      // A bug, not an answer: the delivery stays at its conversation's head and is tried again later.
      this.#o.log.error({ err, deliveryId: delivery.id }, 'event delivery failed unexpectedly');
      this.#answer(delivery, undefined);
      if (delivery.inFlight) this.#wait(lane, delivery, RECORD_RETRY_MAX_MS);
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
      Math.floor(startedAt / 1000),
      delivery.payload,
      settings.secrets,
    );
    // A message's own callback URL was chosen by an API client: it connects only where the guard allows.
    const callback = settings.id === STATUS_CALLBACK_ENDPOINT;
    const guard = callback ? this.#o.callbackGuard : undefined;
    const post = await postEvent(delivery.url ?? settings.url, headers, delivery.payload, {
      timeoutMs: this.#o.timeoutMs,
      signal: this.#halt.signal,
      readBody: readsReply,
      agents: callback ? this.#callbackAgents : this.#appAgents,
      ...(guard && { guard }),
    });
    if (this.#halt.signal.aborted) {
      // Cut off by shutdown: not an answer from the app. It stays pending and is sent again after the restart.
      this.#answer(delivery, undefined);
      this.#keep(lane, delivery);
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
    if (recorded === null && inline !== undefined && !this.#stopping) {
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
    if (recorded === null) {
      // Stopping before the record could be written: the delivery is still pending in the database and is made
      // again after the restart (at least once).
      this.#answer(delivery, undefined);
      this.#keep(lane, delivery);
      return;
    }
    // Only now does the conversation move on: its next event is never sent before this one's record is durable.
    this.#answer(delivery, inline);
    this.#apply(lane, delivery, result, recorded);
  }

  /**
   * Writes an attempt's record; written again with backoff until it is (the app has its answer: the event is not
   * posted again for a failed write). While an endpoint's records fail, it starts no new attempts (see #pump), so
   * what waits for a record is bounded by its concurrency. Null: stopping came first, or `once` and it failed.
   */
  async #record(lane: Lane, result: DeliveryResult, once = false): Promise<RecordedDelivery | null> {
    for (let wait = RECORD_RETRY_MS; ; wait = Math.min(wait * 2, RECORD_RETRY_MAX_MS)) {
      try {
        const recorded = await this.#o.store.recordDelivery(result);
        if (lane.recordsFailing) {
          lane.recordsFailing = false;
          this.#pump(lane);
        }
        return recorded;
      } catch (err) {
        if (!lane.recordsFailing) {
          this.#o.log.error(
            { err, endpointId: lane.settings.id },
            'recording event deliveries fails; no new attempts until it works again',
          );
        }
        lane.recordsFailing = true;
        if (once || this.#stopping) return null;
        await this.#sleep(wait);
        if (this.#stopping) return null;
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
    delivery.retryInMs = 0;
    // The guard refused the address a message's callback URL resolves to: it was refused when the message was
    // sent, so the name has moved to a refused address since (or is made to: DNS rebinding). Ended at once rather
    // than retried for hours, which would only give such a name more chances; later events of the message get
    // their own attempt each.
    if (post?.refused) return { ...base, attempt: { ...attempt, outcome: 'dead' } };
    const status = post?.statusCode ?? null;
    let asked = 0;
    if (post?.retryAfterMs != null) {
      asked = Math.min(post.retryAfterMs, MAX_RETRY_AFTER_MS);
      // "Slow down" holds the whole endpoint, whether or not this delivery has attempts left; not the status
      // callbacks, whose URLs are as many as the messages (one of them must not hold up the others). A monotonic
      // time: stepping the wall clock back must not stretch it.
      if (status !== null && SLOW_DOWN.has(status) && lane.settings.id !== STATUS_CALLBACK_ENDPOINT) {
        lane.pausedUntil = Math.max(lane.pausedUntil, performance.now() + asked);
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
    delivery.retryInMs = wait;
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

  /** A recorded attempt: the conversation goes on with its next delivery, or its head waits for a retry. */
  #apply(lane: Lane, delivery: Delivery, result: DeliveryResult, recorded: RecordedDelivery): void {
    const { outcome } = result.attempt;
    this.#o.observe?.(lane.settings.id, outcome);
    if (!recorded.pending) {
      if (outcome === 'dead') {
        this.#o.log.warn(
          { endpointId: lane.settings.id, eventId: delivery.eventId, attempts: delivery.attempts + 1 },
          'event delivery dead: no attempts left',
        );
      }
      this.#done(lane, delivery);
      // Handed the conversation in the same transaction: it goes on at once, without a load.
      if (recorded.next) this.#add(lane, recorded.next);
      return;
    }
    delivery.attempts += 1;
    delivery.nextAttemptAt = result.nextAttemptAt;
    if (result.disable) {
      lane.enabled = false;
      this.#o.log.warn({ endpointId: lane.settings.id }, `endpoint disabled: ${result.disable.reason}`);
      this.#releaseWaiters(lane);
      // Sent first once the endpoint is enabled again.
      this.#keep(lane, delivery);
      return;
    }
    this.#wait(lane, delivery, delivery.retryInMs);
  }

  #releaseSlot(lane: Lane, delivery: Delivery): void {
    if (!delivery.slot) return;
    delivery.slot = false;
    lane.inFlight -= 1;
    const inFlight = (lane.lanesInFlight.get(delivery.laneKey) ?? 1) - 1;
    if (inFlight > 0) lane.lanesInFlight.set(delivery.laneKey, inFlight);
    else lane.lanesInFlight.delete(delivery.laneKey);
    this.#pump(lane);
  }

  /** The attempt is over and the delivery stays first in its conversation, ready to be tried again. */
  #keep(lane: Lane, delivery: Delivery): void {
    delivery.inFlight = false;
    this.#releaseSlot(lane, delivery);
    lane.ready.add(delivery.conversation, delivery.laneKey);
    this.#pump(lane);
  }

  /**
   * The attempt is over and the next is due in `ms`: a timer (monotonic) makes the head ready again. Beyond
   * `capacity` waiting heads, the head leaves memory instead; the database has it, and it is loaded when due.
   */
  #wait(lane: Lane, delivery: Delivery, ms: number): void {
    delivery.inFlight = false;
    this.#releaseSlot(lane, delivery);
    if (lane.waiting >= this.#capacity || this.#stopping) {
      this.#done(lane, delivery);
      return;
    }
    lane.waiting += 1;
    this.#hold(lane, delivery.laneKey, -1);
    delivery.timer = setTimeout(() => {
      delivery.timer = null;
      lane.waiting -= 1;
      this.#hold(lane, delivery.laneKey, 1);
      lane.ready.add(delivery.conversation, delivery.laneKey);
      this.#pump(lane);
    }, ms);
    delivery.timer.unref();
    // No longer counted against the capacity: loading may go on.
    this.#freed(lane, delivery.laneKey);
  }

  /** The delivery leaves memory (delivered, dead, gone, or left to the database). */
  #done(lane: Lane, delivery: Delivery): void {
    delivery.inFlight = false;
    this.#releaseSlot(lane, delivery);
    const held = delivery.timer === null;
    if (delivery.timer) {
      clearTimeout(delivery.timer);
      delivery.timer = null;
      lane.waiting -= 1;
    }
    if (lane.heads.get(delivery.conversation) === delivery) {
      lane.heads.delete(delivery.conversation);
      lane.ready.delete(delivery.conversation);
      if (held) this.#hold(lane, delivery.laneKey, -1);
    }
    if (lane.received.get(delivery.messageId) === delivery) lane.received.delete(delivery.messageId);
    this.#freed(lane, delivery.laneKey);
  }
}
