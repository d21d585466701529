import { and, eq, sql } from 'drizzle-orm';
import { v7 as uuidv7 } from 'uuid';
import type Database from 'better-sqlite3';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { idempotencyKeys, messageEvents, messages, optOuts, outbox } from './schema.js';
import type * as schema from './schema.js';

export type Db = BetterSQLite3Database<typeof schema>;

/**
 * Every statement on a hot path, prepared once per connection.
 *
 * The writes every message makes (and the lookups they need) are plain better-sqlite3 statements: drizzle's
 * prepared statements map each placeholder through its column types on every call, which cost about a quarter of
 * the store worker's time in bench:send. Their SQL names the same tables and columns as schema.ts, which stays
 * the source of truth (and of migrations); the rest goes through drizzle.
 */
export function prepareStatements(db: Db, sqlite: Database.Database) {
  const p = sql.placeholder;
  return {
    ...prepareRaw(sqlite),
    updateStatus: db
      .update(messages)
      .set({
        status: sql`${p('status')}`,
        providerStatus: sql`${p('providerStatus')}`,
        errorCode: sql`${p('errorCode')}`,
        errorMessage: sql`${p('errorMessage')}`,
        updatedAt: sql`${p('updatedAt')}`,
      })
      .where(eq(messages.id, p('id')))
      .prepare(),
    addOptOut: db
      .insert(optOuts)
      .values({
        phone: p('phone'),
        ourNumber: p('ourNumber'),
        provider: p('provider'),
        createdAt: p('createdAt'),
      })
      .onConflictDoNothing()
      .prepare(),
    removeOptOut: db
      .delete(optOuts)
      .where(and(eq(optOuts.phone, p('phone')), eq(optOuts.ourNumber, p('ourNumber'))))
      .prepare(),
    optOut: db
      .select({ phone: optOuts.phone })
      .from(optOuts)
      .where(and(eq(optOuts.phone, p('phone')), eq(optOuts.ourNumber, p('ourNumber'))))
      .prepare(),
    messageRow: db
      .select()
      .from(messages)
      .where(eq(messages.id, p('id')))
      .prepare(),
    idempotencyByKey: db
      .select({ requestHash: idempotencyKeys.requestHash, messageId: idempotencyKeys.messageId })
      .from(idempotencyKeys)
      .where(eq(idempotencyKeys.key, p('key')))
      .prepare(),
    insertIdempotency: db
      .insert(idempotencyKeys)
      .values({
        key: p('key'),
        requestHash: p('requestHash'),
        messageId: p('messageId'),
        createdAt: p('createdAt'),
      })
      .prepare(),
    optOutOfAnyNumber: db
      .select({ phone: optOuts.phone })
      .from(optOuts)
      .where(eq(optOuts.phone, p('phone')))
      .limit(1)
      .prepare(),
    retryOutbox: db
      .update(outbox)
      .set({ attempts: sql`${outbox.attempts} + 1`, nextAttemptAt: sql`${p('nextAttemptAt')}` })
      .where(eq(outbox.messageId, p('messageId')))
      .prepare(),
    failoverOutbox: db
      .update(outbox)
      .set({ provider: sql`${p('provider')}`, attempts: 0, nextAttemptAt: sql`${p('nextAttemptAt')}` })
      .where(eq(outbox.messageId, p('messageId')))
      .prepare(),
    moveToProvider: db
      .update(messages)
      .set({
        provider: sql`${p('provider')}`,
        fromNumber: sql`${p('from')}`,
        segments: sql`${p('segments')}`,
        encoding: sql`${p('encoding')}`,
        updatedAt: sql`${p('updatedAt')}`,
      })
      .where(eq(messages.id, p('id')))
      .prepare(),
    moveEvents: db
      .update(messageEvents)
      .set({ messageId: sql`${p('to')}` })
      .where(eq(messageEvents.messageId, p('from')))
      .prepare(),
    deleteMessage: db
      .delete(messages)
      .where(eq(messages.id, p('id')))
      .prepare(),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;

/** Every column given explicitly: the prepared insert binds them all. */
export type NewMessageRow = Required<typeof messages.$inferInsert>;

/** Inserts a message row with a new time-ordered id; `now` stamps both creation and update. */
export function insertMessage(
  s: Statements,
  row: Omit<NewMessageRow, 'id' | 'createdAt' | 'updatedAt' | 'redactedAt'> & { now: number },
): string {
  const id = uuidv7();
  const { now, cc, media, ...values } = row;
  s.insertMessage.run({
    ...values,
    cc: JSON.stringify(cc),
    media: JSON.stringify(media),
    id,
    createdAt: now,
    updatedAt: now,
  });
  return id;
}

interface Raw<P extends object, R = never> {
  run(params: P): Database.RunResult;
  get(params: P): R | undefined;
  all(params: P): R[];
}

function prepareRaw(sqlite: Database.Database) {
  const raw = <P extends object, R = never>(sql: string) => sqlite.prepare(sql) as unknown as Raw<P, R>;
  return {
    eventByDedupeKey: raw<{ key: string }, { messageId: string }>(
      'SELECT message_id AS messageId FROM message_events WHERE dedupe_key = @key',
    ),
    /** changes 0: the signature was remembered already (see SqliteEngine #ingest). */
    rememberSignature: raw<{ digest: Buffer; receivedAt: number }>(
      `INSERT INTO webhook_signatures (digest, received_at) VALUES (@digest, @receivedAt)
       ON CONFLICT (digest) DO NOTHING`,
    ),
    messageByProviderId: raw<
      { provider: string; providerMessageId: string },
      {
        id: string;
        status: string;
        providerStatus: string | null;
        errorCode: string | null;
        errorMessage: string | null;
        fromNumber: string;
        toNumber: string;
      }
    >(
      `SELECT id, status, provider_status AS providerStatus, error_code AS errorCode, error_message AS errorMessage,
         from_number AS fromNumber, to_number AS toNumber
       FROM messages WHERE provider = @provider AND provider_message_id = @providerMessageId`,
    ),
    insertMessage: raw<Record<string, unknown>>(
      `INSERT INTO messages (id, provider, provider_message_id, direction, channel, from_number, to_number, cc, body,
         media, status, provider_status, segments, encoding, error_code, error_message, status_callback, created_by,
         created_at, updated_at)
       VALUES (@id, @provider, @providerMessageId, @direction, @channel, @fromNumber, @toNumber, @cc, @body, @media,
         @status, @providerStatus, @segments, @encoding, @errorCode, @errorMessage, @statusCallback, @createdBy,
         @createdAt, @updatedAt)`,
    ),
    insertEvent: raw<{
      messageId: string;
      dedupeKey: string;
      provider: string;
      status: string | null;
      providerStatus: string;
      recipient: string | null;
      errorCode: string | null;
      errorMessage: string | null;
      occurredAt: number;
      receivedAt: number;
      providerTime: string | null;
    }>(
      `INSERT INTO message_events (message_id, dedupe_key, provider, status, provider_status, recipient, error_code,
         error_message, occurred_at, received_at, provider_time)
       VALUES (@messageId, @dedupeKey, @provider, @status, @providerStatus, @recipient, @errorCode, @errorMessage,
         @occurredAt, @receivedAt, @providerTime)`,
    ),
    insertOutbox: raw<{ messageId: string; provider: string; nextAttemptAt: number; createdAt: number }>(
      `INSERT INTO outbox (message_id, provider, attempts, next_attempt_at, created_at)
       VALUES (@messageId, @provider, 0, @nextAttemptAt, @createdAt)`,
    ),
    /** What recording a send needs of its message. */
    sendState: raw<
      { id: string },
      {
        status: string;
        providerStatus: string | null;
        fromNumber: string;
        toNumber: string;
        errorCode: string | null;
        errorMessage: string | null;
      }
    >(
      `SELECT status, provider_status AS providerStatus, from_number AS fromNumber, to_number AS toNumber,
         error_code AS errorCode, error_message AS errorMessage
       FROM messages WHERE id = @id`,
    ),
    /** One carrier's rows, in creation order, with whether the recipient has opted out of the sender since. */
    outboxAfter: raw<
      { provider: string; afterId: string; limit: number },
      {
        messageId: string;
        provider: string;
        channel: string;
        attempts: number;
        nextAttemptAt: number;
        from: string;
        to: string;
        cc: string;
        body: string;
        media: string;
        segments: number | null;
        optedOut: number;
      }
    >(
      `SELECT o.message_id AS messageId, o.provider, m.channel, o.attempts, o.next_attempt_at AS nextAttemptAt,
         m.from_number AS "from", m.to_number AS "to", m.cc, m.body, m.media, m.segments,
         EXISTS (SELECT 1 FROM opt_outs x
                 WHERE x.phone = m.to_number AND (m.from_number = '' OR x.our_number = m.from_number)) AS optedOut
       FROM outbox o JOIN messages m ON m.id = o.message_id
       WHERE o.provider = @provider AND o.message_id > @afterId
       ORDER BY o.message_id LIMIT @limit`,
    ),
    deleteOutbox: raw<{ messageId: string }>('DELETE FROM outbox WHERE message_id = @messageId'),
    insertAttempt: raw<{
      messageId: string;
      provider: string;
      outcome: string;
      errorClass: string | null;
      errorCode: string | null;
      errorMessage: string | null;
      httpStatus: number | null;
      providerMessageId: string | null;
      startedAt: number;
      durationMs: number;
    }>(
      `INSERT INTO send_attempts (message_id, provider, outcome, error_class, error_code, error_message, http_status,
         provider_message_id, started_at, duration_ms)
       VALUES (@messageId, @provider, @outcome, @errorClass, @errorCode, @errorMessage, @httpStatus,
         @providerMessageId, @startedAt, @durationMs)`,
    ),
    accept: raw<{
      id: string;
      providerMessageId: string;
      from: string;
      status: string;
      providerStatus: string | null;
      errorCode: string | null;
      errorMessage: string | null;
      /** JSON; null: unchanged. */
      cc: string | null;
      updatedAt: number;
    }>(
      `UPDATE messages SET provider_message_id = @providerMessageId, from_number = @from, status = @status,
         provider_status = @providerStatus, error_code = @errorCode, error_message = @errorMessage,
         cc = COALESCE(@cc, cc), updated_at = @updatedAt
       WHERE id = @id`,
    ),
  };
}
