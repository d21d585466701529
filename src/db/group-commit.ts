import type Database from 'better-sqlite3';

interface Pending {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Groups the writes requested during one turn of the event loop into one transaction.
 *
 * With synchronous=FULL every commit waits for an fsync of the WAL, the dominant cost of a small write. Webhooks
 * arrive concurrently, so the writes requested while the loop was busy are committed together at the next check
 * phase (setImmediate): one fsync for the batch, each write's promise resolved only after that commit returned.
 *
 * Invariants: a write's promise never resolves before its data is durable; each write runs in its own savepoint,
 * so a write that throws is rolled back alone and rejects alone, while the rest of the batch commits.
 */
export class GroupCommit {
  readonly #batch: (pending: Pending[]) => Outcome[];
  #pending: Pending[] = [];
  #scheduled = false;
  #flushed: (() => void)[] = [];

  constructor(sqlite: Database.Database) {
    // better-sqlite3 runs a transaction function called inside another one as a SAVEPOINT, rolled back on throw.
    const savepoint = sqlite.transaction((work: () => unknown) => work());
    this.#batch = sqlite.transaction((pending: Pending[]) =>
      pending.map((p): Outcome => {
        try {
          return { ok: true, value: savepoint(p.work) };
        } catch (error) {
          return { ok: false, error };
        }
      }),
    );
  }

  /** Runs `work` inside the next group transaction; resolves with its result once the transaction committed. */
  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  /** Resolves when every write requested so far has been committed (or rejected). */
  drain(): Promise<void> {
    if (!this.#scheduled) return Promise.resolve();
    return new Promise((resolve) => this.#flushed.push(resolve));
  }

  #flush(): void {
    const pending = this.#pending;
    const flushed = this.#flushed;
    this.#pending = [];
    this.#flushed = [];
    this.#scheduled = false;
    let outcomes: Outcome[];
    try {
      outcomes = this.#batch(pending);
    } catch (error) {
      // The commit itself failed (disk full, I/O error): nothing in the batch is durable.
      for (const p of pending) p.reject(error);
      for (const done of flushed) done();
      return;
    }
    pending.forEach((p, i) => {
      const outcome = outcomes[i] as Outcome;
      if (outcome.ok) p.resolve(outcome.value);
      else p.reject(outcome.error);
    });
    for (const done of flushed) done();
  }
}
