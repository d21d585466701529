import type { ResolveHost, ResolvedAddress } from './resolve.js';

export interface HostLookupOptions {
  /** Lookups under way at once, at most; the rest wait their turn. @default 32 */
  concurrency?: number;
  /** How long a caller waits, for its turn and the answer together, before failing with ETIMEOUT. @default 5000 */
  timeoutMs?: number;
  /** The longest an answer is kept (its DNS TTL, at most this). @default 30000 */
  maxCacheMs?: number;
  /** How long a resolver's failure is kept (the name does not exist, or its servers did not answer). @default 5000 */
  failureCacheMs?: number;
  /** Names kept at most (the oldest go first). @default 10000 */
  maxEntries?: number;
}

type Entry = { until: number; addresses: ResolvedAddress[] } | { until: number; error: Error };

interface Waiting {
  start: () => void;
  deadline: number;
}

/**
 * Callback hosts' lookups, bounded: a client can name as many hosts as it likes (random subdomains of a zone whose
 * server never answers), but only `concurrency` lookups are under way at once, and a caller waits `timeoutMs` at
 * most. A slot is held until the resolver has answered (or given up on its own timeout), so the resolver never has
 * more than `concurrency` lookups; callers past their deadline leave the queue without starting one. One lookup per
 * name at a time, shared by its callers; answers are kept for their TTL (at most `maxCacheMs`: a name that answers
 * with TTL 0, as DNS rebinding does, is looked up again every time) and failures for `failureCacheMs`.
 *
 * Times are monotonic (performance.now()).
 */
export class HostLookups {
  readonly #resolve: ResolveHost;
  readonly #concurrency: number;
  readonly #timeoutMs: number;
  readonly #maxCacheMs: number;
  readonly #failureCacheMs: number;
  readonly #maxEntries: number;
  readonly #cache = new Map<string, Entry>();
  readonly #pending = new Map<string, Promise<ResolvedAddress[]>>();
  readonly #queue: Waiting[] = [];
  #active = 0;

  constructor(resolve: ResolveHost, options: HostLookupOptions = {}) {
    this.#resolve = resolve;
    this.#concurrency = options.concurrency ?? 32;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#maxCacheMs = options.maxCacheMs ?? 30_000;
    this.#failureCacheMs = options.failureCacheMs ?? 5_000;
    this.#maxEntries = options.maxEntries ?? 10_000;
  }

  /** The name's addresses; rejects with the resolver's error, or ETIMEOUT past `timeoutMs`. */
  resolve(hostname: string): Promise<ResolvedAddress[]> {
    const entry = this.#cache.get(hostname);
    if (entry !== undefined) {
      if (entry.until > performance.now()) {
        return 'error' in entry ? Promise.reject(entry.error) : Promise.resolve(entry.addresses);
      }
      this.#cache.delete(hostname);
    }
    let pending = this.#pending.get(hostname);
    if (pending === undefined) {
      pending = this.#lookup(hostname, performance.now() + this.#timeoutMs);
      this.#pending.set(hostname, pending);
      const done = () => {
        if (this.#pending.get(hostname) === pending) this.#pending.delete(hostname);
      };
      pending.then(done, done);
    }
    return pending;
  }

  #lookup(hostname: string, deadline: number): Promise<ResolvedAddress[]> {
    return new Promise<ResolvedAddress[]>((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const timer = setTimeout(
        () =>
          settle(() => {
            // Still waiting for a slot: it leaves the queue.
            const at = this.#queue.indexOf(waiting);
            if (at !== -1) this.#queue.splice(at, 1);
            reject(timeout(hostname));
          }),
        Math.max(0, deadline - performance.now()),
      );
      const start = () => {
        this.#active += 1;
        let answer: Promise<ResolvedAddress[]>;
        try {
          answer = this.#resolve(hostname);
        } catch (err) {
          answer = Promise.reject(err as Error);
        }
        answer.then(
          (addresses) => {
            this.#keep(hostname, addresses);
            settle(() => resolve(addresses));
          },
          (err: Error) => {
            this.#store(hostname, { until: performance.now() + this.#failureCacheMs, error: err });
            settle(() => reject(err));
          },
        );
        // The slot is the resolver's until it answers, whether or not the caller still waits.
        void answer.then(this.#release, this.#release);
      };
      const waiting: Waiting = { start, deadline };
      if (this.#active < this.#concurrency) start();
      else this.#queue.push(waiting);
    });
  }

  readonly #release = (): void => {
    this.#active -= 1;
    const now = performance.now();
    while (this.#queue.length > 0 && this.#active < this.#concurrency) {
      const next = this.#queue.shift() as Waiting;
      // Its caller has been answered (ETIMEOUT) already: no lookup for nobody.
      if (next.deadline > now) next.start();
    }
  };

  #keep(hostname: string, addresses: ResolvedAddress[]): void {
    const ttls = addresses.map((a) => a.ttl ?? 0);
    const ms = Math.min(this.#maxCacheMs, Math.min(...ttls) * 1000);
    if (addresses.length > 0 && ms > 0) this.#store(hostname, { until: performance.now() + ms, addresses });
  }

  #store(hostname: string, entry: Entry): void {
    this.#cache.delete(hostname);
    if (this.#cache.size >= this.#maxEntries) {
      const oldest = this.#cache.keys().next().value as string;
      this.#cache.delete(oldest);
    }
    this.#cache.set(hostname, entry);
  }
}

function timeout(hostname: string): Error {
  return Object.assign(new Error(`no answer for ${hostname} in time`), { code: 'ETIMEOUT' });
}
