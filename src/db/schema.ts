import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

// Times are integer milliseconds since the epoch; the API turns them into ISO 8601 strings.

export const messages = sqliteTable(
  'messages',
  {
    // UUIDv7: unique and time-ordered, so `ORDER BY id` is creation order and the id is the pagination cursor.
    id: text('id').primaryKey(),
    provider: text('provider').notNull(),
    providerMessageId: text('provider_message_id'),
    direction: text('direction').notNull(),
    channel: text('channel').notNull(),
    fromNumber: text('from_number').notNull(),
    toNumber: text('to_number').notNull(),
    cc: text('cc', { mode: 'json' })
      .$type<string[]>()
      .notNull()
      .default(sql`'[]'`),
    body: text('body').notNull(),
    media: text('media', { mode: 'json' })
      .$type<{ url: string; contentType: string | null }[]>()
      .notNull()
      .default(sql`'[]'`),
    status: text('status').notNull(),
    providerStatus: text('provider_status'),
    segments: integer('segments'),
    encoding: text('encoding'),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('messages_provider_message_id').on(t.provider, t.providerMessageId),
    index('messages_created_at').on(t.createdAt),
    index('messages_from').on(t.fromNumber),
    index('messages_to').on(t.toNumber),
    index('messages_status').on(t.status),
  ],
);

export const messageEvents = sqliteTable(
  'message_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    messageId: text('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    // Telnyx: data.id (+ recipient); Twilio: MessageSid + status. A second delivery of an event is a no-op.
    dedupeKey: text('dedupe_key').notNull(),
    provider: text('provider').notNull(),
    // Null when the carrier's status has no canonical equivalent; provider_status keeps the carrier's word.
    status: text('status'),
    providerStatus: text('provider_status').notNull(),
    recipient: text('recipient'),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    occurredAt: integer('occurred_at').notNull(),
    receivedAt: integer('received_at').notNull(),
  },
  (t) => [
    uniqueIndex('message_events_dedupe_key').on(t.dedupeKey),
    index('message_events_message').on(t.messageId),
  ],
);

export const optOuts = sqliteTable(
  'opt_outs',
  {
    // The person who sent STOP, and our number they sent it to.
    phone: text('phone').notNull(),
    ourNumber: text('our_number').notNull(),
    provider: text('provider').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.phone, t.ourNumber] })],
);
