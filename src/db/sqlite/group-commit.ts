import type Database from 'better-sqlite3';
import { isStorageFailure } from './write-health.js';

export type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Commits a group of writes in one transaction, so the group shares one fsync.
 *
 * Optimistic: the group first runs as one plain transaction, because a savepoint per write costs about as much as
 * the write itself. If any write throws, that transaction is rolled back and the group is replayed with each write
 * in its own savepoint, so the failing write fails alone and the others still commit.
 *
 * Invariant: an outcome is returned only after the commit, so a write reported as done is durable. A storage
 * failure (see isStorageFailure: SQLITE_BUSY, FULL, IOERR...) fails the whole group, at once and without a
 * replay; so does any error after which SQLite has rolled the whole transaction back itself, rather than letting
 * later writes run, and commit, outside it.
 *
 * Transactions are IMMEDIATE: they take the write lock at BEGIN, where SQLite honours busy_timeout, instead of
 * upgrading a read mid-way, where it fails at once with SQLITE_BUSY if another connection writes.
 */
export function commitGroup(sqlite: Database.Database, works: (() => unknown)[]): Outcome[] {
  const attempt = sqlite.transaction((): Outcome[] => works.map((work) => ({ ok: true, value: work() })));
  try {
    return attempt.immediate();
  } catch (error) {
    // The storage itself failed (the lock held elsewhere past busy_timeout, disk full, I/O): a replay would fail
    // the same way, after as long a wait again (a write under a held lock took 10 s to fail, not 5). The whole
    // group fails now. Otherwise better-sqlite3 has rolled the transaction back: replay each write in isolation.
    if (typeof error === 'object' && error !== null && isStorageFailure(error)) throw error;
  }
  const savepoint = sqlite.transaction((work: () => unknown) => work());
  const isolated = sqlite.transaction((): Outcome[] =>
    works.map((work) => {
      try {
        // Called inside a transaction, a better-sqlite3 transaction function runs as a SAVEPOINT.
        return { ok: true, value: savepoint(work) };
      } catch (error) {
        if (!sqlite.inTransaction) throw error; // SQLite rolled everything back: nothing in the group stands
        return { ok: false, error };
      }
    }),
  );
  return isolated.immediate();
}
