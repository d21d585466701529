import type { SimProvider, SimulatedMessage } from './types.js';

interface Waiter {
  count: number;
  resolve(messages: SimulatedMessage[]): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * Accepted messages in acceptance order, and the tests waiting for them. Bounded: a long benchmark would otherwise
 * keep every message; past `max`, the oldest half is dropped in one splice (cheap, unlike one shift per message).
 */
export class MessageRecords {
  readonly #max: number;
  #messages: SimulatedMessage[] = [];
  #waiters: Waiter[] = [];

  constructor(max: number) {
    this.#max = Math.max(2, max);
  }

  add(message: SimulatedMessage): void {
    this.#messages.push(message);
    if (this.#messages.length > this.#max) this.#messages.splice(0, Math.floor(this.#max / 2));
    if (this.#waiters.length > 0) this.#wake();
  }

  list(provider?: SimProvider): SimulatedMessage[] {
    return provider === undefined
      ? this.#messages.slice()
      : this.#messages.filter((m) => m.provider === provider);
  }

  clear(): void {
    this.#messages = [];
  }

  /** Resolves with every message once at least `count` were accepted (both carriers together). */
  waitFor(count: number, timeoutMs: number): Promise<SimulatedMessage[]> {
    if (this.#messages.length >= count) return Promise.resolve(this.list());
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        count,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          reject(
            new Error(`waited ${timeoutMs} ms for ${count} messages; ${this.#messages.length} accepted`),
          );
        }, timeoutMs),
      };
      this.#waiters.push(waiter);
    });
  }

  /** Fails whoever still waits: nothing more will be accepted. */
  close(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      clearTimeout(w.timer);
      w.reject(new Error('the simulator closed'));
    }
  }

  #wake(): void {
    const length = this.#messages.length;
    const ready = this.#waiters.filter((w) => w.count <= length);
    if (ready.length === 0) return;
    this.#waiters = this.#waiters.filter((w) => w.count > length);
    const messages = this.list();
    for (const w of ready) {
      clearTimeout(w.timer);
      w.resolve(messages);
    }
  }
}
