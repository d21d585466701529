import { setMaxListeners } from 'node:events';
import PQueue from 'p-queue';
import { MAX_RETRY_AFTER_MS, retryDelay, type BackoffOptions } from './backoff.js';
import { CircuitBreaker, type BreakerOptions, type BreakerState } from './circuit-breaker.js';
import { SwitchboardError } from './errors.js';
import { tryFit, type Fit } from './fit.js';
import type { Logger } from './logger.js';
import { PROVIDER_IDS, type ProviderId } from './message.js';
import { SegmentRateLimiter } from './rate-limiter.js';
import { chooseRoute, failoverCandidates, requestChannel, type Route, type RoutingTable } from './routing.js';
import { PROVIDER_SIDE, type Sender, type SendFailure } from './sending.js';
import type { AttemptRecord, OutboxItem, SendOutcome, Store } from './store.js';

/** One carrier's lane: its queue settings, validated at start. */
export interface LaneSettings {
  /** Segments per second; null: no limit. */
  mps: number | null;
  concurrency: number;
  /** Tries on this carrier, the first included, before the message fails over. */
  maxAttempts: number;
  timeoutMs: number;
  circuitBreaker: BreakerOptions;
}

export interface DispatcherOptions {
  store: Store;
  senders: ReadonlyMap<ProviderId, Sender>;
  lanes: ReadonlyMap<ProviderId, LaneSettings>;
  routing: RoutingTable;
  retry: BackoffOptions;
  log: Logger;
  /**
   * Outbox items each carrier holds in memory at most; beyond it they wait in the outbox and are loaded as its
   * queue drains. Per carrier, so that one carrier's backlog never holds up another's messages.
   * @default 10000
   */
  capacity?: number;
  /** The wall clock, for the times that are stored (attempts, next_attempt_at). @default Date.now */
  now?: () => number;
  /**
   * A monotonic clock for every wait in memory (retries, the circuit breaker, the rate limiter), so that a wall
   * clock stepped back or forward holds nothing up. @default performance.now
   */
  monotonic?: () => number;
  random?: () => number;
  /** Told of every decision once it is recorded, with what the store applied (metrics). */
  observe?: (applied: SendOutcome['kind'], attempt: AttemptRecord) => void;
}

export interface LaneStats {
  /** In memory for this carrier: queued, or waiting for a retry. */
  pending: number;
  inFlight: number;
  breaker: BreakerState;
}

interface Job {
  item: OutboxItem;
  /** Carriers this message has been on since it was loaded (failover never returns to one). */
  tried: Set<ProviderId>;
  timer: NodeJS.Timeout | null;
  /** When its next try is due, on the monotonic clock (the stored next_attempt_at is wall-clock time). */
  dueAt: number;
  /** Time has passed since the opt-out check (a retry, a failover): check again before sending. */
  recheck: boolean;
}

interface Lane {
  id: ProviderId;
  sender: Sender;
  settings: LaneSettings;
  queue: PQueue;
  limiter: SegmentRateLimiter;
  breaker: CircuitBreaker;
  inFlight: number;
  /** Jobs of this carrier in memory. */
  jobs: number;
  /** Some of this carrier's outbox rows are not in memory: load them as room frees up. */
  spilled: boolean;
  /** Rows were committed while a load was running: the load may have missed them. */
  missed: boolean;
  /** The highest message id of this carrier loaded into memory; rows after it may wait in the outbox. */
  cursor: string | null;
  loading: Promise<void> | null;
}

const DEFAULT_CAPACITY = 10_000;
/** Node's default warning threshold for listeners on one emitter. */
const DEFAULT_MAX_LISTENERS = 10;
/** While a circuit's probe is out, messages with nowhere else to go look again this often. */
const PROBE_POLL_MS = 250;
/** A decision that could not be committed is written again after this, doubling up to the maximum. */
const RECORD_RETRY_MS = 500;
const RECORD_RETRY_MAX_MS = 30_000;

/**
 * Delivers the outbox: one p-queue per carrier (its concurrency), paced by segments per second, with retries,
 * failover and a circuit breaker per carrier.
 *
 * The outbox is the source of truth. Messages enter memory when they are enqueued (notify) or, at start and after
 * a carrier's share of memory filled up, from the outbox itself (refill); a message leaves memory only after the
 * carrier's answer is committed. A crash therefore loses nothing: at the next start every outbox row is sent, and
 * only a message in flight at the moment of the crash can be sent twice.
 *
 * Invariant: every decision (accepted, retry, failover, failed) is committed before it takes effect in memory; one
 * that cannot be committed is kept in memory and written again, never acted on.
 */
export class Dispatcher {
  readonly #o: DispatcherOptions;
  readonly #lanes = new Map<ProviderId, Lane>();
  readonly #jobs = new Map<string, Job>();
  readonly #capacity: number;
  readonly #now: () => number;
  readonly #monotonic: () => number;
  /** Aborted when stopping begins: ends waits for the rate limiter. */
  readonly #halt = new AbortController();
  /** Aborted at the shutdown deadline: cuts off sends still in flight. */
  readonly #deadline = new AbortController();
  #stopping = false;
  readonly #running = new Set<Promise<void>>();
  readonly #retryTimers = new Set<NodeJS.Timeout>();

  constructor(options: DispatcherOptions) {
    this.#o = options;
    this.#capacity = options.capacity ?? DEFAULT_CAPACITY;
    this.#now = options.now ?? Date.now;
    this.#monotonic = options.monotonic ?? (() => performance.now());
    let concurrency = 0;
    for (const [id, sender] of options.senders) {
      const settings = options.lanes.get(id);
      if (!settings) throw new TypeError(`Expected queue settings for provider \`${id}\``);
      this.#lanes.set(id, {
        id,
        sender,
        settings,
        queue: new PQueue({ concurrency: settings.concurrency }),
        limiter: new SegmentRateLimiter(settings.mps, this.#monotonic),
        breaker: new CircuitBreaker(settings.circuitBreaker, this.#monotonic),
        inFlight: 0,
        jobs: 0,
        spilled: true,
        missed: false,
        cursor: null,
        loading: null,
      });
      concurrency += settings.concurrency;
    }
    // A send in flight listens to each signal once at most (the rate limiter's wait, then the carrier call), so
    // their listeners never outnumber the lanes' concurrency; past Node's default of 10 it warned of a leak that
    // is not one. Bounded rather than unlimited, so a real leak still warns.
    setMaxListeners(concurrency + DEFAULT_MAX_LISTENERS, this.#halt.signal, this.#deadline.signal);
  }

  /**
   * Starts delivering what the outbox holds (messages left by a previous run), including rows for a carrier that
   * is no longer configured, which are routed again.
   */
  start(): void {
    for (const lane of this.#lanes.values()) this.#refill(lane);
    for (const provider of PROVIDER_IDS) {
      if (!this.#lanes.has(provider)) this.#track(this.#reroute(provider));
    }
  }

  /** Messages just committed to the outbox. */
  notify(items: readonly OutboxItem[]): void {
    for (const item of items) {
      if (this.#stopping) return;
      const lane = this.#lanes.get(item.provider);
      if (!lane) continue; // the API only queues for configured carriers; a refill would find it anyway
      if (lane.spilled || lane.jobs >= this.#capacity) {
        // Left in the outbox; a refill will load it (and everything after it) in order.
        lane.spilled = true;
        lane.missed = true;
        continue;
      }
      this.#admit(item, false);
    }
  }

  stats(): Map<ProviderId, LaneStats> {
    const stats = new Map<ProviderId, LaneStats>();
    for (const lane of this.#lanes.values()) {
      stats.set(lane.id, { pending: lane.jobs, inFlight: lane.inFlight, breaker: lane.breaker.state });
    }
    return stats;
  }

  /** Resolves when nothing is left in memory or unloaded in the outbox (tests, benchmarks). */
  async idle(): Promise<void> {
    const busy = () =>
      this.#jobs.size > 0 || this.#running.size > 0 || [...this.#lanes.values()].some((l) => l.spilled);
    while (busy() && !this.#stopping) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  /**
   * Stops sending: nothing new starts; sends in flight get `graceMs` to finish and be recorded. Past it, they are
   * cut off (those whose SDK cannot be aborted are left to finish unrecorded); either way their messages stay in
   * the outbox and go out at the next start.
   */
  async stop(graceMs: number): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    for (const job of this.#jobs.values()) if (job.timer) clearTimeout(job.timer);
    for (const timer of this.#retryTimers) clearTimeout(timer);
    for (const lane of this.#lanes.values()) lane.queue.clear();
    this.#halt.abort(new Error('stopping'));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.#deadline.abort(new Error('shutdown deadline passed'));
        resolve();
      }, graceMs);
    });
    const drained = (async () => {
      while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
      for (const lane of this.#lanes.values()) if (lane.loading) await lane.loading;
    })();
    await Promise.race([drained, deadline]);
    clearTimeout(timer);
  }

  /** @param recheck the opt-out list may have changed since the row was checked: check again before sending */
  #admit(item: OutboxItem, recheck: boolean): void {
    if (this.#jobs.has(item.messageId)) return;
    // The stored time is converted once, on arrival; from here on the wait is measured on the monotonic clock.
    const dueAt = this.#monotonic() + Math.max(0, item.nextAttemptAt - this.#now());
    const job: Job = { item, tried: new Set([item.provider]), timer: null, dueAt, recheck };
    this.#jobs.set(item.messageId, job);
    const lane = this.#lanes.get(item.provider);
    if (lane) {
      lane.jobs += 1;
      if (lane.cursor === null || item.messageId > lane.cursor) lane.cursor = item.messageId;
    }
    if (item.optedOut) {
      // Opted out since it was queued (the outbox query checks): not sent.
      this.#track(this.#commit(job, optedOutFailure(job, this.#now())));
      return;
    }
    this.#schedule(job);
  }

  /** Queues the job on its carrier's lane now, or when its next try is due. */
  #schedule(job: Job): void {
    if (this.#stopping) return;
    const wait = job.dueAt - this.#monotonic();
    if (wait > 0) {
      job.timer = setTimeout(() => {
        job.timer = null;
        this.#enqueue(job);
      }, wait);
      return;
    }
    this.#enqueue(job);
  }

  #enqueue(job: Job): void {
    if (this.#stopping) return;
    const lane = this.#lanes.get(job.item.provider);
    if (!lane) return; // unreachable: jobs only move to configured carriers
    // Tracked from the moment it runs: a task still waiting in the queue at shutdown is dropped (queue.clear),
    // and its message stays in the outbox.
    void lane.queue.add(() => this.#track(this.#attempt(lane, job)));
  }

  async #attempt(lane: Lane, job: Job): Promise<void> {
    if (this.#stopping) return;
    if (job.recheck) {
      job.recheck = false;
      // The recipient refuses the message; a group's other participants who opted out are only left out of it.
      const { to, from, cc } = job.item;
      const optedOut = await this.#o.store.optedOutAmong([to, ...cc], from);
      if (optedOut.includes(to)) return this.#commit(job, optedOutFailure(job, this.#now()));
      if (optedOut.length > 0) job.item = { ...job.item, cc: cc.filter((n) => !optedOut.includes(n)) };
    }
    if (!lane.breaker.tryPass()) return this.#circuitOpen(lane, job);
    const { item } = job;
    try {
      await lane.limiter.acquire(weight(item), this.#halt.signal);
    } catch {
      lane.breaker.release();
      return; // stopping: the message stays in the outbox
    }
    const startedAt = this.#now();
    const started = this.#monotonic();
    lane.inFlight += 1;
    let outcome: SendOutcome | null = null;
    let failure: SendFailure | null = null;
    try {
      // Each SDK client has the lane's timeout built in; the signal only cuts calls off at the shutdown deadline.
      const result = await lane.sender.send(
        {
          messageId: item.messageId,
          channel: item.channel,
          from: item.from === '' ? null : item.from,
          to: item.to,
          cc: item.cc,
          body: item.body,
          media: item.media,
        },
        this.#deadline.signal,
      );
      lane.breaker.onSuccess();
      outcome = {
        kind: 'accepted',
        messageId: item.messageId,
        attempt: this.#attemptRecord(lane.id, startedAt, this.#monotonic() - started, null),
        providerMessageId: result.providerMessageId,
        providerStatus: result.providerStatus,
        from: result.from,
        // Who it went to: the stored cc follows when participants were left out since it was queued.
        cc: item.cc,
      };
    } catch (err) {
      failure = lane.sender.classify(err);
    } finally {
      lane.inFlight -= 1;
    }
    // The carrier has answered: the lane's slot (an API call in flight) is free for the next message while the
    // answer is committed. Holding it through the commit's fsync kept fewer calls in flight than `concurrency`.
    if (outcome) {
      void this.#track(this.#commit(job, outcome));
      return;
    }
    if (this.#deadline.signal.aborted) {
      // Cut off by shutdown: not the carrier's fault and not an answer; the outbox row sends it next time.
      lane.breaker.release();
      return;
    }
    const attempt = this.#attemptRecord(lane.id, startedAt, this.#monotonic() - started, failure);
    void this.#track(this.#onFailure(lane, job, failure as SendFailure, attempt));
  }

  async #onFailure(lane: Lane, job: Job, failure: SendFailure, attempt: AttemptRecord): Promise<void> {
    const { item } = job;
    const attempts = item.attempts + 1;
    // The circuit counts the carrier's own failures. A 429 or a refused sender number shows the carrier working.
    if (failure.class === 'transient' || failure.class === 'provider') lane.breaker.onFailure();
    else lane.breaker.onSuccess();
    if (!PROVIDER_SIDE.has(failure.class)) {
      // The message cannot go (through anyone). No failover.
      this.#o.log.info(
        { messageId: item.messageId, provider: lane.id, errorClass: failure.class, errorCode: failure.code },
        'message refused by the carrier',
      );
      return this.#commit(job, {
        kind: 'failed',
        messageId: item.messageId,
        attempt,
        optOut: failure.class === 'opted_out',
      });
    }
    // One sender number over its limit (Twilio 21611): only this message slows down; the carrier's other senders
    // are fine. Its queue at the carrier drains slowly, so a quick retry would only be refused again.
    const senderLimited = failure.class === 'rate_limited' && failure.senderLimited === true;
    if (failure.class === 'rate_limited' && failure.retryAfterMs !== null && !senderLimited) {
      // The whole account is over its limit, not just this message: hold the lane.
      lane.limiter.pauseUntil(this.#monotonic() + Math.min(failure.retryAfterMs, MAX_RETRY_AFTER_MS));
    }
    const retryable =
      (failure.class === 'transient' || failure.class === 'rate_limited') &&
      attempts < lane.settings.maxAttempts;
    this.#o.log.warn(
      {
        messageId: item.messageId,
        provider: lane.id,
        errorClass: failure.class,
        errorCode: failure.code,
        httpStatus: failure.httpStatus,
        attempt: attempts,
      },
      retryable ? 'send failed; will retry' : 'send failed; failing over',
    );
    if (retryable) {
      const delay = senderLimited
        ? Math.min(Math.max(this.#o.retry.maxDelayMs, failure.retryAfterMs ?? 0), MAX_RETRY_AFTER_MS)
        : retryDelay(attempts, this.#o.retry, failure.retryAfterMs, this.#o.random);
      // Stored as a wall-clock time (for the next start); waited for in memory on the monotonic clock. Only
      // acted on once committed (see #commit).
      job.dueAt = this.#monotonic() + delay;
      const nextAttemptAt = this.#now() + delay;
      return this.#commit(job, { kind: 'retry', messageId: item.messageId, attempt, nextAttemptAt });
    }
    return this.#failoverOrFail(job, attempt);
  }

  /**
   * The carriers this message can fail over to, in failover order, each with the message measured by its own rules
   * (segments, encoding); and why the others that carry its channel were passed over (a body that fits one carrier
   * can exceed another's limits).
   */
  #failoverRoutes(job: Job): { routes: (Route & Fit)[]; refused: string[] } {
    const { item } = job;
    const routes: (Route & Fit)[] = [];
    const refused: string[] = [];
    const channel = requestChannel(item.channel);
    for (const route of failoverCandidates(this.#o.routing, item.provider, job.tried, channel)) {
      const lane = this.#lanes.get(route.provider);
      if (!lane) continue;
      const checked = tryFit(route.provider, lane.sender.limits, {
        channel: item.channel,
        body: item.body,
        mediaCount: item.media.length,
        cc: item.cc,
        from: route.from,
      });
      if (checked.ok) routes.push({ ...route, ...checked.fit });
      else refused.push(checked.error.message);
    }
    return { routes, refused };
  }

  /** The carrier's circuit is open: move the message to a carrier that is up, or wait for the probe. */
  async #circuitOpen(lane: Lane, job: Job): Promise<void> {
    const up = this.#failoverRoutes(job).routes.some(
      (r) => this.#lanes.get(r.provider)?.breaker.available === true,
    );
    if (up) {
      const attempt: AttemptRecord = {
        provider: lane.id,
        errorClass: 'circuit_open',
        errorCode: null,
        errorMessage: `${lane.id} circuit is open`,
        httpStatus: null,
        startedAt: this.#now(),
        durationMs: 0,
      };
      return this.#failoverOrFail(job, attempt);
    }
    // Nowhere else to go: wait on this carrier until its circuit lets a probe through (not a try).
    job.dueAt = Math.max(lane.breaker.retryAt(), this.#monotonic() + PROBE_POLL_MS);
    this.#schedule(job);
  }

  /**
   * Moves the message to the next carrier in the failover order that can take it (preferring one that is up), or
   * fails it; when carriers were passed over because the message does not fit them, the failure says so
   * (`no_fitting_carrier`) while the attempt keeps the carrier's own error.
   */
  async #failoverOrFail(job: Job, attempt: AttemptRecord): Promise<void> {
    const { item } = job;
    const { routes, refused } = this.#failoverRoutes(job);
    const next = routes.find((r) => this.#lanes.get(r.provider)?.breaker.available === true) ?? routes[0];
    if (next) {
      this.#o.log.warn(
        { messageId: item.messageId, from: item.provider, to: next.provider },
        'message failing over',
      );
      return this.#commit(job, {
        kind: 'failover',
        messageId: item.messageId,
        attempt,
        provider: next.provider,
        from: next.from,
        segments: next.segments,
        encoding: next.encoding,
        nextAttemptAt: this.#now(),
      });
    }
    if (refused.length > 0) {
      this.#o.log.warn(
        { messageId: item.messageId, provider: item.provider, refused },
        'message failed: no other carrier can take it',
      );
    }
    const why = `${item.provider}: ${attempt.errorMessage ?? attempt.errorCode ?? 'failed'}`;
    return this.#commit(job, {
      kind: 'failed',
      messageId: item.messageId,
      attempt,
      optOut: false,
      ...(refused.length > 0 && {
        reason: { code: 'no_fitting_carrier', message: `${why}; not failed over: ${refused.join(' ')}` },
      }),
    });
  }

  /** Commits a decision, then applies it in memory (as the store applied it). */
  async #commit(job: Job, outcome: SendOutcome, delayMs = RECORD_RETRY_MS): Promise<void> {
    let applied: SendOutcome['kind'];
    try {
      applied = await this.#o.store.recordSend(outcome);
    } catch (err) {
      if (this.#stopping) {
        // Left in the outbox: sent (again, if it was accepted) at the next start.
        this.#o.log.error({ err, messageId: outcome.messageId }, 'recording a send failed while stopping');
        this.#release(job);
        return;
      }
      // Written again later, never acted on meanwhile: in particular an accepted message is not sent again.
      this.#o.log.error(
        { err, messageId: outcome.messageId },
        'recording a send failed; will write it again',
      );
      const timer = setTimeout(() => {
        this.#retryTimers.delete(timer);
        this.#track(this.#commit(job, outcome, Math.min(delayMs * 2, RECORD_RETRY_MAX_MS)));
      }, delayMs);
      this.#retryTimers.add(timer);
      return;
    }
    this.#o.observe?.(applied, outcome.attempt);
    if (applied === 'retry') {
      job.recheck = true;
      job.item = {
        ...job.item,
        attempts: job.item.attempts + 1,
        nextAttemptAt: (outcome as { nextAttemptAt: number }).nextAttemptAt,
      };
      this.#schedule(job);
    } else if (applied === 'failover' && outcome.kind === 'failover') {
      // The store checked the recipient against the new sender; a group's other participants are checked before
      // the send (see #attempt).
      if (job.item.cc.length > 0) job.recheck = true;
      job.tried.add(outcome.provider);
      this.#move(job, outcome.provider);
      job.item = {
        ...job.item,
        provider: outcome.provider,
        from: outcome.from,
        // The new carrier's count: its rate limiter is charged what it meters.
        segments: outcome.segments,
        attempts: 0,
        nextAttemptAt: outcome.nextAttemptAt,
      };
      job.dueAt = this.#monotonic(); // a failover is tried at once
      this.#schedule(job);
    } else {
      // accepted, failed (or a failover the store turned into a failure: the new sender's recipient opted out)
      this.#release(job);
    }
  }

  #move(job: Job, to: ProviderId): void {
    const from = this.#lanes.get(job.item.provider);
    if (from) from.jobs -= 1;
    const lane = this.#lanes.get(to);
    if (lane) lane.jobs += 1;
  }

  #release(job: Job): void {
    if (!this.#jobs.delete(job.item.messageId)) return;
    const lane = this.#lanes.get(job.item.provider);
    if (!lane) return;
    lane.jobs -= 1;
    if (lane.spilled && lane.jobs <= this.#capacity / 2) this.#refill(lane);
  }

  /** Loads a carrier's outbox rows after its cursor until its share of memory is full or the outbox has no more. */
  #refill(lane: Lane): void {
    if (lane.loading || this.#stopping) return;
    // Full: nothing to load now (a load that ended synchronously would also clear `loading` before it is set).
    if (this.#capacity - lane.jobs <= 0) return;
    const loading = (async () => {
      try {
        while (!this.#stopping) {
          const room = this.#capacity - lane.jobs;
          if (room <= 0) return;
          lane.missed = false;
          const rows = await this.#o.store.loadOutbox(lane.id, lane.cursor, room);
          // The outbox query has just checked the opt-out list (row.optedOut): no second check needed.
          for (const row of rows) this.#admit(row, false);
          if (rows.length < room && !lane.missed) {
            lane.spilled = false;
            return;
          }
        }
      } catch (err) {
        // The store is failing; try again shortly rather than leave the outbox unread.
        this.#o.log.error({ err, provider: lane.id }, 'loading the outbox failed; retrying');
        const timer = setTimeout(() => {
          this.#retryTimers.delete(timer);
          this.#refill(lane);
        }, 1000);
        this.#retryTimers.add(timer);
      }
    })();
    lane.loading = loading;
    // Cleared once settled, and only if no later load has taken its place.
    void loading.finally(() => {
      if (lane.loading === loading) lane.loading = null;
    });
  }

  /**
   * Outbox rows for a carrier that is no longer configured (the configuration changed between runs): routed again
   * as a new message would be, with the new carrier's sender, or failed when no carrier can take them.
   */
  async #reroute(provider: ProviderId): Promise<void> {
    let cursor: string | null = null;
    for (;;) {
      const rows = await this.#o.store.loadOutbox(provider, cursor, 500);
      if (rows.length === 0 || this.#stopping) return;
      for (const row of rows) {
        cursor = row.messageId;
        const job: Job = { item: row, tried: new Set([provider]), timer: null, dueAt: 0, recheck: true };
        this.#jobs.set(row.messageId, job);
        const attempt = this.#attemptRecord(provider, this.#now(), 0, unconfigured());
        const routed = this.#routeAgain(row);
        await this.#commit(
          job,
          'refused' in routed
            ? {
                kind: 'failed',
                messageId: row.messageId,
                attempt,
                optOut: false,
                ...(routed.refused !== null && {
                  reason: { code: 'no_fitting_carrier', message: routed.refused },
                }),
              }
            : { kind: 'failover', messageId: row.messageId, attempt, ...routed, nextAttemptAt: this.#now() },
        );
      }
    }
  }

  /**
   * A row of a removed carrier, routed as a new message would be (its channel, the new carrier's limits). `refused`:
   * why the carrier routing picked cannot take it, or null when no carrier can send it at all.
   */
  #routeAgain(row: OutboxItem): (Route & Fit) | { refused: string | null } {
    let route: Route;
    try {
      route = chooseRoute(this.#o.routing, row.to, null, undefined, requestChannel(row.channel));
    } catch (err) {
      if (err instanceof SwitchboardError) return { refused: null };
      throw err;
    }
    const lane = this.#lanes.get(route.provider);
    if (!lane) return { refused: null };
    const checked = tryFit(route.provider, lane.sender.limits, {
      channel: row.channel,
      body: row.body,
      mediaCount: row.media.length,
      cc: row.cc,
      from: route.from,
    });
    return checked.ok ? { ...route, ...checked.fit } : { refused: checked.error.message };
  }

  /** @param startedAt wall clock, as stored; @param durationMs measured on the monotonic clock */
  #attemptRecord(
    provider: ProviderId,
    startedAt: number,
    durationMs: number,
    failure: SendFailure | null,
  ): AttemptRecord {
    return {
      provider,
      errorClass: failure?.class ?? null,
      errorCode: failure?.code ?? null,
      errorMessage: failure?.message ?? null,
      httpStatus: failure?.httpStatus ?? null,
      startedAt,
      durationMs: Math.round(durationMs),
    };
  }

  /** Never rejects: a bug in one dispatch is logged and must not stop the lane. */
  #track(work: Promise<void>): Promise<void> {
    const tracked = work.catch((err: unknown) => {
      this.#o.log.error({ err }, 'dispatch failed');
    });
    this.#running.add(tracked);
    void tracked.finally(() => this.#running.delete(tracked));
    return tracked;
  }
}

/**
 * What a message costs against the carrier's rate: its segments as that carrier counts them (an MMS, a group MMS or
 * a WhatsApp message is metered as one message).
 */
function weight(item: OutboxItem): number {
  if (item.media.length > 0 || item.cc.length > 0) return 1;
  return Math.max(1, item.segments ?? 1);
}

function unconfigured(): SendFailure {
  return {
    class: 'provider',
    code: 'provider_not_configured',
    message: 'the carrier is no longer configured for sending',
    httpStatus: null,
    retryAfterMs: null,
  };
}

/** The recipient opted out of this sender after the message was queued: it fails without a call. */
function optedOutFailure(job: Job, now: number): SendOutcome {
  return {
    kind: 'failed',
    messageId: job.item.messageId,
    attempt: {
      provider: job.item.provider,
      errorClass: 'opted_out',
      errorCode: 'recipient_opted_out',
      errorMessage: 'the recipient opted out of messages from this sender after the message was queued',
      httpStatus: null,
      startedAt: now,
      durationMs: 0,
    },
    optOut: false,
  };
}
