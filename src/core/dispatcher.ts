import PQueue from 'p-queue';
import { retryDelay, type BackoffOptions } from './backoff.js';
import { CircuitBreaker, type BreakerOptions, type BreakerState } from './circuit-breaker.js';
import type { Logger } from './logger.js';
import type { ProviderId } from './message.js';
import { SegmentRateLimiter } from './rate-limiter.js';
import { failoverCandidates, type RoutingTable } from './routing.js';
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
   * Outbox items held in memory at most; beyond it they wait in the outbox and are loaded as the queues drain.
   * @default 10000
   */
  capacity?: number;
  now?: () => number;
  random?: () => number;
}

export interface LaneStats {
  /** Waiting in memory for this carrier: queued or waiting for a retry. */
  pending: number;
  inFlight: number;
  breaker: BreakerState;
}

interface Job {
  item: OutboxItem;
  /** Carriers this message has been on since it was loaded (failover never returns to one). */
  tried: Set<ProviderId>;
  timer: NodeJS.Timeout | null;
}

interface Lane {
  id: ProviderId;
  sender: Sender;
  settings: LaneSettings;
  queue: PQueue;
  limiter: SegmentRateLimiter;
  breaker: CircuitBreaker;
  inFlight: number;
}

const DEFAULT_CAPACITY = 10_000;
const PROBE_POLL_MS = 250;

/**
 * Delivers the outbox: one p-queue per carrier (its concurrency), paced by segments per second, with retries,
 * failover and a circuit breaker per carrier.
 *
 * The outbox is the source of truth. Messages enter memory when they are enqueued (notify) or, at start and after
 * memory filled up, from the outbox itself (refill); a message leaves memory only after the carrier's answer is
 * committed. A crash therefore loses nothing: at the next start every outbox row is sent, and only a message in
 * flight at the moment of the crash can be sent twice.
 *
 * Invariant: every decision (accepted, retry, failover, failed) is committed before it takes effect in memory.
 */
export class Dispatcher {
  readonly #o: DispatcherOptions;
  readonly #lanes = new Map<ProviderId, Lane>();
  readonly #jobs = new Map<string, Job>();
  readonly #capacity: number;
  readonly #now: () => number;
  /** Aborts waits for the rate limiter and, past the shutdown deadline, sends still in flight. */
  readonly #stop = new AbortController();
  #stopping = false;
  readonly #running = new Set<Promise<void>>();
  /** Some outbox rows are not in memory: load them as room frees up. */
  #spilled = true;
  /** Rows were committed while a load was running: the load may have missed them. */
  #missed = false;
  /** The highest message id loaded into memory; rows after it may be waiting in the outbox. */
  #cursor: string | null = null;
  #loading: Promise<void> | null = null;

  constructor(options: DispatcherOptions) {
    this.#o = options;
    this.#capacity = options.capacity ?? DEFAULT_CAPACITY;
    this.#now = options.now ?? Date.now;
    for (const [id, sender] of options.senders) {
      const settings = options.lanes.get(id);
      if (!settings) throw new TypeError(`Expected queue settings for provider \`${id}\``);
      this.#lanes.set(id, {
        id,
        sender,
        settings,
        queue: new PQueue({ concurrency: settings.concurrency }),
        limiter: new SegmentRateLimiter(settings.mps),
        breaker: new CircuitBreaker(settings.circuitBreaker, this.#now),
        inFlight: 0,
      });
    }
  }

  /** Starts delivering: loads whatever the outbox holds (messages left by a previous run). */
  start(): void {
    this.#refill();
  }

  /** Messages just committed to the outbox. */
  notify(items: readonly OutboxItem[]): void {
    for (const item of items) {
      if (this.#stopping) return;
      if (this.#spilled || this.#jobs.size >= this.#capacity) {
        // Left in the outbox; a refill will load it (and everything after it) in order.
        this.#spilled = true;
        this.#missed = true;
        continue;
      }
      this.#admit(item);
    }
  }

  stats(): Map<ProviderId, LaneStats> {
    const stats = new Map<ProviderId, LaneStats>();
    for (const lane of this.#lanes.values()) {
      stats.set(lane.id, { pending: 0, inFlight: lane.inFlight, breaker: lane.breaker.state });
    }
    for (const job of this.#jobs.values()) {
      const s = stats.get(job.item.provider);
      if (s) s.pending += 1;
    }
    return stats;
  }

  /** Resolves when nothing is left in memory or in the outbox's view of this process (tests, benchmarks). */
  async idle(): Promise<void> {
    while (this.#jobs.size > 0 || this.#spilled || this.#running.size > 0) {
      if (this.#stopping) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /**
   * Stops sending: nothing new starts; sends in flight get until `graceMs` to finish and be recorded, then are
   * abandoned (they stay in the outbox and go out at the next start). Resolves when no store write is pending.
   */
  async stop(graceMs: number): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    for (const job of this.#jobs.values()) if (job.timer) clearTimeout(job.timer);
    for (const lane of this.#lanes.values()) lane.queue.clear();
    const deadline = setTimeout(() => this.#stop.abort(new Error('shutdown deadline passed')), graceMs);
    try {
      // Sends waiting on the rate limiter end at once; those already talking to a carrier get the grace period.
      while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
      if (this.#loading) await this.#loading;
    } finally {
      clearTimeout(deadline);
      this.#stop.abort(new Error('stopped'));
    }
  }

  #admit(item: OutboxItem): void {
    if (this.#jobs.has(item.messageId)) return;
    const job: Job = { item, tried: new Set([item.provider]), timer: null };
    this.#jobs.set(item.messageId, job);
    if (this.#cursor === null || item.messageId > this.#cursor) this.#cursor = item.messageId;
    this.#schedule(job);
  }

  /** Queues the job on its carrier's lane now, or when its next try is due. */
  #schedule(job: Job): void {
    if (this.#stopping) return;
    const wait = job.item.nextAttemptAt - this.#now();
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
    if (!lane) {
      // An outbox row for a carrier no longer configured (the configuration changed between runs).
      const attempt = this.#attemptRecord(job.item.provider, this.#now(), unconfigured());
      this.#track(this.#failoverOrFail(job, attempt, false));
      return;
    }
    // Tracked from the moment it runs: a task still waiting in the queue at shutdown is dropped (queue.clear),
    // and its message stays in the outbox.
    void lane.queue.add(() => this.#track(this.#attempt(lane, job)));
  }

  async #attempt(lane: Lane, job: Job): Promise<void> {
    if (this.#stopping) return;
    if (!lane.breaker.tryPass()) return this.#circuitOpen(lane, job);
    const { item } = job;
    try {
      await lane.limiter.acquire(weight(item), this.#stop.signal);
    } catch {
      lane.breaker.release();
      return; // stopping: the message stays in the outbox
    }
    if (this.#stopping) {
      lane.breaker.release();
      return;
    }
    const startedAt = this.#now();
    // Each SDK client has the lane's timeout built in; the signal only cuts calls off at the shutdown deadline.
    const signal = this.#stop.signal;
    lane.inFlight += 1;
    let outcome: SendOutcome | null = null;
    let failure: SendFailure | null = null;
    try {
      const result = await lane.sender.send(
        {
          messageId: item.messageId,
          from: item.from === '' ? null : item.from,
          to: item.to,
          body: item.body,
          media: item.media,
        },
        signal,
      );
      lane.breaker.onSuccess();
      outcome = {
        kind: 'accepted',
        messageId: item.messageId,
        attempt: this.#attemptRecord(lane.id, startedAt, null),
        providerMessageId: result.providerMessageId,
        providerStatus: result.providerStatus,
        from: result.from,
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
    if (this.#stop.signal.aborted) {
      // Cut off by shutdown: not the carrier's fault and not an answer; the outbox row sends it next time.
      lane.breaker.release();
      return;
    }
    void this.#track(this.#onFailure(lane, job, failure as SendFailure, startedAt));
  }

  async #onFailure(lane: Lane, job: Job, failure: SendFailure, startedAt: number): Promise<void> {
    const { item } = job;
    const attempt = this.#attemptRecord(lane.id, startedAt, failure);
    const attempts = item.attempts + 1;
    if (!PROVIDER_SIDE.has(failure.class)) {
      // The carrier works; the message cannot go (to anyone). No failover.
      lane.breaker.onSuccess();
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
    if (failure.class === 'rate_limited') {
      // The whole account is over its limit, not just this message: hold the lane.
      if (failure.retryAfterMs !== null) lane.limiter.pauseUntil(performance.now() + failure.retryAfterMs);
    } else {
      lane.breaker.onFailure();
    }
    const retryable = failure.class !== 'provider' && attempts < lane.settings.maxAttempts;
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
      const nextAttemptAt =
        this.#now() + retryDelay(attempts, this.#o.retry, failure.retryAfterMs, this.#o.random);
      return this.#commit(job, { kind: 'retry', messageId: item.messageId, attempt, nextAttemptAt });
    }
    return this.#failoverOrFail(job, attempt, true);
  }

  /** The carrier's circuit is open: move the message to a carrier that is up, or wait for the probe. */
  async #circuitOpen(lane: Lane, job: Job): Promise<void> {
    const candidates = failoverCandidates(this.#o.routing, lane.id, job.tried).filter(
      (r) => this.#lanes.get(r.provider)?.breaker.available === true,
    );
    if (candidates.length > 0) {
      const attempt: AttemptRecord = {
        provider: lane.id,
        errorClass: 'circuit_open',
        errorCode: null,
        errorMessage: `${lane.id} circuit is open`,
        httpStatus: null,
        startedAt: this.#now(),
        durationMs: 0,
      };
      return this.#failoverOrFail(job, attempt, false);
    }
    // Nowhere else to go: wait on this carrier until its circuit lets a probe through (not a try). While a probe is
    // out, look again every PROBE_POLL_MS rather than spin.
    job.item = { ...job.item, nextAttemptAt: Math.max(lane.breaker.retryAt(), this.#now() + PROBE_POLL_MS) };
    this.#schedule(job);
  }

  /**
   * Moves the message to the next carrier in the failover order, or fails it when none is left.
   * @param exhausted the carrier itself failed (else: skipped because its circuit is open or it is gone)
   */
  async #failoverOrFail(job: Job, attempt: AttemptRecord, exhausted: boolean): Promise<void> {
    const { item } = job;
    const next = failoverCandidates(this.#o.routing, item.provider, job.tried).find((r) =>
      this.#lanes.has(r.provider),
    );
    if (next) {
      this.#o.log.warn(
        { messageId: item.messageId, from: item.provider, to: next.provider, exhausted },
        'message failing over',
      );
      return this.#commit(job, {
        kind: 'failover',
        messageId: item.messageId,
        attempt,
        provider: next.provider,
        from: next.from,
        nextAttemptAt: this.#now(),
      });
    }
    return this.#commit(job, { kind: 'failed', messageId: item.messageId, attempt, optOut: false });
  }

  /** Commits a decision, then applies it in memory. */
  async #commit(job: Job, outcome: SendOutcome): Promise<void> {
    try {
      await this.#o.store.recordSend(outcome);
    } catch (err) {
      // Not recorded: the outbox row still holds the message, and the next start sends it again. Trying again
      // in this process could send it twice while the store is failing, so it leaves memory instead.
      this.#o.log.error({ err, messageId: outcome.messageId }, 'recording a send failed; left in the outbox');
      this.#release(job);
      return;
    }
    switch (outcome.kind) {
      case 'accepted':
      case 'failed':
        this.#release(job);
        return;
      case 'retry':
        job.item = { ...job.item, attempts: job.item.attempts + 1, nextAttemptAt: outcome.nextAttemptAt };
        this.#schedule(job);
        return;
      case 'failover':
        job.tried.add(outcome.provider);
        job.item = {
          ...job.item,
          provider: outcome.provider,
          from: outcome.from,
          attempts: 0,
          nextAttemptAt: outcome.nextAttemptAt,
        };
        this.#schedule(job);
        return;
    }
  }

  #release(job: Job): void {
    this.#jobs.delete(job.item.messageId);
    if (this.#spilled && this.#jobs.size <= this.#capacity / 2) this.#refill();
  }

  /** Loads outbox rows after the cursor until memory is full or the outbox has no more. */
  #refill(): void {
    if (this.#loading || this.#stopping) return;
    this.#loading = (async () => {
      try {
        while (!this.#stopping) {
          const room = this.#capacity - this.#jobs.size;
          if (room <= 0) return;
          this.#missed = false;
          const rows = await this.#o.store.loadOutbox(this.#cursor, room);
          for (const row of rows) this.#admit(row);
          if (rows.length < room && !this.#missed) {
            this.#spilled = false;
            return;
          }
        }
      } catch (err) {
        // The store is failing; try again shortly rather than leave the outbox unread.
        this.#o.log.error({ err }, 'loading the outbox failed; retrying');
        setTimeout(() => this.#refill(), 1000).unref();
      } finally {
        this.#loading = null;
      }
    })();
  }

  #attemptRecord(provider: ProviderId, startedAt: number, failure: SendFailure | null): AttemptRecord {
    return {
      provider,
      errorClass: failure?.class ?? null,
      errorCode: failure?.code ?? null,
      errorMessage: failure?.message ?? null,
      httpStatus: failure?.httpStatus ?? null,
      startedAt,
      durationMs: Math.max(0, this.#now() - startedAt),
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

/** What a message costs against the carrier's rate: its segments (an MMS is metered as one message). */
function weight(item: OutboxItem): number {
  if (item.media.length > 0) return 1;
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
