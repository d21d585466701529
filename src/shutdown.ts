/**
 * The shutdown's deadline: at least 10 s, and always longer than the compute deadline, so a request waiting for the
 * app is not cut off.
 */
const MIN_SHUTDOWN_MS = 10_000;
const COMPUTE_MARGIN_MS = 2_000;

/** How long the whole shutdown may take, from the signal to the process's exit. */
export function shutdownDeadlineMs(computeTimeoutMs: number): number {
  return Math.max(MIN_SHUTDOWN_MS, computeTimeoutMs + COMPUTE_MARGIN_MS);
}

/**
 * One time budget for the whole shutdown, shared by its steps (closing the server, background processing, event
 * deliveries, sends, the store), whether they run one after the other or at once. Each step is given what is left
 * less what the steps after it need, so the last one still ends before the deadline: steps with their own fixed
 * grace, one after the other, ran past it.
 */
export class ShutdownBudget {
  readonly #totalMs: number;
  readonly #now: () => number;
  #endsAt: number | null = null;

  /** @param now a monotonic clock */
  constructor(totalMs: number, now: () => number = () => performance.now()) {
    if (!(Number.isFinite(totalMs) && totalMs > 0)) {
      throw new TypeError(`Expected \`totalMs\` to be a positive number, got \`${totalMs}\``);
    }
    this.#totalMs = totalMs;
    this.#now = now;
  }

  /** Starts the clock (once; later calls change nothing). */
  start(): void {
    this.#endsAt ??= this.#now() + this.#totalMs;
  }

  /** Milliseconds left, keeping `reserveMs` for the steps after; 0 once spent. Starts the clock if need be. */
  left(reserveMs = 0): number {
    this.start();
    return Math.max(0, (this.#endsAt as number) - this.#now() - reserveMs);
  }

  /** Waits for `work` while the budget, less `reserveMs`, lasts: true if it settled in time, false if it did not. */
  async within(work: Promise<unknown>, reserveMs = 0): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const spent = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), this.left(reserveMs));
    });
    try {
      return await Promise.race([
        work.then(
          () => true,
          () => true,
        ),
        spent,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}
