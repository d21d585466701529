import type Database from 'better-sqlite3';
import type {
  PruneCounts,
  RedactCounts,
  ReplayKeyCounts,
  RetentionStep,
  RetentionStepResult,
} from '../../core/store.js';
import { firstIdAt } from '../ids.js';

interface Raw<P extends object, R = never> {
  run(params: P): Database.RunResult;
  all(params: P): R[];
}

/** Ids passed as a JSON array: one statement for a whole step, whatever its size. */
const IDS = 'SELECT value FROM json_each(@ids)';

// Without statistics (no ANALYZE) SQLite prefers the (state, endpoint) index for `state = 'pending'`, which walks
// every pending delivery for each event: the event's own index is the one to use, whatever the backlog.
const PENDING = `EXISTS (SELECT 1 FROM event_deliveries d INDEXED BY event_deliveries_event
                          WHERE d.event_id = e.id AND d.state = 'pending')`;

/** An event of the message still has to reach an app. */
const PENDING_EVENT = `EXISTS (SELECT 1 FROM events e WHERE e.message_id = m.id AND ${PENDING})`;

/**
 * The message is still live: a carrier reported on it (a late receipt) or an app event was made for it at or
 * after the cutoff. Kept, and not redacted, until that is old too: its history stays whole, and a receipt that comes
 * later still finds its message (a receipt for a message that is gone is stored as a new message of its own).
 * Carrier events count whether or not any app endpoint stores events.
 */
const LIVE = `(EXISTS (SELECT 1 FROM message_events h WHERE h.message_id = m.id AND h.received_at >= @beforeMs)
          OR EXISTS (SELECT 1 FROM events e WHERE e.message_id = m.id AND e.id >= @before))`;

function prepare(sqlite: Database.Database) {
  const raw = <P extends object, R = never>(sql: string) => sqlite.prepare(sql) as unknown as Raw<P, R>;
  return {
    // Ids are UUIDv7, so "created before" is an id range, walked along the primary key (no created_at index).
    // `held`: the message is live, or an event of it is pending; it stays (with those events).
    pruneCandidates: raw<
      { afterId: string; since: string; before: string; beforeMs: number; limit: number },
      { id: string; queued: number; held: number }
    >(
      `SELECT m.id,
         EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = m.id) AS queued,
         (${LIVE} OR ${PENDING_EVENT}) AS held
       FROM messages m WHERE m.id > @afterId AND m.id >= @since AND m.id < @before ORDER BY m.id LIMIT @limit`,
    ),
    oldSettledEvents: raw<{ ids: string; before: string }, { id: string }>(
      `SELECT e.id FROM events e
       WHERE e.message_id IN (${IDS}) AND e.id < @before
         AND NOT ${PENDING}`,
    ),
    deleteDeliveryAttempts: raw<{ ids: string }>(
      `DELETE FROM delivery_attempts WHERE delivery_id IN
         (SELECT d.id FROM event_deliveries d WHERE d.event_id IN (${IDS}))`,
    ),
    deleteDeliveries: raw<{ ids: string }>(`DELETE FROM event_deliveries WHERE event_id IN (${IDS})`),
    deleteEvents: raw<{ ids: string }>(`DELETE FROM events WHERE id IN (${IDS})`),
    deleteHistory: raw<{ ids: string }>(`DELETE FROM message_events WHERE message_id IN (${IDS})`),
    deleteSendAttempts: raw<{ ids: string }>(`DELETE FROM send_attempts WHERE message_id IN (${IDS})`),
    deleteIdempotencyKeys: raw<{ ids: string }>(`DELETE FROM idempotency_keys WHERE message_id IN (${IDS})`),
    deleteMessages: raw<{ ids: string }>(`DELETE FROM messages WHERE id IN (${IDS})`),
    redactCandidates: raw<
      { afterId: string; since: string; before: string; beforeMs: number; limit: number },
      { id: string; done: number; queued: number; held: number }
    >(
      `SELECT m.id, m.redacted_at IS NOT NULL AS done,
         CASE WHEN m.redacted_at IS NULL THEN EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = m.id) END AS queued,
         CASE WHEN m.redacted_at IS NULL THEN (${LIVE} OR ${PENDING_EVENT}) END AS held
       FROM messages m WHERE m.id > @afterId AND m.id >= @since AND m.id < @before ORDER BY m.id LIMIT @limit`,
    ),
    // Oldest first along webhook_signatures_received, after the last one a step looked at: (time, digest) is
    // unique, so a dry run (which deletes nothing) moves on too.
    replayKeyCandidates: raw<
      { before: number; afterAt: number; afterDigest: string; limit: number },
      { at: number; digest: string }
    >(
      `SELECT received_at AS at, hex(digest) AS digest FROM webhook_signatures
       WHERE received_at < @before AND (received_at, digest) > (@afterAt, unhex(@afterDigest))
       ORDER BY received_at, digest LIMIT @limit`,
    ),
    deleteReplayKeys: raw<{ digests: string }>(
      `DELETE FROM webhook_signatures WHERE digest IN (SELECT unhex(value) FROM json_each(@digests))`,
    ),
    redactMessages: raw<{ ids: string; now: number }>(
      `UPDATE messages SET body = '', media = '[]', redacted_at = @now WHERE id IN (${IDS})`,
    ),
    // The payload is the message as it was when the event happened (see events/): emptied the same way.
    redactPayloads: raw<{ ids: string; at: string }>(
      `UPDATE events SET payload = json_set(payload, '$.data.body', '', '$.data.media', json('[]'),
         '$.data.redactedAt', @at)
       WHERE message_id IN (${IDS})`,
    ),
  };
}

/** Thrown inside a dry run's savepoint to roll it back; carries what the step counted. */
class DryRun<T> {
  constructor(readonly result: T) {}
}

/**
 * The store's retention steps (see Store.pruneStep and redactStep), inside the engine's transactions: each step
 * looks at a bounded run of messages, so it holds the write lock for a few milliseconds (measured in the README's
 * Data retention section) however large the backlog; core/retention.ts runs the steps with pauses between them.
 *
 * Children are deleted explicitly, before their message, rather than through ON DELETE CASCADE: the counts are
 * what the log reports, and the same statements fit a server database.
 */
export class RetentionWrites {
  readonly #s: ReturnType<typeof prepare>;
  readonly #sqlite: Database.Database;
  readonly #now: () => number;

  constructor(sqlite: Database.Database, now: () => number) {
    this.#sqlite = sqlite;
    this.#s = prepare(sqlite);
    this.#now = now;
  }

  prune(step: RetentionStep): RetentionStepResult<PruneCounts> {
    return this.#maybeDry(step.dryRun, () => this.#prune(step));
  }

  redact(step: RetentionStep): RetentionStepResult<RedactCounts> {
    return this.#maybeDry(step.dryRun, () => this.#redact(step));
  }

  #prune(step: RetentionStep): RetentionStepResult<PruneCounts> {
    const s = this.#s;
    const before = firstIdAt(step.before);
    const candidates = s.pruneCandidates.all({
      ...range(step),
      before,
      beforeMs: step.before,
      limit: step.limit,
    });
    const unqueued = candidates.filter((c) => c.queued === 0);
    const doomed = json(unqueued.filter((c) => c.held === 0).map((c) => c.id));
    // Old events that no app is waiting for go, also those of messages that stay.
    const events = json(
      s.oldSettledEvents.all({ ids: json(unqueued.map((c) => c.id)), before }).map((e) => e.id),
    );
    const counts: PruneCounts = {
      deliveryAttempts: s.deleteDeliveryAttempts.run({ ids: events }).changes,
      deliveries: s.deleteDeliveries.run({ ids: events }).changes,
      events: s.deleteEvents.run({ ids: events }).changes,
      history: s.deleteHistory.run({ ids: doomed }).changes,
      sendAttempts: s.deleteSendAttempts.run({ ids: doomed }).changes,
      idempotencyKeys: s.deleteIdempotencyKeys.run({ ids: doomed }).changes,
      messages: s.deleteMessages.run({ ids: doomed }).changes,
    };
    return result(counts, candidates, step.limit, (c) => c.queued === 1 || c.held === 1);
  }

  #redact(step: RetentionStep): RetentionStepResult<RedactCounts> {
    const s = this.#s;
    const candidates = s.redactCandidates.all({
      ...range(step),
      before: firstIdAt(step.before),
      beforeMs: step.before,
      limit: step.limit,
    });
    const isHeld = (c: (typeof candidates)[number]) => c.done === 0 && (c.queued === 1 || c.held === 1);
    const ids = json(candidates.filter((c) => c.done === 0 && !isHeld(c)).map((c) => c.id));
    const now = this.#now();
    const counts: RedactCounts = {
      messages: s.redactMessages.run({ ids, now }).changes,
      events: s.redactPayloads.run({ ids, at: new Date(now).toISOString() }).changes,
      // A key's request hash covers the body (and a batch key's text holds it): a short body, a code say, could be
      // found again from it by trying every value. The key goes with the body; a request under it is a new one.
      idempotencyKeys: s.deleteIdempotencyKeys.run({ ids }).changes,
    };
    return result(counts, candidates, step.limit, isHeld);
  }

  /**
   * Remembered webhook signatures (Store.ingest's replayKey) older than the cutoff: at most `limit` per step. Each
   * is one small row, so a step of many is as short as one of a few messages.
   */
  pruneReplayKeys(step: RetentionStep): RetentionStepResult<ReplayKeyCounts> {
    return this.#maybeDry(step.dryRun, () => {
      const s = this.#s;
      const after = parseReplayPosition(step.afterId);
      const candidates = s.replayKeyCandidates.all({ before: step.before, ...after, limit: step.limit });
      const counts: ReplayKeyCounts = {
        replayKeys: s.deleteReplayKeys.run({ digests: json(candidates.map((c) => c.digest)) }).changes,
      };
      const last = candidates.at(-1);
      return {
        counts,
        lastId: last === undefined ? null : `${last.at}:${last.digest}`,
        done: candidates.length < step.limit,
        held: 0,
        firstHeldId: null,
      };
    });
  }

  /** A dry run does the step in a savepoint and rolls it back: its counts are exactly what the step would do. */
  #maybeDry<T>(dryRun: boolean, work: () => T): T {
    if (!dryRun) return work();
    try {
      this.#sqlite.transaction(() => {
        throw new DryRun(work());
      })();
    } catch (err) {
      if (err instanceof DryRun) return err.result as T;
      throw err;
    }
    throw new Error('unreachable: a dry run always rolls back');
  }
}

/** A replay-key step's `afterId`, `<received_at>:<digest in hex>` as the step before gave it; null: the start. */
function parseReplayPosition(afterId: string | null): { afterAt: number; afterDigest: string } {
  if (afterId === null) return { afterAt: Number.MIN_SAFE_INTEGER, afterDigest: '' };
  const match = /^(-?\d+):([0-9A-F]*)$/.exec(afterId);
  if (!match) throw new TypeError(`Expected a replay-key position from an earlier step, got \`${afterId}\``);
  return { afterAt: Number(match[1]), afterDigest: match[2] as string };
}

function range(step: RetentionStep): { afterId: string; since: string } {
  return { afterId: step.afterId ?? '', since: step.since === null ? '' : firstIdAt(step.since) };
}

function json(ids: string[]): string {
  return JSON.stringify(ids);
}

function result<C, R extends { id: string }>(
  counts: C,
  candidates: R[],
  limit: number,
  isHeld: (row: R) => boolean,
): RetentionStepResult<C> {
  const held = candidates.filter(isHeld);
  return {
    counts,
    lastId: candidates.at(-1)?.id ?? null,
    done: candidates.length < limit,
    held: held.length,
    firstHeldId: held[0]?.id ?? null,
  };
}
