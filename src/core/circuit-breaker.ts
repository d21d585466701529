export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerOptions {
  /** Carrier-side failures in a row that open the circuit. */
  failureThreshold: number;
  /** How long the circuit stays open before one probe is let through. */
  cooldownMs: number;
}

/**
 * One carrier's circuit breaker. Closed: everything goes. After `failureThreshold` carrier-side failures in a row
 * it opens: nothing goes (messages fail over, or wait). After `cooldownMs` one probe goes (half-open); its success
 * closes the circuit, its failure opens it for another cooldown.
 *
 * Only carrier-side failures count (5xx, timeouts, authentication); a recipient's invalid number says the carrier
 * works, so it counts as a success.
 *
 * Its clock is monotonic: on a wall clock stepped back an hour, an open circuit would stay open for that hour.
 */
export class CircuitBreaker {
  readonly #o: BreakerOptions;
  readonly #now: () => number;
  #failures = 0;
  #openedAt: number | null = null;
  #probing = false;

  /** @param now a monotonic clock in milliseconds; performance.now by default */
  constructor(options: BreakerOptions, now: () => number = () => performance.now()) {
    for (const name of ['failureThreshold', 'cooldownMs'] as const) {
      const value = options[name];
      if (!(Number.isInteger(value) && value > 0)) {
        throw new TypeError(`Expected \`${name}\` to be a positive integer, got \`${value}\``);
      }
    }
    this.#o = options;
    this.#now = now;
  }

  get state(): BreakerState {
    if (this.#openedAt === null) return 'closed';
    return this.#now() >= this.retryAt() && !this.#probing ? 'half_open' : 'open';
  }

  /** Whether a send could go now (without taking the probe). */
  get available(): boolean {
    return this.state !== 'open';
  }

  /** When an open circuit lets its next probe through, on the breaker's clock. */
  retryAt(): number {
    return (this.#openedAt ?? 0) + this.#o.cooldownMs;
  }

  /** Asks to send now: always yes when closed; when half-open, yes once (the probe), until its result is in. */
  tryPass(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open') return false;
    this.#probing = true;
    return true;
  }

  onSuccess(): void {
    this.#failures = 0;
    this.#openedAt = null;
    this.#probing = false;
  }

  onFailure(): void {
    this.#failures += 1;
    if (this.#probing || this.#failures >= this.#o.failureThreshold) {
      this.#openedAt = this.#now();
      this.#probing = false;
    }
  }

  /** The probe was let through but never ran (shutdown): give it back. */
  release(): void {
    this.#probing = false;
  }
}
