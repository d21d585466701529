/**
 * The carriers' throughput limit: a bucket of message segments holding at most one second's worth, refilled
 * continuously. A burst of `rate` segments passes at once; after that, segments pass at `rate` per second.
 */
export class TokenBucket {
  readonly rate: number;
  readonly #now: () => number;
  #tokens: number;
  #updatedAt: number;

  /** @param rate segments per second (> 0) */
  constructor(rate: number, now: () => number) {
    this.rate = rate;
    this.#now = now;
    this.#tokens = rate;
    this.#updatedAt = now();
  }

  /**
   * Takes `cost` tokens if there are enough. A message costing more than the whole bucket (a long text on a low
   * limit) would otherwise never pass: it passes when the bucket is full, leaving a debt later sends wait out. A
   * refusal takes nothing.
   */
  tryTake(cost: number): boolean {
    this.#refill();
    if (this.#tokens < Math.min(cost, this.rate)) return false;
    this.#tokens -= cost;
    return true;
  }

  /** Whole seconds until `cost` tokens are available (at least 1): what a Retry-After should say. */
  secondsUntil(cost: number): number {
    this.#refill();
    const missing = Math.min(cost, this.rate) - this.#tokens;
    return Math.max(1, Math.ceil(missing / this.rate));
  }

  #refill(): void {
    const now = this.#now();
    const elapsed = now - this.#updatedAt;
    this.#updatedAt = now;
    if (elapsed > 0) this.#tokens = Math.min(this.rate, this.#tokens + (elapsed * this.rate) / 1000);
  }
}
