/**
 * Counts work that has been promised but not finished (a status callback waiting on its timer, queued, in flight
 * or waiting for a retry), so callbacksIdle() can resolve the moment the count reaches zero.
 */
export class PendingWork {
  #count = 0;
  #waiters: (() => void)[] = [];

  get count(): number {
    return this.#count;
  }

  add(n = 1): void {
    this.#count += n;
  }

  done(n = 1): void {
    this.#count = Math.max(0, this.#count - n);
    if (this.#count === 0) this.#wake();
  }

  idle(): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Forgets everything outstanding (on close) and releases whoever waits. */
  clear(): void {
    this.#count = 0;
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
