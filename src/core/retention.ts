import { performance } from 'node:perf_hooks';
import type { Logger } from './logger.js';
import type { PruneCounts, RedactCounts, ReplayKeyCounts, RetentionStepResult, Store } from './store.js';

export const DAY_MS = 86_400_000;

/** What to do with old data; null: nothing. */
export interface RetentionPolicy {
  /** Delete messages (and what hangs off them) and events older than this (RETENTION_DAYS). */
  deleteAfterMs: number | null;
  /** Empty message bodies and media older than this (REDACT_BODIES_AFTER_DAYS); shorter than deleteAfterMs. */
  redactAfterMs: number | null;
}

export interface RetentionReport {
  deleted: PruneCounts & ReplayKeyCounts;
  redacted: RedactCounts;
  /**
   * Old messages left alone because they still wait (in the outbox, or with an event pending delivery) or are still
   * live (a carrier or app event newer than the cutoff), by pass.
   */
  held: { prune: number; redact: number };
  /** Transactions (store steps) it took. */
  steps: number;
  /** The longest step, measured from here (the store's round trip, commit included), in milliseconds. */
  longestStepMs: number;
  /** False when stopping cut the run short. */
  complete: boolean;
}

export interface RetentionOptions {
  store: Pick<Store, 'pruneStep' | 'redactStep' | 'pruneReplayKeys'>;
  policy: RetentionPolicy;
  log: Logger;
  /** Messages one step looks at. @default 100 */
  stepSize?: number;
  /**
   * The shortest pause between steps, in milliseconds. Every pause is at least as long as the step before it took,
   * so retention takes at most about half of the store's writer, whatever the backlog. @default 10
   */
  minPauseMs?: number;
  /** Between periodic runs. @default one hour */
  intervalMs?: number;
  /** From start() to the first run. @default one minute */
  firstRunDelayMs?: number;
  /** The wall clock: what "older than" is measured against. */
  now?: () => number;
}

export const RETENTION_DEFAULTS = {
  stepSize: 100,
  minPauseMs: 10,
  intervalMs: 3_600_000,
  firstRunDelayMs: 60_000,
} as const;

const NO_DELETIONS: PruneCounts & ReplayKeyCounts = {
  messages: 0,
  history: 0,
  sendAttempts: 0,
  idempotencyKeys: 0,
  events: 0,
  deliveries: 0,
  deliveryAttempts: 0,
  replayKeys: 0,
};

/**
 * Remembered webhook signatures a replay-key step deletes per message a prune step looks at: each is one small row
 * and its index entry (a message is several larger rows), and a message brings one to four of them (an inbound
 * message, status callbacks).
 */
const REPLAY_KEYS_PER_MESSAGE = 10;

type PassKind = 'prune' | 'redact' | 'replayKeys';

/**
 * Retention: deletes (RETENTION_DAYS) and redacts (REDACT_BODIES_AFTER_DAYS) old messages in small steps, each one
 * short transaction, with a pause after each, so that the live traffic's writes never wait long behind it. Runs
 * periodically in the gateway (start/stop), or once from `switchboard db prune` (run).
 *
 * A pass walks the messages older than the cutoff in id (creation) order. What must stay (a message still in the
 * outbox, an event pending delivery) stays where it is, so the next pass starts at the first message a pass had to
 * leave, or where it ended: a periodic run looks at what aged since the last one, not at the whole history again.
 * Those positions are kept in memory; after a restart the first pass walks from the oldest message once.
 *
 * Deleting also deletes the webhook signatures ingest remembered before the same cutoff (replay protection lasts as
 * long as the messages it protects), in steps of their own.
 */
export class Retention {
  readonly #o: Required<Omit<RetentionOptions, 'now'>> & { now: () => number };
  /** Where the next pass of each kind starts (exclusive); null: from the oldest message. */
  readonly #resume: Record<'prune' | 'redact', string | null> = { prune: null, redact: null };
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<RetentionReport> | null = null;
  #stopping = false;
  readonly #wakers = new Set<() => void>();

  constructor(options: RetentionOptions) {
    this.#o = { ...RETENTION_DEFAULTS, now: Date.now, ...options };
    const { stepSize, minPauseMs } = this.#o;
    if (!Number.isInteger(stepSize) || stepSize < 1)
      throw new TypeError(`Expected \`stepSize\` to be a positive integer, got ${stepSize}`);
    if (!(minPauseMs >= 0)) throw new TypeError(`Expected \`minPauseMs\` to be >= 0, got ${minPauseMs}`);
  }

  /** Whether the policy asks for anything at all. */
  get enabled(): boolean {
    return this.#o.policy.deleteAfterMs !== null || this.#o.policy.redactAfterMs !== null;
  }

  /** Runs periodically: once after `firstRunDelayMs`, then every `intervalMs` after the end of the last run. */
  start(): void {
    if (!this.enabled || this.#stopping) return;
    this.#schedule(this.#o.firstRunDelayMs);
  }

  /** Stops the timer and a run in progress (after its current step, which is never long); resolves when idle. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    for (const wake of this.#wakers) wake();
    await this.#running?.catch(() => undefined);
  }

  /**
   * One run: deletes, then redacts, what the policy says is old. `dryRun`: counts only (each step's changes are
   * rolled back), and the next real run starts from the oldest message as if this one had not happened. While a
   * run is in progress, answers that run (one at a time).
   */
  run(options: { dryRun?: boolean } = {}): Promise<RetentionReport> {
    if (this.#running !== null) return this.#running;
    const running = this.#run(options.dryRun ?? false).finally(() => {
      this.#running = null;
    });
    this.#running = running;
    return running;
  }

  async #run(dryRun: boolean): Promise<RetentionReport> {
    const report: RetentionReport = {
      deleted: { ...NO_DELETIONS },
      redacted: { messages: 0, events: 0, idempotencyKeys: 0 },
      held: { prune: 0, redact: 0 },
      steps: 0,
      longestStepMs: 0,
      complete: true,
    };
    const { deleteAfterMs, redactAfterMs } = this.#o.policy;
    const now = this.#o.now();
    if (deleteAfterMs !== null) {
      const before = now - deleteAfterMs;
      await this.#pass('prune', null, before, dryRun, report, (r) => add(report.deleted, r.counts));
      // Replay protection lasts as long as the messages it protects are kept.
      if (report.complete) {
        await this.#pass('replayKeys', null, before, dryRun, report, (r) => add(report.deleted, r.counts));
      }
    }
    if (redactAfterMs !== null && report.complete) {
      const before = now - redactAfterMs;
      // A dry run deleted nothing: what it would delete is not counted again as redacted.
      const since = dryRun && deleteAfterMs !== null ? now - deleteAfterMs : null;
      await this.#pass('redact', since, before, dryRun, report, (r) => add(report.redacted, r.counts));
    }
    return report;
  }

  async #pass<C>(
    kind: PassKind,
    since: number | null,
    before: number,
    dryRun: boolean,
    report: RetentionReport,
    tally: (result: RetentionStepResult<C>) => void,
  ): Promise<void> {
    const store = this.#o.store;
    // Replay keys are deleted as they are passed, so each pass starts at the oldest left (a position kept would
    // skip a key stored after the wall clock stepped back).
    let afterId = dryRun || kind === 'replayKeys' ? null : this.#resume[kind];
    // Where the next pass starts: before the first message this one had to leave, or where it ended.
    let resume: string | null | undefined;
    for (;;) {
      if (this.#stopping) {
        report.complete = false;
        return;
      }
      const limit = this.#o.stepSize * (kind === 'replayKeys' ? REPLAY_KEYS_PER_MESSAGE : 1);
      const step = { before, since, afterId, limit, dryRun };
      const started = performance.now();
      const result = (await (kind === 'prune'
        ? store.pruneStep(step)
        : kind === 'redact'
          ? store.redactStep(step)
          : store.pruneReplayKeys(step))) as RetentionStepResult<C>;
      const took = performance.now() - started;
      report.steps += 1;
      report.longestStepMs = Math.max(report.longestStepMs, took);
      if (kind !== 'replayKeys') report.held[kind] += result.held;
      tally(result);
      if (result.firstHeldId !== null && resume === undefined) resume = afterId;
      if (result.done) {
        if (!dryRun && kind !== 'replayKeys')
          this.#resume[kind] = resume !== undefined ? resume : (result.lastId ?? afterId);
        return;
      }
      afterId = result.lastId;
      await this.#sleep(Math.max(this.#o.minPauseMs, took));
    }
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#periodic();
    }, delayMs);
    // The server keeps the process alive; retention alone must not.
    this.#timer.unref();
  }

  async #periodic(): Promise<void> {
    const log = this.#o.log;
    try {
      const report = await this.run();
      const { deleted, redacted } = report;
      const changed = deleted.messages + deleted.events + deleted.replayKeys + redacted.messages > 0;
      // Counts only: never ids, numbers or bodies.
      (changed ? log.info : log.debug).call(
        log,
        {
          deleted,
          redacted,
          held: report.held,
          steps: report.steps,
          longestStepMs: Math.round(report.longestStepMs),
          complete: report.complete,
        },
        changed
          ? `retention: deleted ${deleted.messages} messages and ${deleted.events} events, redacted ${redacted.messages} messages`
          : 'retention: nothing to delete or redact',
      );
    } catch (err) {
      log.warn({ err }, 'retention run failed; it is tried again at the next interval');
    }
    if (!this.#stopping) this.#schedule(this.#o.intervalMs);
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
}

function add<C>(total: C, counts: C): void {
  const sum = total as Record<string, number>;
  for (const [key, value] of Object.entries(counts as Record<string, number>))
    sum[key] = (sum[key] ?? 0) + value;
}
