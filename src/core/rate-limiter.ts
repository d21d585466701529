import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Paces sends to a carrier by message segments per second, the unit carriers meter (a 3-segment SMS costs three).
 *
 * A GCRA ("virtual scheduling") limiter without burst: each reservation starts when the previous one's cost has
 * elapsed, so over any interval the segments sent never exceed `mps` times its length plus one message. Evenly
 * spaced sends keep a carrier's own token bucket from ever running dry, which is what "no 429s" needs; a fixed
 * window (p-queue's interval) would allow twice the rate across a window boundary.
 *
 * Reservations are made in call order, so callers are served first come, first served.
 */
export class SegmentRateLimiter {
  readonly #intervalMs: number | null;
  readonly #now: () => number;
  /** When the next reservation may start (the theoretical arrival time). */
  #next = 0;

  /**
   * @param mps segments per second; null: no limit (a pause from the carrier is still honoured).
   * @param now a monotonic clock in milliseconds; performance.now by default.
   */
  constructor(mps: number | null, now: () => number = () => performance.now()) {
    if (mps !== null && !(Number.isFinite(mps) && mps > 0)) {
      throw new TypeError(`Expected \`mps\` to be a number above 0 or null, got \`${mps}\``);
    }
    this.#intervalMs = mps === null ? null : 1000 / mps;
    this.#now = now;
  }

  /** Waits until `segments` may be sent; rejects with the signal's reason if it aborts first. */
  async acquire(segments: number, signal?: AbortSignal): Promise<void> {
    const now = this.#now();
    const start = Math.max(now, this.#next);
    if (this.#intervalMs !== null) this.#next = start + Math.max(1, segments) * this.#intervalMs;
    const wait = start - now;
    if (wait >= 1) await sleep(wait, undefined, { signal });
  }

  /** The carrier asked us to stop until `untilMs` (Retry-After): nothing starts before then. */
  pauseUntil(untilMs: number): void {
    this.#next = Math.max(this.#next, untilMs);
  }
}
