import type Database from 'better-sqlite3';
import { v7 as uuidv7 } from 'uuid';
import { SwitchboardError } from '../../core/errors.js';
import type {
  DeliveryInfo,
  DeliveryResult,
  EndpointDefinition,
  EndpointState,
  EventPayload,
  EventType,
  LaneAllowance,
  PendingDelivery,
  RecordedDelivery,
} from '../../core/events.js';
import { STATUS_CALLBACK_ENDPOINT } from '../../core/events.js';
import { firstIdAt } from '../ids.js';
import { toMessage, type MessageRow } from '../rows.js';

interface EndpointRow {
  id: string;
  url: string;
  events: string;
  enabled: number;
  disabledReason: string | null;
  updatedAt: number;
  pending: number;
  dead: number;
}

export interface DeliveryRow {
  id: number;
  endpointId: string;
  state: string;
  attempts: number;
  nextAttemptAt: number;
  createdAt: number;
}

type RawMessageRow = Omit<MessageRow, 'cc' | 'media'> & { cc: string; media: string };

/** A head as the due scans see it: when it became due. */
interface DueHead {
  id: number;
  dueAt: number;
}

const byDue = (a: DueHead, b: DueHead) => a.dueAt - b.dueAt || a.id - b.id;

function prepare(sqlite: Database.Database) {
  const raw = <P extends object, R = never>(sql: string) =>
    sqlite.prepare(sql) as unknown as {
      run(params: P): Database.RunResult;
      get(params: P): R | undefined;
      all(params: P): R[];
      iterate(params: P): IterableIterator<R>;
    };
  const pendingColumns = `d.id, d.event_id AS eventId, e.message_id AS messageId, d.endpoint_id AS endpointId, d.url,
    d.conversation, d.lane_key AS laneKey, d.attempts, d.next_attempt_at AS nextAttemptAt, e.type, e.payload`;
  const endpointColumns = `e.id, e.url, e.events, e.enabled, e.disabled_reason AS disabledReason,
    e.updated_at AS updatedAt,
    (SELECT COUNT(*) FROM event_deliveries d WHERE d.state = 'pending' AND d.endpoint_id = e.id) AS pending,
    (SELECT COUNT(*) FROM event_deliveries d WHERE d.state = 'dead' AND d.endpoint_id = e.id) AS dead`;
  return {
    message: raw<{ id: string }, RawMessageRow>(
      `SELECT id, provider, provider_message_id AS providerMessageId, direction, channel, from_number AS fromNumber,
         to_number AS toNumber, cc, body, media, status, provider_status AS providerStatus, segments, encoding,
         error_code AS errorCode, error_message AS errorMessage, status_callback AS statusCallback,
         created_at AS createdAt, updated_at AS updatedAt, redacted_at AS redactedAt, created_by AS createdBy
       FROM messages WHERE id = @id`,
    ),
    insertEvent: raw<{
      id: string;
      type: string;
      messageId: string;
      conversation: string;
      payload: string;
      createdAt: number;
    }>(
      `INSERT INTO events (id, type, message_id, conversation, payload, created_at)
       VALUES (@id, @type, @messageId, @conversation, @payload, @createdAt)`,
    ),
    insertDelivery: raw<{
      eventId: string;
      endpointId: string;
      url: string | null;
      conversation: string;
      laneKey: string;
      now: number;
    }>(
      // First in line (head) when its conversation has nothing pending on this endpoint.
      `INSERT INTO event_deliveries (event_id, endpoint_id, url, conversation, lane_key, state, attempts,
         next_attempt_at, created_at, updated_at, head)
       VALUES (@eventId, @endpointId, @url, @conversation, @laneKey, 'pending', 0, @now, @now, @now,
         NOT EXISTS (SELECT 1 FROM event_deliveries
                     WHERE state = 'pending' AND endpoint_id = @endpointId AND conversation = @conversation))`,
    ),
    endpoints: raw<Record<string, never>, EndpointRow>(
      `SELECT ${endpointColumns} FROM webhook_endpoints e ORDER BY e.rowid`,
    ),
    endpoint: raw<{ id: string }, EndpointRow>(
      `SELECT ${endpointColumns} FROM webhook_endpoints e WHERE e.id = @id`,
    ),
    upsertEndpoint: raw<{ id: string; url: string; events: string; now: number }>(
      `INSERT INTO webhook_endpoints (id, url, events, enabled, disabled_reason, updated_at)
       VALUES (@id, @url, @events, 1, NULL, @now)
       ON CONFLICT (id) DO UPDATE SET url = excluded.url, events = excluded.events,
         updated_at = CASE WHEN url = excluded.url AND events = excluded.events THEN updated_at ELSE @now END`,
    ),
    deleteEndpoint: raw<{ id: string }>('DELETE FROM webhook_endpoints WHERE id = @id'),
    setEnabled: raw<{ id: string; enabled: number; reason: string | null; now: number }>(
      `UPDATE webhook_endpoints SET enabled = @enabled, disabled_reason = @reason, updated_at = @now
       WHERE id = @id`,
    ),
    // The two halves of "due heads" (see loadDue), per lane key, each named to its partial index (their WHERE terms
    // match): the planner would otherwise take the (state, endpoint) index and read every pending row of the
    // endpoint.
    freshHeads: raw<{ endpointId: string; laneKey: string }, DueHead>(
      `SELECT id, next_attempt_at AS dueAt FROM event_deliveries INDEXED BY event_deliveries_fresh_heads
       WHERE endpoint_id = @endpointId AND lane_key = @laneKey AND state = 'pending' AND head = 1 AND attempts = 0
       ORDER BY id`,
    ),
    retryHeads: raw<{ endpointId: string; laneKey: string; now: number }, DueHead>(
      `SELECT id, next_attempt_at AS dueAt FROM event_deliveries INDEXED BY event_deliveries_retry_heads
       WHERE endpoint_id = @endpointId AND lane_key = @laneKey AND state = 'pending' AND head = 1 AND attempts > 0
         AND next_attempt_at <= @now
       ORDER BY next_attempt_at, id`,
    ),
    // The lane keys with heads, one index seek each (a skip scan, which SQLite does not do by itself without
    // statistics): the first at or after @from.
    freshLaneKey: raw<{ endpointId: string; from: string }, { laneKey: string }>(
      `SELECT lane_key AS laneKey FROM event_deliveries INDEXED BY event_deliveries_fresh_heads
       WHERE endpoint_id = @endpointId AND state = 'pending' AND head = 1 AND attempts = 0 AND lane_key >= @from
       ORDER BY lane_key LIMIT 1`,
    ),
    retryLaneKey: raw<{ endpointId: string; from: string }, { laneKey: string }>(
      `SELECT lane_key AS laneKey FROM event_deliveries INDEXED BY event_deliveries_retry_heads
       WHERE endpoint_id = @endpointId AND state = 'pending' AND head = 1 AND attempts > 0 AND lane_key >= @from
       ORDER BY lane_key LIMIT 1`,
    ),
    // By id (`+d.state`: not a term for an index, or the planner reads every pending row through the state index).
    pendingByIds: raw<{ ids: string }, PendingDelivery>(
      `SELECT ${pendingColumns} FROM event_deliveries d JOIN events e ON e.id = d.event_id
       WHERE d.id IN (SELECT value FROM json_each(@ids)) AND +d.state = 'pending'`,
    ),
    // Through the message's events, then their deliveries (named, for the same reason).
    pendingOf: raw<{ endpointId: string; messageId: string }, PendingDelivery>(
      `SELECT ${pendingColumns}
       FROM events e JOIN event_deliveries d INDEXED BY event_deliveries_event ON d.event_id = e.id
       WHERE e.message_id = @messageId AND d.endpoint_id = @endpointId AND d.state = 'pending' AND d.head = 1
       ORDER BY d.id LIMIT 1`,
    ),
    // The conversation's next delivery becomes its head.
    promoteNext: raw<{ endpointId: string; conversation: string }, { id: number }>(
      `UPDATE event_deliveries SET head = 1
       WHERE id = (SELECT id FROM event_deliveries
                   WHERE state = 'pending' AND endpoint_id = @endpointId AND conversation = @conversation
                   ORDER BY id LIMIT 1)
       RETURNING id`,
    ),
    // Heads for conversations that have none (after a replay's many-row insert).
    repairHeads: raw<{ endpointId: string }>(
      `UPDATE event_deliveries SET head = 1
       WHERE head = 0 AND id IN (SELECT MIN(id) FROM event_deliveries
                                 WHERE state = 'pending' AND endpoint_id = @endpointId GROUP BY conversation)`,
    ),
    deliveryState: raw<
      { id: number },
      { state: string; endpointId: string; conversation: string; head: number }
    >('SELECT state, endpoint_id AS endpointId, conversation, head FROM event_deliveries WHERE id = @id'),
    insertAttempt: raw<{
      deliveryId: number;
      outcome: string;
      statusCode: number | null;
      error: string | null;
      startedAt: number;
      durationMs: number;
    }>(
      `INSERT INTO delivery_attempts (delivery_id, outcome, status_code, error, started_at, duration_ms)
       VALUES (@deliveryId, @outcome, @statusCode, @error, @startedAt, @durationMs)`,
    ),
    updateDelivery: raw<{ id: number; state: string; nextAttemptAt: number; now: number }>(
      `UPDATE event_deliveries SET state = @state, attempts = attempts + 1, next_attempt_at = @nextAttemptAt,
         updated_at = @now
       WHERE id = @id`,
    ),
    event: raw<
      { id: string },
      {
        id: string;
        type: string;
        messageId: string;
        conversation: string;
        statusCallback: string | null;
        createdBy: string | null;
      }
    >(
      `SELECT e.id, e.type, e.message_id AS messageId, e.conversation, m.status_callback AS statusCallback,
         m.created_by AS createdBy
       FROM events e JOIN messages m ON m.id = e.message_id WHERE e.id = @id`,
    ),
    delivery: raw<{ id: number }, DeliveryRow>(
      `SELECT id, endpoint_id AS endpointId, state, attempts, next_attempt_at AS nextAttemptAt,
         created_at AS createdAt
       FROM event_deliveries WHERE id = @id`,
    ),
    // For the status-callback endpoint (@callback = 1): only events of messages with a callback, to its URL.
    // The reply key of the delivery's message, taken by an inline (TwiML) reply; see DeliveryResult.claimReply.
    claimReply: raw<{ deliveryId: number; key: string; now: number }>(
      `INSERT INTO idempotency_keys (key, request_hash, message_id, created_at)
       SELECT @key, 'inline', e.message_id, @now
       FROM event_deliveries d JOIN events e ON e.id = d.event_id WHERE d.id = @deliveryId
       ON CONFLICT (key) DO NOTHING`,
    ),
    replay: raw<{ endpointId: string; callback: number; sinceId: string; types: string; now: number }>(
      `INSERT INTO event_deliveries (event_id, endpoint_id, url, conversation, lane_key, state, attempts,
         next_attempt_at, created_at, updated_at)
       SELECT ev.id, @endpointId, CASE WHEN @callback = 1 THEN m.status_callback END,
         CASE WHEN @callback = 1 THEN ev.message_id ELSE ev.conversation END,
         CASE WHEN @callback = 1 THEN COALESCE(m.created_by, '') ELSE '' END, 'pending', 0, @now, @now, @now
       FROM events ev JOIN messages m ON m.id = ev.message_id
       WHERE ev.id >= @sinceId AND ev.type IN (SELECT value FROM json_each(@types))
         AND (@callback = 0 OR m.status_callback IS NOT NULL)
         AND NOT EXISTS (SELECT 1 FROM event_deliveries d
                         WHERE d.event_id = ev.id AND d.endpoint_id = @endpointId
                           AND d.state IN ('pending', 'delivered'))
       ORDER BY ev.id`,
    ),
  };
}

/**
 * The event side of the store's writes, inside the engine's transactions (see sqlite-engine.ts).
 *
 * `emit` is called by every write that changes a message, in its transaction: the event and a delivery for each
 * enabled endpoint that takes its type are committed with the change or not at all. That is what makes delivery
 * at-least-once: there is no moment at which a change is stored and its event is not.
 *
 * The endpoints' filters and enabled flags are cached here (every emit needs them); every change to them goes
 * through this class, and the engine reloads the cache after any transaction that changed them, committed or
 * rolled back.
 */
export class EventWrites {
  readonly #s: ReturnType<typeof prepare>;
  readonly #now: () => number;
  #endpoints: { id: string; events: Set<string>; enabled: boolean }[] = [];
  #created = 0;

  constructor(sqlite: Database.Database, now: () => number) {
    this.#s = prepare(sqlite);
    this.#now = now;
    this.#cacheEndpoints(this.#s.endpoints.all({}));
  }

  /**
   * Stores the event of a message's change (its state as of now) and its deliveries, when some endpoint takes
   * events of its type (a disabled one too: it may replay them). With no such endpoint nothing is written: an
   * event row costs about a quarter of an inbound message's throughput (bench:ingest), which a gateway with no app
   * to tell should not pay.
   */
  emit(messageId: string, type: EventType, now: number): void {
    if (!this.#endpoints.some((e) => e.events.has(type))) return;
    const s = this.#s;
    const row = s.message.get({ id: messageId });
    if (!row) return;
    // The status-callback endpoint takes only the events of messages that have a callback.
    const takers = this.#endpoints.filter(
      (e) => e.events.has(type) && (e.id !== STATUS_CALLBACK_ENDPOINT || row.statusCallback !== null),
    );
    if (takers.length === 0) return;
    const message = toMessage({
      ...row,
      cc: JSON.parse(row.cc) as string[],
      media: JSON.parse(row.media) as MessageRow['media'],
    });
    const id = uuidv7();
    const payload: EventPayload = { id, type, timestamp: new Date(now).toISOString(), data: message };
    // A conversation is the other party: all of one person's events reach an endpoint in order.
    const conversation = message.direction === 'inbound' ? message.from : message.to;
    s.insertEvent.run({
      id,
      type,
      messageId,
      conversation,
      payload: JSON.stringify(payload),
      createdAt: now,
    });
    for (const endpoint of takers) {
      if (!endpoint.enabled) continue;
      const callback = endpoint.id === STATUS_CALLBACK_ENDPOINT;
      s.insertDelivery.run({
        eventId: id,
        endpointId: endpoint.id,
        url: callback ? message.statusCallback : null,
        conversation: orderKey(endpoint.id, conversation, messageId),
        laneKey: laneKeyOf(endpoint.id, row.createdBy),
        now,
      });
      this.#created += 1;
    }
  }

  /** Deliveries created since the last call (the worker tells the deliverer to look when there are any). */
  takeCreated(): number {
    const created = this.#created;
    this.#created = 0;
    return created;
  }

  syncEndpoints(definitions: EndpointDefinition[]): EndpointState[] {
    const s = this.#s;
    const now = this.#now();
    const wanted = new Set(definitions.map((d) => d.id));
    for (const row of s.endpoints.all({})) if (!wanted.has(row.id)) s.deleteEndpoint.run({ id: row.id });
    for (const d of definitions) {
      s.upsertEndpoint.run({ id: d.id, url: d.url, events: JSON.stringify(d.events), now });
    }
    return this.listEndpoints();
  }

  /** Reloads the cache from the database (after a transaction that changed endpoints, committed or not). */
  refreshEndpoints(): void {
    this.#cacheEndpoints(this.#s.endpoints.all({}));
  }

  listEndpoints(): EndpointState[] {
    const rows = this.#s.endpoints.all({});
    this.#cacheEndpoints(rows);
    return rows.map(toEndpointState);
  }

  setEnabled(id: string, enabled: boolean, reason: string | null): EndpointState | null {
    const changed = this.#s.setEnabled.run({
      id,
      enabled: enabled ? 1 : 0,
      reason: enabled ? null : reason,
      now: this.#now(),
    });
    if (changed.changes === 0) return null;
    this.listEndpoints();
    const row = this.#s.endpoint.get({ id });
    return row ? toEndpointState(row) : null;
  }

  /**
   * Due heads (see EventStore.loadDueDeliveries), from two small partial indexes that hold heads only: never
   * attempted (always due: their time is only when they were made, and a wall clock stepped back must not hide new
   * events) and waiting for a retry (due at `next_attempt_at`). Lane by lane (a seek each to find the lane keys),
   * each read in order skipping `exclude`, at most what the lane may take; then merged by due time and taken within
   * the lanes' floors and `limit`. A lane that may take nothing is not read, so its backlog costs nothing; the cost
   * is the lanes, plus the heads skipped and taken.
   */
  loadDue(
    endpointId: string,
    now: number,
    exclude: readonly number[],
    limit: number,
    allowance?: LaneAllowance,
  ): PendingDelivery[] {
    const lanes = new Map(allowance?.lanes.map((l) => [l.laneKey, l]));
    const allowed = (laneKey: string) =>
      allowance ? (lanes.get(laneKey) ?? allowance.others) : { max: limit, floor: 0 };
    const skip = new Set(exclude);
    const candidates: (DueHead & { laneKey: string })[] = [];
    for (const laneKey of this.#laneKeys(endpointId)) {
      const { max, floor } = allowed(laneKey);
      const most = Math.min(max, floor + Math.max(0, limit));
      if (most <= 0) continue;
      const take = (heads: Iterable<DueHead>): DueHead[] => {
        const taken: DueHead[] = [];
        for (const head of heads) {
          if (skip.has(head.id)) continue;
          taken.push(head);
          if (taken.length >= most) break; // ends the iteration (and frees the statement)
        }
        return taken;
      };
      const retries = take(this.#s.retryHeads.iterate({ endpointId, laneKey, now }));
      const fresh = take(this.#s.freshHeads.iterate({ endpointId, laneKey }));
      for (const head of [...retries, ...fresh].sort(byDue).slice(0, most))
        candidates.push({ ...head, laneKey });
    }
    // In due order: each lane's first `floor` heads whatever `limit` says, then heads from `limit` up to its `max`.
    let budget = limit;
    const taken = new Map<string, number>();
    const chosen: number[] = [];
    for (const head of candidates.sort(byDue)) {
      const n = taken.get(head.laneKey) ?? 0;
      const { max, floor } = allowed(head.laneKey);
      if (n >= max) continue;
      if (n >= floor) {
        if (budget <= 0) continue;
        budget -= 1;
      }
      taken.set(head.laneKey, n + 1);
      chosen.push(head.id);
    }
    if (chosen.length === 0) return [];
    const rows = new Map(this.#s.pendingByIds.all({ ids: JSON.stringify(chosen) }).map((r) => [r.id, r]));
    return chosen.flatMap((id) => rows.get(id) ?? []);
  }

  /** The endpoint's lane keys that have heads (fresh or waiting for a retry), in order. */
  #laneKeys(endpointId: string): string[] {
    const keys = new Set<string>();
    for (const first of [this.#s.freshLaneKey, this.#s.retryLaneKey]) {
      // From '' (the least text); then from the least text after the key found (the key and a NUL, in SQLite's
      // binary order), so each lane costs one seek however many heads it has.
      for (let from = ''; ;) {
        const row = first.get({ endpointId, from });
        if (row === undefined) break;
        keys.add(row.laneKey);
        from = `${row.laneKey}\u0000`;
      }
    }
    return [...keys].sort();
  }

  loadDeliveryOf(endpointId: string, messageId: string): PendingDelivery | null {
    return this.#s.pendingOf.get({ endpointId, messageId }) ?? null;
  }

  /**
   * An attempt and its effect. A delivery that ends hands its conversation to the next in line (returned, so the
   * deliverer goes on with it). A delivery that is gone (its message was merged into another) is skipped.
   */
  record(result: DeliveryResult): RecordedDelivery {
    const s = this.#s;
    const current = s.deliveryState.get({ id: result.deliveryId });
    if (current?.state !== 'pending') return { pending: false, next: null };
    const { attempt } = result;
    const now = this.#now();
    s.insertAttempt.run({ deliveryId: result.deliveryId, ...attempt });
    const state =
      attempt.outcome === 'delivered' ? 'delivered' : attempt.outcome === 'dead' ? 'dead' : 'pending';
    s.updateDelivery.run({ id: result.deliveryId, state, nextAttemptAt: result.nextAttemptAt, now });
    if (result.claimReply !== null) {
      s.claimReply.run({ deliveryId: result.deliveryId, key: result.claimReply, now });
    }
    if (result.disable) this.setEnabled(result.disable.endpointId, false, result.disable.reason);
    if (state === 'pending') return { pending: true, next: null };
    if (current.head !== 1) return { pending: false, next: null };
    const promoted = s.promoteNext.get({
      endpointId: current.endpointId,
      conversation: current.conversation,
    });
    const next =
      promoted === undefined ? undefined : s.pendingByIds.get({ ids: JSON.stringify([promoted.id]) });
    return { pending: false, next: next ?? null };
  }

  redeliver(eventId: string, endpointId: string | null): DeliveryInfo[] | null {
    const s = this.#s;
    const event = s.event.get({ id: eventId });
    if (!event) return null;
    let targets: string[];
    if (endpointId !== null) {
      const endpoint = this.#endpoints.find((e) => e.id === endpointId);
      if (!endpoint) throw new SwitchboardError('endpoint_not_found');
      if (!endpoint.enabled) throw new SwitchboardError('endpoint_disabled');
      targets = [endpointId];
      if (endpointId === STATUS_CALLBACK_ENDPOINT && event.statusCallback === null) {
        throw new SwitchboardError(
          'no_matching_endpoint',
          'The message of this event has no statusCallback.',
        );
      }
    } else {
      targets = this.#endpoints
        .filter((e) => e.enabled && e.events.has(event.type))
        .filter((e) => e.id !== STATUS_CALLBACK_ENDPOINT || event.statusCallback !== null)
        .map((e) => e.id);
      if (targets.length === 0) throw new SwitchboardError('no_matching_endpoint');
    }
    const now = this.#now();
    const created = targets.map((target) => {
      const { lastInsertRowid } = s.insertDelivery.run({
        eventId,
        endpointId: target,
        url: target === STATUS_CALLBACK_ENDPOINT ? event.statusCallback : null,
        conversation: orderKey(target, event.conversation, event.messageId),
        laneKey: laneKeyOf(target, event.createdBy),
        now,
      });
      return s.delivery.get({ id: Number(lastInsertRowid) }) as DeliveryRow;
    });
    this.#created += created.length;
    return created.map((row) => toDeliveryInfo(row, []));
  }

  replay(endpointId: string, since: number): number {
    const endpoint = this.#endpoints.find((e) => e.id === endpointId);
    if (!endpoint) throw new SwitchboardError('endpoint_not_found');
    if (!endpoint.enabled) throw new SwitchboardError('endpoint_disabled');
    const { changes } = this.#s.replay.run({
      endpointId,
      callback: endpointId === STATUS_CALLBACK_ENDPOINT ? 1 : 0,
      sinceId: firstIdAt(since),
      types: JSON.stringify([...endpoint.events]),
      now: this.#now(),
    });
    // One INSERT ... SELECT cannot tell which of its rows comes first in a conversation: heads are set after.
    if (changes > 0) this.#s.repairHeads.run({ endpointId });
    this.#created += changes;
    return changes;
  }

  #cacheEndpoints(rows: EndpointRow[]): void {
    this.#endpoints = rows.map((r) => ({
      id: r.id,
      events: new Set(JSON.parse(r.events) as string[]),
      enabled: r.enabled === 1,
    }));
  }
}

/**
 * A delivery's order key: the event's conversation, except on the status-callback endpoint, where each message's
 * callbacks are ordered among themselves only (one client's failing URL must not hold up another's message to the
 * same number).
 */
function orderKey(endpointId: string, conversation: string, messageId: string): string {
  return endpointId === STATUS_CALLBACK_ENDPOINT ? messageId : conversation;
}

/**
 * Whose share of the endpoint a delivery takes (see the deliverer's lanes): on the status-callback endpoint, the API
 * key that sent the message ('' when unknown: one shared lane); the operator's endpoints have one lane.
 */
function laneKeyOf(endpointId: string, createdBy: string | null): string {
  return endpointId === STATUS_CALLBACK_ENDPOINT ? (createdBy ?? '') : '';
}

function toEndpointState(row: EndpointRow): EndpointState {
  return {
    id: row.id,
    url: row.url,
    events: JSON.parse(row.events) as EventType[],
    enabled: row.enabled === 1,
    disabledReason: row.disabledReason,
    pending: row.pending,
    dead: row.dead,
    updatedAt: new Date(row.updatedAt).toISOString(),
  };
}

export function toDeliveryInfo(row: DeliveryRow, attemptLog: DeliveryInfo['attemptLog']): DeliveryInfo {
  return {
    id: row.id,
    endpointId: row.endpointId,
    state: row.state as DeliveryInfo['state'],
    attempts: row.attempts,
    nextAttemptAt: row.state === 'pending' ? new Date(row.nextAttemptAt).toISOString() : null,
    createdAt: new Date(row.createdAt).toISOString(),
    attemptLog,
  };
}
