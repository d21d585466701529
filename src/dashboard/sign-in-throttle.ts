import { isIPv6 } from 'node:net';

/** Failed sign-ins an address may make per window. @default 10 */
export const MAX_FAILED_SIGN_INS = 10;
/** The window, from an address's first failure. @default 15 min */
export const SIGN_IN_WINDOW_MS = 15 * 60 * 1000;
/** Addresses remembered at most: a flood of addresses costs at most this many small entries. @default 10000 */
export const MAX_TRACKED_ADDRESSES = 10_000;

export interface SignInThrottleOptions {
  /** @default MAX_FAILED_SIGN_INS */
  maxFailures?: number;
  /** @default SIGN_IN_WINDOW_MS */
  windowMs?: number;
  /** @default MAX_TRACKED_ADDRESSES */
  maxAddresses?: number;
  /** A monotonic clock in milliseconds (a wall clock stepped back must not extend a lockout). */
  now?: () => number;
}

interface Entry {
  failures: number;
  /** When the window that began with the first failure ends (on `now`'s clock). */
  endsAt: number;
}

/**
 * Counts failed dashboard sign-ins (an unknown or revoked key) per client address, in a window that starts with
 * the address's first failure. Once an address has used its failures, every sign-in from it is refused until the
 * window ends, a correct key included: were a correct key let through, the refusal itself would tell a guesser
 * which keys are wrong, at full speed. A success does not reset the count either, or a guesser holding a key of
 * its own could reset it between guesses.
 *
 * IPv6 addresses count per /64 (one subscriber's usual allocation), so that the 2^64 addresses a single client
 * may use are one address here. Memory is bounded: entries live in a Map in the order their windows began (and so
 * the order they end: every window is as long), expired ones are swept from the front, and at `maxAddresses` the
 * oldest is dropped. A flood of addresses can therefore make the throttle forget an address early, never grow it.
 *
 * Written here, not taken from @fastify/rate-limit: that counts every request, and only failures may count.
 */
export class SignInThrottle {
  readonly #entries = new Map<string, Entry>();
  readonly #maxFailures: number;
  readonly #windowMs: number;
  readonly #maxAddresses: number;
  readonly #now: () => number;

  constructor(options: SignInThrottleOptions = {}) {
    const {
      maxFailures = MAX_FAILED_SIGN_INS,
      windowMs = SIGN_IN_WINDOW_MS,
      maxAddresses = MAX_TRACKED_ADDRESSES,
    } = options;
    for (const [name, value] of Object.entries({ maxFailures, windowMs, maxAddresses })) {
      if (!Number.isInteger(value) || value <= 0) {
        throw new TypeError(`Expected \`${name}\` to be a positive integer, got ${value}`);
      }
    }
    this.#maxFailures = maxFailures;
    this.#windowMs = windowMs;
    this.#maxAddresses = maxAddresses;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Addresses remembered right now. */
  get size(): number {
    return this.#entries.size;
  }

  /** Milliseconds until `address` may try again; 0 when it may now. */
  blockedFor(address: string): number {
    const entry = this.#live(clientOf(address));
    if (entry === null || entry.failures < this.#maxFailures) return 0;
    return Math.max(1, Math.ceil(entry.endsAt - this.#now()));
  }

  /** A failed sign-in from `address`. */
  failed(address: string): void {
    const client = clientOf(address);
    const entry = this.#live(client);
    if (entry !== null) {
      entry.failures += 1;
      return;
    }
    this.#sweep();
    while (this.#entries.size >= this.#maxAddresses) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    this.#entries.set(client, { failures: 1, endsAt: this.#now() + this.#windowMs });
  }

  /** The entry of a window not yet ended; an ended one is forgotten. */
  #live(client: string): Entry | null {
    const entry = this.#entries.get(client);
    if (entry === undefined) return null;
    if (entry.endsAt > this.#now()) return entry;
    this.#entries.delete(client);
    return null;
  }

  /** Drops ended windows from the front (the oldest), stopping at the first live one. */
  #sweep(): void {
    const now = this.#now();
    for (const [client, entry] of this.#entries) {
      if (entry.endsAt > now) break;
      this.#entries.delete(client);
    }
  }
}

/** The throttled unit: an IPv4 address, or an IPv6 address's /64 (IPv4-mapped IPv6 counts as the IPv4 address). */
export function clientOf(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1] as string;
  if (!isIPv6(address)) return address;
  return `${expandIPv6(address).slice(0, 4).join(':')}::/64`;
}

/** The eight hextets of an IPv6 address (zone id dropped, `::` filled in, an embedded IPv4 tail converted). */
function expandIPv6(address: string): string[] {
  let text = address.split('%')[0] as string;
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((h) => h.toLowerCase().replace(/^0+(?=.)/, ''));
}
