import { and, asc, eq, gt, sql } from 'drizzle-orm';
import { v7 as uuidv7 } from 'uuid';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { idempotencyKeys, messageEvents, messages, optOuts, outbox, sendAttempts } from './schema.js';
import type * as schema from './schema.js';

export type Db = BetterSQLite3Database<typeof schema>;

/** Every statement on a hot path, prepared once per connection. */
export function prepareStatements(db: Db) {
  const p = sql.placeholder;
  return {
    eventByDedupeKey: db
      .select({ messageId: messageEvents.messageId })
      .from(messageEvents)
      .where(eq(messageEvents.dedupeKey, p('key')))
      .prepare(),
    messageByProviderId: db
      .select({
        id: messages.id,
        status: messages.status,
        providerStatus: messages.providerStatus,
        errorCode: messages.errorCode,
        errorMessage: messages.errorMessage,
      })
      .from(messages)
      .where(
        and(eq(messages.provider, p('provider')), eq(messages.providerMessageId, p('providerMessageId'))),
      )
      .prepare(),
    insertMessage: db
      .insert(messages)
      .values({
        id: p('id'),
        provider: p('provider'),
        providerMessageId: p('providerMessageId'),
        direction: p('direction'),
        channel: p('channel'),
        fromNumber: p('fromNumber'),
        toNumber: p('toNumber'),
        cc: p('cc'),
        body: p('body'),
        media: p('media'),
        status: p('status'),
        providerStatus: p('providerStatus'),
        segments: p('segments'),
        encoding: p('encoding'),
        errorCode: p('errorCode'),
        errorMessage: p('errorMessage'),
        createdAt: p('createdAt'),
        updatedAt: p('updatedAt'),
      })
      .prepare(),
    insertEvent: db
      .insert(messageEvents)
      .values({
        messageId: p('messageId'),
        dedupeKey: p('dedupeKey'),
        provider: p('provider'),
        status: p('status'),
        providerStatus: p('providerStatus'),
        recipient: p('recipient'),
        errorCode: p('errorCode'),
        errorMessage: p('errorMessage'),
        occurredAt: p('occurredAt'),
        receivedAt: p('receivedAt'),
      })
      .prepare(),
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
    insertOutbox: db
      .insert(outbox)
      .values({
        messageId: p('messageId'),
        provider: p('provider'),
        attempts: 0,
        nextAttemptAt: p('nextAttemptAt'),
        createdAt: p('createdAt'),
      })
      .prepare(),
    outboxAfter: db
      .select({
        messageId: outbox.messageId,
        provider: outbox.provider,
        attempts: outbox.attempts,
        nextAttemptAt: outbox.nextAttemptAt,
        from: messages.fromNumber,
        to: messages.toNumber,
        body: messages.body,
        media: messages.media,
        segments: messages.segments,
      })
      .from(outbox)
      .innerJoin(messages, eq(messages.id, outbox.messageId))
      .where(gt(outbox.messageId, p('afterId')))
      .orderBy(asc(outbox.messageId))
      .limit(p('limit'))
      .prepare(),
    deleteOutbox: db
      .delete(outbox)
      .where(eq(outbox.messageId, p('messageId')))
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
    insertAttempt: db
      .insert(sendAttempts)
      .values({
        messageId: p('messageId'),
        provider: p('provider'),
        outcome: p('outcome'),
        errorClass: p('errorClass'),
        errorCode: p('errorCode'),
        errorMessage: p('errorMessage'),
        httpStatus: p('httpStatus'),
        providerMessageId: p('providerMessageId'),
        startedAt: p('startedAt'),
        durationMs: p('durationMs'),
      })
      .prepare(),
    moveToProvider: db
      .update(messages)
      .set({
        provider: sql`${p('provider')}`,
        fromNumber: sql`${p('from')}`,
        updatedAt: sql`${p('updatedAt')}`,
      })
      .where(eq(messages.id, p('id')))
      .prepare(),
    accept: db
      .update(messages)
      .set({
        providerMessageId: sql`${p('providerMessageId')}`,
        fromNumber: sql`${p('from')}`,
        status: sql`${p('status')}`,
        providerStatus: sql`${p('providerStatus')}`,
        errorCode: sql`${p('errorCode')}`,
        errorMessage: sql`${p('errorMessage')}`,
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
  row: Omit<NewMessageRow, 'id' | 'createdAt' | 'updatedAt'> & { now: number },
): string {
  const id = uuidv7();
  const { now, ...values } = row;
  s.insertMessage.run({ ...values, id, createdAt: now, updatedAt: now });
  return id;
}
